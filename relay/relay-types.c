/* relay-types.c — configuration defaults and the refusal log line */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-types.h"
#include <string.h>

void
relay_config_init (RelayConfig *config)
{
  memset (config, 0, sizeof *config);
  config->listen = g_strdup ("127.0.0.1:" NFLTR_DEFAULT_RELAY_PORT);
  config->domain = g_strdup (NFLTR_DEFAULT_DOMAIN);
  config->data_dir = g_build_filename (g_get_user_data_dir (), "nfltr-relay", NULL);
  config->hello_max_bytes = RELAY_DEFAULT_HELLO_MAX_BYTES;
  config->handshake_timeout_s = RELAY_DEFAULT_HANDSHAKE_TIMEOUT_S;
  config->attach_timeout_s = RELAY_DEFAULT_ATTACH_TIMEOUT_S;
  config->agent_idle_timeout_s = RELAY_DEFAULT_AGENT_IDLE_TIMEOUT_S;
  config->hello_timeout_s = RELAY_DEFAULT_HANDSHAKE_TIMEOUT_S;
  config->max_tunnels_per_agent = RELAY_DEFAULT_MAX_TUNNELS_PER_AGENT;
  config->max_per_source = RELAY_DEFAULT_MAX_PER_SOURCE;
  config->max_per_agent = RELAY_DEFAULT_MAX_PER_AGENT;
  config->name_expiry_s = (gint64) RELAY_DEFAULT_NAME_EXPIRY_DAYS * 24 * 3600;
}

void
relay_config_clear (RelayConfig *config)
{
  g_clear_pointer (&config->listen, g_free);
  g_clear_pointer (&config->domain, g_free);
  g_clear_pointer (&config->data_dir, g_free);
}

void
relay_log_refusal (const char *peer, const char *reason, const char *format, ...)
{
  g_autofree char *detail = NULL;
  va_list args;

  va_start (args, format);
  detail = g_strdup_vprintf (format, args);
  va_end (args);
  g_message ("refused peer=%s reason=%s%s%s", peer, reason, *detail ? " " : "", detail);
}

char *
relay_format_address (GSocketAddress *address)
{
  GInetAddress *inet;
  g_autofree char *ip = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("unknown");
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  ip = g_inet_address_to_string (inet);
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", ip,
                            g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)));
  return g_strdup_printf ("%s:%u", ip,
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)));
}
