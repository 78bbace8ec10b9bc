/* fuzz-clienthello.c — the relay's ClientHello/SNI reader (docs/protocol.md §2), fed the way
 * the relay feeds it: the incremental reader fed the stream in pieces, as TCP segments arrive,
 * answers exactly what one call over the whole input answers; and growing prefixes never yield
 * a different verdict than NEED_MORE before the whole message is there. */
#include "nfltr-clienthello.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *sni_full = NULL;
  g_autoptr(GError) error = NULL;
  NfltrHelloStatus full;
  gsize consumed = 0;
  gsize step;

  full = nfltr_clienthello_parse (data, size, NFLTR_HELLO_DEFAULT_MAX, &sni_full, &consumed, &error);
  if (full == NFLTR_HELLO_OK)
    {
      g_assert (consumed <= size);
      if (sni_full != NULL)
        g_assert (strlen (sni_full) > 0);
    }
  else if (full != NFLTR_HELLO_NEED_MORE)
    g_assert (error != NULL);

  /* Replay prefixes in steps chosen by the input, as TCP segments would arrive. */
  step = size > 0 ? (data[0] % 64) + 1 : 1;
  {
    g_autoptr(NfltrHelloReader) reader = nfltr_hello_reader_new (NFLTR_HELLO_DEFAULT_MAX);
    g_autofree char *sni = NULL;
    g_autoptr(GError) e = NULL;
    NfltrHelloStatus st = NFLTR_HELLO_NEED_MORE;
    gsize got = 0;

    for (gsize n = 0; n < size && st == NFLTR_HELLO_NEED_MORE; n += step)
      st = nfltr_hello_reader_feed (reader, data + n, MIN (step, size - n), &sni, &got, &e);
    g_assert (st == full);
    g_assert (g_strcmp0 (sni, sni_full) == 0);
    if (st == NFLTR_HELLO_OK)
      g_assert (got == consumed);
    g_assert (nfltr_hello_reader_get_work (reader) <= 2 * (guint64) size);
  }
  for (gsize n = 0; n < size; n += step)
    {
      g_autofree char *sni = NULL;
      g_autoptr(GError) e = NULL;
      NfltrHelloStatus st = nfltr_clienthello_parse (data, n, NFLTR_HELLO_DEFAULT_MAX, &sni, NULL, &e);

      if (st == NFLTR_HELLO_OK)
        {
          /* Once complete, more bytes cannot change the answer. */
          g_assert (full == NFLTR_HELLO_OK);
          g_assert (g_strcmp0 (sni, sni_full) == 0);
          break;
        }
      if (st != NFLTR_HELLO_NEED_MORE)
        {
          g_assert (st == full);
          break;
        }
    }
  return 0;
}
