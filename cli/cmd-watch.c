/* cmd-watch.c — `nfltr watch [--interval S] -- COMMAND…`: a command run every S seconds, its
 * output in the browser with the changes marked (service/kinds/watch/). No shell: the words
 * after "--" are the command and its arguments; `sh -c '…'` for a pipeline. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>

static gboolean
e2ee_cb (const char *option_name, const char *value, gpointer data, GError **error)
{
  return cli_parse_bool ("--e2ee", value, data, error);
}

int
cli_cmd_watch (int argc, char **argv)
{
  g_autofree char *name = NULL;
  g_autofree char *token = NULL;
  g_autofree char *basic_auth = NULL;
  double interval = 2.0;
  int timeout = 300;
  gboolean json = FALSE, e2ee = TRUE;
  const GOptionEntry entries[] = {
    { "interval", 'n', 0, G_OPTION_ARG_DOUBLE, &interval,
      N_ ("Seconds from the start of one run to the start of the next (default 2); runs never overlap"),
      "S" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
      N_ ("Stop a run that takes longer than this many seconds (default 300)"), "S" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name,
      N_ ("Public name: the URL is https://NAME.<relay domain> (default: random)"), "NAME" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &token,
      N_ ("The secret in the link (default: a random one)"), "TOKEN" },
    { "basic-auth", 0, 0, G_OPTION_ARG_STRING, &basic_auth,
      N_ ("Ask for this user and password as well"), "USER:PASSWORD" },
    { "e2ee", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, e2ee_cb,
      N_ ("End-to-end encryption (default true); --e2ee=false lets the relay read the traffic"),
      "true|false" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_ ("Print one JSON object per line (events: ready, stats, state, error, stopped)"), NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("-- COMMAND [ARGUMENTS…]");
  GOptionGroup *group = g_option_group_new ("watch", "watch", "watch", &e2ee, NULL);
  g_auto (GStrv) command = NULL;
  g_autofree char *path = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  g_auto (GVariantDict) kind_options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GError) error = NULL;
  CliTunnelOptions options = { 0 };

  cli_split_command (&argc, argv, &command);
  g_option_context_set_summary (
    context, _ ("Runs COMMAND every few seconds and shows its latest output in the browser behind a\n"
                "secret link, with what changed marked, its exit status and time, and the last runs.\n"
                "COMMAND runs without a shell: use sh -c '…' for pipes."));
  g_option_context_set_description (context, _ ("Examples:\n"
                                                "  nfltr watch -- df -h\n"
                                                "  nfltr watch --interval 10 -- sh -c 'ss -tn | wc -l'\n"));
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  if (!cli_parse_command_line (context, "watch", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;
  if (command == NULL || command[0] == NULL)
    {
      cli_fail (CLI_EXIT_USAGE, "%s", _ ("missing the command: nfltr watch -- COMMAND"));
      return CLI_EXIT_USAGE;
    }
  if (!(interval >= 0.1 && interval <= 86400))
    return cli_fail (CLI_EXIT_USAGE, "%s", _ ("--interval must be between 0.1 and 86400 seconds"));
  if (timeout < 1)
    return cli_fail (CLI_EXIT_USAGE, "%s", _ ("--timeout must be at least 1 second"));
  if (name != NULL && !cli_check_name (name, &error))
    return cli_fail (CLI_EXIT_USAGE, "%s", error->message);
  path = g_find_program_in_path (command[0]);
  if (path == NULL)
    return cli_fail (CLI_EXIT_FAILURE, _ ("“%s” is not installed (not found in PATH)"), command[0]);
  /* The service may have another PATH: it is given the program the user's PATH found. */
  g_free (command[0]);
  command[0] = g_steal_pointer (&path);
  if (token == NULL)
    token = cli_new_token ();

  g_variant_dict_insert (&kind_options, "argv", "^as", command);
  g_variant_dict_insert (&kind_options, "interval", "d", interval);
  g_variant_dict_insert (&kind_options, "timeout", "u", (guint32) timeout);
  g_variant_dict_insert (&kind_options, "cwd", "s", cwd);
  g_variant_dict_insert (&kind_options, "token", "s", token);
  if (basic_auth != NULL)
    g_variant_dict_insert (&kind_options, "basic-auth", "s", basic_auth);
  options.kind_options = g_variant_ref_sink (g_variant_dict_end (&kind_options));

  options.kind = g_strdup ("watch");
  options.target = g_strjoinv (" ", command);
  options.name = g_steal_pointer (&name);
  options.e2ee = e2ee;
  options.json = json;
  options.url_suffix = g_strdup_printf ("/?token=%s", token);
  return cli_tunnel_run (&options, NULL);
}
