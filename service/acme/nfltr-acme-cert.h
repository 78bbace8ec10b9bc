/* nfltr-acme-cert.h — the certificates ACME needs: the TLS-ALPN-01 challenge certificate
 * (RFC 8737), the CSR of finalize (RFC 8555 §7.4), and what we read back from an issued
 * chain. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* RFC 8737 §3: id-pe-acmeIdentifier. */
#define NFLTR_ACME_IDENTIFIER_OID "1.3.6.1.5.5.7.1.31"

/* RFC 8555 §8.1: token "." base64url(JWK thumbprint). */
char     *nfltr_acme_key_authorization       (const char  *token,
                                              const char  *thumbprint);
/* RFC 8737 §3: the extension's value, DER of Authorization ::= OCTET STRING (SIZE (32)) holding
 * SHA-256 (key authorization): 04 20 <32 bytes>. */
GBytes   *nfltr_acme_identifier_extension    (const char  *key_authorization);
/* A self-signed certificate for the validation: dNSName SAN = name, the acmeIdentifier
 * extension (critical) for key_authorization, a fresh P-256 key. */
gboolean  nfltr_acme_challenge_certificate   (const char  *name,
                                              const char  *key_authorization,
                                              char       **cert_pem,
                                              char       **key_pem,
                                              GError     **error);
/* The DER CSR for name signed by key_pem (the tunnel's key), base64url as finalize wants it. */
char     *nfltr_acme_csr                     (const char  *name,
                                              const char  *key_pem,
                                              GError     **error);

/* The leaf (first certificate) of a PEM chain: validity as Unix times, and whether its
 * public key is key_pem's (when key_pem is not NULL; FALSE with an error when not). */
gboolean  nfltr_acme_chain_info              (const char  *chain_pem,
                                              const char  *key_pem,
                                              const char  *name,
                                              gint64      *not_before,
                                              gint64      *not_after,
                                              GError     **error);

/* TRUE when the first certificate of pem is its own issuer (the agent's generated one), or
 * does not parse. */
gboolean  nfltr_acme_cert_is_self_signed     (const char  *pem);

G_END_DECLS
