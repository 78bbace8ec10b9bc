/* fuzz-term-message.c — what a terminal, tail or watch page sends over its WebSocket
 * (service/kinds/terminal/nfltr-term-message.c), and the transcript's ANSI stripper fed the
 * same bytes as terminal output. A parsed message stays inside what it was given and within
 * the documented bounds; the stripper never emits ESC and never grows its input. */
#include "nfltr-term-message.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  NfltrTermMessage message;
  GByteArray *out = g_byte_array_new ();
  guint state = 0;
  g_autoptr (GError) error = NULL;

  if (nfltr_term_message_parse (data, size, &message, &error))
    {
      g_assert_null (error);
      switch (message.type)
        {
          case NFLTR_TERM_MESSAGE_INPUT:
            g_assert (message.data == data + 1 && message.len == size - 1);
            break;
          case NFLTR_TERM_MESSAGE_RESIZE:
            g_assert (message.cols >= 1 && message.cols <= NFLTR_TERM_MAX_COLS);
            g_assert (message.rows >= 1 && message.rows <= NFLTR_TERM_MAX_ROWS);
            break;
          case NFLTR_TERM_MESSAGE_ACK: break;
          default: g_assert_not_reached ();
        }
    }
  else
    g_assert_nonnull (error);

  /* Whole, then in two pieces: the state carries a sequence across the split. */
  nfltr_term_strip_ansi (data, size, &state, out);
  g_assert (memchr (out->data, 0x1b, out->len) == NULL);
  g_assert (out->len <= size + 1);
  if (size > 1)
    {
      GByteArray *split = g_byte_array_new ();
      guint s2 = 0;

      nfltr_term_strip_ansi (data, size / 2, &s2, split);
      nfltr_term_strip_ansi (data + size / 2, size - size / 2, &s2, split);
      g_assert_cmpmem (split->data, split->len, out->data, out->len);
      g_byte_array_unref (split);
    }
  g_byte_array_unref (out);
  return 0;
}
