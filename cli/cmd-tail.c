/* cmd-tail.c — `nfltr tail FILE…`: log files followed live in the browser behind a secret
 * link (service/kinds/tail/) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean
e2ee_cb (const char *option_name, const char *value, gpointer data, GError **error)
{
  return cli_parse_bool ("--e2ee", value, data, error);
}

int
cli_cmd_tail (int argc, char **argv)
{
  g_autofree char *name = NULL;
  g_autofree char *token = NULL;
  g_autofree char *basic_auth = NULL;
  int lines = 100;
  gboolean json = FALSE, e2ee = TRUE;
  const GOptionEntry entries[] = {
    { "lines", 'n', 0, G_OPTION_ARG_INT, &lines,
      N_ ("Start with the last N lines of each file (default 100)"), "N" },
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
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE…");
  GOptionGroup *group = g_option_group_new ("tail", "tail", "tail", &e2ee, NULL);
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_auto (GVariantDict) kind_options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *here = g_get_current_dir ();
  CliTunnelOptions options = { 0 };

  g_option_context_set_summary (
    context, _ ("Shows log files live in the browser behind a secret link, until Ctrl-C: the last lines\n"
                "first, then every line appended; rotated and truncated files are followed."));
  g_option_context_set_description (context, _ ("Examples:\n"
                                                "  nfltr tail /var/log/syslog\n"
                                                "  nfltr tail -n 500 app.log worker.log\n"));
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  if (!cli_parse_command_line (context, "tail", &argc, &argv, 1, 16, _ ("FILE")))
    return CLI_EXIT_USAGE;
  if (lines < 0 || lines > 100000)
    return cli_fail (CLI_EXIT_USAGE, "%s", _ ("--lines must be between 0 and 100000"));
  if (name != NULL && !cli_check_name (name, &error))
    return cli_fail (CLI_EXIT_USAGE, "%s", error->message);

  for (int i = 1; i < argc; i++)
    {
      g_autofree char *path = g_path_is_absolute (argv[i]) ? g_strdup (argv[i])
                                                           : g_build_filename (here, argv[i], NULL);
      struct stat st;

      /* Said here, before any tunnel: the common mistakes. A file that does not exist yet is
       * waited for (a log about to be created). */
      if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
        return cli_fail (CLI_EXIT_FAILURE, _ ("%s is a directory (nfltr serve shows folders)"), argv[i]);
      if (stat (path, &st) == 0 && access (path, R_OK) != 0)
        return cli_fail (CLI_EXIT_FAILURE, _ ("%s cannot be read"), argv[i]);
      g_ptr_array_add (files, g_steal_pointer (&path));
    }
  g_ptr_array_add (files, NULL);
  if (token == NULL)
    token = cli_new_token ();

  g_variant_dict_insert (&kind_options, "files", "^as", (char **) files->pdata);
  g_variant_dict_insert (&kind_options, "lines", "u", (guint32) lines);
  g_variant_dict_insert (&kind_options, "token", "s", token);
  if (basic_auth != NULL)
    g_variant_dict_insert (&kind_options, "basic-auth", "s", basic_auth);
  options.kind_options = g_variant_ref_sink (g_variant_dict_end (&kind_options));

  options.kind = g_strdup ("tail");
  options.target = g_strdup (g_ptr_array_index (files, 0));
  options.name = g_steal_pointer (&name);
  options.e2ee = e2ee;
  options.json = json;
  options.url_suffix = g_strdup_printf ("/?token=%s", token);
  return cli_tunnel_run (&options, NULL);
}
