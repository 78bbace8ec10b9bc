/* relay-identity.h — the relay's own certificate: ECDSA P-256, SANs <domain> and *.<domain>,
 * created on first start in the data directory (relay.crt, relay.key 0600). Agents pin its
 * fingerprint; inspectable tunnels are served with it too. */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

/* The relay's TLS, on its own name and in inspectable mode (issue 8 §5): TLS 1.2 and 1.3,
 * ECDHE with AEAD suites only, the server's order. The tunnels' GnuTLS servers use the same
 * suites (service/tunnels/nfltr-tunnel-tls.c). */
#define RELAY_TLS_PRIORITIES                                                              \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"   \
  "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

/* Makes every TLS connection of this process use RELAY_TLS_PRIORITIES. GIO has no per-
 * connection priority, and its GnuTLS backend reads G_TLS_GNUTLS_PRIORITY once, when the
 * first TLS connection is made: call this first thing in main, before any thread. */
void           relay_tls_use_strict_priorities (void);

struct _RelayIdentity {
  GTlsCertificate *certificate;  /* with its private key */
  char            *fingerprint;  /* "sha256:<hex>" */
  char            *cert_path;
};

RelayIdentity *relay_identity_load (const char  *data_dir,
                                    const char  *domain,
                                    GError     **error);
void           relay_identity_free (RelayIdentity *identity);

/* A GTlsServerConnection with the relay certificate over base (TLS 1.2+), not yet
 * handshaken. alpn may be NULL. */
GIOStream     *relay_identity_new_server (RelayIdentity      *identity,
                                          GIOStream          *base,
                                          const char * const *alpn,
                                          GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayIdentity, relay_identity_free)

G_END_DECLS
