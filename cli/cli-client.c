/* cli-client.c — reaching the NFLTR service: the bus, activation and spawn through libshared's
 * nfltr-service-locator (shared with the app), else the engine in a thread of this process */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-client.h"

#include "nfltr-error.h"
#include "nfltr-service-locator.h"

#ifdef NFLTR_HAVE_ENGINE
#include "nfltr-engine.h"
#endif

#include <errno.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long we wait for a service we started to take its bus name (docs/cli.md). */
#define SERVICE_WAIT_SECONDS 5
/* Login and CreateTunnel wait for the relay; the service has its own, shorter timeouts. */
#define CALL_TIMEOUT_MS (60 * 1000)

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

static GDBusConnection *
open_bus (const char **description, GError **error)
{
  g_autoptr(GError) local = NULL;
  GDBusConnection *connection;

  if (nfltr_service_locator_get_bus_address () != NULL)
    {
      /* TRANSLATORS: where nfltr status found the service; keep $NFLTR_SERVICE_BUS_ADDRESS. */
      *description = _ ("bus $NFLTR_SERVICE_BUS_ADDRESS");
      return nfltr_service_locator_get_bus_sync (NULL, error);
    }

  if (!session_bus_available ())
    return NULL;

  *description = _ ("session bus");
  connection = nfltr_service_locator_get_bus_sync (NULL, &local);
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
                   _ ("cannot create a socket pair: %s"), g_strerror (saved));
      return NULL;
    }

  /* GLib allows one writer per process; a second engine reuses it. */
  if (engine_log_fd < 0)
    {
      engine_log_fd = nfltr_service_locator_open_log ("in-process engine", NULL);
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
                                  "%s", _ ("cannot start the in-process NFLTR engine: "));
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
                       _ ("there is no session bus, and this nfltr was built without the "
                          "in-process engine"));
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
      if (!nfltr_service_locator_ensure_sync (client->connection, SERVICE_WAIT_SECONDS, NULL,
                                              error))
        return NULL;
    }
  else if (error != NULL && *error != NULL)
    return NULL;
  else
    {
      fputs (_ ("no session bus: running the NFLTR engine inside this process\n"), stderr);
      client->description = _ ("in-process engine");
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
