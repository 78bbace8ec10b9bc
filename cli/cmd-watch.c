/* cmd-watch.c — `nfltr watch [--interval S] -- COMMAND…`: a command run every S seconds, its
 * output in the browser with the changes marked (service/kinds/watch/). No shell: the words
 * after "--" are the command and its arguments; `sh -c '…'` for a pipeline. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-commands.h"
#include "cli-output.h"
#include "cli-secret-link.h"

#include <glib/gi18n.h>
#include <stdio.h>

int
cli_cmd_watch (int argc, char **argv)
{
  g_autofree char *token = NULL;
  g_autofree char *basic_auth = NULL;
  double interval = 2.0;
  int timeout = 300;
  const GOptionEntry entries[] = {
    { "interval", 'n', 0, G_OPTION_ARG_DOUBLE, &interval,
      N_ ("Seconds from the start of one run to the start of the next (default 2); runs never overlap"),
      "S" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
      N_ ("Stop a run that takes longer than this many seconds (default 300)"), "S" },
    CLI_SECRET_LINK_OPTION_ENTRIES (&token, &basic_auth),
    G_OPTION_ENTRY_NULL
  };
  g_auto (GStrv) command = NULL;
  g_autofree char *path = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  g_auto (GVariantDict) kind_options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GError) error = NULL;
  CliTunnelOptions options;

  cli_split_command (&argc, argv, &command);
  if (!cli_tunnel_options_parse_full (
        "watch", argc, argv, entries, "-- COMMAND [ARGUMENTS…]",
        _ ("Runs COMMAND every few seconds and shows its latest output in the browser behind a\n"
           "secret link, with what changed marked, its exit status and time, and the last runs.\n"
           "COMMAND runs without a shell: use sh -c '…' for pipes."),
        _ ("Examples:\n"
           "  nfltr watch -- df -h\n"
           "  nfltr watch --interval 10 -- sh -c 'ss -tn | wc -l'\n"),
        0, 0, &options, NULL, &error))
    {
      cli_tunnel_options_clear (&options);
      return cli_usage_error ("watch", error);
    }
  if (command == NULL || command[0] == NULL)
    {
      cli_tunnel_options_clear (&options);
      return cli_fail (CLI_EXIT_USAGE, "%s", _ ("missing the command: nfltr watch -- COMMAND"));
    }
  if (!(interval >= 0.1 && interval <= 86400) || timeout < 1)
    {
      cli_tunnel_options_clear (&options);
      return cli_fail (CLI_EXIT_USAGE, "%s",
                       timeout < 1 ? _ ("--timeout must be at least 1 second")
                                   : _ ("--interval must be between 0.1 and 86400 seconds"));
    }
  path = g_find_program_in_path (command[0]);
  if (path == NULL)
    {
      cli_tunnel_options_clear (&options);
      return cli_fail (CLI_EXIT_FAILURE, _ ("“%s” is not installed (not found in PATH)"), command[0]);
    }
  /* The service may have another PATH: it is given the program the user's PATH found. */
  g_free (command[0]);
  command[0] = g_steal_pointer (&path);

  g_variant_dict_insert (&kind_options, "argv", "^as", command);
  g_variant_dict_insert (&kind_options, "interval", "d", interval);
  g_variant_dict_insert (&kind_options, "timeout", "u", (guint32) timeout);
  g_variant_dict_insert (&kind_options, "cwd", "s", cwd);
  options.target = g_strjoinv (" ", command);
  cli_secret_link_finish (&options, &kind_options, &token, basic_auth);
  return cli_tunnel_run (&options, NULL);
}
