/* nfltr-cert.h — certificates and fingerprints (GnuTLS).
 *
 * A fingerprint is the SHA-256 of the certificate's DER encoding, written
 * "sha256:" + 64 lower-case hex digits. The same string is shown by the CLI, the app,
 * the relay's API and every proof. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NFLTR_FINGERPRINT_PREFIX "sha256:"
#define NFLTR_FINGERPRINT_LEN    32

char     *nfltr_fingerprint_format   (const guint8 digest[NFLTR_FINGERPRINT_LEN]);
/* Accepts "sha256:<hex>", bare hex, and hex with ':' separators (as openssl prints). */
gboolean  nfltr_fingerprint_parse    (const char *text, guint8 digest[NFLTR_FINGERPRINT_LEN]);
void      nfltr_fingerprint_of_der   (const guint8 *der, gsize len, guint8 digest[NFLTR_FINGERPRINT_LEN]);
/* "sha256:…" of a GIO certificate (a TLS peer's), or NULL when it has none. */
char     *nfltr_fingerprint_of_tls_certificate (GTlsCertificate *cert);
/* Fingerprint of the first certificate in a PEM buffer. */
gboolean  nfltr_fingerprint_of_pem   (const char *pem, gsize len, guint8 digest[NFLTR_FINGERPRINT_LEN], GError **error);

/* Generates a self-signed ECDSA P-256 certificate valid for dns_names (NULL-terminated,
 * first is the subject CN) for `days` days. PEM out. */
gboolean  nfltr_cert_generate        (const char * const *dns_names,
                                      guint               days,
                                      char              **cert_pem,
                                      char              **key_pem,
                                      GError            **error);

/* Loads cert_path/key_path if both exist, else generates (as above) and writes them
 * atomically, the key 0600. Parent directories are created 0700. */
gboolean  nfltr_cert_load_or_create  (const char         *cert_path,
                                      const char         *key_path,
                                      const char * const *dns_names,
                                      char              **cert_pem,
                                      char              **key_pem,
                                      GError            **error);

/* Reads a user-supplied pair and checks it: both readable, both PEM, key matches the
 * certificate's public key. Errors are NFLTR_ERROR_CERTIFICATE naming the file and fault. */
gboolean  nfltr_cert_load_pair       (const char  *cert_path,
                                      const char  *key_path,
                                      char       **cert_pem,
                                      char       **key_pem,
                                      GError     **error);

G_END_DECLS
