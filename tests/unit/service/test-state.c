/* test-state.c — relay.json and tunnels.json as a user might leave them after hand-editing:
 * every fault is an error naming the file and the member, and one bad tunnel entry does not
 * cost the others. */
#include "nfltr-state.h"
#include "nfltr-error.h"

#include <string.h>
#include <glib/gstdio.h>

static void
relay_ok (void)
{
  const char *text = "{\"host\":\"nfltr.localhost\",\"port\":8443,\"fingerprint\":\"sha256:ab\",\"domain\":\"nfltr.localhost\"}";
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrRelayConfig) c = nfltr_relay_config_parse (text, strlen (text), "relay.json", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (c->host, ==, "nfltr.localhost");
  g_assert_cmpuint (c->port, ==, 8443);
  g_assert_cmpstr (c->fingerprint, ==, "sha256:ab");
  g_assert_cmpstr (c->domain, ==, "nfltr.localhost");
}

static void
relay_bad (const char *text, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrRelayConfig) c = nfltr_relay_config_parse (text, strlen (text), "relay.json", &error);

  g_assert_null (c);
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED);
  if (strstr (error->message, fragment) == NULL || strstr (error->message, "relay.json") == NULL)
    g_error ("%s → “%s”, expected “%s”", text, error->message, fragment);
}

static void
test_relay_config (void)
{
  relay_ok ();
  relay_bad ("", "is empty");
  relay_bad ("{", "not valid JSON");
  relay_bad ("[]", "not a JSON object");
  relay_bad ("{\"port\":1,\"fingerprint\":\"sha256:a\"}", "“host” is missing");
  relay_bad ("{\"host\":{},\"port\":1,\"fingerprint\":\"sha256:a\"}", "“host” must be a string");
  relay_bad ("{\"host\":\"h\",\"port\":70000,\"fingerprint\":\"sha256:a\"}", "“port” must be a number 1–65535");
  relay_bad ("{\"host\":\"h\",\"port\":\"8443\",\"fingerprint\":\"sha256:a\"}", "“port” must be a number");
  relay_bad ("{\"host\":\"h\",\"port\":1,\"fingerprint\":\"md5:a\"}", "bad host or fingerprint");
  relay_bad ("{\"host\":\"h\",\"port\":1,\"fingerprint\":\"sha256:a\",\"domain\":7}", "“domain” must be a string");
}

static void
test_tunnels (void)
{
  const char *text =
    "[{\"name\":\"a\",\"target\":\"127.0.0.1:3000\"},"
    " 5,"
    " {\"name\":\"b\",\"target\":{}},"
    " {\"name\":\"c\",\"target\":\"127.0.0.1:3001\",\"e2ee\":\"no\"},"
    " {\"name\":\"d\",\"target\":\"127.0.0.1:3002\",\"kind\":\"tcp\",\"e2ee\":false,\"enabled\":false}]";
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = nfltr_tunnels_parse (text, strlen (text), "tunnels.json", &error);
  NfltrTunnelConfig *a, *d;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  a = g_ptr_array_index (list, 0);
  d = g_ptr_array_index (list, 1);
  g_assert_cmpstr (a->name, ==, "a");
  g_assert_cmpstr (a->kind, ==, "http");
  g_assert_true (a->e2ee);
  g_assert_true (a->enabled);
  g_assert_cmpstr (d->name, ==, "d");
  g_assert_cmpstr (d->kind, ==, "tcp");
  g_assert_false (d->e2ee);
  g_assert_false (d->enabled);

  g_clear_pointer (&list, g_ptr_array_unref);
  list = nfltr_tunnels_parse ("{}", 2, "tunnels.json", &error);
  g_assert_null (list);
  g_assert_nonnull (strstr (error->message, "tunnels.json: not a JSON array"));
}

/* The loaders, on disk: nothing saved yet is not an error (no relay, no tunnels), a file
 * that cannot be read is one naming it, and what was saved comes back. */
static void
test_load (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nfltr-test-state-XXXXXX", &error);
  g_autofree char *relay_path = NULL;
  g_autofree char *tunnels_path = NULL;
  g_autoptr(NfltrRelayConfig) relay = NULL;
  g_autoptr(GPtrArray) tunnels = NULL;
  NfltrRelayConfig saved = { .host = (char *) "nfltr.localhost", .port = 8443,
                             .fingerprint = (char *) "sha256:ab" };

  g_assert_no_error (error);
  relay_path = g_build_filename (dir, "relay.json", NULL);
  tunnels_path = g_build_filename (dir, "tunnels.json", NULL);

  relay = nfltr_relay_config_load (dir, &error);
  g_assert_no_error (error);
  g_assert_null (relay);
  tunnels = nfltr_tunnels_load (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (tunnels);
  g_assert_cmpuint (tunnels->len, ==, 0);
  g_clear_pointer (&tunnels, g_ptr_array_unref);

  /* a directory where the file should be: read fails with something other than ENOENT */
  g_assert_cmpint (g_mkdir (relay_path, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (tunnels_path, 0700), ==, 0);
  relay = nfltr_relay_config_load (dir, &error);
  g_assert_null (relay);
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "cannot read "));
  g_assert_nonnull (strstr (error->message, relay_path));
  g_clear_error (&error);
  tunnels = nfltr_tunnels_load (dir, &error);
  g_assert_null (tunnels);
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, tunnels_path));
  g_clear_error (&error);
  g_assert_cmpint (g_rmdir (relay_path), ==, 0);
  g_assert_cmpint (g_rmdir (tunnels_path), ==, 0);

  g_assert_true (nfltr_relay_config_save (dir, &saved, &error));
  g_assert_no_error (error);
  relay = nfltr_relay_config_load (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (relay->host, ==, "nfltr.localhost");
  g_assert_cmpuint (relay->port, ==, 8443);
  g_assert_cmpstr (relay->fingerprint, ==, "sha256:ab");
  g_assert_null (relay->domain);

  /* a parse error names the file's path */
  g_assert_true (g_file_set_contents (tunnels_path, "{}", -1, NULL));
  tunnels = nfltr_tunnels_load (dir, &error);
  g_assert_null (tunnels);
  g_assert_nonnull (strstr (error->message, tunnels_path));
  g_assert_nonnull (strstr (error->message, "not a JSON array"));

  g_assert_cmpint (g_unlink (relay_path), ==, 0);
  g_assert_cmpint (g_unlink (tunnels_path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/state/relay-config", test_relay_config);
  g_test_add_func ("/state/tunnels", test_tunnels);
  g_test_add_func ("/state/load", test_load);
  return g_test_run ();
}
