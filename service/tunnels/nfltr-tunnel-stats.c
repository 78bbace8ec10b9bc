/* nfltr-tunnel-stats.c — per-tunnel counters, written by the data path, read by the engine */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-tunnels-private.h"

#include <stdatomic.h>

/* Relaxed atomics: each counter is read on its own for display, so there is no ordering
 * between them to keep, and the hot path (a byte count per record) stays a single add. */
struct _NfltrTunnelStats
{
  gatomicrefcount  ref;
  atomic_uint      active;
  atomic_ullong    total;
  atomic_ullong    bytes_in;
  atomic_ullong    bytes_out;
  atomic_ullong    refused;

  /* Origin health: written once per connect, read once a second; a mutex for the text. */
  GMutex           origin_lock;
  NfltrOriginState origin;
  guint64          origin_failures;
  char            *origin_error;
};

NfltrTunnelStats *
nfltr_tunnel_stats_new (void)
{
  NfltrTunnelStats *stats = g_new0 (NfltrTunnelStats, 1);

  g_atomic_ref_count_init (&stats->ref);
  atomic_init (&stats->active, 0);
  atomic_init (&stats->total, 0);
  atomic_init (&stats->bytes_in, 0);
  atomic_init (&stats->bytes_out, 0);
  atomic_init (&stats->refused, 0);
  g_mutex_init (&stats->origin_lock);
  return stats;
}

NfltrTunnelStats *
nfltr_tunnel_stats_ref (NfltrTunnelStats *stats)
{
  g_return_val_if_fail (stats != NULL, NULL);
  g_atomic_ref_count_inc (&stats->ref);
  return stats;
}

void
nfltr_tunnel_stats_unref (NfltrTunnelStats *stats)
{
  g_return_if_fail (stats != NULL);
  if (g_atomic_ref_count_dec (&stats->ref))
    {
      g_mutex_clear (&stats->origin_lock);
      g_free (stats->origin_error);
      g_free (stats);
    }
}

guint
nfltr_tunnel_stats_get_active (NfltrTunnelStats *stats)
{
  return atomic_load_explicit (&stats->active, memory_order_relaxed);
}

guint64
nfltr_tunnel_stats_get_total (NfltrTunnelStats *stats)
{
  return atomic_load_explicit (&stats->total, memory_order_relaxed);
}

guint64
nfltr_tunnel_stats_get_bytes_in (NfltrTunnelStats *stats)
{
  return atomic_load_explicit (&stats->bytes_in, memory_order_relaxed);
}

guint64
nfltr_tunnel_stats_get_bytes_out (NfltrTunnelStats *stats)
{
  return atomic_load_explicit (&stats->bytes_out, memory_order_relaxed);
}

guint64
nfltr_tunnel_stats_get_refused (NfltrTunnelStats *stats)
{
  return atomic_load_explicit (&stats->refused, memory_order_relaxed);
}

void
_nfltr_tunnel_stats_conn_refused (NfltrTunnelStats *stats)
{
  atomic_fetch_add_explicit (&stats->refused, 1, memory_order_relaxed);
}

void
_nfltr_tunnel_stats_conn_started (NfltrTunnelStats *stats)
{
  atomic_fetch_add_explicit (&stats->active, 1, memory_order_relaxed);
  atomic_fetch_add_explicit (&stats->total, 1, memory_order_relaxed);
}

void
_nfltr_tunnel_stats_conn_ended (NfltrTunnelStats *stats)
{
  atomic_fetch_sub_explicit (&stats->active, 1, memory_order_relaxed);
}

void
_nfltr_tunnel_stats_add_in (NfltrTunnelStats *stats, guint64 bytes)
{
  atomic_fetch_add_explicit (&stats->bytes_in, bytes, memory_order_relaxed);
}

void
_nfltr_tunnel_stats_add_out (NfltrTunnelStats *stats, guint64 bytes)
{
  atomic_fetch_add_explicit (&stats->bytes_out, bytes, memory_order_relaxed);
}

void
nfltr_tunnel_stats_origin_result (NfltrTunnelStats *stats, const GError *error)
{
  g_mutex_lock (&stats->origin_lock);
  if (error == NULL)
    stats->origin = NFLTR_ORIGIN_UP;
  else
    {
      stats->origin = NFLTR_ORIGIN_DOWN;
      stats->origin_failures++;
      if (g_strcmp0 (stats->origin_error, error->message) != 0)
        {
          g_free (stats->origin_error);
          stats->origin_error = g_strdup (error->message);
        }
    }
  g_mutex_unlock (&stats->origin_lock);
}

NfltrOriginState
nfltr_tunnel_stats_get_origin (NfltrTunnelStats *stats, guint64 *failures, char **last_error)
{
  NfltrOriginState state;

  g_mutex_lock (&stats->origin_lock);
  state = stats->origin;
  if (failures != NULL)
    *failures = stats->origin_failures;
  if (last_error != NULL)
    *last_error = g_strdup (stats->origin_error);
  g_mutex_unlock (&stats->origin_lock);
  return state;
}
