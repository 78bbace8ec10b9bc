/* nfltr-acme-client.h — one certificate issuance from an ACME CA (RFC 8555 §7), answering
 * TLS-ALPN-01 (RFC 8737) through the tunnel itself.
 *
 * The steps: the directory (§7.1.1), a nonce (§7.2), the account (§7.3: newAccount with the
 * account key's JWK; the CA answers the existing account for a known key), the order (§7.4),
 * each authorization's tls-alpn-01 challenge — the challenge certificate is handed to
 * set_challenge, which puts it on the tunnel's TLS server, then the challenge is answered
 * and the authorization polled — finalize with a CSR for the tunnel's key, the order polled
 * until valid, the chain downloaded (§7.4.2). A problem document (RFC 7807) from the CA ends
 * it with the problem in words (nfltr_acme_problem_to_message); a badNonce is retried. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The default directory: Let's Encrypt's production CA. */
#define NFLTR_ACME_DEFAULT_DIRECTORY "https://acme-v02.api.letsencrypt.org/directory"

typedef struct {
  const char *directory_url;
  const char *ca_bundle;         /* PEM file of CAs trusted for the directory's HTTPS, or NULL */
  const char *email;             /* account contact, or NULL */
  const char *account_key_path;  /* created 0600 on first use */
  const char *domain;            /* the certificate's one DNS name */
  const char *key_pem;           /* the key the certificate is for (the tunnel's) */
} NfltrAcmeRequest;

/* Puts the challenge certificate for domain on the tunnel's TLS server (cert_pem != NULL), or
 * takes it away (cert_pem == NULL). Called on the issuing thread. */
typedef gboolean (*NfltrAcmeChallengeFunc) (const char *domain,
                                             const char *cert_pem,
                                             const char *key_pem,
                                             gpointer    user_data,
                                             GError    **error);

/* Blocking (HTTP, waits for the CA): run it on a worker thread. Returns the PEM chain, leaf
 * first, checked to be for domain and for request->key_pem's key. */
char *nfltr_acme_issue (const NfltrAcmeRequest *request,
                        NfltrAcmeChallengeFunc  set_challenge,
                        gpointer                user_data,
                        GCancellable           *cancellable,
                        GError                **error);

G_END_DECLS
