/* relay-commands.c — what the `nfltr-relay` subcommands share */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-commands.h"

#include <stdio.h>

gboolean
relay_cmd_parse_options (const char *command, const char *parameter_string, const GOptionEntry *entries,
                         int *argc, char ***argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (parameter_string);
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      fprintf (stderr, "nfltr-relay %s: %s\n", command, error->message);
      return FALSE;
    }
  return TRUE;
}

void
relay_cmd_default_data_dir (char **data_dir)
{
  /* The same place relay_config_init() gives `serve`. */
  if (*data_dir == NULL)
    *data_dir = g_build_filename (g_get_user_data_dir (), "nfltr-relay", NULL);
}
