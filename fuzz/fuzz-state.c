/* fuzz-state.c — the service's relay.json and tunnels.json parsers (service/core/nfltr-state.c):
 * files on disk that a user, a sync tool or a crash may have mangled. The first byte picks
 * the parser. */
#include "nfltr-state.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
quiet_log (const char *domain, GLogLevelFlags level, const char *message, gpointer user_data)
{
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gsize quiet = 0;
  g_autoptr(GError) error = NULL;

  if (g_once_init_enter (&quiet))
    g_once_init_leave (&quiet, g_log_set_handler ("nfltr-state", G_LOG_LEVEL_MESSAGE, quiet_log, NULL));
  if (size < 1)
    return 0;
  if (data[0] & 1)
    {
      g_autoptr(NfltrRelayConfig) c = nfltr_relay_config_parse ((const char *) data + 1, size - 1, "relay.json", &error);
      g_assert ((c == NULL) == (error != NULL));
      if (c != NULL)
        g_assert (c->host != NULL && c->fingerprint != NULL && c->port != 0);
    }
  else
    {
      g_autoptr(GPtrArray) list = nfltr_tunnels_parse ((const char *) data + 1, size - 1, "tunnels.json", &error);
      g_assert ((list == NULL) == (error != NULL));
      for (guint i = 0; list != NULL && i < list->len; i++)
        {
          NfltrTunnelConfig *c = g_ptr_array_index (list, i);
          g_assert (c->name != NULL && c->target != NULL && c->kind != NULL);
        }
    }
  return 0;
}
