/* relay-attach.c — the conn-id table (tunnels/relay-binder.c sends the CONN_OPEN) and the
 * hand-off of paired connections.
 *
 * Per public connection: WAIT_ATTACH (timer: --attach-timeout) → paired → RUNNING (a splice
 * or an inspect session) → closed. Every path out of WAIT_ATTACH removes the conn-id, so an
 * id works once.
 *
 * The warm pool (docs/protocol.md §5.1, issue 8 §7): an agent that asked for it in BIND keeps
 * a few idle data connections here, each opened on a CONN_OPEN(pool) grant. A public client
 * then takes one at once — no CONN_OPEN round trip, no TCP handshake from the agent — and the
 * relay grants a new slot. Per binding: GRANTED (timer: --attach-timeout) → IDLE (timer:
 * POOL_IDLE_S) → taken (a session like any other) or closed. Pool connections are agents'
 * data connections, never visitors: they are not sessions, do not count against the source
 * address, and are granted only while the agent stays under --max-connections-per-agent with
 * them and the relay under --max-connections less the agents' reserve. */
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
  gboolean      pooled;   /* took a warm-pool connection */
  GSocket      *data;     /* pooled: the agent must answer within --attach-timeout */
  guint         answer_timeout_id;
  gint64        started;
  GSocket      *client;   /* for its idle time (TCP_INFO) */
  RelaySplice  *splice;   /* verified mode */
  RelayInspect *inspect;  /* inspectable mode */
} Session;

/* One binding's warm pool (§5.1). */
typedef struct {
  RelayAttach  *attach;
  RelayBinding *binding;
  RelayAgent   *agent;
  guint         max;       /* BIND's pool-max, at most POOL_MAX */
  guint         target;    /* slots kept now: grows on a miss, shrinks when one idles out */
  guint         granted;   /* CONN_OPEN(pool) sent, its data connection not here yet */
  GQueue        idle;      /* PoolConn, oldest first */
} Pool;

typedef struct {
  Pool              *pool;
  GSocketConnection *data;
  GSource           *watch;      /* the agent closed it (or broke §5.1 by writing first) */
  guint              timeout_id; /* POOL_IDLE_S */
  GList              link;       /* in pool->idle */
} PoolConn;

typedef struct {
  Pool   *pool;
  GBytes *conn_id;
  char   *agent_source;  /* key into attach->owed */
  guint   timeout_id;
} Grant;

struct _RelayAttach {
  RelayServer *server;
  GHashTable  *pools;     /* RelayBinding* → Pool */
  GHashTable  *grants;    /* conn-id GBytes → Grant */
  guint64      pool_taken;
  guint64      pool_missed;
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
  g_clear_handle_id (&s->answer_timeout_id, g_source_remove);
  g_free (s->agent_session);
  g_clear_object (&s->data);
  g_clear_object (&s->client);
  g_clear_pointer (&s->binding, relay_binding_unref);
  g_free (s->peer);
  g_free (s);
}

static void session_end (Session *s, guint64 to_agent, guint64 to_client, const char *error);
static void pool_free (Pool *pool);

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

/* §5 step 4 holds for a pooled connection too: an agent that took no part (frozen, or gone
 * without the relay noticing yet) must not leave the visitor hanging. The kernel keeps the
 * time since the agent last sent a byte (TCP_INFO): longer than the session has run means it
 * never answered. */
static gboolean
answer_timeout_cb (gpointer user_data)
{
  Session *s = user_data;
  struct tcp_info info;
  socklen_t len = sizeof info;

  s->answer_timeout_id = 0;
  if (getsockopt (g_socket_get_fd (s->data), IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      (gint64) info.tcpi_last_data_recv * 1000 < g_get_monotonic_time () - s->started)
    return G_SOURCE_REMOVE;
  relay_log_refusal (s->peer, "attach-timeout", "host=%s the agent's warm-pool connection did "
                     "not answer within %u s", s->binding->host,
                     s->attach->server->config.attach_timeout_s);
  if (s->splice != NULL)
    relay_splice_stop (s->splice, "attach-timeout");  /* its done callback ends the session */
  else
    {
      relay_inspect_abort (s->inspect);
      session_end (s, 0, 0, "attach-timeout");
    }
  return G_SOURCE_REMOVE;
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
  attach->pools = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) pool_free);
  attach->grants = g_hash_table_new (g_bytes_hash, g_bytes_equal);
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
  /* Before the tables their grants use. */
  g_hash_table_unref (attach->pools);
  g_hash_table_unref (attach->grants);
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

static GSocketConnection *pool_take (RelayAttach *attach, RelayBinding *binding, const char *peer);
static void pool_refill (Pool *pool);
static void session_start (RelayAttach *attach, RelayBinding *binding, const char *agent_session,
                           GSocketConnection *client, GBytes *hello, GSocketConnection *data,
                           const char *peer, gboolean pooled);

void
relay_attach_open (RelayAttach *attach, RelayBinding *binding, GSocketConnection *client,
                   GBytes *hello, const char *peer)
{
  g_autoptr(GSocketConnection) pooled = pool_take (attach, binding, peer);
  Pending *p;
  guint8 id[NFLTR_PROTO_CONN_ID_SIZE];

  if (pooled != NULL)
    {
      session_start (attach, binding, relay_agent_get_session_id (binding->agent), client, hello,
                     pooled, peer, TRUE);
      pool_refill (g_hash_table_lookup (attach->pools, binding));
      g_debug ("peer %s for %s took a warm-pool connection of agent %.8s", peer, binding->host,
               relay_agent_get_id (binding->agent));
      return;
    }
  p = g_new0 (Pending, 1);

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
  if (g_hash_table_lookup (attach->pools, binding) != NULL)
    pool_refill (g_hash_table_lookup (attach->pools, binding));
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
             " bytes_to_client=%" G_GUINT64_FORMAT " seconds=%.1f%s%s%s",
             s->peer, s->binding->host, relay_binding_mode_to_string (s->binding),
             to_agent, to_client, secs, s->pooled ? " pooled=yes" : "",
             error ? " error=" : "", error ? error : "");
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

/* The public client and its data connection are paired: the session runs (takes client and
 * data). */
static void
session_start (RelayAttach *attach, RelayBinding *binding, const char *agent_session,
               GSocketConnection *client, GBytes *hello, GSocketConnection *data,
               const char *peer, gboolean pooled)
{
  Session *s = g_new0 (Session, 1);

  s->attach = attach;
  s->binding = relay_binding_ref (binding);
  s->agent_session = g_strdup (agent_session);
  agent_load_add (attach, s->agent_session, +1);  /* before the pending's -1: no gap */
  s->peer = g_strdup (peer);
  s->pooled = pooled;
  s->started = g_get_monotonic_time ();
  s->client = g_object_ref (g_socket_connection_get_socket (client));
  s->binding->conns_total++;
  s->binding->conns_active++;
  g_hash_table_add (attach->sessions, s);

  if (pooled)
    {
      s->data = g_object_ref (g_socket_connection_get_socket (data));
      s->answer_timeout_id = g_timeout_add (attach->server->config.attach_timeout_s * 1000,
                                            answer_timeout_cb, s);
    }

  if (binding->mode == NFLTR_MODE_INSPECTABLE)
    s->inspect = relay_inspect_start (attach->server, binding, client, hello, data, peer,
                                      inspect_done_cb, s);
  else
    s->splice = relay_splice_start (client, data, hello, splice_done_cb, s);
}

/* ---- the warm pool (§5.1) ---- */

/* Slots a binding keeps at most, whatever its BIND asked; and when it starts. */
#define POOL_MAX        16
#define POOL_INITIAL    2
/* A slot unused this long is closed and the pool shrinks by one: a tunnel without visitors
 * ends up holding none (the agent's event-loop threads can exit), and the next visitor's miss
 * starts it again. */
#define POOL_IDLE_S     15

static guint
pool_held (Pool *pool)
{
  return pool->granted + pool->idle.length;
}

/* Every slot the agent holds or is granted, over all its bindings. */
static guint
pool_agent_held (RelayAttach *attach, RelayAgent *agent)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, attach->pools);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Pool *) value)->agent == agent)
      n += pool_held (value);
  return n;
}

/* The fair limits hold with the pool: the agent's public connections and pool slots stay
 * within --max-connections-per-agent, and the relay's open connections and grants within
 * --max-connections less the agents' reserve, so a pool never takes a visitor's place or an
 * agent's control channel's. */
static gboolean
pool_has_room (Pool *pool)
{
  RelayServer *server = pool->attach->server;
  guint live = 0;

  if (relay_attach_agent_load (pool->attach, pool->agent) + pool_agent_held (pool->attach, pool->agent) + 1 >
      server->config.max_per_agent)
    return FALSE;
  for (RelayConnClass k = RELAY_CONN_FIRST_STAGE; k <= RELAY_CONN_AGENT_DATA; k++)
    live += relay_server_class_count (server, k);
  return (guint64) live + g_hash_table_size (pool->attach->grants) + 1 +
           relay_config_agent_reserve (&server->config) <=
         server->config.max_connections;
}

static void
grant_free (Grant *g)
{
  owed_add (g->pool->attach, g->agent_source, -1);
  g_clear_handle_id (&g->timeout_id, g_source_remove);
  g_bytes_unref (g->conn_id);
  g_free (g->agent_source);
  g_free (g);
}

static void
grant_remove (Grant *g)
{
  g_hash_table_remove (g->pool->attach->grants, g->conn_id);
  g->pool->granted--;
  grant_free (g);
}

static gboolean
grant_timeout_cb (gpointer user_data)
{
  Grant *g = user_data;

  g->timeout_id = 0;
  g_debug ("warm pool of %s: no data connection for a grant within %u s", g->pool->binding->host,
           g->pool->attach->server->config.attach_timeout_s);
  grant_remove (g);
  return G_SOURCE_REMOVE;
}

static void
pool_grant (Pool *pool)
{
  Grant *g = g_new0 (Grant, 1);
  guint8 id[NFLTR_PROTO_CONN_ID_SIZE];

  /* A grant is a conn-id like any other: key-strength random, valid once (§5). */
  gnutls_rnd (GNUTLS_RND_RANDOM, id, sizeof id);
  g->pool = pool;
  g->conn_id = g_bytes_new (id, sizeof id);
  g->agent_source = relay_peer_source (relay_agent_get_peer (pool->agent));
  owed_add (pool->attach, g->agent_source, +1);
  g->timeout_id = g_timeout_add (pool->attach->server->config.attach_timeout_s * 1000,
                                 grant_timeout_cb, g);
  g_hash_table_insert (pool->attach->grants, g->conn_id, g);
  pool->granted++;
  relay_binder_send_pool_grant (pool->binding, id);
}

static void
pool_refill (Pool *pool)
{
  while (pool_held (pool) < pool->target && pool->binding->agent == pool->agent &&
         pool_has_room (pool))
    pool_grant (pool);
}

static void
pool_conn_free (PoolConn *pc, gboolean close)
{
  g_queue_unlink (&pc->pool->idle, &pc->link);
  if (pc->watch != NULL)
    {
      g_source_destroy (pc->watch);
      g_source_unref (pc->watch);
    }
  g_clear_handle_id (&pc->timeout_id, g_source_remove);
  if (close)
    g_io_stream_close (G_IO_STREAM (pc->data), NULL, NULL);
  g_object_unref (pc->data);
  g_free (pc);
}

static gboolean
pool_conn_closed_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  PoolConn *pc = user_data;

  /* §5.1: the agent says nothing on a slot before it is taken; EOF means it let it go. */
  g_debug ("warm pool of %s: the agent closed a slot", pc->pool->binding->host);
  pool_conn_free (pc, TRUE);
  return G_SOURCE_REMOVE;
}

static gboolean
pool_conn_idle_cb (gpointer user_data)
{
  PoolConn *pc = user_data;
  Pool *pool = pc->pool;

  pc->timeout_id = 0;
  pool_conn_free (pc, TRUE);
  if (pool->target > 0)
    pool->target--;
  pool_refill (pool);
  return G_SOURCE_REMOVE;
}

static void
pool_conn_add (Grant *g, GSocketConnection *data)
{
  Pool *pool = g->pool;
  PoolConn *pc = g_new0 (PoolConn, 1);

  grant_remove (g);
  pc->pool = pool;
  pc->data = g_object_ref (data);
  pc->link.data = pc;
  pc->watch = g_socket_create_source (g_socket_connection_get_socket (data),
                                      G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (pc->watch, G_SOURCE_FUNC (pool_conn_closed_cb), pc, NULL);
  g_source_attach (pc->watch, NULL);
  pc->timeout_id = g_timeout_add_seconds (POOL_IDLE_S, pool_conn_idle_cb, pc);
  g_queue_push_tail_link (&pool->idle, &pc->link);
}

/* A pooled data connection for binding with the take header (§5.1) already written, or NULL
 * when the pool is empty. */
static GSocketConnection *
pool_take (RelayAttach *attach, RelayBinding *binding, const char *peer)
{
  Pool *pool = g_hash_table_lookup (attach->pools, binding);
  guint8 header[NFLTR_PROTO_TAKE_MAX_SIZE];
  gsize len;

  if (pool == NULL)
    return NULL;
  len = nfltr_proto_take_encode (peer, header);
  while (pool->idle.length > 0)
    {
      /* The newest: the oldest are the first to idle out when the pool is too big. */
      PoolConn *pc = g_queue_peek_tail (&pool->idle);
      GSocketConnection *data = g_object_ref (pc->data);
      GSocket *socket = g_socket_connection_get_socket (data);
      gssize n;

      pool_conn_free (pc, FALSE);
      /* A few bytes into an idle socket's empty send buffer: all or an error. */
      n = g_socket_send_with_blocking (socket, (const char *) header, len, FALSE, NULL, NULL);
      if (n == (gssize) len)
        {
          /* Refilled by the caller, once the session counts against the agent. */
          attach->pool_taken++;
          return data;
        }
      g_io_stream_close (G_IO_STREAM (data), NULL, NULL);
      g_object_unref (data);
    }
  /* A miss: this tunnel gets clients faster than the pool refills. Refilled by the caller
   * after the visitor's CONN_OPEN, which must reach the agent first. */
  attach->pool_missed++;
  pool->target = MIN (pool->target + 1, pool->max);
  return NULL;
}

static void
pool_free (Pool *pool)
{
  GHashTableIter iter;
  gpointer value;
  GList *link;

  g_hash_table_iter_init (&iter, pool->attach->grants);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Grant *) value)->pool == pool)
      {
        g_hash_table_iter_remove (&iter);
        grant_free (value);
      }
  while ((link = g_queue_peek_head_link (&pool->idle)) != NULL)
    pool_conn_free (link->data, TRUE);
  relay_binding_unref (pool->binding);
  g_free (pool);
}

void
relay_attach_pool_start (RelayAttach *attach, RelayBinding *binding, guint pool_max)
{
  Pool *pool;

  g_return_if_fail (binding->agent != NULL);
  if (pool_max == 0)
    return;
  pool = g_new0 (Pool, 1);
  pool->attach = attach;
  pool->binding = relay_binding_ref (binding);
  pool->agent = binding->agent;
  pool->max = MIN (pool_max, POOL_MAX);
  pool->target = MIN (pool->max, POOL_INITIAL);
  g_queue_init (&pool->idle);
  g_hash_table_replace (attach->pools, binding, pool);
  pool_refill (pool);
}

void
relay_attach_pool_drop (RelayAttach *attach, RelayBinding *binding)
{
  g_hash_table_remove (attach->pools, binding);
}

guint
relay_attach_pool_idle (RelayAttach *attach, RelayBinding *binding)
{
  Pool *pool = g_hash_table_lookup (attach->pools, binding);

  return pool != NULL ? pool->idle.length : 0;
}

void
relay_attach_data_connection (RelayAttach *attach, GSocketConnection *data,
                              const guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE], const char *peer)
{
  g_autoptr(GBytes) key = g_bytes_new (conn_id, NFLTR_PROTO_CONN_ID_SIZE);
  gpointer stolen_key = NULL, value = NULL;
  Grant *grant;
  Pending *p;

  if (!g_hash_table_steal_extended (attach->pending, key, &stolen_key, &value))
    {
      grant = g_hash_table_lookup (attach->grants, key);
      if (grant != NULL)
        {
          relay_server_conn_set_class (attach->server, data, RELAY_CONN_AGENT_DATA);
          pool_conn_add (grant, data);
          return;
        }
      relay_log_refusal (peer, "bad-attach", "unknown, expired or reused conn-id");
      g_io_stream_close (G_IO_STREAM (data), NULL, NULL);
      return;
    }
  p = value;
  g_clear_handle_id (&p->timeout_id, g_source_remove);
  relay_server_conn_set_class (attach->server, data, RELAY_CONN_AGENT_DATA);
  session_start (attach, p->binding, p->agent_session, p->client, p->hello, data, p->peer, FALSE);
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
  Grant *grant = g_hash_table_lookup (attach->grants, key);

  if (grant != NULL && grant->pool->agent == agent)
    {
      /* The agent will not hold more slots now (its tunnel's cap, or it is stopping): ask
       * for no more until a client finds the pool empty. */
      g_debug ("warm pool of %s: agent refused a slot: %s", grant->pool->binding->host,
               message ? message : "(no reason given)");
      grant->pool->target = pool_held (grant->pool) - 1;
      grant_remove (grant);
      return;
    }
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
  g_hash_table_iter_init (&iter, attach->pools);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Pool *) value)->agent == agent)
      g_hash_table_iter_remove (&iter);
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
