/* relay-store.h — the relay's SQLite database (relay.db in the data directory): API keys,
 * kept only as SHA-256 hashes, the tunnels the relay has seen, and who owns each name
 * (docs/protocol.md §6). */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

typedef struct {
  gint64  id;
  char   *name;
  char   *created;   /* RFC 3339 */
  char   *revoked;   /* RFC 3339, or NULL while valid */
} RelayKeyInfo;

void          relay_key_info_free   (RelayKeyInfo *info);

/* The credential a name belongs to (docs/protocol.md §6): kind "key" with the API key's id
 * today; a fleet identity will be another kind. */
#define RELAY_OWNER_KIND_KEY "key"

typedef struct {
  char     *name;
  char     *owner_kind;
  char     *owner_id;
  gint64    claimed;     /* Unix seconds: when this owner first bound it */
  gint64    last_used;   /* Unix seconds: last bound, or last let go */
  gboolean  bound;       /* in use now (or when the relay last stopped) */
} RelayNameInfo;

void          relay_name_info_free  (RelayNameInfo *info);
/* Unix seconds after which an unused reservation lapses; G_MAXINT64 while it is bound or when
 * expiry_s is 0 (never). */
gint64        relay_name_info_expires (const RelayNameInfo *info,
                                       gint64               expiry_s);

RelayStore   *relay_store_open      (const char  *data_dir,
                                     GError     **error);
void          relay_store_free      (RelayStore  *store);
/* issue 15: the open relay.db, for a track's own tables on the same connection (relay/a2a/). */
struct sqlite3 *relay_store_get_db  (RelayStore  *store);

/* Creates a key, returns it in *key (shown once, never stored) and its row id. */
gboolean      relay_store_key_create (RelayStore  *store,
                                      const char  *name,
                                      char       **key,
                                      gint64      *id,
                                      GError     **error);
/* RelayKeyInfo*, oldest first. */
GPtrArray    *relay_store_key_list   (RelayStore  *store,
                                      GError     **error);
/* NFLTR_ERROR_NOT_FOUND when there is no such key; revoking twice is not an error. */
gboolean      relay_store_key_revoke (RelayStore  *store,
                                      gint64       id,
                                      GError     **error);
/* TRUE and the key's id when key is known and not revoked. */
gboolean      relay_store_key_check  (RelayStore  *store,
                                      const char  *key,
                                      gint64      *id);

/* Replaces key old_id by a new key in one transaction: the new key (its text in *key, shown
 * once) takes over every name old_id owns, and old_id is revoked if it was not already. The
 * way back for a user whose key leaked or was revoked without losing their names (§6).
 * name NULL keeps the old key's label. *moved = how many names changed owner.
 * NFLTR_ERROR_NOT_FOUND when no key has old_id. */
gboolean      relay_store_key_rotate    (RelayStore  *store,
                                         gint64       old_id,
                                         const char  *name,
                                         char       **key,
                                         gint64      *new_id,
                                         guint       *moved,
                                         GError     **error);
/* FALSE once the key with this id is revoked (or gone). */
gboolean      relay_store_key_is_active (RelayStore *store,
                                         gint64      id);
/* A number that changes whenever another process commits to relay.db (`keys revoke`, …):
 * the running relay polls it to learn of revocations (docs/security.md). -1 on error. */
gint64        relay_store_data_version  (RelayStore *store);

/* Records that host is bound with this mode and fingerprint; *since is when it was first
 * seen so (kept across rebinds and restarts, reset when mode or fingerprint change). */
gboolean      relay_store_tunnel_seen (RelayStore  *store,
                                       const char  *host,
                                       const char  *mode,
                                       const char  *fingerprint,
                                       const char  *kind,
                                       char       **since,
                                       GError     **error);

/* Claims name for the owner at now (Unix seconds). TRUE when the name is the owner's: it was
 * free, already the owner's, or another owner's reservation has lapsed (unused for expiry_s
 * seconds; 0 = never lapses); it is then marked bound. FALSE with *holder (if not NULL) set to
 * the reservation when another owner holds it; FALSE with error set when the database fails. */
gboolean      relay_store_name_claim  (RelayStore     *store,
                                       const char     *name,
                                       const char     *owner_kind,
                                       const char     *owner_id,
                                       gint64          now,
                                       gint64          expiry_s,
                                       RelayNameInfo **holder,
                                       GError        **error);
/* The owner's binding of name went away at now: the reservation stays, and its unused time
 * starts. Nothing happens if the name is not the owner's. */
gboolean      relay_store_name_unused (RelayStore     *store,
                                       const char     *name,
                                       const char     *owner_kind,
                                       const char     *owner_id,
                                       gint64          now,
                                       GError        **error);
/* Ends the reservation. owner_kind/owner_id NULL = the operator (any owner). NFLTR_ERROR_NOT_FOUND
 * when nobody holds name; NFLTR_ERROR_NAME_TAKEN when another owner does. */
gboolean      relay_store_name_release (RelayStore    *store,
                                        const char    *name,
                                        const char    *owner_kind,
                                        const char    *owner_id,
                                        GError       **error);
/* RelayNameInfo*, by name. */
GPtrArray    *relay_store_name_list    (RelayStore    *store,
                                        GError       **error);
/* At a relay's start: names marked bound were in use until the last stop, which is as good as
 * now, so their unused time starts now (a crash must not make them lapse early). */
gboolean      relay_store_names_recover (RelayStore   *store,
                                         gint64        now,
                                         GError      **error);

/* relay/proof/: records the last check of host (Unix seconds, its result word, the declared
 * and the observed fingerprint, observed NULL when none was seen). */
gboolean      relay_store_proof_record  (RelayStore   *store,
                                         const char   *host,
                                         gint64        checked,
                                         const char   *result,
                                         const char   *declared,
                                         const char   *observed,
                                         gboolean      flagged,
                                         GError      **error);

/* ---- fleet tokens and enrolled agents (docs/security.md "Fleet tokens") ---- */

/* The secrets' shapes: a fleet token, and the credential an agent enrolled with one holds. An
 * API key is "nfltr_" and 64 hex digits. */
#define RELAY_FLEET_TOKEN_PREFIX       "nfltr_ft_"
#define RELAY_AGENT_CREDENTIAL_PREFIX  "nfltr_ag_"
/* Names bound by an enrolled agent belong to its enrolment (docs/protocol.md §6). */
#define RELAY_OWNER_KIND_AGENT "agent"

typedef struct {
  gint64  id;
  char   *name;
  char   *prefix;     /* the names its agents may bind start with this; "" = any */
  gint64  max_uses;   /* 0 = no limit */
  gint64  uses;
  gint64  expires;    /* Unix seconds; 0 = never */
  char   *created;    /* RFC 3339 */
  char   *revoked;    /* RFC 3339, or NULL */
} RelayTokenInfo;

typedef struct {
  gint64  id;
  gint64  token_id;
  char   *token_name;
  char   *agent_id;
  char   *prefix;
  char   *created;
  char   *revoked;
} RelayEnrolInfo;

void          relay_token_info_free  (RelayTokenInfo *info);
void          relay_enrol_info_free  (RelayEnrolInfo *info);

/* Creates a fleet token: returned once in *token, only its SHA-256 is kept. */
gboolean      relay_store_token_create (RelayStore  *store,
                                        const char  *name,
                                        const char  *prefix,
                                        gint64       max_uses,
                                        gint64       expires,
                                        char       **token,
                                        gint64      *id,
                                        GError     **error);
GPtrArray    *relay_store_token_list   (RelayStore  *store,
                                        GError     **error);
/* New enrolments stop; agents already enrolled keep their own credentials. */
gboolean      relay_store_token_revoke (RelayStore  *store,
                                        gint64       id,
                                        GError     **error);
/* Spends one use of token on agent_id, in one transaction, and returns the agent's new
 * credential (shown once) and the token's name prefix. NFLTR_ERROR_AUTH_FAILED with the reason
 * (unknown, revoked, expired, used up) when the token enrols nobody now. */
gboolean      relay_store_enrol        (RelayStore  *store,
                                        const char  *token,
                                        const char  *agent_id,
                                        gint64       now,
                                        char       **credential,
                                        gint64      *enrol_id,
                                        char       **prefix,
                                        GError     **error);
/* TRUE, the enrolment's id and its name prefix when credential is a live enrolment's. */
gboolean      relay_store_agent_check  (RelayStore  *store,
                                        const char  *credential,
                                        gint64      *id,
                                        char       **prefix);
gboolean      relay_store_agent_is_active (RelayStore *store,
                                           gint64      id);
GPtrArray    *relay_store_agent_list   (RelayStore  *store,
                                        GError     **error);
gboolean      relay_store_agent_revoke (RelayStore  *store,
                                        gint64       id,
                                        GError     **error);

/* The dashboard's operator password, as crypto_pwhash_str made it (argon2id); NULL when none
 * is set. */
gboolean      relay_store_operator_set_password (RelayStore  *store,
                                                 const char  *hash,
                                                 GError     **error);
char         *relay_store_operator_get_password (RelayStore  *store);

/* ---- agents' client certificates (docs/security.md "mTLS") ---- */

/* Names bound by an agent that logged in with a client certificate belong to it. */
#define RELAY_OWNER_KIND_CERT "cert"

typedef struct {
  gint64    id;
  char     *serial;    /* lower-case hex */
  char     *issuer;    /* "relay" or "operator" */
  char     *agent_id;  /* the agent it was issued to (relay), or first seen with (operator) */
  char     *prefix;    /* from the fleet token that had it issued; "" = any */
  char     *created;
  char     *revoked;
  gboolean  active;    /* not revoked, nor the key or enrolment behind it */
} RelayCertInfo;

void           relay_cert_info_free     (RelayCertInfo *info);
/* Records a certificate (key_id/enrol_id: what authorised it, -1 = nothing); an existing
 * serial keeps its row. *id is the row's. */
gboolean       relay_store_cert_record  (RelayStore  *store,
                                         const char  *serial,
                                         const char  *issuer,
                                         const char  *agent_id,
                                         gint64       key_id,
                                         gint64       enrol_id,
                                         const char  *prefix,
                                         gint64      *id,
                                         GError     **error);
/* NULL when the serial is unknown. */
RelayCertInfo *relay_store_cert_lookup  (RelayStore  *store,
                                         const char  *serial);
gboolean       relay_store_cert_is_active (RelayStore *store,
                                           gint64      id);
/* Revokes by serial; a serial never seen is recorded revoked (an operator CA's). */
gboolean       relay_store_cert_revoke  (RelayStore  *store,
                                         const char  *serial,
                                         GError     **error);
GPtrArray     *relay_store_cert_list    (RelayStore  *store,
                                         GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayCertInfo, relay_cert_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayTokenInfo, relay_token_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayEnrolInfo, relay_enrol_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayStore, relay_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayNameInfo, relay_name_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayKeyInfo, relay_key_info_free)

G_END_DECLS
