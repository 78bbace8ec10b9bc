/* relay-a2a-store.c — keys, names and the offline queue in relay.db (relay-a2a-store.h). */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-a2a-store.h"
#include "nfltr-error.h"

#include <sqlite3.h>
#include <string.h>

struct _RelayA2aStore {
  sqlite3 *db;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS a2a_keys ("
                             "  agent_id   TEXT PRIMARY KEY,"
                             "  public_key BLOB NOT NULL,"
                             "  published  INTEGER NOT NULL);"
                             "CREATE TABLE IF NOT EXISTS a2a_names ("
                             "  name       TEXT PRIMARY KEY,"
                             "  agent_id   TEXT NOT NULL,"
                             "  claimed    INTEGER NOT NULL);"
                             "CREATE TABLE IF NOT EXISTS a2a_queue ("
                             "  id         INTEGER PRIMARY KEY AUTOINCREMENT,"
                             "  recipient  TEXT NOT NULL,"
                             "  sender     TEXT NOT NULL,"
                             "  msg_id     BLOB NOT NULL,"
                             "  data       BLOB NOT NULL,"
                             "  expires    INTEGER NOT NULL,"
                             "  UNIQUE (recipient, msg_id));"
                             "CREATE INDEX IF NOT EXISTS a2a_queue_recipient ON a2a_queue (recipient, id);";

void
relay_a2a_queued_free (RelayA2aQueued *queued)
{
  if (queued == NULL)
    return;
  g_free (queued->sender);
  g_clear_pointer (&queued->data, g_bytes_unref);
  g_free (queued);
}

static gboolean
fail (RelayA2aStore *store, GError **error)
{
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "relay.db: %s", sqlite3_errmsg (store->db));
  return FALSE;
}

RelayA2aStore *
relay_a2a_store_open (sqlite3 *db, GError **error)
{
  g_autoptr(RelayA2aStore) store = g_new0 (RelayA2aStore, 1);
  char *msg = NULL;

  store->db = db;
  if (sqlite3_exec (store->db, schema, NULL, NULL, &msg) != SQLITE_OK)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "relay.db: %s", msg);
      sqlite3_free (msg);
      return NULL;
    }
  return g_steal_pointer (&store);
}

void
relay_a2a_store_free (RelayA2aStore *store)
{
  if (store == NULL)
    return;
  g_free (store);
}

static sqlite3_stmt *
prepare (RelayA2aStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    fail (store, error);
  return stmt;
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

gboolean
relay_a2a_store_put_key (RelayA2aStore *store, const char *agent_id, const guint8 *key, GError **error)
{
  sqlite3_stmt *stmt = prepare (store,
                                "INSERT INTO a2a_keys (agent_id, public_key, published) VALUES (?, ?, ?) "
                                "ON CONFLICT (agent_id) DO UPDATE SET public_key = excluded.public_key, "
                                "published = excluded.published",
                                error);
  gboolean ok;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, agent_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob (stmt, 2, key, 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 3, now_s ());
  ok = sqlite3_step (stmt) == SQLITE_DONE || fail (store, error);
  sqlite3_finalize (stmt);
  return ok;
}

GBytes *
relay_a2a_store_get_key (RelayA2aStore *store, const char *agent_id)
{
  sqlite3_stmt *stmt = prepare (store, "SELECT public_key FROM a2a_keys WHERE agent_id = ?", NULL);
  GBytes *key = NULL;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, agent_id, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_bytes (stmt, 0) == 32)
    key = g_bytes_new (sqlite3_column_blob (stmt, 0), 32);
  sqlite3_finalize (stmt);
  return key;
}

gboolean
relay_a2a_store_register_name (RelayA2aStore *store, const char *name, const char *agent_id, GError **error)
{
  g_autofree char *holder = relay_a2a_store_lookup_name (store, name);
  sqlite3_stmt *stmt;
  gboolean ok;

  if (holder != NULL && strcmp (holder, agent_id) != 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN, "the a2a name “%s” is served by another agent", name);
      return FALSE;
    }
  if (holder != NULL)
    return TRUE;
  stmt = prepare (store, "INSERT INTO a2a_names (name, agent_id, claimed) VALUES (?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, agent_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 3, now_s ());
  ok = sqlite3_step (stmt) == SQLITE_DONE || fail (store, error);
  sqlite3_finalize (stmt);
  return ok;
}

char *
relay_a2a_store_lookup_name (RelayA2aStore *store, const char *name)
{
  sqlite3_stmt *stmt = prepare (store, "SELECT agent_id FROM a2a_names WHERE name = ?", NULL);
  char *id = NULL;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  return id;
}

gboolean
relay_a2a_store_enqueue (RelayA2aStore *store, const char *recipient, const char *sender,
                         const guint8 *msg_id, GBytes *data, gint64 expires, guint max_messages,
                         guint64 max_bytes, GError **error)
{
  sqlite3_stmt *stmt = prepare (store,
                                "SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM a2a_queue "
                                "WHERE recipient = ? AND expires > ?",
                                error);
  gint64 count = 0, bytes = 0;
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  gboolean ok;
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, recipient, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, now_s ());
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      count = sqlite3_column_int64 (stmt, 0);
      bytes = sqlite3_column_int64 (stmt, 1);
    }
  sqlite3_finalize (stmt);
  if ((guint64) count >= max_messages || (guint64) bytes + len > max_bytes)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT,
                   "agent %.8s… is offline and its queue at the relay is full (%" G_GINT64_FORMAT
                   " messages, %" G_GINT64_FORMAT " bytes waiting)",
                   recipient, count, bytes);
      return FALSE;
    }
  stmt = prepare (store,
                  "INSERT INTO a2a_queue (recipient, sender, msg_id, data, expires) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT (recipient, msg_id) DO NOTHING",
                  error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, recipient, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, sender, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob (stmt, 3, msg_id, 16, SQLITE_TRANSIENT);
  sqlite3_bind_blob (stmt, 4, p, (int) len, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, expires);
  rc = sqlite3_step (stmt);
  ok = rc == SQLITE_DONE || fail (store, error);
  sqlite3_finalize (stmt);
  return ok;
}

GPtrArray *
relay_a2a_store_pending (RelayA2aStore *store, const char *recipient, gint64 now)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_a2a_queued_free);
  sqlite3_stmt *stmt = prepare (store,
                                "SELECT id, sender, msg_id, data FROM a2a_queue "
                                "WHERE recipient = ? AND expires > ? ORDER BY id",
                                NULL);

  if (stmt == NULL)
    return out;
  sqlite3_bind_text (stmt, 1, recipient, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, now);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      RelayA2aQueued *q;

      if (sqlite3_column_bytes (stmt, 2) != 16)
        continue;
      q = g_new0 (RelayA2aQueued, 1);
      q->row = sqlite3_column_int64 (stmt, 0);
      q->sender = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      memcpy (q->msg_id, sqlite3_column_blob (stmt, 2), 16);
      q->data = g_bytes_new (sqlite3_column_blob (stmt, 3), sqlite3_column_bytes (stmt, 3));
      g_ptr_array_add (out, q);
    }
  sqlite3_finalize (stmt);
  return out;
}

void
relay_a2a_store_ack (RelayA2aStore *store, const char *recipient, const guint8 *msg_id)
{
  sqlite3_stmt *stmt = prepare (store, "DELETE FROM a2a_queue WHERE recipient = ? AND msg_id = ?", NULL);

  if (stmt == NULL)
    return;
  sqlite3_bind_text (stmt, 1, recipient, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob (stmt, 2, msg_id, 16, SQLITE_TRANSIENT);
  sqlite3_step (stmt);
  sqlite3_finalize (stmt);
}

guint
relay_a2a_store_expire (RelayA2aStore *store, gint64 now)
{
  sqlite3_stmt *stmt = prepare (store, "DELETE FROM a2a_queue WHERE expires <= ?", NULL);

  if (stmt == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, now);
  sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  return sqlite3_changes (store->db);
}
