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

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer user_data)
{
  relay_demux_accept (user_data, conn);
  return TRUE;
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
