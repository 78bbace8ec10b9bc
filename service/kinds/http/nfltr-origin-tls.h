/* nfltr-origin-tls.h — TLS to the tunnel's local server (`nfltr http --origin-tls`).
 *
 * Connects, shakes hands (GnuTLS, ALPN as asked) and hands back one end of a socketpair
 * whose other end a thread of its own bridges to the TLS connection, so callers keep using
 * plain non-blocking sockets (the data path's pump, the HTTP/2 proxy). The local server's
 * certificate is not verified: it is the user's own server, typically self-signed, reached
 * on the user's own machine or network (documented in docs/security.md). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Blocking, up to timeout_ms for the TCP connect and as long again for the handshake; gives
 * up when cancel_fd (if >= 0) becomes readable. *selected_alpn (optional) gets the protocol
 * the server chose, or NULL. Returns a non-blocking close-on-exec socket or -1 and an error
 * naming the cause. */
int nfltr_origin_tls_connect (const char          *host,
                              guint16              port,
                              const char * const  *alpn,
                              guint                timeout_ms,
                              int                  cancel_fd,
                              char               **selected_alpn,
                              GError             **error);

G_END_DECLS
