/* nfltr-acme-json.h — the ACME server's JSON answers (RFC 8555 §7.1), parsed into structs.
 *
 * Every field is checked for its type; anything missing or mistyped that the protocol needs
 * is an NFLTR_ERROR_PROTOCOL error naming the object and the field. The CA is outside input:
 * fuzz/fuzz-acme-json.c feeds these parsers. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* §7.1.1 */
typedef struct {
  char *new_nonce;
  char *new_account;
  char *new_order;
  char *terms_of_service;  /* meta.termsOfService, or NULL */
} NfltrAcmeDirectory;

/* RFC 7807 problem document, §6.7; subproblems flattened to the first one's detail. */
typedef struct {
  char *type;        /* "urn:ietf:params:acme:error:rejectedIdentifier" or NULL */
  char *detail;      /* or NULL */
  char *sub_detail;  /* the first subproblem's detail, or NULL */
  guint status;      /* 0 when absent */
} NfltrAcmeProblem;

typedef enum {
  NFLTR_ACME_STATUS_UNKNOWN,
  NFLTR_ACME_STATUS_PENDING,
  NFLTR_ACME_STATUS_READY,
  NFLTR_ACME_STATUS_PROCESSING,
  NFLTR_ACME_STATUS_VALID,
  NFLTR_ACME_STATUS_INVALID,
  NFLTR_ACME_STATUS_EXPIRED,
  NFLTR_ACME_STATUS_DEACTIVATED,
  NFLTR_ACME_STATUS_REVOKED,
} NfltrAcmeStatus;

/* §7.1.3 */
typedef struct {
  NfltrAcmeStatus status;
  char **authorizations;   /* NULL-terminated, never NULL */
  char *finalize;
  char *certificate;       /* or NULL until valid */
  NfltrAcmeProblem *error; /* or NULL */
} NfltrAcmeOrder;

/* §7.1.5 */
typedef struct {
  char *type;
  char *url;
  char *token;             /* or NULL (a type without one) */
  NfltrAcmeStatus status;
  NfltrAcmeProblem *error; /* or NULL */
} NfltrAcmeChallenge;

/* §7.1.4 */
typedef struct {
  NfltrAcmeStatus status;
  char *identifier;        /* identifier.value */
  GPtrArray *challenges;   /* NfltrAcmeChallenge* */
} NfltrAcmeAuthorization;

NfltrAcmeStatus         nfltr_acme_status_parse          (const char *text);
const char             *nfltr_acme_status_to_string      (NfltrAcmeStatus status);

NfltrAcmeDirectory     *nfltr_acme_directory_parse       (const char *data, gsize len, GError **error);
void                    nfltr_acme_directory_free        (NfltrAcmeDirectory *dir);
/* NULL and an error when data is not a problem document (no JSON object). */
NfltrAcmeProblem       *nfltr_acme_problem_parse         (const char *data, gsize len, GError **error);
void                    nfltr_acme_problem_free          (NfltrAcmeProblem *problem);
/* The problem in words for the user, e.g. "the CA refused the name: … (rejectedIdentifier)". */
char                   *nfltr_acme_problem_to_message    (const NfltrAcmeProblem *problem);
NfltrAcmeOrder         *nfltr_acme_order_parse           (const char *data, gsize len, GError **error);
void                    nfltr_acme_order_free            (NfltrAcmeOrder *order);
NfltrAcmeAuthorization *nfltr_acme_authorization_parse   (const char *data, gsize len, GError **error);
void                    nfltr_acme_authorization_free    (NfltrAcmeAuthorization *authz);
/* The challenge of type in authz, or NULL. Transfer none. */
NfltrAcmeChallenge     *nfltr_acme_authorization_find    (NfltrAcmeAuthorization *authz,
                                                          const char             *type);
/* The "status" of any object (an account, a challenge), UNKNOWN when absent. */
NfltrAcmeStatus         nfltr_acme_object_status_parse   (const char *data, gsize len, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrAcmeDirectory, nfltr_acme_directory_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrAcmeProblem, nfltr_acme_problem_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrAcmeOrder, nfltr_acme_order_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrAcmeAuthorization, nfltr_acme_authorization_free)

G_END_DECLS
