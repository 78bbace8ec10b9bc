/* nfltr-tunnel-tls-acme.h — the ACME TLS-ALPN-01 hook of a tunnel's TLS server (issue 11
 * item 7; RFC 8737). Implemented in nfltr-tunnel-tls.c, used by service/acme/. */
#pragma once

#include "nfltr-data-conn.h"

G_BEGIN_DECLS

/* RFC 8737 §6.2: the ALPN protocol ID of the challenge. */
#define NFLTR_ACME_TLS_ALPN "acme-tls/1"

/* From now on a ClientHello for name (SNI) that negotiates "acme-tls/1" is served cert_pem
 * (the challenge certificate with its acmeIdentifier extension) instead of the tunnel's
 * certificate, and ends after the handshake. Replaces any earlier challenge. Any thread. */
gboolean nfltr_tunnel_tls_set_acme_challenge   (NfltrTunnelTls *tls,
                                                const char     *name,
                                                const char     *cert_pem,
                                                const char     *key_pem,
                                                GError        **error);
/* No challenge: "acme-tls/1" is no longer offered. Any thread. */
void     nfltr_tunnel_tls_clear_acme_challenge (NfltrTunnelTls *tls);

G_END_DECLS
