/* fuzz-http-rewrite.c — the agent's HTTP/1.1 request-stream rewriter (service/tunnels).
 * Differential: feeding the input whole and feeding it in input-chosen pieces must give the
 * same verdict, the same raw/parsed state and the same bytes to the local server.
 *
 * An input is up to three streams split by SEP: client bytes, then the local server's answer
 * (nfltr_http_rewriter_feed_response()), then more client bytes — so an Upgrade answered 101
 * (raw afterwards) or 200 (still parsed) is reachable. Without SEP it is all client bytes. */
#include "nfltr-http-rewrite.h"

#include <stdint.h>
#include <string.h>

#define SEP "\n--nfltr-response--\n"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  NfltrHttpRewriteResult result;
  guint status;
  gboolean raw;
} Verdict;

/* Feeds one client stream in pieces of `step`; FALSE once rejected. */
static gboolean
feed_requests (NfltrHttpRewriter *rw, const uint8_t *data, size_t size, gsize step,
               GByteArray *out, Verdict *v)
{
  for (gsize off = 0; off < size; off += step)
    {
      gsize n = MIN (step, size - off);

      v->result = nfltr_http_rewriter_feed (rw, data + off, n, out);
      if (v->result == NFLTR_HTTP_REWRITE_REJECT)
        {
          GBytes *resp = nfltr_http_rewriter_get_response (rw);  /* borrowed */
          g_assert (resp != NULL && g_bytes_get_size (resp) > 0);
          g_assert (nfltr_http_rewriter_get_reason (rw) != NULL);
          return FALSE;
        }
    }
  return TRUE;
}

static void
run (const uint8_t * const part[3], const size_t part_len[3], gsize step, gboolean auth,
     GByteArray *out, Verdict *v)
{
  g_autoptr (NfltrHttpRewriter) rw = nfltr_http_rewriter_new ("app.nfltr.localhost", "192.0.2.7");

  /* --basic-auth alice:s3cret ("Authorization: Basic YWxpY2U6czNjcmV0") on odd-length inputs */
  if (auth)
    nfltr_http_rewriter_set_basic_auth (rw, "alice:s3cret");

  memset (v, 0, sizeof *v);
  if (feed_requests (rw, part[0], part_len[0], step, out, v))
    {
      for (gsize off = 0; off < part_len[1]; off += step)
        nfltr_http_rewriter_feed_response (rw, part[1] + off, MIN (step, part_len[1] - off));
      feed_requests (rw, part[2], part_len[2], step, out, v);
    }
  v->status = v->result == NFLTR_HTTP_REWRITE_REJECT ? nfltr_http_rewriter_get_status (rw) : 0;
  v->raw = nfltr_http_rewriter_is_raw (rw);
  /* raw and rejected exclude each other */
  g_assert (!(v->raw && v->result == NFLTR_HTTP_REWRITE_REJECT));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GByteArray) whole = g_byte_array_new ();
  g_autoptr(GByteArray) pieces = g_byte_array_new ();
  const uint8_t *part[3] = { data, NULL, NULL };
  size_t part_len[3] = { size, 0, 0 };
  Verdict v1, v2;
  gsize step;

  if (size > 256 * 1024)
    return 0;
  for (guint i = 0; i < 2; i++)
    {
      const uint8_t *sep = memmem (part[i], part_len[i], SEP, strlen (SEP));

      if (sep == NULL)
        break;
      part[i + 1] = sep + strlen (SEP);
      part_len[i + 1] = part[i] + part_len[i] - part[i + 1];
      part_len[i] = sep - part[i];
    }
  step = size > 0 ? (data[size - 1] % 17) + 1 : 1;
  run (part, part_len, size > 0 ? size : 1, size % 2 == 1, whole, &v1);
  run (part, part_len, step, size % 2 == 1, pieces, &v2);
  g_assert (v1.result == v2.result);
  g_assert (v1.status == v2.status);
  g_assert (v1.raw == v2.raw);
  g_assert (whole->len == pieces->len);
  g_assert (whole->len == 0 || memcmp (whole->data, pieces->data, whole->len) == 0);
  return 0;
}
