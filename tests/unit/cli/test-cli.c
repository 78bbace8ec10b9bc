/* test-cli.c — what nfltr checks and prints before (and without) calling the service */
#include "cli-args.h"
#include "cli-commands.h"
#include "cli-output.h"

#include "nfltr-cert.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static void
assert_message (const GError *error, const char *want)
{
  g_assert_nonnull (error);
  if (strstr (error->message, want) == NULL)
    g_error ("message “%s” lacks “%s”", error->message, want);
}

/* ---- byte units -------------------------------------------------------------------------- */

static void
check_bytes (guint64 bytes, const char *want)
{
  g_autofree char *text = cli_format_bytes (bytes);

  g_assert_cmpstr (text, ==, want);
}

static void
test_format_bytes (void)
{
  check_bytes (0, "0 B");
  check_bytes (1, "1 B");
  check_bytes (1023, "1023 B");
  check_bytes (1024, "1.0 KiB");
  check_bytes (1536, "1.5 KiB");
  check_bytes (10 * 1024 + 512, "10.5 KiB");
  /* 1023.99 KiB would print as "1024.0 KiB": it moves up a unit instead. */
  check_bytes (1024 * 1024 - 1, "1.0 MiB");
  check_bytes (1024 * 1024, "1.0 MiB");
  check_bytes (G_GUINT64_CONSTANT (5) * 1024 * 1024 * 1024, "5.0 GiB");
  check_bytes (G_GUINT64_CONSTANT (3) << 40, "3.0 TiB");
  check_bytes (G_MAXUINT64, "16.0 EiB");
}

static void
test_format_stats (void)
{
  g_autofree char *line = cli_format_stats (2, 17, 1536, 3 * 1024 * 1024);

  g_assert_cmpstr (line, ==, "Connections: 2 open, 17 total   In: 1.5 KiB   Out: 3.0 MiB");
}

static void
test_mode_description (void)
{
  g_assert_cmpstr (cli_mode_description ("verified"), ==, "verified end-to-end");
  g_assert_cmpstr (cli_mode_description ("inspectable"), ==,
                   "INSPECTABLE — the relay can read this traffic (--e2ee=false)");
  g_assert_cmpstr (cli_mode_description ("future"), ==, "future");
}

static void
test_json_events (void)
{
  g_autoptr (NfltrDbusTunnel) t = nfltr_dbus_tunnel_skeleton_new ();
  g_autofree char *ready = NULL;
  g_autofree char *ready_secret = NULL;
  g_autofree char *stats = cli_event_stats (1, 17, 1536, G_GUINT64_CONSTANT (5000000000));
  g_autofree char *state = cli_event_state ("reconnecting", "relay \"gone\"\n");
  g_autofree char *state_null = cli_event_state ("online", NULL);
  g_autofree char *error = cli_event_error ("the name “same” is already in use");
  g_autofree char *stopped = cli_event_stopped ();

  nfltr_dbus_tunnel_set_public_url (t, "https://myapp.nfltr.localhost:8443");
  nfltr_dbus_tunnel_set_mode (t, "verified");
  nfltr_dbus_tunnel_set_fingerprint (t, "sha256:00ff");
  nfltr_dbus_tunnel_set_name (t, "myapp");
  nfltr_dbus_tunnel_set_kind (t, "http");
  nfltr_dbus_tunnel_set_target (t, "127.0.0.1:3000");
  nfltr_dbus_tunnel_set_id (t, "myapp");
  nfltr_dbus_tunnel_set_certificate (t, "trusted");
  ready = cli_event_ready_for (t, NULL);
  ready_secret = cli_event_ready_for (t, "https://myapp.nfltr.localhost:8443/s3cret");

  /* The exact lines tests and scripts parse (docs/cli.md): member order and names. */
  g_assert_cmpstr (ready, ==,
                   "{\"event\":\"ready\",\"url\":\"https://myapp.nfltr.localhost:8443\","
                   "\"mode\":\"verified\",\"fingerprint\":\"sha256:00ff\",\"name\":\"myapp\","
                   "\"kind\":\"http\",\"target\":\"127.0.0.1:3000\",\"id\":\"myapp\","
                   "\"certificate\":\"trusted\"}");
  g_assert_nonnull (strstr (ready_secret, "\"url\":\"https://myapp.nfltr.localhost:8443/s3cret\""));
  g_assert_cmpstr (stats, ==,
                   "{\"event\":\"stats\",\"active_connections\":1,\"total_connections\":17,"
                   "\"bytes_in\":1536,\"bytes_out\":5000000000}");
  g_assert_cmpstr (state, ==,
                   "{\"event\":\"state\",\"state\":\"reconnecting\","
                   "\"last_error\":\"relay \\\"gone\\\"\\n\"}");
  g_assert_cmpstr (state_null, ==, "{\"event\":\"state\",\"state\":\"online\",\"last_error\":\"\"}");
  g_assert_cmpstr (error, ==, "{\"event\":\"error\",\"message\":\"the name “same” is already in use\"}");
  g_assert_cmpstr (stopped, ==, "{\"event\":\"stopped\"}");
  /* one line each: a newline inside a value is escaped */
  g_assert_null (strchr (state, '\n'));
}

/* ---- single checks ----------------------------------------------------------------------- */

static void
test_parse_bool (void)
{
  const char *trues[] = { NULL, "true", "TRUE", "yes", "on", "1" };
  const char *falses[] = { "false", "False", "no", "off", "0" };
  g_autoptr(GError) error = NULL;
  gboolean value;

  for (guint i = 0; i < G_N_ELEMENTS (trues); i++)
    {
      value = FALSE;
      g_assert_true (cli_parse_bool ("--e2ee", trues[i], &value, NULL));
      g_assert_true (value);
    }
  for (guint i = 0; i < G_N_ELEMENTS (falses); i++)
    {
      value = TRUE;
      g_assert_true (cli_parse_bool ("--e2ee", falses[i], &value, NULL));
      g_assert_false (value);
    }
  value = TRUE;
  g_assert_false (cli_parse_bool ("--e2ee", "maybe", &value, &error));
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  g_assert_cmpstr (error->message, ==, "--e2ee takes true or false, not “maybe”");
  g_assert_true (value);
}

static void
test_check_name (void)
{
  g_autofree char *longest = g_strnfill (63, 'a');
  g_autofree char *too_long = g_strnfill (64, 'a');
  const char *good[] = { "myapp", "a", "a-1", "0day", longest };
  const char *bad[] = { "", "-a", "a-", "MyApp", "my_app", "my.app", "ä", too_long };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (cli_check_name (good[i], NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *quoted = g_strdup_printf ("name “%s” is not a DNS label", bad[i]);

      g_assert_false (cli_check_name (bad[i], &error));
      assert_message (error, quoted);
    }
}

static void
test_normalize_relay (void)
{
  struct { const char *in, *out; } ok[] = {
    { "nfltr.localhost", "nfltr.localhost:8443" },
    { "nfltr.localhost:9443", "nfltr.localhost:9443" },
    { "[::1]:8443", "[::1]:8443" },
    { "10.0.0.1", "10.0.0.1:8443" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autofree char *relay = cli_normalize_relay (ok[i].in, NULL);

      g_assert_cmpstr (relay, ==, ok[i].out);
    }
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (cli_normalize_relay ("relay:70000", &error));
    assert_message (error, "port 70000 is out of range 1–65535");
  }
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (cli_normalize_relay ("", &error));
    g_assert_nonnull (error);
  }
}

static void
test_normalize_fingerprint (void)
{
  const char *hex = "3fa0c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9e";
  g_autofree char *want = g_strconcat ("sha256:", hex, NULL);
  g_autofree char *upper = g_ascii_strup (hex, -1);
  GString *colons = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *fp = NULL;

  for (guint i = 0; i < 64; i += 2)
    g_string_append_printf (colons, "%s%c%c", i ? ":" : "", upper[i], upper[i + 1]);

  fp = cli_normalize_fingerprint (want, NULL);
  g_assert_cmpstr (fp, ==, want);
  g_clear_pointer (&fp, g_free);
  fp = cli_normalize_fingerprint (hex, NULL);
  g_assert_cmpstr (fp, ==, want);
  g_clear_pointer (&fp, g_free);
  fp = cli_normalize_fingerprint (colons->str, NULL);
  g_assert_cmpstr (fp, ==, want);
  g_string_free (colons, TRUE);

  g_assert_null (cli_normalize_fingerprint ("sha256:abcd", &error));
  assert_message (error, "fingerprint “sha256:abcd” is not a SHA-256 fingerprint");
}

static void
test_suggest_command (void)
{
  const char *commands[] = { "login", "logout", "http", "tcp", "list", "status", "help", NULL };

  g_assert_cmpstr (cli_suggest_command ("lst", commands), ==, "list");
  g_assert_cmpstr (cli_suggest_command ("htp", commands), ==, "http");
  g_assert_cmpstr (cli_suggest_command ("stauts", commands), ==, "status");
  g_assert_cmpstr (cli_suggest_command ("login", commands), ==, "login");
  g_assert_null (cli_suggest_command ("frobnicate", commands));
  g_assert_null (cli_suggest_command ("", commands));
}

/* ---- tunnel command line ----------------------------------------------------------------- */

static gboolean
parse (CliTunnelOptions *options, GError **error, ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  g_ptr_array_add (args, (gpointer) "http");
  va_start (ap, error);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  return cli_tunnel_options_parse ("http", args->len - 1, (char **) args->pdata, options, error);
}

static void
bad_tunnel_args (const char *want, ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  CliTunnelOptions options;
  const char *arg;
  va_list ap;

  g_ptr_array_add (args, (gpointer) "http");
  va_start (ap, want);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  g_assert_false (cli_tunnel_options_parse ("http", args->len - 1, (char **) args->pdata,
                                            &options, &error));
  assert_message (error, want);
  cli_tunnel_options_clear (&options);
}

static void
test_tunnel_defaults (void)
{
  CliTunnelOptions o;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  const char *s;
  gboolean b;

  g_assert_true (parse (&o, &error, "3000", NULL));
  g_assert_no_error (error);
  g_assert_cmpstr (o.kind, ==, "http");
  g_assert_cmpstr (o.target, ==, "3000");
  g_assert_null (o.name);
  g_assert_true (o.e2ee);
  g_assert_null (o.cert_file);
  g_assert_false (o.json);

  v = g_variant_ref_sink (cli_tunnel_options_to_variant (&o));
  g_assert_true (g_variant_lookup (v, "kind", "&s", &s));
  g_assert_cmpstr (s, ==, "http");
  g_assert_true (g_variant_lookup (v, "target", "&s", &s));
  g_assert_cmpstr (s, ==, "3000");
  g_assert_true (g_variant_lookup (v, "e2ee", "b", &b));
  g_assert_true (b);
  g_assert_true (g_variant_lookup (v, "transient", "b", &b));
  g_assert_true (b);
  g_assert_false (g_variant_lookup (v, "name", "&s", &s));
  g_assert_false (g_variant_lookup (v, "cert-file", "&s", &s));
  cli_tunnel_options_clear (&o);
}

static void
test_tunnel_flags (void)
{
  CliTunnelOptions o;
  g_autoptr(GVariant) v = NULL;
  const char *s;
  gboolean b;

  /* options before or after the target */
  g_assert_true (parse (&o, NULL, "--e2ee=false", "localhost:8080", "--name", "myapp", "--json",
                        NULL));
  g_assert_false (o.e2ee);
  g_assert_cmpstr (o.target, ==, "localhost:8080");
  g_assert_cmpstr (o.name, ==, "myapp");
  g_assert_true (o.json);
  v = g_variant_ref_sink (cli_tunnel_options_to_variant (&o));
  g_assert_true (g_variant_lookup (v, "e2ee", "b", &b));
  g_assert_false (b);
  g_assert_true (g_variant_lookup (v, "name", "&s", &s));
  g_assert_cmpstr (s, ==, "myapp");
  cli_tunnel_options_clear (&o);

  g_assert_true (parse (&o, NULL, "3000", "--e2ee=true", NULL));
  g_assert_true (o.e2ee);
  cli_tunnel_options_clear (&o);

  g_assert_true (parse (&o, NULL, "3000", "--e2ee", NULL));
  g_assert_true (o.e2ee);
  cli_tunnel_options_clear (&o);

  /* GOption hands a following word to an optional-argument flag */
  g_assert_true (parse (&o, NULL, "3000", "--e2ee", "false", NULL));
  g_assert_false (o.e2ee);
  cli_tunnel_options_clear (&o);

  g_assert_true (parse (&o, NULL, "[::1]:443", NULL));
  g_assert_cmpstr (o.target, ==, "[::1]:443");
  cli_tunnel_options_clear (&o);
}

static void
test_tunnel_usage_errors (void)
{
  bad_tunnel_args ("port 70000 is out of range 1–65535", "70000", NULL);
  bad_tunnel_args ("port 0 is out of range 1–65535", "localhost:0", NULL);
  bad_tunnel_args ("port “http” is not a number", "localhost:http", NULL);
  bad_tunnel_args ("missing PORT or HOST:PORT of the local service", NULL);
  bad_tunnel_args ("unexpected argument “4000”", "3000", "4000", NULL);
  bad_tunnel_args ("--e2ee takes true or false, not “maybe”", "3000", "--e2ee=maybe", NULL);
  bad_tunnel_args ("name “My_App” is not a DNS label", "3000", "--name", "My_App", NULL);
  bad_tunnel_args ("--e2ee-cert needs --e2ee-key too", "3000", "--e2ee-cert", "a.crt", NULL);
  bad_tunnel_args ("--e2ee-key needs --e2ee-cert too", "3000", "--e2ee-key", "a.key", NULL);
  bad_tunnel_args ("Unknown option --bogus", "3000", "--bogus", NULL);
}

/* Writes a generated pair (and a second, unrelated key) into a fresh directory. */
static char *
make_cert_dir (void)
{
  const char *names[] = { "myapp.nfltr.localhost", NULL };
  g_autofree char *dir = g_dir_make_tmp ("nfltr-test-cli-XXXXXX", NULL);
  g_autofree char *cert = NULL, *key = NULL, *cert2 = NULL, *key2 = NULL;
  g_autofree char *cert_path = g_build_filename (dir, "server.crt", NULL);
  g_autofree char *key_path = g_build_filename (dir, "server.key", NULL);
  g_autofree char *other_path = g_build_filename (dir, "other.key", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (nfltr_cert_generate (names, 1, &cert, &key, &error));
  g_assert_no_error (error);
  g_assert_true (nfltr_cert_generate (names, 1, &cert2, &key2, &error));
  g_assert_true (g_file_set_contents (cert_path, cert, -1, NULL));
  g_assert_true (g_file_set_contents (key_path, key, -1, NULL));
  g_assert_true (g_file_set_contents (other_path, key2, -1, NULL));
  return g_steal_pointer (&dir);
}

static void
remove_cert_dir (const char *dir)
{
  const char *files[] = { "server.crt", "server.key", "other.key" };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (dir, files[i], NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}

static void
test_tunnel_cert_pair (void)
{
  g_autofree char *dir = make_cert_dir ();
  g_autofree char *old_cwd = g_get_current_dir ();
  g_autofree char *want_cert = g_build_filename (dir, "server.crt", NULL);
  g_autofree char *want_key = g_build_filename (dir, "server.key", NULL);
  g_autoptr(GVariant) v = NULL;
  CliTunnelOptions o;
  const char *s;

  /* Relative paths are resolved against our directory: the service runs in another. */
  g_assert_cmpint (chdir (dir), ==, 0);
  g_assert_true (parse (&o, NULL, "3000", "--e2ee-cert", "server.crt", "--e2ee-key",
                        "./server.key", NULL));
  g_assert_cmpstr (o.cert_file, ==, want_cert);
  g_assert_cmpstr (o.key_file, ==, want_key);
  g_assert_true (g_path_is_absolute (o.cert_file));
  v = g_variant_ref_sink (cli_tunnel_options_to_variant (&o));
  g_assert_true (g_variant_lookup (v, "cert-file", "&s", &s));
  g_assert_cmpstr (s, ==, want_cert);
  g_assert_true (g_variant_lookup (v, "key-file", "&s", &s));
  g_assert_cmpstr (s, ==, want_key);
  cli_tunnel_options_clear (&o);

  bad_tunnel_args ("does not match the certificate", "3000", "--e2ee-cert", "server.crt",
                   "--e2ee-key", "other.key", NULL);
  bad_tunnel_args ("missing.crt", "3000", "--e2ee-cert", "missing.crt", "--e2ee-key",
                   "server.key", NULL);
  /* a key given as the certificate */
  bad_tunnel_args ("server.key", "3000", "--e2ee-cert", "server.key", "--e2ee-key",
                   "server.key", NULL);

  g_assert_cmpint (chdir (old_cwd), ==, 0);
  remove_cert_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cli/format/bytes", test_format_bytes);
  g_test_add_func ("/cli/format/stats", test_format_stats);
  g_test_add_func ("/cli/format/mode", test_mode_description);
  g_test_add_func ("/cli/format/json-events", test_json_events);
  g_test_add_func ("/cli/args/bool", test_parse_bool);
  g_test_add_func ("/cli/args/name", test_check_name);
  g_test_add_func ("/cli/args/relay", test_normalize_relay);
  g_test_add_func ("/cli/args/fingerprint", test_normalize_fingerprint);
  g_test_add_func ("/cli/args/suggest", test_suggest_command);
  g_test_add_func ("/cli/tunnel/defaults", test_tunnel_defaults);
  g_test_add_func ("/cli/tunnel/flags", test_tunnel_flags);
  g_test_add_func ("/cli/tunnel/usage-errors", test_tunnel_usage_errors);
  g_test_add_func ("/cli/tunnel/cert-pair", test_tunnel_cert_pair);

  return g_test_run ();
}
