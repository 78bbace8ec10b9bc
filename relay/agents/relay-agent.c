/* relay-agent.c — the relay side of one control channel.
 *
 * States: AWAIT_HELLO (bounded by the hello timeout) → READY (bounded by the idle timeout:
 * any frame resets it) → CLOSED. Every frame goes through the track table below; what a frame
 * the table does not list gets is docs/protocol.md §4.2. Protocol errors answer ERROR and
 * close; refusals (a BIND of a taken name, …) answer ERROR and carry on. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-agent.h"
#include "relay-directory.h"
#include "relay-server.h"
#include "store/relay-store.h"
#include "auth/relay-agent-ca.h"
#include "passthrough/relay-attach.h"
#include "tunnels/relay-binder.h"
#include "wg/relay-wg.h"
#include "p2p/relay-p2p.h"
#include "a2a/relay-a2a.h"
#include "turn/relay-turn.h" /* issue 14 */
#include "tunnels/relay-registry.h"
#include "proof/relay-proof.h"
#include "nfltr-messages.h"

#include <gnutls/crypto.h>
#include <string.h>

#define AGENT_ID_LEN 32

struct _RelayAgent {
  RelayServer             *server;
  SoupWebsocketConnection *ws;
  char                    *peer;
  RelayAgentState          state;
  char                    *agent_id;
  char                     short_id[9];
  gint64                   key_id;
  gint64                   enrol_id;   /* an enrolled agent's credential (fleet token), or -1 */
  char                    *name_prefix; /* names it may bind start with this; NULL = any */
  GTlsCertificate         *peer_cert;  /* the TLS client certificate, if it sent one */
  gint64                   cert_id;    /* logged in with that certificate (mTLS): its row, or -1 */
  char                    *session_id;
  guint16                  version;    /* settled at WELCOME (§8.1) */
  char                    *features;   /* the session's, settled at WELCOME (§8.2) */
  gboolean                 listed;     /* in server->directory */
  GHashTable              *bindings;   /* name → RelayBinding (ref) held by this agent */
  gint64                   last_rx;    /* monotonic µs */
  guint                    timer_id;   /* hello timeout, then idle check */
};

static void handle_hello (RelayAgent *agent, const NfltrFrame *frame);
static void handle_ping  (RelayAgent *agent, const NfltrFrame *frame);
static void handle_pong  (RelayAgent *agent, const NfltrFrame *frame);
static void handle_error (RelayAgent *agent, const NfltrFrame *frame);

typedef struct {
  guint8            type;
  RelayAgentState   min_state;
  RelayFrameHandler handler;
} RelayTrack;

/* Every frame type the relay handles, the state from which it may arrive, and who handles it.
 * A track adds its rows here and keeps its handlers in its own folder. */
static const RelayTrack tracks[] = {
  /* the control channel itself (§3) */
  { NFLTR_FRAME_HELLO,       RELAY_AGENT_AWAIT_HELLO, handle_hello },
  { NFLTR_FRAME_PING,        RELAY_AGENT_READY,       handle_ping },
  { NFLTR_FRAME_PONG,        RELAY_AGENT_READY,       handle_pong },
  { NFLTR_FRAME_ERROR,       RELAY_AGENT_READY,       handle_error },
  /* tunnels (tunnels/relay-binder.c, §5–§6) */
  { NFLTR_FRAME_BIND,        RELAY_AGENT_READY,       relay_binder_handle_bind },
  { NFLTR_FRAME_UNBIND,      RELAY_AGENT_READY,       relay_binder_handle_unbind },
  { NFLTR_FRAME_RELEASE,     RELAY_AGENT_READY,       relay_binder_handle_release },
  { NFLTR_FRAME_CONN_REFUSE, RELAY_AGENT_READY,       relay_binder_handle_conn_refuse },
  /* WireGuard (wg/relay-wg.c, §10) */
  { NFLTR_FRAME_WG_JOIN,     RELAY_AGENT_READY,       relay_wg_handle_join },
  { NFLTR_FRAME_WG_LEAVE,    RELAY_AGENT_READY,       relay_wg_handle_leave },
  { NFLTR_FRAME_WG_PACKET,   RELAY_AGENT_READY,       relay_wg_handle_packet },
  /* P2P offers, signalling and the relayed fallback (p2p/relay-p2p.c, §9.7) */
  { NFLTR_FRAME_P2P_SIGNAL,  RELAY_AGENT_READY,       relay_p2p_handle_signal },
  { NFLTR_FRAME_P2P_RELAY,   RELAY_AGENT_READY,       relay_p2p_handle_relay },
  /* agent-to-agent messages (a2a/relay-a2a.c, §13) */
  { NFLTR_FRAME_A2A_MESSAGE, RELAY_AGENT_READY,       relay_a2a_handle_message },
  /* calls' TURN credentials (turn/relay-turn.c, §14.4) */
  { NFLTR_FRAME_TURN_REQUEST, RELAY_AGENT_READY,      relay_turn_handle_request },
};

static const RelayTrack *
track_lookup (guint8 type)
{
  for (gsize i = 0; i < G_N_ELEMENTS (tracks); i++)
    if (tracks[i].type == type)
      return &tracks[i];
  return NULL;
}

RelayServer *
relay_agent_get_server (RelayAgent *agent)
{
  return agent->server;
}

const char *
relay_agent_get_id (RelayAgent *agent)
{
  return agent->agent_id;
}

const char *
relay_agent_get_log_id (RelayAgent *agent)
{
  /* The first 8 hex digits of the agent id: enough to tell agents apart in a log. */
  return agent->short_id[0] ? agent->short_id : "-";
}

const char *
relay_agent_get_peer (RelayAgent *agent)
{
  return agent->peer;
}

gint64
relay_agent_get_key_id (RelayAgent *agent)
{
  return agent->key_id;
}

const char *
relay_agent_get_owner (RelayAgent *agent, gint64 *id)
{
  if (agent->cert_id >= 0)
    {
      *id = agent->cert_id;
      return RELAY_OWNER_KIND_CERT;
    }
  if (agent->enrol_id >= 0)
    {
      *id = agent->enrol_id;
      return RELAY_OWNER_KIND_AGENT;
    }
  *id = agent->key_id;
  return RELAY_OWNER_KIND_KEY;
}

const char *
relay_agent_get_name_prefix (RelayAgent *agent)
{
  return agent->name_prefix;
}

gboolean
relay_agent_credential_is_active (RelayAgent *agent)
{
  if (agent->cert_id >= 0)
    return relay_store_cert_is_active (agent->server->store, agent->cert_id);
  if (agent->enrol_id >= 0)
    return relay_store_agent_is_active (agent->server->store, agent->enrol_id);
  return relay_store_key_is_active (agent->server->store, agent->key_id);
}

const char *
relay_agent_credential_revoked_message (RelayAgent *agent)
{
  if (agent->cert_id >= 0)
    return "client certificate was revoked";
  return agent->enrol_id >= 0 ? "agent credential was revoked" : "API key was revoked";
}

RelayAgentState
relay_agent_get_state (RelayAgent *agent)
{
  return agent->state;
}

const char *
relay_agent_get_session_id (RelayAgent *agent)
{
  return agent->session_id;
}

const char *
relay_agent_get_features (RelayAgent *agent)
{
  return agent->features ? agent->features : "";
}

GHashTable *
relay_agent_get_bindings (RelayAgent *agent)
{
  return agent->bindings;
}

void
relay_agent_send (RelayAgent *agent, const NfltrFrame *frame)
{
  g_autoptr(GBytes) bytes = NULL;
  gsize len;
  const guint8 *data;

  if (agent->state == RELAY_AGENT_CLOSED ||
      soup_websocket_connection_get_state (agent->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  /* The header carries NFLTR_PROTO_VERSION, which is agent->version as long as this relay
   * speaks only version 1 (§4: the byte is informational). */
  bytes = nfltr_frame_encode (frame);
  data = g_bytes_get_data (bytes, &len);
  soup_websocket_connection_send_binary (agent->ws, data, len);
}

void
relay_agent_reply_error (RelayAgent *agent, const NfltrFrame *about, NfltrProtoErrorCode code,
                         const char *message, const char *name)
{
  g_autoptr(NfltrFrame) frame = nfltr_frame_new_error_for (code, message, about);

  if (name != NULL)
    nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, name);
  relay_agent_send (agent, frame);
}

/* Forgets everything the agent held. Safe to call more than once. */
static void
agent_detach (RelayAgent *agent)
{
  if (agent->state == RELAY_AGENT_CLOSED)
    return;
  agent->state = RELAY_AGENT_CLOSED;
  g_clear_handle_id (&agent->timer_id, g_source_remove);

  relay_binder_drop_agent (agent);
  relay_p2p_drop_agent (agent);
  relay_a2a_drop_agent (agent);
  relay_attach_drop_agent (agent->server->attach, agent);
  if (agent->listed)
    relay_directory_remove (agent->server->directory, agent->agent_id, agent);
  agent->listed = FALSE;
}

static void
close_with_code (RelayAgent *agent, gushort code, const char *reason)
{
  agent_detach (agent);
  if (soup_websocket_connection_get_state (agent->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (agent->ws, code, reason);
}

void
relay_agent_close (RelayAgent *agent, const char *reason)
{
  close_with_code (agent, SOUP_WEBSOCKET_CLOSE_NORMAL, reason);
}

void
relay_agent_fail (RelayAgent *agent, NfltrProtoErrorCode code, const char *message)
{
  g_autoptr(NfltrFrame) error = nfltr_frame_new_error (code, message);

  relay_log_refusal (agent->peer, nfltr_proto_error_code_to_string (code),
                     "agent=%s control channel: %s", relay_agent_get_log_id (agent), message);
  relay_agent_send (agent, error);
  /* The ERROR frame carries the reason; the close code says who was at fault. */
  close_with_code (agent, code == NFLTR_PROTO_ERR_AUTH_FAILED ? SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION
                                                             : SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
                   message);
}

static gboolean
agent_id_is_valid (const char *id)
{
  if (strlen (id) != AGENT_ID_LEN)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
idle_check_cb (gpointer user_data)
{
  RelayAgent *agent = user_data;
  gint64 silent = g_get_monotonic_time () - agent->last_rx;

  if (silent >= (gint64) agent->server->config.agent_idle_timeout_s * G_USEC_PER_SEC)
    {
      g_autofree char *why = g_strdup_printf ("silent for %u s", agent->server->config.agent_idle_timeout_s);

      agent->timer_id = 0;
      relay_log_refusal (agent->peer, "agent-idle", "agent=%s %s", relay_agent_get_log_id (agent), why);
      relay_agent_close (agent, why);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
hello_timeout_cb (gpointer user_data)
{
  RelayAgent *agent = user_data;

  agent->timer_id = 0;
  relay_agent_fail (agent, NFLTR_PROTO_ERR_PROTOCOL, "no HELLO in time");
  return G_SOURCE_REMOVE;
}

/* ---- the handshake (§3, §8) ---- */

/* issue 11, mTLS (docs/protocol.md §12.1): HELLO's api-key is the marker, the credential is the
 * client certificate of the TLS connection — issued by this relay's agent CA or the operator's,
 * not revoked by serial. FALSE after failing the channel. */
static gboolean
hello_accept_certificate (RelayAgent *agent)
{
  RelayServer *server = agent->server;
  g_autofree char *serial = NULL;
  g_autofree char *cn = NULL;
  g_autoptr(RelayCertInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  RelayAgentCaIssuer issuer;

  if (agent->peer_cert == NULL)
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_AUTH_FAILED, "no client certificate was presented");
      return FALSE;
    }
  if (!relay_agent_ca_verify (server->agent_ca, agent->peer_cert, &serial, &cn, &issuer, &error))
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_AUTH_FAILED, error->message);
      return FALSE;
    }
  info = relay_store_cert_lookup (server->store, serial);
  if (info == NULL && issuer == RELAY_AGENT_CA_ISSUER_OPERATOR)
    {
      /* The operator's certificates are recorded when first seen, so they own names and can be
       * listed and revoked like the relay's own. */
      if (!relay_store_cert_record (server->store, serial, "operator", agent->agent_id, -1, -1, NULL,
                                    NULL, &error))
        {
          relay_agent_fail (agent, NFLTR_PROTO_ERR_INTERNAL, "the relay could not record the certificate");
          return FALSE;
        }
      info = relay_store_cert_lookup (server->store, serial);
    }
  if (info == NULL || !info->active)
    {
      g_autofree char *msg = g_strdup_printf ("client certificate %s is %s", serial,
                                              info == NULL ? "unknown to this relay" : "revoked");
      relay_agent_fail (agent, NFLTR_PROTO_ERR_AUTH_FAILED, msg);
      return FALSE;
    }
  /* The relay's certificates are issued to one agent id: another agent cannot borrow one. */
  if (issuer == RELAY_AGENT_CA_ISSUER_RELAY && g_strcmp0 (info->agent_id, agent->agent_id) != 0)
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_AUTH_FAILED, "client certificate was issued to another agent");
      return FALSE;
    }
  agent->cert_id = info->id;
  agent->name_prefix = info->prefix && *info->prefix ? g_strdup (info->prefix) : NULL;
  return TRUE;
}

void
relay_agent_set_peer_certificate (RelayAgent *agent, GTlsCertificate *cert)
{
  g_set_object (&agent->peer_cert, cert);
}

/* Version, agent id and key: FALSE after failing the channel. */
static gboolean
hello_accept (RelayAgent *agent, const NfltrMsgHello *hello)
{
  /* §8.1: we speak versions 1..NFLTR_PROTO_VERSION; anything from 1 up is answered with the
   * highest we share, so only a version below 1 is refused. */
  if (hello->proto_version < 1)
    {
      g_autofree char *msg = g_strdup_printf ("protocol version %u is not supported (relay speaks %d)",
                                              hello->proto_version, NFLTR_PROTO_VERSION);
      relay_agent_fail (agent, NFLTR_PROTO_ERR_UNSUPPORTED_VERSION, msg);
      return FALSE;
    }
  if (!agent_id_is_valid (hello->agent_id))
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_PROTOCOL, "agent-id must be 32 hex characters");
      return FALSE;
    }
  agent->agent_id = g_ascii_strdown (hello->agent_id, -1);
  g_strlcpy (agent->short_id, agent->agent_id, sizeof agent->short_id);
  /* docs/protocol.md §3.1: api-key carries an API key or an enrolled agent's credential; a
   * fleet token is only ever exchanged for one (POST /api/v1/enrol), never a login itself. */
  if (g_str_has_prefix (hello->api_key, RELAY_FLEET_TOKEN_PREFIX))
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_AUTH_FAILED,
                        "a fleet token is not a login: enrol with it (nfltr login --fleet-token)");
      return FALSE;
    }
  if (strcmp (hello->api_key, NFLTR_PROTO_MTLS_MARKER) == 0)
    return hello_accept_certificate (agent);
  if (g_str_has_prefix (hello->api_key, RELAY_AGENT_CREDENTIAL_PREFIX))
    {
      g_autofree char *prefix = NULL;

      if (!relay_store_agent_check (agent->server->store, hello->api_key, &agent->enrol_id, &prefix))
        {
          relay_agent_fail (agent, NFLTR_PROTO_ERR_AUTH_FAILED,
                            "agent credential is not valid (unknown or revoked)");
          return FALSE;
        }
      agent->name_prefix = prefix && *prefix ? g_steal_pointer (&prefix) : NULL;
      return TRUE;
    }
  if (!relay_store_key_check (agent->server->store, hello->api_key, &agent->key_id))
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_AUTH_FAILED, "API key is not valid (unknown or revoked)");
      return FALSE;
    }
  return TRUE;
}

/* Settles the session (§8), lists the channel in the directory and answers WELCOME. */
static void
session_start (RelayAgent *agent, const NfltrMsgHello *hello)
{
  RelayServer *server = agent->server;
  NfltrMsgWelcome welcome = { 0 };
  g_autoptr(NfltrFrame) frame = NULL;
  guint8 session[16];
  guint interval;

  agent->version = MIN (hello->proto_version, NFLTR_PROTO_VERSION);
  agent->features = nfltr_proto_features_intersect (hello->features, server->features);
  /* A bearer credential (it routes pending attaches to this channel): not a mere nonce. */
  gnutls_rnd (GNUTLS_RND_RANDOM, session, sizeof session);
  agent->session_id = g_malloc (sizeof session * 2 + 1);
  for (guint i = 0; i < sizeof session; i++)
    g_snprintf (agent->session_id + 2 * i, 3, "%02x", session[i]);

  /* An older channel of the same agent is not closed here: it may be a second process of the
   * same install serving other names. Names move one by one, at BIND (§6); the directory
   * points at the newest channel; a channel that is really dead goes at the idle timeout. */
  /* The directory tells credentials apart by one number: enrolments count down from -2 and
   * certificates from G_MININT64 / 2, so they never meet an API key's id (-1 is "none"). */
  agent->listed = relay_directory_add (server->directory, agent->agent_id,
                                       agent->cert_id >= 0 ? G_MININT64 / 2 - agent->cert_id
                                       : agent->enrol_id >= 0 ? -2 - agent->enrol_id : agent->key_id,
                                       agent);
  if (!agent->listed)
    g_message ("agent %s from %s: its id is held under another API key; not listed in the directory",
               relay_agent_get_log_id (agent), agent->peer);

  welcome.proto_version = agent->version;
  welcome.session_id = agent->session_id;
  welcome.domain = server->config.domain;
  welcome.relay_version = PACKAGE_VERSION;
  welcome.features = agent->features;
  /* issue 11: agents pin the key proof bundles are signed with, as they pin the certificate. */
  welcome.signing_key = server->proof ? relay_proof_get_signing_key (server->proof) : NULL;
  frame = nfltr_msg_welcome_encode (&welcome);
  agent->state = RELAY_AGENT_READY;
  /* Authenticated: no longer counted against its address, nor closed as idle HTTP. */
  relay_server_peer_set_class (server, agent->peer, RELAY_CONN_AGENT_CONTROL);
  relay_agent_send (agent, frame);
  g_message ("agent %s connected from %s (%s %" G_GINT64_FORMAT ", version %s, session %s)",
             relay_agent_get_log_id (agent), agent->peer,
             agent->cert_id >= 0 ? "certificate" : agent->enrol_id >= 0 ? "enrolment" : "key",
             agent->cert_id >= 0 ? agent->cert_id : agent->enrol_id >= 0 ? agent->enrol_id : agent->key_id,
             hello->agent_version ? hello->agent_version : "unknown", agent->session_id);

  g_clear_handle_id (&agent->timer_id, g_source_remove);
  interval = MAX (1, MIN (10, server->config.agent_idle_timeout_s / 3));
  agent->timer_id = g_timeout_add_seconds (interval, idle_check_cb, agent);
}

static void
handle_hello (RelayAgent *agent, const NfltrFrame *frame)
{
  NfltrMsgHello hello;
  g_autoptr(GError) error = NULL;

  if (agent->state != RELAY_AGENT_AWAIT_HELLO)
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_PROTOCOL, "HELLO is not valid here");
      return;
    }
  if (!nfltr_msg_hello_decode (frame, &hello, &error))
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_PROTOCOL, error->message);
      return;
    }
  if (hello_accept (agent, &hello))
    session_start (agent, &hello);
}

/* ---- keep-alive and the agent's own errors (§3) ---- */

static void
handle_ping (RelayAgent *agent, const NfltrFrame *frame)
{
  g_autoptr(NfltrFrame) pong = nfltr_frame_new_pong_for (frame);

  relay_agent_send (agent, pong);
}

static void
handle_pong (RelayAgent *agent, const NfltrFrame *frame)
{
  /* Nothing to do: any frame has already reset the idle timer (message_cb). */
}

static void
handle_error (RelayAgent *agent, const NfltrFrame *frame)
{
  NfltrMsgError error;

  if (!nfltr_msg_error_decode (frame, &error, NULL))
    return;
  g_message ("agent %s reports error %s: %s", relay_agent_get_log_id (agent),
             nfltr_proto_error_code_to_string (error.code), error.message);
}

/* ---- the router (§4.2 steps 2–4) ---- */

static void
route_frame (RelayAgent *agent, const NfltrFrame *frame)
{
  guint8 type = nfltr_frame_get_type (frame);
  const char *type_name = nfltr_frame_type_to_string (type);
  const RelayTrack *track = track_lookup (type);
  const NfltrMsgInfo *info;

  if (track != NULL && agent->state >= track->min_state)
    {
      track->handler (agent, frame);
      return;
    }
  /* §3: nothing but HELLO before WELCOME, whatever its flags. */
  if (agent->state == RELAY_AGENT_AWAIT_HELLO)
    {
      g_autofree char *msg = g_strdup_printf ("expected HELLO, got %s",
                                              type_name ? type_name : "an unknown frame");
      relay_agent_fail (agent, NFLTR_PROTO_ERR_PROTOCOL, msg);
      return;
    }
  /* A known type that an agent never sends (BOUND, CONN_OPEN, …) is a broken peer. */
  info = nfltr_msg_info_lookup (type);
  if (track != NULL || (info != NULL && !(info->direction & NFLTR_MSG_FROM_AGENT)))
    {
      g_autofree char *msg = g_strdup_printf ("%s is not valid here", type_name);
      relay_agent_fail (agent, NFLTR_PROTO_ERR_PROTOCOL, msg);
      return;
    }
  /* Unknown here, or a track this relay does not serve: ignorable frames are dropped, the rest
   * answered, and the channel goes on. */
  if (nfltr_frame_is_ignorable (frame))
    {
      g_debug ("agent %s: ignorable frame type 0x%02x dropped", relay_agent_get_log_id (agent), type);
      return;
    }
  {
    g_autofree char *msg = g_strdup_printf ("frame type 0x%02x is not supported by this relay", type);
    relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME, msg, NULL);
  }
}

static void
message_cb (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
  RelayAgent *agent = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) frame = NULL;
  gsize len;
  const guint8 *data;

  if (agent->state == RELAY_AGENT_CLOSED)
    return;
  agent->last_rx = g_get_monotonic_time ();
  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_PROTOCOL, "text messages are not part of the protocol");
      return;
    }
  data = g_bytes_get_data (message, &len);
  frame = nfltr_frame_decode (data, len, &error);
  if (frame == NULL)
    {
      /* §4.2 step 1 */
      g_autofree char *msg = g_strdup_printf ("bad frame: %s", error->message);
      relay_agent_fail (agent,
                        g_error_matches (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_VERSION)
                          ? NFLTR_PROTO_ERR_UNSUPPORTED_VERSION : NFLTR_PROTO_ERR_PROTOCOL,
                        msg);
      return;
    }
  route_frame (agent, frame);
}

static void
closed_cb (SoupWebsocketConnection *ws, gpointer user_data)
{
  RelayAgent *agent = user_data;

  g_debug ("control channel from %s closed (agent %s)", agent->peer, relay_agent_get_log_id (agent));
  agent_detach (agent);
  g_hash_table_remove (agent->server->agents, agent);  /* frees it */
}

static void
error_cb (SoupWebsocketConnection *ws, GError *error, gpointer user_data)
{
  RelayAgent *agent = user_data;

  g_debug ("control channel from %s (agent %s): %s", agent->peer, relay_agent_get_log_id (agent),
           error->message);
}

void
relay_agent_free (RelayAgent *agent)
{
  agent_detach (agent);
  g_signal_handlers_disconnect_by_data (agent->ws, agent);
  if (soup_websocket_connection_get_state (agent->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (agent->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "relay stopping");
  g_clear_object (&agent->ws);
  g_hash_table_unref (agent->bindings);
  g_free (agent->peer);
  g_free (agent->agent_id);
  g_free (agent->session_id);
  g_free (agent->features);
  g_free (agent->name_prefix);
  g_clear_object (&agent->peer_cert);
  g_free (agent);
}

RelayAgent *
relay_agent_new (RelayServer *server, SoupWebsocketConnection *ws, const char *peer)
{
  RelayAgent *agent = g_new0 (RelayAgent, 1);

  agent->server = server;
  agent->ws = g_object_ref (ws);
  agent->peer = g_strdup (peer);
  agent->state = RELAY_AGENT_AWAIT_HELLO;
  agent->key_id = -1;
  agent->enrol_id = -1;
  agent->cert_id = -1;
  agent->bindings = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify) relay_binding_unref);
  agent->last_rx = g_get_monotonic_time ();
  /* §4: one frame per message, a frame is at most the header plus 1 MiB. */
  soup_websocket_connection_set_max_incoming_payload_size (ws, NFLTR_PROTO_HEADER_SIZE + NFLTR_PROTO_MAX_PAYLOAD);
  g_signal_connect (ws, "message", G_CALLBACK (message_cb), agent);
  g_signal_connect (ws, "closed", G_CALLBACK (closed_cb), agent);
  g_signal_connect (ws, "error", G_CALLBACK (error_cb), agent);
  agent->timer_id = g_timeout_add_seconds (server->config.hello_timeout_s, hello_timeout_cb, agent);
  g_hash_table_add (server->agents, agent);
  return agent;
}
