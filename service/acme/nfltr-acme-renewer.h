/* nfltr-acme-renewer.h — a tunnel's ACME certificate over time (issue 11 item 7).
 *
 * One per tunnel created with --acme-domain. While the tunnel is online it obtains a
 * certificate when it has none from the CA yet, and renews at two thirds of the lifetime
 * (jittered, so a fleet started together does not renew together); a failure is retried
 * with exponential backoff (5 min doubling to 12 h, ±25 %, $NFLTR_ACME_RETRY_S sets the
 * first step) so a CA's rate limits are not hammered. The tunnel keeps serving the
 * certificate it has until a new one is issued.
 *
 * The certificate is for the tunnel's own key (the public-key pin stays the same across
 * renewals) unless acme-new-key asks for a fresh key each time. Saved as
 * certs_dir/NAME.acme.crt (chain) and NAME.acme.key (0600); the account key as
 * DATA_DIR/acme/account-<hash of the directory URL>.key (0600). */
#pragma once

#include <gio/gio.h>

#include "nfltr-data-conn.h"

G_BEGIN_DECLS

/* CreateTunnel's options (kept with the kind's options in tunnels.json). */
#define NFLTR_ACME_OPTION_DOMAIN    "acme-domain"     /* s: turns ACME on */
#define NFLTR_ACME_OPTION_DIRECTORY "acme-directory"  /* s: https URL */
#define NFLTR_ACME_OPTION_CA_BUNDLE "acme-ca-bundle"  /* s: absolute path */
#define NFLTR_ACME_OPTION_EMAIL     "acme-email"      /* s */
#define NFLTR_ACME_OPTION_NEW_KEY   "acme-new-key"    /* b */

typedef struct {
  char *domain;
  char *directory;
  char *ca_bundle;
  char *email;
  gboolean new_key;
} NfltrAcmeSettings;

/* NULL without an error when options has no acme-domain; NULL with an
 * NFLTR_ERROR_INVALID_ARGUMENT error for the user when an option is wrong. */
NfltrAcmeSettings *nfltr_acme_settings_parse (GVariant *options, GError **error);
void               nfltr_acme_settings_free  (NfltrAcmeSettings *settings);

/* The saved ACME certificate and key of tunnel name, when they are there, for the domain,
 * belong together and have not expired. Blocking file I/O. */
gboolean           nfltr_acme_load_saved     (const NfltrAcmeSettings *settings,
                                              const char              *certs_dir,
                                              const char              *name,
                                              char                   **cert_pem,
                                              char                   **key_pem);

/* "pending" (waiting for the tunnel to be online), "issuing", "valid", "failed". */
typedef enum {
  NFLTR_ACME_STATE_PENDING,
  NFLTR_ACME_STATE_ISSUING,
  NFLTR_ACME_STATE_VALID,
  NFLTR_ACME_STATE_FAILED,
} NfltrAcmeState;

const char        *nfltr_acme_state_to_string (NfltrAcmeState state);

#define NFLTR_TYPE_ACME_RENEWER (nfltr_acme_renewer_get_type ())
G_DECLARE_FINAL_TYPE (NfltrAcmeRenewer, nfltr_acme_renewer, NFLTR, ACME_RENEWER, GObject)

/* Signals (on the thread-default context of the creator):
 *   issued (cert_pem, key_pem)  a new certificate is saved: install it
 *   changed                     state, error or expiry changed */
NfltrAcmeRenewer  *nfltr_acme_renewer_new         (const NfltrAcmeSettings *settings,
                                                   const char              *certs_dir,
                                                   const char              *name,
                                                   const char              *cert_pem,
                                                   const char              *key_pem);
/* The TLS server the challenge certificates go on (the tunnel's current one). */
void               nfltr_acme_renewer_set_tls     (NfltrAcmeRenewer *self,
                                                   NfltrTunnelTls   *tls);
/* The tunnel is online (reachable through the relay): issuance may run. */
void               nfltr_acme_renewer_set_online  (NfltrAcmeRenewer *self,
                                                   gboolean          online);
/* Cancels a running issuance; nothing runs after. */
void               nfltr_acme_renewer_stop        (NfltrAcmeRenewer *self);
NfltrAcmeState     nfltr_acme_renewer_get_state   (NfltrAcmeRenewer *self);
/* The last failure in words, "" when the last attempt worked. */
const char        *nfltr_acme_renewer_get_error   (NfltrAcmeRenewer *self);
/* notAfter of the current ACME certificate (Unix seconds), 0 when none. */
gint64             nfltr_acme_renewer_get_expires (NfltrAcmeRenewer *self);
const char        *nfltr_acme_renewer_get_domain  (NfltrAcmeRenewer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrAcmeSettings, nfltr_acme_settings_free)

G_END_DECLS
