/* nfltr.c — the command line: finds the command and hands it the rest of argv */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-commands.h"
#include "cli-output.h"
#include "nfltr-i18n.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

const CliCommand cli_commands[] = {
  { "login", cli_cmd_login, "--relay HOST:PORT --api-key KEY [--fingerprint sha256:HEX]",
    N_ ("Log in to a relay and pin its certificate's fingerprint") },
  { "logout", cli_cmd_logout, "", N_ ("Forget the relay, the API key and the fingerprint") },
  { "http", cli_cmd_http,
    "PORT|HOST:PORT [--name NAME] [--e2ee=false] [--e2ee-cert FILE --e2ee-key FILE] [--json]",
    N_ ("Publish a local HTTP service until Ctrl-C") },
  { "tcp", cli_cmd_tcp,
    "PORT|HOST:PORT [--name NAME] [--e2ee=false] [--e2ee-cert FILE --e2ee-key FILE] [--json]",
    N_ ("Publish a local TCP service until Ctrl-C") },
  { "terminal", cli_cmd_terminal, "[--viewer] [--token TOKEN] [--name NAME] [--json] [-- COMMAND…]",
    N_ ("Open your shell (or a command) in a browser terminal until Ctrl-C") },
  { "ai", cli_cmd_ai, "[--viewer] [--token TOKEN] [--name NAME] [--json] [-- COMMAND…]",
    N_ ("Run an AI command-line tool (claude) in a browser terminal until Ctrl-C") },
  { "tail", cli_cmd_tail, "FILE… [--lines N] [--token TOKEN] [--name NAME] [--json]",
    N_ ("Show log files live in the browser until Ctrl-C") },
  { "watch", cli_cmd_watch, "[--interval S] [--token TOKEN] [--name NAME] [--json] -- COMMAND…",
    N_ ("Run a command every few seconds and show its output in the browser until Ctrl-C") },
  { "KIND", NULL,
    "TARGET [--name NAME] [--e2ee=false] [--e2ee-cert FILE --e2ee-key FILE] [--json]",
    /* TRANSLATORS: TARGET is the placeholder of the usage line above; keep it. */
    N_ ("Publish TARGET as a tunnel of any kind the service offers (listed below), until Ctrl-C") },
  { "serve", cli_cmd_serve,
    "DIR [--upload] [--max-upload SIZE] [--basic-auth USER:PASS] [--token[=TOKEN]] [--name NAME] [--json]",
    N_ ("Share a folder as a file server until Ctrl-C") },
  { "share", cli_cmd_share,
    "FILE|DIR|- | --text TEXT [--expires DURATION] [--max-downloads N] [--name NAME] [--json]",
    N_ ("Share a file, folder, text or standard input at a secret link that expires") },
  { "command", cli_cmd_command,
    "[--concurrency N] [--timeout S] [--max-output SIZE] [--arg-from-query NAME] -- CMD [ARGS…]",
    N_ ("Run a command for each request: the body on its input, its output back") },
  { "shell", cli_cmd_shell, "[--name NAME] [--authorized-keys FILE] [--json]",
    N_ ("Run an SSH server for your account (shell, scp, sftp) until Ctrl-C") },
  { "ssh", cli_cmd_ssh, "[--relay HOST:PORT] [USER@]NAME.DOMAIN [ssh arguments…]",
    N_ ("Log in to an nfltr shell with OpenSSH, checking the tunnel's certificate") },
  { "list", cli_cmd_list, "[--wide] [--json]", N_ ("List every tunnel, saved or running in a terminal") },
  { "stop", cli_cmd_stop, "NAME", N_ ("Stop a tunnel; visitors are turned away until it starts") },
  { "start", cli_cmd_start, "NAME", N_ ("Start a stopped or failed tunnel again") },
  { "rm", cli_cmd_rm, "NAME", N_ ("Remove a tunnel from the service") },
  { "status", cli_cmd_status, "[--json]",
    N_ ("Show the relay, the link's state and the pinned fingerprint") },
  { "connect", cli_cmd_connect, "NAME.DOMAIN[:PORT] [--listen [HOST:]PORT] [--fingerprint sha256:HEX] [--json]",
    N_ ("Reach a tcp tunnel from a local port, checking its certificate's fingerprint") },
  { "release", cli_cmd_release, "NAME", N_ ("Give a tunnel name back to the relay, for anybody to take") },
  { "wg", cli_cmd_wg, "serve|socks5|status|export|leave …",
    N_ ("WireGuard networks through the relay (nfltr wg --help)") },
  { "proof", cli_cmd_proof, "NAME [-o FILE]", N_ ("Fetch and save the relay's signed proof bundle of a tunnel") },
  { "verify", cli_cmd_verify, "BUNDLE [--fingerprint F] [--relay-key K]",
    N_ ("Check a proof bundle offline and say what it proves") },
  { "p2p", cli_cmd_p2p, "send FILE… | receive CODE [--dir DIR] [--yes] | chat [CODE] | audit",
    N_ ("Send files or chat directly with another machine, paired by a short code") },
  { "a2a", cli_cmd_a2a, "id | send AGENT MESSAGE|--file F | listen [--exec CMD] | serve NAME | connect NAME …",
    N_ ("Messages between agents through the relay, end-to-end encrypted; HTTP agents by name") },
  { "audit", cli_cmd_audit, "verify LOG [--checkpoint FILE]",
    N_ ("Check a saved a2a conversation log against the peer's signed checkpoints") },
  { "help", NULL, "[COMMAND]", N_ ("Show this help, or a command's") },
  { NULL, NULL, NULL, NULL }
};

static const CliCommand *
find_command (const char *name)
{
  for (const CliCommand *c = cli_commands; c->name != NULL; c++)
    if (g_str_equal (c->name, name))
      return c;
  return NULL;
}

/* with_kinds: list the tunnel kinds (nfltr help): the running service's, else the engine's. */
static void
print_usage (FILE *out, gboolean with_kinds)
{
  /* TRANSLATORS: nfltr's help. “nfltr” is the command itself; COMMAND and ARGUMENTS are
   * placeholders, kept in English like those of the commands' usage lines. */
  fputs (_ ("Usage: nfltr COMMAND [ARGUMENTS…]\n"
            "\n"
            "Publishes local services through an NFLTR relay. Tunnels are verified end-to-end by\n"
            "default: TLS ends on this machine and the relay cannot read the traffic.\n"),
         out);
  fprintf (out, "\n%s\n", _ ("Commands:"));
  for (const CliCommand *c = cli_commands; c->name != NULL; c++)
    {
      if (*c->usage != '\0')
        fprintf (out, "  %-7s %s\n          %s\n", c->name, c->usage, _ (c->summary));
      else
        fprintf (out, "  %-7s %s\n", c->name, _ (c->summary));
    }
  if (with_kinds)
    cli_print_kinds (out);
  fprintf (out, "\n%s\n", _ ("Options:"));
  fprintf (out, "  -h, --help     %s\n", _ ("Show this help"));
  fprintf (out, "  -V, --version  %s\n", _ ("Show the version"));
  fputs ("\n", out);
  /* TRANSLATORS: “nfltr COMMAND --help” is typed as it is (COMMAND: a placeholder, kept). */
  fputs (_ ("Run “nfltr COMMAND --help” for a command's options.\n"), out);
  fputs (_ ("Exit status: 0 success, 1 failure, 2 bad command line, 130 interrupted.\n"), out);
}

static int
unknown_command (const char *word)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *suggestion;

  for (const CliCommand *c = cli_commands; c->name != NULL; c++)
    if (c->func != NULL || g_str_equal (c->name, "help"))
      g_ptr_array_add (names, (gpointer) c->name);
  g_ptr_array_add (names, NULL);

  if (word[0] == '-')
    cli_fail (CLI_EXIT_USAGE, _ ("unknown option “%s”"), word);
  else
    cli_fail (CLI_EXIT_USAGE, _ ("unknown command “%s”"), word);
  suggestion = cli_suggest_command (word[0] == '-' ? word + 1 : word,
                                    (const char * const *) names->pdata);
  if (suggestion != NULL)
    fprintf (stderr, _ ("Did you mean “nfltr %s”?\n"), suggestion);
  fputs (_ ("Run “nfltr help” for the list of commands.\n"), stderr);
  return CLI_EXIT_USAGE;
}

static int
run_command (const CliCommand *command, int argc, char **argv)
{
  g_autofree char *prgname = g_strdup_printf ("nfltr %s", command->name);

  /* "Usage: nfltr http [OPTION…] PORT|HOST:PORT" in the command's --help */
  g_set_prgname (prgname);
  return command->func (argc, argv);
}

/* A word that could be a kind's id (a DNS label, as protocol names are): only then is the
 * service asked, so a mistyped command stays a quick usage error. */
static gboolean
could_be_kind (const char *word)
{
  gsize len = strlen (word);

  if (len == 0 || len > 63 || !g_ascii_islower (word[0]))
    return FALSE;
  for (const char *p = word; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
      return FALSE;
  return TRUE;
}

int
main (int argc, char **argv)
{
  const char *word;
  const CliCommand *command;

  nfltr_i18n_init ();
  g_set_prgname ("nfltr");

  if (argc < 2)
    {
      print_usage (stderr, FALSE);
      return CLI_EXIT_USAGE;
    }

  word = argv[1];
  if (g_str_equal (word, "--version") || g_str_equal (word, "-V") ||
      g_str_equal (word, "version"))
    {
      printf ("nfltr %s\n", PACKAGE_VERSION);
      return CLI_EXIT_OK;
    }

  if (g_str_equal (word, "help") || g_str_equal (word, "--help") || g_str_equal (word, "-h"))
    {
      if (argc > 2)
        {
          char *help_argv[] = { argv[2], (char *) "--help", NULL };

          int status;

          command = find_command (argv[2]);
          if (command != NULL && command->func != NULL)
            return run_command (command, 2, help_argv);
          if (command == NULL && could_be_kind (argv[2]) && cli_cmd_kind (2, help_argv, &status))
            return status;
          if (command == NULL)
            return unknown_command (argv[2]);
        }
      print_usage (stdout, TRUE);
      return CLI_EXIT_OK;
    }

  command = find_command (word);
  if (command == NULL && argc > 2 && could_be_kind (word))
    {
      g_autofree char *prgname = g_strdup_printf ("nfltr %s", word);
      int status;

      g_set_prgname (prgname);
      if (cli_cmd_kind (argc - 1, argv + 1, &status))
        return status;
      g_set_prgname ("nfltr");
    }
  if (command == NULL || command->func == NULL)
    return unknown_command (word);
  return run_command (command, argc - 1, argv + 1);
}
