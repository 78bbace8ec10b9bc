/* nfltr-data-conn-workers.c — worker threads for the data connections, reused.
 *
 * Still one thread per running connection (every connection gets a thread at once, so a
 * silent client never holds up another one; issue 8 replaces the model), but a thread whose
 * connection has ended waits WORKER_IDLE_S for the next one before it exits, instead of
 * exiting at once. Creating a thread per connection cost memory that was never given back:
 * GnuTLS 3.7 (lib/random.c) allocates a random-generator context for every thread that
 * calls gnutls_rnd() — every TLS handshake does — and keeps it on a global list until
 * gnutls_global_deinit(), so each thread that ever ran a connection left ~200 bytes behind
 * for the life of the process; and each new thread is handed a malloc arena again. With
 * reuse, the threads ever created follow the peak number of connections at once, not their
 * total (issue 17; docs/benchmarks.md "Agent memory under sustained load"). Idle workers
 * still exit, so after load the service is back to its idle thread count.
 *
 * When the last worker exits, the data path is idle, and the memory its connections freed
 * is given back with malloc_trim(). After the two changes above (per-connection buffers
 * mapped of their own, threads reused) what remains is allocator caching, not growth: the
 * GnuTLS sessions and rewriters of the peak number of connections at once, freed, spread
 * over up to 8 × cores malloc arenas, each giving memory back only from its top — measured
 * 26-31 MiB after 550 connections at once (docs/benchmarks.md). malloc_trim() releases the
 * free pages inside every arena too. Once per transition to idle: it walks the arenas, far
 * too slow for every connection, and under load there is nothing worth trimming. */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-data-conn-private.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* Long enough to carry a worker across the gaps between bursts of connections (a browser
 * opening a page, a client reconnecting), short enough that an idle service holds none. */
#define WORKER_IDLE_S 10

typedef struct {
  GFunc func;
  gpointer data;
} Job;

/* Statics of these types need no g_mutex_init()/g_cond_init(). */
static GMutex workers_lock;
static GCond workers_cond;
static GQueue workers_jobs = G_QUEUE_INIT; /* Job*, under the lock */
static guint workers_idle;                 /* threads waiting for a job, under the lock */
static guint workers_alive;                /* worker threads, under the lock */

static gpointer
worker_main (gpointer data)
{
  Job *job = data;
  gboolean last = FALSE;

  while (job != NULL)
    {
      gint64 deadline;

      job->func (job->data, NULL);
      g_free (job);

      g_mutex_lock (&workers_lock);
      workers_idle++;
      deadline = g_get_monotonic_time () + WORKER_IDLE_S * G_TIME_SPAN_SECOND;
      while (g_queue_is_empty (&workers_jobs))
        if (!g_cond_wait_until (&workers_cond, &workers_lock, deadline))
          break;
      /* A job queued while we timed out is still ours: spawn counted us as idle. */
      job = g_queue_pop_head (&workers_jobs);
      workers_idle--;
      last = job == NULL && --workers_alive == 0;
      g_mutex_unlock (&workers_lock);
    }
#ifdef __GLIBC__
  if (last)
    malloc_trim (0);
#endif
  return NULL;
}

/* Runs func (data, NULL) on a worker thread: an idle one if there is one, else a new one.
 * FALSE (and nothing run) when no thread can be started. */
gboolean
_nfltr_data_conn_workers_run (GFunc func, gpointer data, GError **error)
{
  Job *job = g_new (Job, 1);
  GThread *thread;

  job->func = func;
  job->data = data;

  g_mutex_lock (&workers_lock);
  /* Each queued job has its own idle worker, so a job never waits for a busy one. */
  if (workers_idle > workers_jobs.length)
    {
      g_queue_push_tail (&workers_jobs, job);
      g_cond_signal (&workers_cond);
      g_mutex_unlock (&workers_lock);
      return TRUE;
    }
  workers_alive++;
  g_mutex_unlock (&workers_lock);

  thread = g_thread_try_new ("nfltr-data-conn", worker_main, job, error);
  if (thread == NULL)
    {
      g_mutex_lock (&workers_lock);
      workers_alive--;
      g_mutex_unlock (&workers_lock);
      g_free (job);
      return FALSE;
    }
  g_thread_unref (thread);
  return TRUE;
}
