/* nfltr-service-locator.c — finding, activating or starting nfltr-service (one copy for the
 * CLI and the app; see the header for the steps). */
#define G_LOG_DOMAIN "nfltr-locator"

#include "nfltr-service-locator.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* Installed, activation starts the systemd --user unit; a cold, busy session can take a while,
 * and giving up early would start a second service beside the activated one. */
#define ACTIVATION_TIMEOUT_MS (30 * 1000)

G_DEFINE_QUARK (nfltr-service-locator-error-quark, nfltr_service_locator_error)

/* ---- the bus ---------------------------------------------------------------------------- */

const char *
nfltr_service_locator_get_bus_address (void)
{
  const char *address = g_getenv ("NFLTR_SERVICE_BUS_ADDRESS");

  return address != NULL && *address != '\0' ? address : NULL;
}

#define BUS_FLAGS                                                                                            \
  (G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION)

/* A private bus that does not answer is named with its address: it was set on purpose. */
static GDBusConnection *
bus_result (GDBusConnection *connection, const char *address, GError *local, GError **error)
{
  if (connection != NULL)
    return connection;
  if (address != NULL && !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_set_error (error, NFLTR_SERVICE_LOCATOR_ERROR, NFLTR_SERVICE_LOCATOR_ERROR_BUS,
                   "cannot connect to $NFLTR_SERVICE_BUS_ADDRESS (%s): %s", address,
                   local->message);
      g_error_free (local);
    }
  else
    g_propagate_error (error, local);
  return NULL;
}

static void
get_bus_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  const char *address = g_task_get_task_data (task);
  GError *local = NULL;
  GError *error = NULL;
  GDBusConnection *connection;

  connection = address != NULL ? g_dbus_connection_new_for_address_finish (result, &local)
                               : g_bus_get_finish (result, &local);
  connection = bus_result (connection, address, local, &error);
  if (connection != NULL)
    g_task_return_pointer (task, connection, g_object_unref);
  else
    g_task_return_error (task, error);
}

void
nfltr_service_locator_get_bus (GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  const char *address = nfltr_service_locator_get_bus_address ();
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, nfltr_service_locator_get_bus);
  g_task_set_task_data (task, g_strdup (address), g_free);
  if (address != NULL)
    g_dbus_connection_new_for_address (address, BUS_FLAGS, NULL, cancellable, get_bus_cb, task);
  else
    g_bus_get (G_BUS_TYPE_SESSION, cancellable, get_bus_cb, task);
}

GDBusConnection *
nfltr_service_locator_get_bus_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

GDBusConnection *
nfltr_service_locator_get_bus_sync (GCancellable *cancellable, GError **error)
{
  const char *address = nfltr_service_locator_get_bus_address ();
  GError *local = NULL;
  GDBusConnection *connection;

  connection = address != NULL
                 ? g_dbus_connection_new_for_address_sync (address, BUS_FLAGS, NULL, cancellable, &local)
                 : g_bus_get_sync (G_BUS_TYPE_SESSION, cancellable, &local);
  return bus_result (connection, address, local, error);
}

/* ---- the service log -------------------------------------------------------------------- */

/* The basename of our own binary ("nfltr", "nfltr-app"), for the log and the messages. */
static char *
self_name (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);

  if (self != NULL)
    return g_path_get_basename (self);
  return g_strdup (g_get_prgname () != NULL ? g_get_prgname () : "nfltr");
}

int
nfltr_service_locator_open_log (const char *who, char **log_path_out)
{
  g_autofree char *log_dir = g_build_filename (g_get_user_state_dir (), "nfltr", NULL);
  g_autofree char *log_path = g_build_filename (log_dir, "service.log", NULL);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format_iso8601 (now);
  g_autofree char *program = self_name ();
  g_autofree char *banner = g_strdup_printf ("--- %s: %s (%s pid %d)\n", stamp, who, program,
                                             (int) getpid ());
  int fd = -1;

  if (log_path_out != NULL)
    *log_path_out = NULL;
  if (g_mkdir_with_parents (log_dir, 0700) == 0)
    fd = g_open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      g_debug ("cannot open %s: %s", log_path, g_strerror (errno));
      return -1;
    }
  if (write (fd, banner, strlen (banner)) < 0)
    g_debug ("cannot write to %s: %s", log_path, g_strerror (errno));
  if (log_path_out != NULL)
    *log_path_out = g_steal_pointer (&log_path);
  return fd;
}

/* ---- starting the service ourselves ----------------------------------------------------- */

/* $NFLTR_SERVICE_BINARY, else next to our real path, else ../service/ from there (the build
 * tree: cli/nfltr and app/nfltr-app beside service/nfltr-service), else LIBEXECDIR. */
static char *
find_service_binary (void)
{
  const char *override = g_getenv ("NFLTR_SERVICE_BINARY");
  g_autofree char *self = NULL;
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func (g_free);

  if (override != NULL && *override != '\0')
    return g_strdup (override);

  /* /proc/self/exe is the real path, symlinks resolved. */
  self = g_file_read_link ("/proc/self/exe", NULL);
  if (self != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (self);

      g_ptr_array_add (candidates, g_build_filename (dir, "nfltr-service", NULL));
      g_ptr_array_add (candidates, g_canonicalize_filename ("../service/nfltr-service", dir));
    }
  g_ptr_array_add (candidates, g_build_filename (LIBEXECDIR, "nfltr-service", NULL));

  for (guint i = 0; i < candidates->len; i++)
    {
      const char *path = g_ptr_array_index (candidates, i);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR) &&
          g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        return g_strdup (path);
      g_debug ("no service binary at %s", path);
    }
  return NULL;
}

static void
child_setup_cb (gpointer user_data)
{
  /* Its own session: the service outlives its client, and Ctrl-C in the terminal that started
   * the client must not reach it. */
  setsid ();
}

static GSubprocess *
spawn_service (const char *binary, char **log_path_out, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *who = g_strdup_printf ("%s started", binary);
  int fd = nfltr_service_locator_open_log (who, log_path_out);

  if (fd >= 0)
    {
      launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
      g_subprocess_launcher_take_stdout_fd (launcher, fd);
    }
  else
    launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                          G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_cwd (launcher, "/");
  g_subprocess_launcher_set_child_setup (launcher, child_setup_cb, NULL, NULL);
  return g_subprocess_launcher_spawn (launcher, error, binary, NULL);
}

/* ---- ensure: NameHasOwner → StartServiceByName → spawn and wait ------------------------ */

typedef struct {
  GDBusConnection *connection;
  guint wait_seconds;
  char *binary;
  char *log_path;
  /* the wait for a service we started: over at its name, its exit, the timeout or cancel */
  gboolean waiting;
  gboolean appeared;
  gboolean exited;
  int exit_status; /* negative: killed by that signal */
  guint watch_id;
  guint timeout_id;
  GCancellable *child_cancellable;
  gulong cancelled_id;
} Ensure;

static void
ensure_free (gpointer data)
{
  Ensure *e = data;

  g_clear_object (&e->connection);
  g_clear_object (&e->child_cancellable);
  g_free (e->binary);
  g_free (e->log_path);
  g_free (e);
}

static void
call_bus (GTask *task, const char *method, GVariant *parameters, const char *reply_type, int timeout_ms,
          GAsyncReadyCallback callback)
{
  Ensure *e = g_task_get_task_data (task);

  g_dbus_connection_call (e->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", method, parameters, G_VARIANT_TYPE (reply_type),
                          G_DBUS_CALL_FLAGS_NONE, timeout_ms, g_task_get_cancellable (task), callback,
                          g_object_ref (task));
}

static void ensure_return_error (GTask *task, GError *error, int code, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

/* Takes error. Cancellation stays G_IO_ERROR_CANCELLED (clients ignore it); anything else
 * becomes code with the message made from format. */
static void
ensure_return_error (GTask *task, GError *error, int code, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      return;
    }
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_task_return_new_error (task, NFLTR_SERVICE_LOCATOR_ERROR, code, "%s", message);
  g_clear_error (&error);
}

static void
recheck_owner_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Ensure *e = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = NULL;
  const char *see = e->log_path != NULL ? "; see " : "";
  const char *log = e->log_path != NULL ? e->log_path : "";
  gboolean has_owner = FALSE;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &has_owner);
  /* Another client may have started one at the same time: ours then exits, theirs serves. */
  if (has_owner)
    g_task_return_boolean (task, TRUE);
  else if (g_task_return_error_if_cancelled (task))
    return;
  else if (e->exited && e->exit_status >= 0)
    g_task_return_new_error (task, NFLTR_SERVICE_LOCATOR_ERROR,
                             NFLTR_SERVICE_LOCATOR_ERROR_NOT_READY,
                             "%s exited with status %d before it was ready%s%s", e->binary,
                             e->exit_status, see, log);
  else if (e->exited)
    g_task_return_new_error (task, NFLTR_SERVICE_LOCATOR_ERROR,
                             NFLTR_SERVICE_LOCATOR_ERROR_NOT_READY,
                             "%s was killed by signal %d before it was ready%s%s", e->binary,
                             -e->exit_status, see, log);
  else
    g_task_return_new_error (task, NFLTR_SERVICE_LOCATOR_ERROR,
                             NFLTR_SERVICE_LOCATOR_ERROR_NOT_READY,
                             "%s did not take the bus name %s within %u s%s%s", e->binary,
                             NFLTR_SERVICE_BUS_NAME, e->wait_seconds, see, log);
}

static void
wait_over (GTask *task)
{
  Ensure *e = g_task_get_task_data (task);

  if (!e->waiting)
    return;
  e->waiting = FALSE;
  g_clear_handle_id (&e->watch_id, g_bus_unwatch_name);
  g_clear_handle_id (&e->timeout_id, g_source_remove);
  g_cancellable_disconnect (g_task_get_cancellable (task), e->cancelled_id);
  e->cancelled_id = 0;
  /* The child's wait callback still holds the task; it comes back cancelled and does nothing. */
  g_cancellable_cancel (e->child_cancellable);

  if (e->appeared)
    g_task_return_boolean (task, TRUE);
  else if (!g_task_return_error_if_cancelled (task))
    call_bus (task, "NameHasOwner", g_variant_new ("(s)", NFLTR_SERVICE_BUS_NAME), "(b)", -1,
              recheck_owner_cb);
}

static void
name_appeared_cb (GDBusConnection *connection, const char *name, const char *owner,
                  gpointer user_data)
{
  Ensure *e = g_task_get_task_data (user_data);

  e->appeared = TRUE;
  wait_over (user_data);
}

static gboolean
wait_timeout_cb (gpointer user_data)
{
  Ensure *e = g_task_get_task_data (user_data);

  e->timeout_id = 0;
  wait_over (user_data);
  return G_SOURCE_REMOVE;
}

static void
child_exited_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Ensure *e = g_task_get_task_data (task);
  GSubprocess *child = G_SUBPROCESS (source);

  if (g_subprocess_wait_finish (child, result, NULL))
    {
      e->exited = TRUE;
      e->exit_status = g_subprocess_get_if_exited (child) ? g_subprocess_get_exit_status (child)
                                                          : -g_subprocess_get_term_sig (child);
    }
  /* Cancelled: by wait_over (nothing left to do) or by the caller (wait_over returns that). */
  wait_over (task);
}

/* May run in another thread: only cancels the child's wait, whose callback finishes. */
static void
caller_cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  g_cancellable_cancel (user_data);
}

static void
start_ourselves (GTask *task, const char *activation_error)
{
  Ensure *e = g_task_get_task_data (task);
  g_autoptr(GSubprocess) child = NULL;
  GError *error = NULL;

  e->binary = find_service_binary ();
  if (e->binary == NULL)
    {
      g_autofree char *program = self_name ();

      g_task_return_new_error (task, NFLTR_SERVICE_LOCATOR_ERROR,
                               NFLTR_SERVICE_LOCATOR_ERROR_NOT_FOUND,
                               "the NFLTR service is not running, D-Bus cannot start it (%s), "
                               "and nfltr-service was not found next to %s or in %s",
                               activation_error, program, LIBEXECDIR);
      return;
    }

  g_debug ("starting %s", e->binary);
  child = spawn_service (e->binary, &e->log_path, &error);
  if (child == NULL)
    {
      ensure_return_error (task, error, NFLTR_SERVICE_LOCATOR_ERROR_SPAWN,
                           "cannot start %s: %s", e->binary, error->message);
      return;
    }

  e->waiting = TRUE;
  e->child_cancellable = g_cancellable_new ();
  e->watch_id = g_bus_watch_name_on_connection (e->connection, NFLTR_SERVICE_BUS_NAME,
                                                G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                name_appeared_cb, NULL,
                                                g_object_ref (task), g_object_unref);
  e->timeout_id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, e->wait_seconds,
                                              wait_timeout_cb, g_object_ref (task),
                                              g_object_unref);
  g_subprocess_wait_async (child, e->child_cancellable, child_exited_cb, g_object_ref (task));
  if (g_task_get_cancellable (task) != NULL)
    e->cancelled_id = g_cancellable_connect (g_task_get_cancellable (task),
                                             G_CALLBACK (caller_cancelled_cb),
                                             g_object_ref (e->child_cancellable),
                                             g_object_unref);
}

static void
start_service_by_name_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply != NULL)
    g_task_return_boolean (task, TRUE);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    {
      /* ServiceUnknown when there is no activation file (a build tree, a test bus). */
      g_dbus_error_strip_remote_error (error);
      g_debug ("D-Bus activation of %s failed: %s", NFLTR_SERVICE_BUS_NAME, error->message);
      start_ourselves (task, error->message);
    }
}

static void
name_has_owner_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  gboolean has_owner = FALSE;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      ensure_return_error (task, error, NFLTR_SERVICE_LOCATOR_ERROR_BUS, "%s", error->message);
      return;
    }
  g_variant_get (reply, "(b)", &has_owner);
  if (has_owner)
    g_task_return_boolean (task, TRUE);
  else
    call_bus (task, "StartServiceByName", g_variant_new ("(su)", NFLTR_SERVICE_BUS_NAME, 0),
              "(u)", ACTIVATION_TIMEOUT_MS, start_service_by_name_cb);
}

void
nfltr_service_locator_ensure (GDBusConnection     *connection,
                              guint                wait_seconds,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Ensure *e;

  g_return_if_fail (G_IS_DBUS_CONNECTION (connection));

  task = g_task_new (NULL, cancellable, callback, user_data);
  e = g_new0 (Ensure, 1);
  e->connection = g_object_ref (connection);
  e->wait_seconds = wait_seconds;
  g_task_set_source_tag (task, nfltr_service_locator_ensure);
  g_task_set_task_data (task, e, ensure_free);
  call_bus (task, "NameHasOwner", g_variant_new ("(s)", NFLTR_SERVICE_BUS_NAME), "(b)", -1,
            name_has_owner_cb);
}

gboolean
nfltr_service_locator_ensure_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

gboolean
nfltr_service_locator_ensure_sync (GDBusConnection  *connection,
                                   guint             wait_seconds,
                                   GCancellable     *cancellable,
                                   GError          **error)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  g_autoptr(GAsyncResult) result = NULL;

  /* The async steps on the caller's context: the same code path, and whatever they leave
   * behind (the cancelled child wait) completes whenever that context runs again. */
  nfltr_service_locator_ensure (connection, wait_seconds, cancellable, store_result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  return nfltr_service_locator_ensure_finish (result, error);
}
