/* test-wg-store.c — the WireGuard track's tables in relay.db (relay/wg/relay-wg-store.c):
 * networks owned by the credential that made them, one /20 each, members' addresses stable
 * across rejoins and store reopenings, released on leave, and never handed out twice — also
 * when several connections to relay.db join at once. And the relay's classifier on the four
 * message shapes (relay/wg/relay-wg-classify.c). */
#include "wg/relay-wg-classify.h"
#include "wg/relay-wg-store.h"
#include "nfltr-error.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *dir;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("nfltr-wg-store-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  const char *files[] = { "relay.db", "relay.db-wal", "relay.db-shm" };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, files[i], NULL);

      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

static char *
key_of (guint n)
{
  /* any 44-character base64 string is a key to the store */
  return g_strdup_printf ("%043u=", n);
}

static void
test_network_ownership_and_subnets (Fixture *f, gconstpointer data)
{
  g_autoptr(RelayWgStore) store = relay_wg_store_open (f->dir, NULL);
  g_autoptr(GError) error = NULL;
  guint32 a, b, again;

  g_assert_nonnull (store);
  g_assert_true (relay_wg_store_network (store, "home", "key", "1", TRUE, &a, &error));
  g_assert_no_error (error);
  g_assert_cmphex (a, ==, 0x64400000);   /* 100.64.0.0/20 */
  g_assert_true (relay_wg_store_network (store, "lab", "key", "1", TRUE, &b, &error));
  g_assert_cmphex (b, ==, 0x64401000);   /* 100.64.16.0/20 */
  g_assert_true (relay_wg_store_network (store, "home", "key", "1", FALSE, &again, &error));
  g_assert_cmphex (again, ==, a);
  /* another credential may neither create nor join it */
  g_assert_false (relay_wg_store_network (store, "home", "key", "2", TRUE, &again, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN);
  g_clear_error (&error);
  g_assert_false (relay_wg_store_network (store, "nowhere", "key", "1", FALSE, &again, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND);
}

static void
test_addresses_stable_and_released (Fixture *f, gconstpointer data)
{
  g_autoptr(RelayWgStore) store = relay_wg_store_open (f->dir, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *k1 = key_of (1), *k2 = key_of (2), *k3 = key_of (3);
  guint32 subnet, a1, a2, a3, again;

  g_assert_true (relay_wg_store_network (store, "home", "key", "1", TRUE, &subnet, &error));
  g_assert_true (relay_wg_store_join (store, "home", k1, "serve", NULL, &a1, &error));
  g_assert_true (relay_wg_store_join (store, "home", k2, "peer", NULL, &a2, &error));
  g_assert_true (relay_wg_store_join (store, "home", k3, "stock", "laptop", &a3, &error));
  g_assert_no_error (error);
  g_assert_cmphex (a1, ==, subnet + 1);
  g_assert_cmphex (a2, ==, subnet + 2);
  g_assert_cmphex (a3, ==, subnet + 3);
  /* a rejoin keeps the address */
  g_assert_true (relay_wg_store_join (store, "home", k2, "peer", NULL, &again, &error));
  g_assert_cmphex (again, ==, a2);
  /* so does a restart (a new connection to the same file) */
  g_clear_pointer (&store, relay_wg_store_free);
  store = relay_wg_store_open (f->dir, &error);
  g_assert_true (relay_wg_store_join (store, "home", k3, "stock", "laptop", &again, &error));
  g_assert_cmphex (again, ==, a3);
  /* leave releases: the next key gets the lowest free host, the one given back */
  g_assert_true (relay_wg_store_leave (store, "home", k2, &error));
  g_assert_false (relay_wg_store_leave (store, "home", k2, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND);
  g_clear_error (&error);
  {
    g_autofree char *k4 = key_of (4);

    g_assert_true (relay_wg_store_join (store, "home", k4, "peer", NULL, &again, &error));
    g_assert_cmphex (again, ==, a2);
  }
  {
    g_autoptr(GPtrArray) rows = relay_wg_store_members (store, &error);

    g_assert_nonnull (rows);
    g_assert_cmpuint (rows->len, ==, 3);
    g_assert_cmpstr (((RelayWgMemberRow *) rows->pdata[2])->label, ==, "laptop");
  }
}

typedef struct {
  const char *dir;
  guint       first;
  GArray     *addresses;
} Joiner;

static gpointer
joiner_thread (gpointer data)
{
  Joiner *j = data;
  g_autoptr(RelayWgStore) store = relay_wg_store_open (j->dir, NULL);

  g_assert_nonnull (store);
  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *key = key_of (j->first + i);
      g_autoptr(GError) error = NULL;
      guint32 address;

      g_assert_true (relay_wg_store_join (store, "home", key, "peer", NULL, &address, &error));
      g_assert_no_error (error);
      g_array_append_val (j->addresses, address);
    }
  return NULL;
}

static void
test_concurrent_joins_never_collide (Fixture *f, gconstpointer data)
{
  g_autoptr(RelayWgStore) store = relay_wg_store_open (f->dir, NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  Joiner joiners[4];
  GThread *threads[4];
  guint32 subnet;

  g_assert_true (relay_wg_store_network (store, "home", "key", "1", TRUE, &subnet, NULL));
  /* four connections to relay.db, as four relays or `nfltr-relay` commands on one file */
  for (guint t = 0; t < 4; t++)
    {
      joiners[t] = (Joiner) { f->dir, t * 1000, g_array_new (FALSE, FALSE, sizeof (guint32)) };
      threads[t] = g_thread_new ("joiner", joiner_thread, &joiners[t]);
    }
  for (guint t = 0; t < 4; t++)
    {
      g_thread_join (threads[t]);
      for (guint i = 0; i < joiners[t].addresses->len; i++)
        {
          guint32 a = g_array_index (joiners[t].addresses, guint32, i);

          g_assert_false (g_hash_table_contains (seen, GUINT_TO_POINTER (a)));
          g_assert_cmphex (a & ~0xfffu, ==, subnet);
          g_hash_table_add (seen, GUINT_TO_POINTER (a));
        }
      g_array_unref (joiners[t].addresses);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 160);
}

static void
test_classify (void)
{
  guint8 msg[148] = { 1, 0, 0, 0, 0x78, 0x56, 0x34, 0x12 };
  guint8 data[48] = { 4, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde };
  RelayWgHeader h;

  g_assert_true (relay_wg_classify (msg, sizeof msg, &h));
  g_assert_cmpuint (h.type, ==, 1);
  g_assert_cmphex (h.sender, ==, 0x12345678);
  g_assert_false (relay_wg_classify (msg, sizeof msg - 1, &h));   /* exact length only */
  msg[2] = 1;
  g_assert_false (relay_wg_classify (msg, sizeof msg, &h));       /* reserved bytes zero */
  g_assert_true (relay_wg_classify (data, sizeof data, &h));
  g_assert_cmpuint (h.type, ==, 4);
  g_assert_cmphex (h.receiver, ==, 0xdeadbeef);
  g_assert_false (relay_wg_classify (data, 31, &h));
  data[0] = 5;
  g_assert_false (relay_wg_classify (data, sizeof data, &h));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/relay/wg-store/ownership-and-subnets", Fixture, NULL, setup, test_network_ownership_and_subnets,
              teardown);
  g_test_add ("/relay/wg-store/stable-and-released", Fixture, NULL, setup, test_addresses_stable_and_released,
              teardown);
  g_test_add ("/relay/wg-store/concurrent-joins", Fixture, NULL, setup, test_concurrent_joins_never_collide,
              teardown);
  g_test_add_func ("/relay/wg/classify", test_classify);
  return g_test_run ();
}
