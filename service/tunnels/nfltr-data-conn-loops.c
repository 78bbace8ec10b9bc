/* nfltr-data-conn-loops.c — the threads of the data path: a bounded set of event loops that
 * run every data connection, and a bounded set of helper threads for the steps that can
 * only block.
 *
 * Issue 8 §4: a thread per connection made 400 idle public connections 400 threads, each
 * with its stack and, under glibc, its own malloc arena whose freed pages were never given
 * back (issue 17). Now each loop thread has its own GMainContext and runs any number of
 * connections, every stage non-blocking (nfltr-data-conn.c); there are at most
 * MIN (cores, MAX_LOOPS) of them. A new connection goes to the loop with the fewest, so the
 * cores share the work; a connection stays on its loop to the end, so its GnuTLS session
 * and buffers are only ever touched by one thread.
 *
 * What cannot be made non-blocking runs on the helper threads: resolving the relay's name
 * and connecting to it (getaddrinfo() blocks), and the kind's connect() hook, which the kind
 * interface defines as blocking (service/kinds/nfltr-tunnel-kind.h). At most MAX_HELPERS of
 * them; a job waits in a queue when all are busy. Both are quick on the paths they serve
 * (loopback, or a relay already resolved by the control channel), and a slow one delays
 * other connections' set-up, never their traffic.
 *
 * Both kinds of thread exit after IDLE_S without work, so an idle service is back to its idle
 * thread count (tests/abuse/test_conn_state.py). */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-data-conn-private.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* A desktop has 2–16 cores; beyond 8 loops the relay link, not our CPU, is the limit. */
#define MAX_LOOPS 8
#define MAX_HELPERS 4
/* Long enough to carry a thread across the gaps between bursts of connections (a browser
 * opening a page, a client reconnecting), short enough that an idle service holds none. */
#define IDLE_S 10

struct _NfltrDataConnLoop {
  GMainContext *context;
  guint conns;       /* under loops_lock */
  gint64 idle_since; /* under loops_lock; 0 while it has connections */
};

/* Statics of these types need no g_mutex_init()/g_cond_init(). */
static GMutex loops_lock;
static GPtrArray *loops; /* NfltrDataConnLoop*, running loops, under loops_lock */

static gboolean
wake_cb (G_GNUC_UNUSED gpointer data)
{
  return G_SOURCE_REMOVE; /* only makes the loop look at its idle time again */
}

static gpointer
loop_main (gpointer data)
{
  NfltrDataConnLoop *loop = data;
  gboolean last = FALSE;

  g_main_context_push_thread_default (loop->context);
  for (;;)
    {
      gboolean exit;

      g_main_context_iteration (loop->context, TRUE);
      g_mutex_lock (&loops_lock);
      /* Decided under the lock that enter() takes: once we are out of the array no
       * connection can be given to us, and none is left on us. */
      exit = loop->conns == 0 && loop->idle_since > 0 &&
             g_get_monotonic_time () - loop->idle_since >= IDLE_S * G_TIME_SPAN_SECOND;
      if (exit)
        {
          g_ptr_array_remove_fast (loops, loop);
          last = loops->len == 0;
        }
      g_mutex_unlock (&loops_lock);
      if (exit)
        break;
    }
  g_main_context_pop_thread_default (loop->context);
  /* Destroys the wake-up timers still attached; no connection source is left. */
  g_main_context_unref (loop->context);
  g_free (loop);
#ifdef __GLIBC__
  /* The data path is idle: give back the free pages inside glibc's arenas (the loops' GnuTLS
   * sessions and rewriters of the busiest moment, freed, between small live objects).
   * Once per transition to idle: it walks every arena, too slow per connection. Measured
   * with bench/soak/run: without it 11.6 MiB of arena heaps stayed resident after load. */
  if (last)
    malloc_trim (0);
#endif
  return NULL;
}

static guint
max_loops (void)
{
  return CLAMP (g_get_num_processors (), 1, MAX_LOOPS);
}

NfltrDataConnLoop *
_nfltr_data_conn_loop_enter (GError **error)
{
  NfltrDataConnLoop *best = NULL;
  NfltrDataConnLoop *loop;
  GThread *thread;

  g_mutex_lock (&loops_lock);
  if (loops == NULL)
    loops = g_ptr_array_new ();
  for (guint i = 0; i < loops->len; i++)
    {
      loop = loops->pdata[i];
      if (best == NULL || loop->conns < best->conns)
        best = loop;
    }
  if (best == NULL || (best->conns > 0 && loops->len < max_loops ()))
    {
      loop = g_new0 (NfltrDataConnLoop, 1);
      loop->context = g_main_context_new ();
      thread = g_thread_try_new ("nfltr-data-loop", loop_main, loop, error);
      if (thread != NULL)
        {
          g_thread_unref (thread);
          g_ptr_array_add (loops, loop);
          best = loop;
        }
      else
        {
          g_main_context_unref (loop->context);
          g_free (loop);
          if (best == NULL)
            {
              g_mutex_unlock (&loops_lock);
              return NULL;
            }
          g_clear_error (error);  /* the running loops take it */
        }
    }
  best->conns++;
  best->idle_since = 0;
  g_mutex_unlock (&loops_lock);
  return best;
}

void
_nfltr_data_conn_loop_leave (NfltrDataConnLoop *loop)
{
  gboolean idle;

  g_mutex_lock (&loops_lock);
  g_assert (loop->conns > 0);
  idle = --loop->conns == 0;
  if (idle)
    loop->idle_since = g_get_monotonic_time ();
  g_mutex_unlock (&loops_lock);
  if (idle)
    {
      /* Not g_timeout_source_new_seconds(): it may fire up to a second early, the check in
       * loop_main() would find the loop not idle long enough, and no timer would be left to
       * look again. A millisecond timeout never fires before its time. */
      GSource *timer = g_timeout_source_new (IDLE_S * 1000);

      g_source_set_callback (timer, wake_cb, NULL, NULL);
      g_source_attach (timer, loop->context);
      g_source_unref (timer);
    }
}

guint
nfltr_data_conn_get_loops (void)
{
  guint n;

  g_mutex_lock (&loops_lock);
  n = loops != NULL ? loops->len : 0;
  g_mutex_unlock (&loops_lock);
  return n;
}

GMainContext *
_nfltr_data_conn_loop_get_context (NfltrDataConnLoop *loop)
{
  return loop->context;
}

void
_nfltr_data_conn_loop_invoke (NfltrDataConnLoop *loop, GSourceFunc func, gpointer data)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, loop->context);
  g_source_unref (source);
}

/* ---- helper threads ---- */

typedef struct {
  GFunc func;
  gpointer data;
} Job;

static GMutex helpers_lock;
static GCond helpers_cond;
static GQueue helpers_jobs = G_QUEUE_INIT; /* Job*, under the lock */
static guint helpers_idle;                 /* threads waiting for a job, under the lock */
static guint helpers_alive;                /* helper threads, under the lock */

static gpointer
helper_main (gpointer data)
{
  Job *job = data;

  while (job != NULL)
    {
      gint64 deadline;

      job->func (job->data, NULL);
      g_free (job);

      g_mutex_lock (&helpers_lock);
      helpers_idle++;
      deadline = g_get_monotonic_time () + IDLE_S * G_TIME_SPAN_SECOND;
      while (g_queue_is_empty (&helpers_jobs))
        if (!g_cond_wait_until (&helpers_cond, &helpers_lock, deadline))
          break;
      /* A job queued while we timed out is still ours. */
      job = g_queue_pop_head (&helpers_jobs);
      helpers_idle--;
      if (job == NULL)
        helpers_alive--;
      g_mutex_unlock (&helpers_lock);
    }
  return NULL;
}

void
_nfltr_data_conn_blocking_run (GFunc func, gpointer data)
{
  g_autoptr(GError) error = NULL;
  Job *job = g_new (Job, 1);
  GThread *thread;

  job->func = func;
  job->data = data;

  g_mutex_lock (&helpers_lock);
  /* Queued when an idle helper will take it, or when no other helper may start (the
   * running ones take it in turn). */
  if (helpers_idle > helpers_jobs.length || helpers_alive >= MAX_HELPERS)
    {
      g_queue_push_tail (&helpers_jobs, job);
      g_cond_signal (&helpers_cond);
      g_mutex_unlock (&helpers_lock);
      return;
    }
  helpers_alive++;
  g_mutex_unlock (&helpers_lock);

  thread = g_thread_try_new ("nfltr-data-helper", helper_main, job, &error);
  if (thread != NULL)
    {
      g_thread_unref (thread);
      return;
    }
  g_mutex_lock (&helpers_lock);
  helpers_alive--;
  if (helpers_alive > 0)
    {
      /* A running helper will take it. */
      g_queue_push_tail (&helpers_jobs, job);
      g_cond_signal (&helpers_cond);
      g_mutex_unlock (&helpers_lock);
      return;
    }
  g_mutex_unlock (&helpers_lock);
  /* No thread at all: run it here rather than lose the connection; it blocks the caller
   * for at most the job's own deadline. */
  g_warning ("cannot start a data-path helper thread: %s", error->message);
  func (data, NULL);
  g_free (job);
}
