/* nfltr-data-conn-group.c — the connections of one tunnel, stopped together */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-tunnels-private.h"

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
};

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

gboolean
_nfltr_data_conn_group_enter (NfltrDataConnGroup *group)
{
  g_mutex_lock (&group->lock);
  group->active++;
  g_mutex_unlock (&group->lock);
  return !_nfltr_data_conn_group_is_cancelled (group);
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
