/* cmd-release.c — `nfltr release NAME`: give a tunnel name back to the relay for good
 * (docs/protocol.md §6). Until then the relay keeps it reserved for this API key. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>

int
cli_cmd_release (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (_ ("NAME"));
  g_autoptr (GError) error = NULL;
  g_autoptr (CliClient) client = NULL;

  g_option_context_set_summary (context, _ ("Gives a tunnel name back to the relay. The relay keeps every "
                                            "name reserved for the API key\nthat bound it, even while no "
                                            "tunnel uses it; after this anybody may bind it.\nRemove this "
                                            "agent's tunnel of that name first."));
  if (!cli_parse_command_line (context, "release", &argc, &argv, 1, 1,
                               _ ("the name to release (e.g. nfltr release myapp)")))
    return CLI_EXIT_USAGE;

  client = cli_client_connect (&error);
  if (client == NULL ||
      !nfltr_dbus_manager_call_release_name_sync (cli_client_get_manager (client), argv[1], NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  g_autofree char *done = g_strdup_printf (_ ("Released “%s”: the relay no longer keeps it for you.\n"), argv[1]);

  fputs (done, stdout);
  return CLI_EXIT_OK;
}
