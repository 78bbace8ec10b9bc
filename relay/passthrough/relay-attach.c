/* relay-attach.c — the conn-id table (tunnels/relay-binder.c sends the CONN_OPEN) and the
 * hand-off of paired connections.
 *
 * Per public connection: WAIT_ATTACH (timer: --attach-timeout) → paired → RUNNING (a splice
 * or an inspect session) → closed. Every path out of WAIT_ATTACH removes the conn-id, so an
 * id works once. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-attach.h"
#include "relay-server.h"
#include "relay-splice.h"
#include "agents/relay-agent.h"
#include "tunnels/relay-binder.h"
#include "tunnels/relay-registry.h"
#include "inspect/relay-inspect.h"

#include <gnutls/crypto.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

typedef struct {
  RelayAttach       *attach;
  GBytes            *conn_id;
  RelayBinding      *binding;
  RelayAgent        *agent;
  char              *agent_session;  /* key into attach->per_agent */
  char              *agent_source;   /* key into attach->owed */
  GSocketConnection *client;
  GBytes            *hello;
  char              *peer;
  guint              timeout_id;
} Pending;

typedef struct {
  RelayAttach  *attach;
  RelayBinding *binding;
  char         *agent_session;
  char         *peer;
  gint64        started;
  GSocket      *client;   /* for its idle time (TCP_INFO) */
  RelaySplice  *splice;   /* verified mode */
  RelayInspect *inspect;  /* inspectable mode */
} Session;

struct _RelayAttach {
  RelayServer *server;
  GHashTable  *pending;   /* conn-id GBytes → Pending */
  GHashTable  *sessions;  /* Session set */
  GHashTable  *per_agent; /* agent session-id → public connections waiting or running */
  GHashTable  *owed;      /* agent's source address → clients waiting for its data connection */
  guint        idle_sweep_id;
};

/* Keyed by the agent's session id, not its pointer: a connection that outlives its agent must
 * not count against a later agent that happens to get the same address. */
static void
agent_load_add (RelayAttach *attach, const char *agent_session, int delta)
{
  guint count;

  if (agent_session == NULL)
    return;
  count = GPOINTER_TO_UINT (g_hash_table_lookup (attach->per_agent, agent_session));
  if (delta < 0 && count == 0)
    return;  /* the agent is gone and forgotten */
  count += delta;
  if (count == 0)
    g_hash_table_remove (attach->per_agent, agent_session);
  else
    g_hash_table_insert (attach->per_agent, g_strdup (agent_session), GUINT_TO_POINTER (count));
}

static void
owed_add (RelayAttach *attach, const char *source, int delta)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (attach->owed, source)) + delta;

  if (n == 0)
    g_hash_table_remove (attach->owed, source);
  else
    g_hash_table_insert (attach->owed, g_strdup (source), GUINT_TO_POINTER (n));
}

static void
pending_free (Pending *p)
{
  agent_load_add (p->attach, p->agent_session, -1);
  owed_add (p->attach, p->agent_source, -1);
  g_free (p->agent_source);
  g_free (p->agent_session);
  g_clear_handle_id (&p->timeout_id, g_source_remove);
  if (p->client != NULL)
    g_io_stream_close (G_IO_STREAM (p->client), NULL, NULL);
  g_clear_object (&p->client);
  g_clear_pointer (&p->conn_id, g_bytes_unref);
  g_clear_pointer (&p->binding, relay_binding_unref);
  g_clear_pointer (&p->hello, g_bytes_unref);
  g_free (p->peer);
  g_free (p);
}

static void
session_free (Session *s)
{
  if (s->splice != NULL)
    relay_splice_abort (s->splice);
  if (s->inspect != NULL)
    relay_inspect_abort (s->inspect);
  agent_load_add (s->attach, s->agent_session, -1);
  g_free (s->agent_session);
  g_clear_object (&s->client);
  g_clear_pointer (&s->binding, relay_binding_unref);
  g_free (s->peer);
  g_free (s);
}

static void session_end (Session *s, guint64 to_agent, guint64 to_client, const char *error);

/* docs/relay.md "Fair limits": a running passthrough or inspect session whose public client
 * has neither sent nor been sent a byte for --idle-timeout is closed. The kernel keeps the
 * times (TCP_INFO), so the splice's hot path does no bookkeeping for it. */
static gboolean
idle_sweep_cb (gpointer user_data)
{
  RelayAttach *attach = user_data;
  guint32 limit_ms = attach->server->config.idle_timeout_s * 1000;
  g_autoptr(GPtrArray) idle = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, attach->sessions);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Session *s = key;
      struct tcp_info info;
      socklen_t len = sizeof info;

      if (s->client == NULL ||
          getsockopt (g_socket_get_fd (s->client), IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        continue;
      if (MIN (info.tcpi_last_data_recv, info.tcpi_last_data_sent) >= limit_ms)
        g_ptr_array_add (idle, s);
    }
  for (guint i = 0; i < idle->len; i++)
    {
      Session *s = idle->pdata[i];

      relay_log_refusal (s->peer, "idle-timeout", "host=%s no byte either way for %u s (--idle-timeout)",
                         s->binding->host, attach->server->config.idle_timeout_s);
      if (s->splice != NULL)
        relay_splice_stop (s->splice, "idle-timeout");  /* its done callback ends the session */
      else
        {
          relay_inspect_abort (s->inspect);
          session_end (s, 0, 0, "idle-timeout");
        }
    }
  return G_SOURCE_CONTINUE;
}

RelayAttach *
relay_attach_new (RelayServer *server)
{
  RelayAttach *attach = g_new0 (RelayAttach, 1);

  attach->server = server;
  attach->pending = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, NULL,
                                           (GDestroyNotify) pending_free);
  attach->sessions = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) session_free, NULL);
  attach->per_agent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  attach->owed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  attach->idle_sweep_id = g_timeout_add_seconds (MAX (1, MIN (10, server->config.idle_timeout_s / 4)),
                                                 idle_sweep_cb, attach);
  return attach;
}

void
relay_attach_free (RelayAttach *attach)
{
  if (attach == NULL)
    return;
  g_clear_handle_id (&attach->idle_sweep_id, g_source_remove);
  g_hash_table_unref (attach->pending);
  g_hash_table_unref (attach->sessions);
  g_hash_table_unref (attach->per_agent);
  g_hash_table_unref (attach->owed);
  relay_splice_pool_trim ();
  g_free (attach);
}

static gboolean
attach_timeout_cb (gpointer user_data)
{
  Pending *p = user_data;

  p->timeout_id = 0;
  relay_log_refusal (p->peer, "attach-timeout", "host=%s no data connection from agent %.8s within %u s",
                     p->binding->host, p->agent ? relay_agent_get_id (p->agent) : "-",
                     p->attach->server->config.attach_timeout_s);
  g_hash_table_remove (p->attach->pending, p->conn_id);
  return G_SOURCE_REMOVE;
}

guint
relay_attach_agent_load (RelayAttach *attach, RelayAgent *agent)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (attach->per_agent, relay_agent_get_session_id (agent)));
}

void
relay_attach_open (RelayAttach *attach, RelayBinding *binding, GSocketConnection *client,
                   GBytes *hello, const char *peer)
{
  Pending *p = g_new0 (Pending, 1);
  guint8 id[NFLTR_PROTO_CONN_ID_SIZE];

  /* 16 random bytes, never reused: the id is the data connection's only credential, so it
   * comes from the key-strength generator (a NONCE may be predictable). */
  gnutls_rnd (GNUTLS_RND_RANDOM, id, sizeof id);
  p->attach = attach;
  p->conn_id = g_bytes_new (id, sizeof id);
  p->binding = relay_binding_ref (binding);
  p->agent = binding->agent;
  p->agent_session = g_strdup (relay_agent_get_session_id (binding->agent));
  agent_load_add (attach, p->agent_session, +1);
  p->agent_source = relay_peer_source (relay_agent_get_peer (binding->agent));
  owed_add (attach, p->agent_source, +1);
  p->client = g_object_ref (client);
  p->hello = g_bytes_ref (hello);
  p->peer = g_strdup (peer);
  p->timeout_id = g_timeout_add (attach->server->config.attach_timeout_s * 1000, attach_timeout_cb, p);
  g_hash_table_replace (attach->pending, p->conn_id, p);

  /* One more data connection is owed: the server makes room for it. */
  relay_server_room_changed (attach->server);
  relay_binder_send_conn_open (binding, id, peer);
  g_debug ("CONN_OPEN %s for %s to agent %.8s", peer, binding->host, relay_agent_get_id (binding->agent));
}

static void
session_end (Session *s, guint64 to_agent, guint64 to_client, const char *error)
{
  RelayAttach *attach = s->attach;
  double secs = (g_get_monotonic_time () - s->started) / (double) G_USEC_PER_SEC;

  s->binding->conns_active--;
  s->binding->bytes_to_agent += to_agent;
  s->binding->bytes_to_client += to_client;
  g_message ("closed peer=%s host=%s mode=%s bytes_to_agent=%" G_GUINT64_FORMAT
             " bytes_to_client=%" G_GUINT64_FORMAT " seconds=%.1f%s%s",
             s->peer, s->binding->host, relay_binding_mode_to_string (s->binding),
             to_agent, to_client, secs, error ? " error=" : "", error ? error : "");
  /* The splice/inspect frees itself after its done callback. */
  s->splice = NULL;
  s->inspect = NULL;
  g_hash_table_remove (attach->sessions, s);
}

static void
splice_done_cb (RelaySplice *splice, guint64 a_to_b, guint64 b_to_a, const char *error,
                gpointer user_data)
{
  session_end (user_data, a_to_b, b_to_a, error);
}

static void
inspect_done_cb (RelayInspect *inspect, const char *error, gpointer user_data)
{
  guint64 to_agent, to_client;

  relay_inspect_get_bytes (inspect, &to_agent, &to_client);
  session_end (user_data, to_agent, to_client, error);
}

void
relay_attach_data_connection (RelayAttach *attach, GSocketConnection *data,
                              const guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE], const char *peer)
{
  g_autoptr(GBytes) key = g_bytes_new (conn_id, NFLTR_PROTO_CONN_ID_SIZE);
  gpointer stolen_key = NULL, value = NULL;
  Pending *p;
  Session *s;

  if (!g_hash_table_steal_extended (attach->pending, key, &stolen_key, &value))
    {
      relay_log_refusal (peer, "bad-attach", "unknown, expired or reused conn-id");
      g_io_stream_close (G_IO_STREAM (data), NULL, NULL);
      return;
    }
  p = value;
  g_clear_handle_id (&p->timeout_id, g_source_remove);
  relay_server_conn_set_class (attach->server, data, RELAY_CONN_AGENT_DATA);

  s = g_new0 (Session, 1);
  s->attach = attach;
  s->binding = relay_binding_ref (p->binding);
  s->agent_session = g_strdup (p->agent_session);
  agent_load_add (attach, s->agent_session, +1);  /* before the pending's -1: no gap */
  s->peer = g_strdup (p->peer);
  s->started = g_get_monotonic_time ();
  s->client = g_object_ref (g_socket_connection_get_socket (p->client));
  s->binding->conns_total++;
  s->binding->conns_active++;
  g_hash_table_add (attach->sessions, s);

  if (p->binding->mode == NFLTR_MODE_INSPECTABLE)
    s->inspect = relay_inspect_start (attach->server, p->binding, p->client, p->hello, data,
                                      p->peer, inspect_done_cb, s);
  else
    s->splice = relay_splice_start (p->client, data, p->hello, splice_done_cb, s);
  /* The client socket now belongs to the session. */
  g_clear_object (&p->client);
  pending_free (p);
}

void
relay_attach_refuse (RelayAttach *attach, RelayAgent *agent, const guint8 *conn_id,
                     const char *message)
{
  g_autoptr(GBytes) key = g_bytes_new (conn_id, NFLTR_PROTO_CONN_ID_SIZE);
  Pending *p = g_hash_table_lookup (attach->pending, key);

  if (p == NULL || p->agent != agent)
    {
      g_debug ("CONN_REFUSE for a conn-id agent %.8s was not given", relay_agent_get_id (agent));
      return;
    }
  relay_log_refusal (p->peer, "conn-refused", "host=%s agent says: %s", p->binding->host,
                     message ? message : "(no reason given)");
  g_hash_table_remove (attach->pending, key);
}

void
relay_attach_drop_agent (RelayAttach *attach, RelayAgent *agent)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, attach->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Pending *p = value;
      if (p->agent != agent)
        continue;
      relay_log_refusal (p->peer, "agent-gone", "host=%s agent disconnected before attaching",
                         p->binding->host);
      g_hash_table_iter_remove (&iter);
    }
  if (relay_agent_get_session_id (agent) != NULL)
    g_hash_table_remove (attach->per_agent, relay_agent_get_session_id (agent));
}

guint
relay_attach_pending_count (RelayAttach *attach)
{
  return g_hash_table_size (attach->pending);
}

guint
relay_attach_owed_to_source (RelayAttach *attach, const char *source)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (attach->owed, source));
}

guint
relay_attach_active_count (RelayAttach *attach)
{
  return g_hash_table_size (attach->sessions);
}
