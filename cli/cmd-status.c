/* cmd-status.c — `nfltr status`: the relay we are logged in to, its state, the pinned
 * fingerprint */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>

/* A service that just started (or the in-process engine) is still connecting: give it a
 * moment, so the answer says whether the relay is reachable. */
#define SETTLE_SECONDS 5

static const char *
or_empty (const char *s)
{
  return s ? s : "";
}

static void
settle_changed_cb (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer user_data)
{
  if (g_strcmp0 (nfltr_dbus_manager_get_relay_state (NFLTR_DBUS_MANAGER (proxy)),
                 "connecting") != 0)
    g_main_loop_quit (user_data);
}

static gboolean
settle_timeout_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
wait_while_connecting (NfltrDbusManager *m)
{
  g_autoptr(GMainLoop) loop = NULL;
  gulong handler;
  guint timeout;

  if (g_strcmp0 (nfltr_dbus_manager_get_relay_state (m), "connecting") != 0)
    return;
  loop = g_main_loop_new (NULL, FALSE);
  handler = g_signal_connect (m, "g-properties-changed", G_CALLBACK (settle_changed_cb), loop);
  timeout = g_timeout_add_seconds (SETTLE_SECONDS, settle_timeout_cb, loop);
  g_main_loop_run (loop);
  g_signal_handler_disconnect (m, handler);
  if (g_main_context_find_source_by_id (NULL, timeout) != NULL)
    g_source_remove (timeout);
}

int
cli_cmd_status (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  g_auto(GStrv) paths = NULL;
  NfltrDbusManager *m;
  const char *address, *state, *relay_error, *fingerprint, *domain;

  if (!cli_parse_json_flag ("status",
                            _ ("Shows the relay this machine is logged in to, the link's "
                               "state and the pinned certificate fingerprint."),
                            N_ ("Print one JSON object"), &argc, &argv, &json))
    return CLI_EXIT_USAGE;

  client = cli_client_connect (&error);
  if (client == NULL)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  m = cli_client_get_manager (client);
  if (nfltr_dbus_manager_get_version (m) == NULL)
    /* TRANSLATORS: %s is a D-Bus object path */
    return cli_fail (CLI_EXIT_FAILURE, _ ("the NFLTR service does not answer at %s"),
                     NFLTR_SERVICE_OBJECT_PATH);
  wait_while_connecting (m);
  /* The tunnel count is informative: a failure here does not fail the command. */
  if (!nfltr_dbus_manager_call_list_tunnels_sync (m, &paths, NULL, &error))
    g_debug ("ListTunnels: %s", error->message);

  address = or_empty (nfltr_dbus_manager_get_relay_address (m));
  state = or_empty (nfltr_dbus_manager_get_relay_state (m));
  relay_error = or_empty (nfltr_dbus_manager_get_relay_error (m));
  fingerprint = or_empty (nfltr_dbus_manager_get_relay_fingerprint (m));
  domain = or_empty (nfltr_dbus_manager_get_relay_domain (m));

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "service_version", nfltr_dbus_manager_get_version (m));
      cli_json_add_string (b, "service", cli_client_is_in_process (client) ? "in-process" : "bus");
      cli_json_add_string (b, "relay", address);
      cli_json_add_string (b, "state", state);
      cli_json_add_string (b, "fingerprint", fingerprint);
      cli_json_add_string (b, "domain", domain);
      cli_json_add_string (b, "error", relay_error);
      cli_json_add_int (b, "tunnels", paths ? g_strv_length (paths) : 0);
      json_builder_end_object (b);
      cli_json_print_line (b);
      return CLI_EXIT_OK;
    }

  /* TRANSLATORS: the lines of nfltr status (and of nfltr http, which shares “State:” and
   * “Fingerprint:”) are “Label:” and the value; pad the labels with spaces so that all
   * values start in the same column. Here: the service's version and how it was reached. */
  printf (_ ("Service:     %s (%s)\n"), nfltr_dbus_manager_get_version (m),
          cli_client_describe (client));
  if (*address == '\0')
    {
      /* TRANSLATORS: the command in quotes is typed as it is. */
      fputs (_ ("Relay:       not logged in (run “nfltr login --relay HOST:PORT --api-key KEY”)\n"),
             stdout);
      return CLI_EXIT_OK;
    }
  printf (_ ("Relay:       %s\n"), address);
  if (*relay_error != '\0' && g_strcmp0 (state, "connected") != 0)
    /* TRANSLATORS: the link's state (a word of the service's: connected, connecting, …) and
     * what went wrong */
    printf (_ ("State:       %s — %s\n"), state, relay_error);
  else
    printf (_ ("State:       %s\n"), state);
  if (*domain != '\0')
    /* TRANSLATORS: the relay's domain, under which tunnels get their names */
    printf (_ ("Domain:      %s\n"), domain);
  if (*fingerprint != '\0')
    printf (_ ("Fingerprint: %s (pinned)\n"), fingerprint);
  else
    /* TRANSLATORS: no fingerprint is pinned */
    fputs (_ ("Fingerprint: none (pinned)\n"), stdout);
  if (paths != NULL)
    printf (_ ("Tunnels:     %u\n"), g_strv_length (paths));
  return CLI_EXIT_OK;
}
