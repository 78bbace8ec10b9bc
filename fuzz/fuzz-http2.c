/* fuzz-http2.c — the agent's HTTP/2 proxy for http tunnels (service/kinds/http): the
 * visitor's bytes through the nghttp2 server session and our request checks, and the
 * HTTP/1.1 response reader that translates a local server's answer into HTTP/2.
 *
 * An input is up to two streams split by SEP: the visitor's bytes (fed in pieces whose size
 * the first byte picks), then a local HTTP/1.1 server's answer to a GET on stream 1. The
 * proxy has no local server (NFLTR_HTTP2_ORIGIN_NONE): every request it lets through is
 * answered 502, so nothing here opens a socket. Whatever comes in, the proxy must answer
 * with well-formed HTTP/2 — checked by reading its output back with an nghttp2 client. */
#include "nfltr-http2-private.h"

#include <stdint.h>
#include <string.h>

#define SEP "\n--nfltr-response--\n"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A client's preface, SETTINGS and "GET /" on stream 1 for app.nfltr.localhost: the
 * stream whose answer the second part is. The same client reads the proxy's output back. */
static nghttp2_session *
client_get (GByteArray *out)
{
  nghttp2_session_callbacks *cbs;
  nghttp2_session *client;
  const nghttp2_nv nv[] = {
#define NV(n, v) { (uint8_t *) n, (uint8_t *) v, sizeof n - 1, sizeof v - 1, NGHTTP2_NV_FLAG_NONE }
    NV (":method", "GET"), NV (":scheme", "https"), NV (":path", "/"),
    NV (":authority", "app.nfltr.localhost"),
#undef NV
  };
  const uint8_t *bytes;
  ssize_t n;

  nghttp2_session_callbacks_new (&cbs);
  nghttp2_session_client_new (&client, cbs, NULL);
  nghttp2_session_callbacks_del (cbs);
  nghttp2_submit_settings (client, NGHTTP2_FLAG_NONE, NULL, 0);
  nghttp2_submit_request (client, NULL, nv, G_N_ELEMENTS (nv), NULL, NULL);
  while ((n = nghttp2_session_mem_send (client, &bytes)) > 0)
    g_byte_array_append (out, bytes, n);
  return client;
}

static void
run_visitor (const uint8_t *data, size_t size)
{
  g_autoptr(NfltrHttp2Proxy) proxy = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  gsize step;

  if (size == 0)
    return;
  step = 1 + data[0] % 64;
  data++;
  size--;
  proxy = nfltr_http2_proxy_new ("app.nfltr.localhost", "192.0.2.7", NULL, 0,
                                 NFLTR_HTTP2_ORIGIN_NONE, FALSE, 0);
  /* --basic-auth on one step parity: the authorization field is outside input too. */
  if (step % 2 == 1)
    nfltr_http2_proxy_set_basic_auth (proxy, "alice:s3cret");
  for (gsize off = 0; off < size; off += step)
    {
      gboolean more = nfltr_http2_proxy_feed (proxy, data + off, MIN (step, size - off));

      nfltr_http2_proxy_take_output (proxy, out);
      if (!more)
        break;
    }
}

static void
run_response (const uint8_t *data, size_t size)
{
  g_autoptr(NfltrHttp2Proxy) proxy = nfltr_http2_proxy_new ("app.nfltr.localhost", "192.0.2.7",
                                                            NULL, 0, NFLTR_HTTP2_ORIGIN_NONE, FALSE, 0);
  g_autoptr(GByteArray) request = g_byte_array_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();
  nghttp2_session *client = client_get (request);
  Http2Stream *s;

  /* Straight into the session, so the request waits in the queue instead of being answered
   * 502: the fuzzer's bytes are its answer. */
  g_assert_cmpint (nghttp2_session_mem_recv (proxy->server, request->data, request->len), ==,
                   (ssize_t) request->len);
  s = g_queue_pop_head (&proxy->pending);
  g_assert_nonnull (s);
  s->queued = FALSE;
  s->h1_state = H1_RESP_HEAD;
  for (gsize off = 0; off < size; off += 7)
    if (!_nfltr_http2_h1_recv (s, data + off, MIN (7, size - off)))
      break;
  if (g_hash_table_contains (proxy->streams, GINT_TO_POINTER (1)))
    _nfltr_http2_h1_recv (s, NULL, 0);
  nfltr_http2_proxy_take_output (proxy, out);
  /* Whatever the local server said, the visitor gets well-formed HTTP/2. */
  g_assert_cmpint (nghttp2_session_mem_recv (client, out->data, out->len), ==, (ssize_t) out->len);
  g_assert_true (nghttp2_session_want_read (client));
  nghttp2_session_del (client);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *sep = memmem (data, size, SEP, strlen (SEP));

  if (sep == NULL)
    run_visitor (data, size);
  else
    {
      run_visitor (data, sep - data);
      run_response (sep + strlen (SEP), size - (sep - data) - strlen (SEP));
    }
  return 0;
}
