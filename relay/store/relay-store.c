/* relay-store.c — SQLite: keys (hashes only), tunnels seen and names' owners.
 *
 * Queries are a few rows on a local file and run on the main thread; the database is in WAL
 * mode with a busy timeout so `nfltr-relay keys …` can write while a relay is serving. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-store.h"
#include "nfltr-error.h"

#include <gnutls/crypto.h>
#include <sqlite3.h>
#include <glib/gstdio.h>
#include <errno.h>

#define RELAY_KEY_PREFIX     "nfltr_"
#define RELAY_KEY_RANDOM_LEN 32

struct _RelayStore {
  sqlite3 *db;
  char    *path;
};

static const char schema[] =
  "PRAGMA journal_mode=WAL;"
  "CREATE TABLE IF NOT EXISTS keys ("
  "  id      INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  name    TEXT NOT NULL DEFAULT '',"
  "  hash    TEXT NOT NULL UNIQUE,"         /* hex SHA-256 of the key text */
  "  created TEXT NOT NULL,"
  "  revoked TEXT);"
  "CREATE TABLE IF NOT EXISTS tunnels ("
  "  host        TEXT PRIMARY KEY,"
  "  mode        TEXT NOT NULL,"
  "  fingerprint TEXT NOT NULL,"
  "  kind        TEXT,"
  "  since       TEXT NOT NULL,"
  "  last_seen   TEXT NOT NULL);"
  /* docs/protocol.md §6: a name belongs to a credential while bound and, unused, until released
   * or until the relay's --name-expiry passes. Times are Unix seconds. */
  "CREATE TABLE IF NOT EXISTS names ("
  "  name       TEXT PRIMARY KEY,"
  "  owner_kind TEXT NOT NULL,"
  "  owner_id   TEXT NOT NULL,"
  "  claimed    INTEGER NOT NULL,"
  "  last_used  INTEGER NOT NULL,"
  "  bound      INTEGER NOT NULL DEFAULT 0);"
  /* docs/security.md "Fleet tokens": a token enrols agents (hash only); each enrolment is
   * an agent's own credential (hash only), cut alone or with every other of its token. */
  "CREATE TABLE IF NOT EXISTS fleet_tokens ("
  "  id       INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  name     TEXT NOT NULL DEFAULT '',"
  "  hash     TEXT NOT NULL UNIQUE,"
  "  prefix   TEXT NOT NULL DEFAULT '',"
  "  max_uses INTEGER NOT NULL,"            /* 0 = no limit */
  "  uses     INTEGER NOT NULL DEFAULT 0,"
  "  expires  INTEGER NOT NULL DEFAULT 0,"  /* Unix seconds; 0 = never */
  "  created  TEXT NOT NULL,"
  "  revoked  TEXT);"
  "CREATE TABLE IF NOT EXISTS enrolments ("
  "  id       INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  token_id INTEGER NOT NULL,"
  "  agent_id TEXT NOT NULL,"
  "  hash     TEXT NOT NULL UNIQUE,"
  "  created  TEXT NOT NULL,"
  "  revoked  TEXT);"
  /* The dashboard's operator password (docs/security.md "Dashboard"): an argon2id string. */
  "CREATE TABLE IF NOT EXISTS operator ("
  "  id       INTEGER PRIMARY KEY CHECK (id = 1),"
  "  password TEXT NOT NULL,"
  "  changed  TEXT NOT NULL);"
  /* docs/security.md "mTLS": agents' client certificates by serial (lower-case hex), issued
   * here (issuer 'relay', with the key or enrolment that authorised them) or by the
   * operator's --agent-ca (issuer 'operator', recorded when first seen or revoked). */
  "CREATE TABLE IF NOT EXISTS certs ("
  "  id       INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  serial   TEXT NOT NULL UNIQUE,"
  "  issuer   TEXT NOT NULL,"
  "  agent_id TEXT,"
  "  key_id   INTEGER,"
  "  enrol_id INTEGER,"
  "  prefix   TEXT NOT NULL DEFAULT '',"
  "  created  TEXT NOT NULL,"
  "  revoked  TEXT);"
  /* relay/proof/: the relay's own checks of verified tunnels, the latest per host (issue 11). */
  "CREATE TABLE IF NOT EXISTS proof_checks ("
  "  host     TEXT PRIMARY KEY,"
  "  checked  INTEGER NOT NULL,"            /* Unix seconds */
  "  result   TEXT NOT NULL,"
  "  declared TEXT NOT NULL,"
  "  observed TEXT,"
  "  flagged  INTEGER NOT NULL DEFAULT 0);";

void
relay_key_info_free (RelayKeyInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->created);
  g_free (info->revoked);
  g_free (info);
}

void
relay_name_info_free (RelayNameInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->owner_kind);
  g_free (info->owner_id);
  g_free (info);
}

gint64
relay_name_info_expires (const RelayNameInfo *info, gint64 expiry_s)
{
  if (info->bound || expiry_s <= 0 || info->last_used > G_MAXINT64 - expiry_s)
    return G_MAXINT64;
  return info->last_used + expiry_s;
}

static gboolean
db_fail (RelayStore *store, GError **error, const char *what)
{
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: %s failed: %s",
               store->path, what, sqlite3_errmsg (store->db));
  return FALSE;
}

static char *
now_rfc3339 (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  return g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
}

static char *
hash_key (const char *key)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
}

RelayStore *
relay_store_open (const char *data_dir, GError **error)
{
  g_autoptr(RelayStore) store = g_new0 (RelayStore, 1);
  char *message = NULL;

  if (g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                   "cannot create data directory %s: %s", data_dir, g_strerror (saved));
      return NULL;
    }
  store->path = g_build_filename (data_dir, "relay.db", NULL);
  if (sqlite3_open_v2 (store->path, &store->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                       NULL) != SQLITE_OK)
    {
      db_fail (store, error, "open");
      return NULL;
    }
  sqlite3_busy_timeout (store->db, 2000);
  if (sqlite3_exec (store->db, schema, NULL, NULL, &message) != SQLITE_OK)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: cannot create tables: %s",
                   store->path, message);
      sqlite3_free (message);
      return NULL;
    }
  g_chmod (store->path, 0600);
  return g_steal_pointer (&store);
}

struct sqlite3 *
relay_store_get_db (RelayStore *store)
{
  return store->db;
}

void
relay_store_free (RelayStore *store)
{
  if (store == NULL)
    return;
  sqlite3_close (store->db);
  g_free (store->path);
  g_free (store);
}

gboolean
relay_store_key_create (RelayStore *store, const char *name, char **key, gint64 *id, GError **error)
{
  guint8 random[RELAY_KEY_RANDOM_LEN];
  GString *text = g_string_new (RELAY_KEY_PREFIX);
  g_autofree char *hash = NULL;
  g_autofree char *created = now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (gnutls_rnd (GNUTLS_RND_KEY, random, sizeof random) != 0)
    {
      g_string_free (text, TRUE);
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "no random bytes for a key");
      return FALSE;
    }
  for (guint i = 0; i < sizeof random; i++)
    g_string_append_printf (text, "%02x", random[i]);
  hash = hash_key (text->str);

  if (sqlite3_prepare_v2 (store->db, "INSERT INTO keys (name, hash, created) VALUES (?, ?, ?)",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      g_string_free (text, TRUE);
      return db_fail (store, error, "prepare insert");
    }
  sqlite3_bind_text (stmt, 1, name ? name : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, created, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    {
      g_string_free (text, TRUE);
      return db_fail (store, error, "insert key");
    }
  if (id != NULL)
    *id = sqlite3_last_insert_rowid (store->db);
  *key = g_string_free (text, FALSE);
  return TRUE;
}

static char *
column_text (sqlite3_stmt *stmt, int col)
{
  const unsigned char *text = sqlite3_column_text (stmt, col);
  return text ? g_strdup ((const char *) text) : NULL;
}

GPtrArray *
relay_store_key_list (RelayStore *store, GError **error)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_key_info_free);
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (store->db, "SELECT id, name, created, revoked FROM keys ORDER BY id",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (store, error, "prepare list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RelayKeyInfo *info = g_new0 (RelayKeyInfo, 1);
      info->id = sqlite3_column_int64 (stmt, 0);
      info->name = column_text (stmt, 1);
      info->created = column_text (stmt, 2);
      info->revoked = column_text (stmt, 3);
      g_ptr_array_add (keys, info);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      db_fail (store, error, "list keys");
      return NULL;
    }
  return g_steal_pointer (&keys);
}

gboolean
relay_store_key_revoke (RelayStore *store, gint64 id, GError **error)
{
  g_autofree char *now = now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db,
                          "UPDATE keys SET revoked = coalesce(revoked, ?) WHERE id = ?",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare revoke");
  sqlite3_bind_text (stmt, 1, now, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, id);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "revoke key");
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND, "no API key with id %" G_GINT64_FORMAT, id);
      return FALSE;
    }
  return TRUE;
}

gboolean
relay_store_key_check (RelayStore *store, const char *key, gint64 *id)
{
  g_autofree char *hash = hash_key (key);
  sqlite3_stmt *stmt = NULL;
  gboolean found = FALSE;

  if (sqlite3_prepare_v2 (store->db,
                          "SELECT id FROM keys WHERE hash = ? AND revoked IS NULL",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      g_message ("%s: cannot check API key: %s", store->path, sqlite3_errmsg (store->db));
      return FALSE;
    }
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      found = TRUE;
      if (id != NULL)
        *id = sqlite3_column_int64 (stmt, 0);
    }
  sqlite3_finalize (stmt);
  return found;
}

static gboolean
exec_sql (RelayStore *store, const char *sql, GError **error)
{
  if (sqlite3_exec (store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return db_fail (store, error, sql);
  return TRUE;
}

/* The old key's label, or NULL with NFLTR_ERROR_NOT_FOUND. */
static char *
key_label (RelayStore *store, gint64 id, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  char *label = NULL;

  if (sqlite3_prepare_v2 (store->db, "SELECT name FROM keys WHERE id = ?", -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (store, error, "prepare key lookup");
      return NULL;
    }
  sqlite3_bind_int64 (stmt, 1, id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    label = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  else
    g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND, "no API key with id %" G_GINT64_FORMAT, id);
  sqlite3_finalize (stmt);
  return label;
}

static gboolean
names_move (RelayStore *store, gint64 from, gint64 to, guint *moved, GError **error)
{
  g_autofree char *from_id = g_strdup_printf ("%" G_GINT64_FORMAT, from);
  g_autofree char *to_id = g_strdup_printf ("%" G_GINT64_FORMAT, to);
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db,
                          "UPDATE names SET owner_id = ?1 WHERE owner_kind = ?3 AND owner_id = ?2",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare name move");
  sqlite3_bind_text (stmt, 1, to_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, from_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, RELAY_OWNER_KIND_KEY, -1, SQLITE_STATIC);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "move names");
  *moved = (guint) sqlite3_changes (store->db);
  return TRUE;
}

gboolean
relay_store_key_rotate (RelayStore *store, gint64 old_id, const char *name, char **key,
                        gint64 *new_id, guint *moved, GError **error)
{
  g_autofree char *label = NULL;
  g_autofree char *text = NULL;
  gint64 id = 0;
  guint count = 0;

  /* IMMEDIATE: a running relay's BIND cannot claim a name between the move and the revoke. */
  if (!exec_sql (store, "BEGIN IMMEDIATE", error))
    return FALSE;
  label = key_label (store, old_id, error);
  if (label == NULL ||
      !relay_store_key_create (store, name != NULL ? name : label, &text, &id, error) ||
      !names_move (store, old_id, id, &count, error) ||
      (!relay_store_key_revoke (store, old_id, error)) ||
      !exec_sql (store, "COMMIT", error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  *key = g_steal_pointer (&text);
  if (new_id != NULL)
    *new_id = id;
  if (moved != NULL)
    *moved = count;
  return TRUE;
}

gboolean
relay_store_key_is_active (RelayStore *store, gint64 id)
{
  sqlite3_stmt *stmt = NULL;
  gboolean active;

  if (sqlite3_prepare_v2 (store->db, "SELECT 1 FROM keys WHERE id = ? AND revoked IS NULL",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      /* A database that cannot be read says nothing about the key: keep the agent. */
      g_message ("%s: cannot check API key %" G_GINT64_FORMAT ": %s", store->path, id,
                 sqlite3_errmsg (store->db));
      return TRUE;
    }
  sqlite3_bind_int64 (stmt, 1, id);
  active = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_finalize (stmt);
  return active;
}

gint64
relay_store_data_version (RelayStore *store)
{
  sqlite3_stmt *stmt = NULL;
  gint64 version = -1;

  /* https://sqlite.org/pragma.html#pragma_data_version: changes when another connection
   * (`nfltr-relay keys revoke`, another process) commits; a cheap read of the WAL index. */
  if (sqlite3_prepare_v2 (store->db, "PRAGMA data_version", -1, &stmt, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return version;
}

gboolean
relay_store_tunnel_seen (RelayStore *store, const char *host, const char *mode,
                         const char *fingerprint, const char *kind, char **since, GError **error)
{
  g_autofree char *now = now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  /* Keep `since` when the tunnel comes back unchanged; restart it when its identity changes. */
  if (sqlite3_prepare_v2 (store->db,
                          "INSERT INTO tunnels (host, mode, fingerprint, kind, since, last_seen)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
                          " ON CONFLICT(host) DO UPDATE SET"
                          "  since = CASE WHEN mode = excluded.mode AND fingerprint = excluded.fingerprint"
                          "               THEN since ELSE excluded.since END,"
                          "  mode = excluded.mode, fingerprint = excluded.fingerprint,"
                          "  kind = excluded.kind, last_seen = excluded.last_seen"
                          " RETURNING since",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare tunnel");
  sqlite3_bind_text (stmt, 1, host, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, mode, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, fingerprint, -1, SQLITE_TRANSIENT);
  if (kind != NULL)
    sqlite3_bind_text (stmt, 4, kind, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, 4);
  sqlite3_bind_text (stmt, 5, now, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_ROW;
  if (ok && since != NULL)
    *since = column_text (stmt, 0);
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "record tunnel");
  return TRUE;
}

#define NAME_COLUMNS "name, owner_kind, owner_id, claimed, last_used, bound"

static RelayNameInfo *
name_info_from_row (sqlite3_stmt *stmt)
{
  RelayNameInfo *info = g_new0 (RelayNameInfo, 1);

  info->name = column_text (stmt, 0);
  info->owner_kind = column_text (stmt, 1);
  info->owner_id = column_text (stmt, 2);
  info->claimed = sqlite3_column_int64 (stmt, 3);
  info->last_used = sqlite3_column_int64 (stmt, 4);
  info->bound = sqlite3_column_int (stmt, 5) != 0;
  return info;
}

/* The reservation of name, or NULL (error unset) when there is none. */
static RelayNameInfo *
name_lookup (RelayStore *store, const char *name, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  RelayNameInfo *info = NULL;
  int rc;

  if (sqlite3_prepare_v2 (store->db, "SELECT " NAME_COLUMNS " FROM names WHERE name = ?",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (store, error, "prepare name lookup");
      return NULL;
    }
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    info = name_info_from_row (stmt);
  else if (rc != SQLITE_DONE)
    db_fail (store, error, "look up name");
  sqlite3_finalize (stmt);
  return info;
}

gboolean
relay_store_name_claim (RelayStore *store, const char *name, const char *owner_kind,
                        const char *owner_id, gint64 now, gint64 expiry_s,
                        RelayNameInfo **holder, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  /* One statement, so a concurrent `nfltr-relay names release` or a second relay process
   * cannot slip between the check and the write: the update happens only for the same owner
   * or a lapsed reservation. */
  if (sqlite3_prepare_v2 (store->db,
                          "INSERT INTO names (" NAME_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?4, 1)"
                          " ON CONFLICT(name) DO UPDATE SET"
                          "  claimed = CASE WHEN owner_kind = excluded.owner_kind"
                          "                  AND owner_id = excluded.owner_id"
                          "                 THEN claimed ELSE excluded.claimed END,"
                          "  owner_kind = excluded.owner_kind, owner_id = excluded.owner_id,"
                          "  last_used = excluded.last_used, bound = 1"
                          " WHERE (owner_kind = excluded.owner_kind AND owner_id = excluded.owner_id)"
                          "    OR (bound = 0 AND ?5 > 0 AND last_used <= ?4 - ?5)",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare name claim");
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, owner_kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, owner_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, now);
  sqlite3_bind_int64 (stmt, 5, MAX (expiry_s, 0));
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "claim name");
  if (sqlite3_changes (store->db) > 0)
    return TRUE;
  if (holder != NULL)
    {
      g_autoptr(GError) local = NULL;

      *holder = name_lookup (store, name, &local);
      if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  return FALSE;
}

gboolean
relay_store_name_unused (RelayStore *store, const char *name, const char *owner_kind,
                         const char *owner_id, gint64 now, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db,
                          "UPDATE names SET bound = 0, last_used = ?4"
                          " WHERE name = ?1 AND owner_kind = ?2 AND owner_id = ?3",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare name unused");
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, owner_kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, owner_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, now);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "mark name unused");
  return TRUE;
}

gboolean
relay_store_name_release (RelayStore *store, const char *name, const char *owner_kind,
                          const char *owner_id, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  g_return_val_if_fail ((owner_kind == NULL) == (owner_id == NULL), FALSE);

  if (sqlite3_prepare_v2 (store->db,
                          "DELETE FROM names WHERE name = ?1"
                          " AND (?2 IS NULL OR (owner_kind = ?2 AND owner_id = ?3))",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare name release");
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  if (owner_kind != NULL)
    {
      sqlite3_bind_text (stmt, 2, owner_kind, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (stmt, 3, owner_id, -1, SQLITE_TRANSIENT);
    }
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "release name");
  if (sqlite3_changes (store->db) == 0)
    {
      g_autoptr(RelayNameInfo) info = name_lookup (store, name, NULL);

      if (info != NULL)
        g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN,
                     "name “%s” is reserved for another owner", name);
      else
        g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND,
                     "name “%s” is not reserved", name);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
relay_store_name_list (RelayStore *store, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_name_info_free);
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (store->db, "SELECT " NAME_COLUMNS " FROM names ORDER BY name",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (store, error, "prepare name list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (names, name_info_from_row (stmt));
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      db_fail (store, error, "list names");
      return NULL;
    }
  return g_steal_pointer (&names);
}

gboolean
relay_store_names_recover (RelayStore *store, gint64 now, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db, "UPDATE names SET bound = 0, last_used = ? WHERE bound != 0",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare name recovery");
  sqlite3_bind_int64 (stmt, 1, now);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "recover names");
  return TRUE;
}

/* relay/proof/: the last check of host. flagged stays set once a check of this declared
 * fingerprint saw another certificate; a new declared fingerprint starts afresh. */
gboolean
relay_store_proof_record (RelayStore *store, const char *host, gint64 checked, const char *result,
                          const char *declared, const char *observed, gboolean flagged,
                          GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db,
                          "INSERT INTO proof_checks (host, checked, result, declared, observed, flagged)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                          " ON CONFLICT(host) DO UPDATE SET"
                          "  flagged = CASE WHEN declared = excluded.declared"
                          "                 THEN MAX (flagged, excluded.flagged) ELSE excluded.flagged END,"
                          "  checked = excluded.checked, result = excluded.result,"
                          "  declared = excluded.declared, observed = excluded.observed",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare proof check");
  sqlite3_bind_text (stmt, 1, host, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, checked);
  sqlite3_bind_text (stmt, 3, result, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, declared, -1, SQLITE_TRANSIENT);
  if (observed != NULL)
    sqlite3_bind_text (stmt, 5, observed, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, 5);
  sqlite3_bind_int (stmt, 6, flagged ? 1 : 0);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "record proof check");
  return TRUE;
}

/* ---- fleet tokens and enrolled agents (docs/security.md "Fleet tokens") ---- */

void
relay_token_info_free (RelayTokenInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->prefix);
  g_free (info->created);
  g_free (info->revoked);
  g_free (info);
}

void
relay_enrol_info_free (RelayEnrolInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->token_name);
  g_free (info->agent_id);
  g_free (info->prefix);
  g_free (info->created);
  g_free (info->revoked);
  g_free (info);
}

/* prefix followed by 64 hex digits of fresh randomness: a secret shown once. */
static char *
random_secret (const char *prefix, GError **error)
{
  guint8 random[RELAY_KEY_RANDOM_LEN];
  GString *text;

  if (gnutls_rnd (GNUTLS_RND_KEY, random, sizeof random) != 0)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "no random bytes for a secret");
      return NULL;
    }
  text = g_string_new (prefix);
  for (guint i = 0; i < sizeof random; i++)
    g_string_append_printf (text, "%02x", random[i]);
  return g_string_free (text, FALSE);
}

gboolean
relay_store_token_create (RelayStore *store, const char *name, const char *prefix, gint64 max_uses,
                          gint64 expires, char **token, gint64 *id, GError **error)
{
  g_autofree char *secret = random_secret (RELAY_FLEET_TOKEN_PREFIX, error);
  g_autofree char *hash = NULL;
  g_autofree char *created = now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (secret == NULL)
    return FALSE;
  hash = hash_key (secret);
  if (sqlite3_prepare_v2 (store->db,
                          "INSERT INTO fleet_tokens (name, hash, prefix, max_uses, expires, created)"
                          " VALUES (?, ?, ?, ?, ?, ?)",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare token insert");
  sqlite3_bind_text (stmt, 1, name ? name : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, prefix ? prefix : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, MAX (max_uses, 0));
  sqlite3_bind_int64 (stmt, 5, MAX (expires, 0));
  sqlite3_bind_text (stmt, 6, created, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "insert token");
  if (id != NULL)
    *id = sqlite3_last_insert_rowid (store->db);
  *token = g_steal_pointer (&secret);
  return TRUE;
}

GPtrArray *
relay_store_token_list (RelayStore *store, GError **error)
{
  g_autoptr(GPtrArray) tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_token_info_free);
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (store->db,
                          "SELECT id, name, prefix, max_uses, uses, expires, created, revoked"
                          " FROM fleet_tokens ORDER BY id",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (store, error, "prepare token list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RelayTokenInfo *info = g_new0 (RelayTokenInfo, 1);

      info->id = sqlite3_column_int64 (stmt, 0);
      info->name = column_text (stmt, 1);
      info->prefix = column_text (stmt, 2);
      info->max_uses = sqlite3_column_int64 (stmt, 3);
      info->uses = sqlite3_column_int64 (stmt, 4);
      info->expires = sqlite3_column_int64 (stmt, 5);
      info->created = column_text (stmt, 6);
      info->revoked = column_text (stmt, 7);
      g_ptr_array_add (tokens, info);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      db_fail (store, error, "list tokens");
      return NULL;
    }
  return g_steal_pointer (&tokens);
}

/* UPDATE … SET revoked once; NFLTR_ERROR_NOT_FOUND when no row has the id. */
static gboolean
revoke_row (RelayStore *store, const char *sql, gint64 id, const char *what, GError **error)
{
  g_autofree char *now = now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare revoke");
  sqlite3_bind_text (stmt, 1, now, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, id);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "revoke");
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND, "no %s with id %" G_GINT64_FORMAT, what, id);
      return FALSE;
    }
  return TRUE;
}

gboolean
relay_store_token_revoke (RelayStore *store, gint64 id, GError **error)
{
  return revoke_row (store, "UPDATE fleet_tokens SET revoked = coalesce(revoked, ?) WHERE id = ?",
                     id, "fleet token", error);
}

/* Why token (known by its hash) enrols nobody now, in words for the agent's user. */
static void
explain_token_refusal (RelayStore *store, const char *hash, gint64 now, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  const char *why = "the fleet token is not valid (unknown)";
  g_autofree char *text = NULL;

  if (sqlite3_prepare_v2 (store->db,
                          "SELECT revoked IS NOT NULL, max_uses, uses, expires FROM fleet_tokens WHERE hash = ?",
                          -1, &stmt, NULL) == SQLITE_OK)
    {
      sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_TRANSIENT);
      if (sqlite3_step (stmt) == SQLITE_ROW)
        {
          gint64 max_uses = sqlite3_column_int64 (stmt, 1);
          gint64 uses = sqlite3_column_int64 (stmt, 2);
          gint64 expires = sqlite3_column_int64 (stmt, 3);

          if (sqlite3_column_int (stmt, 0))
            why = "the fleet token was revoked";
          else if (expires > 0 && expires <= now)
            why = "the fleet token has expired";
          else if (max_uses > 0 && uses >= max_uses)
            why = text = g_strdup_printf ("the fleet token is used up (%" G_GINT64_FORMAT
                                          " of %" G_GINT64_FORMAT " enrolments)",
                                          uses, max_uses);
        }
      sqlite3_finalize (stmt);
    }
  g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED, why);
}

gboolean
relay_store_enrol (RelayStore *store, const char *token, const char *agent_id, gint64 now,
                   char **credential, gint64 *enrol_id, char **prefix, GError **error)
{
  g_autofree char *hash = hash_key (token);
  g_autofree char *secret = NULL;
  g_autofree char *secret_hash = NULL;
  g_autofree char *created = now_rfc3339 ();
  g_autofree char *token_prefix = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 token_id = -1;
  int rc;

  secret = random_secret (RELAY_AGENT_CREDENTIAL_PREFIX, error);
  if (secret == NULL)
    return FALSE;
  secret_hash = hash_key (secret);

  /* One write transaction: two agents racing for a token's last use (in this relay or
   * through another process on relay.db) cannot both pass the count. */
  if (sqlite3_exec (store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return db_fail (store, error, "begin enrolment");
  if (sqlite3_prepare_v2 (store->db,
                          "UPDATE fleet_tokens SET uses = uses + 1"
                          " WHERE hash = ?1 AND revoked IS NULL"
                          "   AND (max_uses = 0 OR uses < max_uses)"
                          "   AND (expires = 0 OR expires > ?2)"
                          " RETURNING id, prefix",
                          -1, &stmt, NULL) != SQLITE_OK)
    goto fail;
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, now);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      token_id = sqlite3_column_int64 (stmt, 0);
      token_prefix = column_text (stmt, 1);
      rc = sqlite3_step (stmt);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    goto fail;
  if (token_id < 0)
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      explain_token_refusal (store, hash, now, error);
      return FALSE;
    }
  if (sqlite3_prepare_v2 (store->db,
                          "INSERT INTO enrolments (token_id, agent_id, hash, created) VALUES (?, ?, ?, ?)",
                          -1, &stmt, NULL) != SQLITE_OK)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, token_id);
  sqlite3_bind_text (stmt, 2, agent_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, secret_hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, created, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    goto fail;
  if (enrol_id != NULL)
    *enrol_id = sqlite3_last_insert_rowid (store->db);
  if (sqlite3_exec (store->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    goto fail;
  *credential = g_steal_pointer (&secret);
  if (prefix != NULL)
    *prefix = g_steal_pointer (&token_prefix);
  return TRUE;

fail:
  db_fail (store, error, "enrol");
  sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

gboolean
relay_store_agent_check (RelayStore *store, const char *credential, gint64 *id, char **prefix)
{
  g_autofree char *hash = hash_key (credential);
  sqlite3_stmt *stmt = NULL;
  gboolean found = FALSE;

  if (sqlite3_prepare_v2 (store->db,
                          "SELECT e.id, t.prefix FROM enrolments e JOIN fleet_tokens t ON t.id = e.token_id"
                          " WHERE e.hash = ? AND e.revoked IS NULL",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      g_message ("%s: cannot check agent credential: %s", store->path, sqlite3_errmsg (store->db));
      return FALSE;
    }
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      found = TRUE;
      if (id != NULL)
        *id = sqlite3_column_int64 (stmt, 0);
      if (prefix != NULL)
        *prefix = column_text (stmt, 1);
    }
  sqlite3_finalize (stmt);
  return found;
}

gboolean
relay_store_agent_is_active (RelayStore *store, gint64 id)
{
  sqlite3_stmt *stmt = NULL;
  gboolean active;

  if (sqlite3_prepare_v2 (store->db, "SELECT 1 FROM enrolments WHERE id = ? AND revoked IS NULL",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      /* As for keys: a database that cannot be read says nothing; keep the agent. */
      g_message ("%s: cannot check enrolment %" G_GINT64_FORMAT ": %s", store->path, id,
                 sqlite3_errmsg (store->db));
      return TRUE;
    }
  sqlite3_bind_int64 (stmt, 1, id);
  active = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_finalize (stmt);
  return active;
}

GPtrArray *
relay_store_agent_list (RelayStore *store, GError **error)
{
  g_autoptr(GPtrArray) agents = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_enrol_info_free);
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (store->db,
                          "SELECT e.id, e.token_id, t.name, e.agent_id, t.prefix, e.created, e.revoked"
                          " FROM enrolments e LEFT JOIN fleet_tokens t ON t.id = e.token_id ORDER BY e.id",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (store, error, "prepare agent list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RelayEnrolInfo *info = g_new0 (RelayEnrolInfo, 1);

      info->id = sqlite3_column_int64 (stmt, 0);
      info->token_id = sqlite3_column_int64 (stmt, 1);
      info->token_name = column_text (stmt, 2);
      info->agent_id = column_text (stmt, 3);
      info->prefix = column_text (stmt, 4);
      info->created = column_text (stmt, 5);
      info->revoked = column_text (stmt, 6);
      g_ptr_array_add (agents, info);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      db_fail (store, error, "list agents");
      return NULL;
    }
  return g_steal_pointer (&agents);
}

gboolean
relay_store_agent_revoke (RelayStore *store, gint64 id, GError **error)
{
  return revoke_row (store, "UPDATE enrolments SET revoked = coalesce(revoked, ?) WHERE id = ?",
                     id, "enrolled agent", error);
}

/* ---- the dashboard's operator password ---- */

gboolean
relay_store_operator_set_password (RelayStore *store, const char *hash, GError **error)
{
  g_autofree char *now = now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db,
                          "INSERT INTO operator (id, password, changed) VALUES (1, ?1, ?2)"
                          " ON CONFLICT(id) DO UPDATE SET password = ?1, changed = ?2",
                          -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare password");
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, now, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "set password");
  return TRUE;
}

char *
relay_store_operator_get_password (RelayStore *store)
{
  sqlite3_stmt *stmt = NULL;
  char *hash = NULL;

  if (sqlite3_prepare_v2 (store->db, "SELECT password FROM operator WHERE id = 1", -1, &stmt,
                          NULL) != SQLITE_OK)
    return NULL;
  if (sqlite3_step (stmt) == SQLITE_ROW)
    hash = column_text (stmt, 0);
  sqlite3_finalize (stmt);
  return hash;
}

/* ---- agents' client certificates (docs/security.md "mTLS") ---- */

void
relay_cert_info_free (RelayCertInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->serial);
  g_free (info->issuer);
  g_free (info->agent_id);
  g_free (info->prefix);
  g_free (info->created);
  g_free (info->revoked);
  g_free (info);
}

gboolean
relay_store_cert_record (RelayStore *store, const char *serial, const char *issuer, const char *agent_id,
                         gint64 key_id, gint64 enrol_id, const char *prefix, gint64 *id, GError **error)
{
  g_autofree char *now = now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  int rc;

  /* An operator's certificate seen again (or revoked before it was seen) keeps its row. */
  if (sqlite3_prepare_v2 (
        store->db,
        "INSERT INTO certs (serial, issuer, agent_id, key_id, enrol_id, prefix, created)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT(serial) DO UPDATE SET agent_id = coalesce(agent_id, excluded.agent_id)"
        " RETURNING id",
        -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare cert");
  sqlite3_bind_text (stmt, 1, serial, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, issuer, -1, SQLITE_TRANSIENT);
  if (agent_id != NULL)
    sqlite3_bind_text (stmt, 3, agent_id, -1, SQLITE_TRANSIENT);
  if (key_id >= 0)
    sqlite3_bind_int64 (stmt, 4, key_id);
  if (enrol_id >= 0)
    sqlite3_bind_int64 (stmt, 5, enrol_id);
  sqlite3_bind_text (stmt, 6, prefix ? prefix : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 7, now, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW && id != NULL)
    *id = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return db_fail (store, error, "record cert");
  return TRUE;
}

/* A live certificate: not revoked, and neither the API key nor the enrolment that had it
 * issued is revoked. */
#define CERT_ACTIVE \
  " c.revoked IS NULL" \
  " AND (c.key_id IS NULL OR EXISTS (SELECT 1 FROM keys k" \
  "      WHERE k.id = c.key_id AND k.revoked IS NULL))" \
  " AND (c.enrol_id IS NULL OR EXISTS (SELECT 1 FROM enrolments e" \
  "      WHERE e.id = c.enrol_id AND e.revoked IS NULL))"

RelayCertInfo *
relay_store_cert_lookup (RelayStore *store, const char *serial)
{
  sqlite3_stmt *stmt = NULL;
  RelayCertInfo *info = NULL;

  if (sqlite3_prepare_v2 (store->db,
                          "SELECT c.id, c.serial, c.issuer, c.agent_id, c.prefix, c.created, c.revoked,"
                          " (" CERT_ACTIVE ") FROM certs c WHERE c.serial = ?",
                          -1, &stmt, NULL) != SQLITE_OK)
    return NULL;
  sqlite3_bind_text (stmt, 1, serial, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      info = g_new0 (RelayCertInfo, 1);
      info->id = sqlite3_column_int64 (stmt, 0);
      info->serial = column_text (stmt, 1);
      info->issuer = column_text (stmt, 2);
      info->agent_id = column_text (stmt, 3);
      info->prefix = column_text (stmt, 4);
      info->created = column_text (stmt, 5);
      info->revoked = column_text (stmt, 6);
      info->active = sqlite3_column_int (stmt, 7) != 0;
    }
  sqlite3_finalize (stmt);
  return info;
}

gboolean
relay_store_cert_is_active (RelayStore *store, gint64 id)
{
  sqlite3_stmt *stmt = NULL;
  gboolean active;

  if (sqlite3_prepare_v2 (store->db, "SELECT 1 FROM certs c WHERE c.id = ? AND" CERT_ACTIVE,
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      g_message ("%s: cannot check certificate %" G_GINT64_FORMAT ": %s", store->path, id,
                 sqlite3_errmsg (store->db));
      return TRUE;
    }
  sqlite3_bind_int64 (stmt, 1, id);
  active = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_finalize (stmt);
  return active;
}

gboolean
relay_store_cert_revoke (RelayStore *store, const char *serial, GError **error)
{
  g_autofree char *now = now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  /* A serial not seen yet (an operator's certificate) is recorded revoked, so it never gets in. */
  if (sqlite3_prepare_v2 (
        store->db,
        "INSERT INTO certs (serial, issuer, created, revoked) VALUES (?1, 'operator', ?2, ?2)"
        " ON CONFLICT(serial) DO UPDATE SET revoked = coalesce(revoked, excluded.revoked)",
        -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (store, error, "prepare cert revoke");
  sqlite3_bind_text (stmt, 1, serial, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, now, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return db_fail (store, error, "revoke cert");
  return TRUE;
}

GPtrArray *
relay_store_cert_list (RelayStore *store, GError **error)
{
  g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_cert_info_free);
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (store->db,
                          "SELECT c.id, c.serial, c.issuer, c.agent_id, c.prefix, c.created, c.revoked,"
                          " (" CERT_ACTIVE ") FROM certs c ORDER BY c.id",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (store, error, "prepare cert list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RelayCertInfo *info = g_new0 (RelayCertInfo, 1);

      info->id = sqlite3_column_int64 (stmt, 0);
      info->serial = column_text (stmt, 1);
      info->issuer = column_text (stmt, 2);
      info->agent_id = column_text (stmt, 3);
      info->prefix = column_text (stmt, 4);
      info->created = column_text (stmt, 5);
      info->revoked = column_text (stmt, 6);
      info->active = sqlite3_column_int (stmt, 7) != 0;
      g_ptr_array_add (certs, info);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      db_fail (store, error, "list certs");
      return NULL;
    }
  return g_steal_pointer (&certs);
}
