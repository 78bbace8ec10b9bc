/* cmd-ssh.c — `nfltr ssh [--relay HOST:PORT] [USER@]NAME.DOMAIN [ssh args…]`: OpenSSH to an
 * `nfltr shell`, through the relay. It execs ssh with a ProxyCommand that is this program in
 * a helper mode (`nfltr ssh --proxy HOST`), which opens TLS to the relay with SNI = HOST,
 * checks the agent's certificate against the one pinned for HOST on first use
 * (cli-known-tunnels.c), refuses loudly when it changed, and then pipes stdin and stdout
 * through. OpenSSH then checks its own host key on top, in ~/.ssh/known_hosts. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-commands.h"
#include "cli-known-tunnels.h"
#include "cli-output.h"

#include "nfltr-cert.h"
#include "nfltr-resolve.h"

#include <errno.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Reaching the relay and the TLS handshake, together (docs/cli.md: 30 s like the CLI's other
 * network waits). */
#define PROXY_TIMEOUT_S 30

static void
print_ssh_usage (FILE *out)
{
  fputs (_ ("Usage: nfltr ssh [--relay HOST:PORT] [USER@]NAME.DOMAIN [ssh arguments…]\n"
            "\n"
            "Logs in to an “nfltr shell” through the relay with OpenSSH. The tunnel's TLS\n"
            "certificate is pinned on first use (in ~/.config/nfltr/known_tunnels) and a changed\n"
            "one is refused; ssh then checks the SSH host key itself. Everything after the name\n"
            "goes to ssh as it is (options, then the remote command).\n"
            "\n"
            "  --relay HOST:PORT  the relay to connect to (default: the one you are logged in to\n"
            "                     when NAME.DOMAIN is under its domain, else NAME.DOMAIN:443)\n"),
         out);
}

/* --- the relay to reach ----------------------------------------------------------------- */

/* The logged-in relay (relay.json, written by the service) when host is under its domain. */
static gboolean
relay_from_login (const char *host, char **relay_host, guint16 *relay_port)
{
  g_autofree char *path = g_build_filename (g_get_user_config_dir (), "nfltr", "relay.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *obj;
  const char *rhost, *domain;
  g_autofree char *suffix = NULL;
  gint64 port;

  if (!json_parser_load_from_file (parser, path, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return FALSE;
  obj = json_node_get_object (json_parser_get_root (parser));
  rhost = json_object_get_string_member_with_default (obj, "host", NULL);
  domain = json_object_get_string_member_with_default (obj, "domain", NULL);
  port = json_object_get_int_member_with_default (obj, "port", 0);
  if (rhost == NULL || port <= 0 || port > 65535)
    return FALSE;
  /* Without a domain of its own the relay serves names under its host name. */
  suffix = g_strconcat (".", domain != NULL && *domain != '\0' ? domain : rhost, NULL);
  if (!g_str_has_suffix (host, suffix))
    return FALSE;
  *relay_host = g_strdup (rhost);
  *relay_port = port;
  return TRUE;
}

/* --- the proxy ---------------------------------------------------------------------------- */

static char *
known_tunnels_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "nfltr", "known_tunnels", NULL);
}

/* The certificate is checked against the pin after the handshake, whatever a CA says:
 * accept what GIO would refuse (a tunnel's certificate is self-signed) and decide then. */
static gboolean
accept_certificate_cb (GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors,
                       gpointer user_data)
{
  return TRUE;
}

/* TRUE when the agent's certificate is the pinned one, or was unknown and is pinned now. */
static gboolean
check_pin (const char *host, GTlsCertificate *cert)
{
  g_autoptr(GByteArray) der = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];
  g_autofree char *fingerprint = NULL;
  g_autofree char *path = known_tunnels_path ();
  g_autofree char *contents = NULL;
  g_autofree char *pinned = NULL;
  gsize len = 0;

  g_object_get (cert, "certificate", &der, NULL);
  if (der == NULL)
    return FALSE;
  nfltr_fingerprint_of_der (der->data, der->len, digest);
  fingerprint = nfltr_fingerprint_format (digest);

  if (!g_file_get_contents (path, &contents, &len, NULL))
    contents = g_strdup ("");
  switch (cli_known_tunnels_check (contents, len, host, fingerprint, &pinned))
    {
      case CLI_PIN_MATCH: return TRUE;
      case CLI_PIN_MISMATCH:
        {
          g_autofree char *text = g_strdup_printf (
            _ ("@@@ THE CERTIFICATE OF %s HAS CHANGED @@@\n"
               "  pinned:    %s\n"
               "  presented: %s\n"
               "Someone may be intercepting this connection, or the tunnel's key was replaced.\n"
               "Nothing was sent. If you know why it changed, remove the line for %s from %s\n"
               "and connect again.\n"),
            host, pinned, fingerprint, host, path);

          fputs ("nfltr: ", stderr);
          fputs (text, stderr);
          return FALSE;
        }
      case CLI_PIN_UNKNOWN:
      default:
        {
          g_autofree char *dir = g_path_get_dirname (path);
          g_autofree char *updated = cli_known_tunnels_add (contents, len, host, fingerprint);
          g_autoptr (GError) error = NULL;
          g_autofree char *text = NULL;

          if (g_mkdir_with_parents (dir, 0700) < 0 ||
              !g_file_set_contents_full (path, updated, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
            {
              cli_fail (CLI_EXIT_FAILURE, _ ("cannot pin the certificate in %s: %s"), path,
                        error != NULL ? error->message : g_strerror (errno));
              return FALSE;
            }
          /* TRANSLATORS: first connection to a name: its certificate is remembered */
          text = g_strdup_printf (_ ("nfltr: %s is new here: pinned its certificate %s in %s\n"), host,
                                  fingerprint, path);
          fputs (text, stderr);
          return TRUE;
        }
    }
}

typedef struct {
  GMainLoop *loop;
  GError *error;
} Splice;

static void
splice_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Splice *s = user_data;

  g_io_stream_splice_finish (result, &s->error);
  g_main_loop_quit (s->loop);
}

static int
run_proxy (const char *host, const char *relay)
{
  g_autofree char *relay_host = NULL;
  guint16 relay_port = 443;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) address = NULL;
  g_autoptr(GSocketConnection) tcp = NULL;
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GTlsCertificate) cert = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) out = NULL;
  g_autoptr(GIOStream) stdio = NULL;
  Splice s = { 0 };

  if (relay != NULL)
    {
      if (!nfltr_parse_host_port (relay, 443, FALSE, &relay_host, &relay_port, &error))
        return cli_fail (CLI_EXIT_USAGE, "--relay: %s", error->message);
    }
  else if (!relay_from_login (host, &relay_host, &relay_port))
    relay_host = g_strdup (host);

  g_socket_client_set_timeout (client, PROXY_TIMEOUT_S);
  address = nfltr_resolve_connectable (relay_host, relay_port);
  tcp = g_socket_client_connect (client, address, NULL, &error);
  if (tcp == NULL)
    return cli_fail (CLI_EXIT_FAILURE, _ ("cannot reach the relay %s:%u: %s"), relay_host, relay_port,
                     error->message);

  /* The server identity is the tunnel's name: GIO sends it as SNI, which the relay routes by. */
  identity = g_network_address_new (host, relay_port);
  tls = g_tls_client_connection_new (G_IO_STREAM (tcp), identity, &error);
  if (tls == NULL)
    return cli_fail (CLI_EXIT_FAILURE, "TLS: %s", error->message);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), NULL);
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error))
    return cli_fail (CLI_EXIT_FAILURE, _ ("no TLS with %s through %s:%u: %s"), host, relay_host,
                     relay_port, error->message);
  cert = g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (tls));
  if (cert == NULL)
    return cli_fail (CLI_EXIT_FAILURE, _ ("%s presented no certificate"), host);
  g_object_ref (cert);
  if (!check_pin (host, cert))
    return CLI_EXIT_FAILURE;

  in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
  stdio = g_simple_io_stream_new (in, out);
  s.loop = g_main_loop_new (NULL, FALSE);
  /* Ends when either side is done: ssh closing our stdin, or the shell closing the TLS. */
  g_io_stream_splice_async (tls, stdio, G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                            G_PRIORITY_DEFAULT, NULL, splice_cb, &s);
  g_main_loop_run (s.loop);
  g_main_loop_unref (s.loop);
  if (s.error != NULL && !g_error_matches (s.error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) &&
      !g_error_matches (s.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    g_debug ("proxy: %s", s.error->message);
  g_clear_error (&s.error);
  return CLI_EXIT_OK;
}

/* --- exec ssh ----------------------------------------------------------------------------- */

/* ssh runs a ProxyCommand through the shell after expanding %-tokens: quote for both. */
static char *
proxy_word (const char *word)
{
  g_autofree char *quoted = g_shell_quote (word);
  GString *out = g_string_new (NULL);

  for (const char *p = quoted; *p != '\0'; p++)
    {
      if (*p == '%')
        g_string_append_c (out, '%');
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static int
exec_ssh (const char *destination, const char *relay, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
  g_autofree char *self_word = NULL;
  g_autofree char *proxy = NULL;
  g_autoptr(GPtrArray) ssh_argv = g_ptr_array_new_with_free_func (g_free);

  if (self == NULL)
    return cli_fail (CLI_EXIT_FAILURE, "%s", error->message);
  self_word = proxy_word (self);
  if (relay != NULL)
    {
      g_autofree char *relay_word = proxy_word (relay);

      proxy = g_strdup_printf ("ProxyCommand=%s ssh --relay %s --proxy %%h", self_word, relay_word);
    }
  else
    proxy = g_strdup_printf ("ProxyCommand=%s ssh --proxy %%h", self_word);

  g_ptr_array_add (ssh_argv, g_strdup ("ssh"));
  g_ptr_array_add (ssh_argv, g_strdup ("-o"));
  g_ptr_array_add (ssh_argv, g_steal_pointer (&proxy));
  g_ptr_array_add (ssh_argv, g_strdup (destination));
  for (int i = 0; i < argc; i++)
    g_ptr_array_add (ssh_argv, g_strdup (argv[i]));
  g_ptr_array_add (ssh_argv, NULL);

  fflush (stdout);
  execvp ("ssh", (char **) ssh_argv->pdata);
  return cli_fail (CLI_EXIT_FAILURE, _ ("cannot run ssh (install openssh-client): %s"), g_strerror (errno));
}

/* The value of "--opt VALUE" or "--opt=VALUE" at argv[*i], advancing *i; NULL if argv[*i]
 * is not that option. */
static const char *
option_value (const char *option, int argc, char **argv, int *i, gboolean *missing)
{
  gsize len = strlen (option);

  if (g_str_equal (argv[*i], option))
    {
      if (*i + 1 >= argc)
        {
          *missing = TRUE;
          return NULL;
        }
      *i += 1;
      return argv[*i];
    }
  if (strncmp (argv[*i], option, len) == 0 && argv[*i][len] == '=')
    return argv[*i] + len + 1;
  return NULL;
}

int
cli_cmd_ssh (int argc, char **argv)
{
  const char *relay = NULL;
  const char *proxy = NULL;
  g_autofree char *host = NULL;
  int i;

  /* Our options come first; everything from the destination on is ssh's, so GOption (which
   * would take ssh's options for ours) is not used. */
  for (i = 1; i < argc; i++)
    {
      gboolean missing = FALSE;
      const char *value;

      if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
        {
          print_ssh_usage (stdout);
          return CLI_EXIT_OK;
        }
      if ((value = option_value ("--relay", argc, argv, &i, &missing)) != NULL)
        relay = value;
      else if ((value = option_value ("--proxy", argc, argv, &i, &missing)) != NULL)
        proxy = value;
      else if (missing)
        return cli_fail (CLI_EXIT_USAGE, _ ("%s needs a value"), argv[i]);
      else if (g_str_equal (argv[i], "--"))
        {
          i++;
          break;
        }
      else if (argv[i][0] == '-')
        {
          cli_fail (CLI_EXIT_USAGE, _ ("unknown option “%s”"), argv[i]);
          fputs (_ ("Options for ssh go after the name: nfltr ssh NAME.DOMAIN -i KEY …\n"), stderr);
          return CLI_EXIT_USAGE;
        }
      else
        break;
    }

  if (proxy != NULL)
    {
      if (!cli_ssh_parse_destination (proxy, &host) || strchr (proxy, '@') != NULL)
        return cli_fail (CLI_EXIT_USAGE, _ ("--proxy takes a host name, not “%s”"), proxy);
      if (i < argc)
        return cli_fail (CLI_EXIT_USAGE, _ ("unexpected argument “%s”"), argv[i]);
      return run_proxy (host, relay);
    }

  if (i >= argc)
    {
      cli_fail (CLI_EXIT_USAGE, "%s", _ ("missing [USER@]NAME.DOMAIN"));
      print_ssh_usage (stderr);
      return CLI_EXIT_USAGE;
    }
  if (!cli_ssh_parse_destination (argv[i], NULL))
    return cli_fail (CLI_EXIT_USAGE, _ ("“%s” is not [USER@]NAME.DOMAIN"), argv[i]);
  return exec_ssh (argv[i], relay, argc - i - 1, argv + i + 1);
}
