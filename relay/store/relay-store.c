/* relay-store.c — SQLite relay.db: the schema, opening it, the helpers every table's file
 * shares (relay-store-private.h), and API keys (hashes only). Names, tunnels seen and proof
 * results are in relay-store-names.c, fleet tokens, enrolled agents and the operator's
 * password in relay-store-fleet.c, client certificates in relay-store-certs.c.
 *
 * Queries are a few rows on a local file and run on the main thread; the database is in WAL
 * mode with a busy timeout so `nfltr-relay keys …` can write while a relay is serving. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-store-private.h"
#include "nfltr-error.h"

#include <gnutls/crypto.h>
#include <sqlite3.h>
#include <glib/gstdio.h>
#include <errno.h>

#define RELAY_KEY_PREFIX     "nfltr_"

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

gboolean
relay_store_fail (RelayStore *store, GError **error, const char *what)
{
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: %s failed: %s",
               store->path, what, sqlite3_errmsg (store->db));
  return FALSE;
}

char *
relay_store_now_rfc3339 (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  return g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
}

char *
relay_store_hash_secret (const char *key)
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
      relay_store_fail (store, error, "open");
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
  g_autofree char *created = relay_store_now_rfc3339 ();
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
  hash = relay_store_hash_secret (text->str);

  if (sqlite3_prepare_v2 (store->db, "INSERT INTO keys (name, hash, created) VALUES (?, ?, ?)",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      g_string_free (text, TRUE);
      return relay_store_fail (store, error, "prepare insert");
    }
  sqlite3_bind_text (stmt, 1, name ? name : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, created, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    {
      g_string_free (text, TRUE);
      return relay_store_fail (store, error, "insert key");
    }
  if (id != NULL)
    *id = sqlite3_last_insert_rowid (store->db);
  *key = g_string_free (text, FALSE);
  return TRUE;
}

char *
relay_store_column_text (sqlite3_stmt *stmt, int col)
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
      relay_store_fail (store, error, "prepare list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RelayKeyInfo *info = g_new0 (RelayKeyInfo, 1);
      info->id = sqlite3_column_int64 (stmt, 0);
      info->name = relay_store_column_text (stmt, 1);
      info->created = relay_store_column_text (stmt, 2);
      info->revoked = relay_store_column_text (stmt, 3);
      g_ptr_array_add (keys, info);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      relay_store_fail (store, error, "list keys");
      return NULL;
    }
  return g_steal_pointer (&keys);
}

gboolean
relay_store_key_revoke (RelayStore *store, gint64 id, GError **error)
{
  g_autofree char *now = relay_store_now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db,
                          "UPDATE keys SET revoked = coalesce(revoked, ?) WHERE id = ?",
                          -1, &stmt, NULL) != SQLITE_OK)
    return relay_store_fail (store, error, "prepare revoke");
  sqlite3_bind_text (stmt, 1, now, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, id);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "revoke key");
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
  g_autofree char *hash = relay_store_hash_secret (key);
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
    return relay_store_fail (store, error, sql);
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
      relay_store_fail (store, error, "prepare key lookup");
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
    return relay_store_fail (store, error, "prepare name move");
  sqlite3_bind_text (stmt, 1, to_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, from_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, RELAY_OWNER_KIND_KEY, -1, SQLITE_STATIC);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "move names");
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
  return relay_store_row_is_active (store, "SELECT 1 FROM keys WHERE id = ? AND revoked IS NULL", id, "API key");
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

/* Whether SQL (one "?" for the id) finds the row. A database that cannot be read says nothing
 * about the credential: the agent is kept (and the failure logged). */
gboolean
relay_store_row_is_active (RelayStore *store, const char *sql, gint64 id, const char *what)
{
  sqlite3_stmt *stmt = NULL;
  gboolean active;

  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      g_message ("%s: cannot check %s %" G_GINT64_FORMAT ": %s", store->path, what, id,
                 sqlite3_errmsg (store->db));
      return TRUE;
    }
  sqlite3_bind_int64 (stmt, 1, id);
  active = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_finalize (stmt);
  return active;
}

/* prefix followed by 64 hex digits of fresh randomness: a secret shown once. */
char *
relay_store_random_secret (const char *prefix, GError **error)
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

/* UPDATE … SET revoked once; NFLTR_ERROR_NOT_FOUND when no row has the id. */
gboolean
relay_store_revoke_row (RelayStore *store, const char *sql, gint64 id, const char *what, GError **error)
{
  g_autofree char *now = relay_store_now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    return relay_store_fail (store, error, "prepare revoke");
  sqlite3_bind_text (stmt, 1, now, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, id);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "revoke");
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND, "no %s with id %" G_GINT64_FORMAT, what, id);
      return FALSE;
    }
  return TRUE;
}
