/* test-store.c — relay.db: keys are kept only as hashes, revocation sticks, a tunnel's `since`
 * survives rebinds and reopening and restarts when its identity changes. */
#include "store/relay-store.h"
#include "nfltr-error.h"
#include "relay-test-util.h"

#include <sqlite3.h>
#include <string.h>

typedef struct {
  char       *dir;
  RelayStore *store;
} Fixture;

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = make_temp_dir ();
  f->store = relay_store_open (f->dir, &error);
  g_assert_no_error (error);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->store, relay_store_free);
  remove_tree (f->dir);
  g_free (f->dir);
}

/* Runs SQL on relay.db behind the store's back, as another process would. */
static void
exec_sql (Fixture *f, const char *sql)
{
  g_autofree char *path = g_build_filename (f->dir, "relay.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static void
test_keys (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *key1 = NULL;
  g_autofree char *key2 = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *path = g_build_filename (f->dir, "relay.db", NULL);
  g_autofree char *db_bytes = NULL;
  gsize db_len = 0;
  gint64 id1 = 0, id2 = 0, found = 0;

  g_assert_true (relay_store_key_create (f->store, "laptop", &key1, &id1, &error));
  g_assert_true (relay_store_key_create (f->store, NULL, &key2, &id2, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (key1, "nfltr_"));
  g_assert_cmpuint (strlen (key1), ==, 6 + 64);
  g_assert_cmpstr (key1, !=, key2);
  g_assert_cmpint (id2, >, id1);

  g_assert_true (relay_store_key_check (f->store, key1, &found));
  g_assert_cmpint (found, ==, id1);
  g_assert_false (relay_store_key_check (f->store, "nfltr_nope", NULL));
  g_assert_false (relay_store_key_check (f->store, "", NULL));

  /* The key itself is nowhere in the database file. */
  exec_sql (f, "PRAGMA wal_checkpoint(TRUNCATE);");
  g_assert_true (g_file_get_contents (path, &db_bytes, &db_len, NULL));
  g_assert_null (memmem (db_bytes, db_len, key1 + 6, 64));

  g_assert_true (relay_store_key_revoke (f->store, id1, &error));
  g_assert_true (relay_store_key_revoke (f->store, id1, &error));  /* twice is fine */
  g_assert_no_error (error);
  g_assert_false (relay_store_key_check (f->store, key1, NULL));
  g_assert_true (relay_store_key_check (f->store, key2, NULL));
  g_assert_false (relay_store_key_revoke (f->store, 999, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "999"));

  list = relay_store_key_list (f->store, NULL);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((RelayKeyInfo *) list->pdata[0])->name, ==, "laptop");
  g_assert_nonnull (((RelayKeyInfo *) list->pdata[0])->revoked);
  g_assert_null (((RelayKeyInfo *) list->pdata[1])->revoked);
}

static void
test_keys_survive_reopen (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;

  g_assert_true (relay_store_key_create (f->store, "x", &key, NULL, &error));
  relay_store_free (f->store);
  f->store = relay_store_open (f->dir, &error);
  g_assert_no_error (error);
  g_assert_true (relay_store_key_check (f->store, key, NULL));
}

static char *
seen (Fixture *f, const char *mode, const char *fingerprint)
{
  g_autoptr(GError) error = NULL;
  char *since = NULL;

  g_assert_true (relay_store_tunnel_seen (f->store, "app.nfltr.localhost", mode, fingerprint,
                                          "http", &since, &error));
  g_assert_no_error (error);
  return since;
}

static void
test_tunnel_since (Fixture *f, gconstpointer data)
{
  g_autofree char *first = seen (f, "verified", "sha256:aa");
  g_autofree char *again = NULL;
  g_autofree char *other_fp = NULL;
  g_autofree char *other_mode = NULL;

  g_assert_true (g_str_has_prefix (first, "20"));
  g_assert_true (g_str_has_suffix (first, "Z"));

  /* Pretend it was first seen long ago: an unchanged rebind keeps that. */
  exec_sql (f, "UPDATE tunnels SET since = '2001-02-03T04:05:06Z'");
  again = seen (f, "verified", "sha256:aa");
  g_assert_cmpstr (again, ==, "2001-02-03T04:05:06Z");

  /* A new certificate, or a new mode, is a new tunnel identity: since starts again. */
  other_fp = seen (f, "verified", "sha256:bb");
  g_assert_cmpstr (other_fp, !=, "2001-02-03T04:05:06Z");
  exec_sql (f, "UPDATE tunnels SET since = '2001-02-03T04:05:06Z'");
  other_mode = seen (f, "inspectable", "sha256:bb");
  g_assert_cmpstr (other_mode, !=, "2001-02-03T04:05:06Z");
}

static void
test_unwritable_dir (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *file = g_build_filename (dir, "not-a-dir", NULL);
  RelayStore *store;

  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  store = relay_store_open (file, &error);
  g_assert_null (store);
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, file));
  remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/keys", Fixture, NULL, set_up, test_keys, tear_down);
  g_test_add ("/store/keys-survive-reopen", Fixture, NULL, set_up, test_keys_survive_reopen, tear_down);
  g_test_add ("/store/tunnel-since", Fixture, NULL, set_up, test_tunnel_since, tear_down);
  g_test_add_func ("/store/unwritable-dir", test_unwritable_dir);
  return g_test_run ();
}
