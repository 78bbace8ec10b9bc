/* relay-identity.h — the relay's own certificate: ECDSA P-256, SANs <domain> and *.<domain>,
 * created on first start in the data directory (relay.crt, relay.key 0600). Agents pin its
 * fingerprint; inspectable tunnels are served with it too. */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

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
