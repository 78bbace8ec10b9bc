/* nfltr-tail-follower.h — follows one file as `tail -F` does: starts with its last lines,
 * then reads what is appended; notices rotation (the name now names another file: the old one
 * is read to its end, then the new one from its start), truncation (read again from the
 * start) and removal (waits for the file to come back).
 *
 * Lines are delivered as valid UTF-8 without control characters except tab and ESC (ANSI
 * colours are the page's to render): invalid bytes and other controls become U+FFFD, so binary
 * files are shown safely. A line longer than NFLTR_TAIL_MAX_LINE is cut there (truncated =
 * TRUE) and the rest of it skipped; a trailing "\r" is dropped.
 *
 * Changes are seen through a GFileMonitor and a once-a-second look (monitors miss some
 * rotations and network file systems). Sources live on the thread-default context of the
 * thread that created the follower. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NFLTR_TAIL_MAX_LINE (64 * 1024)

#define NFLTR_TYPE_TAIL_FOLLOWER (nfltr_tail_follower_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTailFollower, nfltr_tail_follower, NFLTR, TAIL_FOLLOWER, GObject)

/* Signals:
 *   "line"   (const char *text, gboolean truncated)
 *   "notice" (const char *message)    rotated, truncated, removed, back */
NfltrTailFollower *nfltr_tail_follower_new   (const char        *path,
                                              guint              initial_lines,
                                              GError           **error);
/* Looks at the file now (what the timer and the monitor do). The first call, made once the
 * signals are connected, delivers the initial lines. */
void               nfltr_tail_follower_check (NfltrTailFollower *self);

/* For tests and the fuzzer: bytes as a line would be shown. */
char              *nfltr_tail_sanitize_line  (const char        *data,
                                              gsize              len);

G_END_DECLS
