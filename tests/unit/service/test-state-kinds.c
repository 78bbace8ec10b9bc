/* test-state-kinds.c — tunnels.json and tunnel kinds: a kind's own options survive a save and
 * a load as "kind-options", and entries of kinds without options are written as before. */
#include "nfltr-state.h"
#include "nfltr-error.h"

#include <string.h>
#include <glib/gstdio.h>

static void
test_kind_options_round_trip (void)
{
  const char *text = "[{\"name\":\"web\",\"kind\":\"http\",\"target\":\"127.0.0.1:3000\"},"
                     " {\"name\":\"x\",\"kind\":\"future\",\"target\":\"t\",\"kind-options\":{\"shell\":\"/"
                     "bin/sh\",\"rows\":24}},"
                     " {\"name\":\"bad\",\"kind\":\"future\",\"target\":\"t\",\"kind-options\":\"rows=24\"}]";
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = nfltr_tunnels_parse (text, strlen (text), "tunnels.json", &error);
  g_autoptr (GPtrArray) again = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nfltr-test-state-kinds-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autofree char *saved = NULL;
  const NfltrTunnelConfig *web, *x;
  const char *shell;
  gint64 rows;

  g_assert_no_error (error);
  /* The entry whose kind-options is not an object is skipped, the others kept. */
  g_assert_cmpuint (list->len, ==, 2);
  web = g_ptr_array_index (list, 0);
  x = g_ptr_array_index (list, 1);
  g_assert_null (web->kind_options);
  g_assert_nonnull (x->kind_options);
  g_assert_true (g_variant_lookup (x->kind_options, "shell", "&s", &shell));
  g_assert_cmpstr (shell, ==, "/bin/sh");
  g_assert_true (g_variant_lookup (x->kind_options, "rows", "x", &rows));
  g_assert_cmpint (rows, ==, 24);

  g_assert_true (nfltr_tunnels_save (dir, list, &error));
  g_assert_no_error (error);
  path = g_build_filename (dir, "tunnels.json", NULL);
  g_assert_true (g_file_get_contents (path, &saved, NULL, NULL));
  /* Written once, for the kind that has options; the http entry looks as it always did. */
  g_assert_nonnull (strstr (saved, "\"kind-options\""));
  g_assert_null (strstr (strstr (saved, "\"kind-options\"") + 1, "\"kind-options\""));

  again = nfltr_tunnels_load (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 2);
  g_assert_null (((NfltrTunnelConfig *) g_ptr_array_index (again, 0))->kind_options);
  g_assert_true (g_variant_equal (x->kind_options,
                                  ((NfltrTunnelConfig *) g_ptr_array_index (again, 1))->kind_options));

  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/state/tunnels/kind-options", test_kind_options_round_trip);
  return g_test_run ();
}
