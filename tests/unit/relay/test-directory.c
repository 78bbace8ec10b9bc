/* test-directory.c — agent id → control channel (relay/agents/relay-directory.c): added at
 * WELCOME, replaced by a reconnect under the same key, never taken over by another key, and
 * the older channel is found again when the newer one goes first. Channels are stand-in
 * pointers: the directory never looks inside them. */
#include "agents/relay-directory.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"

static RelayAgent *
fake (guint n)
{
  return GUINT_TO_POINTER (0x1000 + n);
}

static void
test_add_lookup_remove (void)
{
  g_autoptr(RelayDirectory) dir = relay_directory_new ();

  g_assert_null (relay_directory_lookup (dir, ID_A));
  g_assert_null (relay_directory_lookup (dir, NULL));
  g_assert_true (relay_directory_add (dir, ID_A, 1, fake (1)));
  g_assert_true (relay_directory_add (dir, ID_B, 2, fake (2)));
  g_assert_cmpuint (relay_directory_size (dir), ==, 2);
  g_assert_true (relay_directory_lookup (dir, ID_A) == fake (1));
  g_assert_true (relay_directory_lookup (dir, ID_B) == fake (2));

  relay_directory_remove (dir, ID_A, fake (1));
  g_assert_null (relay_directory_lookup (dir, ID_A));
  g_assert_cmpuint (relay_directory_size (dir), ==, 1);
  /* removing what is not listed changes nothing */
  relay_directory_remove (dir, ID_A, fake (1));
  relay_directory_remove (dir, ID_B, fake (9));
  g_assert_true (relay_directory_lookup (dir, ID_B) == fake (2));
}

/* A reconnect (same id, same key) replaces the entry; if the new channel closes first, the
 * old one — still open — is reachable again. */
static void
test_reconnect_replaces (void)
{
  g_autoptr(RelayDirectory) dir = relay_directory_new ();

  g_assert_true (relay_directory_add (dir, ID_A, 1, fake (1)));
  g_assert_true (relay_directory_add (dir, ID_A, 1, fake (2)));
  g_assert_cmpuint (relay_directory_size (dir), ==, 1);
  g_assert_true (relay_directory_lookup (dir, ID_A) == fake (2));

  relay_directory_remove (dir, ID_A, fake (2));
  g_assert_true (relay_directory_lookup (dir, ID_A) == fake (1));

  /* the usual order: the old channel goes (idle timeout) while the new one stays */
  g_assert_true (relay_directory_add (dir, ID_A, 1, fake (3)));
  relay_directory_remove (dir, ID_A, fake (1));
  g_assert_true (relay_directory_lookup (dir, ID_A) == fake (3));
  relay_directory_remove (dir, ID_A, fake (3));
  g_assert_cmpuint (relay_directory_size (dir), ==, 0);
}

/* §6: another key cannot take an id over; once the id is free, it can be listed anew. */
static void
test_other_key_not_listed (void)
{
  g_autoptr(RelayDirectory) dir = relay_directory_new ();

  g_assert_true (relay_directory_add (dir, ID_A, 1, fake (1)));
  g_assert_false (relay_directory_add (dir, ID_A, 2, fake (2)));
  g_assert_true (relay_directory_lookup (dir, ID_A) == fake (1));
  relay_directory_remove (dir, ID_A, fake (2));
  g_assert_true (relay_directory_lookup (dir, ID_A) == fake (1));

  relay_directory_remove (dir, ID_A, fake (1));
  g_assert_true (relay_directory_add (dir, ID_A, 2, fake (3)));
  g_assert_true (relay_directory_lookup (dir, ID_A) == fake (3));
}

/* Listing the same channel twice keeps one entry for it. */
static void
test_add_twice (void)
{
  g_autoptr(RelayDirectory) dir = relay_directory_new ();

  g_assert_true (relay_directory_add (dir, ID_A, 1, fake (1)));
  g_assert_true (relay_directory_add (dir, ID_A, 1, fake (1)));
  relay_directory_remove (dir, ID_A, fake (1));
  g_assert_null (relay_directory_lookup (dir, ID_A));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/directory/add-lookup-remove", test_add_lookup_remove);
  g_test_add_func ("/directory/reconnect-replaces", test_reconnect_replaces);
  g_test_add_func ("/directory/other-key-not-listed", test_other_key_not_listed);
  g_test_add_func ("/directory/add-twice", test_add_twice);
  return g_test_run ();
}
