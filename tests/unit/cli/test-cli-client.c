/* test-cli-client.c — how nfltr reaches the service: the in-process engine over a private
 * peer-to-peer connection when there is no bus, and nfltr-service started on demand on a
 * private bus (GTestDBus). No relay: only what the service answers before login. */
#include "cli-client.h"

#include "nfltr-error.h"
#include "nfltr-service-locator.h"

#include <glib/gstdio.h>
#include <string.h>

static char *home;

static void
assert_not_logged_in (CliClient *client)
{
  NfltrDbusManager *manager = cli_client_get_manager (client);
  g_auto(GStrv) tunnels = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);

  g_assert_cmpstr (nfltr_dbus_manager_get_version (manager), ==, PACKAGE_VERSION);
  g_assert_cmpstr (nfltr_dbus_manager_get_relay_state (manager), ==, "logged-out");
  g_assert_cmpstr (nfltr_dbus_manager_get_relay_address (manager), ==, "");

  g_assert_true (nfltr_dbus_manager_call_list_tunnels_sync (manager, &tunnels, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (tunnels), ==, 0);

  /* A service error arrives in our domain, its message as the user will read it. */
  g_variant_dict_insert (&options, "kind", "s", "http");
  g_variant_dict_insert (&options, "target", "s", "3000");
  g_variant_dict_insert (&options, "transient", "b", TRUE);
  g_assert_false (nfltr_dbus_manager_call_create_tunnel_sync (manager,
                                                              g_variant_dict_end (&options),
                                                              &path, NULL, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_LOGGED_IN);
  g_dbus_error_strip_remote_error (error);
  g_assert_nonnull (strstr (error->message, "nfltr login"));
}

static void
test_in_process (void)
{
  /* Twice in one process: the engine thread starts and stops cleanly. */
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CliClient) client = NULL;

      client = cli_client_connect (&error);
      g_assert_no_error (error);
      g_assert_nonnull (client);
      g_assert_true (cli_client_is_in_process (client));
      g_assert_null (cli_client_get_bus_name (client));
      g_assert_cmpstr (cli_client_describe (client), ==, "in-process engine");
      assert_not_logged_in (client);
    }
}

/* A private bus for $NFLTR_SERVICE_BUS_ADDRESS, with no activation file on it: the client must
 * start $NFLTR_SERVICE_BINARY (service_binary, or the one in the build tree) itself. */
static GTestDBus *
private_bus_up (const char *service_binary)
{
  GTestDBus *bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_autofree char *built = g_build_filename (g_getenv ("NFLTR_BUILD_ROOT"), "service",
                                             "nfltr-service", NULL);

  /* meson builds every binary before `meson test`; a missing one is a broken build, not a skip. */
  if (service_binary == NULL && !g_file_test (built, G_FILE_TEST_IS_EXECUTABLE))
    g_error ("%s is not built (run ninja first)", built);
  g_test_dbus_up (bus);
  g_setenv ("NFLTR_SERVICE_BUS_ADDRESS", g_test_dbus_get_bus_address (bus), TRUE);
  g_setenv ("NFLTR_SERVICE_BINARY", service_binary ? service_binary : built, TRUE);
  return bus;
}

/* A service we started leaves when its bus goes. */
static void
private_bus_down (GTestDBus *bus)
{
  g_test_dbus_down (bus);
  g_object_unref (bus);
  g_unsetenv ("NFLTR_SERVICE_BUS_ADDRESS");
  g_unsetenv ("NFLTR_SERVICE_BINARY");
}

static void
test_spawned_on_private_bus (void)
{
  GTestDBus *bus = private_bus_up (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;

  client = cli_client_connect (&error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  g_assert_false (cli_client_is_in_process (client));
  g_assert_cmpstr (cli_client_get_bus_name (client), ==, "xyz.nfltr.Nfltr.Service");
  g_assert_cmpstr (cli_client_describe (client), ==, "bus $NFLTR_SERVICE_BUS_ADDRESS");
  assert_not_logged_in (client);
  g_clear_pointer (&client, cli_client_free);

  /* A second client finds the running service instead of starting another. */
  client = cli_client_connect (&error);
  g_assert_no_error (error);
  assert_not_logged_in (client);
  g_clear_pointer (&client, cli_client_free);
  private_bus_down (bus);
}

static void
test_unreachable_bus (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;

  g_setenv ("NFLTR_SERVICE_BUS_ADDRESS", "unix:path=/nonexistent/bus", TRUE);
  client = cli_client_connect (&error);
  g_assert_null (client);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "$NFLTR_SERVICE_BUS_ADDRESS"));
  g_unsetenv ("NFLTR_SERVICE_BUS_ADDRESS");
}

/* A service binary that exits at once: the client says so with its status and the log, instead
 * of waiting out the 5 s for a name that will never come. */
static void
test_service_exits_early (void)
{
  GTestDBus *bus = private_bus_up ("/bin/false");
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  gint64 started;

  started = g_get_monotonic_time ();
  client = cli_client_connect (&error);
  g_assert_null (client);
  g_assert_error (error, NFLTR_SERVICE_LOCATOR_ERROR, NFLTR_SERVICE_LOCATOR_ERROR_NOT_READY);
  g_assert_nonnull (strstr (error->message, "/bin/false exited with status 1 before it was ready"));
  g_assert_nonnull (strstr (error->message, "nfltr/service.log"));
  g_assert_cmpint (g_get_monotonic_time () - started, <, 4 * G_USEC_PER_SEC);
  g_clear_error (&error);

  /* A binary that cannot be run at all is a different failure, named as such. */
  g_setenv ("NFLTR_SERVICE_BINARY", "/nonexistent/nfltr-service", TRUE);
  client = cli_client_connect (&error);
  g_assert_null (client);
  g_assert_error (error, NFLTR_SERVICE_LOCATOR_ERROR, NFLTR_SERVICE_LOCATOR_ERROR_SPAWN);
  g_assert_nonnull (strstr (error->message, "cannot start /nonexistent/nfltr-service"));
  private_bus_down (bus);
}

static void
store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_for_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

/* The app's way: the locator's async calls alone, on the main loop. */
static void
test_locator_async (void)
{
  GTestDBus *bus = private_bus_up (NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has_owner = FALSE;

  nfltr_service_locator_get_bus (NULL, store_result_cb, &result);
  connection = nfltr_service_locator_get_bus_finish (wait_for_result (&result), &error);
  g_assert_no_error (error);
  g_assert_nonnull (connection);
  g_clear_object (&result);

  /* Cancelled before it starts: nothing is spawned, and the caller is told it was cancelled. */
  g_cancellable_cancel (cancellable);
  nfltr_service_locator_ensure (connection, 10, cancellable, store_result_cb, &result);
  g_assert_false (nfltr_service_locator_ensure_finish (wait_for_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  nfltr_service_locator_ensure (connection, 10, NULL, store_result_cb, &result);
  g_assert_true (nfltr_service_locator_ensure_finish (wait_for_result (&result), &error));
  g_assert_no_error (error);

  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", "xyz.nfltr.Nfltr.Service"),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                       &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(b)", &has_owner);
  g_assert_true (has_owner);

  g_clear_object (&connection);
  private_bus_down (bus);
}

static gboolean
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_unlink (child);
      g_object_unref (info);
    }
  return g_rmdir (path) == 0;
}

int
main (int argc, char **argv)
{
  int status;

  home = g_dir_make_tmp ("nfltr-test-cli-client-XXXXXX", NULL);
  /* Everything the engine and the service write goes under this HOME. */
  g_setenv ("HOME", home, TRUE);
  g_unsetenv ("XDG_CONFIG_HOME");
  g_unsetenv ("XDG_DATA_HOME");
  g_unsetenv ("XDG_STATE_HOME");
  g_unsetenv ("XDG_CACHE_HOME");
  g_unsetenv ("DISPLAY");
  /* No session bus (the in-process case) unless a test sets $NFLTR_SERVICE_BUS_ADDRESS. */
  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  g_unsetenv ("NFLTR_SERVICE_BUS_ADDRESS");
  g_setenv ("XDG_RUNTIME_DIR", "/nonexistent", TRUE);

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/client/in-process", test_in_process);
  g_test_add_func ("/cli/client/spawned-on-private-bus", test_spawned_on_private_bus);
  g_test_add_func ("/cli/client/unreachable-bus", test_unreachable_bus);
  g_test_add_func ("/cli/client/service-exits-early", test_service_exits_early);
  g_test_add_func ("/cli/client/locator-async", test_locator_async);
  status = g_test_run ();

  remove_tree (home);
  g_free (home);
  return status;
}
