/* relay-store-private.h — what the store's files share: the open database and the helpers
 * around it. Not for the rest of the relay (relay-store.h is the API). */
#pragma once

#include "relay-store.h"

#include <sqlite3.h>

G_BEGIN_DECLS

/* Bytes of randomness in an API key or other secret shown once. */
#define RELAY_KEY_RANDOM_LEN 32

struct _RelayStore {
  sqlite3 *db;
  char    *path;
};

/* Sets "PATH: WHAT failed: sqlite's message"; returns FALSE. */
gboolean relay_store_fail          (RelayStore *store, GError **error, const char *what);
char    *relay_store_now_rfc3339   (void);
/* SHA-256 hex of a secret: what the store keeps instead of it. */
char    *relay_store_hash_secret   (const char *secret);
char    *relay_store_column_text   (sqlite3_stmt *stmt, int col);
/* PREFIX followed by 64 hex digits of fresh randomness: a secret shown once. */
char    *relay_store_random_secret (const char *prefix, GError **error);
/* UPDATE … SET revoked = ?1 WHERE id = ?2, once; NFLTR_ERROR_NOT_FOUND when no row has the id. */
gboolean relay_store_revoke_row    (RelayStore *store, const char *sql, gint64 id, const char *what,
                                    GError **error);
gboolean relay_store_row_is_active (RelayStore *store, const char *sql, gint64 id, const char *what);

G_END_DECLS
