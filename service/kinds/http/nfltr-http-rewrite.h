/* nfltr-http-rewrite.h — the client→local HTTP/1.1 request-stream rewriter of http tunnels.
 *
 * A pure push parser: bytes in, bytes out, no I/O, no clock, so it can be fuzzed and tested
 * at every split point. It finds each request head in the stream (RFC 9112 §2), checks its
 * Host against the tunnel's public host, adds X-Forwarded-For/-Proto/-Host, and then forwards
 * the body by its framing (Content-Length or chunked, RFC 9112 §6–§7) so that the next head
 * on a keep-alive connection is found. Client-sent Forwarded and X-Real-IP are dropped and
 * Content-Length is written once. The local server's responses are followed (status line and
 * framing only, nfltr_http_rewriter_feed_response()) to learn whether it accepted an Upgrade
 * (101) or a CONNECT (2xx): only then does the request stream become raw.
 *
 * Fuzz target candidate: nfltr_http_rewriter_feed(). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Larger request heads are answered 431 (RFC 6585 §5). */
#define NFLTR_HTTP_MAX_HEAD (64 * 1024)

typedef enum {
  NFLTR_HTTP_REWRITE_CONTINUE,  /* everything fed so far was handled; feed more */
  NFLTR_HTTP_REWRITE_REJECT,    /* the client sent something we refuse: answer the response
                                   from nfltr_http_rewriter_get_response() and close */
} NfltrHttpRewriteResult;

typedef struct _NfltrHttpRewriter NfltrHttpRewriter;

/* public_host: the tunnel's host as the client named it in SNI (case-insensitive).
 * client_ip: the public client's address without port; goes into X-Forwarded-For. */
NfltrHttpRewriter     *nfltr_http_rewriter_new          (const char *public_host,
                                                         const char *client_ip);
void                   nfltr_http_rewriter_free         (NfltrHttpRewriter *self);
/* Every request must carry credentials (USER:PASS) in Authorization: Basic, else it is
 * answered 401 with a challenge for the public host (issue 9 §10). The field is not
 * forwarded: the local server never sees the tunnel's password. */
void                   nfltr_http_rewriter_set_basic_auth (NfltrHttpRewriter *self,
                                                           const char        *credentials);

/* Parses data[0..len) and appends the bytes to forward to the local server to `out`.
 * On REJECT, `out` still receives whatever came before the offending request (earlier
 * requests on the connection are forwarded intact), and every later call returns REJECT
 * and appends nothing. */
NfltrHttpRewriteResult nfltr_http_rewriter_feed         (NfltrHttpRewriter *self,
                                                         const guint8      *data,
                                                         gsize              len,
                                                         GByteArray        *out);

/* The local server's bytes (local→client), in order, unchanged. Reads response heads and
 * skips their content by its framing (RFC 9112 §6.3); a 101 answering an Upgrade request, or
 * a 2xx answering a CONNECT, makes the request stream raw. Anything it cannot follow (a
 * close-delimited body, a malformed head, more than 64 requests outstanding) makes it stop
 * reading, and then the request stream stays parsed to its end. */
void                   nfltr_http_rewriter_feed_response (NfltrHttpRewriter *self,
                                                          const guint8      *data,
                                                          gsize              len);

/* TRUE once the local server accepted an Upgrade/CONNECT: from then on feed() copies bytes
 * unchanged, and a caller may skip it. */
gboolean               nfltr_http_rewriter_is_raw       (const NfltrHttpRewriter *self);
/* Number of request heads forwarded so far. */
guint64                nfltr_http_rewriter_get_requests (const NfltrHttpRewriter *self);

/* After REJECT: the status (400, 421, 431, 505), the reason in words, and the whole
 * HTTP/1.1 response (status line, headers, short text body, Connection: close). */
guint                  nfltr_http_rewriter_get_status   (const NfltrHttpRewriter *self);
const char            *nfltr_http_rewriter_get_reason   (const NfltrHttpRewriter *self);
GBytes                *nfltr_http_rewriter_get_response (const NfltrHttpRewriter *self);

/* A complete "Connection: close" response with a text/plain body "<status> <phrase>: <detail>\n".
 * Also used by the data connection for 502 when the local server is unreachable. */
GBytes                *nfltr_http_error_response        (guint       status,
                                                         const char *detail);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrHttpRewriter, nfltr_http_rewriter_free)

G_END_DECLS
