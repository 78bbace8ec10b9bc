/* relay-store-names.c — names and their owners (docs/protocol.md §6), tunnels seen, proof
 * results (§10) */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-store-private.h"
#include "nfltr-error.h"

#include <sqlite3.h>

gboolean
relay_store_tunnel_seen (RelayStore *store, const char *host, const char *mode,
                         const char *fingerprint, const char *kind, char **since, GError **error)
{
  g_autofree char *now = relay_store_now_rfc3339 ();
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
    return relay_store_fail (store, error, "prepare tunnel");
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
    *since = relay_store_column_text (stmt, 0);
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "record tunnel");
  return TRUE;
}

#define NAME_COLUMNS "name, owner_kind, owner_id, claimed, last_used, bound"

static RelayNameInfo *
name_info_from_row (sqlite3_stmt *stmt)
{
  RelayNameInfo *info = g_new0 (RelayNameInfo, 1);

  info->name = relay_store_column_text (stmt, 0);
  info->owner_kind = relay_store_column_text (stmt, 1);
  info->owner_id = relay_store_column_text (stmt, 2);
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
      relay_store_fail (store, error, "prepare name lookup");
      return NULL;
    }
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    info = name_info_from_row (stmt);
  else if (rc != SQLITE_DONE)
    relay_store_fail (store, error, "look up name");
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
    return relay_store_fail (store, error, "prepare name claim");
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, owner_kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, owner_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, now);
  sqlite3_bind_int64 (stmt, 5, MAX (expiry_s, 0));
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "claim name");
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
    return relay_store_fail (store, error, "prepare name unused");
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, owner_kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, owner_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, now);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "mark name unused");
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
    return relay_store_fail (store, error, "prepare name release");
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  if (owner_kind != NULL)
    {
      sqlite3_bind_text (stmt, 2, owner_kind, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (stmt, 3, owner_id, -1, SQLITE_TRANSIENT);
    }
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "release name");
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
      relay_store_fail (store, error, "prepare name list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (names, name_info_from_row (stmt));
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      relay_store_fail (store, error, "list names");
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
    return relay_store_fail (store, error, "prepare name recovery");
  sqlite3_bind_int64 (stmt, 1, now);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "recover names");
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
    return relay_store_fail (store, error, "prepare proof check");
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
    return relay_store_fail (store, error, "record proof check");
  return TRUE;
}
