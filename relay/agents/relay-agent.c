/* relay-agent.c — the relay side of one control channel.
 *
 * States: AWAIT_HELLO (bounded by the hello timeout) → READY (bounded by the idle timeout:
 * any frame resets it) → CLOSED. The first frame must be HELLO; protocol errors answer
 * ERROR and close; BIND errors answer ERROR and carry on. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-agent.h"
#include "relay-server.h"
#include "tunnels/relay-registry.h"
#include "store/relay-store.h"
#include "passthrough/relay-attach.h"
#include "nfltr-cert.h"

#include <gnutls/crypto.h>
#include <string.h>

#define AGENT_ID_LEN 32
/* docs/protocol.md §6 */
static const char * const reserved_names[] = { "www", "api", "relay", NULL };

typedef enum {
  AGENT_AWAIT_HELLO,
  AGENT_READY,
  AGENT_CLOSED,
} AgentState;

struct _RelayAgent {
  RelayServer             *server;
  SoupWebsocketConnection *ws;
  char                    *peer;
  AgentState               state;
  char                    *agent_id;
  char                     short_id[9];
  gint64                   key_id;
  char                    *session_id;
  GHashTable              *bindings;   /* name → RelayBinding (ref) held by this agent */
  gint64                   last_rx;    /* monotonic µs */
  guint                    timer_id;   /* hello timeout, then idle check */
};

const char *
relay_agent_get_id (RelayAgent *agent)
{
  return agent->agent_id;
}

const char *
relay_agent_get_session_id (RelayAgent *agent)
{
  return agent->session_id;
}

/* The first 8 hex digits of the agent id: enough to tell agents apart in a log. */
static const char *
short_id (RelayAgent *agent)
{
  return agent->short_id[0] ? agent->short_id : "-";
}

void
relay_agent_send (RelayAgent *agent, const NfltrFrame *frame)
{
  g_autoptr(GBytes) bytes = NULL;
  gsize len;
  const guint8 *data;

  if (agent->state == AGENT_CLOSED ||
      soup_websocket_connection_get_state (agent->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  bytes = nfltr_frame_encode (frame);
  data = g_bytes_get_data (bytes, &len);
  soup_websocket_connection_send_binary (agent->ws, data, len);
}

static void
send_error (RelayAgent *agent, NfltrProtoErrorCode code, const char *message,
            const guint32 *request_id, const char *name)
{
  g_autoptr(NfltrFrame) frame = nfltr_frame_new_error (code, message);

  if (request_id != NULL)
    nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, *request_id);
  if (name != NULL)
    nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, name);
  relay_agent_send (agent, frame);
}

/* Forgets everything the agent held. Safe to call more than once. */
static void
agent_detach (RelayAgent *agent)
{
  GHashTableIter iter;
  gpointer value;

  if (agent->state == AGENT_CLOSED)
    return;
  agent->state = AGENT_CLOSED;
  g_clear_handle_id (&agent->timer_id, g_source_remove);

  g_hash_table_iter_init (&iter, agent->bindings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RelayBinding *binding = value;
      g_message ("unbound %s (agent %s gone)", binding->host, short_id (agent));
      relay_registry_remove (agent->server->registry, binding);
    }
  g_hash_table_remove_all (agent->bindings);
  relay_attach_drop_agent (agent->server->attach, agent);
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

static void
fail_and_close (RelayAgent *agent, NfltrProtoErrorCode code, const char *message)
{
  relay_log_refusal (agent->peer, nfltr_proto_error_code_to_string (code),
                     "agent=%s control channel: %s", short_id (agent), message);
  send_error (agent, code, message, NULL, NULL);
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
      relay_log_refusal (agent->peer, "agent-idle", "agent=%s %s", short_id (agent), why);
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
  fail_and_close (agent, NFLTR_PROTO_ERR_PROTOCOL, "no HELLO in time");
  return G_SOURCE_REMOVE;
}

static void
handle_hello (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayServer *server = agent->server;
  const char *key = nfltr_frame_get_string (frame, NFLTR_ATTR_API_KEY);
  const char *agent_id = nfltr_frame_get_string (frame, NFLTR_ATTR_AGENT_ID);
  const char *agent_version = nfltr_frame_get_string (frame, NFLTR_ATTR_AGENT_VERSION);
  g_autoptr(NfltrFrame) welcome = nfltr_frame_new (NFLTR_FRAME_WELCOME);
  guint16 version = 0;
  guint8 session[16];
  guint interval;

  nfltr_frame_get_u16 (frame, NFLTR_ATTR_PROTO_VERSION, &version);
  /* §8: answer with the highest version ≤ the agent's that we speak; we speak only 1. */
  if (version < NFLTR_PROTO_VERSION)
    {
      g_autofree char *msg = g_strdup_printf ("protocol version %u is not supported (relay speaks %d)",
                                              version, NFLTR_PROTO_VERSION);
      fail_and_close (agent, NFLTR_PROTO_ERR_UNSUPPORTED_VERSION, msg);
      return;
    }
  if (!agent_id_is_valid (agent_id))
    {
      fail_and_close (agent, NFLTR_PROTO_ERR_PROTOCOL, "agent-id must be 32 hex characters");
      return;
    }
  agent->agent_id = g_ascii_strdown (agent_id, -1);
  g_strlcpy (agent->short_id, agent->agent_id, sizeof agent->short_id);
  if (!relay_store_key_check (server->store, key, &agent->key_id))
    {
      fail_and_close (agent, NFLTR_PROTO_ERR_AUTH_FAILED, "API key is not valid (unknown or revoked)");
      return;
    }
  /* An older channel of the same agent is not closed here: it may be a second process of the
   * same install serving other names. Names move one by one, at BIND (§6); a channel that
   * is really dead goes at the idle timeout. */

  gnutls_rnd (GNUTLS_RND_NONCE, session, sizeof session);
  agent->session_id = g_malloc (sizeof session * 2 + 1);
  for (guint i = 0; i < sizeof session; i++)
    g_snprintf (agent->session_id + 2 * i, 3, "%02x", session[i]);

  nfltr_frame_set_u16 (welcome, NFLTR_ATTR_PROTO_VERSION, NFLTR_PROTO_VERSION);
  nfltr_frame_set_string (welcome, NFLTR_ATTR_SESSION_ID, agent->session_id);
  nfltr_frame_set_string (welcome, NFLTR_ATTR_DOMAIN, server->config.domain);
  nfltr_frame_set_string (welcome, NFLTR_ATTR_RELAY_VERSION, PACKAGE_VERSION);
  agent->state = AGENT_READY;
  relay_agent_send (agent, welcome);
  g_message ("agent %s connected from %s (key %" G_GINT64_FORMAT ", version %s, session %s)",
             short_id (agent), agent->peer, agent->key_id,
             agent_version ? agent_version : "unknown", agent->session_id);

  g_clear_handle_id (&agent->timer_id, g_source_remove);
  interval = MAX (1, MIN (10, server->config.agent_idle_timeout_s / 3));
  agent->timer_id = g_timeout_add_seconds (interval, idle_check_cb, agent);
}

static gboolean
name_is_reserved (const char *name)
{
  return g_strv_contains (reserved_names, name);
}

static void
handle_bind (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayServer *server = agent->server;
  const char *name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  const char *kind = nfltr_frame_get_string (frame, NFLTR_ATTR_KIND);
  const guint8 *fingerprint;
  g_autoptr(RelayBinding) binding = NULL;
  g_autoptr(NfltrFrame) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *since = NULL;
  RelayBinding *current;
  guint32 request_id = 0;
  guint8 mode = 0;
  gsize fp_len;

  nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &request_id);
  nfltr_frame_get_u8 (frame, NFLTR_ATTR_MODE, &mode);
  fingerprint = nfltr_frame_get_bytes (frame, NFLTR_ATTR_FINGERPRINT, &fp_len);

  if (!nfltr_proto_name_is_valid (name) || name_is_reserved (name))
    {
      g_autofree char *msg = name_is_reserved (name)
        ? g_strdup_printf ("name “%s” is reserved", name)
        : g_strdup_printf ("name “%s” is not a DNS label (a-z, 0-9, '-', at most 63)", name);
      send_error (agent, NFLTR_PROTO_ERR_BAD_NAME, msg, &request_id, name);
      return;
    }
  if (mode != NFLTR_MODE_VERIFIED && mode != NFLTR_MODE_INSPECTABLE)
    {
      g_autofree char *msg = g_strdup_printf ("mode %u is neither verified (1) nor inspectable (2)", mode);
      fail_and_close (agent, NFLTR_PROTO_ERR_PROTOCOL, msg);
      return;
    }

  current = relay_registry_lookup (server->registry, name);
  if (current != NULL && current->agent != agent)
    {
      RelayAgent *owner = current->agent;

      /* §6: only the same agent-id with the same key may take a name back. */
      if (owner == NULL || strcmp (owner->agent_id, agent->agent_id) != 0 || owner->key_id != agent->key_id)
        {
          g_autofree char *msg = g_strdup_printf ("name “%s” is taken by another agent", name);
          relay_log_refusal (agent->peer, "name-taken", "agent=%s name=%s", short_id (agent), name);
          send_error (agent, NFLTR_PROTO_ERR_NAME_TAKEN, msg, &request_id, name);
          return;
        }
      g_message ("agent %s takes %s back from its other channel from %s (same agent, same key)",
                 short_id (agent), current->host, owner->peer);
      g_hash_table_remove (owner->bindings, name);
    }
  else if (current == NULL && g_hash_table_size (agent->bindings) >= server->config.max_tunnels_per_agent)
    {
      g_autofree char *msg = g_strdup_printf ("an agent may bind at most %u names",
                                              server->config.max_tunnels_per_agent);
      send_error (agent, NFLTR_PROTO_ERR_LIMIT, msg, &request_id, name);
      return;
    }

  binding = relay_binding_new (name, server->config.domain);
  binding->url = relay_server_url_for (server, binding->host);
  binding->mode = mode;
  memcpy (binding->fingerprint, fingerprint, NFLTR_PROTO_FINGERPRINT_SIZE);
  binding->fingerprint_text = nfltr_fingerprint_format (fingerprint);
  binding->kind = g_strdup (kind);
  binding->agent = agent;
  if (!relay_store_tunnel_seen (server->store, binding->host, relay_binding_mode_to_string (binding),
                                binding->fingerprint_text, kind, &since, &error))
    {
      g_message ("%s", error->message);
      send_error (agent, NFLTR_PROTO_ERR_INTERNAL, "the relay could not record the tunnel",
                  &request_id, name);
      return;
    }
  binding->since = g_steal_pointer (&since);
  if (current != NULL)
    {
      /* A rebind replaces the old binding; connections through it keep their reference. */
      current->agent = NULL;
    }
  relay_registry_insert (server->registry, binding);
  g_hash_table_replace (agent->bindings, binding->name, relay_binding_ref (binding));

  bound = nfltr_frame_new (NFLTR_FRAME_BOUND);
  nfltr_frame_set_u32 (bound, NFLTR_ATTR_REQUEST_ID, request_id);
  nfltr_frame_set_string (bound, NFLTR_ATTR_NAME, name);
  nfltr_frame_set_string (bound, NFLTR_ATTR_HOST, binding->host);
  nfltr_frame_set_string (bound, NFLTR_ATTR_URL, binding->url);
  relay_agent_send (agent, bound);

  if (mode == NFLTR_MODE_INSPECTABLE)
    g_message ("bound %s to agent %s in INSPECTABLE mode: the relay terminates its TLS with the "
               "relay certificate and can read its traffic (agent %s)",
               binding->host, short_id (agent), binding->fingerprint_text);
  else
    g_message ("bound %s to agent %s in verified mode (end to end, agent %s)",
               binding->host, short_id (agent), binding->fingerprint_text);
}

static void
handle_unbind (RelayAgent *agent, const NfltrFrame *frame)
{
  const char *name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  RelayBinding *binding = g_hash_table_lookup (agent->bindings, name);

  if (binding == NULL)
    {
      g_debug ("agent %s unbinds %s, which it does not hold", short_id (agent), name);
      return;
    }
  g_message ("unbound %s (agent %s asked)", binding->host, short_id (agent));
  relay_registry_remove (agent->server->registry, binding);
  g_hash_table_remove (agent->bindings, name);
}

static void
handle_frame (RelayAgent *agent, const NfltrFrame *frame)
{
  guint8 type = nfltr_frame_get_type (frame);
  const char *type_name = nfltr_frame_type_to_string (type);

  if (agent->state == AGENT_AWAIT_HELLO)
    {
      if (type != NFLTR_FRAME_HELLO)
        {
          g_autofree char *msg = g_strdup_printf ("expected HELLO, got %s",
                                                  type_name ? type_name : "an unknown frame");
          fail_and_close (agent, NFLTR_PROTO_ERR_PROTOCOL, msg);
          return;
        }
      handle_hello (agent, frame);
      return;
    }

  switch (type)
    {
    case NFLTR_FRAME_PING:
      {
        g_autoptr(NfltrFrame) pong = nfltr_frame_new (NFLTR_FRAME_PONG);
        guint64 seq = 0;

        nfltr_frame_get_u64 (frame, NFLTR_ATTR_SEQ, &seq);
        nfltr_frame_set_u64 (pong, NFLTR_ATTR_SEQ, seq);
        relay_agent_send (agent, pong);
        break;
      }
    case NFLTR_FRAME_PONG:
      break;
    case NFLTR_FRAME_BIND:
      handle_bind (agent, frame);
      break;
    case NFLTR_FRAME_UNBIND:
      handle_unbind (agent, frame);
      break;
    case NFLTR_FRAME_CONN_REFUSE:
      {
        gsize len;
        const guint8 *conn_id = nfltr_frame_get_bytes (frame, NFLTR_ATTR_CONN_ID, &len);
        relay_attach_refuse (agent->server->attach, agent, conn_id,
                             nfltr_frame_get_string (frame, NFLTR_ATTR_MESSAGE));
        break;
      }
    case NFLTR_FRAME_ERROR:
      {
        guint16 code = 0;
        nfltr_frame_get_u16 (frame, NFLTR_ATTR_CODE, &code);
        g_message ("agent %s reports error %s: %s", short_id (agent),
                   nfltr_proto_error_code_to_string (code),
                   nfltr_frame_get_string (frame, NFLTR_ATTR_MESSAGE));
        break;
      }
    case NFLTR_FRAME_HELLO:
    case NFLTR_FRAME_WELCOME:
    case NFLTR_FRAME_BOUND:
    case NFLTR_FRAME_CONN_OPEN:
      {
        g_autofree char *msg = g_strdup_printf ("%s is not valid here", type_name);
        fail_and_close (agent, NFLTR_PROTO_ERR_PROTOCOL, msg);
        break;
      }
    case NFLTR_FRAME_WG_PACKET:
    case NFLTR_FRAME_P2P_SIGNAL:
    case NFLTR_FRAME_P2P_RELAY:
    case NFLTR_FRAME_A2A_MESSAGE:
    default:
      {
        /* §4: unknown (or not yet served) frame types are answered and the channel goes on. */
        g_autofree char *msg = g_strdup_printf ("frame type 0x%02x is not supported by this relay", type);
        send_error (agent, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME, msg, NULL, NULL);
        break;
      }
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

  if (agent->state == AGENT_CLOSED)
    return;
  agent->last_rx = g_get_monotonic_time ();
  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    {
      fail_and_close (agent, NFLTR_PROTO_ERR_PROTOCOL, "text messages are not part of the protocol");
      return;
    }
  data = g_bytes_get_data (message, &len);
  frame = nfltr_frame_decode (data, len, &error);
  if (frame == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("bad frame: %s", error->message);
      fail_and_close (agent,
                      g_error_matches (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_VERSION)
                        ? NFLTR_PROTO_ERR_UNSUPPORTED_VERSION : NFLTR_PROTO_ERR_PROTOCOL,
                      msg);
      return;
    }
  handle_frame (agent, frame);
}

static void
closed_cb (SoupWebsocketConnection *ws, gpointer user_data)
{
  RelayAgent *agent = user_data;

  g_debug ("control channel from %s closed (agent %s)", agent->peer, short_id (agent));
  agent_detach (agent);
  g_hash_table_remove (agent->server->agents, agent);  /* frees it */
}

static void
error_cb (SoupWebsocketConnection *ws, GError *error, gpointer user_data)
{
  RelayAgent *agent = user_data;

  g_debug ("control channel from %s (agent %s): %s", agent->peer, short_id (agent), error->message);
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
  g_free (agent);
}

RelayAgent *
relay_agent_new (RelayServer *server, SoupWebsocketConnection *ws, const char *peer)
{
  RelayAgent *agent = g_new0 (RelayAgent, 1);

  agent->server = server;
  agent->ws = g_object_ref (ws);
  agent->peer = g_strdup (peer);
  agent->state = AGENT_AWAIT_HELLO;
  agent->key_id = -1;
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
