/* fuzz-http-rewrite.c — the agent's HTTP/1.1 request-stream rewriter (service/tunnels).
 * Differential: feeding the input whole and feeding it in input-chosen pieces must give the
 * same verdict and the same bytes to the local server. */
#include "nfltr-http-rewrite.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static NfltrHttpRewriteResult
run (const uint8_t *data, size_t size, gsize step, GByteArray *out, guint *status)
{
  g_autoptr(NfltrHttpRewriter) rw = nfltr_http_rewriter_new ("app.nfltr.localhost", "192.0.2.7");
  NfltrHttpRewriteResult r = NFLTR_HTTP_REWRITE_CONTINUE;

  for (gsize off = 0; off < size; off += step)
    {
      gsize n = MIN (step, size - off);
      r = nfltr_http_rewriter_feed (rw, data + off, n, out);
      if (r == NFLTR_HTTP_REWRITE_REJECT)
        {
          GBytes *resp = nfltr_http_rewriter_get_response (rw);  /* borrowed */
          g_assert (resp != NULL && g_bytes_get_size (resp) > 0);
          g_assert (nfltr_http_rewriter_get_reason (rw) != NULL);
          break;
        }
    }
  *status = r == NFLTR_HTTP_REWRITE_REJECT ? nfltr_http_rewriter_get_status (rw) : 0;
  return r;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GByteArray) whole = g_byte_array_new ();
  g_autoptr(GByteArray) pieces = g_byte_array_new ();
  guint s1, s2;
  gsize step;
  NfltrHttpRewriteResult r1, r2;

  if (size > 256 * 1024)
    return 0;
  step = size > 0 ? (data[size - 1] % 17) + 1 : 1;
  r1 = run (data, size, size > 0 ? size : 1, whole, &s1);
  r2 = run (data, size, step, pieces, &s2);
  g_assert (r1 == r2);
  g_assert (s1 == s2);
  g_assert (whole->len == pieces->len);
  g_assert (whole->len == 0 || memcmp (whole->data, pieces->data, whole->len) == 0);
  return 0;
}
