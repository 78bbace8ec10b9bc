/* test-store.c — relay.db: keys are kept only as hashes, revocation sticks, a tunnel's `since`
 * survives rebinds and reopening and restarts when its identity changes, and a name stays its
 * owner's (docs/protocol.md §6) while unused, across reopening, until released or expired. */
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

#define DAY (24 * 3600)

/* §6 with a fake clock: another credential is refused while the owner holds the name, while it
 * is unused and unexpired, and after a reopen (a relay restart); it gets the name once the
 * reservation lapses or is released. */
static void
test_name_ownership (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayNameInfo) holder = NULL;
  g_autoptr(GPtrArray) list = NULL;
  const gint64 t0 = 1800000000;
  const gint64 expiry = 30 * DAY;

  g_assert_true (relay_store_name_claim (f->store, "demo", "key", "1", t0, expiry, &holder, &error));
  g_assert_no_error (error);
  g_assert_null (holder);
  /* Bound: even far past the expiry another key is refused, and told who holds it. */
  g_assert_false (relay_store_name_claim (f->store, "demo", "key", "2", t0 + 400 * DAY, expiry, &holder, &error));
  g_assert_no_error (error);
  g_assert_nonnull (holder);
  g_assert_cmpstr (holder->owner_id, ==, "1");
  g_assert_true (holder->bound);
  g_assert_cmpint (relay_name_info_expires (holder, expiry), ==, G_MAXINT64);
  g_clear_pointer (&holder, relay_name_info_free);

  /* Unused since t0 + 1 day: reserved until t0 + 31 days. */
  g_assert_true (relay_store_name_unused (f->store, "demo", "key", "1", t0 + DAY, &error));
  g_assert_false (relay_store_name_claim (f->store, "demo", "key", "2", t0 + 2 * DAY, expiry, &holder, &error));
  g_assert_cmpint (relay_name_info_expires (holder, expiry), ==, t0 + 31 * DAY);
  g_clear_pointer (&holder, relay_name_info_free);
  /* Someone else's "unused" does nothing. */
  g_assert_true (relay_store_name_unused (f->store, "demo", "key", "2", t0 + 2 * DAY, &error));

  /* A restart: the reservation is on disk. */
  g_clear_pointer (&f->store, relay_store_free);
  f->store = relay_store_open (f->dir, &error);
  g_assert_no_error (error);
  g_assert_true (relay_store_names_recover (f->store, t0 + 3 * DAY, &error));
  g_assert_false (relay_store_name_claim (f->store, "demo", "key", "2", t0 + 30 * DAY, expiry, NULL, &error));
  g_assert_no_error (error);
  /* The owner gets it back at any time, and its first claim time is kept. */
  g_assert_true (relay_store_name_claim (f->store, "demo", "key", "1", t0 + 30 * DAY, expiry, NULL, &error));
  g_assert_true (relay_store_name_unused (f->store, "demo", "key", "1", t0 + 30 * DAY, &error));
  list = relay_store_name_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((RelayNameInfo *) list->pdata[0])->name, ==, "demo");
  g_assert_cmpstr (((RelayNameInfo *) list->pdata[0])->owner_kind, ==, "key");
  g_assert_cmpint (((RelayNameInfo *) list->pdata[0])->claimed, ==, t0);

  /* Expiry counts from the last use: one second short is still refused, then it lapses. */
  g_assert_false (relay_store_name_claim (f->store, "demo", "key", "2", t0 + 60 * DAY - 1, expiry, NULL, &error));
  g_assert_true (relay_store_name_claim (f->store, "demo", "key", "2", t0 + 60 * DAY, expiry, NULL, &error));
  g_assert_false (relay_store_name_claim (f->store, "demo", "key", "1", t0 + 60 * DAY, expiry, NULL, &error));
  g_assert_no_error (error);

  /* expiry 0 = never lapses. */
  g_assert_true (relay_store_name_unused (f->store, "demo", "key", "2", t0 + 60 * DAY, &error));
  g_assert_false (relay_store_name_claim (f->store, "demo", "key", "1", t0 + 9000 * DAY, 0, NULL, &error));

  /* Release: not by another owner; by the owner or the operator. */
  g_assert_false (relay_store_name_release (f->store, "demo", "key", "1", &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN);
  g_clear_error (&error);
  g_assert_true (relay_store_name_release (f->store, "demo", "key", "2", &error));
  g_assert_no_error (error);
  g_assert_false (relay_store_name_release (f->store, "demo", NULL, NULL, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (relay_store_name_claim (f->store, "demo", "key", "1", t0 + 61 * DAY, expiry, NULL, &error));
  g_assert_true (relay_store_name_release (f->store, "demo", NULL, NULL, &error));
  g_assert_true (relay_store_name_claim (f->store, "demo", "key", "3", t0 + 61 * DAY, expiry, NULL, &error));
  g_assert_no_error (error);
}

/* A relay that stopped (or crashed) while a name was bound: the name's unused time starts at
 * the next start, not at its last bind, so it cannot lapse the moment the relay is back. */
static void
test_name_recover (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const gint64 t0 = 1800000000;

  g_assert_true (relay_store_name_claim (f->store, "demo", "key", "1", t0, DAY, NULL, &error));
  g_assert_true (relay_store_names_recover (f->store, t0 + 10 * DAY, &error));
  g_assert_false (relay_store_name_claim (f->store, "demo", "key", "2", t0 + 10 * DAY + 60, DAY, NULL, &error));
  g_assert_true (relay_store_name_claim (f->store, "demo", "key", "2", t0 + 11 * DAY, DAY, NULL, &error));
  g_assert_no_error (error);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/keys", Fixture, NULL, set_up, test_keys, tear_down);
  g_test_add ("/store/keys-survive-reopen", Fixture, NULL, set_up, test_keys_survive_reopen, tear_down);
  g_test_add ("/store/tunnel-since", Fixture, NULL, set_up, test_tunnel_since, tear_down);
  g_test_add ("/store/name-ownership", Fixture, NULL, set_up, test_name_ownership, tear_down);
  g_test_add ("/store/name-recover", Fixture, NULL, set_up, test_name_recover, tear_down);
  g_test_add_func ("/store/unwritable-dir", test_unwritable_dir);
  return g_test_run ();
}
