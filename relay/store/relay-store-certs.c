/* relay-store-certs.c — agents' client certificates (docs/security.md "mTLS") */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-store-private.h"
#include "nfltr-error.h"

#include <sqlite3.h>

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
  g_autofree char *now = relay_store_now_rfc3339 ();
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
    return relay_store_fail (store, error, "prepare cert");
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
    return relay_store_fail (store, error, "record cert");
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
      info->serial = relay_store_column_text (stmt, 1);
      info->issuer = relay_store_column_text (stmt, 2);
      info->agent_id = relay_store_column_text (stmt, 3);
      info->prefix = relay_store_column_text (stmt, 4);
      info->created = relay_store_column_text (stmt, 5);
      info->revoked = relay_store_column_text (stmt, 6);
      info->active = sqlite3_column_int (stmt, 7) != 0;
    }
  sqlite3_finalize (stmt);
  return info;
}

gboolean
relay_store_cert_is_active (RelayStore *store, gint64 id)
{
  return relay_store_row_is_active (store, "SELECT 1 FROM certs c WHERE c.id = ? AND" CERT_ACTIVE, id, "certificate");
}

gboolean
relay_store_cert_revoke (RelayStore *store, const char *serial, GError **error)
{
  g_autofree char *now = relay_store_now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  /* A serial not seen yet (an operator's certificate) is recorded revoked, so it never gets in. */
  if (sqlite3_prepare_v2 (
        store->db,
        "INSERT INTO certs (serial, issuer, created, revoked) VALUES (?1, 'operator', ?2, ?2)"
        " ON CONFLICT(serial) DO UPDATE SET revoked = coalesce(revoked, excluded.revoked)",
        -1, &stmt, NULL) != SQLITE_OK)
    return relay_store_fail (store, error, "prepare cert revoke");
  sqlite3_bind_text (stmt, 1, serial, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, now, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "revoke cert");
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
      relay_store_fail (store, error, "prepare cert list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RelayCertInfo *info = g_new0 (RelayCertInfo, 1);

      info->id = sqlite3_column_int64 (stmt, 0);
      info->serial = relay_store_column_text (stmt, 1);
      info->issuer = relay_store_column_text (stmt, 2);
      info->agent_id = relay_store_column_text (stmt, 3);
      info->prefix = relay_store_column_text (stmt, 4);
      info->created = relay_store_column_text (stmt, 5);
      info->revoked = relay_store_column_text (stmt, 6);
      info->active = sqlite3_column_int (stmt, 7) != 0;
      g_ptr_array_add (certs, info);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      relay_store_fail (store, error, "list certs");
      return NULL;
    }
  return g_steal_pointer (&certs);
}
