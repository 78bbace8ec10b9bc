/* relay-server.c — assembles a relay, binds its public port and accepts under its limits
 * (--max-connections; out of descriptors: drop the oldest first-stage connection, never spin) */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-server.h"
#include "auth/relay-agent-ca.h"
#include "agents/relay-agent.h"
#include "agents/relay-directory.h"
#include "p2p/relay-p2p.h"
#include "a2a/relay-a2a.h"
#include "tunnels/relay-registry.h"
#include "api/relay-http.h"
#include "listener/relay-demux.h"
#include "passthrough/relay-attach.h"
#include "passthrough/relay-splice.h"
#include "store/relay-store.h"
#include "wg/relay-wg.h"
#include "tls/relay-identity.h"
#include "proof/relay-proof.h"
#include "nfltr-error.h"
#include "nfltr-resolve.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

/* How long accepting pauses when the relay is out of descriptors and has no first-stage
 * connection to drop: long enough not to spin on a listening socket that stays readable. */
#define FD_LIMIT_PAUSE_MS 250
/* The optional features this relay serves (docs/protocol.md §8.2): p2p (§9.7). A track that
 * lands adds its token here (`wg`, `p2p`, `a2a`). */
#define RELAY_FEATURES    "wg p2p a2a warm-pool"
#define ACCEPT_BURST      64
/* How often the relay looks for keys revoked by `nfltr-relay keys revoke` (another process):
 * an agent using a revoked key is gone within about this long (docs/security.md). */
#define KEY_WATCH_INTERVAL_MS 1000

/* Live accepted connections, counted from accept to the socket object's end, by class and by
 * source address. Shared with every connection's tag so a connection that outlives the server
 * (held by libsoup a little longer) does not touch a freed server. */
struct _RelayConnCount {
  RelayServer *server;   /* NULL once the server is gone */
  guint        live;
  guint        by_class[RELAY_CONN_AGENT_DATA + 1];
  GHashTable  *sources;  /* source address → its connections that count against it */
  GHashTable  *peers;    /* "IP:PORT" → RelayConn */
};

/* The tag on every accepted GSocketConnection (qdata): freed with it. */
typedef struct {
  RelayConnCount *count;
  GSocket        *socket;
  char           *source;
  char           *peer;
  RelayConnClass  klass;
  gboolean        idle_closed;
} RelayConn;

G_DEFINE_QUARK (relay-conn, relay_conn)

static void accept_resume (RelayServer *server);
static guint accept_limit (RelayServer *server);

static gboolean
class_counts_in_source (RelayConnClass klass)
{
  /* Agents' connections are authenticated (HELLO) or paired with a client that was counted:
   * an agent behind the same address as others must not use up that address's cap. */
  return klass != RELAY_CONN_AGENT_CONTROL && klass != RELAY_CONN_AGENT_DATA;
}

static void
source_add (RelayConnCount *count, const char *source, int delta)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (count->sources, source)) + delta;

  if (n == 0)
    g_hash_table_remove (count->sources, source);
  else
    g_hash_table_insert (count->sources, g_strdup (source), GUINT_TO_POINTER (n));
}

static void
count_clear (gpointer data)
{
  RelayConnCount *count = data;

  g_hash_table_unref (count->sources);
  g_hash_table_unref (count->peers);
}

static void
maybe_resume (RelayServer *server)
{
  if (server->accept_paused && server->accept_retry_id == 0 &&
      server->conn_count->live < accept_limit (server))
    {
      g_message ("accepting connections again (%u open, limit %u)", server->conn_count->live,
                 server->config.max_connections);
      accept_resume (server);
    }
}

static void
conn_gone (gpointer data)
{
  RelayConn *c = data;
  RelayConnCount *count = c->count;

  count->live--;
  count->by_class[c->klass]--;
  if (class_counts_in_source (c->klass))
    source_add (count, c->source, -1);
  if (g_hash_table_lookup (count->peers, c->peer) == c)
    g_hash_table_remove (count->peers, c->peer);
  if (count->server != NULL)
    maybe_resume (count->server);
  g_clear_object (&c->socket);
  g_free (c->source);
  g_free (c->peer);
  g_free (c);
  g_rc_box_release_full (count, count_clear);
}

static void
conn_set_class (RelayConn *c, RelayConnClass klass)
{
  RelayConnCount *count = c->count;

  if (c->klass == klass)
    return;
  if (class_counts_in_source (c->klass) && !class_counts_in_source (klass))
    source_add (count, c->source, -1);
  else if (!class_counts_in_source (c->klass) && class_counts_in_source (klass))
    source_add (count, c->source, +1);
  count->by_class[c->klass]--;
  count->by_class[klass]++;
  c->klass = klass;
}

void
relay_server_conn_set_class (RelayServer *server, GSocketConnection *conn, RelayConnClass klass)
{
  RelayConn *c = g_object_get_qdata (G_OBJECT (conn), relay_conn_quark ());

  if (c != NULL)
    conn_set_class (c, klass);
}

void
relay_server_peer_set_class (RelayServer *server, const char *peer, RelayConnClass klass)
{
  RelayConn *c = g_hash_table_lookup (server->conn_count->peers, peer);

  if (c != NULL)
    conn_set_class (c, klass);
}

guint
relay_server_source_count (RelayServer *server, const char *source)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (server->conn_count->sources, source));
}

guint
relay_server_class_count (RelayServer *server, RelayConnClass klass)
{
  return server->conn_count->by_class[klass];
}

gboolean
relay_server_public_room (RelayServer *server)
{
  guint clients = server->conn_count->by_class[RELAY_CONN_TUNNEL_CLIENT];

  return 2 * ((guint64) clients + 1) <= relay_config_public_share (&server->config);
}

/* Each public client waiting for its data connection is owed one more place: the relay takes
 * that many connections past --max-connections, so the data connection is never refused for
 * lack of room (and whatever else comes in those places must be one, see relay-demux.c). */
static guint
accept_limit (RelayServer *server)
{
  return server->config.max_connections + relay_attach_pending_count (server->attach);
}

void
relay_server_room_changed (RelayServer *server)
{
  maybe_resume (server);
}

/* docs/relay.md "Fair limits": a connection to the relay's own HTTP (the API, a control
 * channel before its HELLO) that has moved no byte either way for --http-idle-timeout is shut
 * down; libsoup then sees the end and closes it. The kernel keeps the times (TCP_INFO), so
 * nothing is wrapped around libsoup's streams. */
static gboolean
sweep_cb (gpointer user_data)
{
  RelayServer *server = user_data;
  guint32 limit_ms = server->config.http_idle_timeout_s * 1000;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, server->conn_count->peers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RelayConn *c = value;
      struct tcp_info info;
      socklen_t len = sizeof info;

      if (c->klass != RELAY_CONN_OWN_NAME || c->idle_closed)
        continue;
      if (getsockopt (g_socket_get_fd (c->socket), IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        continue;
      if (MIN (info.tcpi_last_data_recv, info.tcpi_last_data_sent) < limit_ms)
        continue;
      c->idle_closed = TRUE;
      relay_log_refusal (c->peer, "http-idle", "no byte either way for %u s (--http-idle-timeout)",
                         server->config.http_idle_timeout_s);
      g_socket_shutdown (c->socket, TRUE, TRUE, NULL);
    }
  return G_SOURCE_CONTINUE;
}

static void
accept_pause (RelayServer *server)
{
  server->accept_paused = TRUE;
  if (server->accept_source != NULL)
    {
      g_source_destroy (server->accept_source);
      g_clear_pointer (&server->accept_source, g_source_unref);
    }
}

static gboolean accept_cb (GSocket *socket, GIOCondition condition, gpointer user_data);

static void
accept_resume (RelayServer *server)
{
  server->accept_paused = FALSE;
  g_clear_handle_id (&server->accept_retry_id, g_source_remove);
  if (server->accept_source != NULL)
    return;
  server->accept_source = g_socket_create_source (server->listen_socket, G_IO_IN, NULL);
  g_source_set_callback (server->accept_source, G_SOURCE_FUNC (accept_cb), server, NULL);
  g_source_attach (server->accept_source, NULL);
}

static gboolean
accept_retry_cb (gpointer user_data)
{
  RelayServer *server = user_data;

  server->accept_retry_id = 0;
  accept_resume (server);
  return G_SOURCE_REMOVE;
}

/* Out of descriptors (EMFILE/ENFILE): say so (at most once a second), make room by dropping
 * the oldest connection that has not even sent its ClientHello, or, with none to drop, stop
 * accepting for a moment. FALSE when accepting is paused. */
static gboolean
handle_fd_limit (RelayServer *server, const char *what)
{
  gint64 now = g_get_monotonic_time ();

  if (now - server->fd_limit_logged >= G_USEC_PER_SEC)
    {
      server->fd_limit_logged = now;
      relay_log_refusal ("-", "fd-limit", "%s: out of file descriptors (%u connections open)",
                         what, server->conn_count->live);
    }
  if (relay_demux_evict_oldest (server, "fd-limit"))
    return TRUE;
  accept_pause (server);
  server->accept_retry_id = g_timeout_add (FD_LIMIT_PAUSE_MS, accept_retry_cb, server);
  return FALSE;
}

/* The splice's way to ask for a descriptor when a pipe cannot be had. */
static gboolean
fd_relief_cb (gpointer user_data)
{
  return relay_demux_evict_oldest (user_data, "fd-limit");
}

/* Half the descriptors: each accepted connection is one, and the pipes of the splices that are
 * moving bytes, the database and the certificates need the rest. */
static guint
default_max_connections (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return 16384;
  return (guint) MAX (16, MIN (limit.rlim_cur / 2, G_MAXUINT));
}

static void
take_connection (RelayServer *server, GSocket *socket, gboolean reserve_only)
{
  RelayConnCount *count = server->conn_count;
  g_autoptr(GSocketConnection) conn = g_socket_connection_factory_create_connection (socket);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (conn, NULL);
  RelayConn *c = g_new0 (RelayConn, 1);

  c->count = g_rc_box_acquire (count);
  c->socket = g_object_ref (socket);
  c->peer = remote ? relay_format_address (remote) : g_strdup ("unknown");
  c->source = remote && G_IS_INET_SOCKET_ADDRESS (remote)
                ? g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)))
                : g_strdup ("unknown");
  c->klass = RELAY_CONN_FIRST_STAGE;
  count->live++;
  count->by_class[c->klass]++;
  source_add (count, c->source, +1);
  g_hash_table_replace (count->peers, c->peer, c);
  g_object_set_qdata_full (G_OBJECT (conn), relay_conn_quark (), c, conn_gone);
  relay_demux_accept (server, conn, reserve_only);
}

static gboolean
accept_cb (GSocket *listen_socket, GIOCondition condition, gpointer user_data)
{
  RelayServer *server = user_data;

  for (guint i = 0; i < ACCEPT_BURST; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) socket = NULL;

      /* At the limit with every connection past its first stage, stop accepting: new clients
       * wait in the kernel's backlog instead of the relay running out of descriptors in the
       * middle of someone else's connection. */
      if (server->conn_count->live >= accept_limit (server) &&
          g_queue_is_empty (&server->first_stage))
        {
          g_message ("connection limit reached (%u open): not accepting until some close "
                     "(--max-connections)", server->conn_count->live);
          accept_pause (server);
          return G_SOURCE_REMOVE;
        }
      socket = g_socket_accept (listen_socket, NULL, &error);
      if (socket != NULL)
        {
          gboolean reserve_only = FALSE;

          /* At the limit: the connection that has waited longest for its ClientHello makes
           * room for the new one. With none to drop, the new one takes a place owed to a
           * waiting client's data connection (see above), and may only be one. */
          if (server->conn_count->live >= server->config.max_connections)
            reserve_only = !relay_demux_evict_oldest (server, "max-connections");
          take_connection (server, socket, reserve_only);
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES))
        {
          if (!handle_fd_limit (server, "accept"))
            return G_SOURCE_REMOVE;
          continue;
        }
      /* ECONNABORTED and the like: that one client's problem. */
      g_debug ("accept: %s", error->message);
    }
  return G_SOURCE_CONTINUE;
}

/* relay.db changed under us (data_version moved): drop every agent whose key is no longer
 * valid. Costs one PRAGMA a second while nothing changes. */
static gboolean
key_watch_cb (gpointer user_data)
{
  RelayServer *server = user_data;
  gint64 version = relay_store_data_version (server->store);
  g_autoptr(GPtrArray) revoked = NULL;
  GHashTableIter iter;
  gpointer key;

  if (version == server->store_version)
    return G_SOURCE_CONTINUE;
  server->store_version = version;
  revoked = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, server->agents);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      RelayAgent *agent = key;

      if (relay_agent_get_state (agent) == RELAY_AGENT_READY &&
          !relay_agent_credential_is_active (agent))
        g_ptr_array_add (revoked, agent);
    }
  /* Failing a channel does not free it yet (that happens at its close), so the list holds. */
  for (guint i = 0; i < revoked->len; i++)
    relay_agent_fail (revoked->pdata[i], NFLTR_PROTO_ERR_AUTH_FAILED,
                      relay_agent_credential_revoked_message (revoked->pdata[i]));
  return G_SOURCE_CONTINUE;
}

RelayServer *
relay_server_new (RelayConfig *config, GError **error)
{
  g_autoptr(RelayServer) server = g_new0 (RelayServer, 1);

  server->config = *config;
  memset (config, 0, sizeof *config);
  relay_log_refusal_set_interval (server->config.log_interval_s);
  server->agents = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) relay_agent_free, NULL);
  server->registry = relay_registry_new ();
  server->directory = relay_directory_new ();
  server->p2p = relay_p2p_new ();
  server->features = g_strdup (RELAY_FEATURES);
  server->attach = relay_attach_new (server);
  server->conn_count = g_rc_box_new0 (RelayConnCount);
  server->conn_count->server = server;
  server->conn_count->sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server->conn_count->peers = g_hash_table_new (g_str_hash, g_str_equal);

  server->store = relay_store_open (server->config.data_dir, error);
  if (server->store == NULL ||
      !relay_store_names_recover (server->store, g_get_real_time () / G_USEC_PER_SEC, error))
    return NULL;
  server->identity = relay_identity_load (server->config.data_dir, server->config.domain, error);
  if (server->identity == NULL)
    return NULL;
  server->a2a = relay_a2a_new (server, error);
  if (server->a2a == NULL)
    return NULL;
  server->wg = relay_wg_new (server, error);
  if (server->wg == NULL)
    return NULL;
  /* issue 12 (labs): --wg-packet-rate, --wg-handshake-rate */
  relay_wg_set_rates (server->wg, server->config.wg_packets_per_s, server->config.wg_handshakes_per_s);
  server->agent_ca = relay_agent_ca_load (server->config.data_dir, server->config.agent_ca_file, error);
  if (server->agent_ca == NULL)
    return NULL;
  server->proof = relay_proof_new (server, server->config.proof_interval_s, error);
  if (server->proof == NULL)
    return NULL;
  server->http = relay_http_new (server);
  server->store_version = relay_store_data_version (server->store);
  server->key_watch_id = g_timeout_add (KEY_WATCH_INTERVAL_MS, key_watch_cb, server);
  return g_steal_pointer (&server);
}

gboolean
relay_server_start (RelayServer *server, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  guint16 port = 0;

  const char *listen = server->config.listen;
  g_autofree char *without_port = NULL;
  gboolean any_port = g_str_has_suffix (listen, ":0") && strlen (listen) > 2;

  /* Port 0 (a free port, shown on the startup line) is for tests; the shared parser rightly
   * refuses it for everything else. */
  if (any_port)
    listen = without_port = g_strndup (listen, strlen (listen) - 2);
  if (!nfltr_parse_host_port (listen, atoi (NFLTR_DEFAULT_RELAY_PORT), !any_port, &host, &port, error))
    {
      g_prefix_error (error, "--listen: ");
      return FALSE;
    }
  if (any_port)
    port = 0;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    inet = g_inet_address_new_from_string (host);
  if (inet == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "--listen: “%s” is not an IP address (use e.g. 127.0.0.1 or 0.0.0.0)", host);
      return FALSE;
    }
  address = g_inet_socket_address_new (inet, port);

  server->listen_socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, error);
  if (server->listen_socket == NULL)
    return FALSE;
  g_socket_set_blocking (server->listen_socket, FALSE);
  g_socket_set_listen_backlog (server->listen_socket, 1024);
  if (!g_socket_bind (server->listen_socket, address, TRUE, error) ||
      !g_socket_listen (server->listen_socket, error))
    {
      g_prefix_error (error, "cannot listen on %s: ", server->config.listen);
      return FALSE;
    }
  effective = g_socket_get_local_address (server->listen_socket, error);
  if (effective == NULL)
    return FALSE;
  if (server->config.max_connections == 0)
    server->config.max_connections = default_max_connections ();
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  server->listen_text = relay_format_address (effective);
  if (server->config.public_port == 0)
    server->config.public_port = server->port;
  /* The UDP port has the number of the TLS port (docs/wireguard.md, docs/relay.md "UDP"): the
   * WireGuard track owns the socket and reads it in batches; its reader sorts each datagram
   * (relay/udp: WireGuard, STUN for the P2P track, the rest dropped). */
  if (!relay_wg_start (server->wg, effective, error))
    return FALSE;
  relay_splice_init ();
  relay_splice_set_fd_relief (fd_relief_cb, server);
  server->sweep_id = g_timeout_add_seconds (MAX (1, MIN (5, server->config.http_idle_timeout_s / 4)),
                                            sweep_cb, server);
  accept_resume (server);
  return TRUE;
}

void
relay_server_free (RelayServer *server)
{
  if (server == NULL)
    return;
  if (server->listen_socket != NULL)
    {
      accept_pause (server);
      g_clear_handle_id (&server->accept_retry_id, g_source_remove);
      g_socket_close (server->listen_socket, NULL);
      g_clear_object (&server->listen_socket);
      relay_splice_set_fd_relief (NULL, NULL);
    }
  g_clear_handle_id (&server->sweep_id, g_source_remove);
  if (server->conn_count != NULL)
    {
      server->conn_count->server = NULL;
      g_rc_box_release_full (server->conn_count, count_clear);
    }
  g_clear_handle_id (&server->key_watch_id, g_source_remove);
  /* Checks in flight hold bindings and sockets: stopped before the agents go. */
  g_clear_pointer (&server->proof, relay_proof_free);
  relay_demux_close_all (server);
  /* Agents first: detaching them touches the registry, the directory and the attach table. */
  g_clear_pointer (&server->agents, g_hash_table_unref);
  g_clear_pointer (&server->wg, relay_wg_free);
  g_clear_pointer (&server->attach, relay_attach_free);
  g_clear_pointer (&server->registry, relay_registry_free);
  g_clear_pointer (&server->directory, relay_directory_free);
  g_clear_pointer (&server->p2p, relay_p2p_free);
  g_clear_pointer (&server->a2a, relay_a2a_free);
  g_free (server->features);
  g_clear_object (&server->http);
  g_clear_pointer (&server->identity, relay_identity_free);
  g_clear_pointer (&server->agent_ca, relay_agent_ca_free);
  g_clear_pointer (&server->peer_certs, g_hash_table_unref);
  g_clear_pointer (&server->store, relay_store_free);
  g_free (server->listen_text);
  relay_log_refusal_flush ();
  relay_config_clear (&server->config);
  g_free (server);
}

char *
relay_server_url_for (RelayServer *server, const char *host)
{
  if (server->config.public_port == 443)
    return g_strdup_printf ("https://%s", host);
  return g_strdup_printf ("https://%s:%u", host, server->config.public_port);
}
