/* relay-wg-store.c — networks and members' addresses in relay.db (relay-wg-store.h).
 *
 * A connection of its own to relay.db (WAL, as relay/store/): the track's tables stay out of
 * the tunnel store's code. Every query runs on the relay's main thread. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-wg-store.h"
#include "nfltr-error.h"

#include <sqlite3.h>

struct _RelayWgStore {
  sqlite3 *db;
};

static const char schema[] = "PRAGMA journal_mode=WAL;"
                             "CREATE TABLE IF NOT EXISTS wg_networks ("
                             "  name       TEXT PRIMARY KEY,"
                             "  owner_kind TEXT NOT NULL,"
                             "  owner_id   TEXT NOT NULL,"
                             "  subnet     INTEGER NOT NULL UNIQUE,"
                             "  created    INTEGER NOT NULL);"
                             "CREATE TABLE IF NOT EXISTS wg_members ("
                             "  network    TEXT NOT NULL REFERENCES wg_networks (name),"
                             "  public_key TEXT NOT NULL,"
                             "  kind       TEXT NOT NULL,"
                             "  label      TEXT NOT NULL DEFAULT '',"
                             "  host       INTEGER NOT NULL,"
                             "  joined     INTEGER NOT NULL,"
                             "  PRIMARY KEY (network, public_key),"
                             "  UNIQUE (network, host));";

void
relay_wg_member_row_free (RelayWgMemberRow *row)
{
  if (row == NULL)
    return;
  g_free (row->network);
  g_free (row->public_key);
  g_free (row->kind);
  g_free (row->label);
  g_free (row);
}

static gboolean
fail (RelayWgStore *store, GError **error)
{
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "relay.db: %s", sqlite3_errmsg (store->db));
  return FALSE;
}

RelayWgStore *
relay_wg_store_open (const char *data_dir, GError **error)
{
  g_autoptr(RelayWgStore) store = g_new0 (RelayWgStore, 1);
  g_autofree char *path = g_build_filename (data_dir, "relay.db", NULL);
  char *msg = NULL;

  if (sqlite3_open_v2 (path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
    {
      fail (store, error);
      return NULL;
    }
  sqlite3_busy_timeout (store->db, 2000);
  if (sqlite3_exec (store->db, schema, NULL, NULL, &msg) != SQLITE_OK)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "relay.db: %s", msg);
      sqlite3_free (msg);
      return NULL;
    }
  return g_steal_pointer (&store);
}

void
relay_wg_store_free (RelayWgStore *store)
{
  if (store == NULL)
    return;
  sqlite3_close (store->db);
  g_free (store);
}

char *
relay_wg_format_address (guint32 address)
{
  return g_strdup_printf ("%u.%u.%u.%u", address >> 24, (address >> 16) & 0xff,
                          (address >> 8) & 0xff, address & 0xff);
}

static sqlite3_stmt *
prepare (RelayWgStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    fail (store, error);
  return stmt;
}

/* The lowest integer in [first, last] that the single-column query does not return (its
 * rows ascending), or -1. */
static gint64
lowest_free (RelayWgStore *store, sqlite3_stmt *stmt, gint64 first, gint64 last)
{
  gint64 want = first;

  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 used = sqlite3_column_int64 (stmt, 0);

      if (used > want)
        break;
      if (used == want)
        want++;
    }
  return want <= last ? want : -1;
}

static gboolean
begin (RelayWgStore *store, GError **error)
{
  /* IMMEDIATE: the read of the free slots and the write are one step for every writer. */
  return sqlite3_exec (store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK || fail (store, error);
}

static gboolean
end (RelayWgStore *store, gboolean ok, GError **error)
{
  if (!ok)
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  if (sqlite3_exec (store->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    {
      fail (store, error);
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
network_in_tx (RelayWgStore *store, const char *name, const char *owner_kind, const char *owner_id,
               gboolean create, guint32 *subnet, GError **error)
{
  sqlite3_stmt *stmt = prepare (store, "SELECT owner_kind, owner_id, subnet FROM wg_networks WHERE name = ?1",
                                error);
  gint64 slot;
  gboolean ok;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gboolean mine = g_strcmp0 ((const char *) sqlite3_column_text (stmt, 0), owner_kind) == 0 &&
                      g_strcmp0 ((const char *) sqlite3_column_text (stmt, 1), owner_id) == 0;

      slot = sqlite3_column_int64 (stmt, 2);
      sqlite3_finalize (stmt);
      if (!mine)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN,
                       "network “%s” belongs to another credential", name);
          return FALSE;
        }
      *subnet = RELAY_WG_BASE + (guint32) slot * (1u << (32 - RELAY_WG_SUBNET_PREFIX));
      return TRUE;
    }
  sqlite3_finalize (stmt);
  if (!create)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND,
                   "no network “%s” (start it with `nfltr wg serve --name %s`)", name, name);
      return FALSE;
    }

  stmt = prepare (store, "SELECT subnet FROM wg_networks ORDER BY subnet", error);
  if (stmt == NULL)
    return FALSE;
  slot = lowest_free (store, stmt, 0, RELAY_WG_SUBNETS - 1);
  sqlite3_finalize (stmt);
  if (slot < 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT, "every /20 of 100.64.0.0/10 is taken");
      return FALSE;
    }
  stmt = prepare (store,
                  "INSERT INTO wg_networks (name, owner_kind, owner_id, subnet, created)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
                  error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, owner_kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, owner_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, slot);
  sqlite3_bind_int64 (stmt, 5, g_get_real_time () / G_USEC_PER_SEC);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return fail (store, error);
  *subnet = RELAY_WG_BASE + (guint32) slot * (1u << (32 - RELAY_WG_SUBNET_PREFIX));
  return TRUE;
}

gboolean
relay_wg_store_network (RelayWgStore *store, const char *name, const char *owner_kind,
                        const char *owner_id, gboolean create, guint32 *subnet, GError **error)
{
  if (!begin (store, error))
    return FALSE;
  return end (store, network_in_tx (store, name, owner_kind, owner_id, create, subnet, error), error);
}

static gboolean
join_in_tx (RelayWgStore *store, const char *network, const char *public_key, const char *kind,
            const char *label, guint32 *address, GError **error)
{
  sqlite3_stmt *stmt;
  gint64 host = -1;
  gint64 subnet_slot;
  gboolean ok;

  stmt = prepare (store, "SELECT subnet FROM wg_networks WHERE name = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, network, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      sqlite3_finalize (stmt);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND, "no network “%s”", network);
      return FALSE;
    }
  subnet_slot = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);

  stmt = prepare (store, "SELECT host FROM wg_members WHERE network = ?1 AND public_key = ?2", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, network, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, public_key, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    host = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);

  if (host < 0)
    {
      stmt = prepare (store, "SELECT host FROM wg_members WHERE network = ?1 ORDER BY host", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_text (stmt, 1, network, -1, SQLITE_TRANSIENT);
      host = lowest_free (store, stmt, 1, RELAY_WG_HOSTS);
      sqlite3_finalize (stmt);
      if (host < 0)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT, "network “%s” is full (%u members)", network,
                       RELAY_WG_HOSTS);
          return FALSE;
        }
      stmt = prepare (store,
                      "INSERT INTO wg_members (network, public_key, kind, label, host, joined)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      error);
    }
  else
    /* A rejoin keeps the address; the label and kind follow the latest join. */
    stmt = prepare (store,
                    "UPDATE wg_members SET kind = ?3, label = ?4"
                    " WHERE network = ?1 AND public_key = ?2 AND host = ?5 AND ?6 = ?6",
                    error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, network, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, public_key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, label ? label : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, host);
  sqlite3_bind_int64 (stmt, 6, g_get_real_time () / G_USEC_PER_SEC);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return fail (store, error);
  *address = RELAY_WG_BASE + (guint32) subnet_slot * (1u << (32 - RELAY_WG_SUBNET_PREFIX)) + (guint32) host;
  return TRUE;
}

gboolean
relay_wg_store_join (RelayWgStore *store, const char *network, const char *public_key,
                     const char *kind, const char *label, guint32 *address, GError **error)
{
  if (!begin (store, error))
    return FALSE;
  return end (store, join_in_tx (store, network, public_key, kind, label, address, error), error);
}

gboolean
relay_wg_store_leave (RelayWgStore *store, const char *network, const char *public_key, GError **error)
{
  sqlite3_stmt *stmt = prepare (store, "DELETE FROM wg_members WHERE network = ?1 AND public_key = ?2",
                                error);
  gboolean ok;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, network, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, public_key, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return fail (store, error);
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND, "no such member of network “%s”", network);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
relay_wg_store_members (RelayWgStore *store, GError **error)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_wg_member_row_free);
  sqlite3_stmt *stmt = prepare (store,
                                "SELECT m.network, m.public_key, m.kind, m.label, n.subnet, m.host"
                                " FROM wg_members m JOIN wg_networks n ON n.name = m.network"
                                " ORDER BY m.network, m.host", error);
  int rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RelayWgMemberRow *row = g_new0 (RelayWgMemberRow, 1);

      row->network = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
      row->public_key = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      row->kind = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
      row->label = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
      row->address = RELAY_WG_BASE + (guint32) sqlite3_column_int64 (stmt, 4) * (1u << (32 - RELAY_WG_SUBNET_PREFIX)) +
                     (guint32) sqlite3_column_int64 (stmt, 5);
      g_ptr_array_add (rows, row);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      fail (store, error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}
