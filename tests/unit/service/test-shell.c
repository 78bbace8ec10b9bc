/* test-shell.c — the "shell" kind's pieces that need no SSH client (service/kinds/shell/):
 * authorized_keys lines, host keys per tunnel name, the kind's target and its refusals. The
 * SSH server itself is driven by OpenSSH in tests/integration/test_shell.py. */
#include "nfltr-error.h"
#include "nfltr-shell-keys.h"
#include "nfltr-shell-server.h"
#include "nfltr-tunnel-kind.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define ED25519 "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

static void
test_key_lines (void)
{
  static const struct {
    const char *line;
    NfltrShellKeyLine result;
    const char *type;
    const char *command;
    gboolean no_pty;
  } cases[] = {
    { "", NFLTR_SHELL_KEY_LINE_EMPTY },
    { "   \t", NFLTR_SHELL_KEY_LINE_EMPTY },
    { "# ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_EMPTY },
    { "ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_KEY, "ssh-ed25519", NULL, FALSE },
    { "ssh-ed25519 " ED25519 " me@laptop with spaces\r", NFLTR_SHELL_KEY_LINE_KEY, "ssh-ed25519", NULL, FALSE },
    { "  ecdsa-sha2-nistp256 " ED25519, NFLTR_SHELL_KEY_LINE_KEY, "ecdsa-sha2-nistp256", NULL, FALSE },
    { "no-pty ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_KEY, "ssh-ed25519", NULL, TRUE },
    { "restrict,pty ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_KEY, "ssh-ed25519", NULL, FALSE },
    { "restrict,command=\"echo \\\"hi, there\\\"\" ssh-ed25519 " ED25519 " c",
      NFLTR_SHELL_KEY_LINE_KEY, "ssh-ed25519", "echo \"hi, there\"", TRUE },
    { "no-port-forwarding,environment=\"A=b c\" ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_KEY,
      "ssh-ed25519", NULL, FALSE },
    /* limits this server cannot enforce: the whole line gives nothing */
    { "from=\"10.0.0.1\" ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_REFUSED },
    { "expiry-time=\"20200101\" ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_REFUSED },
    { "cert-authority ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_REFUSED },
    { "principals=\"me\" ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_REFUSED },
    { "verify-required sk-ssh-ed25519@openssh.com " ED25519, NFLTR_SHELL_KEY_LINE_REFUSED },
    { "frobnicate ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_REFUSED },
    /* malformed */
    { "command=\"unterminated ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_REFUSED },
    { "command=unquoted ssh-ed25519 " ED25519, NFLTR_SHELL_KEY_LINE_REFUSED },
    { "ssh-ed25519", NFLTR_SHELL_KEY_LINE_REFUSED },
    { "ssh-ed25519 not*base64", NFLTR_SHELL_KEY_LINE_REFUSED },
    { "ssh-foo " ED25519, NFLTR_SHELL_KEY_LINE_REFUSED },
    { "no-pty", NFLTR_SHELL_KEY_LINE_REFUSED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      NfltrShellAuthorizedKey key;
      g_autofree char *reason = NULL;
      NfltrShellKeyLine r;

      g_test_message ("line %u: %s", i, cases[i].line);
      r = nfltr_shell_authorized_key_parse (cases[i].line, strlen (cases[i].line), &key, &reason);
      g_assert_cmpint (r, ==, cases[i].result);
      g_assert_true ((reason != NULL) == (r == NFLTR_SHELL_KEY_LINE_REFUSED));
      if (r == NFLTR_SHELL_KEY_LINE_KEY)
        {
          g_assert_cmpstr (key.type, ==, cases[i].type);
          g_assert_cmpstr (key.base64, ==, ED25519);
          g_assert_cmpstr (key.command, ==, cases[i].command);
          g_assert_cmpint (key.no_pty, ==, cases[i].no_pty);
        }
      nfltr_shell_authorized_key_clear (&key);
    }
}

static void
test_key_line_nul (void)
{
  static const char line[] = "ssh-ed25519 " ED25519 "\0 trailing";
  NfltrShellAuthorizedKey key;
  g_autofree char *reason = NULL;

  g_assert_cmpint (nfltr_shell_authorized_key_parse (line, sizeof line - 1, &key, &reason), ==,
                   NFLTR_SHELL_KEY_LINE_REFUSED);
}

static void
test_host_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL, *again = NULL;
  g_autofree char *fp = NULL, *fp_again = NULL;
  g_autofree char *pub = NULL;
  struct stat st;

  g_assert_null (nfltr_shell_host_key_path ("../escape", &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nfltr_shell_host_key_ensure ("a/b", NULL, NULL, &error));
  g_clear_error (&error);
  g_assert_false (nfltr_shell_host_key_ensure (NULL, NULL, NULL, &error));
  g_clear_error (&error);

  g_assert_true (nfltr_shell_host_key_ensure ("myshell", &path, &fp, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (path, g_get_user_data_dir ()));
  g_assert_true (g_str_has_suffix (path, "/nfltr/ssh-host-keys/myshell_ed25519"));
  g_assert_true (g_str_has_prefix (fp, "SHA256:"));
  g_assert_cmpuint (strlen (fp), ==, 7 + 43);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  pub = g_strconcat (path, ".pub", NULL);
  g_assert_true (g_file_test (pub, G_FILE_TEST_IS_REGULAR));

  /* Made once: the second call reads the same key. */
  g_assert_true (nfltr_shell_host_key_ensure ("myshell", &again, &fp_again, &error));
  g_assert_cmpstr (again, ==, path);
  g_assert_cmpstr (fp_again, ==, fp);
  g_clear_pointer (&fp_again, g_free);
  /* Another name, another key. */
  g_assert_true (nfltr_shell_host_key_ensure ("other", NULL, &fp_again, &error));
  g_assert_cmpstr (fp_again, !=, fp);

  /* A damaged key is not silently replaced (clients would see a new host key). */
  g_assert_true (g_file_set_contents (path, "garbage", -1, NULL));
  g_assert_false (nfltr_shell_host_key_ensure ("myshell", NULL, NULL, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE);
}

static void
test_kind (void)
{
  NfltrTunnelKind *kind = nfltr_tunnel_kind_lookup ("shell");
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) config = NULL;
  g_autoptr (GVariant) options = NULL;
  g_autofree char *target = NULL;
  g_autofree char *keys = g_build_filename (g_get_home_dir (), ".ssh", "authorized_keys", NULL);
  g_autofree char *dir = g_path_get_dirname (keys);
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  NfltrKindConn conn = {
    .client_addr = "127.0.0.1:1", .sni = "kindtest.example", .cancel_fd = -1, .timeout_ms = 1000
  };

  g_assert_nonnull (kind);
  g_assert_cmpstr (nfltr_tunnel_kind_get_label (kind), ==, "Shell (SSH)");
  g_assert_null (nfltr_tunnel_kind_get_alpn (kind));

  /* CreateTunnel: the file must exist (nobody could log in otherwise). */
  options = g_variant_ref_sink (g_variant_dict_end (&dict));
  g_assert_null (nfltr_tunnel_kind_parse (kind, "", options, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "no authorized keys file at"));
  g_clear_error (&error);
  g_assert_null (nfltr_tunnel_kind_parse (kind, "relative/keys", options, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (keys, "ssh-ed25519 " ED25519 "\n", -1, NULL));
  config = nfltr_tunnel_kind_parse (kind, "", options, &error);
  g_assert_no_error (error);
  target = nfltr_tunnel_kind_describe_target (kind, config);
  g_assert_cmpstr (target, ==, keys);

  /* Not started: nothing serves the connection. */
  g_assert_cmpint (nfltr_tunnel_kind_connect (kind, config, &conn, &error), ==, -1);
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* Started: a connection is one end of a socketpair the server took the other end of. */
  g_assert_true (nfltr_tunnel_kind_start (kind, config, &error));
  {
    int fd = nfltr_tunnel_kind_connect (kind, config, &conn, &error);
    char banner[64] = { 0 };
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    gssize n = -1;

    g_assert_no_error (error);
    g_assert_cmpint (fd, >=, 0);
    /* The server speaks first (RFC 4253 §4.2). The socket is non-blocking. */
    while (n <= 0 && g_get_monotonic_time () < deadline)
      {
        n = read (fd, banner, sizeof banner - 1);
        if (n <= 0)
          g_usleep (10000);
      }
    g_assert_true (g_str_has_prefix (banner, "SSH-2.0-"));
    close (fd);
  }
  /* Stopping ends the connections and joins their threads. */
  nfltr_tunnel_kind_stop (kind, config);
  g_assert_cmpint (nfltr_tunnel_kind_connect (kind, config, &conn, &error), ==, -1);
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_autofree char *home = g_dir_make_tmp ("nfltr-test-shell-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (home, "data", NULL);
  int status;

  /* Before GLib caches them. */
  g_setenv ("HOME", home, TRUE);
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/shell/key-lines", test_key_lines);
  g_test_add_func ("/shell/key-line-nul", test_key_line_nul);
  g_test_add_func ("/shell/host-key", test_host_key);
  g_test_add_func ("/shell/kind", test_kind);
  status = g_test_run ();
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", home);

    (void) !system (cmd);
  }
  return status;
}
