/* cmd-manage.c — `nfltr stop NAME`, `nfltr start NAME`, `nfltr rm NAME`: the tunnels the
 * service keeps (saved ones, and those of a running `nfltr http` in another terminal),
 * managed by name as `nfltr list` shows them. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>

typedef enum {
  MANAGE_STOP,
  MANAGE_START,
  MANAGE_REMOVE,
} ManageAction;

/* The tunnel called @name (or whose id is @name), or NULL with an error that says how to
 * find the names. */
static NfltrDbusTunnel *
find_tunnel (CliClient *client, const char *name, GError **error)
{
  g_auto (GStrv) paths = NULL;

  if (!nfltr_dbus_manager_call_list_tunnels_sync (cli_client_get_manager (client), &paths, NULL, error))
    return NULL;
  for (guint i = 0; paths[i] != NULL; i++)
    {
      g_autoptr (NfltrDbusTunnel) t = cli_client_get_tunnel (client, paths[i], error);

      if (t == NULL)
        return NULL;
      if (g_strcmp0 (nfltr_dbus_tunnel_get_name (t), name) == 0 ||
          g_strcmp0 (nfltr_dbus_tunnel_get_id (t), name) == 0)
        return g_steal_pointer (&t);
    }
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _ ("no tunnel is called “%s” (“nfltr list” shows them)"), name);
  return NULL;
}

static int
manage (ManageAction action, const char *command, const char *summary, const char *hint, int argc,
        char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (_ ("NAME"));
  g_autoptr (GError) error = NULL;
  g_autoptr (CliClient) client = NULL;
  g_autoptr (NfltrDbusTunnel) tunnel = NULL;
  g_autofree char *done = NULL;
  const char *name;
  gboolean ok = FALSE;
  gboolean transient;

  g_option_context_set_summary (context, summary);
  if (!cli_parse_command_line (context, command, &argc, &argv, 1, 1, hint))
    return CLI_EXIT_USAGE;
  name = argv[1];

  client = cli_client_connect (&error);
  if (client != NULL)
    tunnel = find_tunnel (client, name, &error);
  if (tunnel == NULL)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  transient = nfltr_dbus_tunnel_get_transient (tunnel);

  switch (action)
    {
      case MANAGE_STOP:
        if (g_strcmp0 (nfltr_dbus_tunnel_get_state (tunnel), "stopped") == 0)
          {
            done = g_strdup_printf (_ ("“%s” is already stopped.\n"), name);
            ok = TRUE;
            break;
          }
        ok = nfltr_dbus_tunnel_call_stop_sync (tunnel, NULL, &error);
        done = g_strdup_printf (_ ("Stopped “%s”: visitors are turned away until “nfltr start %s”.\n"), name,
                                name);
        break;
      case MANAGE_START:
        ok = nfltr_dbus_tunnel_call_start_sync (tunnel, NULL, &error);
        done = g_strdup_printf (_ ("Started “%s”: %s\n"), name, nfltr_dbus_tunnel_get_public_url (tunnel));
        break;
      case MANAGE_REMOVE:
        ok = nfltr_dbus_tunnel_call_remove_sync (tunnel, NULL, &error);
        if (transient)
          done = g_strdup_printf (_ ("Removed “%s”; the “nfltr” command that ran it has ended.\n"), name);
        else
          done = g_strdup_printf (_ ("Removed “%s”. The relay keeps the name for you; “nfltr release %s” "
                                     "gives it up.\n"),
                                  name, name);
        break;
      default: g_assert_not_reached ();
    }
  if (!ok)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  fputs (done, stdout);
  return CLI_EXIT_OK;
}

int
cli_cmd_stop (int argc, char **argv)
{
  return manage (MANAGE_STOP, "stop",
                 _ ("Stops a tunnel: the relay turns visitors away until it is started again.\n"
                    "A saved tunnel stays stopped across restarts of the service."),
                 _ ("the tunnel to stop (e.g. nfltr stop myapp)"), argc, argv);
}

int
cli_cmd_start (int argc, char **argv)
{
  return manage (MANAGE_START, "start",
                 _ ("Starts a stopped or failed tunnel again, under the same name and URL."),
                 _ ("the tunnel to start (e.g. nfltr start myapp)"), argc, argv);
}

int
cli_cmd_rm (int argc, char **argv)
{
  return manage (MANAGE_REMOVE, "rm",
                 _ ("Removes a tunnel from the service. A tunnel run by “nfltr http” in another\n"
                    "terminal ends there too. The relay keeps the name reserved for you\n"
                    "(“nfltr release NAME” gives it up)."),
                 _ ("the tunnel to remove (e.g. nfltr rm myapp)"), argc, argv);
}
