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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayStore, relay_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayNameInfo, relay_name_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayKeyInfo, relay_key_info_free)

G_END_DECLS
