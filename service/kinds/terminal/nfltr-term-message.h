/* nfltr-term-message.h — the messages a page sends over its WebSocket (terminal, ai, tail,
 * watch), and the transcript's ANSI stripper.
 *
 * Page → agent, one WebSocket message each (text or binary), the first byte says what:
 *   "i" DATA        keystrokes or pasted text for the PTY (any bytes; a writer page only)
 *   "r" COLS "," ROWS   the page's terminal size, decimal, 1…MAX each ("r120,40")
 *   "a" COUNT       flow control: the page has processed COUNT bytes of output sent over
 *                   this connection (decimal, never decreasing, never more than was sent)
 * Agent → page: binary messages are terminal output; text messages are JSON objects with a
 * "t" member (hello, exit, skipped, …). See nfltr-term-session.h.
 *
 * Everything here is pure: no I/O, no state; fuzz/fuzz-term-message.c feeds it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The biggest message a page may send: a paste of 64 KiB. Bigger messages close the
 * connection (RFC 6455 §7.4.1, 1009 "message too big"). */
#define NFLTR_TERM_MESSAGE_MAX (64 * 1024)
/* xterm.js takes any size; these are more than any screen shows and keep TIOCSWINSZ sane. */
#define NFLTR_TERM_MAX_COLS 1000
#define NFLTR_TERM_MAX_ROWS 500

typedef enum {
  NFLTR_TERM_MESSAGE_INPUT,
  NFLTR_TERM_MESSAGE_RESIZE,
  NFLTR_TERM_MESSAGE_ACK,
} NfltrTermMessageType;

typedef struct {
  NfltrTermMessageType type;
  const guint8 *data;  /* INPUT: points into the message */
  gsize len;
  guint cols, rows;    /* RESIZE */
  guint64 count;       /* ACK */
} NfltrTermMessage;

/* FALSE with a message for the log when the page sent something else. */
gboolean nfltr_term_message_parse (const guint8      *data,
                                   gsize              len,
                                   NfltrTermMessage  *message,
                                   GError           **error);

/* The terminal output as plain text: escape sequences (CSI, OSC, DCS, two-byte ESC) and
 * control characters other than newline and tab removed, "\r\n" made "\n". State carries
 * across calls so a sequence split between two reads is still removed; start it at 0. */
void     nfltr_term_strip_ansi    (const guint8      *data,
                                   gsize              len,
                                   guint             *state,
                                   GByteArray        *out);

G_END_DECLS
