/* nfltr-acme-jws.h — the ACME account key and JSON Web Signatures (RFC 8555 §6.2, RFC 7515,
 * RFC 7518 §3.4 ES256, RFC 7638 thumbprints).
 *
 * The account key is ECDSA P-256, kept as PEM (0600) in the service's state directory. */
#pragma once

#include <gio/gio.h>
#include <gnutls/abstract.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _NfltrAcmeKey NfltrAcmeKey;

/* base64url without padding (RFC 7515 §2, RFC 4648 §5). */
char         *nfltr_acme_base64url            (const guint8 *data,
                                               gsize         len);

NfltrAcmeKey *nfltr_acme_key_new_from_pem     (const char   *pem,
                                               GError      **error);
/* A fresh P-256 key; *pem (optional) gets its PKCS#8 PEM. */
NfltrAcmeKey *nfltr_acme_key_generate         (char        **pem,
                                               GError      **error);
/* Loads path, or creates a new key there (0600, parent 0700) when it does not exist. */
NfltrAcmeKey *nfltr_acme_key_load_or_create   (const char   *path,
                                               GError      **error);
void          nfltr_acme_key_free             (NfltrAcmeKey *key);

/* The public JWK in RFC 7638's canonical form: {"crv":"P-256","kty":"EC","x":"…","y":"…"}. */
const char   *nfltr_acme_key_get_jwk          (NfltrAcmeKey *key);
/* base64url (SHA-256 (canonical JWK)) (RFC 7638 §3). */
const char   *nfltr_acme_key_get_thumbprint   (NfltrAcmeKey *key);

/* The RFC 7638 thumbprint of any JWK object (EC, RSA, oct): only the required members,
 * sorted, no whitespace, then SHA-256, base64url. NULL and an error for a JWK that lacks
 * them. */
char         *nfltr_acme_jwk_thumbprint       (JsonObject   *jwk,
                                               GError      **error);

/* The flattened JWS (RFC 7515 §7.2.2) an ACME request body is (RFC 8555 §6.2): protected
 * header {"alg":"ES256", "nonce", "url", and "kid" when kid is not NULL, else "jwk"};
 * payload NULL is POST-as-GET (an empty payload, §6.3). */
char         *nfltr_acme_jws_sign             (NfltrAcmeKey *key,
                                               const char   *kid,
                                               const char   *nonce,
                                               const char   *url,
                                               const char   *payload,
                                               GError      **error);
/* ES256: the raw r‖s signature (64 bytes) of data. */
GBytes       *nfltr_acme_key_sign_es256       (NfltrAcmeKey *key,
                                               const guint8 *data,
                                               gsize         len,
                                               GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrAcmeKey, nfltr_acme_key_free)

G_END_DECLS
