/* nfltr-data-conn-group.c — the connections of one tunnel, stopped together */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-tunnels-private.h"

#include "nfltr-error.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Cancellation is an eventfd in every worker's poll() rather than shutdown(2) of the
 * workers' sockets from the cancelling thread: a socket owned by another thread can be
 * closed and its number reused between our look-up and our shutdown(), hitting an
 * unrelated connection. The eventfd is never reset, so it also stops workers that enter
 * their next poll() after the cancel. */
struct _NfltrDataConnGroup
{
  gatomicrefcount ref;
  int             cancel_fd;
  gint            cancelled;   /* atomic */
  GMutex          lock;
  GCond           idle;
  guint           active;      /* under lock */
  guint           max_active;  /* under lock; 0: no cap */
  guint           idle_timeout_s;  /* atomic; 0: none */
  guint64         refused;     /* under lock: refusals so far */
  guint64         refused_logged;  /* under lock: refusals already in the log */
  gint64          refusal_logged_at;  /* under lock: monotonic µs of the last log line */
  guint64         idle_closed; /* under lock: connections closed for being idle */
};

/* Issue 8 §4: sized for a desktop, where a browser opens six connections per page and a
 * busy tunnel has a few hundred. Beyond it a flood costs the relay's socket only. */
#define DEFAULT_MAX_CONNECTIONS 1024
/* Long enough for a WebSocket or an SSH session between keep-alives (browsers and OpenSSH
 * clients send theirs well within it), short enough that a forgotten or hostile idle client
 * gives its slot back. */
#define DEFAULT_IDLE_TIMEOUT_S  900
/* A flood must not flood the log: one line per interval, with the count since the last. */
#define REFUSAL_LOG_INTERVAL_S  10

static guint
env_uint (const char *name, guint fallback)
{
  const char *value = g_getenv (name);
  guint64 n;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT, &n, NULL))
    return fallback;
  return (guint) n;
}

NfltrDataConnGroup *
nfltr_data_conn_group_new (void)
{
  NfltrDataConnGroup *group = g_new0 (NfltrDataConnGroup, 1);

  g_atomic_ref_count_init (&group->ref);
  group->cancel_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (group->cancel_fd < 0)
    g_error ("eventfd: %s", g_strerror (errno));  /* out of fds at creation: nothing sane to do */
  g_mutex_init (&group->lock);
  g_cond_init (&group->idle);
  /* The environment overrides the defaults, for tests and for a user with unusual needs;
   * read per tunnel, so a test can change it between tunnels. */
  group->max_active = env_uint ("NFLTR_TUNNEL_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS);
  group->idle_timeout_s = env_uint ("NFLTR_DATA_CONN_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT_S);
  return group;
}

NfltrDataConnGroup *
nfltr_data_conn_group_ref (NfltrDataConnGroup *group)
{
  g_return_val_if_fail (group != NULL, NULL);
  g_atomic_ref_count_inc (&group->ref);
  return group;
}

void
nfltr_data_conn_group_unref (NfltrDataConnGroup *group)
{
  g_return_if_fail (group != NULL);
  if (!g_atomic_ref_count_dec (&group->ref))
    return;
  close (group->cancel_fd);
  g_mutex_clear (&group->lock);
  g_cond_clear (&group->idle);
  g_free (group);
}

void
nfltr_data_conn_group_cancel_all (NfltrDataConnGroup *group)
{
  guint64 one = 1;

  g_return_if_fail (group != NULL);
  if (!g_atomic_int_compare_and_exchange (&group->cancelled, 0, 1))
    return;
  if (write (group->cancel_fd, &one, sizeof one) != sizeof one)
    g_warning ("could not signal the data connections to stop: %s", g_strerror (errno));
}

gboolean
_nfltr_data_conn_group_is_cancelled (NfltrDataConnGroup *group)
{
  return g_atomic_int_get (&group->cancelled) != 0;
}

int
_nfltr_data_conn_group_cancel_fd (NfltrDataConnGroup *group)
{
  return group->cancel_fd;
}

guint
nfltr_data_conn_group_get_active (NfltrDataConnGroup *group)
{
  guint active;

  g_mutex_lock (&group->lock);
  active = group->active;
  g_mutex_unlock (&group->lock);
  return active;
}

gboolean
nfltr_data_conn_group_wait_idle (NfltrDataConnGroup *group, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean idle;

  g_mutex_lock (&group->lock);
  while (group->active > 0)
    if (!g_cond_wait_until (&group->idle, &group->lock, deadline))
      break;
  idle = group->active == 0;
  g_mutex_unlock (&group->lock);
  return idle;
}

void
nfltr_data_conn_group_set_max_connections (NfltrDataConnGroup *group, guint max_connections)
{
  g_return_if_fail (group != NULL);
  g_mutex_lock (&group->lock);
  group->max_active = max_connections;
  g_mutex_unlock (&group->lock);
}

guint
nfltr_data_conn_group_get_max_connections (NfltrDataConnGroup *group)
{
  guint max;

  g_return_val_if_fail (group != NULL, 0);
  g_mutex_lock (&group->lock);
  max = group->max_active;
  g_mutex_unlock (&group->lock);
  return max;
}

void
nfltr_data_conn_group_set_idle_timeout (NfltrDataConnGroup *group, guint seconds)
{
  g_return_if_fail (group != NULL);
  g_atomic_int_set (&group->idle_timeout_s, seconds);
}

guint
nfltr_data_conn_group_get_idle_timeout (NfltrDataConnGroup *group)
{
  g_return_val_if_fail (group != NULL, 0);
  return g_atomic_int_get (&group->idle_timeout_s);
}

guint64
nfltr_data_conn_group_get_idle_closed (NfltrDataConnGroup *group)
{
  guint64 n;

  g_return_val_if_fail (group != NULL, 0);
  g_mutex_lock (&group->lock);
  n = group->idle_closed;
  g_mutex_unlock (&group->lock);
  return n;
}

void
_nfltr_data_conn_group_count_idle_close (NfltrDataConnGroup *group)
{
  g_mutex_lock (&group->lock);
  group->idle_closed++;
  g_mutex_unlock (&group->lock);
}

gboolean
_nfltr_data_conn_group_admit (NfltrDataConnGroup  *group,
                              const char          *client_addr,
                              GError             **error)
{
  gint64 now = g_get_monotonic_time ();
  guint active;

  g_mutex_lock (&group->lock);
  if (group->max_active == 0 || group->active < group->max_active)
    {
      group->active++;
      g_mutex_unlock (&group->lock);
      return TRUE;
    }
  active = group->active;
  group->refused++;
  if (group->refusal_logged_at == 0 ||
      now - group->refusal_logged_at >= REFUSAL_LOG_INTERVAL_S * G_TIME_SPAN_SECOND)
    {
      /* g_message: a user whose visitors are turned away must be able to see why. */
      g_message ("tunnel connection from %s refused: %s (%u connections open, the cap; "
                 "%" G_GUINT64_FORMAT " refused since the last such line)",
                 client_addr != NULL ? client_addr : "unknown", NFLTR_DATA_CONN_REFUSE_TOO_MANY,
                 active, group->refused - group->refused_logged);
      group->refused_logged = group->refused;
      group->refusal_logged_at = now;
    }
  g_mutex_unlock (&group->lock);
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT, "%s: %u connections open",
               NFLTR_DATA_CONN_REFUSE_TOO_MANY, active);
  return FALSE;
}

gboolean
_nfltr_data_conn_group_admit_pool_slot (NfltrDataConnGroup  *group,
                                        guint                headroom,
                                        GError             **error)
{
  guint active;

  g_mutex_lock (&group->lock);
  if (group->max_active == 0 || group->active + headroom < group->max_active)
    {
      group->active++;
      g_mutex_unlock (&group->lock);
      return TRUE;
    }
  active = group->active;
  g_mutex_unlock (&group->lock);
  /* Not a visitor turned away: neither counted nor logged as one. */
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT, "%s: %u connections open",
               NFLTR_DATA_CONN_REFUSE_POOL_FULL, active);
  return FALSE;
}

void
_nfltr_data_conn_group_leave (NfltrDataConnGroup *group)
{
  g_mutex_lock (&group->lock);
  g_assert (group->active > 0);
  if (--group->active == 0)
    g_cond_broadcast (&group->idle);
  g_mutex_unlock (&group->lock);
}
