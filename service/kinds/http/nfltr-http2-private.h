/* nfltr-http2-private.h — the HTTP/2 proxy's state, shared by its four files:
 * nfltr-http2-stream.c (byte queues, streams, responses), nfltr-http2-proxy.c (the visitor's
 * session and the HTTP/2 origin), nfltr-http2-h1.c (the translation to HTTP/1.1) and
 * nfltr-http2-loop.c (the socket loop on the proxy's thread). */
#pragma once

#include "nfltr-http2-proxy.h"
#include "nfltr-http2-request.h"
#include "nfltr-inspect-record.h" /* inspector (issue 9 §8) */

#include <nghttp2/nghttp2.h>

G_BEGIN_DECLS

/* A byte queue read from the front without moving the rest on every read. */
typedef struct {
  GByteArray *data;
  gsize off;
} Http2Buf;

void   _nfltr_http2_buf_init    (Http2Buf *buf);
void   _nfltr_http2_buf_clear   (Http2Buf *buf);
gsize  _nfltr_http2_buf_len     (const Http2Buf *buf);
const guint8 *_nfltr_http2_buf_peek (const Http2Buf *buf);
void   _nfltr_http2_buf_append  (Http2Buf *buf, const void *data, gsize len);
void   _nfltr_http2_buf_skip    (Http2Buf *buf, gsize len);

/* Above this much queued for a socket we stop producing more for it. */
#define HTTP2_OUT_HIGH_WATER (256 * 1024)

typedef enum {
  H1_RESP_HEAD,
  H1_RESP_LENGTH,
  H1_RESP_CLOSE,
  H1_RESP_CHUNK_SIZE,
  H1_RESP_CHUNK_DATA,
  H1_RESP_CHUNK_CRLF,
  H1_RESP_TRAILER,
  H1_RESP_DONE,
} H1RespState;

typedef struct _Http2Stream Http2Stream;

struct _Http2Stream {
  NfltrHttp2Proxy *proxy;
  int32_t vid;               /* the visitor's stream */
  int32_t oid;               /* the HTTP/2 origin's stream, or -1 */

  /* request, visitor → origin */
  GPtrArray *req_fields;     /* while the HEADERS arrive; trailers after the body */
  gsize req_field_bytes;
  gboolean req_headers_done;
  GPtrArray *fwd_fields;     /* checked, waiting to be sent */
  GPtrArray *req_trailers;
  Http2Buf req_body;
  gboolean req_eof;
  gboolean is_head;
  gboolean refused;          /* answered by us: the rest of the request is dropped */
  gboolean req_sent;         /* some of the body (or its end) went to the HTTP/2 origin */
  gboolean queued;           /* in proxy->pending */

  /* response, origin → visitor */
  GPtrArray *resp_fields;
  gboolean resp_started;     /* a final response went to the visitor's session */
  Http2Buf resp_body;
  gboolean resp_eof;
  GPtrArray *resp_trailers;

  /* translated to HTTP/1.1 */
  int h1_fd;
  Http2Buf h1_out;
  gboolean h1_chunked;       /* the request body goes out chunked */
  gboolean h1_req_done;
  Http2Buf h1_in;
  H1RespState h1_state;
  guint64 h1_remaining;

  NfltrInspectRecord *inspect; /* inspector (issue 9 §8): this exchange, or NULL */
};

struct _NfltrHttp2Proxy {
  char *public_host;
  char *client_ip;
  char *origin_host;
  guint16 origin_port;
  NfltrHttp2OriginMode mode;
  gboolean origin_tls;
  guint connect_timeout_ms;
  NfltrTunnelStats *stats;   /* origin health (issue 9 §2), or NULL */
  char *refusal;             /* set: every request is answered 403 with it (issue 9 §10) */
  char *basic_auth;          /* USER:PASS every request must carry, or NULL (issue 9 §10) */
  NfltrInspectStore *inspect; /* inspector (issue 9 §8), or NULL */
  char *inspect_client;

  nghttp2_session *server;   /* faces the visitor */
  Http2Buf vis_out;
  int vis_fd;                /* the proxy's end of the socketpair (loop only) */
  GHashTable *streams;       /* vid → Http2Stream, owned */
  GQueue pending;            /* checked requests not yet sent on */

  /* the HTTP/2 origin */
  nghttp2_session *client;
  int origin_fd;
  Http2Buf origin_out;
};

/* nfltr-http2-stream.c */
Http2Stream *_nfltr_http2_stream_new  (NfltrHttp2Proxy *proxy, int32_t vid);
void     _nfltr_http2_stream_free     (gpointer data);
/* The fields as nghttp2 takes them (g_free the array; it points into fields). */
nghttp2_nv *_nfltr_http2_fields_to_nv (GPtrArray *fields);
void     _nfltr_http2_stream_respond_error (Http2Stream *s, guint status, const char *detail);
void     _nfltr_http2_stream_submit_response (Http2Stream *s, GPtrArray *fields, gboolean end_stream);
void     _nfltr_http2_stream_submit_interim (Http2Stream *s, GPtrArray *fields);
void     _nfltr_http2_stream_response_data (Http2Stream *s, const guint8 *data, gsize len);
void     _nfltr_http2_stream_response_end (Http2Stream *s);
void     _nfltr_http2_stream_reset (Http2Stream *s, uint32_t error_code);

/* nfltr-http2-proxy.c */
void     _nfltr_http2_dispatch (NfltrHttp2Proxy *self);
gboolean _nfltr_http2_produce (NfltrHttp2Proxy *self);
gboolean _nfltr_http2_origin_recv (NfltrHttp2Proxy *self, const guint8 *data, gsize len);
void     _nfltr_http2_origin_lost (NfltrHttp2Proxy *self, const char *why);
gboolean _nfltr_http2_visitor_done (NfltrHttp2Proxy *self);

/* nfltr-http2-h1.c */
gboolean _nfltr_http2_h1_start    (Http2Stream *s, GError **error);
/* Moves the request body into h1_out as it may go (and acknowledges it to the visitor). */
void     _nfltr_http2_h1_pump_request (Http2Stream *s);
/* The origin's bytes; len 0 is its EOF. FALSE once the stream's origin is done with. */
gboolean _nfltr_http2_h1_recv     (Http2Stream *s, const guint8 *data, gsize len);
void     _nfltr_http2_h1_close    (Http2Stream *s);

/* A connection to the local server, plain or TLS (then ALPN as asked); see
 * nfltr_data_conn_connect_tcp() and nfltr_origin_tls_connect(). */
int      _nfltr_http2_origin_connect (NfltrHttp2Proxy *self, const char * const *alpn,
                                      char **selected_alpn, GError **error);

G_END_DECLS
