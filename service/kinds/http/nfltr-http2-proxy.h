/* nfltr-http2-proxy.h — the http kind's HTTP/2 side: an in-process proxy between a visitor
 * that chose ALPN h2 and the tunnel's local server.
 *
 * An nghttp2 server session faces the visitor (through one end of a socketpair whose other
 * end the data path pumps to the visitor's TLS). Each request is checked like an HTTP/1.1
 * request head (nfltr-http2-request.h) and then goes to the local server either
 *   - over HTTP/2 (an nghttp2 client session on one connection, h2c with prior knowledge,
 *     RFC 9113 §3.3): trailers and streaming pass end to end, which gRPC needs; or
 *   - translated to HTTP/1.1, one origin connection per stream ("Connection: close").
 * NFLTR_HTTP2_ORIGIN_AUTO decides on the first request: it opens an h2c connection and
 * looks at the server's first frame (an HTTP/2 server's first bytes are its SETTINGS,
 * RFC 9113 §3.4); anything else means HTTP/1.1. With origin_tls the connections are TLS
 * (nfltr-origin-tls.h) and ALPN decides instead: h2 if the server selects it.
 *
 * Flow control is end to end: a stream's bytes are acknowledged (WINDOW_UPDATE) to the
 * sender only once the other side has taken them, so a stream buffers at most one window. */
#pragma once

#include <glib.h>

#include "nfltr-data-conn.h"

G_BEGIN_DECLS

typedef enum {
  NFLTR_HTTP2_ORIGIN_AUTO, /* probe with h2c once, then HTTP/2 or HTTP/1.1 */
  NFLTR_HTTP2_ORIGIN_H2,   /* h2c prior knowledge */
  NFLTR_HTTP2_ORIGIN_H1,   /* translate every stream to HTTP/1.1 */
  NFLTR_HTTP2_ORIGIN_NONE, /* no local server: every request is answered 502 (fuzzing, tests) */
} NfltrHttp2OriginMode;

/* How long the AUTO probe waits for the local server's first bytes. */
#define NFLTR_HTTP2_PROBE_TIMEOUT_MS 2000
/* The per-stream window we give both peers (RFC 9113 §6.9.2); the connection window is
 * NFLTR_HTTP2_CONN_WINDOW. Larger than the default 64 KiB so one stream can fill a WAN. */
#define NFLTR_HTTP2_STREAM_WINDOW (1024 * 1024)
#define NFLTR_HTTP2_CONN_WINDOW   (16 * 1024 * 1024)
/* RFC 9113 §6.5.2 SETTINGS_MAX_CONCURRENT_STREAMS we announce to the visitor. */
#define NFLTR_HTTP2_MAX_STREAMS 128

typedef struct _NfltrHttp2Proxy NfltrHttp2Proxy;

NfltrHttp2Proxy *nfltr_http2_proxy_new          (const char           *public_host,
                                                 const char           *client_ip,
                                                 const char           *origin_host,
                                                 guint16               origin_port,
                                                 NfltrHttp2OriginMode  mode,
                                                 gboolean              origin_tls,
                                                 guint                 connect_timeout_ms);
void             nfltr_http2_proxy_free         (NfltrHttp2Proxy      *self);
/* Answers every request 403 with reason, never reaching the origin: a visitor the tunnel's
 * access control turned away, told why in HTTP/2. */
void             nfltr_http2_proxy_set_refusal  (NfltrHttp2Proxy      *self,
                                                 const char           *reason);
/* Every request must carry credentials (USER:PASS) in authorization: Basic, else 401 with
 * a challenge; the field is not forwarded. */
void             nfltr_http2_proxy_set_basic_auth (NfltrHttp2Proxy    *self,
                                                   const char         *credentials);
/* Where each attempt to reach the origin is reported (a reference is taken); NULL: nowhere. */
void             nfltr_http2_proxy_set_stats    (NfltrHttp2Proxy      *self,
                                                 NfltrTunnelStats     *stats);

/* The pure half, for the fuzz target and unit tests: the visitor's bytes in, then the
 * requests that can be sent on are sent (NONE: answered at once), then the bytes for the
 * visitor out. feed() returns FALSE once the visitor's session is over (a GOAWAY went out or
 * the input was not HTTP/2); what take_output() then gives is the last for the visitor. */
gboolean         nfltr_http2_proxy_feed         (NfltrHttp2Proxy      *self,
                                                 const guint8         *data,
                                                 gsize                 len);
void             nfltr_http2_proxy_take_output  (NfltrHttp2Proxy      *self,
                                                 GByteArray           *out);

/* Runs the proxy on a thread of its own and returns the data path's end of the socketpair
 * (non-blocking, close-on-exec), or -1 with an error. Takes ownership of self; the thread
 * ends and frees it when that end is closed or the visitor's session is over. */
int              nfltr_http2_proxy_start        (NfltrHttp2Proxy      *self,
                                                 GError              **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrHttp2Proxy, nfltr_http2_proxy_free)

/* inspector (issue 9 §8): record every stream into the store registered for kind_config
 * (nfltr-inspect-registry.h), if any. */
void             nfltr_http2_proxy_set_inspect    (NfltrHttp2Proxy      *self,
                                                   GVariant             *kind_config,
                                                   const char           *client);

G_END_DECLS
