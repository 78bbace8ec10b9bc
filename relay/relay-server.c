/* relay-server.c — assembles a relay and binds its public port */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-server.h"
#include "agents/relay-agent.h"
#include "agents/relay-registry.h"
#include "api/relay-http.h"
#include "listener/relay-demux.h"
#include "passthrough/relay-attach.h"
#include "store/relay-store.h"
#include "tls/relay-identity.h"
#include "nfltr-error.h"
#include "nfltr-resolve.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* Live accepted connections, counted from accept to the socket object's end. Shared with the
 * weak references so a connection that outlives the server (held by libsoup a little
 * longer) does not touch a freed server. */
struct _RelayConnCount {
  RelayServer *server;   /* NULL once the server is gone */
  guint        live;
};

static void
conn_gone_cb (gpointer data, GObject *where_the_object_was)
{
  RelayConnCount *count = data;
  RelayServer *server = count->server;

  count->live--;
  if (server != NULL && server->accept_paused && count->live < server->config.max_connections)
    {
      server->accept_paused = FALSE;
      g_message ("accepting connections again (%u open, limit %u)", count->live,
                 server->config.max_connections);
      g_socket_service_start (server->service);
    }
  g_rc_box_release (count);
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer user_data)
{
  RelayServer *server = user_data;
  RelayConnCount *count = server->conn_count;

  count->live++;
  g_object_weak_ref (G_OBJECT (conn), conn_gone_cb, g_rc_box_acquire (count));
  /* At the limit, stop accepting: new clients wait in the kernel's backlog instead of the
   * relay running out of descriptors in the middle of someone else's connection. */
  if (count->live >= server->config.max_connections && !server->accept_paused)
    {
      server->accept_paused = TRUE;
      g_message ("connection limit reached (%u open): not accepting until some close "
                 "(--max-connections)", count->live);
      g_socket_service_stop (service);
    }
  relay_demux_accept (server, conn);
  return TRUE;
}

/* Each accepted connection is one socket, plus at most two pipe descriptors while bytes are
 * in flight through its splice; keep some room for the database, certificates and logs. */
static guint
default_max_connections (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return 10000;
  return limit.rlim_cur > 256 ? (guint) MIN ((limit.rlim_cur - 64) / 3, G_MAXUINT) : 64;
}

RelayServer *
relay_server_new (RelayConfig *config, GError **error)
{
  g_autoptr(RelayServer) server = g_new0 (RelayServer, 1);

  server->config = *config;
  memset (config, 0, sizeof *config);
  server->agents = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) relay_agent_free, NULL);
  server->registry = relay_registry_new ();
  server->attach = relay_attach_new (server);
  server->conn_count = g_rc_box_new0 (RelayConnCount);
  server->conn_count->server = server;

  server->store = relay_store_open (server->config.data_dir, error);
  if (server->store == NULL)
    return NULL;
  server->identity = relay_identity_load (server->config.data_dir, server->config.domain, error);
  if (server->identity == NULL)
    return NULL;
  server->http = relay_http_new (server);
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

  server->service = g_socket_service_new ();
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (server->service), 1024);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (server->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                      &effective, error))
    {
      g_prefix_error (error, "cannot listen on %s: ", server->config.listen);
      return FALSE;
    }
  if (server->config.max_connections == 0)
    server->config.max_connections = default_max_connections ();
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  server->listen_text = relay_format_address (effective);
  if (server->config.public_port == 0)
    server->config.public_port = server->port;
  g_signal_connect (server->service, "incoming", G_CALLBACK (incoming_cb), server);
  g_socket_service_start (server->service);
  return TRUE;
}

void
relay_server_free (RelayServer *server)
{
  if (server == NULL)
    return;
  if (server->service != NULL)
    {
      g_socket_service_stop (server->service);
      g_socket_listener_close (G_SOCKET_LISTENER (server->service));
      g_signal_handlers_disconnect_by_data (server->service, server);
      g_clear_object (&server->service);
    }
  if (server->conn_count != NULL)
    {
      server->conn_count->server = NULL;
      g_rc_box_release (server->conn_count);
    }
  /* Agents first: detaching them touches the registry and the attach table. */
  g_clear_pointer (&server->agents, g_hash_table_unref);
  g_clear_pointer (&server->attach, relay_attach_free);
  g_clear_pointer (&server->registry, relay_registry_free);
  g_clear_object (&server->http);
  g_clear_pointer (&server->identity, relay_identity_free);
  g_clear_pointer (&server->store, relay_store_free);
  g_free (server->listen_text);
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
