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
  config->idle_timeout_s = RELAY_DEFAULT_IDLE_TIMEOUT_S;
  config->http_idle_timeout_s = RELAY_DEFAULT_HTTP_IDLE_TIMEOUT_S;
  config->max_per_agent = RELAY_DEFAULT_MAX_PER_AGENT;
  config->name_expiry_s = (gint64) RELAY_DEFAULT_NAME_EXPIRY_DAYS * 24 * 3600;
  config->log_interval_s = RELAY_DEFAULT_LOG_INTERVAL_S;
  config->proof_interval_s = RELAY_DEFAULT_PROOF_INTERVAL_S;
}

guint
relay_config_agent_reserve (const RelayConfig *config)
{
  if (config->agent_reserve > 0)
    return MIN (config->agent_reserve, config->max_connections);
  return MAX (1, config->max_connections / 4);
}

guint
relay_config_public_share (const RelayConfig *config)
{
  guint reserve = relay_config_agent_reserve (config);

  return config->max_connections > reserve ? config->max_connections - reserve : 0;
}

guint
relay_config_per_source (const RelayConfig *config)
{
  if (config->max_per_source > 0)
    return config->max_per_source;
  /* One address may take a quarter of what the public may use: it cannot lock out the rest. */
  return MAX (1, MIN (RELAY_DEFAULT_MAX_PER_SOURCE, relay_config_public_share (config) / 4));
}

void
relay_config_clear (RelayConfig *config)
{
  g_clear_pointer (&config->listen, g_free);
  g_clear_pointer (&config->agent_ca_file, g_free);
  g_clear_pointer (&config->turn_url, g_free);         /* issue 14 */
  g_clear_pointer (&config->turn_secret_file, g_free); /* issue 14 */
  g_clear_pointer (&config->domain, g_free);
  g_clear_pointer (&config->data_dir, g_free);
}

/* Refusal lines are rate-limited per (reason, source address): the first few of an interval
 * are written as they come, the rest only counted and summed up in one line when the interval
 * ends, so a flood of 50,000 bad attaches writes a handful of lines, not 50,000 (issue 8 §3). */
typedef struct {
  guint written;     /* lines written in full this interval */
  guint suppressed;  /* refusals only counted this interval */
} RefusalCount;

static GHashTable *refusal_counts;   /* "reason source" → RefusalCount */
static guint       refusal_flush_id;
static guint       refusal_interval_s = RELAY_DEFAULT_LOG_INTERVAL_S;

char *
relay_peer_source (const char *peer)
{
  const char *colon = strrchr (peer, ':');

  if (peer[0] == '[')
    {
      const char *close = strchr (peer, ']');
      return close ? g_strndup (peer + 1, close - peer - 1) : g_strdup (peer);
    }
  if (colon != NULL && strchr (peer, ':') == colon)
    return g_strndup (peer, colon - peer);
  return g_strdup (peer);
}

static void
refusal_flush (void)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, refusal_counts);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      RefusalCount *count = value;
      const char *space = strchr (key, ' ');

      if (count->suppressed > 0)
        g_message ("refused peer=%s reason=%.*s count=%u in the last %u s (not logged one by one)",
                   space + 1, (int) (space - (const char *) key), (const char *) key,
                   count->suppressed, refusal_interval_s);
      g_hash_table_iter_remove (&iter);
    }
}

static gboolean
refusal_flush_cb (gpointer user_data)
{
  refusal_flush ();
  if (g_hash_table_size (refusal_counts) > 0)
    return G_SOURCE_CONTINUE;
  refusal_flush_id = 0;
  return G_SOURCE_REMOVE;
}

void
relay_log_refusal_set_interval (guint seconds)
{
  refusal_interval_s = MAX (1, seconds);
}

void
relay_log_refusal_flush (void)
{
  if (refusal_counts == NULL)
    return;
  refusal_flush ();
  g_clear_handle_id (&refusal_flush_id, g_source_remove);
  g_clear_pointer (&refusal_counts, g_hash_table_unref);
}

/* The dashboard's ring of recent refusals (issue 11), when one is running. */
static RelayRefusalObserver refusal_observer;

void
relay_log_refusal (const char *peer, const char *reason, const char *format, ...)
{
  g_autofree char *detail = NULL;
  g_autofree char *source = relay_peer_source (peer);
  g_autofree char *key = g_strdup_printf ("%s %s", reason, source);
  RefusalCount *count;
  va_list args;

  if (refusal_counts == NULL)
    refusal_counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  count = g_hash_table_lookup (refusal_counts, key);
  if (count == NULL)
    {
      count = g_new0 (RefusalCount, 1);
      g_hash_table_insert (refusal_counts, g_steal_pointer (&key), count);
    }
  if (refusal_flush_id == 0)
    refusal_flush_id = g_timeout_add_seconds (refusal_interval_s, refusal_flush_cb, NULL);
  if (count->written >= RELAY_LOG_REFUSALS_PER_INTERVAL)
    {
      count->suppressed++;
      return;
    }
  count->written++;

  va_start (args, format);
  detail = g_strdup_vprintf (format, args);
  va_end (args);
  g_message ("refused peer=%s reason=%s%s%s", peer, reason, *detail ? " " : "", detail);
  if (refusal_observer != NULL)
    refusal_observer (peer, reason, detail);
}

void
relay_log_refusal_set_observer (RelayRefusalObserver observer)
{
  refusal_observer = observer;
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
