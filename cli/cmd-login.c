/* cmd-login.c — `nfltr login` (probe, show, pin the relay's certificate) and `nfltr logout` */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* An API key is one line of printable ASCII; more than this is not a key but a wrong file. */
#define API_KEY_MAX 4096

/* The key from FILE ("-": standard input): its first line, without the line end. */
static char *
read_api_key_file (const char *file, GError **error)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  if (g_strcmp0 (file, "-") == 0)
    {
      char buf[API_KEY_MAX + 2];

      if (fgets (buf, sizeof buf, stdin) == NULL)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                               _ ("no API key on standard input"));
          return NULL;
        }
      contents = g_strdup (buf);
    }
  else if (!g_file_get_contents (file, &contents, &len, error))
    return NULL;
  contents[strcspn (contents, "\r\n")] = '\0';
  g_strstrip (contents);
  if (*contents == '\0' || strlen (contents) > API_KEY_MAX)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   /* TRANSLATORS: %s is a file name, or “-” for standard input */
                   _ ("%s holds no API key on its first line"), file);
      return NULL;
    }
  return g_steal_pointer (&contents);
}

/* Reads a line from the terminal on stdin; with echo off for a secret. NULL at end of input. */
static char *
prompt_line (const char *prompt, gboolean secret)
{
  struct termios saved, quiet;
  gboolean restore = FALSE;
  char buf[API_KEY_MAX + 2];
  char *line;

  /* Echo off before the prompt shows: TCSAFLUSH drops what was typed ahead, and a key typed
   * once the prompt is visible must not be part of that. */
  if (secret && tcgetattr (STDIN_FILENO, &saved) == 0)
    {
      quiet = saved;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      restore = tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
  fputs (prompt, stdout);
  fflush (stdout);
  line = fgets (buf, sizeof buf, stdin) ? g_strstrip (g_strdup (buf)) : NULL;
  if (restore)
    {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
      fputc ('\n', stdout);
    }
  return line;
}

/* The relay presents another certificate than the one pinned for it: said the way ssh says
 * it, since this is what a man in the middle looks like. */
static int
refuse_changed_certificate (const char *relay, const char *pinned, const char *presented)
{
  g_autofree char *text = g_strdup_printf (
    /* TRANSLATORS: the relay, its pinned and its new fingerprint, then the relay and the new
     * fingerprint again in the command to run. Keep the lines of @ as they are. */
    _ ("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
       "@    WARNING: THE RELAY'S CERTIFICATE HAS CHANGED!        @\n"
       "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
       "Someone could be pretending to be relay %s (a man in the middle),\n"
       "or its operator made it a new certificate.\n"
       "  pinned:    %s\n"
       "  presented: %s\n"
       "The API key was not sent. Ask the relay's operator for its fingerprint (nfltr-relay\n"
       "fingerprint, on the relay's host); if it is the presented one, log in with\n"
       "  nfltr login --relay %s --fingerprint %s\n"),
    relay, pinned, presented, relay, presented);

  fputs (text, stderr);
  return cli_fail (CLI_EXIT_FAILURE, _ ("the certificate of relay %s has changed: not logging in"),
                   relay);
}

int
cli_cmd_login (int argc, char **argv)
{
  g_autofree char *relay_arg = NULL;
  g_autofree char *api_key = NULL;
  g_autofree char *api_key_file = NULL;
  g_autofree char *fingerprint_arg = NULL;
  gboolean tofu = FALSE;
  g_autofree char *fleet_token = NULL;       /* issue 11: fleet tokens */
  g_autofree char *fleet_token_file = NULL;
  gboolean mtls = FALSE;                     /* issue 11: mTLS */
  g_autofree char *client_cert = NULL;
  g_autofree char *client_key = NULL;
  const GOptionEntry entries[] = {
    { "relay", 'r', 0, G_OPTION_ARG_STRING, &relay_arg,
      N_ ("The relay, e.g. nfltr.localhost:8443 (port 8443 if omitted)"), "HOST:PORT" },
    { "api-key-file", 0, 0, G_OPTION_ARG_FILENAME, &api_key_file,
      N_ ("Read the API key from the first line of FILE (“-”: standard input)"), "FILE" },
    { "api-key", 'k', 0, G_OPTION_ARG_STRING, &api_key,
      N_ ("API key on the command line (other users see it in ps: prefer --api-key-file or "
          "$NFLTR_API_KEY)"),
      "KEY" },
    { "fingerprint", 'f', 0, G_OPTION_ARG_STRING, &fingerprint_arg,
      N_ ("Expected SHA-256 fingerprint of the relay's certificate (nfltr-relay fingerprint "
          "prints it on the relay's host)"),
      "sha256:HEX" },
    { "trust-on-first-use", 0, 0, G_OPTION_ARG_NONE, &tofu,
      N_ ("Without --fingerprint and without a terminal: trust the certificate the relay "
          "presents now (never a changed one)"),
      NULL },
    { "fleet-token-file", 0, 0, G_OPTION_ARG_FILENAME, &fleet_token_file,
      N_ ("Enrol with the fleet token on the first line of FILE (“-”: standard input): this "
          "agent gets a credential of its own instead of an API key"),
      "FILE" },
    { "fleet-token", 0, 0, G_OPTION_ARG_STRING, &fleet_token,
      N_ ("Enrol with this fleet token (other users see it in ps: prefer --fleet-token-file or "
          "$NFLTR_FLEET_TOKEN)"),
      "TOKEN" },
    { "mtls", 0, 0, G_OPTION_ARG_NONE, &mtls,
      N_ ("Authenticate with a client certificate: this agent makes a key and the relay, on the "
          "strength of the API key or fleet token, certifies it; the key or token is not kept"),
      NULL },
    { "client-cert", 0, 0, G_OPTION_ARG_FILENAME, &client_cert,
      N_ ("Authenticate with this client certificate (PEM) from the relay operator's own CA; "
          "needs --client-key"),
      "FILE" },
    { "client-key", 0, 0, G_OPTION_ARG_FILENAME, &client_key,
      N_ ("The private key (PEM) of --client-cert"), "FILE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  g_autofree char *relay = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *presented = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *pinned = NULL;
  g_autofree char *pinned_relay = NULL;
  const char *pinned_fingerprint;
  gboolean key_from_stdin = FALSE;
  gboolean interactive;
  gboolean known;
  NfltrDbusManager *manager;

  g_option_context_set_summary (
    context, _ ("Connects to a relay, shows the SHA-256 fingerprint of its certificate and, once you have\n"
                "confirmed it, sends the API key and pins the fingerprint: later connections to a relay\n"
                "presenting another certificate fail.\n"
                "\n"
                "The certificate is confirmed by --fingerprint, by answering yes at the terminal, or by\n"
                "--trust-on-first-use. A relay whose certificate changed since it was pinned is refused\n"
                "until its new fingerprint is given with --fingerprint.\n"
                "\n"
                "The API key comes from --api-key-file, $NFLTR_API_KEY, --api-key, or the terminal."));
  g_option_context_set_description (
    context,
    /* TRANSLATORS: translate “Examples:” only; the commands are typed as they are. */
    _ ("Examples:\n"
       "  nfltr login --relay nfltr.localhost:8443\n"
       "  nfltr login --relay relay.example.com:443 --api-key-file key.txt --fingerprint sha256:3f…\n"
       "  NFLTR_API_KEY=nfk_… nfltr login --relay nfltr.localhost:8443 --trust-on-first-use\n"));
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cli_parse_command_line (context, "login", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;

  if (relay_arg == NULL)
    {
      cli_fail (CLI_EXIT_USAGE, "%s", _ ("missing --relay HOST:PORT"));
      fprintf (stderr, _ ("Try “nfltr %s --help”.\n"), "login");
      return CLI_EXIT_USAGE;
    }
  relay = cli_normalize_relay (relay_arg, &error);
  if (relay == NULL)
    return cli_fail (CLI_EXIT_USAGE, "--relay: %s", error->message);
  if (fingerprint_arg != NULL)
    {
      expected = cli_normalize_fingerprint (fingerprint_arg, &error);
      if (expected == NULL)
        return cli_fail (CLI_EXIT_USAGE, "--fingerprint: %s", error->message);
      if (tofu)
        return cli_fail (CLI_EXIT_USAGE, "%s",
                         _ ("--fingerprint and --trust-on-first-use exclude each other"));
    }
  if (api_key != NULL && api_key_file != NULL)
    return cli_fail (CLI_EXIT_USAGE, "%s", _ ("--api-key and --api-key-file exclude each other"));
  if (api_key != NULL)
    /* Still accepted (scripts use it), but the key is in every `ps` listing meanwhile. */
    fputs (_ ("nfltr: warning: --api-key puts the key on the command line, where other users "
              "of this machine can read it (ps); use --api-key-file or $NFLTR_API_KEY\n"),
           stderr);
  key_from_stdin = key_from_stdin || g_strcmp0 (api_key_file, "-") == 0;
  if (api_key_file != NULL)
    {
      api_key = read_api_key_file (api_key_file, &error);
      if (api_key == NULL)
        return cli_fail (CLI_EXIT_USAGE, "--api-key-file: %s", error->message);
    }
  /* issue 11: a fleet token travels where the API key would, and the service exchanges it for
   * the agent's own credential before the first HELLO. */
  if (fleet_token_file != NULL || fleet_token != NULL ||
      (g_getenv ("NFLTR_FLEET_TOKEN") != NULL && *g_getenv ("NFLTR_FLEET_TOKEN") != '\0'))
    {
      if (api_key != NULL || api_key_file != NULL)
        return cli_fail (CLI_EXIT_USAGE, "%s", _ ("a fleet token and an API key exclude each other"));
      if (fleet_token_file != NULL && fleet_token != NULL)
        return cli_fail (CLI_EXIT_USAGE, "%s",
                         _ ("--fleet-token and --fleet-token-file exclude each other"));
      if (fleet_token_file != NULL)
        {
          fleet_token = read_api_key_file (fleet_token_file, &error);
          if (fleet_token == NULL)
            return cli_fail (CLI_EXIT_USAGE, "--fleet-token-file: %s", error->message);
          key_from_stdin = g_strcmp0 (fleet_token_file, "-") == 0;
        }
      if (fleet_token == NULL)
        fleet_token = g_strdup (g_getenv ("NFLTR_FLEET_TOKEN"));
      if (!g_str_has_prefix (fleet_token, "nfltr_ft_"))
        return cli_fail (CLI_EXIT_USAGE, "%s",
                         _ ("this is not a fleet token (they start with nfltr_ft_; nfltr-relay "
                            "tokens create makes them)"));
      api_key = g_steal_pointer (&fleet_token);
    }
  /* issue 11, mTLS with the operator's CA: the certificate is the credential, no key or token. */
  if (client_cert != NULL || client_key != NULL)
    {
      g_autofree char *cert_pem = NULL;
      g_autofree char *key_pem = NULL;

      if (client_cert == NULL || client_key == NULL)
        return cli_fail (CLI_EXIT_USAGE, "%s", _ ("--client-cert and --client-key go together"));
      if (api_key != NULL || mtls)
        return cli_fail (CLI_EXIT_USAGE, "%s",
                         _ ("--client-cert replaces the API key, the fleet token and --mtls"));
      if (!g_file_get_contents (client_cert, &cert_pem, NULL, &error) ||
          !g_file_get_contents (client_key, &key_pem, NULL, &error))
        return cli_fail (CLI_EXIT_USAGE, "%s", error->message);
      api_key = g_strconcat ("mtls-pem:", cert_pem, "\n", key_pem, NULL);
      explicit_bzero (key_pem, strlen (key_pem));
    }
  if (api_key == NULL && g_getenv ("NFLTR_API_KEY") != NULL && *g_getenv ("NFLTR_API_KEY") != '\0')
    api_key = g_strdup (g_getenv ("NFLTR_API_KEY"));
  /* Questions need a person at a terminal; a key piped in means there is none on stdin. */
  interactive = !key_from_stdin && isatty (STDIN_FILENO) == 1;
  if ((api_key != NULL && *api_key == '\0') || (api_key == NULL && !interactive))
    {
      cli_fail (CLI_EXIT_USAGE, "%s",
                _ ("missing API key: give --api-key-file FILE (“-”: standard input) or set "
                   "$NFLTR_API_KEY"));
      fprintf (stderr, _ ("Try “nfltr %s --help”.\n"), "login");
      return CLI_EXIT_USAGE;
    }

  client = cli_client_connect (&error);
  if (client == NULL)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  manager = cli_client_get_manager (client);

  if (!nfltr_dbus_manager_call_probe_relay_sync (manager, relay, &presented, &subject, NULL,
                                                 &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  /* TRANSLATORS: the relay's address, then its certificate's fingerprint (sha256:…). */
  printf (_ ("Relay %s presents certificate %s\n"), relay, presented);
  if (subject != NULL && *subject != '\0')
    /* TRANSLATORS: the certificate's subject, e.g. CN=relay.example.com */
    printf (_ ("Subject: %s\n"), subject);
  fflush (stdout);

  /* What this agent pinned for this relay before, if it did. */
  pinned_fingerprint = nfltr_dbus_manager_get_relay_fingerprint (manager);
  if (nfltr_dbus_manager_get_relay_address (manager) != NULL &&
      *nfltr_dbus_manager_get_relay_address (manager) != '\0')
    pinned_relay = cli_normalize_relay (nfltr_dbus_manager_get_relay_address (manager), NULL);
  known = pinned_relay != NULL && g_ascii_strcasecmp (pinned_relay, relay) == 0 &&
          pinned_fingerprint != NULL && *pinned_fingerprint != '\0';

  if (expected != NULL)
    {
      if (g_ascii_strcasecmp (expected, presented) != 0)
        return cli_fail (CLI_EXIT_FAILURE,
                         /* TRANSLATORS: two fingerprints: the relay's, the one given by --fingerprint */
                         _ ("the relay presents %s, not the expected %s: not logging in"),
                         presented, expected);
    }
  else if (known && g_ascii_strcasecmp (pinned_fingerprint, presented) != 0)
    return refuse_changed_certificate (relay, pinned_fingerprint, presented);
  else if (known)
    fputs (_ ("This is the certificate pinned for this relay.\n"), stdout);
  else if (tofu)
    fputs (_ ("--trust-on-first-use: trusting this certificate without checking it.\n"), stdout);
  else if (interactive)
    {
      g_autofree char *answer = NULL;

      fputs (_ ("Check this fingerprint with the relay's operator (nfltr-relay fingerprint, on the\n"
                "relay's host). The API key is sent only to a relay you trust.\n"),
             stdout);
      answer = prompt_line (_ ("Trust this certificate and log in? [y/N] "), FALSE);
      if (answer == NULL ||
          (g_ascii_strcasecmp (answer, "y") != 0 && g_ascii_strcasecmp (answer, "yes") != 0 &&
           g_strcmp0 (answer, _ ("y")) != 0 && g_strcmp0 (answer, _ ("yes")) != 0))
        return cli_fail (CLI_EXIT_FAILURE, "%s",
                         _ ("certificate not confirmed: not logged in, the API key was not sent"));
    }
  else
    {
      g_autofree char *hint = g_strdup_printf (
        /* TRANSLATORS: the relay and its fingerprint, in a command to run */
        _ ("Check the fingerprint with the relay's operator, then run\n"
           "  nfltr login --relay %s --fingerprint %s\n"
           "or, to trust it unchecked, add --trust-on-first-use.\n"),
        relay, presented);

      cli_fail (CLI_EXIT_FAILURE, "%s",
                _ ("not sending the API key to a relay whose certificate nobody confirmed"));
      fputs (hint, stderr);
      return CLI_EXIT_FAILURE;
    }
  fflush (stdout);

  if (api_key == NULL)
    {
      api_key = prompt_line (_ ("API key: "), TRUE);
      if (api_key == NULL || *api_key == '\0')
        return cli_fail (CLI_EXIT_USAGE, "%s", _ ("no API key given"));
    }

  /* issue 11, mTLS: the service makes the key and has the relay certify it with this secret. */
  if (mtls)
    {
      char *wrapped = g_strconcat ("mtls:", api_key, NULL);

      explicit_bzero (api_key, strlen (api_key));
      g_free (api_key);
      api_key = wrapped;
    }
  /* Pin exactly what the user confirmed: a relay that changes its certificate between the
   * probe and the login is refused by the service, not silently pinned. */
  if (!nfltr_dbus_manager_call_login_sync (manager, relay, api_key, expected ? expected : presented,
                                           &pinned, NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  if (client_cert != NULL)
    /* TRANSLATORS: the relay's address */
    printf (_ ("Logged in to %s with the client certificate (a copy is kept in this agent's "
               "configuration)\n"),
            relay);
  else if (mtls)
    /* TRANSLATORS: the relay's address */
    printf (_ ("%s issued this agent a client certificate: it logs in with it from now on "
               "(the key or token was not kept)\n"),
            relay);
  else if (g_str_has_prefix (api_key, "nfltr_ft_"))
    /* TRANSLATORS: the relay's address */
    printf (_ ("Enrolled with %s using the fleet token: this agent holds its own credential "
               "now (the token was not kept)\n"),
            relay);
  printf (_ ("Logged in to %s — fingerprint pinned\n"), relay);
  return CLI_EXIT_OK;
}

int
cli_cmd_logout (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;

  g_option_context_set_summary (context, _ ("Forgets the relay, the API key and the pinned fingerprint, "
                                            "and disconnects every tunnel."));
  if (!cli_parse_command_line (context, "logout", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;

  client = cli_client_connect (&error);
  if (client == NULL ||
      !nfltr_dbus_manager_call_logout_sync (cli_client_get_manager (client), NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  fputs (_ ("Logged out.\n"), stdout);
  return CLI_EXIT_OK;
}
