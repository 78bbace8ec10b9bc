/* nfltr-watch-runner.c — runs a command again and again, never two at once */
#define G_LOG_DOMAIN "nfltr-watch"

#include "nfltr-watch-runner.h"

#include <signal.h>
#include <sys/wait.h>
#include <string.h>

#define READ_CHUNK (16 * 1024)
#define KILL_GRACE_MS 2000

struct _NfltrWatchRunner {
  GObject parent_instance;

  char **argv;
  char *cwd;
  guint interval_ms;
  guint timeout_ms;
  gsize max_output;
  GMainContext *context;
  GCancellable *cancellable;

  guint64 seq;
  GSubprocess *proc; /* the run in progress */
  GByteArray *output;
  gboolean truncated;
  gboolean timed_out;
  gboolean read_done;
  gboolean wait_done;
  int wait_status;
  gboolean spawn_failed;
  gint64 started_us;
  gint64 started_mono;
  guint8 buf[READ_CHUNK];
  GSource *next;     /* the timer of the next run */
  GSource *deadline; /* the run's timeout */
};

enum {
  SIGNAL_STARTED,
  SIGNAL_FINISHED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NfltrWatchRunner, nfltr_watch_runner, G_TYPE_OBJECT)

void
nfltr_watch_run_free (NfltrWatchRun *run)
{
  if (run == NULL)
    return;
  g_free (run->output);
  g_free (run);
}

static void start_run (NfltrWatchRunner *self);

static void
destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static gboolean
next_cb (gpointer user_data)
{
  NfltrWatchRunner *self = user_data;

  g_clear_pointer (&self->next, g_source_unref);
  start_run (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_next (NfltrWatchRunner *self)
{
  gint64 elapsed_ms = (g_get_monotonic_time () - self->started_mono) / 1000;
  guint delay = elapsed_ms >= self->interval_ms ? 0 : self->interval_ms - elapsed_ms;

  self->next = g_timeout_source_new (delay);
  g_source_set_callback (self->next, next_cb, self, NULL);
  g_source_attach (self->next, self->context);
}

static void
finish_run (NfltrWatchRunner *self)
{
  g_autoptr(NfltrWatchRun) run = g_new0 (NfltrWatchRun, 1);

  if (!self->read_done || !self->wait_done)
    return;
  destroy_source (&self->deadline);
  run->seq = self->seq;
  run->started_us = self->started_us;
  run->duration_us = g_get_monotonic_time () - self->started_mono;
  run->timed_out = self->timed_out;
  run->truncated = self->truncated;
  if (self->spawn_failed)
    run->exit_status = 127;
  else if (WIFEXITED (self->wait_status))
    run->exit_status = WEXITSTATUS (self->wait_status);
  else
    {
      run->exit_status = -1;
      run->signal = WIFSIGNALED (self->wait_status) ? WTERMSIG (self->wait_status) : 0;
    }
  run->output = g_utf8_make_valid ((const char *) self->output->data, self->output->len);
  g_clear_object (&self->proc);
  g_byte_array_set_size (self->output, 0);
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0, run);
  schedule_next (self);
}

static void read_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
read_more (NfltrWatchRunner *self, GInputStream *in)
{
  g_input_stream_read_async (in, self->buf, sizeof self->buf, G_PRIORITY_DEFAULT, self->cancellable,
                             read_cb, self);
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  NfltrWatchRunner *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* disposed */
  self = user_data;
  if (n <= 0)
    {
      self->read_done = TRUE;
      finish_run (self);
      return;
    }
  if (self->output->len < self->max_output)
    g_byte_array_append (self->output, self->buf, MIN ((gsize) n, self->max_output - self->output->len));
  if (self->output->len >= self->max_output && n > 0)
    self->truncated = TRUE;
  /* Read on past the cap, so the command is never blocked on a full pipe. */
  read_more (self, G_INPUT_STREAM (source));
}

static void
wait_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  NfltrWatchRunner *self;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = user_data;
  self->wait_status = g_subprocess_get_status (G_SUBPROCESS (source));
  self->wait_done = TRUE;
  finish_run (self);
}

static gboolean
kill_cb (gpointer user_data)
{
  NfltrWatchRunner *self = user_data;

  g_clear_pointer (&self->deadline, g_source_unref);
  if (self->proc != NULL)
    g_subprocess_force_exit (self->proc);
  return G_SOURCE_REMOVE;
}

static gboolean
deadline_cb (gpointer user_data)
{
  NfltrWatchRunner *self = user_data;

  g_clear_pointer (&self->deadline, g_source_unref);
  if (self->proc == NULL)
    return G_SOURCE_REMOVE;
  self->timed_out = TRUE;
  g_subprocess_send_signal (self->proc, SIGTERM);
  self->deadline = g_timeout_source_new (KILL_GRACE_MS);
  g_source_set_callback (self->deadline, kill_cb, self, NULL);
  g_source_attach (self->deadline, self->context);
  return G_SOURCE_REMOVE;
}

static void
start_run (NfltrWatchRunner *self)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;

  self->seq++;
  self->truncated = FALSE;
  self->timed_out = FALSE;
  self->read_done = FALSE;
  self->wait_done = FALSE;
  self->spawn_failed = FALSE;
  self->started_us = g_get_real_time ();
  self->started_mono = g_get_monotonic_time ();
  g_signal_emit (self, signals[SIGNAL_STARTED], 0, self->seq);

  if (self->cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, self->cwd);
  self->proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) self->argv, &error);
  if (self->proc == NULL)
    {
      g_autofree char *line = g_strdup_printf ("nfltr: %s\n", error->message);

      g_byte_array_append (self->output, (const guint8 *) line, strlen (line));
      self->spawn_failed = self->read_done = self->wait_done = TRUE;
      finish_run (self);
      return;
    }
  read_more (self, g_subprocess_get_stdout_pipe (self->proc));
  g_subprocess_wait_async (self->proc, self->cancellable, wait_cb, self);
  if (self->timeout_ms > 0)
    {
      self->deadline = g_timeout_source_new (self->timeout_ms);
      g_source_set_callback (self->deadline, deadline_cb, self, NULL);
      g_source_attach (self->deadline, self->context);
    }
}

static gboolean
first_cb (gpointer user_data)
{
  NfltrWatchRunner *self = user_data;

  g_clear_pointer (&self->next, g_source_unref);
  start_run (self);
  return G_SOURCE_REMOVE;
}

NfltrWatchRunner *
nfltr_watch_runner_new (const char * const *argv,
                        const char         *cwd,
                        guint               interval_ms,
                        guint               timeout_ms,
                        gsize               max_output)
{
  NfltrWatchRunner *self = g_object_new (NFLTR_TYPE_WATCH_RUNNER, NULL);

  self->argv = g_strdupv ((char **) argv);
  self->cwd = g_strdup (cwd);
  self->interval_ms = interval_ms;
  self->timeout_ms = timeout_ms;
  self->max_output = max_output;
  /* From the loop, so the caller connects its handlers first. */
  self->next = g_idle_source_new ();
  g_source_set_callback (self->next, first_cb, self, NULL);
  g_source_attach (self->next, self->context);
  return self;
}

gboolean
nfltr_watch_runner_is_running (NfltrWatchRunner *self)
{
  return self->proc != NULL;
}

static void
nfltr_watch_runner_dispose (GObject *object)
{
  NfltrWatchRunner *self = NFLTR_WATCH_RUNNER (object);

  g_cancellable_cancel (self->cancellable);
  destroy_source (&self->next);
  destroy_source (&self->deadline);
  if (self->proc != NULL)
    {
      /* GSubprocess reaps it (GLib's worker) once it ends. */
      g_subprocess_force_exit (self->proc);
      g_clear_object (&self->proc);
    }
  G_OBJECT_CLASS (nfltr_watch_runner_parent_class)->dispose (object);
}

static void
nfltr_watch_runner_finalize (GObject *object)
{
  NfltrWatchRunner *self = NFLTR_WATCH_RUNNER (object);

  g_strfreev (self->argv);
  g_free (self->cwd);
  g_byte_array_unref (self->output);
  g_object_unref (self->cancellable);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (nfltr_watch_runner_parent_class)->finalize (object);
}

static void
nfltr_watch_runner_class_init (NfltrWatchRunnerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_watch_runner_dispose;
  object_class->finalize = nfltr_watch_runner_finalize;

  signals[SIGNAL_STARTED] = g_signal_new ("started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                          NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
nfltr_watch_runner_init (NfltrWatchRunner *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
  self->output = g_byte_array_new ();
}
