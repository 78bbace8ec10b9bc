/* test-p2p-code.c — pairing codes (docs/protocol.md §9.1): the list, what a person may
 * type, what is refused. */
#include "nfltr-p2p-code.h"
#include "nfltr-p2p-error.h"

#include <string.h>

static void
test_list (void)
{
  /* sorted (the lookup is a binary search), distinct, lower-case letters only */
  for (guint i = 0; i < NFLTR_P2P_CODE_LIST_SIZE; i++)
    {
      const char *w = nfltr_p2p_code_word (i);

      g_assert_cmpuint (strlen (w), >=, 3);
      for (const char *p = w; *p; p++)
        g_assert_true (*p >= 'a' && *p <= 'z');
      if (i > 0)
        g_assert_cmpint (strcmp (nfltr_p2p_code_word (i - 1), w), <, 0);
      g_assert_cmpint (nfltr_p2p_code_word_index (w, strlen (w)), ==, i);
    }
  g_assert_cmpint (nfltr_p2p_code_word_index ("lanter", 6), ==, -1);
  g_assert_cmpint (nfltr_p2p_code_word_index ("lanterns", 8), ==, -1);
}

static void
test_parse (void)
{
  struct {
    const char *typed;
    const char *normal;
    guint       number;
  } good[] = {
    { "7-lantern-otter-quartz", "7-lantern-otter-quartz", 7 },
    { "  7 Lantern OTTER quartz ", "7-lantern-otter-quartz", 7 },
    { "0042 - lantern - otter", "42-lantern-otter", 42 },
    { "9999-acorn-zinnia-sesame", "9999-acorn-zinnia-sesame", 9999 },
  };
  const char *bad[] = {
    "", "lantern-otter", "7", "7-lantern", "0-lantern-otter", "10000-lantern-otter",
    "7-lantern-otter-quartz-acorn", "7-lanterns-otter", "7-lantern-otter!", "7--", "7-lantern-ötter",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *normal = NULL;
      guint number = 0;

      g_assert_true (nfltr_p2p_code_parse (good[i].typed, &number, &normal, NULL));
      g_assert_cmpstr (normal, ==, good[i].normal);
      g_assert_cmpuint (number, ==, good[i].number);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (nfltr_p2p_code_parse (bad[i], NULL, NULL, &error));
      g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_BAD_CODE);
      g_assert_nonnull (strstr (error->message, "is not a pairing code"));
    }
}

static void
test_generate (void)
{
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (int i = 0; i < 200; i++)
    {
      g_autofree char *code = nfltr_p2p_code_generate (12, 3);
      g_autofree char *normal = NULL;
      guint number;

      g_assert_true (nfltr_p2p_code_parse (code, &number, &normal, NULL));
      g_assert_cmpstr (code, ==, normal);
      g_assert_cmpuint (number, ==, 12);
      g_hash_table_add (seen, g_steal_pointer (&code));
    }
  /* 24 bits: 200 draws colliding more than a handful of times means the CSPRNG is not used */
  g_assert_cmpuint (g_hash_table_size (seen), >=, 195);
  g_hash_table_unref (seen);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/p2p/code/list", test_list);
  g_test_add_func ("/p2p/code/parse", test_parse);
  g_test_add_func ("/p2p/code/generate", test_generate);
  return g_test_run ();
}
