/* cmd-shell.c — `nfltr shell`: an SSH server for this account, published through the relay
 * inside the agent's TLS (service/kinds/shell/), until Ctrl-C. Once online it prints what a
 * visitor types: `nfltr ssh USER@NAME.DOMAIN`, the same with OpenSSH alone (a ProxyCommand
 * of openssl s_client), and the SSH host key's fingerprint to compare on first login. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-commands.h"
#include "cli-output.h"

#include "nfltr-resolve.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

typedef struct {
  char *name;
} ShellRun;

/* The service keeps a tunnel's host key under this name (service/kinds/shell/
 * nfltr-shell-server.c, nfltr_shell_host_key_path); both run as this user. */
static char *
host_key_pub_path (const char *name)
{
  g_autofree char *file = g_strconcat (name, "_ed25519.pub", NULL);

  return g_build_filename (g_get_user_data_dir (), "nfltr", "ssh-host-keys", file, NULL);
}

/* OpenSSH's fingerprint of a public key line ("ssh-ed25519 BASE64 comment"): "SHA256:" and
 * the unpadded base64 of the SHA-256 of the key blob, as ssh-keygen -l prints it. */
static char *
openssh_fingerprint (const char *pub_line)
{
  g_auto(GStrv) words = g_strsplit_set (pub_line, " \t\n", 3);
  g_autofree guchar *blob = NULL;
  gsize blob_len = 0;
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  g_autoptr(GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *b64 = NULL;
  char *pad;

  if (g_strv_length (words) < 2)
    return NULL;
  blob = g_base64_decode (words[1], &blob_len);
  if (blob_len == 0)
    return NULL;
  g_checksum_update (sha, blob, blob_len);
  g_checksum_get_digest (sha, digest, &digest_len);
  b64 = g_base64_encode (digest, digest_len);
  pad = strchr (b64, '=');
  if (pad != NULL)
    *pad = '\0';
  return g_strconcat ("SHA256:", b64, NULL);
}

/* "https://name.domain:8443" → host and port (443 when the URL has none). */
static gboolean
split_url (const char *url, char **host, guint16 *port)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return FALSE;
  *host = g_strdup (g_uri_get_host (uri));
  *port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 443;
  return TRUE;
}

static void
shell_ready_cb (NfltrDbusTunnel *tunnel, gboolean json, gpointer data)
{
  const char *user = g_get_user_name ();
  g_autofree char *host = NULL;
  g_autofree char *pub = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *pub_path = host_key_pub_path (nfltr_dbus_tunnel_get_name (tunnel));
  g_autofree char *proxy = NULL;
  g_autofree char *ssh_command = NULL;
  g_autofree char *nfltr_command = NULL;
  g_autofree char *quoted_proxy = NULL;
  guint16 port = 443;

  if (!split_url (nfltr_dbus_tunnel_get_public_url (tunnel), &host, &port))
    return;
  if (g_file_get_contents (pub_path, &pub, NULL, NULL))
    fingerprint = openssh_fingerprint (pub);

  /* openssl s_client reaches the relay; *.localhost names are loopback (RFC 6761), which
   * not every resolver knows. */
  if (nfltr_host_is_localhost (host))
    proxy = g_strdup_printf ("openssl s_client -quiet -verify_quiet -connect 127.0.0.1:%u -servername %%h", port);
  else
    proxy = g_strdup_printf ("openssl s_client -quiet -verify_quiet -connect %%h:%u -servername %%h", port);
  quoted_proxy = g_shell_quote (proxy);
  ssh_command = g_strdup_printf ("ssh -o ProxyCommand=%s %s@%s", quoted_proxy, user, host);
  if (port == 443)
    nfltr_command = g_strdup_printf ("nfltr ssh %s@%s", user, host);
  else
    nfltr_command = g_strdup_printf ("nfltr ssh --relay %s:%u %s@%s", host, port, user, host);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "ssh");
      cli_json_add_string (b, "user", user);
      cli_json_add_string (b, "host", host);
      cli_json_add_int (b, "port", port);
      cli_json_add_string (b, "host_key_fingerprint", fingerprint);
      cli_json_add_string (b, "nfltr_command", nfltr_command);
      cli_json_add_string (b, "ssh_command", ssh_command);
      cli_json_add_string (b, "proxy_command", proxy);
      json_builder_end_object (b);
      cli_json_print_line (b);
      return;
    }
  /* TRANSLATORS: the SSH host key's fingerprint; labels padded as in “URL:         %s” so
   * that the values line up */
  printf (_ ("Host key:    %s\n"),
          fingerprint != NULL ? fingerprint : _ ("(not readable here: the service keeps it elsewhere)"));
  /* TRANSLATORS: the command that logs in (nfltr ssh …), padded as above */
  printf (_ ("Log in:      %s\n"), nfltr_command);
  /* TRANSLATORS: the same with OpenSSH alone (ssh -o ProxyCommand=…), padded as above */
  printf (_ ("OpenSSH:     %s\n"), ssh_command);
  fflush (stdout);
}

/* "shell-" and 50 bits from the CSPRNG in base32, like the service's own names: the host
 * key is made for it before the tunnel exists, so its fingerprint can be shown. */
static char *
random_shell_name (void)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  guint8 bytes[10];
  char letters[11];

  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    g_error ("no random bytes from the system");
  for (guint i = 0; i < 10; i++)
    letters[i] = alphabet[bytes[i] % 32];
  letters[10] = '\0';
  return g_strconcat ("shell-", letters, NULL);
}

int
cli_cmd_shell (int argc, char **argv)
{
  g_autofree char *name = NULL;
  g_autofree char *keys = NULL;
  g_autofree char *keys_abs = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name,
      N_ ("Public name: visitors log in to NAME.<relay domain> (default: random)"), "NAME" },
    { "authorized-keys", 0, 0, G_OPTION_ARG_FILENAME, &keys,
      N_ ("The public keys that may log in (default: ~/.ssh/authorized_keys)"), "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      /* TRANSLATORS: the event names are JSON values, keep them in English. */
      N_ ("Print one JSON object per line (events: ready, ssh, stats, state, error, stopped)"), NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();

  g_option_context_set_summary (
    context, _ ("Runs an SSH server for your account inside the agent's TLS, until Ctrl-C: a shell,\n"
                "commands, scp and sftp, for the keys in your authorized_keys file only. The relay\n"
                "sees TLS, and inside it SSH checks its own host key and your key."));
  /* TRANSLATORS: translate “Examples:” only; the commands are typed as they are. */
  g_option_context_set_description (context, _ ("Examples:\n"
                                                "  nfltr shell --name laptop\n"
                                                "  nfltr ssh me@laptop.nfltr.example\n"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_command_line (context, "shell", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;
  if (name != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!cli_check_name (name, &error))
        return cli_fail (CLI_EXIT_USAGE, "%s", error->message);
    }
  else
    name = random_shell_name ();

  keys_abs = keys != NULL ? g_canonicalize_filename (keys, NULL)
                          : g_build_filename (g_get_home_dir (), ".ssh", "authorized_keys", NULL);
  /* The tunnel as `nfltr shell FILE --name NAME` would run it on the generic path. */
  g_ptr_array_add (args, (char *) "shell");
  g_ptr_array_add (args, keys_abs);
  g_ptr_array_add (args, (char *) "--name");
  g_ptr_array_add (args, name);
  if (json)
    g_ptr_array_add (args, (char *) "--json");
  g_ptr_array_add (args, NULL);
  return cli_run_tunnel ("shell", args->len - 1, (char **) args->pdata, shell_ready_cb, NULL);
}
