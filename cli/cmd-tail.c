/* cmd-tail.c — `nfltr tail FILE…`: log files followed live in the browser behind a secret
 * link (service/kinds/tail/) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-commands.h"
#include "cli-output.h"
#include "cli-secret-link.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int
cli_cmd_tail (int argc, char **argv)
{
  g_autofree char *token = NULL;
  g_autofree char *basic_auth = NULL;
  int lines = 100;
  const GOptionEntry entries[] = {
    { "lines", 'n', 0, G_OPTION_ARG_INT, &lines,
      N_ ("Start with the last N lines of each file (default 100)"), "N" },
    CLI_SECRET_LINK_OPTION_ENTRIES (&token, &basic_auth),
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_auto (GVariantDict) kind_options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) positional = NULL;
  g_autofree char *here = g_get_current_dir ();
  CliTunnelOptions options;

  if (!cli_tunnel_options_parse_full (
        "tail", argc, argv, entries, _ ("FILE…"),
        _ ("Shows log files live in the browser behind a secret link, until Ctrl-C: the last lines\n"
           "first, then every line appended; rotated and truncated files are followed."),
        _ ("Examples:\n"
           "  nfltr tail /var/log/syslog\n"
           "  nfltr tail -n 500 app.log worker.log\n"),
        1, 16, &options, &positional, &error))
    {
      cli_tunnel_options_clear (&options);
      return cli_usage_error ("tail", error);
    }
  if (lines < 0 || lines > 100000)
    {
      cli_tunnel_options_clear (&options);
      return cli_fail (CLI_EXIT_USAGE, "%s", _ ("--lines must be between 0 and 100000"));
    }

  for (guint i = 0; positional[i] != NULL; i++)
    {
      g_autofree char *path = g_path_is_absolute (positional[i]) ? g_strdup (positional[i])
                                                                 : g_build_filename (here, positional[i], NULL);
      struct stat st;

      /* Said here, before any tunnel: the common mistakes. A file that does not exist yet is
       * waited for (a log about to be created). */
      if (stat (path, &st) == 0 && (S_ISDIR (st.st_mode) || access (path, R_OK) != 0))
        {
          cli_tunnel_options_clear (&options);
          return cli_fail (CLI_EXIT_FAILURE,
                           S_ISDIR (st.st_mode) ? _ ("%s is a directory (nfltr serve shows folders)")
                                                : _ ("%s cannot be read"),
                           positional[i]);
        }
      g_ptr_array_add (files, g_steal_pointer (&path));
    }
  g_ptr_array_add (files, NULL);

  g_variant_dict_insert (&kind_options, "files", "^as", (char **) files->pdata);
  g_variant_dict_insert (&kind_options, "lines", "u", (guint32) lines);
  options.target = g_strdup (g_ptr_array_index (files, 0));
  cli_secret_link_finish (&options, &kind_options, &token, basic_auth);
  return cli_tunnel_run (&options, NULL);
}
