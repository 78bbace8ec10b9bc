/* main.c — nfltr-service: the engine on the session bus as xyz.nfltr.Nfltr.Service */
#define G_LOG_DOMAIN "nfltr-service"

#include <glib-unix.h>
#include <gio/gio.h>
#include <locale.h>
#include <stdlib.h>

#include "nfltr-engine.h"

typedef struct {
  GMainLoop *loop;
  NfltrEngine *engine;
  int exit_status;
  gboolean owned;
  gboolean lost;
} Service;

static gboolean
quit_signal_cb (gpointer user_data)
{
  Service *service = user_data;

  g_message ("signal received, shutting down");
  g_main_loop_quit (service->loop);
  return G_SOURCE_CONTINUE;
}

static void
name_acquired_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  Service *service = user_data;

  service->owned = TRUE;
  g_message ("owning %s", name);
}

static void
name_lost_cb (GDBusConnection *connection,
              const char      *name,
              gpointer         user_data)
{
  Service *service = user_data;

  service->lost = TRUE;
  /* Replaced by `nfltr-service --replace` is a clean end (systemd must not restart us);
   * a lost bus or a name already taken at start is a failure. */
  if (connection == NULL || g_dbus_connection_is_closed (connection))
    {
      g_message ("lost the bus connection");
      service->exit_status = EXIT_FAILURE;
    }
  else if (service->owned)
    g_message ("replaced by another nfltr-service");
  else
    {
      g_message ("%s is already owned (use --replace to take it over)", name);
      service->exit_status = EXIT_FAILURE;
    }
  g_main_loop_quit (service->loop);
}

static GDBusConnection *
open_bus (GError **error)
{
  /* Tests (and anyone who wants a separate instance) move the service onto another bus. */
  const char *address = g_getenv ("NFLTR_SERVICE_BUS_ADDRESS");

  if (address != NULL && *address != '\0')
    return g_dbus_connection_new_for_address_sync (address,
                                                   G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                   G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                   NULL, NULL, error);
  return g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, error);
}

int
main (int argc, char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;
  gboolean replace = FALSE;
  gboolean version = FALSE;
  Service service = { 0 };
  GBusNameOwnerFlags flags = G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT;
  guint owner_id;
  const GOptionEntry entries[] = {
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &replace, "Replace a running nfltr-service", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  g_set_prgname ("nfltr-service");

  context = g_option_context_new ("- NFLTR background service");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("nfltr-service: %s\n", error->message);
      return EXIT_FAILURE;
    }
  if (version)
    {
      g_print ("nfltr-service %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  if (replace)
    flags |= G_BUS_NAME_OWNER_FLAGS_REPLACE;

  bus = open_bus (&error);
  if (bus == NULL)
    {
      g_printerr ("nfltr-service: cannot connect to the bus: %s\n", error->message);
      return EXIT_FAILURE;
    }
  /* We decide when to leave: a vanished bus ends the main loop through name-lost. */
  g_dbus_connection_set_exit_on_close (bus, FALSE);

  service.engine = nfltr_engine_new (&error);
  if (service.engine == NULL)
    {
      g_printerr ("nfltr-service: %s\n", error->message);
      return EXIT_FAILURE;
    }
  /* Export before owning the name, so a client activated by the name sees the objects. */
  if (!nfltr_engine_export (service.engine, bus, &error))
    {
      g_printerr ("nfltr-service: cannot export the D-Bus objects: %s\n", error->message);
      g_clear_object (&service.engine);
      return EXIT_FAILURE;
    }

  service.loop = g_main_loop_new (NULL, FALSE);
  service.exit_status = EXIT_SUCCESS;
  g_unix_signal_add (SIGTERM, quit_signal_cb, &service);
  g_unix_signal_add (SIGINT, quit_signal_cb, &service);
  /* Do not queue: a second instance leaves at once instead of waiting for the name. */
  owner_id = g_bus_own_name_on_connection (bus, NFLTR_SERVICE_BUS_NAME,
                                           flags | G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                           name_acquired_cb, name_lost_cb, &service, NULL);

  g_main_loop_run (service.loop);

  /* Releasing a name we no longer hold only earns a warning from GDBus. */
  if (!service.lost)
    g_bus_unown_name (owner_id);
  nfltr_engine_shutdown (service.engine);
  g_clear_object (&service.engine);
  /* Operations the shutdown cancelled (a relay connect in flight) finish on this context: let
   * them, so that nothing they hold is left at exit. Bounded: only what is ready now. */
  for (guint i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_dbus_connection_flush_sync (bus, NULL, NULL);
  g_main_loop_unref (service.loop);
  g_message ("stopped");
  return service.exit_status;
}
