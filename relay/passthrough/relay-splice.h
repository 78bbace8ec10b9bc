/* relay-splice.h — moves bytes between two sockets with splice(2) through a pipe per
 * direction, without copying them to user space (docs/protocol.md §5).
 *
 * Each direction runs READ (socket → pipe) / WRITE (pipe → socket) until its source reports
 * end of stream, then shuts down the write side of its destination (half-close passes
 * through). When both directions are done, or on any error, both sockets are closed, the
 * pipes go back to the pool (or are closed) and `done` runs once. A failure to get a pipe
 * (EMFILE) ends the splice like any other error. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _RelaySplice RelaySplice;

typedef void (*RelaySpliceDoneFunc) (RelaySplice *splice,
                                     guint64      a_to_b,
                                     guint64      b_to_a,
                                     const char  *error,   /* NULL on a clean end */
                                     gpointer     user_data);

/* Starts at once. a_prefix is written to b before anything read from a (the ClientHello the
 * relay already read); it may be NULL. The splice keeps a and b open until it ends. */
RelaySplice *relay_splice_start (GSocketConnection   *a,
                                 GSocketConnection   *b,
                                 GBytes              *a_prefix,
                                 RelaySpliceDoneFunc  done,
                                 gpointer             user_data);

/* Called when no pipe can be had for lack of descriptors; returns TRUE if it freed one (the
 * relay drops its oldest not-yet-routed connection). NULL to unset. */
void         relay_splice_set_fd_relief (gboolean (*relief) (gpointer user_data),
                                         gpointer  user_data);

/* Closes the spare pipes kept for reuse (relay shutdown). Spares are only ever kept while
 * splices run (two per running splice, at most 64), so an idle relay holds none anyway. */
void         relay_splice_pool_trim (void);
/* Creates the epoll set every splice's sockets join (one descriptor, kept for the life of the
 * process) on the default main context. The server calls it at start so the descriptor is
 * there from the beginning, not created under the first connection. */
void         relay_splice_init (void);

/* Ends the splice now as if it had failed with error: done runs (with the bytes so far), then
 * both sockets are closed. */
void         relay_splice_stop  (RelaySplice *splice,
                                 const char  *error);

/* Stops and closes everything without calling done (relay shutdown). */
void         relay_splice_abort (RelaySplice *splice);

G_END_DECLS
