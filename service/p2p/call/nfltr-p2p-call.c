/* nfltr-p2p-call.c — one call's signalling between the P2P session and the media process
 * (docs/protocol.md §14). The session's CALL stream is authenticated end to end by the
 * pairing (§9.3–§9.4), so the SDP that travels here — with the DTLS fingerprints the media's
 * DTLS-SRTP handshake must then match — is bound to the code both people typed. The relay
 * sees records it cannot read. */
#define G_LOG_DOMAIN "nfltr-call"

#include "nfltr-p2p-call.h"
#include "nfltr-call-signal.h"
#include "nfltr-error.h"
#include "nfltr-invocation.h"
#include "nfltr-relay-link.h"
#include "nfltr-p2p-transfer-private.h"

#include <sodium.h>

#define CALL_DATA_KEY "nfltr-p2p-call"

typedef enum {
  CALL_WAITING,
  CALL_PAIRING,
  CALL_RINGING,
  CALL_CALLING,
  CALL_CONNECTED,
  CALL_ENDED,
  CALL_DECLINED,
  CALL_FAILED,
} CallState;

static const char *
call_state_name (CallState s)
{
  switch (s)
    {
      case CALL_WAITING: return "waiting";
      case CALL_PAIRING: return "pairing";
      case CALL_RINGING: return "ringing";
      case CALL_CALLING: return "calling";
      case CALL_CONNECTED: return "connected";
      case CALL_ENDED: return "ended";
      case CALL_DECLINED: return "declined";
      case CALL_FAILED: return "failed";
      default: return "unknown";
    }
}

struct _NfltrP2pCall {
  NfltrDbusCallSkeleton parent_instance;

  NfltrP2pService *service;   /* borrowed: it outlives its calls */
  NfltrP2pTransfer *transfer; /* weak: the transfer holds us */
  CallState state;
  gboolean code_call;
  GPtrArray *pending; /* JsonObject: the media process's messages before "connected" */
  guint owner_watch;  /* the media process's bus name: the call ends when it goes */
};

static void call_iface_init (NfltrDbusCallIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrP2pCall, nfltr_p2p_call, NFLTR_DBUS_TYPE_CALL_SKELETON,
                               G_IMPLEMENT_INTERFACE (NFLTR_DBUS_TYPE_CALL, call_iface_init))

static gboolean
state_is_final (CallState s)
{
  return s == CALL_ENDED || s == CALL_DECLINED || s == CALL_FAILED;
}

static void
send_now (NfltrP2pCall *self, JsonObject *message)
{
  if (self->transfer == NULL)
    {
      json_object_unref (message);
      return;
    }
  nfltr_p2p_transfer_send_call (self->transfer, message);
}

void
nfltr_p2p_transfer_send_call (NfltrP2pTransfer *self, JsonObject *message)
{
  g_autoptr(JsonObject) owned = message;
  g_autoptr(GBytes) bytes = nfltr_p2p_message_pack (message);
  NfltrP2pMux *mux;

  if (self->session == NULL)
    return;
  mux = nfltr_p2p_session_get_mux (self->session);
  if (self->call == 0)
    self->call = nfltr_p2p_mux_open (mux, NFLTR_P2P_STREAM_CALL, NULL);
  nfltr_p2p_mux_write (mux, self->call, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
  _nfltr_p2p_transfer_pump (self);
}

static void
set_state (NfltrP2pCall *self, CallState state)
{
  if (state_is_final (self->state) || self->state == state)
    return;
  self->state = state;
  g_message ("call %s: %s", nfltr_dbus_call_get_id (NFLTR_DBUS_CALL (self)), call_state_name (state));
  if (state == CALL_CONNECTED)
    {
      /* What the media process said while the session was still pairing or ringing. */
      for (guint i = 0; i < self->pending->len; i++)
        send_now (self, json_object_ref (self->pending->pdata[i]));
      g_ptr_array_set_size (self->pending, 0);
    }
  if (state_is_final (state))
    g_ptr_array_set_size (self->pending, 0);
  nfltr_dbus_call_set_state (NFLTR_DBUS_CALL (self), call_state_name (state));
}

static void
fail (NfltrP2pCall *self, const char *message)
{
  nfltr_dbus_call_set_last_error (NFLTR_DBUS_CALL (self), message);
  set_state (self, CALL_FAILED);
}

static void
send_signal (NfltrP2pCall *self, NfltrCallSignalType type, const char *reason)
{
  g_autoptr(NfltrCallSignal) signal = nfltr_call_signal_new (type);

  signal->video = nfltr_dbus_call_get_video (NFLTR_DBUS_CALL (self));
  signal->reason = g_strdup (reason);
  send_now (self, nfltr_call_signal_to_json (signal));
}

/* The session under the call: its state says when the pairing verified, its path which
 * way the records go. */
static void
transfer_changed_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  NfltrP2pCall *self = user_data;
  NfltrDbusTransfer *t = NFLTR_DBUS_TRANSFER (object);
  const char *state = nfltr_dbus_transfer_get_state (t);

  nfltr_dbus_call_set_path (NFLTR_DBUS_CALL (self), nfltr_dbus_transfer_get_path (t));
  if (state_is_final (self->state))
    return;
  if (g_str_equal (state, "pairing") && self->state == CALL_WAITING)
    set_state (self, CALL_PAIRING);
  else if (g_str_equal (state, "connected"))
    {
      nfltr_dbus_call_set_verified (NFLTR_DBUS_CALL (self), TRUE);
      if (self->code_call && (self->state == CALL_WAITING || self->state == CALL_PAIRING))
        set_state (self, CALL_CONNECTED);
    }
  else if (g_str_equal (state, "interrupted"))
    fail (self, "the session under the call was interrupted");
  else if (g_str_equal (state, "failed") || g_str_equal (state, "cancelled") || g_str_equal (state, "done"))
    {
      const char *error = nfltr_dbus_transfer_get_last_error (t);

      fail (self, error != NULL && *error ? error : "the session under the call ended");
    }
}

static void
transfer_gone_cb (gpointer user_data, GObject *where_the_object_was)
{
  NfltrP2pCall *self = user_data;

  self->transfer = NULL;
  if (!state_is_final (self->state))
    set_state (self, CALL_ENDED);
}

/* The STUN server the media's ICE should use: the relay's own on the UDP port of its TLS
 * port number (relay/udp/), reached the way the P2P direct path reaches it (§9.9). */
static char *
stun_server (NfltrP2pCall *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  const char *env = g_getenv ("NFLTR_P2P_STUN");
  const char *host;

  if (env != NULL)
    return *env ? g_strdup_printf ("stun://%s", env) : g_strdup ("");
  if (link == NULL)
    return g_strdup ("");
  host = nfltr_relay_link_get_host (link);
  if (g_hostname_is_ip_address (host))
    return g_strdup_printf ("stun://%s:%u", host, nfltr_relay_link_get_port (link));
  if (g_str_equal (host, "localhost") || g_str_has_suffix (host, ".localhost"))
    return g_strdup_printf ("stun://127.0.0.1:%u", nfltr_relay_link_get_port (link));
  return g_strdup_printf ("stun://%s:%u", host, nfltr_relay_link_get_port (link));
}

static void
turn_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrP2pCall) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);
  const char *url, *user;
  const guint8 *password;
  gsize len = 0;

  if (reply == NULL || nfltr_frame_get_type (reply) != NFLTR_FRAME_TURN_CREDENTIALS)
    {
      g_debug ("no TURN server for calls: %s", error != NULL ? error->message : "the relay offers none");
      return;
    }
  url = nfltr_frame_get_string (reply, NFLTR_ATTR_URL);
  user = nfltr_frame_get_string (reply, NFLTR_ATTR_NAME);
  password = nfltr_frame_get_bytes (reply, NFLTR_ATTR_DATA, &len);
  if (url != NULL && user != NULL && password != NULL && g_str_has_prefix (url, "turn:"))
    {
      g_autofree char *pass = g_strndup ((const char *) password, len);
      /* webrtcbin's turn-server: turn://USER:PASS@HOST:PORT, with the ':' of the REST API's
       * "expiry:name" user and base64's '/', '+', '=' escaped. */
      g_autofree char *user_e = g_uri_escape_string (user, NULL, FALSE);
      g_autofree char *pass_e = g_uri_escape_string (pass, NULL, FALSE);
      g_autofree char *uri = g_strdup_printf ("turn://%s:%s@%s", user_e, pass_e, url + 5);

      nfltr_dbus_call_set_turn_server (NFLTR_DBUS_CALL (self), uri);
    }
}

/* Asks the relay for short-lived credentials on its TURN server (§14.4), before the media
 * needs them (the pairing takes longer than the relay's answer). */
static void
request_turn (NfltrP2pCall *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  g_autoptr(NfltrFrame) frame = nfltr_frame_new (NFLTR_FRAME_TURN_REQUEST);

  if (link == NULL)
    return;
  nfltr_relay_link_request_async (link, frame, NULL, turn_cb, g_object_ref (self));
}

static char *
random_id (void)
{
  guint8 raw[8];

  randombytes_buf (raw, sizeof raw);
  return g_strdup_printf ("%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3], raw[4], raw[5],
                          raw[6], raw[7]);
}

NfltrP2pCall *
nfltr_p2p_call_new (NfltrP2pService  *service,
                    NfltrP2pTransfer *transfer,
                    const char       *id,
                    gboolean          code_call,
                    gboolean          video)
{
  NfltrP2pCall *self = g_object_new (NFLTR_TYPE_P2P_CALL, NULL);
  NfltrDbusCall *call = NFLTR_DBUS_CALL (self);
  g_autofree char *own_id = id == NULL ? random_id () : NULL;
  g_autofree char *stun = NULL;
  g_autofree char *transfer_path = NULL;

  self->service = service;
  self->transfer = transfer;
  self->code_call = code_call;
  g_object_weak_ref (G_OBJECT (transfer), transfer_gone_cb, self);
  g_object_set_data_full (G_OBJECT (transfer), CALL_DATA_KEY, g_object_ref (self), g_object_unref);
  stun = stun_server (self);
  transfer_path = g_strdup_printf ("/xyz/nfltr/Nfltr/transfers/%s", nfltr_dbus_transfer_get_id (NFLTR_DBUS_TRANSFER (transfer)));
  nfltr_dbus_call_set_id (call, id != NULL ? id : own_id);
  nfltr_dbus_call_set_transfer (call, transfer_path);
  nfltr_dbus_call_set_code (call, code_call ? nfltr_dbus_transfer_get_code (NFLTR_DBUS_TRANSFER (transfer)) : "");
  nfltr_dbus_call_set_state (call, call_state_name (self->state));
  /* A code call: the side that offered the code makes the SDP offer. A rung call: the caller. */
  nfltr_dbus_call_set_initiator (call, g_str_equal (nfltr_dbus_transfer_get_role (NFLTR_DBUS_TRANSFER (transfer)), "send"));
  nfltr_dbus_call_set_video (call, video);
  nfltr_dbus_call_set_path (call, nfltr_dbus_transfer_get_path (NFLTR_DBUS_TRANSFER (transfer)));
  nfltr_dbus_call_set_verified (call, FALSE);
  nfltr_dbus_call_set_stun_server (call, stun);
  nfltr_dbus_call_set_turn_server (call, "");
  nfltr_dbus_call_set_last_error (call, "");
  request_turn (self);
  g_signal_connect_object (transfer, "notify::state", G_CALLBACK (transfer_changed_cb), self, 0);
  g_signal_connect_object (transfer, "notify::path", G_CALLBACK (transfer_changed_cb), self, 0);
  if (!code_call)
    {
      /* Rung inside a running session: it is verified already. */
      nfltr_dbus_call_set_initiator (call, TRUE);
      set_state (self, CALL_CALLING);
      send_signal (self, NFLTR_CALL_SIGNAL_RING, NULL);
    }
  transfer_changed_cb (G_OBJECT (transfer), NULL, self);
  return self;
}

NfltrP2pCall *
nfltr_p2p_call_for_transfer (NfltrP2pTransfer *transfer)
{
  return g_object_get_data (G_OBJECT (transfer), CALL_DATA_KEY);
}

static void
take (NfltrP2pCall *self, NfltrCallSignal *signal, JsonObject *message)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;

  if (state_is_final (self->state))
    return;
  switch (signal->type)
    {
      case NFLTR_CALL_SIGNAL_RING:
        /* A ring for a call we already have (both pressed Call at once): the one with the
       * sender's role keeps the initiative. */
        if (self->state == CALL_CALLING && !nfltr_dbus_call_get_initiator (NFLTR_DBUS_CALL (self)))
          set_state (self, CALL_CONNECTED);
        return;
      case NFLTR_CALL_SIGNAL_ACCEPT:
        if (self->state == CALL_CALLING)
          set_state (self, CALL_CONNECTED);
        return;
      case NFLTR_CALL_SIGNAL_DECLINE:
        if (self->state == CALL_CALLING)
          {
            nfltr_dbus_call_set_last_error (NFLTR_DBUS_CALL (self),
                                            signal->reason != NULL ? signal->reason : "declined");
            set_state (self, CALL_DECLINED);
          }
        return;
      case NFLTR_CALL_SIGNAL_BYE:
      case NFLTR_CALL_SIGNAL_OFFER:
      case NFLTR_CALL_SIGNAL_ANSWER:
      case NFLTR_CALL_SIGNAL_ICE:
      default: break;
    }
  /* Negotiation and hang-up go to the media process, as checked (never the peer's raw text). */
  json_node_set_object (node, message);
  text = json_to_string (node, FALSE);
  nfltr_dbus_call_emit_received (NFLTR_DBUS_CALL (self), text);
  if (signal->type == NFLTR_CALL_SIGNAL_BYE)
    set_state (self, CALL_ENDED);
}

void
nfltr_p2p_call_take_message (NfltrP2pService  *service,
                             NfltrP2pTransfer *transfer,
                             JsonObject       *message)
{
  NfltrP2pCall *self = nfltr_p2p_call_for_transfer (transfer);
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrCallSignal) signal = nfltr_call_signal_from_json (message, &error);

  if (signal == NULL)
    {
      g_message ("a call message from the peer was dropped: %s", error->message);
      return;
    }
  if ((self == NULL || state_is_final (self->state)) && signal->type == NFLTR_CALL_SIGNAL_RING)
    {
      g_autofree char *path = NULL;

      if (self != NULL)
        g_object_set_data (G_OBJECT (transfer), CALL_DATA_KEY, NULL);
      self = g_object_new (NFLTR_TYPE_P2P_CALL, NULL);
      self->service = service;
      self->transfer = transfer;
      g_object_weak_ref (G_OBJECT (transfer), transfer_gone_cb, self);
      g_object_set_data_full (G_OBJECT (transfer), CALL_DATA_KEY, self, g_object_unref);
      {
        NfltrDbusCall *call = NFLTR_DBUS_CALL (self);
        g_autofree char *id = random_id ();
        g_autofree char *stun = stun_server (self);
        g_autofree char *transfer_path = g_strdup_printf ("/xyz/nfltr/Nfltr/transfers/%s",
                                                          nfltr_dbus_transfer_get_id (NFLTR_DBUS_TRANSFER (transfer)));

        nfltr_dbus_call_set_id (call, id);
        nfltr_dbus_call_set_transfer (call, transfer_path);
        nfltr_dbus_call_set_code (call, "");
        nfltr_dbus_call_set_initiator (call, FALSE);
        nfltr_dbus_call_set_video (call, signal->video);
        nfltr_dbus_call_set_path (call, nfltr_dbus_transfer_get_path (NFLTR_DBUS_TRANSFER (transfer)));
        nfltr_dbus_call_set_verified (call, TRUE);
        nfltr_dbus_call_set_stun_server (call, stun);
        nfltr_dbus_call_set_turn_server (call, "");
        nfltr_dbus_call_set_last_error (call, "");
        request_turn (self);
        self->state = CALL_RINGING;
        nfltr_dbus_call_set_state (call, call_state_name (self->state));
        g_signal_connect_object (transfer, "notify::state", G_CALLBACK (transfer_changed_cb), self, 0);
        g_signal_connect_object (transfer, "notify::path", G_CALLBACK (transfer_changed_cb), self, 0);
        path = nfltr_p2p_service_export_call (service, self, id);
        g_message ("call %s: the peer rings", id);
      }
      return;
    }
  if (self != NULL)
    take (self, signal, message);
}

/* --- D-Bus ------------------------------------------------------------------------------ */

static void
owner_vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  NfltrP2pCall *self = user_data;

  g_clear_handle_id (&self->owner_watch, g_bus_unwatch_name);
  if (state_is_final (self->state))
    return;
  g_message ("call %s: the process that ran it (%s) went away: hanging up",
             nfltr_dbus_call_get_id (NFLTR_DBUS_CALL (self)), name);
  if (self->state == CALL_RINGING)
    send_signal (self, NFLTR_CALL_SIGNAL_DECLINE, "the peer's app went away");
  else
    send_signal (self, NFLTR_CALL_SIGNAL_BYE, "the peer's app went away");
  set_state (self, CALL_ENDED);
}

void
nfltr_p2p_call_watch_owner (NfltrP2pCall *self, GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);

  /* A peer-to-peer connection (the CLI's in-process engine) has no names to watch. */
  if (sender == NULL || self->owner_watch != 0)
    return;
  self->owner_watch = g_bus_watch_name_on_connection (g_dbus_method_invocation_get_connection (invocation), sender,
                                                      G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, owner_vanished_cb, self,
                                                      NULL);
}

static gboolean
handle_send (NfltrDbusCall *iface, GDBusMethodInvocation *invocation, const char *text)
{
  NfltrP2pCall *self = NFLTR_P2P_CALL (iface);
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrCallSignal) signal = nfltr_call_signal_parse (text, -1, &error);

  if (signal == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "%s",
                                             error->message);
      return TRUE;
    }
  /* Ring, accept and decline are the service's own (Accept, Hangup, P2p.Call). */
  if (signal->type != NFLTR_CALL_SIGNAL_OFFER && signal->type != NFLTR_CALL_SIGNAL_ANSWER
      && signal->type != NFLTR_CALL_SIGNAL_ICE && signal->type != NFLTR_CALL_SIGNAL_BYE)
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "a %s is not the media's to send", nfltr_call_signal_type_name (signal->type));
      return TRUE;
    }
  if (state_is_final (self->state))
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_FAILED, "the call has %s",
                                             call_state_name (self->state));
      return TRUE;
    }
  if (self->state == CALL_CONNECTED)
    send_now (self, nfltr_call_signal_to_json (signal));
  else
    g_ptr_array_add (self->pending, nfltr_call_signal_to_json (signal));
  if (signal->type == NFLTR_CALL_SIGNAL_BYE)
    set_state (self, CALL_ENDED);
  nfltr_dbus_call_complete_send (iface, invocation);
  return TRUE;
}

static gboolean
handle_accept (NfltrDbusCall *iface, GDBusMethodInvocation *invocation)
{
  NfltrP2pCall *self = NFLTR_P2P_CALL (iface);

  if (self->state != CALL_RINGING)
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_FAILED, "the call is %s, not ringing",
                                             call_state_name (self->state));
      return TRUE;
    }
  send_signal (self, NFLTR_CALL_SIGNAL_ACCEPT, NULL);
  set_state (self, CALL_CONNECTED);
  nfltr_p2p_call_watch_owner (self, invocation);
  nfltr_dbus_call_complete_accept (iface, invocation);
  return TRUE;
}

static gboolean
handle_hangup (NfltrDbusCall *iface, GDBusMethodInvocation *invocation)
{
  NfltrP2pCall *self = NFLTR_P2P_CALL (iface);

  if (self->state == CALL_RINGING)
    {
      send_signal (self, NFLTR_CALL_SIGNAL_DECLINE, "declined");
      set_state (self, CALL_DECLINED);
    }
  else if (!state_is_final (self->state))
    {
      if (self->state == CALL_CONNECTED || self->state == CALL_CALLING)
        send_signal (self, NFLTR_CALL_SIGNAL_BYE, "hung up");
      set_state (self, CALL_ENDED);
    }
  nfltr_dbus_call_complete_hangup (iface, invocation);
  return TRUE;
}

static void
call_iface_init (NfltrDbusCallIface *iface)
{
  iface->handle_send = handle_send;
  iface->handle_accept = handle_accept;
  iface->handle_hangup = handle_hangup;
}

static void
nfltr_p2p_call_finalize (GObject *object)
{
  NfltrP2pCall *self = NFLTR_P2P_CALL (object);

  if (self->transfer != NULL)
    g_object_weak_unref (G_OBJECT (self->transfer), transfer_gone_cb, self);
  g_clear_handle_id (&self->owner_watch, g_bus_unwatch_name);
  g_ptr_array_unref (self->pending);
  G_OBJECT_CLASS (nfltr_p2p_call_parent_class)->finalize (object);
}

static void
nfltr_p2p_call_class_init (NfltrP2pCallClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nfltr_p2p_call_finalize;
}

static void
nfltr_p2p_call_init (NfltrP2pCall *self)
{
  self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
}
