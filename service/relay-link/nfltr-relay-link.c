/* nfltr-relay-link.c — the control channel client (docs/protocol.md §3–§4) */
#define G_LOG_DOMAIN "nfltr-relay-link"

#include "nfltr-relay-link.h"

#include <libsoup/soup.h>
#include <string.h>

#include "nfltr-cert.h"
#include "nfltr-error.h"
#include "nfltr-frame-router.h"
#include "nfltr-messages.h"
#include "nfltr-loopback-address.h"
#include "nfltr-main-context.h"

/* docs/protocol.md §3: PING every 20 s, 60 s of silence is a dead connection. */
#define PING_INTERVAL_US   (20 * G_USEC_PER_SEC)
#define SILENCE_LIMIT_US   (60 * G_USEC_PER_SEC)
#define WATCHDOG_PERIOD_S  5
/* How long the relay has to answer HELLO. */
#define HELLO_TIMEOUT_S    15
#define BACKOFF_MIN_MS     500
#define BACKOFF_MAX_MS     30000
/* issue 12 (labs): what HELLO announces (docs/protocol.md §8.2): the WireGuard track when this
 * build has its networks (service/wg/session/). */
#ifdef NFLTR_HAVE_WG_SESSION
#define NFLTR_RELAY_LINK_FEATURES "wg " NFLTR_PROTO_FEATURE_WARM_POOL
#else
#define NFLTR_RELAY_LINK_FEATURES NFLTR_PROTO_FEATURE_WARM_POOL
#endif

GError *
nfltr_relay_unreachable_error (const char *host, guint16 port, const GError *cause)
{
  const char *reason = cause ? cause->message : "unknown error";
  const char *colon;

  /* GSocketClient says "Could not connect to HOST: REASON"; we name the relay ourselves. */
  if (cause && g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    reason = "Connection refused";
  else if (g_str_has_prefix (reason, "Could not connect") && (colon = strrchr (reason, ':')) != NULL)
    reason = colon + 2;
  return g_error_new (NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                      "cannot reach relay %s:%u: %s", host, port, reason);
}


/* ---------------------------------------------------------------------------------------
 * The link */

struct _NfltrRelayLink {
  GObject parent_instance;

  char *host;
  guint16 port;
  char *pinned;           /* "sha256:<hex>" */
  char *api_key;
  GTlsCertificate *client_cert;  /* issue 11, mTLS: presented in every handshake, or NULL */
  char *agent_id;

  SoupSession *session;
  GCancellable *cancellable;   /* the current connect attempt */
  SoupWebsocketConnection *ws;
  char *presented;        /* fingerprint the relay presented on the last attempt */

  NfltrRelayLinkState state;
  GError *error;
  char *domain;
  gboolean welcomed;
  char *offered_features;    /* what HELLO announces (docs/protocol.md §8.2) */
  char *features;            /* the session's: WELCOME's list, within what we offered */
  /* issue 11: the relay's proof signing key — WELCOME's, and the one pinned at login */
  char *signing_key;
  char *pinned_signing_key;

  guint attempt;
  GSource *retry_source;
  GSource *watchdog_source;
  GSource *hello_source;
  gint64 last_rx;
  gint64 last_ping;
  guint64 ping_seq;
  guint rtt_ms;          /* issue 9 §9: the last PING → PONG round trip, 0 before one */

  NfltrFrameRouter *router;   /* handlers and the requests on the current connection */
};

G_DEFINE_FINAL_TYPE (NfltrRelayLink, nfltr_relay_link, G_TYPE_OBJECT)

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_RTT_CHANGED,  /* issue 9 §9 */
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void link_connect (NfltrRelayLink *self);
static void link_drop (NfltrRelayLink *self);
static void schedule_retry (NfltrRelayLink *self);

const char *
nfltr_relay_link_state_to_string (NfltrRelayLinkState state)
{
  switch (state)
    {
    case NFLTR_RELAY_LINK_STOPPED: return "logged-out";
    case NFLTR_RELAY_LINK_CONNECTING: return "connecting";
    case NFLTR_RELAY_LINK_CONNECTED: return "connected";
    case NFLTR_RELAY_LINK_UNREACHABLE: return "unreachable";
    case NFLTR_RELAY_LINK_AUTH_FAILED: return "auth-failed";
    case NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH: return "fingerprint-mismatch";
    default: return "unreachable";
    }
}

static void
set_state (NfltrRelayLink *self, NfltrRelayLinkState state, GError *error /* owned */)
{
  g_clear_error (&self->error);
  self->error = error;
  if (self->state == state && error == NULL)
    return;
  self->state = state;
  g_debug ("relay %s:%u: %s%s%s", self->host, self->port, nfltr_relay_link_state_to_string (state),
           error ? ": " : "", error ? error->message : "");
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
}

/* The connection is gone: close it, say why, and try again later (unless the state says
 * not to: auth-failed and fingerprint-mismatch wait for the user). */
static void
drop_and_retry (NfltrRelayLink *self, NfltrRelayLinkState state, GError *error /* owned */)
{
  link_drop (self);
  set_state (self, state, error);
  schedule_retry (self);
}

static gboolean
send_frame (NfltrRelayLink *self, const NfltrFrame *frame)
{
  g_autoptr(GBytes) bytes = NULL;

  if (self->ws == NULL ||
      soup_websocket_connection_get_state (self->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return FALSE;
  bytes = nfltr_frame_encode (frame);
  g_debug ("→ %s", nfltr_frame_type_to_string (nfltr_frame_get_type (frame)));
  soup_websocket_connection_send_message (self->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
  return TRUE;
}

static void
send_error (NfltrRelayLink *self, NfltrProtoErrorCode code, const char *message)
{
  g_autoptr(NfltrFrame) frame = nfltr_frame_new_error (code, message);
  send_frame (self, frame);
}

/* A protocol error the relay made: say so (about that frame), then reconnect later. */
static void
send_frame_and_drop (NfltrRelayLink *self, NfltrProtoErrorCode code, const char *message,
                     const NfltrFrame *about)
{
  g_autoptr(NfltrFrame) reply = nfltr_frame_new_error_for (code, message, about);

  send_frame (self, reply);
  drop_and_retry (self, NFLTR_RELAY_LINK_UNREACHABLE,
                  g_error_new (NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "relay %s:%u broke the protocol: %s",
                               self->host, self->port, message));
}

/* --- the router ------------------------------------------------------------------------ */

/* What docs/protocol.md §4.2 says of a frame no request and no handler took. */
static void
route_unhandled (NfltrRelayLink *self, const NfltrFrame *frame)
{
  NfltrFrameType type = nfltr_frame_get_type (frame);
  const NfltrMsgInfo *info = nfltr_msg_info_lookup (type);

  if (type == NFLTR_FRAME_ERROR)
    {
      NfltrMsgError error;

      if (nfltr_msg_error_decode (frame, &error, NULL))
        g_message ("relay error: %s (%s)", error.message, nfltr_proto_error_code_to_string (error.code));
    }
  else if (info != NULL && !(info->direction & NFLTR_MSG_FROM_RELAY))
    {
      /* §4.2 step 3: a known frame the relay never sends (a BIND, a HELLO): not a relay
       * that speaks this protocol. */
      g_autofree char *text = g_strdup_printf ("the relay sent %s, which only agents send", info->name);

      send_frame_and_drop (self, NFLTR_PROTO_ERR_PROTOCOL, text, frame);
    }
  else if (info != NULL && nfltr_frame_has (frame, NFLTR_ATTR_REQUEST_ID))
    {
      /* A reply whose request is gone (its caller gave up): nothing waits for it. */
      g_debug ("%s for no waiting request: ignored", info->name);
    }
  else if (nfltr_frame_is_ignorable (frame))
    {
      /* §4.2 step 4: a frame of a track this agent does not serve, safe to skip. */
      g_debug ("ignorable frame type 0x%02x: skipped", type);
    }
  else
    {
      g_autofree char *text = g_strdup_printf ("frame type 0x%02x is not supported by this agent", type);
      g_autoptr(NfltrFrame) reply = nfltr_frame_new_error_for (NFLTR_PROTO_ERR_UNSUPPORTED_FRAME, text, frame);

      send_frame (self, reply);
    }
}

/* The request waiting for this frame, else the handlers for its type, else §4.2. */
static void
route_frame (NfltrRelayLink *self, NfltrFrame **frame_inout)
{
  const NfltrFrame *frame;

  if (nfltr_frame_router_complete_request (self->router, frame_inout))
    return;
  frame = *frame_inout;
  if (nfltr_frame_router_run_handlers (self->router, frame))
    return;

  route_unhandled (self, frame);
}

guint
nfltr_relay_link_add_frame_handler (NfltrRelayLink    *self,
                                    NfltrFrameType     type,
                                    NfltrFrameHandler  handler,
                                    gpointer           user_data)
{
  g_return_val_if_fail (NFLTR_IS_RELAY_LINK (self), 0);
  g_return_val_if_fail (handler != NULL, 0);

  return nfltr_frame_router_add_handler (self->router, type, handler, user_data);
}

void
nfltr_relay_link_remove_frame_handler (NfltrRelayLink *self,
                                       guint           handler_id)
{
  g_return_if_fail (NFLTR_IS_RELAY_LINK (self));

  nfltr_frame_router_remove_handler (self->router, handler_id);
}

gboolean
nfltr_relay_link_send (NfltrRelayLink   *self,
                       const NfltrFrame *frame)
{
  g_return_val_if_fail (NFLTR_IS_RELAY_LINK (self), FALSE);

  return send_frame (self, frame);
}

void
nfltr_relay_link_request_async (NfltrRelayLink      *self,
                                NfltrFrame          *frame,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_return_if_fail (NFLTR_IS_RELAY_LINK (self));
  g_task_set_source_tag (task, nfltr_relay_link_request_async);

  if (self->state != NFLTR_RELAY_LINK_CONNECTED)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                               "not connected to relay %s:%u", self->host, self->port);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID,
                       nfltr_frame_router_add_request (self->router, g_steal_pointer (&task)));
  send_frame (self, frame);
}

NfltrFrame *
nfltr_relay_link_request_finish (NfltrRelayLink  *self,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- the link's own frames: WELCOME, ERROR before it, PING, PONG ----------------------- */

static void send_ping (NfltrRelayLink *self); /* issue 9 §9 */

static gboolean
handle_welcome (NfltrRelayLink *self, const NfltrFrame *frame, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  NfltrMsgWelcome welcome;

  if (self->welcomed)
    {
      send_frame_and_drop (self, NFLTR_PROTO_ERR_PROTOCOL, "a second WELCOME", frame);
      return TRUE;
    }
  if (!nfltr_msg_welcome_decode (frame, &welcome, &error))
    {
      send_frame_and_drop (self, NFLTR_PROTO_ERR_PROTOCOL, error->message, frame);
      return TRUE;
    }
  /* §8.1: the relay answers with a version at most the one HELLO named; one we do not speak
   * cannot be spoken for the session. */
  if (welcome.proto_version < 1 || welcome.proto_version > NFLTR_PROTO_VERSION)
    {
      g_autofree char *text = g_strdup_printf ("WELCOME names protocol version %u; this agent speaks 1 to %d",
                                               welcome.proto_version, NFLTR_PROTO_VERSION);

      send_frame_and_drop (self, NFLTR_PROTO_ERR_UNSUPPORTED_VERSION, text, frame);
      return TRUE;
    }
  /* issue 11: a relay that signs proofs with another key than the one pinned at login is not
   * the relay the user trusted, whatever its certificate: refused, not retried. */
  if (self->pinned_signing_key != NULL && g_strcmp0 (welcome.signing_key, self->pinned_signing_key) != 0)
    {
      /* Dropped first (its close handler goes with it), so nothing retries behind the refusal. */
      link_drop (self);
      set_state (self, NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH,
                 g_error_new (NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
                              "the proof signing key of relay %s:%u has changed: it presents %s, but %s "
                              "is pinned; log out and in again once its operator has confirmed the new key",
                              self->host, self->port, welcome.signing_key ? welcome.signing_key : "none",
                              self->pinned_signing_key));
      return TRUE;
    }
  g_free (self->signing_key);
  self->signing_key = g_strdup (welcome.signing_key);
  nfltr_clear_source (&self->hello_source);
  self->welcomed = TRUE;
  self->attempt = 0;
  g_free (self->domain);
  self->domain = g_strdup (welcome.domain);
  /* §8.2: the session's features are WELCOME's, and never one we did not offer. */
  g_free (self->features);
  self->features = nfltr_proto_features_intersect (welcome.features, self->offered_features);
  g_message ("connected to relay %s:%u (domain %s, session %s, features “%s”)", self->host, self->port,
             self->domain, welcome.session_id, self->features);
  /* Users of the link (the tunnel binder) take their names back on this. */
  set_state (self, NFLTR_RELAY_LINK_CONNECTED, NULL);
  send_ping (self);  /* issue 9 §9: a latency to show at once, not after 20 s */
  return TRUE;
}

/* An ERROR instead of WELCOME: the relay refused the agent. Later ERRORs are routed. */
static gboolean
handle_hello_error (NfltrRelayLink *self, const NfltrFrame *frame, gpointer user_data)
{
  guint16 code = 0;
  const char *message = nfltr_frame_get_string (frame, NFLTR_ATTR_MESSAGE);

  if (self->welcomed)
    return FALSE;
  nfltr_frame_get_u16 (frame, NFLTR_ATTR_CODE, &code);
  if (code == NFLTR_PROTO_ERR_AUTH_FAILED)
    {
      link_drop (self);
      set_state (self, NFLTR_RELAY_LINK_AUTH_FAILED,
                 g_error_new_literal (NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED,
                                      "the relay refused the API key (unknown or revoked)"));
      return TRUE;
    }
  drop_and_retry (self, NFLTR_RELAY_LINK_UNREACHABLE,
                  g_error_new (NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "relay %s:%u refused the agent: %s (%s)",
                               self->host, self->port, message ? message : "",
                               nfltr_proto_error_code_to_string (code)));
  return TRUE;
}

static gboolean
handle_ping (NfltrRelayLink *self, const NfltrFrame *frame, gpointer user_data)
{
  g_autoptr(NfltrFrame) pong = nfltr_frame_new_pong_for (frame);

  send_frame (self, pong);
  return TRUE;
}

static gboolean
handle_pong (NfltrRelayLink *self, const NfltrFrame *frame, gpointer user_data)
{
  guint64 seq = 0;

  /* Any byte from the relay already fed the watchdog. The answer to our latest PING is the
   * link's latency (issue 9 §9); an older one is late and says nothing about now. */
  if (nfltr_frame_get_u64 (frame, NFLTR_ATTR_SEQ, &seq) && seq == self->ping_seq)
    {
      self->rtt_ms = MAX (1, (guint) ((g_get_monotonic_time () - self->last_ping) / 1000));
      g_signal_emit (self, signals[SIGNAL_RTT_CHANGED], 0);
    }
  return TRUE;
}

/* issue 9 §9 */
static void
send_ping (NfltrRelayLink *self)
{
  g_autoptr(NfltrFrame) ping = nfltr_frame_new (NFLTR_FRAME_PING);

  nfltr_frame_set_u64 (ping, NFLTR_ATTR_SEQ, ++self->ping_seq);
  send_frame (self, ping);
  self->last_ping = g_get_monotonic_time ();
}

guint
nfltr_relay_link_get_rtt_ms (NfltrRelayLink *self)
{
  return self->rtt_ms;
}

/* --- the WebSocket --------------------------------------------------------------------- */

/* The frame in a WebSocket message, or NULL after dropping a connection that sent something
 * else (docs/protocol.md §3: one binary message, one frame). */
static NfltrFrame *
frame_from_message (NfltrRelayLink *self, int type, GBytes *message)
{
  g_autoptr(GError) error = NULL;
  NfltrFrame *frame;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    {
      g_message ("relay sent a text message; closing (docs/protocol.md §3)");
      send_error (self, NFLTR_PROTO_ERR_PROTOCOL, "text messages are not allowed");
      drop_and_retry (self, NFLTR_RELAY_LINK_CONNECTING, NULL);
      return NULL;
    }

  frame = nfltr_frame_decode (data, len, &error);
  if (frame == NULL)
    {
      g_message ("bad frame from relay: %s", error->message);
      if (g_error_matches (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_VERSION))
        send_error (self, NFLTR_PROTO_ERR_UNSUPPORTED_VERSION, error->message);
      else
        send_error (self, NFLTR_PROTO_ERR_PROTOCOL, error->message);
      drop_and_retry (self, NFLTR_RELAY_LINK_UNREACHABLE,
                      g_error_new (NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "relay %s:%u sent a bad frame: %s",
                                   self->host, self->port, error->message));
      return NULL;
    }
  return frame;
}

static void
message_cb (SoupWebsocketConnection *ws,
            int                      type,
            GBytes                  *message,
            NfltrRelayLink          *self)
{
  g_autoptr(NfltrFrame) frame = NULL;
  NfltrFrameType frame_type;
  /* A handler may drop the last reference to the link. */
  G_GNUC_UNUSED g_autoptr(NfltrRelayLink) hold = g_object_ref (self);

  self->last_rx = g_get_monotonic_time ();

  frame = frame_from_message (self, type, message);
  if (frame == NULL)
    return;
  frame_type = nfltr_frame_get_type (frame);
  g_debug ("← %s", nfltr_frame_type_to_string (frame_type));

  /* docs/protocol.md §3: WELCOME or ERROR answers HELLO; anything else is out of order. */
  if (!self->welcomed && frame_type != NFLTR_FRAME_WELCOME && frame_type != NFLTR_FRAME_ERROR)
    {
      send_error (self, NFLTR_PROTO_ERR_PROTOCOL, "expected WELCOME");
      drop_and_retry (self, NFLTR_RELAY_LINK_UNREACHABLE,
                      g_error_new (NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "relay %s:%u sent %s before WELCOME",
                                   self->host, self->port, nfltr_frame_type_to_string (frame_type)));
      return;
    }

  route_frame (self, &frame);
}

static void
closed_cb (SoupWebsocketConnection *ws, NfltrRelayLink *self)
{
  gboolean was_welcomed = self->welcomed;
  G_GNUC_UNUSED g_autoptr(NfltrRelayLink) hold = g_object_ref (self);

  g_message ("connection to relay %s:%u closed (code %u)", self->host, self->port,
             soup_websocket_connection_get_close_code (ws));
  if (was_welcomed)
    drop_and_retry (self, NFLTR_RELAY_LINK_CONNECTING,
                    g_error_new (NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                 "lost the connection to relay %s:%u", self->host, self->port));
  else
    drop_and_retry (self, NFLTR_RELAY_LINK_UNREACHABLE,
                    g_error_new (NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                 "relay %s:%u closed the connection before WELCOME", self->host, self->port));
}

static void
error_cb (SoupWebsocketConnection *ws, GError *error, NfltrRelayLink *self)
{
  g_debug ("websocket error: %s", error->message);
}

static gboolean
watchdog_cb (gpointer user_data)
{
  NfltrRelayLink *self = user_data;
  gint64 now = g_get_monotonic_time ();
  G_GNUC_UNUSED g_autoptr(NfltrRelayLink) hold = g_object_ref (self);

  if (now - self->last_rx >= SILENCE_LIMIT_US)
    {
      g_message ("relay %s:%u silent for 60 s; reconnecting", self->host, self->port);
      nfltr_clear_source (&self->watchdog_source);
      drop_and_retry (self, NFLTR_RELAY_LINK_CONNECTING,
                      g_error_new (NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                   "relay %s:%u stopped answering", self->host, self->port));
      return G_SOURCE_REMOVE;
    }
  if (now - self->last_ping >= PING_INTERVAL_US)
    send_ping (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
hello_timeout_cb (gpointer user_data)
{
  NfltrRelayLink *self = user_data;
  G_GNUC_UNUSED g_autoptr(NfltrRelayLink) hold = g_object_ref (self);

  nfltr_clear_source (&self->hello_source);
  drop_and_retry (self, NFLTR_RELAY_LINK_UNREACHABLE,
                  g_error_new (NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                               "relay %s:%u did not answer HELLO", self->host, self->port));
  return G_SOURCE_REMOVE;
}

/* Closes the current connection (if any) without touching the state. */
static void
link_drop (NfltrRelayLink *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  nfltr_clear_source (&self->watchdog_source);
  nfltr_clear_source (&self->hello_source);
  self->welcomed = FALSE;
  g_clear_pointer (&self->features, g_free);

  if (self->ws != NULL)
    {
      g_autoptr(SoupWebsocketConnection) ws = g_steal_pointer (&self->ws);
      g_signal_handlers_disconnect_by_data (ws, self);
      if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    }

  /* Request-ids belong to one connection: whatever still waits fails with it. */
  {
    g_autoptr(GError) error = g_error_new (NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                           "the connection to relay %s:%u ended before the answer",
                                           self->host, self->port);
    nfltr_frame_router_fail_requests (self->router, error);
  }
}

/* --- connecting ------------------------------------------------------------------------ */

static gboolean
retry_cb (gpointer user_data)
{
  NfltrRelayLink *self = user_data;
  G_GNUC_UNUSED g_autoptr(NfltrRelayLink) hold = g_object_ref (self);

  nfltr_clear_source (&self->retry_source);
  link_connect (self);
  return G_SOURCE_REMOVE;
}

void
nfltr_relay_link_retry_now (NfltrRelayLink *self)
{
  g_return_if_fail (NFLTR_IS_RELAY_LINK (self));
  if (self->retry_source == NULL)
    return;
  g_debug ("relay %s:%u: retrying now, as asked", self->host, self->port);
  self->attempt = 0;
  nfltr_clear_source (&self->retry_source);
  link_connect (self);
}

static void
schedule_retry (NfltrRelayLink *self)
{
  guint delay;
  double jitter;

  if (self->state == NFLTR_RELAY_LINK_AUTH_FAILED ||
      self->state == NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH ||
      self->state == NFLTR_RELAY_LINK_STOPPED)
    return;

  /* 0.5 s doubling to 30 s, ±20 % so a fleet does not come back in lock step. */
  delay = BACKOFF_MIN_MS << MIN (self->attempt, 10);
  delay = MIN (delay, BACKOFF_MAX_MS);
  jitter = g_random_double_range (0.8, 1.2);
  delay = (guint) (delay * jitter);
  self->attempt++;
  g_debug ("reconnecting in %u ms", delay);
  nfltr_clear_source (&self->retry_source);
  self->retry_source = nfltr_timeout_source_add (delay, retry_cb, self);
}

static gboolean
accept_certificate_cb (SoupMessage          *msg,
                       GTlsCertificate      *cert,
                       GTlsCertificateFlags  errors,
                       NfltrRelayLink       *self)
{
  g_free (self->presented);
  self->presented = nfltr_fingerprint_of_tls_certificate (cert);
  /* The pin replaces CA validation: this is the certificate the user accepted at login. */
  return self->presented != NULL && g_ascii_strcasecmp (self->presented, self->pinned) == 0;
}

/* issue 11, mTLS: the relay asks for a certificate during the handshake; ours answers. */
static gboolean
request_certificate_cb (SoupMessage          *msg,
                        GTlsClientConnection *conn,
                        NfltrRelayLink       *self)
{
  soup_message_set_tls_client_certificate (msg, self->client_cert);
  return TRUE;
}

/* The WebSocket upgrade failed: a certificate that is not the pinned one stops the retries,
 * anything else is retried. */
static void
connect_failed (NfltrRelayLink *self, const GError *error)
{
  g_clear_object (&self->cancellable);
  if (self->presented != NULL && g_ascii_strcasecmp (self->presented, self->pinned) != 0)
    {
      set_state (self, NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH,
                 g_error_new (NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
                              "relay %s:%u presented certificate %s, but %s is pinned",
                              self->host, self->port, self->presented, self->pinned));
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
      error->domain == G_IO_ERROR || error->domain == G_RESOLVER_ERROR || error->domain == G_TLS_ERROR)
    set_state (self, NFLTR_RELAY_LINK_UNREACHABLE,
               nfltr_relay_unreachable_error (self->host, self->port, error));
  else
    set_state (self, NFLTR_RELAY_LINK_UNREACHABLE,
               g_error_new (NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                            "relay %s:%u: %s (is it an NFLTR relay?)", self->host, self->port,
                            error->message));
  schedule_retry (self);
}

/* A certificate the system trusts skips accept-certificate: the pin is checked here too.
 * FALSE (connection closed, state set) when the relay is not the pinned one. */
static gboolean
check_pin (NfltrRelayLink *self, SoupWebsocketConnection *ws, SoupMessage *msg)
{
  g_autofree char *peer_fp = NULL;

  if (msg != NULL)
    peer_fp = nfltr_fingerprint_of_tls_certificate (soup_message_get_tls_peer_certificate (msg));
  if (peer_fp != NULL && g_ascii_strcasecmp (peer_fp, self->pinned) == 0)
    return TRUE;

  g_clear_object (&self->cancellable);
  soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, NULL);
  set_state (self, NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH,
             g_error_new (NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
                          "relay %s:%u presented certificate %s, but %s is pinned",
                          self->host, self->port, peer_fp ? peer_fp : "(none)", self->pinned));
  return FALSE;
}

static void
send_hello (NfltrRelayLink *self)
{
  NfltrMsgHello msg = {
    .proto_version = NFLTR_PROTO_VERSION,
    .api_key = self->api_key,
    .agent_id = self->agent_id,
    .agent_version = PACKAGE_VERSION,
    .features = self->offered_features,
  };
  g_autoptr(NfltrFrame) hello = nfltr_msg_hello_encode (&msg);

  send_frame (self, hello);
}

static void
websocket_connect_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(NfltrRelayLink) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SoupWebsocketConnection) ws = NULL;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (ws == NULL)
    {
      connect_failed (self, error);
      return;
    }
  if (!check_pin (self, ws, soup_session_get_async_result_message (SOUP_SESSION (source), result)))
    return;

  self->ws = g_steal_pointer (&ws);
  /* docs/protocol.md §4: a frame may carry up to 1 MiB of payload. */
  soup_websocket_connection_set_max_incoming_payload_size (self->ws,
                                                           NFLTR_PROTO_MAX_PAYLOAD + NFLTR_PROTO_HEADER_SIZE);
  g_signal_connect (self->ws, "message", G_CALLBACK (message_cb), self);
  g_signal_connect (self->ws, "closed", G_CALLBACK (closed_cb), self);
  g_signal_connect (self->ws, "error", G_CALLBACK (error_cb), self);

  self->last_rx = self->last_ping = g_get_monotonic_time ();
  self->watchdog_source = nfltr_timeout_source_add_seconds (WATCHDOG_PERIOD_S, watchdog_cb, self);
  self->hello_source = nfltr_timeout_source_add_seconds (HELLO_TIMEOUT_S, hello_timeout_cb, self);
  send_hello (self);
}

static void
link_connect (NfltrRelayLink *self)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autofree char *uri = NULL;
  const char *protocols[] = { NFLTR_PROTO_WS_SUBPROTOCOL, NULL };

  link_drop (self);
  g_clear_pointer (&self->presented, g_free);
  if (self->state != NFLTR_RELAY_LINK_UNREACHABLE)
    set_state (self, NFLTR_RELAY_LINK_CONNECTING, NULL);

  if (strchr (self->host, ':') != NULL)
    uri = g_strdup_printf ("wss://[%s]:%u%s", self->host, self->port, NFLTR_PROTO_CONTROL_PATH);
  else
    uri = g_strdup_printf ("wss://%s:%u%s", self->host, self->port, NFLTR_PROTO_CONTROL_PATH);
  msg = soup_message_new ("GET", uri);
  if (msg == NULL)
    {
      set_state (self, NFLTR_RELAY_LINK_UNREACHABLE,
                 g_error_new (NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                              "“%s:%u” is not a valid relay address", self->host, self->port));
      return;
    }
  g_signal_connect_object (msg, "accept-certificate", G_CALLBACK (accept_certificate_cb), self, 0);
  if (self->client_cert != NULL)
    {
      soup_message_set_tls_client_certificate (msg, self->client_cert);
      g_signal_connect_object (msg, "request-certificate", G_CALLBACK (request_certificate_cb), self, 0);
    }

  self->cancellable = g_cancellable_new ();
  soup_session_websocket_connect_async (self->session, msg, NULL, (char **) protocols,
                                        G_PRIORITY_DEFAULT, self->cancellable,
                                        websocket_connect_cb, g_object_ref (self));
}

/* --------------------------------------------------------------------------------------- */

NfltrRelayLink *
nfltr_relay_link_new (const char *host,
                      guint16     port,
                      const char *fingerprint,
                      const char *api_key,
                      const char *agent_id)
{
  NfltrRelayLink *self = g_object_new (NFLTR_TYPE_RELAY_LINK, NULL);
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autofree char *user_agent = g_strdup_printf ("nfltr-service/%s", PACKAGE_VERSION);

  self->host = g_strdup (host);
  self->port = port;
  self->pinned = g_strdup (fingerprint);
  self->api_key = g_strdup (api_key);
  self->agent_id = g_strdup (agent_id);

  /* The relay's name for TLS (SNI), connecting to loopback when it is under .localhost. */
  connectable = nfltr_tls_connectable_new (host, port);
  self->session = soup_session_new_with_options ("remote-connectable", connectable,
                                                 "user-agent", user_agent,
                                                 "timeout", 30,
                                                 NULL);
  return self;
}

void
nfltr_relay_link_set_client_certificate (NfltrRelayLink  *self,
                                         GTlsCertificate *cert)
{
  g_return_if_fail (NFLTR_IS_RELAY_LINK (self));

  g_set_object (&self->client_cert, cert);
}

void
nfltr_relay_link_start (NfltrRelayLink *self)
{
  g_return_if_fail (NFLTR_IS_RELAY_LINK (self));

  nfltr_clear_source (&self->retry_source);
  self->attempt = 0;
  self->state = NFLTR_RELAY_LINK_CONNECTING;
  link_connect (self);
}

void
nfltr_relay_link_stop (NfltrRelayLink *self)
{
  g_return_if_fail (NFLTR_IS_RELAY_LINK (self));

  nfltr_clear_source (&self->retry_source);
  link_drop (self);
  set_state (self, NFLTR_RELAY_LINK_STOPPED, NULL);
}

NfltrRelayLinkState
nfltr_relay_link_get_state (NfltrRelayLink *self)
{
  return self->state;
}

const GError *
nfltr_relay_link_get_error (NfltrRelayLink *self)
{
  return self->error;
}

const char *
nfltr_relay_link_get_host (NfltrRelayLink *self)
{
  return self->host;
}

guint16
nfltr_relay_link_get_port (NfltrRelayLink *self)
{
  return self->port;
}

void
nfltr_relay_link_set_features (NfltrRelayLink *self,
                               const char     *features)
{
  g_return_if_fail (NFLTR_IS_RELAY_LINK (self));

  g_free (self->offered_features);
  self->offered_features = g_strdup (features);
}

gboolean
nfltr_relay_link_has_feature (NfltrRelayLink *self,
                              const char     *token)
{
  g_return_val_if_fail (NFLTR_IS_RELAY_LINK (self), FALSE);

  return self->welcomed && nfltr_proto_features_has (self->features, token);
}

const char *
nfltr_relay_link_get_domain (NfltrRelayLink *self)
{
  return self->domain;
}

const char *
nfltr_relay_link_get_signing_key (NfltrRelayLink *self)
{
  return self->signing_key;
}

void
nfltr_relay_link_pin_signing_key (NfltrRelayLink *self, const char *signing_key)
{
  g_free (self->pinned_signing_key);
  self->pinned_signing_key = g_strdup (signing_key);
}

/* issue 11: GET on the relay's own name over the link's session, pinned like the link. */
static gboolean
fetch_accept_certificate_cb (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                             NfltrRelayLink *self)
{
  g_autofree char *presented = nfltr_fingerprint_of_tls_certificate (cert);

  return presented != NULL && g_ascii_strcasecmp (presented, self->pinned) == 0;
}

static void
fetch_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  NfltrRelayLink *self = g_task_get_source_object (task);
  SoupMessage *msg = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_autofree char *presented = NULL;

  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* A certificate the system trusts skips accept-certificate: the pin is checked here too. */
  presented = nfltr_fingerprint_of_tls_certificate (soup_message_get_tls_peer_certificate (msg));
  if (presented == NULL || g_ascii_strcasecmp (presented, self->pinned) != 0)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
                               "relay %s:%u presented certificate %s, but %s is pinned", self->host,
                               self->port, presented ? presented : "(none)", self->pinned);
      return;
    }
  if (soup_message_get_status (msg) != SOUP_STATUS_OK)
    {
      g_task_return_new_error (task, NFLTR_ERROR,
                               soup_message_get_status (msg) == SOUP_STATUS_NOT_FOUND ? NFLTR_ERROR_NOT_FOUND
                                                                                      : NFLTR_ERROR_FAILED,
                               "the relay answered %u for %s", soup_message_get_status (msg),
                               g_uri_get_path (soup_message_get_uri (msg)));
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&body), (GDestroyNotify) g_bytes_unref);
}

void
nfltr_relay_link_fetch_async (NfltrRelayLink *self, const char *path, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *uri = NULL;
  SoupMessage *msg;

  g_task_set_source_tag (task, nfltr_relay_link_fetch_async);
  if (strchr (self->host, ':') != NULL)
    uri = g_strdup_printf ("https://[%s]:%u%s", self->host, self->port, path);
  else
    uri = g_strdup_printf ("https://%s:%u%s", self->host, self->port, path);
  msg = soup_message_new ("GET", uri);
  if (msg == NULL)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "“%s” is not a valid URI", uri);
      g_object_unref (task);
      return;
    }
  g_task_set_task_data (task, msg, g_object_unref);
  g_signal_connect_object (msg, "accept-certificate", G_CALLBACK (fetch_accept_certificate_cb), self, 0);
  soup_session_send_and_read_async (self->session, msg, G_PRIORITY_DEFAULT, cancellable, fetch_cb, task);
}

GBytes *
nfltr_relay_link_fetch_finish (NfltrRelayLink *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
nfltr_relay_link_dispose (GObject *object)
{
  NfltrRelayLink *self = NFLTR_RELAY_LINK (object);

  nfltr_clear_source (&self->retry_source);
  link_drop (self);
  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (nfltr_relay_link_parent_class)->dispose (object);
}

static void
nfltr_relay_link_finalize (GObject *object)
{
  NfltrRelayLink *self = NFLTR_RELAY_LINK (object);

  g_clear_pointer (&self->router, nfltr_frame_router_free);
  g_clear_error (&self->error);
  g_free (self->host);
  g_free (self->pinned);
  g_free (self->api_key);
  g_clear_object (&self->client_cert);
  g_free (self->agent_id);
  g_free (self->presented);
  g_free (self->domain);
  g_free (self->signing_key);
  g_free (self->pinned_signing_key);
  g_free (self->offered_features);
  g_free (self->features);

  G_OBJECT_CLASS (nfltr_relay_link_parent_class)->finalize (object);
}

static void
nfltr_relay_link_class_init (NfltrRelayLinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_relay_link_dispose;
  object_class->finalize = nfltr_relay_link_finalize;

  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* issue 9 §9: a new nfltr_relay_link_get_rtt_ms(). */
  signals[SIGNAL_RTT_CHANGED] =
    g_signal_new ("rtt-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
nfltr_relay_link_init (NfltrRelayLink *self)
{
  self->state = NFLTR_RELAY_LINK_STOPPED;
  self->router = nfltr_frame_router_new (self);
  /* issue 12 (labs): HELLO announces the tracks this build has (§8.2); the relay refuses
   * WG_JOIN from an agent that did not announce `wg` (§11). docs/protocol.md §5.1: the tunnel
   * binder asks for a warm pool where the relay has one. */
  self->offered_features = g_strdup (NFLTR_RELAY_LINK_FEATURES);

  /* The link's own frames go through the same router as everyone else's. */
  nfltr_relay_link_add_frame_handler (self, NFLTR_FRAME_WELCOME, handle_welcome, NULL);
  nfltr_relay_link_add_frame_handler (self, NFLTR_FRAME_ERROR, handle_hello_error, NULL);
  nfltr_relay_link_add_frame_handler (self, NFLTR_FRAME_PING, handle_ping, NULL);
  nfltr_relay_link_add_frame_handler (self, NFLTR_FRAME_PONG, handle_pong, NULL);
}
