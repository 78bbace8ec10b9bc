/* nfltr-term-message.c — the page's WebSocket messages, and the transcript's ANSI stripper */
#define G_LOG_DOMAIN "nfltr-terminal"

#include "nfltr-term-message.h"

#include <string.h>

#include "nfltr-error.h"

/* A decimal number without sign, leading zeros or spaces, at most max; FALSE otherwise. */
static gboolean
parse_decimal (const guint8 *p, gsize len, guint64 max, guint64 *value)
{
  guint64 v = 0;

  if (len == 0 || len > 20 || (len > 1 && p[0] == '0'))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (p[i] < '0' || p[i] > '9')
        return FALSE;
      if (v > (max - (p[i] - '0')) / 10)
        return FALSE;
      v = v * 10 + (p[i] - '0');
    }
  *value = v;
  return TRUE;
}

gboolean
nfltr_term_message_parse (const guint8 *data, gsize len, NfltrTermMessage *message, GError **error)
{
  const guint8 *comma;
  guint64 cols, rows;

  memset (message, 0, sizeof *message);
  if (len == 0)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "empty message");
      return FALSE;
    }
  if (len > NFLTR_TERM_MESSAGE_MAX + 1)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL,
                   "message of %" G_GSIZE_FORMAT " bytes (at most %u)", len, NFLTR_TERM_MESSAGE_MAX + 1);
      return FALSE;
    }
  switch (data[0])
    {
      case 'i':
        message->type = NFLTR_TERM_MESSAGE_INPUT;
        message->data = data + 1;
        message->len = len - 1;
        return TRUE;

      case 'r':
        comma = memchr (data + 1, ',', len - 1);
        if (comma == NULL || !parse_decimal (data + 1, comma - data - 1, NFLTR_TERM_MAX_COLS, &cols) ||
            !parse_decimal (comma + 1, data + len - comma - 1, NFLTR_TERM_MAX_ROWS, &rows) || cols == 0 ||
            rows == 0)
          {
            g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL,
                         "resize is “rCOLS,ROWS” with 1–%u columns and 1–%u rows", NFLTR_TERM_MAX_COLS,
                         NFLTR_TERM_MAX_ROWS);
            return FALSE;
          }
        message->type = NFLTR_TERM_MESSAGE_RESIZE;
        message->cols = cols;
        message->rows = rows;
        return TRUE;

      case 'a':
        if (!parse_decimal (data + 1, len - 1, G_MAXUINT64, &message->count))
          {
            g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL,
                                 "ack is “aCOUNT”, a decimal byte count");
            return FALSE;
          }
        message->type = NFLTR_TERM_MESSAGE_ACK;
        return TRUE;

      default:
        g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "unknown message type 0x%02x", data[0]);
        return FALSE;
    }
}

/* The stripper's states (ECMA-48 §5.3–5.6: CSI ends with a byte 0x40–0x7E; OSC, DCS, SOS,
 * PM and APC are strings ended by ST, ESC \, or BEL for OSC as xterm accepts). */
enum {
  STRIP_GROUND,
  STRIP_ESC,
  STRIP_CSI,
  STRIP_STRING,
  STRIP_STRING_ESC,
  STRIP_CR,
  STRIP_ESC_INTERMEDIATE,
};

void
nfltr_term_strip_ansi (const guint8 *data, gsize len, guint *state, GByteArray *out)
{
  guint s = *state;

  for (gsize i = 0; i < len; i++)
    {
      guint8 c = data[i];

      switch (s)
        {
          case STRIP_CR:
            if (c == '\r')
              break; /* "\r\r\n" is what a PTY makes of a program's "\r\n" */
            s = STRIP_GROUND;
            if (c != '\n')
              {
                /* A lone CR (a progress bar redrawing its line): the text goes on a line. */
                g_byte_array_append (out, (const guint8 *) "\n", 1);
              }
            G_GNUC_FALLTHROUGH;
          case STRIP_GROUND:
            if (c == 0x1b)
              s = STRIP_ESC;
            else if (c == '\r')
              s = STRIP_CR;
            else if (c == 0x9b) /* C1 CSI is not used by UTF-8 terminals: 0x9b is a continuation byte */
              g_byte_array_append (out, &c, 1);
            else if (c == '\n' || c == '\t' || c >= 0x20)
              {
                if (c != 0x7f)
                  g_byte_array_append (out, &c, 1);
              }
            break;
          case STRIP_ESC:
            if (c == '[')
              s = STRIP_CSI;
            else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_')
              s = STRIP_STRING;
            else if (c >= 0x20 && c <= 0x2f)
              s = STRIP_ESC_INTERMEDIATE; /* ESC ( B and the like: one more byte */
            else
              s = STRIP_GROUND;
            break;
          case STRIP_ESC_INTERMEDIATE:
            if (c < 0x20 || c > 0x2f)
              s = STRIP_GROUND;
            break;
          case STRIP_CSI:
            if (c >= 0x40 && c <= 0x7e)
              s = STRIP_GROUND;
            else if (c == 0x1b)
              s = STRIP_ESC;
            break;
          case STRIP_STRING:
            if (c == 0x07)
              s = STRIP_GROUND;
            else if (c == 0x1b)
              s = STRIP_STRING_ESC;
            break;
          case STRIP_STRING_ESC: s = c == '\\' ? STRIP_GROUND : STRIP_STRING; break;
          default: s = STRIP_GROUND; break;
        }
    }
  *state = s;
}
