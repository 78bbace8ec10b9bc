/* test-http-rewrite.c — the http tunnel's request-stream rewriter: what reaches the local
 * server, and what the client is answered, for good, misdirected and malformed requests;
 * the same guarantees for HTTP/2 requests (nfltr-http2-request.h, nfltr-http2-proxy.h), and
 * the kinds' ALPN choices (tcp --alpn, http --origin-h2). */
#include "nfltr-error.h"
#include "nfltr-http-rewrite.h"
#include "nfltr-http2-proxy.h"
#include "nfltr-http2-request.h"
#include "nfltr-tunnel-kind.h"

#include <nghttp2/nghttp2.h>
#include <string.h>

#define HOST "t1.nfltr.localhost"
#define IP   "203.0.113.7"
#define XF   "X-Forwarded-For: " IP "\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: "

typedef struct {
  NfltrHttpRewriteResult result;
  GString *out;      /* what the local server would get */
  guint status;
  char *reason;
  char *response;
  guint64 requests;
  gboolean raw;
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_string_free (o->out, TRUE);
  g_free (o->reason);
  g_free (o->response);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Outcome, outcome_clear)

/* Feeds `input` in pieces cut at `cuts` (ascending offsets, terminated by -1). */
static void
run_cuts (const char *input, gsize len, const gssize *cuts, Outcome *o)
{
  g_autoptr(NfltrHttpRewriter) rw = nfltr_http_rewriter_new (HOST, IP);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  gsize start = 0;

  memset (o, 0, sizeof *o);
  o->result = NFLTR_HTTP_REWRITE_CONTINUE;
  for (gsize i = 0;; i++)
    {
      gsize end = cuts != NULL && cuts[i] >= 0 ? (gsize) cuts[i] : len;
      NfltrHttpRewriteResult r = nfltr_http_rewriter_feed (rw, (const guint8 *) input + start,
                                                           end - start, out);
      if (r == NFLTR_HTTP_REWRITE_REJECT)
        o->result = r;
      else
        g_assert_cmpint (o->result, ==, NFLTR_HTTP_REWRITE_CONTINUE);  /* reject is final */
      start = end;
      if (end == len)
        break;
    }
  o->out = g_string_new_len ((const char *) out->data, out->len);
  o->requests = nfltr_http_rewriter_get_requests (rw);
  o->raw = nfltr_http_rewriter_is_raw (rw);
  if (o->result == NFLTR_HTTP_REWRITE_REJECT)
    {
      gsize rlen;
      const char *resp = g_bytes_get_data (nfltr_http_rewriter_get_response (rw), &rlen);

      o->status = nfltr_http_rewriter_get_status (rw);
      o->reason = g_strdup (nfltr_http_rewriter_get_reason (rw));
      o->response = g_strndup (resp, rlen);
    }
}

static void
run_all (const char *input, Outcome *o)
{
  run_cuts (input, strlen (input), NULL, o);
}

static void
assert_rejected (const char *input, guint status, const char *reason_fragment)
{
  g_auto(Outcome) o;
  g_autofree char *status_line = g_strdup_printf ("HTTP/1.1 %u ", status);

  run_all (input, &o);
  if (o.result != NFLTR_HTTP_REWRITE_REJECT)
    g_error ("not rejected: %s", input);
  g_assert_cmpuint (o.status, ==, status);
  g_assert_nonnull (strstr (o.reason, reason_fragment));
  g_assert_true (g_str_has_prefix (o.response, status_line));
  g_assert_nonnull (strstr (o.response, "\r\nConnection: close\r\n"));
  g_assert_nonnull (strstr (o.response, reason_fragment));  /* the client reads why */
  g_assert_cmpuint (o.out->len, ==, 0);  /* nothing of it reached the local server */
}

static void
test_good_request (void)
{
  g_auto(Outcome) o;

  run_all ("GET /index.html?q=1 HTTP/1.1\r\nHost: " HOST "\r\nUser-Agent: curl/7.88\r\n"
           "Accept: */*\r\n\r\n", &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_cmpstr (o.out->str, ==,
                   "GET /index.html?q=1 HTTP/1.1\r\nHost: " HOST "\r\nUser-Agent: curl/7.88\r\n"
                   "Accept: */*\r\n" XF HOST "\r\n\r\n");
  g_assert_cmpuint (o.requests, ==, 1);
}

static void
test_host_port_and_case (void)
{
  g_auto(Outcome) o;

  /* The Host port is ignored, case too; X-Forwarded-Host keeps what the client wrote. */
  run_all ("GET / HTTP/1.1\r\nhost:T1.NFLTR.localhost.:8443  \r\n\r\n", &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_cmpstr (o.out->str, ==,
                   "GET / HTTP/1.1\r\nhost: T1.NFLTR.localhost.:8443\r\n" XF
                   "T1.NFLTR.localhost.:8443\r\n\r\n");
}

static void
test_misdirected (void)
{
  assert_rejected ("GET / HTTP/1.1\r\nHost: other.nfltr.localhost\r\n\r\n", 421,
                   "this tunnel serves " HOST " only");
  /* a suffix or prefix of the name is a different name */
  assert_rejected ("GET / HTTP/1.1\r\nHost: t1.nfltr.localhost.evil\r\n\r\n", 421, "serves");
  assert_rejected ("GET / HTTP/1.1\r\nHost: x" HOST "\r\n\r\n", 421, "serves");
  assert_rejected ("GET / HTTP/1.1\r\nHost: \r\n\r\n", 421, "serves");
  /* RFC 9112 §3.2.2: the absolute-form authority wins over Host, so it is checked too */
  assert_rejected ("GET http://evil.example/ HTTP/1.1\r\nHost: " HOST "\r\n\r\n", 421, "serves");
  /* and so is the CONNECT target */
  assert_rejected ("CONNECT evil.example:22 HTTP/1.1\r\nHost: " HOST "\r\n\r\n", 421, "serves");
}

static void
test_misdirected_response_text (void)
{
  g_auto(Outcome) o;
  g_autofree char *content_length = NULL;
  const char *body;

  run_all ("GET / HTTP/1.1\r\nHost: other.example\r\n\r\n", &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_REJECT);
  g_assert_true (g_str_has_prefix (o.response, "HTTP/1.1 421 Misdirected Request\r\n"));
  body = strstr (o.response, "\r\n\r\n") + 4;
  g_assert_cmpstr (body, ==, "421 Misdirected Request: this tunnel serves " HOST " only\n");
  content_length = g_strdup_printf ("Content-Length: %zu\r\n", strlen (body));
  g_assert_nonnull (strstr (o.response, content_length));
}

static void
test_absolute_form_ok (void)
{
  g_auto(Outcome) o;

  run_all ("GET https://user@" HOST ":443/x HTTP/1.1\r\nHost: " HOST "\r\n\r\n", &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_cmpuint (o.requests, ==, 1);
}

static void
test_xff_appended (void)
{
  g_auto(Outcome) o;

  run_all ("GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\nHost: " HOST "\r\n"
           "X-Forwarded-Proto: http\r\nx-forwarded-for: 10.0.0.2, 10.0.0.3\r\n"
           "X-Forwarded-Host: spoofed.example\r\n\r\n", &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
  /* the client's list first, our hop last; -Proto and -Host are ours alone */
  g_assert_cmpstr (o.out->str, ==,
                   "GET / HTTP/1.1\r\nHost: " HOST "\r\n"
                   "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, " IP "\r\n"
                   "X-Forwarded-Proto: https\r\nX-Forwarded-Host: " HOST "\r\n\r\n");
}

static void
test_client_ip_sanitised (void)
{
  g_autoptr(NfltrHttpRewriter) rw = nfltr_http_rewriter_new (HOST, "1.2.3.4\r\nX-Admin: 1");
  g_autoptr(GByteArray) out = g_byte_array_new ();
  const char *req = "GET / HTTP/1.1\r\nHost: " HOST "\r\n\r\n";

  nfltr_http_rewriter_feed (rw, (const guint8 *) req, strlen (req), out);
  g_byte_array_append (out, (const guint8 *) "", 1);
  g_assert_nonnull (strstr ((char *) out->data, "X-Forwarded-For: unknown\r\n"));
  g_assert_null (strstr ((char *) out->data, "X-Admin"));
}

/* Three requests on one keep-alive connection: Content-Length, chunked with an extension
 * and a trailer, then no body. The bodies contain things that look like request heads. */
static const char pipelined_in[] =
  "\r\n"  /* RFC 9112 §2.2: a stray CRLF before a request is ignored */
  "POST /a HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 35\r\n\r\n"
  "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
  "POST /b HTTP/1.1\r\nHost: " HOST "\r\nTransfer-Encoding: chunked\r\n\r\n"
  "5;ext=1\r\nhello\r\n"
  "1b\r\nGET / HTTP/1.1\r\nHost: y\r\n\r\n\r\n"
  "0\r\nX-Checksum: 42\r\n\r\n"
  "GET /c HTTP/1.1\r\nHost: " HOST "\r\n\r\n";

static const char pipelined_out[] =
  "POST /a HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 35\r\n" XF HOST "\r\n\r\n"
  "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
  "POST /b HTTP/1.1\r\nHost: " HOST "\r\nTransfer-Encoding: chunked\r\n" XF HOST "\r\n\r\n"
  "5;ext=1\r\nhello\r\n"
  "1b\r\nGET / HTTP/1.1\r\nHost: y\r\n\r\n\r\n"
  "0\r\nX-Checksum: 42\r\n\r\n"
  "GET /c HTTP/1.1\r\nHost: " HOST "\r\n" XF HOST "\r\n\r\n";

static void
test_pipelined (void)
{
  g_auto(Outcome) o;

  run_all (pipelined_in, &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_cmpstr (o.out->str, ==, pipelined_out);
  g_assert_cmpuint (o.requests, ==, 3);
}

static void
test_every_split (void)
{
  gsize len = strlen (pipelined_in);

  for (gsize i = 0; i <= len; i++)
    for (gsize j = i; j <= len; j += 7)
      {
        g_auto(Outcome) o;
        gssize cuts[] = { i, j, -1 };

        run_cuts (pipelined_in, len, cuts, &o);
        g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
        g_assert_cmpstr (o.out->str, ==, pipelined_out);
      }
}

static void
test_byte_by_byte (void)
{
  gsize len = strlen (pipelined_in);
  g_autofree gssize *cuts = g_new (gssize, len + 1);
  g_auto(Outcome) o;

  for (gsize i = 0; i < len; i++)
    cuts[i] = i + 1;
  cuts[len] = -1;
  run_cuts (pipelined_in, len, cuts, &o);
  g_assert_cmpstr (o.out->str, ==, pipelined_out);
}

static void
test_reject_after_good (void)
{
  g_auto(Outcome) o;
  const char *first = "GET /ok HTTP/1.1\r\nHost: " HOST "\r\n\r\n";
  g_autofree char *in = g_strconcat (first, "GET /no HTTP/1.1\r\nHost: other\r\n\r\n",
                                     "GET /late HTTP/1.1\r\nHost: " HOST "\r\n\r\n", NULL);

  run_all (in, &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_REJECT);
  g_assert_cmpuint (o.status, ==, 421);
  /* the first request goes through, nothing from the refused one on */
  g_assert_cmpstr (o.out->str, ==, "GET /ok HTTP/1.1\r\nHost: " HOST "\r\n" XF HOST "\r\n\r\n");
  g_assert_cmpuint (o.requests, ==, 1);
}

static void
test_malformed (void)
{
  const struct { const char *in; guint status; const char *reason; } cases[] = {
    { "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "missing Host" },
    { "GET / HTTP/1.1\r\nHost: " HOST "\r\nHost: " HOST "\r\n\r\n", 400, "more than one Host" },
    { "GET /\r\nHost: " HOST "\r\n\r\n", 400, "malformed request line" },
    { "GET  / HTTP/1.1\r\nHost: " HOST "\r\n\r\n", 400, "malformed request line" },
    { "G(T / HTTP/1.1\r\nHost: " HOST "\r\n\r\n", 400, "malformed request line" },
    { "GET / HTTP/1.1 \r\nHost: " HOST "\r\n\r\n", 400, "malformed request line" },
    { "\x16\x03\x01\x02\x01\x01\r\n\r\n", 400, "malformed request line" },
    { "GET / HTTP/2.0\r\nHost: " HOST "\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1" },
    { "GET / HTTP/1.1\r\nHost : " HOST "\r\n\r\n", 400, "header name" },
    { "GET / HTTP/1.1\r\nHost: " HOST "\r\nX: a\r\n b\r\n\r\n", 400, "folding" },
    { "GET / HTTP/1.1\r\nHost: " HOST "\r\nnocolon\r\n\r\n", 400, "colon" },
    { "GET / HTTP/1.1\r\nHost: " HOST "\r\nX: a\x01" "b\r\n\r\n", 400, "control character" },
    { "GET / HTTP/1.1\r\nHost: " HOST "\rX: y\r\n\r\n", 400, "bare CR" },
    { "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "invalid Host" },
    { "GET / HTTP/1.1\r\nHost: " HOST ":80x\r\n\r\n", 400, "invalid Host" },
    { "POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      400, "both Transfer-Encoding and Content-Length" },
    { "POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 5x\r\n\r\n", 400, "Content-Length" },
    { "POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length" },
    { "POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      400, "Content-Length" },
    { "POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 99999999999999999999\r\n\r\n",
      400, "Content-Length" },
    { "POST / HTTP/1.1\r\nHost: " HOST "\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "chunked" },
    { "POST / HTTP/1.1\r\nHost: " HOST "\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400, "chunked" },
    { "POST / HTTP/1.0\r\nHost: " HOST "\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_rejected (cases[i].in, cases[i].status, cases[i].reason);
}

/* Chunk framing errors come after the head was forwarded: the head stays in the output,
 * the bad body does not go on. */
static void
test_malformed_chunks (void)
{
  const struct { const char *body; const char *reason; } cases[] = {
    { "zz\r\n", "invalid chunk size" },
    { "\r\n", "invalid chunk size" },
    { "5\nhello\r\n0\r\n\r\n", "not ended by CRLF" },
    { "5\r\nhelloXX0\r\n\r\n", "not followed by CRLF" },
    { "10000000000000000\r\n", "invalid chunk size" },
    { "5 junk\r\n", "invalid chunk size" },
    { "0\r\nbad trailer\r\n\r\n", "invalid trailer" },
  };
  const char *head = "POST / HTTP/1.1\r\nHost: " HOST "\r\nTransfer-Encoding: chunked\r\n\r\n";

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(Outcome) o;
      g_autofree char *in = g_strconcat (head, cases[i].body, NULL);

      run_all (in, &o);
      g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_REJECT);
      g_assert_cmpuint (o.status, ==, 400);
      g_assert_nonnull (strstr (o.reason, cases[i].reason));
      g_assert_true (g_str_has_prefix (o.out->str, "POST / HTTP/1.1\r\n"));
    }
}

static void
test_oversized_head (void)
{
  g_autoptr(GString) in = g_string_new ("GET / HTTP/1.1\r\nHost: " HOST "\r\nX-Big: ");
  g_autoptr(GString) just_fits = NULL;

  while (in->len < NFLTR_HTTP_MAX_HEAD + 10)
    g_string_append_c (in, 'a');
  g_string_append (in, "\r\n\r\n");
  assert_rejected (in->str, 431, "larger than 64 KiB");

  /* fed in small pieces, without ever seeing the end of the head */
  {
    g_auto(Outcome) o;
    gssize cuts[64];
    for (gsize i = 0; i < 63; i++)
      cuts[i] = (i + 1) * 1100;
    cuts[63] = -1;
    run_cuts (in->str, 64 * 1100, cuts, &o);
    g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_REJECT);
    g_assert_cmpuint (o.status, ==, 431);
  }

  /* exactly at the limit is still fine */
  just_fits = g_string_new ("GET / HTTP/1.1\r\nHost: " HOST "\r\nX-Big: ");
  while (just_fits->len < NFLTR_HTTP_MAX_HEAD - 4)
    g_string_append_c (just_fits, 'a');
  g_string_append (just_fits, "\r\n\r\n");
  g_assert_cmpuint (just_fits->len, ==, NFLTR_HTTP_MAX_HEAD);
  {
    g_auto(Outcome) o;
    run_all (just_fits->str, &o);
    g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
    g_assert_cmpuint (o.requests, ==, 1);
  }
}

static void
test_oversized_trailer (void)
{
  g_autoptr(GString) in = g_string_new ("POST / HTTP/1.1\r\nHost: " HOST "\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n0\r\n");
  g_auto(Outcome) o;

  while (in->len < 3 * NFLTR_HTTP_MAX_HEAD)
    g_string_append (in, "X-Trailer: 0123456789012345678901234567890123456789\r\n");
  g_string_append (in, "\r\n");
  run_all (in->str, &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_REJECT);
  g_assert_cmpuint (o.status, ==, 431);
  g_assert_nonnull (strstr (o.reason, "trailer section too long"));
}

static void
test_upgrade_raw (void)
{
  static const char head[] = "GET /ws HTTP/1.1\r\nHost: " HOST "\r\nUpgrade: websocket\r\n"
                             "Connection: keep-alive, Upgrade\r\n\r\n";
  /* WebSocket frames, and then bytes that would be a misdirected request in HTTP */
  static const char after[] = "\x81\x85\x00\x00\x00\x00hello\r\n\r\nGET / HTTP/1.1\r\nHost: evil\r\n\r\n";
  static const char answer[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\n\r\n\x81\x02hi";
  g_autoptr(NfltrHttpRewriter) rw = nfltr_http_rewriter_new (HOST, IP);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GString) want = NULL;

  want = g_string_new ("GET /ws HTTP/1.1\r\nHost: " HOST "\r\nUpgrade: websocket\r\n"
                       "Connection: keep-alive, Upgrade\r\n" XF HOST "\r\n\r\n");
  g_string_append_len (want, after, sizeof after - 1);

  g_assert_cmpint (nfltr_http_rewriter_feed (rw, (const guint8 *) head, sizeof head - 1, out), ==,
                   NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_false (nfltr_http_rewriter_is_raw (rw));  /* not before the server agreed */
  /* the answer cut inside its status line */
  nfltr_http_rewriter_feed_response (rw, (const guint8 *) answer, 11);
  g_assert_false (nfltr_http_rewriter_is_raw (rw));
  nfltr_http_rewriter_feed_response (rw, (const guint8 *) answer + 11, sizeof answer - 12);
  g_assert_true (nfltr_http_rewriter_is_raw (rw));
  g_assert_cmpint (nfltr_http_rewriter_feed (rw, (const guint8 *) after, 5, out), ==,
                   NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_cmpint (nfltr_http_rewriter_feed (rw, (const guint8 *) after + 5, sizeof after - 6, out), ==,
                   NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_cmpmem (out->data, out->len, want->str, want->len);
}

/* Bytes the client sent before the 101 (no whole line yet, so held as a head) are not lost
 * when the stream goes raw: they reach the local server first, unchanged. */
static void
test_upgrade_held_bytes_flushed (void)
{
  static const char head[] = "GET /ws HTTP/1.1\r\nHost: " HOST "\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\n\r\n";
  static const char answer[] = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
  g_autoptr (NfltrHttpRewriter) rw = nfltr_http_rewriter_new (HOST, IP);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint head_len;

  nfltr_http_rewriter_feed (rw, (const guint8 *) head, sizeof head - 1, out);
  head_len = out->len;
  nfltr_http_rewriter_feed (rw, (const guint8 *) "\x81\x02", 2, out);
  g_assert_cmpuint (out->len, ==, head_len);  /* held: could still be a request line */
  nfltr_http_rewriter_feed_response (rw, (const guint8 *) answer, sizeof answer - 1);
  g_assert_false (nfltr_http_rewriter_is_raw (rw));  /* the caller must feed once more */
  g_assert_cmpint (nfltr_http_rewriter_feed (rw, (const guint8 *) "hi", 2, out), ==,
                   NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_true (nfltr_http_rewriter_is_raw (rw));
  g_assert_cmpmem (out->data + head_len, out->len - head_len, "\x81\x02hi", 4);
}

/* Feeds each request chunk, then each response chunk, in turn (NULL ends both lists);
 * returns the verdict of the last feed and what the local server got. */
static NfltrHttpRewriteResult
converse (const char * const *requests, const char * const *responses, GString *to_server, gboolean *raw,
          guint *status)
{
  g_autoptr (NfltrHttpRewriter) rw = nfltr_http_rewriter_new (HOST, IP);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  NfltrHttpRewriteResult r = NFLTR_HTTP_REWRITE_CONTINUE;

  for (gsize i = 0; requests[i] != NULL; i++)
    {
      r = nfltr_http_rewriter_feed (rw, (const guint8 *) requests[i], strlen (requests[i]), out);
      if (responses[i] == NULL)
        {
          g_assert_null (requests[i + 1]);
          break;
        }
      /* byte by byte: the tracker must not depend on how reads are cut */
      for (const char *c = responses[i]; *c != '\0'; c++)
        nfltr_http_rewriter_feed_response (rw, (const guint8 *) c, 1);
    }
  g_string_append_len (to_server, (const char *) out->data, out->len);
  *raw = nfltr_http_rewriter_is_raw (rw);
  *status = r == NFLTR_HTTP_REWRITE_REJECT ? nfltr_http_rewriter_get_status (rw) : 0;
  return r;
}

#define WS_REQ "GET /ws HTTP/1.1\r\nHost: " HOST "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

/* An origin that does not answer 101 has not switched: a later request on the connection
 * is checked like any other (issue 8 §2; before, Upgrade alone made the stream raw). */
static void
test_upgrade_refused_keeps_parsing (void)
{
  static const char * const answers[] = {
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nno!\r\n0\r\n\r\n",
    "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (answers); i++)
    {
      const char *bad[] = { WS_REQ, "GET /admin HTTP/1.1\r\nHost: evil\r\n\r\n", NULL };
      const char *good[] = { WS_REQ, "GET /next HTTP/1.1\r\nHost: " HOST "\r\n"
                             "X-Forwarded-For: 10.0.0.1\r\n\r\n", NULL };
      const char *resp[] = { answers[i], NULL };
      g_autoptr(GString) got = g_string_new (NULL);
      gboolean raw;
      guint status;

      g_test_message ("origin answers: %s", answers[i]);
      g_assert_cmpint (converse (bad, resp, got, &raw, &status), ==, NFLTR_HTTP_REWRITE_REJECT);
      g_assert_cmpuint (status, ==, 421);
      g_assert_false (raw);
      g_assert_null (strstr (got->str, "/admin"));

      g_string_truncate (got, 0);
      g_assert_cmpint (converse (good, resp, got, &raw, &status), ==, NFLTR_HTTP_REWRITE_CONTINUE);
      g_assert_false (raw);
      g_assert_nonnull (strstr (got->str, "GET /next HTTP/1.1\r\nHost: " HOST "\r\n"
                                          "X-Forwarded-For: 10.0.0.1, " IP "\r\n"));
    }
}

/* A client that does not wait for the answer gets its next request checked as well. */
static void
test_upgrade_unanswered_keeps_parsing (void)
{
  const char *req[] = { WS_REQ "GET / HTTP/1.1\r\nHost: evil\r\n\r\n", NULL };
  const char *resp[] = { NULL };
  g_autoptr(GString) got = g_string_new (NULL);
  gboolean raw;
  guint status;

  g_assert_cmpint (converse (req, resp, got, &raw, &status), ==, NFLTR_HTTP_REWRITE_REJECT);
  g_assert_cmpuint (status, ==, 421);
  g_assert_false (raw);
}

/* The tracker pairs responses with requests by their framing: a 101 inside an earlier
 * response's content, or a 101 to a request that did not ask for it, switches nothing. */
static void
test_upgrade_response_framing (void)
{
  static const char * const firsts[] = {
    "HTTP/1.1 200 OK\r\nContent-Length: 36\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n24\r\n"
    "HTTP/1.1 101 Switching Protocols\r\n\r\n\r\n0\r\nX-T: 1\r\n\r\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (firsts); i++)
    {
      /* GET, then the Upgrade: the origin's 101 is in the GET's body, its answer to the
       * Upgrade is a 403 */
      const char *req[] = { "GET / HTTP/1.1\r\nHost: " HOST "\r\n\r\n", WS_REQ,
                            "GET / HTTP/1.1\r\nHost: evil\r\n\r\n", NULL };
      const char *resp[] = { firsts[i], "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
                             NULL };
      const char *ok_req[] = { "GET / HTTP/1.1\r\nHost: " HOST "\r\n\r\n", WS_REQ,
                               "\x81\x80\0\0\0\0", NULL };
      const char *ok_resp[] = { firsts[i], "HTTP/1.1 101 Switching Protocols\r\n\r\n", NULL };
      g_autoptr(GString) got = g_string_new (NULL);
      gboolean raw;
      guint status;

      g_assert_cmpint (converse (req, resp, got, &raw, &status), ==, NFLTR_HTTP_REWRITE_REJECT);
      g_assert_cmpuint (status, ==, 421);

      /* and a real 101 after that first response does switch */
      g_string_truncate (got, 0);
      g_assert_cmpint (converse (ok_req, ok_resp, got, &raw, &status), ==,
                       NFLTR_HTTP_REWRITE_CONTINUE);
      g_assert_true (raw);
      g_assert_true (g_str_has_suffix (got->str, "\r\n\r\n\x81\x80"));
    }

  {
    /* 101 to a plain GET, and a HEAD response whose Content-Length has no content */
    const char *req[] = { "GET / HTTP/1.1\r\nHost: " HOST "\r\n\r\n",
                          "GET / HTTP/1.1\r\nHost: evil\r\n\r\n", NULL };
    const char *resp[] = { "HTTP/1.1 101 Switching Protocols\r\n\r\n", NULL };
    const char *head_req[] = { "HEAD / HTTP/1.1\r\nHost: " HOST "\r\n\r\n", WS_REQ,
                               "GET / HTTP/1.1\r\nHost: evil\r\n\r\n", NULL };
    const char *head_resp[] = { "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n",
                                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL };
    g_autoptr(GString) got = g_string_new (NULL);
    gboolean raw;
    guint status;

    g_assert_cmpint (converse (req, resp, got, &raw, &status), ==, NFLTR_HTTP_REWRITE_REJECT);
    g_assert_false (raw);
    g_assert_cmpint (converse (head_req, head_resp, got, &raw, &status), ==,
                     NFLTR_HTTP_REWRITE_REJECT);
    g_assert_cmpuint (status, ==, 421);
  }
}

/* RFC 9112 §6.3: equal Content-Length values are one; the server gets exactly one line. */
static void
test_content_length_normalised (void)
{
  static const char * const heads[] = {
    "POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 3, 3\r\n\r\nabc",
    "POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    "POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length:3 ,3,  3\r\n\r\nabc",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (heads); i++)
    {
      g_auto (Outcome) o;

      run_all (heads[i], &o);
      g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
      g_assert_cmpstr (o.out->str, ==,
                       "POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 3\r\n" XF HOST "\r\n\r\nabc");
    }
  assert_rejected ("POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 3, 4\r\n\r\nabcd", 400,
                   "invalid Content-Length");
  assert_rejected ("POST / HTTP/1.1\r\nHost: " HOST "\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
                   "\r\nabcd",
                   400, "invalid Content-Length");
  assert_rejected ("POST / HTTP/1.1\r\nHost: " HOST "\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Length: 0\r\n\r\n0\r\n\r\n",
                   400, "both Transfer-Encoding and Content-Length");
}

/* The client's own claims about its address are not passed on. */
static void
test_forwarded_dropped (void)
{
  g_auto(Outcome) o;

  run_all ("GET / HTTP/1.1\r\nHost: " HOST "\r\nForwarded: for=10.0.0.1;proto=https\r\n"
           "X-Real-IP: 10.0.0.1\r\nfORWARDED: for=\"[::1]\"\r\nx-real-ip: 127.0.0.1\r\n"
           "Accept: */*\r\n\r\n",
           &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_cmpstr (o.out->str, ==, "GET / HTTP/1.1\r\nHost: " HOST "\r\nAccept: */*\r\n" XF HOST "\r\n\r\n");
}

static void
test_connect_raw (void)
{
  const char *req[] = { "CONNECT " HOST ":22 HTTP/1.1\r\nHost: " HOST "\r\n\r\n", "SSH-2.0-OpenSSH\r\n\r\n",
                        NULL };
  const char *resp[] = { "HTTP/1.1 200 Connection Established\r\n\r\n", NULL };
  const char *refused[] = { "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n", NULL };
  g_autoptr (GString) got = g_string_new (NULL);
  gboolean raw;
  guint status;

  g_assert_cmpint (converse (req, resp, got, &raw, &status), ==, NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_true (raw);
  g_assert_true (g_str_has_suffix (got->str, "\r\n\r\nSSH-2.0-OpenSSH\r\n\r\n"));
  /* refused, the tunnel is not made and the next bytes are no request */
  g_assert_cmpint (converse (req, refused, got, &raw, &status), ==, NFLTR_HTTP_REWRITE_REJECT);
  g_assert_false (raw);
  g_assert_cmpuint (status, ==, 400);
}

/* Upgrade without "Connection: upgrade" is ignored by servers (RFC 9110 §7.8), so it
 * must not switch us to raw: the next request is still checked. */
static void
test_upgrade_needs_connection_option (void)
{
  g_auto(Outcome) o;

  run_all ("GET / HTTP/1.1\r\nHost: " HOST "\r\nUpgrade: websocket\r\n\r\n"
           "GET / HTTP/1.1\r\nHost: evil\r\n\r\n", &o);
  g_assert_false (o.raw);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_REJECT);
  g_assert_cmpuint (o.status, ==, 421);
  g_assert_cmpuint (o.requests, ==, 1);
}

static void
test_lf_only_head (void)
{
  g_auto(Outcome) o;

  /* RFC 9112 §2.2 allows bare LF line ends in a head; we re-emit it with CRLF. */
  run_all ("GET / HTTP/1.0\nHost: " HOST "\n\n", &o);
  g_assert_cmpint (o.result, ==, NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_cmpstr (o.out->str, ==, "GET / HTTP/1.0\r\nHost: " HOST "\r\n" XF HOST "\r\n\r\n");
}

/* ---- HTTP/2 ------------------------------------------------------------------------------ */

static GPtrArray *
h2_fields (const char *first, ...)
{
  GPtrArray *fields = nfltr_http2_fields_new ();
  va_list ap;

  va_start (ap, first);
  for (const char *name = first; name != NULL; name = va_arg (ap, const char *))
    {
      const char *value = va_arg (ap, const char *);

      nfltr_http2_fields_add (fields, name, strlen (name), value, strlen (value));
    }
  va_end (ap);
  return fields;
}

static guint
h2_check (GPtrArray *fields, GPtrArray **out)
{
  g_autofree char *reason = NULL;
  guint status = 0;

  *out = nfltr_http2_check_request (HOST, IP, fields, &status, &reason);
  g_assert_true ((*out == NULL) == (status != 0));
  g_assert_true ((*out == NULL) == (reason != NULL));
  return status;
}

static void
test_h2_forwarding (void)
{
  g_autoptr(GPtrArray) in = h2_fields (":method", "GET", ":scheme", "https", ":path", "/x",
                                       ":authority", "T1.nfltr.localhost.:8443",
                                       "x-forwarded-for", "198.51.100.9", "forwarded", "for=10.1.2.3",
                                       "x-real-ip", "10.1.2.3", "x-forwarded-proto", "http",
                                       "x-forwarded-host", "evil.example", "te", "trailers", NULL);
  g_autoptr(GPtrArray) out = NULL;

  g_assert_cmpuint (h2_check (in, &out), ==, 0);
  /* our hop last; the client's other claims never reach the server */
  g_assert_cmpstr (nfltr_http2_fields_get (out, "x-forwarded-for"), ==, "198.51.100.9, " IP);
  g_assert_cmpstr (nfltr_http2_fields_get (out, "x-forwarded-proto"), ==, "https");
  g_assert_cmpstr (nfltr_http2_fields_get (out, "x-forwarded-host"), ==, "T1.nfltr.localhost.:8443");
  g_assert_null (nfltr_http2_fields_get (out, "forwarded"));
  g_assert_null (nfltr_http2_fields_get (out, "x-real-ip"));
  g_assert_cmpstr (nfltr_http2_fields_get (out, ":path"), ==, "/x");
  g_assert_cmpstr (nfltr_http2_fields_get (out, "te"), ==, "trailers");
  for (guint i = 0, n = 0; i < out->len; i++)
    {
      NfltrHttp2Field *f = g_ptr_array_index (out, i);

      if (g_str_has_prefix (f->name, "x-forwarded-"))
        g_assert_cmpuint (++n, <=, 3);
    }
}

static void
test_h2_authority (void)
{
  struct {
    guint status;
    const char *authority; /* NULL: none */
    const char *host;      /* NULL: none */
    const char *method;
  } cases[] = {
    { 0, HOST, NULL, "GET" },
    { 0, NULL, HOST ":443", "GET" },          /* Host stands in for :authority (§8.3.1) */
    { 0, HOST, HOST, "POST" },
    { 421, "other.nfltr.localhost", NULL, "GET" },
    { 421, "t1.nfltr.localhost.evil.example", NULL, "GET" },
    { 421, HOST, "other.example", "GET" },    /* both must name the tunnel */
    { 421, NULL, "other.example", "GET" },
    { 400, NULL, NULL, "GET" },
    { 400, HOST ":80x", NULL, "GET" },
    { 400, "[::1", NULL, "GET" },
    { 501, HOST ":22", NULL, "CONNECT" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) in = h2_fields (":method", cases[i].method, ":scheme", "https",
                                           ":path", "/", NULL);
      g_autoptr(GPtrArray) out = NULL;

      if (cases[i].authority != NULL)
        nfltr_http2_fields_add (in, ":authority", 10, cases[i].authority, strlen (cases[i].authority));
      if (cases[i].host != NULL)
        nfltr_http2_fields_add (in, "host", 4, cases[i].host, strlen (cases[i].host));
      g_test_message ("case %u: %s / %s", i, cases[i].authority, cases[i].host);
      g_assert_cmpuint (h2_check (in, &out), ==, cases[i].status);
    }
}

/* A visitor: an nghttp2 client whose responses are recorded per stream. */
typedef struct {
  nghttp2_session *session;
  GHashTable *status;   /* stream id → :status (string) */
  GHashTable *body;     /* stream id → GString */
  guint32 goaway_code;
  gboolean goaway;
} Visitor;

static int
visitor_header_cb (nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                   size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *data)
{
  Visitor *v = data;

  if (namelen == 7 && memcmp (name, ":status", 7) == 0)
    g_hash_table_insert (v->status, GINT_TO_POINTER (frame->hd.stream_id),
                         g_strndup ((const char *) value, valuelen));
  return 0;
}

static int
visitor_data_cb (nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                 size_t len, void *user_data)
{
  Visitor *v = user_data;
  GString *body = g_hash_table_lookup (v->body, GINT_TO_POINTER (stream_id));

  if (body == NULL)
    g_hash_table_insert (v->body, GINT_TO_POINTER (stream_id), body = g_string_new (NULL));
  g_string_append_len (body, (const char *) data, len);
  return 0;
}

static int
visitor_frame_cb (nghttp2_session *session, const nghttp2_frame *frame, void *data)
{
  Visitor *v = data;

  if (frame->hd.type == NGHTTP2_GOAWAY)
    {
      v->goaway = TRUE;
      v->goaway_code = frame->goaway.error_code;
    }
  return 0;
}

static void
string_free (gpointer data)
{
  g_string_free (data, TRUE);
}

static void
visitor_init (Visitor *v)
{
  nghttp2_session_callbacks *cbs;

  memset (v, 0, sizeof *v);
  v->status = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  v->body = g_hash_table_new_full (NULL, NULL, NULL, string_free);
  nghttp2_session_callbacks_new (&cbs);
  nghttp2_session_callbacks_set_on_header_callback (cbs, visitor_header_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback (cbs, visitor_data_cb);
  nghttp2_session_callbacks_set_on_frame_recv_callback (cbs, visitor_frame_cb);
  nghttp2_session_client_new (&v->session, cbs, v);
  nghttp2_session_callbacks_del (cbs);
  nghttp2_submit_settings (v->session, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void
visitor_clear (Visitor *v)
{
  nghttp2_session_del (v->session);
  g_hash_table_unref (v->status);
  g_hash_table_unref (v->body);
}

static int32_t
visitor_get (Visitor *v, const char *authority)
{
  const nghttp2_nv nv[] = {
#define NV(n, val) { (uint8_t *) n, (uint8_t *) val, strlen (n), strlen (val), NGHTTP2_NV_FLAG_NONE }
    NV (":method", "GET"), NV (":scheme", "https"), NV (":path", "/"), NV (":authority", authority),
#undef NV
  };

  return nghttp2_submit_request (v->session, NULL, nv, G_N_ELEMENTS (nv), NULL, NULL);
}

/* Everything the visitor has to send into the proxy, and everything the proxy answers back. */
static gboolean
exchange (Visitor *v, NfltrHttp2Proxy *proxy)
{
  g_autoptr(GByteArray) to_proxy = g_byte_array_new ();
  g_autoptr(GByteArray) to_visitor = g_byte_array_new ();
  const uint8_t *data;
  ssize_t n;
  gboolean more;

  while ((n = nghttp2_session_mem_send (v->session, &data)) > 0)
    g_byte_array_append (to_proxy, data, n);
  more = nfltr_http2_proxy_feed (proxy, to_proxy->data, to_proxy->len);
  nfltr_http2_proxy_take_output (proxy, to_visitor);
  g_assert_cmpint (nghttp2_session_mem_recv (v->session, to_visitor->data, to_visitor->len), ==,
                   (ssize_t) to_visitor->len);
  return more;
}

static void
test_h2_proxy_refuses_one_stream (void)
{
  g_autoptr(NfltrHttp2Proxy) proxy = nfltr_http2_proxy_new (HOST, IP, NULL, 0, NFLTR_HTTP2_ORIGIN_NONE, FALSE, 0);
  Visitor v;
  int32_t wrong, good;
  GString *body;

  visitor_init (&v);
  wrong = visitor_get (&v, "other.nfltr.localhost");
  good = visitor_get (&v, HOST);
  g_assert_true (exchange (&v, proxy));
  /* the misdirected stream is answered 421 on its own; the connection and the other stream
   * go on (this proxy has no local server: 502) */
  g_assert_cmpstr (g_hash_table_lookup (v.status, GINT_TO_POINTER (wrong)), ==, "421");
  body = g_hash_table_lookup (v.body, GINT_TO_POINTER (wrong));
  g_assert_nonnull (body);
  g_assert_cmpstr (body->str, ==, "421 Misdirected Request: this tunnel serves " HOST " only\n");
  g_assert_cmpstr (g_hash_table_lookup (v.status, GINT_TO_POINTER (good)), ==, "502");
  g_assert_false (v.goaway);
  visitor_clear (&v);
}

static void
test_h2_proxy_goaway_on_garbage (void)
{
  g_autoptr(NfltrHttp2Proxy) proxy = nfltr_http2_proxy_new (HOST, IP, NULL, 0, NFLTR_HTTP2_ORIGIN_NONE, FALSE, 0);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  const char *h1 = "GET / HTTP/1.1\r\nHost: " HOST "\r\n\r\n";
  gboolean goaway = FALSE;

  /* not the HTTP/2 preface (RFC 9113 §3.4): the session ends with GOAWAY(PROTOCOL_ERROR) */
  g_assert_false (nfltr_http2_proxy_feed (proxy, (const guint8 *) h1, strlen (h1)));
  nfltr_http2_proxy_take_output (proxy, out);
  for (gsize off = 0; off + 9 <= out->len;)
    {
      gsize len = (out->data[off] << 16) | (out->data[off + 1] << 8) | out->data[off + 2];

      if (out->data[off + 3] == NGHTTP2_GOAWAY)
        {
          const guint8 *p = out->data + off + 9 + 4;

          goaway = TRUE;
          g_assert_cmpuint ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3], ==, NGHTTP2_PROTOCOL_ERROR);
        }
      off += 9 + len;
    }
  g_assert_true (goaway);
}

static void
test_h2_proxy_frame_on_stream_0 (void)
{
  g_autoptr(NfltrHttp2Proxy) proxy = nfltr_http2_proxy_new (HOST, IP, NULL, 0, NFLTR_HTTP2_ORIGIN_NONE, FALSE, 0);
  /* RFC 9113 §6.1: DATA on stream 0 is a connection error of type PROTOCOL_ERROR */
  const guint8 data0[] = { 0, 0, 4, NGHTTP2_DATA, 0, 0, 0, 0, 0, 'a', 'b', 'c', 'd' };
  Visitor v;

  visitor_init (&v);
  g_assert_true (exchange (&v, proxy));
  nfltr_http2_proxy_feed (proxy, data0, sizeof data0);
  {
    g_autoptr(GByteArray) out = g_byte_array_new ();

    nfltr_http2_proxy_take_output (proxy, out);
    nghttp2_session_mem_recv (v.session, out->data, out->len);
  }
  g_assert_true (v.goaway);
  g_assert_cmpuint (v.goaway_code, ==, NGHTTP2_PROTOCOL_ERROR);
  visitor_clear (&v);
}

static void
test_kind_alpn (void)
{
  NfltrTunnelKind *tcp = nfltr_tunnel_kind_lookup ("tcp");
  NfltrTunnelKind *http = nfltr_tunnel_kind_lookup ("http");
  g_auto(GVariantDict) opts = G_VARIANT_DICT_INIT (NULL);
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GVariant) config = NULL;
  g_autoptr(GVariant) plain = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) alpn = NULL;
  g_auto(GStrv) none = NULL;
  g_auto(GStrv) http_alpn = NULL;
  const char *bad[] = { "h2,", "h2,,http/1.1", "h 2", NULL };

  g_variant_dict_insert (&opts, "alpn", "s", "h2, http/1.1");
  options = g_variant_ref_sink (g_variant_dict_end (&opts));
  config = nfltr_tunnel_kind_parse (tcp, "8443", options, &error);
  g_assert_no_error (error);
  alpn = nfltr_tunnel_kind_get_tunnel_alpn (tcp, config);
  g_assert_nonnull (alpn);
  g_assert_cmpstr (alpn[0], ==, "h2");
  g_assert_cmpstr (alpn[1], ==, "http/1.1");
  g_assert_null (alpn[2]);

  plain = nfltr_tunnel_kind_parse (tcp, "8443", NULL, &error);
  g_assert_no_error (error);
  none = nfltr_tunnel_kind_get_tunnel_alpn (tcp, plain);
  g_assert_null (none);

  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_auto(GVariantDict) d = G_VARIANT_DICT_INIT (NULL);
      g_autoptr(GVariant) o = NULL;
      g_autoptr(GVariant) c = NULL;
      g_autoptr(GError) e = NULL;

      g_variant_dict_insert (&d, "alpn", "s", bad[i]);
      o = g_variant_ref_sink (g_variant_dict_end (&d));
      c = nfltr_tunnel_kind_parse (tcp, "8443", o, &e);
      g_assert_null (c);
      g_assert_error (e, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (e->message, "--alpn"));
    }

  /* http offers h2 first, whatever the tunnel; origin-h2 takes auto, yes, no only */
  http_alpn = nfltr_tunnel_kind_get_tunnel_alpn (http, plain);
  g_assert_cmpstr (http_alpn[0], ==, "h2");
  g_assert_cmpstr (http_alpn[1], ==, "http/1.1");
  {
    g_auto(GVariantDict) d = G_VARIANT_DICT_INIT (NULL);
    g_autoptr(GVariant) o = NULL;
    g_autoptr(GVariant) c = NULL;
    g_autoptr(GError) e = NULL;

    g_variant_dict_insert (&d, "origin-h2", "s", "maybe");
    o = g_variant_ref_sink (g_variant_dict_end (&d));
    c = nfltr_tunnel_kind_parse (http, "3000", o, &e);
    g_assert_null (c);
    g_assert_error (e, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-rewrite/good-request", test_good_request);
  g_test_add_func ("/http2/forwarding", test_h2_forwarding);
  g_test_add_func ("/http2/authority", test_h2_authority);
  g_test_add_func ("/http2/proxy/refuses-one-stream", test_h2_proxy_refuses_one_stream);
  g_test_add_func ("/http2/proxy/goaway-on-garbage", test_h2_proxy_goaway_on_garbage);
  g_test_add_func ("/http2/proxy/frame-on-stream-0", test_h2_proxy_frame_on_stream_0);
  g_test_add_func ("/kinds/alpn", test_kind_alpn);
  g_test_add_func ("/http-rewrite/host-port-and-case", test_host_port_and_case);
  g_test_add_func ("/http-rewrite/misdirected", test_misdirected);
  g_test_add_func ("/http-rewrite/misdirected-response", test_misdirected_response_text);
  g_test_add_func ("/http-rewrite/absolute-form", test_absolute_form_ok);
  g_test_add_func ("/http-rewrite/xff-appended", test_xff_appended);
  g_test_add_func ("/http-rewrite/client-ip-sanitised", test_client_ip_sanitised);
  g_test_add_func ("/http-rewrite/pipelined", test_pipelined);
  g_test_add_func ("/http-rewrite/every-split", test_every_split);
  g_test_add_func ("/http-rewrite/byte-by-byte", test_byte_by_byte);
  g_test_add_func ("/http-rewrite/reject-after-good", test_reject_after_good);
  g_test_add_func ("/http-rewrite/malformed", test_malformed);
  g_test_add_func ("/http-rewrite/malformed-chunks", test_malformed_chunks);
  g_test_add_func ("/http-rewrite/oversized-head", test_oversized_head);
  g_test_add_func ("/http-rewrite/oversized-trailer", test_oversized_trailer);
  g_test_add_func ("/http-rewrite/upgrade-raw", test_upgrade_raw);
  g_test_add_func ("/http-rewrite/connect-raw", test_connect_raw);
  g_test_add_func ("/http-rewrite/upgrade-needs-connection", test_upgrade_needs_connection_option);
  g_test_add_func ("/http-rewrite/upgrade-refused-keeps-parsing", test_upgrade_refused_keeps_parsing);
  g_test_add_func ("/http-rewrite/upgrade-unanswered-keeps-parsing",
                   test_upgrade_unanswered_keeps_parsing);
  g_test_add_func ("/http-rewrite/upgrade-response-framing", test_upgrade_response_framing);
  g_test_add_func ("/http-rewrite/upgrade-held-bytes-flushed", test_upgrade_held_bytes_flushed);
  g_test_add_func ("/http-rewrite/content-length-normalised", test_content_length_normalised);
  g_test_add_func ("/http-rewrite/forwarded-dropped", test_forwarded_dropped);
  g_test_add_func ("/http-rewrite/lf-only-head", test_lf_only_head);
  return g_test_run ();
}
