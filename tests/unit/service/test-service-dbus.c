/* test-service-dbus.c — the engine's D-Bus API on a private bus (GTestDBus), against the
 * real nfltr-relay from the build tree when it is there.
 *
 * The engine runs on its own thread with its own main context (as the CLI runs it), so the
 * test can make synchronous calls and spin the main thread for signals. */
#define G_LOG_DOMAIN "test-service-dbus"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>

#include "nfltr-cert.h"
#include "nfltr-dbus.h"
#include "nfltr-engine.h"
#include "nfltr-error.h"

#include <libsecret/secret.h>

#define BUS_NAME NFLTR_SERVICE_BUS_NAME
#define OBJECT_PATH NFLTR_SERVICE_OBJECT_PATH

static char *tmp_root;
static GTestDBus *test_bus;

/* --- the engine on its own thread ------------------------------------------------------ */

typedef struct {
  GThread *thread;
  GMainLoop *loop;
  GMutex mutex;
  GCond cond;
  gboolean ready;
  gboolean own_name;   /* FALSE: a second agent, reached by its unique name */
  char *unique_name;
} EngineThread;

static void
name_acquired_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  EngineThread *et = user_data;

  g_mutex_lock (&et->mutex);
  et->ready = TRUE;
  g_cond_signal (&et->cond);
  g_mutex_unlock (&et->mutex);
}

static gpointer
engine_thread_func (gpointer user_data)
{
  EngineThread *et = user_data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(NfltrEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  guint owner_id;

  g_main_context_push_thread_default (context);
  connection = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (test_bus),
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  engine = nfltr_engine_new (&error);
  g_assert_no_error (error);
  nfltr_engine_export (engine, connection, &error);
  g_assert_no_error (error);

  et->loop = g_main_loop_new (context, FALSE);
  et->unique_name = g_strdup (g_dbus_connection_get_unique_name (connection));
  if (et->own_name)
    owner_id = g_bus_own_name_on_connection (connection, BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                                             name_acquired_cb, NULL, et, NULL);
  else
    {
      owner_id = 0;
      name_acquired_cb (connection, et->unique_name, et);
    }
  g_main_loop_run (et->loop);

  if (owner_id)
    g_bus_unown_name (owner_id);
  nfltr_engine_shutdown (engine);
  g_clear_object (&engine);
  g_dbus_connection_close_sync (connection, NULL, NULL);
  /* Let pending callbacks (closed connection, cancelled tasks) run before the context goes. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_loop_unref (et->loop);
  g_main_context_pop_thread_default (context);
  return NULL;
}

static EngineThread *
engine_start_full (gboolean own_name)
{
  EngineThread *et = g_new0 (EngineThread, 1);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  et->own_name = own_name;
  g_mutex_init (&et->mutex);
  g_cond_init (&et->cond);
  et->thread = g_thread_new ("engine", engine_thread_func, et);
  g_mutex_lock (&et->mutex);
  while (!et->ready)
    if (!g_cond_wait_until (&et->cond, &et->mutex, deadline))
      break;
  g_mutex_unlock (&et->mutex);
  g_assert_true (et->ready);
  return et;
}

static EngineThread *
engine_start (void)
{
  return engine_start_full (TRUE);
}

static void
engine_stop (EngineThread *et)
{
  g_main_loop_quit (et->loop);
  g_thread_join (et->thread);
  g_mutex_clear (&et->mutex);
  g_cond_clear (&et->cond);
  g_free (et->unique_name);
  g_free (et);
}

/* --- the real relay ------------------------------------------------------------------- */

typedef struct {
  char *binary;
  char *data_dir;
  guint16 port;
  char *address;   /* nfltr.localhost:PORT */
  char *api_key;
  GSubprocess *proc;
  GThread     *drain;   /* reads the relay's stdout until EOF so it never blocks on a full pipe */
} Relay;

static gpointer
relay_drain_thread (gpointer data)
{
  g_autoptr(GInputStream) in = data;
  char buf[4096];

  while (g_input_stream_read (in, buf, sizeof buf, NULL, NULL) > 0)
    ;
  return NULL;
}

static Relay *relay;

static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, any, TRUE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
relay_start (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", relay->port);
  g_autoptr(GDataInputStream) out = NULL;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);

  /* The relay goes with us, even when an assertion kills the test. */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  relay->proc = g_subprocess_launcher_spawn (launcher, &error,
                                             relay->binary, "serve", "--listen", listen,
                                             "--domain", NFLTR_DEFAULT_DOMAIN,
                                             "--data-dir", relay->data_dir, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (relay->proc));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);   /* EOF: the relay died before listening */
      g_test_message ("relay: %s", line);
      if (strstr (line, "listening") != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  /* Keep reading stdout so the relay never blocks on a full pipe; the thread ends at the
   * relay's exit (EOF) and relay_stop() joins it. */
  relay->drain = g_thread_new ("relay-stdout", relay_drain_thread, g_object_ref (out));
}

static void
relay_stop (void)
{
  if (relay->proc == NULL)
    return;
  g_subprocess_send_signal (relay->proc, SIGTERM);
  g_subprocess_wait (relay->proc, NULL, NULL);
  g_clear_pointer (&relay->drain, g_thread_join);
  g_clear_object (&relay->proc);
}

static gboolean
relay_setup (void)
{
  const char *root = g_getenv ("NFLTR_BUILD_ROOT");
  g_autofree char *binary = g_build_filename (root ? root : NFLTR_BUILD_ROOT, "relay", "nfltr-relay", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *stdout_text = NULL;
  g_auto(GStrv) words = NULL;
  int status;

  if (!g_file_test (binary, G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;

  relay = g_new0 (Relay, 1);
  relay->binary = g_steal_pointer (&binary);
  relay->data_dir = g_build_filename (tmp_root, "relay-data", NULL);
  relay->port = free_port ();
  relay->address = g_strdup_printf ("%s:%u", NFLTR_DEFAULT_DOMAIN, relay->port);
  g_mkdir_with_parents (relay->data_dir, 0700);

  {
    const char *argv[] = { relay->binary, "keys", "create", "--data-dir", relay->data_dir, NULL };
    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &stdout_text, NULL,
                  &status, &error);
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  /* The key is the last word printed ("KEY" or "…: KEY"). */
  words = g_strsplit_set (g_strstrip (stdout_text), " \t\n", -1);
  g_assert_cmpuint (g_strv_length (words), >, 0);
  relay->api_key = g_strdup (words[g_strv_length (words) - 1]);

  relay_start ();
  return TRUE;
}

static void
relay_teardown (void)
{
  if (relay == NULL)
    return;
  relay_stop ();
  g_free (relay->binary);
  g_free (relay->data_dir);
  g_free (relay->address);
  g_free (relay->api_key);
  g_clear_pointer (&relay, g_free);
}

/* --- fixture: fresh XDG dirs, the engine, a client ------------------------------------- */

typedef struct {
  char *home;
  EngineThread *engine;
  GDBusConnection *client;
  NfltrDbusManager *manager;
  GDBusObjectManager *objects;
} Fixture;

static void
set_home (Fixture *f)
{
  g_autofree char *config = NULL;
  g_autofree char *data = NULL;

  f->home = g_dir_make_tmp ("nfltr-home-XXXXXX", NULL);
  g_assert_nonnull (f->home);
  config = g_build_filename (f->home, ".config", NULL);
  data = g_build_filename (f->home, ".local", "share", NULL);
  g_setenv ("HOME", f->home, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("XDG_DATA_HOME", data, TRUE);
}

static GDBusConnection *
new_client (void)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *c = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (test_bus),
                                                               G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                               G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                               NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_set_exit_on_close (c, FALSE);
  return c;
}

static void
connect_client (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  f->client = new_client ();
  f->manager = nfltr_dbus_manager_proxy_new_sync (f->client, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME,
                                                  OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  f->objects = nfltr_dbus_object_manager_client_new_sync (f->client,
                                                          G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE,
                                                          BUS_NAME, OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
}

static void
disconnect_client (Fixture *f)
{
  g_clear_object (&f->objects);
  g_clear_object (&f->manager);
  if (f->client)
    g_dbus_connection_close_sync (f->client, NULL, NULL);
  g_clear_object (&f->client);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  set_home (f);
  f->engine = engine_start ();
  connect_client (f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  disconnect_client (f);
  if (f->engine)
    engine_stop (f->engine);
  if (f->home)
    {
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->home);
      (void) !system (cmd);
    }
  g_free (f->home);
}

/* Spins the main context until pred holds or timeout_ms passes. */
typedef gboolean (*Predicate) (gpointer data);

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
wait_for (Predicate pred, gpointer data, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, timeout_cb, &timed_out);

  while (!pred (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return pred (data);
}

static void
assert_dbus_error (GError *error, const char *name, const char *message)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
  if (message)
    {
      g_dbus_error_strip_remote_error (error);
      g_assert_cmpstr (error->message, ==, message);
    }
}

static GVariant *
tunnel_options (const char *kind, const char *target, const char *name, gboolean transient)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (kind)
    g_variant_builder_add (&b, "{sv}", "kind", g_variant_new_string (kind));
  if (target)
    g_variant_builder_add (&b, "{sv}", "target", g_variant_new_string (target));
  if (name)
    g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (name));
  if (transient)
    g_variant_builder_add (&b, "{sv}", "transient", g_variant_new_boolean (TRUE));
  return g_variant_builder_end (&b);
}

/* --- tests without a relay ------------------------------------------------------------- */

static void
test_not_logged_in (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_auto(GStrv) tunnels = NULL;

  g_assert_cmpstr (nfltr_dbus_manager_get_version (f->manager), ==, PACKAGE_VERSION);
  g_assert_cmpstr (nfltr_dbus_manager_get_relay_state (f->manager), ==, "logged-out");
  g_assert_cmpstr (nfltr_dbus_manager_get_relay_address (f->manager), ==, "");

  nfltr_dbus_manager_call_create_tunnel_sync (f->manager, tunnel_options ("http", "3000", NULL, FALSE),
                                              &path, NULL, &error);
  assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.NotLoggedIn",
                     "no relay configured: run nfltr login --relay HOST:PORT --api-key KEY");
  g_assert_true (g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NOT_LOGGED_IN));
  g_clear_error (&error);

  nfltr_dbus_manager_call_list_tunnels_sync (f->manager, &tunnels, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (tunnels), ==, 0);
}

static void
test_bad_arguments (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *kind, *target, *name, *message;
  } cases[] = {
    { "http", "70000", NULL, "port 70000 is out of range 1–65535" },
    { "http", "localhost:0", NULL, "port 0 is out of range 1–65535" },
    { "http", "web", NULL, "address “web” has no port" },
    { "udp", "3000", NULL, "kind must be “http”, “tcp” or “shell”, not “udp”" },
    { "tcp", NULL, NULL, "target is missing (PORT or HOST:PORT)" },
    { "http", "3000", "Bad_Name",
      "“Bad_Name” is not a valid tunnel name: use a-z, 0-9 and “-”, at most 63 characters, "
      "not starting or ending with “-”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = NULL;

      nfltr_dbus_manager_call_create_tunnel_sync (f->manager,
                                                  tunnel_options (cases[i].kind, cases[i].target,
                                                                  cases[i].name, FALSE),
                                                  &path, NULL, &error);
      assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.InvalidArgument", cases[i].message);
    }
}

/* Clients build their kind choices from Manager.Kinds: both kinds, in table order, with a
 * label and a description, and CreateTunnel's unknown-kind error names them. */
static void
test_kinds (Fixture *f, gconstpointer data)
{
  GVariant *kinds = nfltr_dbus_manager_get_kinds (f->manager);
  const char *id, *label, *description;
  GVariantIter iter;
  guint n = 0;

  g_assert_nonnull (kinds);
  g_assert_cmpstr (g_variant_get_type_string (kinds), ==, "a(sss)");
  g_assert_cmpuint (g_variant_n_children (kinds), ==, 3);
  g_variant_iter_init (&iter, kinds);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &id, &label, &description))
    {
      g_assert_cmpstr (id, ==, n == 0 ? "http" : n == 1 ? "tcp" : "shell");
      g_assert_cmpstr (label, ==, n == 0 ? "HTTP" : n == 1 ? "TCP" : "Shell (SSH)");
      g_assert_cmpuint (strlen (description), >, 0);
      n++;
    }
  g_assert_cmpuint (n, ==, 3);
}

static void
test_login_unreachable (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *relay_address = NULL;
  g_autofree char *expected = NULL;
  guint16 port = free_port ();   /* nothing listens there */

  relay_address = g_strdup_printf ("nfltr.localhost:%u", port);
  expected = g_strdup_printf ("cannot reach relay nfltr.localhost:%u: Connection refused", port);
  nfltr_dbus_manager_call_login_sync (f->manager, relay_address, "key", "", &fp, NULL, &error);
  assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.RelayUnreachable", expected);
  g_clear_error (&error);
  g_assert_cmpstr (nfltr_dbus_manager_get_relay_state (f->manager), ==, "logged-out");

  g_clear_error (&error);
  nfltr_dbus_manager_call_login_sync (f->manager, "nfltr.localhost:99999", "key", "", &fp, NULL, &error);
  assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.InvalidArgument",
                     "relay: port 99999 is out of range 1–65535");
}

/* --- tests against the real relay ------------------------------------------------------ */

static gboolean
relay_connected (gpointer data)
{
  Fixture *f = data;
  return g_strcmp0 (nfltr_dbus_manager_get_relay_state (f->manager), "connected") == 0;
}

static char *
login (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  char *fp = NULL;

  nfltr_dbus_manager_call_login_sync (f->manager, relay->address, relay->api_key, "", &fp, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (fp, "sha256:"));
  g_assert_cmpuint (strlen (fp), ==, strlen ("sha256:") + 64);
  g_assert_true (wait_for (relay_connected, f, 5000));
  return fp;
}

static gboolean
skip_without_relay (void)
{
  /* meson builds the relay before `meson test`; without it this is a broken build, not a skip. */
  if (relay == NULL)
    g_error ("no nfltr-relay in the build tree (run ninja first)");
  return FALSE;
}

static void
test_login_errors (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *probed = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *bad_fp = NULL;

  if (skip_without_relay ())
    return;

  nfltr_dbus_manager_call_probe_relay_sync (f->manager, relay->address, &probed, &subject, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (probed, "sha256:"));
  g_assert_cmpuint (strlen (probed), ==, strlen ("sha256:") + 64);

  nfltr_dbus_manager_call_login_sync (f->manager, relay->address, "not-a-key", "", &fp, NULL, &error);
  assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.AuthFailed",
                     "the relay refused the API key (unknown or revoked)");
  g_clear_error (&error);

  bad_fp = g_strdup ("sha256:0000000000000000000000000000000000000000000000000000000000000000");
  nfltr_dbus_manager_call_login_sync (f->manager, relay->address, relay->api_key, bad_fp, &fp, NULL, &error);
  assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.FingerprintMismatch", NULL);
  g_assert_nonnull (strstr (error->message, probed));
  g_assert_nonnull (strstr (error->message, bad_fp));
  g_clear_error (&error);
  g_assert_cmpstr (nfltr_dbus_manager_get_relay_state (f->manager), ==, "logged-out");

  /* The pin the user checked out of band, written the way openssl prints it (AB:CD:…). */
  {
    g_autofree char *fp2 = NULL;
    g_autoptr(GString) colons = g_string_new (NULL);
    const char *hex = probed + strlen ("sha256:");

    for (guint i = 0; hex[i]; i += 2)
      g_string_append_printf (colons, "%s%c%c", i ? ":" : "", g_ascii_toupper (hex[i]),
                              g_ascii_toupper (hex[i + 1]));
    nfltr_dbus_manager_call_login_sync (f->manager, relay->address, relay->api_key, colons->str, &fp2,
                                        NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (fp2, ==, probed);
    g_assert_true (wait_for (relay_connected, f, 5000));
    g_assert_cmpstr (nfltr_dbus_manager_get_relay_fingerprint (f->manager), ==, probed);
    g_assert_cmpstr (nfltr_dbus_manager_get_relay_address (f->manager), ==, relay->address);
    g_assert_cmpstr (nfltr_dbus_manager_get_relay_domain (f->manager), ==, NFLTR_DEFAULT_DOMAIN);
  }

  /* The key fell back to the 0600 file: there is no secret service on the test bus. */
  {
    g_autofree char *path = g_build_filename (f->home, ".config", "nfltr", "credentials", NULL);
    GStatBuf st;
    g_autofree char *contents = NULL;

    g_assert_cmpint (g_stat (path, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);
    g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
    g_assert_nonnull (strstr (contents, relay->api_key));
  }

  nfltr_dbus_manager_call_logout_sync (f->manager, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *path = g_build_filename (f->home, ".config", "nfltr", "credentials", NULL);
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  }
}

typedef struct {
  GPtrArray *states;   /* every State seen in PropertiesChanged, in order */
} StateLog;

static void
tunnel_properties_changed_cb (GDBusProxy *proxy,
                              GVariant   *changed,
                              GStrv       invalidated,
                              StateLog   *log)
{
  const char *state = NULL;

  if (g_variant_lookup (changed, "State", "&s", &state))
    g_ptr_array_add (log->states, g_strdup (state));
}

typedef struct {
  NfltrDbusTunnel *tunnel;
  const char *state;
} StateWait;

static gboolean
tunnel_in_state (gpointer data)
{
  StateWait *w = data;
  return g_strcmp0 (nfltr_dbus_tunnel_get_state (w->tunnel), w->state) == 0;
}

static void
wait_state (NfltrDbusTunnel *tunnel, const char *state, guint timeout_ms)
{
  StateWait w = { tunnel, state };

  if (!wait_for (tunnel_in_state, &w, timeout_ms))
    g_error ("tunnel stayed “%s” (LastError “%s”), expected “%s”",
             nfltr_dbus_tunnel_get_state (tunnel), nfltr_dbus_tunnel_get_last_error (tunnel), state);
}

typedef struct {
  GDBusObjectManager *objects;
  const char *path;
} ObjectWait;

static gboolean
object_exported (gpointer data)
{
  ObjectWait *w = data;
  g_autoptr(GDBusObject) o = g_dbus_object_manager_get_object (w->objects, w->path);
  return o != NULL;
}

static gboolean
object_gone (gpointer data)
{
  return !object_exported (data);
}

static NfltrDbusTunnel *
get_tunnel (Fixture *f, const char *path)
{
  ObjectWait w = { f->objects, path };

  g_assert_true (wait_for (object_exported, &w, 5000));
  return NFLTR_DBUS_TUNNEL (g_dbus_object_manager_get_interface (f->objects, path,
                                                                 "xyz.nfltr.Nfltr.Tunnel"));
}

static char *
read_file (Fixture *f, const char *rel)
{
  g_autofree char *path = g_build_filename (f->home, rel, NULL);
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return g_strdup ("");
  return contents;
}

static void
test_tunnel_lifecycle (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *path = NULL;
  g_autofree char *saved = NULL;
  g_autofree char *expected_url = NULL;
  g_autoptr(NfltrDbusTunnel) tunnel = NULL;
  g_auto(GStrv) listed = NULL;
  StateLog log = { g_ptr_array_new_with_free_func (g_free) };
  ObjectWait gone = { f->objects, NULL };

  if (skip_without_relay ())
    return;
  fp = login (f);

  /* A name another tunnel of ours would collide with is refused before the relay is asked. */
  nfltr_dbus_manager_call_create_tunnel_sync (f->manager, tunnel_options ("http", "3000", "svc-life", FALSE),
                                              &path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, OBJECT_PATH "/tunnels/svc_life");

  tunnel = get_tunnel (f, path);
  g_signal_connect (tunnel, "g-properties-changed", G_CALLBACK (tunnel_properties_changed_cb), &log);

  /* CreateTunnel returned after BOUND: the URL and fingerprint are known. */
  wait_state (tunnel, "online", 2000);
  expected_url = g_strdup_printf ("https://svc-life.%s:%u", NFLTR_DEFAULT_DOMAIN, relay->port);
  g_assert_cmpstr (nfltr_dbus_tunnel_get_public_url (tunnel), ==, expected_url);
  g_assert_cmpstr (nfltr_dbus_tunnel_get_name (tunnel), ==, "svc-life");
  g_assert_cmpstr (nfltr_dbus_tunnel_get_id (tunnel), ==, "svc_life");
  g_assert_cmpstr (nfltr_dbus_tunnel_get_kind (tunnel), ==, "http");
  g_assert_cmpstr (nfltr_dbus_tunnel_get_target (tunnel), ==, "127.0.0.1:3000");
  g_assert_cmpstr (nfltr_dbus_tunnel_get_mode (tunnel), ==, "verified");
  g_assert_true (g_str_has_prefix (nfltr_dbus_tunnel_get_fingerprint (tunnel), "sha256:"));
  g_assert_cmpstr (nfltr_dbus_tunnel_get_fingerprint (tunnel), !=, fp);
  g_assert_false (nfltr_dbus_tunnel_get_transient (tunnel));
  g_assert_cmpuint (nfltr_dbus_tunnel_get_online_since (tunnel), >, 0);

  /* Saved, with its certificate kept for a stable fingerprint. */
  saved = read_file (f, ".config/nfltr/tunnels.json");
  g_assert_nonnull (strstr (saved, "\"svc-life\""));
  {
    g_autofree char *crt = g_build_filename (f->home, ".local/share/nfltr/certs/svc-life.crt", NULL);
    g_assert_true (g_file_test (crt, G_FILE_TEST_EXISTS));
  }

  /* A second tunnel with the same name is refused. */
  {
    g_autofree char *path2 = NULL;
    nfltr_dbus_manager_call_create_tunnel_sync (f->manager, tunnel_options ("tcp", "22", "svc-life", FALSE),
                                                &path2, NULL, &error);
    assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.InvalidArgument",
                       "a tunnel named “svc-life” already exists on this agent");
    g_clear_error (&error);
  }

  g_ptr_array_set_size (log.states, 0);
  nfltr_dbus_tunnel_call_stop_sync (tunnel, NULL, &error);
  g_assert_no_error (error);
  wait_state (tunnel, "stopped", 2000);

  nfltr_dbus_tunnel_call_start_sync (tunnel, NULL, &error);
  g_assert_no_error (error);
  wait_state (tunnel, "online", 2000);
  g_assert_cmpstr (nfltr_dbus_tunnel_get_public_url (tunnel), ==, expected_url);

  /* The changes arrived as PropertiesChanged, in order. */
  g_assert_cmpuint (log.states->len, >=, 2);
  g_assert_cmpstr (g_ptr_array_index (log.states, 0), ==, "stopped");
  g_assert_cmpstr (g_ptr_array_index (log.states, log.states->len - 1), ==, "online");

  nfltr_dbus_manager_call_list_tunnels_sync (f->manager, &listed, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (listed), ==, 1);
  g_assert_cmpstr (listed[0], ==, path);

  nfltr_dbus_tunnel_call_remove_sync (tunnel, NULL, &error);
  g_assert_no_error (error);
  gone.path = path;
  g_assert_true (wait_for (object_gone, &gone, 2000));
  g_clear_pointer (&listed, g_strfreev);
  nfltr_dbus_manager_call_list_tunnels_sync (f->manager, &listed, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (listed), ==, 0);
  g_free (saved);
  saved = read_file (f, ".config/nfltr/tunnels.json");
  g_assert_null (strstr (saved, "svc-life"));

  g_ptr_array_unref (log.states);
}

static void
test_name_taken (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *fp2 = NULL;
  g_autofree char *path = NULL;
  g_autofree char *path2 = NULL;
  g_autofree char *home2 = NULL;
  g_autofree char *saved = NULL;
  g_auto(GStrv) listed = NULL;
  g_autoptr(NfltrDbusManager) manager2 = NULL;
  EngineThread *engine2;
  Fixture f2 = { 0 };

  if (skip_without_relay ())
    return;
  fp = login (f);
  nfltr_dbus_manager_call_create_tunnel_sync (f->manager, tunnel_options ("http", "3000", "svc-taken", FALSE),
                                              &path, NULL, &error);
  g_assert_no_error (error);

  /* A second agent (its own home, so its own agent-id) on the same relay and key. */
  set_home (&f2);
  engine2 = engine_start_full (FALSE);
  manager2 = nfltr_dbus_manager_proxy_new_sync (f->client, G_DBUS_PROXY_FLAGS_NONE, engine2->unique_name,
                                                OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  nfltr_dbus_manager_call_login_sync (manager2, relay->address, relay->api_key, fp, &fp2, NULL, &error);
  g_assert_no_error (error);

  nfltr_dbus_manager_call_create_tunnel_sync (manager2, tunnel_options ("http", "3001", "svc-taken", FALSE),
                                              &path2, NULL, &error);
  assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.NameTaken",
                     "the name “svc-taken” is already in use by another agent on this relay");
  g_clear_error (&error);

  /* CreateTunnel is all or nothing: nothing listed, nothing saved. */
  nfltr_dbus_manager_call_list_tunnels_sync (manager2, &listed, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (listed), ==, 0);
  saved = read_file (&f2, ".config/nfltr/tunnels.json");
  g_assert_null (strstr (saved, "svc-taken"));

  g_clear_object (&manager2);
  engine_stop (engine2);
  home2 = g_strdup_printf ("rm -rf '%s'", f2.home);
  (void) !system (home2);
  g_free (f2.home);
}

static void
test_transient (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *path = NULL;
  g_autofree char *saved = NULL;
  g_autoptr(GDBusConnection) other = NULL;
  g_autoptr(NfltrDbusManager) other_manager = NULL;
  g_autoptr(NfltrDbusTunnel) tunnel = NULL;
  ObjectWait gone = { f->objects, NULL };

  if (skip_without_relay ())
    return;
  fp = login (f);

  /* Another client (the CLI's Ctrl-C semantics): its tunnel goes when it goes. */
  other = new_client ();
  other_manager = nfltr_dbus_manager_proxy_new_sync (other, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME,
                                                     OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  nfltr_dbus_manager_call_create_tunnel_sync (other_manager, tunnel_options ("tcp", "127.0.0.1:2222", NULL, TRUE),
                                              &path, NULL, &error);
  g_assert_no_error (error);
  tunnel = get_tunnel (f, path);
  g_assert_true (nfltr_dbus_tunnel_get_transient (tunnel));
  g_assert_cmpstr (nfltr_dbus_tunnel_get_kind (tunnel), ==, "tcp");
  /* A readable random name: word-word and 50 random bits as 10 base32 letters (§6) */
  g_assert_true (g_regex_match_simple ("^[a-z]+-[a-z]+-[a-z2-7]{10}$", nfltr_dbus_tunnel_get_name (tunnel), 0, 0));
  saved = read_file (f, ".config/nfltr/tunnels.json");
  g_assert_null (strstr (saved, nfltr_dbus_tunnel_get_name (tunnel)));

  g_clear_object (&other_manager);
  g_dbus_connection_close_sync (other, NULL, &error);
  g_assert_no_error (error);
  gone.path = path;
  g_assert_true (wait_for (object_gone, &gone, 5000));
}

static void
test_restart_and_restore (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;
  g_autofree char *tunnel_fp = NULL;
  g_autoptr(NfltrDbusTunnel) tunnel = NULL;
  g_autoptr(NfltrDbusTunnel) again = NULL;

  if (skip_without_relay ())
    return;
  fp = login (f);
  nfltr_dbus_manager_call_create_tunnel_sync (f->manager, tunnel_options ("http", "8080", "svc-keep", FALSE),
                                              &path, NULL, &error);
  g_assert_no_error (error);
  tunnel = get_tunnel (f, path);
  wait_state (tunnel, "online", 2000);
  url = g_strdup (nfltr_dbus_tunnel_get_public_url (tunnel));
  tunnel_fp = g_strdup (nfltr_dbus_tunnel_get_fingerprint (tunnel));

  /* The relay restarts: the tunnel notices, then comes back by itself, same URL and key. */
  relay_stop ();
  wait_state (tunnel, "reconnecting", 10000);
  g_assert_cmpstr (nfltr_dbus_manager_get_relay_state (f->manager), !=, "connected");
  relay_start ();
  wait_state (tunnel, "online", 15000);
  g_assert_cmpstr (nfltr_dbus_tunnel_get_public_url (tunnel), ==, url);
  g_assert_cmpstr (nfltr_dbus_tunnel_get_fingerprint (tunnel), ==, tunnel_fp);
  g_assert_true (wait_for (relay_connected, f, 5000));

  /* The service restarts: login, relay and tunnel are restored and the tunnel starts. */
  g_clear_object (&tunnel);
  disconnect_client (f);
  engine_stop (f->engine);
  f->engine = engine_start ();
  connect_client (f);
  g_assert_true (wait_for (relay_connected, f, 10000));
  again = get_tunnel (f, path);
  wait_state (again, "online", 10000);
  g_assert_cmpstr (nfltr_dbus_tunnel_get_public_url (again), ==, url);
  g_assert_cmpstr (nfltr_dbus_tunnel_get_fingerprint (again), ==, tunnel_fp);

  nfltr_dbus_tunnel_call_remove_sync (again, NULL, &error);
  g_assert_no_error (error);
}

static void
tunnel_failed_cb (NfltrDbusManager *manager,
                  const char       *path,
                  const char       *message,
                  GPtrArray        *messages)
{
  g_ptr_array_add (messages, g_strdup (message));
}

static gboolean
relay_in_mismatch (gpointer data)
{
  Fixture *f = data;
  return g_strcmp0 (nfltr_dbus_manager_get_relay_state (f->manager), "fingerprint-mismatch") == 0;
}

static void
test_relay_certificate_changed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *path = NULL;
  g_autofree char *own_dir = NULL;
  g_autoptr(NfltrDbusTunnel) tunnel = NULL;
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);

  if (skip_without_relay ())
    return;
  fp = login (f);
  g_signal_connect (f->manager, "tunnel-failed", G_CALLBACK (tunnel_failed_cb), failures);
  nfltr_dbus_manager_call_create_tunnel_sync (f->manager, tunnel_options ("tcp", "2022", "svc-pin", FALSE),
                                              &path, NULL, &error);
  g_assert_no_error (error);
  tunnel = get_tunnel (f, path);
  wait_state (tunnel, "online", 2000);

  /* Someone else answers on the relay's address with another certificate: the agent must
   * not send its key there, and says so. */
  relay_stop ();
  own_dir = g_steal_pointer (&relay->data_dir);
  relay->data_dir = g_build_filename (tmp_root, "impostor-data", NULL);
  relay_start ();
  g_assert_true (wait_for (relay_in_mismatch, f, 15000));
  wait_state (tunnel, "failed", 2000);
  g_assert_nonnull (strstr (nfltr_dbus_tunnel_get_last_error (tunnel), fp));
  g_assert_nonnull (strstr (nfltr_dbus_manager_get_relay_error (f->manager), fp));
  g_assert_cmpuint (failures->len, >=, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (failures, 0), fp));

  /* The real relay is back; a new Login (the user's decision) brings the tunnel back. */
  relay_stop ();
  g_free (relay->data_dir);
  relay->data_dir = g_steal_pointer (&own_dir);
  relay_start ();
  g_free (login (f));
  wait_state (tunnel, "online", 5000);

  nfltr_dbus_tunnel_call_remove_sync (tunnel, NULL, &error);
  g_assert_no_error (error);
}

static char *
write_pair (Fixture *f, const char *stem, const char *host, char **key_path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  g_autofree char *crt_name = g_strdup_printf ("%s.crt", stem);
  g_autofree char *key_name = g_strdup_printf ("%s.key", stem);
  const char *names[] = { host, NULL };
  char *crt_path = g_build_filename (f->home, crt_name, NULL);

  g_assert_true (nfltr_cert_generate (names, 30, &cert_pem, &key_pem, &error));
  g_assert_no_error (error);
  *key_path = g_build_filename (f->home, key_name, NULL);
  g_assert_true (g_file_set_contents (crt_path, cert_pem, -1, NULL));
  g_assert_true (g_file_set_contents_full (*key_path, key_pem, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  return crt_path;
}

static GVariant *
cert_options (const char *name, const char *cert_file, const char *key_file)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind", g_variant_new_string ("http"));
  g_variant_builder_add (&b, "{sv}", "target", g_variant_new_string ("3000"));
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (name));
  g_variant_builder_add (&b, "{sv}", "e2ee", g_variant_new_boolean (FALSE));
  g_variant_builder_add (&b, "{sv}", "cert-file", g_variant_new_string (cert_file));
  g_variant_builder_add (&b, "{sv}", "key-file", g_variant_new_string (key_file));
  return g_variant_builder_end (&b);
}

static void
test_cert_file (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *path = NULL;
  g_autofree char *a_key = NULL, *b_key = NULL;
  g_autofree char *a_crt = NULL, *b_crt = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *a_pem = NULL;
  g_autofree char *a_fp = NULL;
  g_autoptr(NfltrDbusTunnel) tunnel = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];

  if (skip_without_relay ())
    return;
  fp = login (f);
  a_crt = write_pair (f, "a", "svc-own." NFLTR_DEFAULT_DOMAIN, &a_key);
  b_crt = write_pair (f, "b", "svc-own." NFLTR_DEFAULT_DOMAIN, &b_key);

  /* The errors name the file and what is wrong with it. */
  nfltr_dbus_manager_call_create_tunnel_sync (f->manager, cert_options ("svc-own", a_crt, b_key),
                                              &path, NULL, &error);
  expected = g_strdup_printf ("private key “%s” does not match the certificate “%s”", b_key, a_crt);
  assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.Certificate", expected);
  g_clear_error (&error);

  missing = g_build_filename (f->home, "missing.crt", NULL);
  nfltr_dbus_manager_call_create_tunnel_sync (f->manager, cert_options ("svc-own", missing, a_key),
                                              &path, NULL, &error);
  assert_dbus_error (error, "xyz.nfltr.Nfltr.Error.Certificate", NULL);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  /* A good pair: the tunnel presents it, in inspectable mode as asked. */
  nfltr_dbus_manager_call_create_tunnel_sync (f->manager, cert_options ("svc-own", a_crt, a_key),
                                              &path, NULL, &error);
  g_assert_no_error (error);
  tunnel = get_tunnel (f, path);
  wait_state (tunnel, "online", 2000);
  g_assert_true (g_file_get_contents (a_crt, &a_pem, NULL, NULL));
  g_assert_true (nfltr_fingerprint_of_pem (a_pem, strlen (a_pem), digest, NULL));
  a_fp = nfltr_fingerprint_format (digest);
  g_assert_cmpstr (nfltr_dbus_tunnel_get_fingerprint (tunnel), ==, a_fp);
  g_assert_cmpstr (nfltr_dbus_tunnel_get_mode (tunnel), ==, "inspectable");

  nfltr_dbus_tunnel_call_remove_sync (tunnel, NULL, &error);
  g_assert_no_error (error);
}

/* A local TCP echo server on its own threads (the test's main thread makes blocking calls). */
static gboolean
echo_run_cb (GThreadedSocketService *service,
             GSocketConnection      *connection,
             GObject                *source_object,
             gpointer                user_data)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  char buf[4096];
  gssize n;

  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    if (!g_output_stream_write_all (out, buf, n, NULL, NULL, NULL))
      break;
  return TRUE;
}

static gboolean
accept_any_certificate_cb (GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors,
                           gpointer user_data)
{
  return TRUE;
}

typedef struct {
  NfltrDbusTunnel *tunnel;
  guint active;
  guint64 total;
  guint64 bytes;
} CountWait;

static gboolean
counts_reached (gpointer data)
{
  CountWait *w = data;
  return nfltr_dbus_tunnel_get_active_connections (w->tunnel) == w->active &&
         nfltr_dbus_tunnel_get_total_connections (w->tunnel) >= w->total &&
         nfltr_dbus_tunnel_get_bytes_in (w->tunnel) >= w->bytes &&
         nfltr_dbus_tunnel_get_bytes_out (w->tunnel) >= w->bytes;
}

/* The public client, on its own thread: the echo server and the proxies need the main loop. */
typedef struct {
  char *host;
  guint16 port;
  char *peer_fp;
  char reply[64];
  gint echoed;      /* atomic */
  gint closed;      /* atomic: the connection ended after the echo */
  gsize after;      /* bytes read after the echo (expected 0) */
} PublicClient;

static gpointer
public_client_thread (gpointer data)
{
  PublicClient *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) tcp = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GSocketConnectable) identity = g_network_address_new (c->host, c->port);
  g_autoptr(GByteArray) der = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];
  gsize got = 0;
  char rest[64];

  tcp = g_socket_client_connect_to_host (client, "127.0.0.1", c->port, NULL, &error);
  g_assert_no_error (error);
  /* TLS with SNI = the tunnel's host, terminated by the agent. */
  tls = g_tls_client_connection_new (G_IO_STREAM (tcp), identity, &error);
  g_assert_no_error (error);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_any_certificate_cb), NULL);
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (tls), "hello tunnel", 12,
                                            NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_input_stream_read_all (g_io_stream_get_input_stream (tls), c->reply, 12, &got,
                                          NULL, &error));
  g_assert_no_error (error);
  g_object_get (g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (tls)), "certificate", &der, NULL);
  nfltr_fingerprint_of_der (der->data, der->len, digest);
  c->peer_fp = nfltr_fingerprint_format (digest);
  g_atomic_int_set (&c->echoed, 1);

  g_input_stream_read_all (g_io_stream_get_input_stream (tls), rest, sizeof rest, &c->after, NULL, NULL);
  g_atomic_int_set (&c->closed, 1);
  return NULL;
}

static gboolean
flag_set (gpointer data)
{
  return g_atomic_int_get ((gint *) data) != 0;
}

static void
test_counters_and_stop (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *path = NULL;
  g_autofree char *target = NULL;
  g_autoptr(NfltrDbusTunnel) tunnel = NULL;
  g_autoptr(GSocketService) echo = NULL;
  PublicClient c = { 0 };
  GThread *thread;
  guint16 echo_port;
  CountWait w = { 0 };

  if (skip_without_relay ())
    return;
  fp = login (f);

  echo = g_threaded_socket_service_new (4);
  echo_port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (echo), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (echo, "run", G_CALLBACK (echo_run_cb), NULL);
  g_socket_service_start (echo);

  target = g_strdup_printf ("127.0.0.1:%u", echo_port);
  nfltr_dbus_manager_call_create_tunnel_sync (f->manager, tunnel_options ("tcp", target, "svc-count", FALSE),
                                              &path, NULL, &error);
  g_assert_no_error (error);
  tunnel = get_tunnel (f, path);
  wait_state (tunnel, "online", 2000);
  g_assert_cmpuint (nfltr_dbus_tunnel_get_total_connections (tunnel), ==, 0);

  c.host = g_strdup_printf ("svc-count.%s", NFLTR_DEFAULT_DOMAIN);
  c.port = relay->port;
  thread = g_thread_new ("public-client", public_client_thread, &c);
  g_assert_true (wait_for (flag_set, &c.echoed, 10000));
  g_assert_cmpstr (c.reply, ==, "hello tunnel");
  /* The client saw the tunnel's own certificate: the one the D-Bus API shows. */
  g_assert_cmpstr (c.peer_fp, ==, nfltr_dbus_tunnel_get_fingerprint (tunnel));

  /* The counters follow, through PropertiesChanged. */
  w.tunnel = tunnel;
  w.active = 1;
  w.total = 1;
  w.bytes = 12;
  g_assert_true (wait_for (counts_reached, &w, 3000));

  /* Stop ends the open connection too. */
  nfltr_dbus_tunnel_call_stop_sync (tunnel, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (wait_for (flag_set, &c.closed, 5000));
  g_assert_cmpuint (c.after, ==, 0);
  w.active = 0;
  g_assert_true (wait_for (counts_reached, &w, 5000));
  g_thread_join (thread);

  nfltr_dbus_tunnel_call_remove_sync (tunnel, NULL, &error);
  g_assert_no_error (error);
  g_socket_service_stop (echo);
  g_socket_listener_close (G_SOCKET_LISTENER (echo));
  g_free (c.host);
  g_free (c.peer_fp);
}

int
main (int argc, char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  tmp_root = g_dir_make_tmp ("nfltr-test-service-XXXXXX", NULL);
  g_assert_nonnull (tmp_root);
  /* Set before anything reads them: libsecret and the engine look at the environment. */
  g_setenv ("HOME", tmp_root, TRUE);
  g_unsetenv ("XDG_RUNTIME_DIR");

  test_bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (test_bus);
  relay_setup ();

  g_test_add ("/service/dbus/not-logged-in", Fixture, NULL, fixture_setup, test_not_logged_in, fixture_teardown);
  g_test_add ("/service/dbus/bad-arguments", Fixture, NULL, fixture_setup, test_bad_arguments, fixture_teardown);
  g_test_add ("/service/dbus/kinds", Fixture, NULL, fixture_setup, test_kinds, fixture_teardown);
  g_test_add ("/service/dbus/login-unreachable", Fixture, NULL, fixture_setup, test_login_unreachable, fixture_teardown);
  g_test_add ("/service/dbus/relay/login-errors", Fixture, NULL, fixture_setup, test_login_errors, fixture_teardown);
  g_test_add ("/service/dbus/relay/tunnel-lifecycle", Fixture, NULL, fixture_setup, test_tunnel_lifecycle, fixture_teardown);
  g_test_add ("/service/dbus/relay/counters-and-stop", Fixture, NULL, fixture_setup, test_counters_and_stop, fixture_teardown);
  g_test_add ("/service/dbus/relay/cert-file", Fixture, NULL, fixture_setup, test_cert_file, fixture_teardown);
  g_test_add ("/service/dbus/relay/name-taken", Fixture, NULL, fixture_setup, test_name_taken, fixture_teardown);
  g_test_add ("/service/dbus/relay/transient", Fixture, NULL, fixture_setup, test_transient, fixture_teardown);
  g_test_add ("/service/dbus/relay/certificate-changed", Fixture, NULL, fixture_setup, test_relay_certificate_changed, fixture_teardown);
  g_test_add ("/service/dbus/relay/restart-and-restore", Fixture, NULL, fixture_setup, test_restart_and_restore, fixture_teardown);

  ret = g_test_run ();

  relay_teardown ();
  /* libsecret keeps the session bus singleton alive (its cached service and proxies), which
   * g_test_dbus_down() would wait on for 30 s and then warn about; stop the daemon instead
   * and let the process exit take the rest. */
  secret_service_disconnect ();
  {
    /* …and that singleton would raise SIGTERM when the daemon goes (exit-on-close). */
    g_autoptr(GDBusConnection) session = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
    if (session)
      g_dbus_connection_set_exit_on_close (session, FALSE);
  }
  g_test_dbus_stop (test_bus);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmp_root);
    (void) !system (cmd);
  }
  g_free (tmp_root);
  return ret;
}
