/* nfltr-watch-runner.h — runs a command again and again, never two at once.
 *
 * The command is an argv, run without a shell (a user who wants one passes `sh -c …`), its
 * stdin /dev/null, stdout and stderr together. A run starts interval after the previous one
 * started, or as soon as it ended when it took longer: runs never overlap. A run that exceeds
 * the timeout is killed (SIGTERM, then SIGKILL). Output past max_output is read and dropped,
 * and the run is marked truncated.
 *
 * Sources live on the thread-default context of the thread that created the runner. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  guint64  seq;          /* 1, 2, … */
  gint64   started_us;   /* wall clock, µs since the epoch */
  gint64   duration_us;
  int      exit_status;  /* -1 when killed by a signal */
  int      signal;       /* 0 unless killed */
  gboolean timed_out;
  gboolean truncated;
  char    *output;       /* valid UTF-8 */
} NfltrWatchRun;

void nfltr_watch_run_free (NfltrWatchRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrWatchRun, nfltr_watch_run_free)

#define NFLTR_TYPE_WATCH_RUNNER (nfltr_watch_runner_get_type ())
G_DECLARE_FINAL_TYPE (NfltrWatchRunner, nfltr_watch_runner, NFLTR, WATCH_RUNNER, GObject)

/* Signals: "started" (guint64 seq), "finished" (NfltrWatchRun *run, owned by the runner:
 * copy what must outlive the handler). The first run starts at once. */
NfltrWatchRunner *nfltr_watch_runner_new (const char * const *argv,
                                          const char         *cwd,
                                          guint               interval_ms,
                                          guint               timeout_ms,
                                          gsize               max_output);
gboolean          nfltr_watch_runner_is_running (NfltrWatchRunner *self);

G_END_DECLS
