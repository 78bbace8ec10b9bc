/* main.c — nfltr-relay: dispatch to a subcommand (no subcommand = serve) */
#define G_LOG_DOMAIN "nfltr-relay"

#include <glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "commands/relay-commands.h"
#include "tls/relay-identity.h"

static const struct {
  const char *name;
  int       (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "serve", relay_cmd_serve, "run the relay (the default)" },
  { "keys", relay_cmd_keys, "create, list and revoke agent API keys" },
  { "names", relay_cmd_names, "list tunnel names and their owners, release one" },
  { "fingerprint", relay_cmd_fingerprint, "print the relay certificate's SHA-256 fingerprint" },
  { "tokens", relay_cmd_tokens, "create, list and revoke fleet tokens (enrol many agents)" },
  { "agents", relay_cmd_agents, "list and revoke agents enrolled with fleet tokens" },
  { "admin", relay_cmd_admin, "set the dashboard's operator password" },
  { "certs", relay_cmd_certs, "list and revoke agents' client certificates (mTLS)" },
  { "signing-key", relay_cmd_signing_key, "print the relay's Ed25519 proof signing key (agents pin it)" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: nfltr-relay [COMMAND] [OPTION…]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun “nfltr-relay COMMAND --help” for a command's options.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_set_prgname ("nfltr-relay");
  relay_tls_use_strict_priorities ();

  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 ||
                    strcmp (argv[1], "help") == 0))
    {
      usage (stdout);
      return 0;
    }
  if (argc >= 2 && strcmp (argv[1], "--version") == 0)
    {
      printf ("nfltr-relay %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (argc < 2 || argv[1][0] == '-')
    {
      /* `nfltr-relay [--options]` is `nfltr-relay serve [--options]`. */
      g_autofree char **args = g_new0 (char *, argc + 2);
      args[0] = (char *) "serve";
      for (int i = 1; i < argc; i++)
        args[i] = argv[i];
      return relay_cmd_serve (argc, args);
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);

  fprintf (stderr, "nfltr-relay: unknown command “%s”\n\n", argv[1]);
  usage (stderr);
  return 2;
}
