/* cli-client.c — reaching the NFLTR service: bus, activation, spawn, or in-process engine */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-client.h"

#include "nfltr-error.h"

#ifdef NFLTR_HAVE_ENGINE
#include "nfltr-engine.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long we wait for a service we started to take its bus name. */
#define SERVICE_WAIT_SECONDS 5
/* Login and CreateTunnel wait for the relay; the service has its own, shorter timeouts. */
#define CALL_TIMEOUT_MS (60 * 1000)
#define ACTIVATION_TIMEOUT_MS (10 * 1000)

typedef struct
{
  GThread         *thread;
  GMainContext    *context;
  GMainLoop       *loop;
  GIOStream       *stream;      /* our end of the socketpair */
  char            *guid;
  GMutex           mutex;
  GCond            cond;
  gboolean         ready;
  GError          *error;
#ifdef NFLTR_HAVE_ENGINE
  NfltrEngine     *engine;
#endif
  GDBusConnection *connection;  /* the engine's side */
} EngineThread;

struct _CliClient
{
  GDBusConnection   *connection;
  NfltrDbusManager  *manager;
  char              *bus_name;   /* NULL in peer-to-peer mode */
  const char        *description;
  EngineThread      *engine;
  guint              name_watch;
  gulong             closed_id;
  CliClientLostFunc  lost_func;
  gpointer           lost_data;
  gboolean           lost;
};

/* ---- (1) a message bus ------------------------------------------------------------------ */

static gboolean
session_bus_available (void)
{
  const char *address = g_getenv ("DBUS_SESSION_BUS_ADDRESS");
  const char *runtime_dir = g_getenv ("XDG_RUNTIME_DIR");
  g_autofree char *socket_path = NULL;

  if (address != NULL && *address != '\0')
    return TRUE;
  /* GLib's own fallback (gdbusaddress.c); without it, g_bus_get() would try X11 autolaunch. */
  if (runtime_dir == NULL || *runtime_dir == '\0')
    return FALSE;
  socket_path = g_build_filename (runtime_dir, "bus", NULL);
  return g_file_test (socket_path, G_FILE_TEST_EXISTS);
}

static gboolean
name_has_owner (GDBusConnection *connection, const char *name, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean has_owner = FALSE;

  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", name), G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(b)", &has_owner);
  return has_owner;
}

static gboolean
activate_service (GDBusConnection *connection, const char *name, GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "StartServiceByName",
                                       g_variant_new ("(su)", name, 0), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, ACTIVATION_TIMEOUT_MS, NULL, error);
  return reply != NULL;
}

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
      /* the build tree: cli/nfltr next to service/nfltr-service */
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
  /* Its own session: Ctrl-C in this terminal must not reach the service. */
  setsid ();
}

/* $XDG_STATE_HOME/nfltr/service.log, opened for appending with a first line saying who
 * writes; -1 when it cannot be opened. */
static int
open_service_log (const char *who, char **log_path_out)
{
  g_autofree char *log_dir = g_build_filename (g_get_user_state_dir (), "nfltr", NULL);
  g_autofree char *log_path = g_build_filename (log_dir, "service.log", NULL);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format_iso8601 (now);
  g_autofree char *banner = g_strdup_printf ("--- %s: %s (nfltr pid %d)\n", stamp, who,
                                             (int) getpid ());
  int fd = -1;

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

static GSubprocess *
spawn_service (const char *binary, char **log_path_out, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *who = g_strdup_printf ("%s started", binary);
  int fd = open_service_log (who, log_path_out);

  if (fd >= 0)
    {
      launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
      g_subprocess_launcher_take_stdout_fd (launcher, fd);
    }
  else
    {
      launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                            G_SUBPROCESS_FLAGS_STDERR_SILENCE);
      *log_path_out = NULL;
    }
  g_subprocess_launcher_set_cwd (launcher, "/");
  g_subprocess_launcher_set_child_setup (launcher, child_setup_cb, NULL, NULL);
  return g_subprocess_launcher_spawn (launcher, error, binary, NULL);
}

typedef struct
{
  GMainLoop *loop;
  gboolean   appeared;
  gboolean   exited;
  gboolean   timed_out;
  int        exit_status;   /* negative: killed by that signal */
} WaitData;

static void
wait_name_appeared_cb (GDBusConnection *connection,
                       const char      *name,
                       const char      *owner,
                       gpointer         user_data)
{
  WaitData *data = user_data;

  data->appeared = TRUE;
  g_main_loop_quit (data->loop);
}

static void
wait_child_exited_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  WaitData *data;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error))
    return;  /* cancelled: user_data is gone */
  data = user_data;
  data->exited = TRUE;
  data->exit_status = g_subprocess_get_if_exited (G_SUBPROCESS (source))
                        ? g_subprocess_get_exit_status (G_SUBPROCESS (source))
                        : -g_subprocess_get_term_sig (G_SUBPROCESS (source));
  g_main_loop_quit (data->loop);
}

static gboolean
wait_timeout_cb (gpointer user_data)
{
  WaitData *data = user_data;

  data->timed_out = TRUE;
  g_main_loop_quit (data->loop);
  return G_SOURCE_REMOVE;
}

/* Spawns nfltr-service and waits for it to own the name. */
static gboolean
start_service_ourselves (GDBusConnection *connection,
                         const char      *name,
                         const char      *activation_error,
                         GError         **error)
{
  g_autofree char *binary = find_service_binary ();
  g_autofree char *log_path = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  WaitData data = { loop, FALSE, FALSE, FALSE, 0 };
  guint watch, timeout;

  if (binary == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                   "the NFLTR service is not running, D-Bus cannot start it (%s), "
                   "and nfltr-service was not found next to nfltr or in %s",
                   activation_error, LIBEXECDIR);
      return FALSE;
    }

  g_debug ("starting %s", binary);
  child = spawn_service (binary, &log_path, error);
  if (child == NULL)
    return FALSE;

  watch = g_bus_watch_name_on_connection (connection, name, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          wait_name_appeared_cb, NULL, &data, NULL);
  timeout = g_timeout_add_seconds (SERVICE_WAIT_SECONDS, wait_timeout_cb, &data);
  g_subprocess_wait_async (child, cancellable, wait_child_exited_cb, &data);

  g_main_loop_run (loop);

  g_cancellable_cancel (cancellable);
  g_bus_unwatch_name (watch);
  if (!data.timed_out)
    g_source_remove (timeout);

  if (data.appeared)
    return TRUE;
  /* Another nfltr may have started one at the same time: ours then exits, theirs serves. */
  if (name_has_owner (connection, name, NULL))
    return TRUE;

  if (data.exited && data.exit_status >= 0)
    g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                 "%s exited with status %d before it was ready%s%s", binary, data.exit_status,
                 log_path ? "; see " : "", log_path ? log_path : "");
  else if (data.exited)
    g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                 "%s was killed by signal %d before it was ready%s%s", binary,
                 -data.exit_status, log_path ? "; see " : "", log_path ? log_path : "");
  else
    g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                 "%s did not take the bus name %s within %d s%s%s", binary, name,
                 SERVICE_WAIT_SECONDS, log_path ? "; see " : "", log_path ? log_path : "");
  return FALSE;
}

static gboolean
ensure_service (GDBusConnection *connection, const char *name, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *activation_error = NULL;

  if (name_has_owner (connection, name, &local))
    return TRUE;
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }

  if (activate_service (connection, name, &local))
    return TRUE;
  /* ServiceUnknown when there is no activation file (a build tree, a test bus). */
  g_dbus_error_strip_remote_error (local);
  g_debug ("D-Bus activation of %s failed: %s", name, local->message);
  activation_error = g_strdup (local->message);

  return start_service_ourselves (connection, name, activation_error, error);
}

static GDBusConnection *
open_bus (const char **description, GError **error)
{
  const char *address = g_getenv ("NFLTR_SERVICE_BUS_ADDRESS");
  g_autoptr(GError) local = NULL;
  GDBusConnection *connection;

  if (address != NULL && *address != '\0')
    {
      *description = "bus $NFLTR_SERVICE_BUS_ADDRESS";
      connection = g_dbus_connection_new_for_address_sync (
        address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &local);
      if (connection == NULL)
        g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                     "cannot connect to $NFLTR_SERVICE_BUS_ADDRESS (%s): %s", address,
                     local->message);
      return connection;
    }

  if (!session_bus_available ())
    return NULL;

  *description = "session bus";
  connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &local);
  if (connection == NULL)
    {
      /* A stale DBUS_SESSION_BUS_ADDRESS (an old ssh environment): same as no bus. */
      g_debug ("session bus unusable: %s", local->message);
      return NULL;
    }
  /* We handle the bus going away ourselves (cli_client_set_lost_func). */
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  return connection;
}

/* ---- (2) the engine in a thread of this process ----------------------------------------- */

#ifdef NFLTR_HAVE_ENGINE
static int engine_log_fd = -1;

/* The engine's g_message()s ("owning …", "removed tunnel …") are the service's log, not the
 * user's terminal: they go to service.log as they would from nfltr-service. Warnings and
 * debug output (G_MESSAGES_DEBUG) stay on stderr. */
static GLogWriterOutput
in_process_log_writer (GLogLevelFlags   level,
                       const GLogField *fields,
                       gsize            n_fields,
                       gpointer         user_data)
{
  if ((level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) != 0)
    {
      if (engine_log_fd >= 0)
        {
          g_autofree char *line = g_log_writer_format_fields (level, fields, n_fields, FALSE);
          g_autofree char *text = g_strconcat (line, "\n", NULL);

          if (write (engine_log_fd, text, strlen (text)) < 0)
            return G_LOG_WRITER_UNHANDLED;
        }
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static gpointer
engine_thread_main (gpointer user_data)
{
  EngineThread *et = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = FALSE;

  g_main_context_push_thread_default (et->context);

  et->connection = g_dbus_connection_new_sync (et->stream, et->guid,
                                               G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER,
                                               NULL, NULL, &error);
  if (et->connection != NULL)
    {
      et->engine = nfltr_engine_new (&error);
      ok = et->engine != NULL && nfltr_engine_export (et->engine, et->connection, &error);
    }

  g_mutex_lock (&et->mutex);
  et->ready = TRUE;
  et->error = g_steal_pointer (&error);
  g_cond_signal (&et->cond);
  g_mutex_unlock (&et->mutex);

  if (ok)
    g_main_loop_run (et->loop);

  if (et->engine != NULL)
    {
      nfltr_engine_shutdown (et->engine);
      g_clear_object (&et->engine);
    }
  if (et->connection != NULL)
    {
      g_dbus_connection_close_sync (et->connection, NULL, NULL);
      g_clear_object (&et->connection);
    }
  /* Let whatever the shutdown scheduled run before the context goes. */
  while (g_main_context_iteration (et->context, FALSE))
    ;
  g_main_context_pop_thread_default (et->context);
  return NULL;
}
#endif

static gboolean
engine_thread_quit_cb (gpointer user_data)
{
  EngineThread *et = user_data;

  g_main_loop_quit (et->loop);
  return G_SOURCE_REMOVE;
}

static void
engine_thread_stop (EngineThread *et)
{
  if (et == NULL)
    return;
  if (et->thread != NULL)
    {
      g_main_context_invoke (et->context, engine_thread_quit_cb, et);
      g_thread_join (et->thread);
    }
  g_clear_error (&et->error);
  g_clear_object (&et->stream);
  g_clear_pointer (&et->loop, g_main_loop_unref);
  g_clear_pointer (&et->context, g_main_context_unref);
  g_free (et->guid);
  g_mutex_clear (&et->mutex);
  g_cond_clear (&et->cond);
  g_free (et);
}

#ifdef NFLTR_HAVE_ENGINE
static GIOStream *
stream_for_fd (int fd, GError **error)
{
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, error);

  if (socket == NULL)
    {
      close (fd);
      return NULL;
    }
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}
#endif

static GDBusConnection *
start_in_process_engine (EngineThread **out, GError **error)
{
#ifdef NFLTR_HAVE_ENGINE
  EngineThread *et;
  g_autoptr(GIOStream) client_stream = NULL;
  GDBusConnection *connection;
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create a socket pair: %s", g_strerror (saved));
      return NULL;
    }

  /* GLib allows one writer per process; a second engine reuses it. */
  if (engine_log_fd < 0)
    {
      engine_log_fd = open_service_log ("in-process engine", NULL);
      if (engine_log_fd >= 0)
        g_log_set_writer_func (in_process_log_writer, NULL, NULL);
    }

  et = g_new0 (EngineThread, 1);
  g_mutex_init (&et->mutex);
  g_cond_init (&et->cond);
  et->context = g_main_context_new ();
  et->loop = g_main_loop_new (et->context, FALSE);
  et->guid = g_dbus_generate_guid ();
  et->stream = stream_for_fd (fds[0], error);
  client_stream = stream_for_fd (fds[1], error);
  if (et->stream == NULL || client_stream == NULL)
    {
      engine_thread_stop (et);
      return NULL;
    }

  et->thread = g_thread_new ("nfltr-engine", engine_thread_main, et);

  /* Both ends authenticate at once, each in its own thread. */
  connection = g_dbus_connection_new_sync (client_stream, NULL,
                                           G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                           NULL, NULL, error);

  g_mutex_lock (&et->mutex);
  while (!et->ready)
    g_cond_wait (&et->cond, &et->mutex);
  g_mutex_unlock (&et->mutex);

  if (et->error != NULL)
    {
      g_clear_object (&connection);
      g_clear_error (error);
      g_propagate_prefixed_error (error, g_steal_pointer (&et->error),
                                  "cannot start the in-process NFLTR engine: ");
      engine_thread_stop (et);
      return NULL;
    }
  if (connection == NULL)
    {
      engine_thread_stop (et);
      return NULL;
    }

  *out = et;
  return connection;
#else
  g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                       "there is no session bus, and this nfltr was built without the "
                       "in-process engine");
  return NULL;
#endif
}

/* ---- the client ------------------------------------------------------------------------- */

static void
client_report_lost (CliClient *client)
{
  if (client->lost)
    return;
  client->lost = TRUE;
  if (client->lost_func != NULL)
    client->lost_func (client->lost_data);
}

static void
name_vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  client_report_lost (user_data);
}

static void
connection_closed_cb (GDBusConnection *connection,
                      gboolean         remote_peer_vanished,
                      GError          *error,
                      gpointer         user_data)
{
  client_report_lost (user_data);
}

CliClient *
cli_client_connect (GError **error)
{
  g_autoptr(CliClient) client = g_new0 (CliClient, 1);

  /* Map xyz.nfltr.Nfltr.Error.* replies to NFLTR_ERROR before the first call. */
  (void) nfltr_error_quark ();

  client->connection = open_bus (&client->description, error);
  if (client->connection != NULL)
    {
      client->bus_name = g_strdup (NFLTR_SERVICE_BUS_NAME);
      if (!ensure_service (client->connection, client->bus_name, error))
        return NULL;
    }
  else if (error != NULL && *error != NULL)
    return NULL;
  else
    {
      fprintf (stderr, "no session bus: running the NFLTR engine inside this process\n");
      client->description = "in-process engine";
      client->connection = start_in_process_engine (&client->engine, error);
      if (client->connection == NULL)
        return NULL;
    }

  client->manager = nfltr_dbus_manager_proxy_new_sync (client->connection,
                                                       G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                                       client->bus_name,
                                                       NFLTR_SERVICE_OBJECT_PATH, NULL, error);
  if (client->manager == NULL)
    return NULL;
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (client->manager), CALL_TIMEOUT_MS);

  return g_steal_pointer (&client);
}

void
cli_client_free (CliClient *client)
{
  if (client == NULL)
    return;
  g_clear_handle_id (&client->name_watch, g_bus_unwatch_name);
  if (client->closed_id != 0)
    g_clear_signal_handler (&client->closed_id, client->connection);
  g_clear_object (&client->manager);
  if (client->connection != NULL)
    {
      /* Sends what is queued (e.g. a last Remove) before the engine or the process goes. */
      g_dbus_connection_flush_sync (client->connection, NULL, NULL);
      if (client->engine != NULL)
        g_dbus_connection_close_sync (client->connection, NULL, NULL);
    }
  g_clear_object (&client->connection);
  g_clear_pointer (&client->engine, engine_thread_stop);
  g_free (client->bus_name);
  g_free (client);
}

GDBusConnection *
cli_client_get_connection (CliClient *client)
{
  return client->connection;
}

NfltrDbusManager *
cli_client_get_manager (CliClient *client)
{
  return client->manager;
}

const char *
cli_client_get_bus_name (CliClient *client)
{
  return client->bus_name;
}

gboolean
cli_client_is_in_process (CliClient *client)
{
  return client->engine != NULL;
}

const char *
cli_client_describe (CliClient *client)
{
  return client->description;
}

NfltrDbusTunnel *
cli_client_get_tunnel (CliClient *client, const char *object_path, GError **error)
{
  NfltrDbusTunnel *tunnel;

  tunnel = nfltr_dbus_tunnel_proxy_new_sync (client->connection,
                                             G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                             client->bus_name, object_path, NULL, error);
  if (tunnel != NULL)
    g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (tunnel), CALL_TIMEOUT_MS);
  return tunnel;
}

void
cli_client_set_lost_func (CliClient *client, CliClientLostFunc func, gpointer user_data)
{
  client->lost_func = func;
  client->lost_data = user_data;

  if (client->closed_id == 0)
    client->closed_id = g_signal_connect (client->connection, "closed",
                                          G_CALLBACK (connection_closed_cb), client);
  if (client->bus_name != NULL && client->name_watch == 0)
    client->name_watch = g_bus_watch_name_on_connection (client->connection, client->bus_name,
                                                         G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                         NULL, name_vanished_cb, client, NULL);
}
