/* relay-store-fleet.c — fleet tokens and enrolled agents (docs/security.md "Fleet tokens"),
 * and the dashboard's operator password */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-store-private.h"
#include "nfltr-error.h"

#include <sqlite3.h>

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


gboolean
relay_store_token_create (RelayStore *store, const char *name, const char *prefix, gint64 max_uses,
                          gint64 expires, char **token, gint64 *id, GError **error)
{
  g_autofree char *secret = relay_store_random_secret (RELAY_FLEET_TOKEN_PREFIX, error);
  g_autofree char *hash = NULL;
  g_autofree char *created = relay_store_now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (secret == NULL)
    return FALSE;
  hash = relay_store_hash_secret (secret);
  if (sqlite3_prepare_v2 (store->db,
                          "INSERT INTO fleet_tokens (name, hash, prefix, max_uses, expires, created)"
                          " VALUES (?, ?, ?, ?, ?, ?)",
                          -1, &stmt, NULL) != SQLITE_OK)
    return relay_store_fail (store, error, "prepare token insert");
  sqlite3_bind_text (stmt, 1, name ? name : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, prefix ? prefix : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, MAX (max_uses, 0));
  sqlite3_bind_int64 (stmt, 5, MAX (expires, 0));
  sqlite3_bind_text (stmt, 6, created, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "insert token");
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
      relay_store_fail (store, error, "prepare token list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RelayTokenInfo *info = g_new0 (RelayTokenInfo, 1);

      info->id = sqlite3_column_int64 (stmt, 0);
      info->name = relay_store_column_text (stmt, 1);
      info->prefix = relay_store_column_text (stmt, 2);
      info->max_uses = sqlite3_column_int64 (stmt, 3);
      info->uses = sqlite3_column_int64 (stmt, 4);
      info->expires = sqlite3_column_int64 (stmt, 5);
      info->created = relay_store_column_text (stmt, 6);
      info->revoked = relay_store_column_text (stmt, 7);
      g_ptr_array_add (tokens, info);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      relay_store_fail (store, error, "list tokens");
      return NULL;
    }
  return g_steal_pointer (&tokens);
}


gboolean
relay_store_token_revoke (RelayStore *store, gint64 id, GError **error)
{
  return relay_store_revoke_row (store, "UPDATE fleet_tokens SET revoked = coalesce(revoked, ?) WHERE id = ?",
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
  g_autofree char *hash = relay_store_hash_secret (token);
  g_autofree char *secret = NULL;
  g_autofree char *secret_hash = NULL;
  g_autofree char *created = relay_store_now_rfc3339 ();
  g_autofree char *token_prefix = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 token_id = -1;
  int rc;

  secret = relay_store_random_secret (RELAY_AGENT_CREDENTIAL_PREFIX, error);
  if (secret == NULL)
    return FALSE;
  secret_hash = relay_store_hash_secret (secret);

  /* One write transaction: two agents racing for a token's last use (in this relay or
   * through another process on relay.db) cannot both pass the count. */
  if (sqlite3_exec (store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return relay_store_fail (store, error, "begin enrolment");
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
      token_prefix = relay_store_column_text (stmt, 1);
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
  relay_store_fail (store, error, "enrol");
  sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

gboolean
relay_store_agent_check (RelayStore *store, const char *credential, gint64 *id, char **prefix)
{
  g_autofree char *hash = relay_store_hash_secret (credential);
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
        *prefix = relay_store_column_text (stmt, 1);
    }
  sqlite3_finalize (stmt);
  return found;
}

gboolean
relay_store_agent_is_active (RelayStore *store, gint64 id)
{
  return relay_store_row_is_active (store, "SELECT 1 FROM enrolments WHERE id = ? AND revoked IS NULL", id, "enrolment");
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
      relay_store_fail (store, error, "prepare agent list");
      return NULL;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RelayEnrolInfo *info = g_new0 (RelayEnrolInfo, 1);

      info->id = sqlite3_column_int64 (stmt, 0);
      info->token_id = sqlite3_column_int64 (stmt, 1);
      info->token_name = relay_store_column_text (stmt, 2);
      info->agent_id = relay_store_column_text (stmt, 3);
      info->prefix = relay_store_column_text (stmt, 4);
      info->created = relay_store_column_text (stmt, 5);
      info->revoked = relay_store_column_text (stmt, 6);
      g_ptr_array_add (agents, info);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      relay_store_fail (store, error, "list agents");
      return NULL;
    }
  return g_steal_pointer (&agents);
}

gboolean
relay_store_agent_revoke (RelayStore *store, gint64 id, GError **error)
{
  return relay_store_revoke_row (store, "UPDATE enrolments SET revoked = coalesce(revoked, ?) WHERE id = ?",
                                 id, "enrolled agent", error);
}

/* ---- the dashboard's operator password ---- */

gboolean
relay_store_operator_set_password (RelayStore *store, const char *hash, GError **error)
{
  g_autofree char *now = relay_store_now_rfc3339 ();
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (store->db,
                          "INSERT INTO operator (id, password, changed) VALUES (1, ?1, ?2)"
                          " ON CONFLICT(id) DO UPDATE SET password = ?1, changed = ?2",
                          -1, &stmt, NULL) != SQLITE_OK)
    return relay_store_fail (store, error, "prepare password");
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, now, -1, SQLITE_TRANSIENT);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  sqlite3_finalize (stmt);
  if (!ok)
    return relay_store_fail (store, error, "set password");
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
    hash = relay_store_column_text (stmt, 0);
  sqlite3_finalize (stmt);
  return hash;
}
