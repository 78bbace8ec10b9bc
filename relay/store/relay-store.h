/* relay-store.h — the relay's SQLite database (relay.db in the data directory): API keys,
 * kept only as SHA-256 hashes, and the tunnels the relay has seen. */
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

/* Records that host is bound with this mode and fingerprint; *since is when it was first
 * seen so (kept across rebinds and restarts, reset when mode or fingerprint change). */
gboolean      relay_store_tunnel_seen (RelayStore  *store,
                                       const char  *host,
                                       const char  *mode,
                                       const char  *fingerprint,
                                       const char  *kind,
                                       char       **since,
                                       GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayStore, relay_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayKeyInfo, relay_key_info_free)

G_END_DECLS
