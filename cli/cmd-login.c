/* cmd-login.c — `nfltr login` (probe, show, pin the relay's certificate) and `nfltr logout` */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>

int
cli_cmd_login (int argc, char **argv)
{
  g_autofree char *relay_arg = NULL;
  g_autofree char *api_key = NULL;
  g_autofree char *fingerprint_arg = NULL;
  const GOptionEntry entries[] = {
    { "relay", 'r', 0, G_OPTION_ARG_STRING, &relay_arg,
      N_ ("The relay, e.g. nfltr.localhost:8443 (port 8443 if omitted)"), "HOST:PORT" },
    { "api-key", 'k', 0, G_OPTION_ARG_STRING, &api_key,
      N_ ("API key issued by the relay's operator (or set $NFLTR_API_KEY)"), "KEY" },
    { "fingerprint", 'f', 0, G_OPTION_ARG_STRING, &fingerprint_arg,
      N_ ("Expected SHA-256 fingerprint of the relay's certificate; without it the certificate "
          "is trusted on first use"),
      "sha256:HEX" },
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
  NfltrDbusManager *manager;

  g_option_context_set_summary (
    context,
    _ ("Connects to a relay, shows the SHA-256 fingerprint of its certificate, stores the API key\n"
       "and pins the fingerprint: later connections to a relay presenting another certificate fail."));
  g_option_context_set_description (
    context,
    /* TRANSLATORS: translate “Examples:” only; the commands are typed as they are. */
    _ ("Examples:\n"
       "  nfltr login --relay nfltr.localhost:8443 --api-key nfk_…\n"
       "  nfltr login --relay relay.example.com:443 --api-key nfk_… --fingerprint sha256:3f…\n"));
  g_option_context_add_main_entries (context, entries, NULL);
  if (!cli_parse_command_line (context, "login", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;

  if (relay_arg == NULL)
    {
      cli_fail (CLI_EXIT_USAGE, "%s", _ ("missing --relay HOST:PORT"));
      fprintf (stderr, _ ("Try “nfltr %s --help”.\n"), "login");
      return CLI_EXIT_USAGE;
    }
  if (api_key == NULL && g_getenv ("NFLTR_API_KEY") != NULL)
    api_key = g_strdup (g_getenv ("NFLTR_API_KEY"));
  if (api_key == NULL || *api_key == '\0')
    {
      cli_fail (CLI_EXIT_USAGE, "%s", _ ("missing --api-key KEY (or $NFLTR_API_KEY)"));
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

  if (expected != NULL && g_ascii_strcasecmp (expected, presented) != 0)
    return cli_fail (CLI_EXIT_FAILURE,
                     /* TRANSLATORS: two fingerprints: the relay's, the one given by --fingerprint */
                     _ ("the relay presents %s, not the expected %s: not logging in"),
                     presented, expected);
  if (expected == NULL)
    fputs (_ ("No --fingerprint given: trusting this certificate on first use.\n"), stdout);

  /* Pin exactly what the user was shown, even on first use: a relay that changes its
   * certificate between the two calls is refused, not silently pinned. */
  if (!nfltr_dbus_manager_call_login_sync (manager, relay, api_key,
                                           expected ? expected : presented, &pinned, NULL,
                                           &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
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
