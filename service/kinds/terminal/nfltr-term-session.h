/* nfltr-term-session.h — one program on a pseudo-terminal, and the pages attached to it.
 *
 * The session outlives its pages: a page that reloads or loses its network reattaches and is
 * sent the scrollback the ring still holds (the newest NFLTR_TERM_REPLAY_MAX bytes), so the
 * program never notices. Pages are WebSocket connections (nfltr-term-message.h has what they
 * send); a writer's keystrokes and size reach the PTY, a viewer's are ignored.
 *
 * Nothing is buffered without a bound: each page may have at most NFLTR_TERM_WINDOW bytes of
 * output sent and not yet acknowledged ("aCOUNT"); a page that stops acknowledging (a
 * suspended tab, a stalled network) is simply not sent more. While every writer page is
 * full, the PTY is not read either, so the program blocks on its output as it would in a slow
 * terminal; with no writer attached the program runs on and the ring keeps its newest bytes.
 * Input the program does not read is held up to NFLTR_TERM_INPUT_MAX, then the page that
 * floods is disconnected.
 *
 * Agent → page text messages (JSON, member "t"):
 *   {"t":"hello","writer":true|false,"title":"…"}   first, on every attach
 *   {"t":"skipped","bytes":N}   N bytes of output fell out of the ring before this page got them
 *   {"t":"exit","status":N,"signal":S}   the program ended (status or signal, the other null)
 *
 * All sources live on the thread-default main context of the thread that created the
 * session; call it from that thread only. */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Unacknowledged output per page: enough for a full screen redraw many times over. */
#define NFLTR_TERM_WINDOW     (256 * 1024)
/* Scrollback a reattaching page is sent (xterm.js keeps 1000 lines by default). */
#define NFLTR_TERM_REPLAY_MAX (512 * 1024)
/* Keystrokes and pastes the program has not read yet. */
#define NFLTR_TERM_INPUT_MAX  (256 * 1024)

#define NFLTR_TYPE_TERM_SESSION (nfltr_term_session_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTermSession, nfltr_term_session, NFLTR, TERM_SESSION, GObject)

/* Starts argv (argv[0] a path or a name found in PATH) on a new PTY in cwd (NULL: $HOME),
 * with TERM=xterm-256color. ring_size bounds the output kept: the replay and the
 * transcript. */
NfltrTermSession *nfltr_term_session_new            (const char * const       *argv,
                                                     const char               *cwd,
                                                     gsize                     ring_size,
                                                     GError                  **error);
/* Takes a reference on ws; the page is served until it closes or the session is disposed. */
void              nfltr_term_session_attach         (NfltrTermSession         *self,
                                                     SoupWebsocketConnection  *ws,
                                                     gboolean                  writer);
gboolean          nfltr_term_session_is_running     (NfltrTermSession         *self);
guint             nfltr_term_session_get_n_pages    (NfltrTermSession         *self);
GPid              nfltr_term_session_get_pid        (NfltrTermSession         *self);
/* The output the ring still holds, as the terminal got it (strip = FALSE) or as plain text. */
GBytes           *nfltr_term_session_get_transcript (NfltrTermSession         *self,
                                                     gboolean                  strip);
/* For tests: TRUE while the PTY is not being read because every writer page is full. */
gboolean          nfltr_term_session_is_throttled   (NfltrTermSession         *self);

G_END_DECLS
