/* nfltr-calls.c — the app's calls: actions, the incoming-call notification, windows.
 *
 * Incoming calls are Call objects the service exports in state "ringing" when the peer of a
 * running session rings (docs/protocol.md §14.2); an object manager client of our own sees
 * them, so this needs nothing from the main window's client. */
#define G_LOG_DOMAIN "nfltr-app"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "nfltr-calls.h"
#include "nfltr-call-window.h"
#include "nfltr-dbus.h"
#include "nfltr-service-locator.h"

typedef struct {
  GtkApplication *app; /* weak: it owns us */
  GDBusConnection *connection;
  GDBusObjectManager *objects;
  GPtrArray *windows; /* NfltrCallWindow, weak refs via destroy */
  GPtrArray *waiting; /* GTask-less queue: actions before the bus was there (GVariant (ss)) */
} Calls;

static Calls *calls;

static void
window_destroyed_cb (GtkWidget *window, gpointer user_data)
{
  g_ptr_array_remove (calls->windows, window);
}

static void
open_window (const char *path, const char *code)
{
  NfltrCallWindow *window;

  for (guint i = 0; i < calls->windows->len; i++)
    if (g_str_equal (nfltr_call_window_get_path (calls->windows->pdata[i]), path))
      {
        gtk_window_present (calls->windows->pdata[i]);
        return;
      }
  window = nfltr_call_window_new (calls->app, calls->connection, path, code);
  g_ptr_array_add (calls->windows, window);
  g_signal_connect (window, "destroy", G_CALLBACK (window_destroyed_cb), NULL);
  gtk_window_present (GTK_WINDOW (window));
}

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *code = NULL;
  gboolean offer = GPOINTER_TO_INT (user_data);

  if (!nfltr_dbus_p2p_call_call_finish (NFLTR_DBUS_P2P (source), &path, &code, result, &error))
    {
      g_autoptr(GNotification) n = g_notification_new (_("The call could not start"));

      g_notification_set_body (n, error->message);
      g_application_send_notification (G_APPLICATION (calls->app), "call-failed", n);
      g_message ("P2p.Call: %s", error->message);
      return;
    }
  open_window (path, offer ? code : NULL);
}

static void
p2p_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GVariant) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrDbusP2p) p2p = nfltr_dbus_p2p_proxy_new_finish (result, &error);
  const char *kind, *arg;
  GVariantDict options;

  if (p2p == NULL)
    {
      g_message ("the P2p object: %s", error->message);
      return;
    }
  g_variant_get (request, "(&s&s)", &kind, &arg);
  g_variant_dict_init (&options, NULL);
  if (g_str_equal (kind, "start") && *arg)
    g_variant_dict_insert (&options, "transfer", "o", arg);
  /* A Call waits for the peer to type the code: no reply timeout of D-Bus's 25 s applies to
   * the method itself, which answers at once. */
  nfltr_dbus_p2p_call_call (p2p, g_str_equal (kind, "join") ? arg : "", g_variant_dict_end (&options), NULL,
                            call_done_cb, GINT_TO_POINTER (g_str_equal (kind, "start") && !*arg));
}

static void
run_request (GVariant *request)
{
  nfltr_dbus_p2p_proxy_new (calls->connection, G_DBUS_PROXY_FLAGS_NONE, NFLTR_SERVICE_BUS_NAME,
                            "/xyz/nfltr/Nfltr/p2p", NULL, p2p_ready_cb, g_variant_ref_sink (request));
}

static void
request (const char *kind, const char *arg)
{
  GVariant *r = g_variant_ref_sink (g_variant_new ("(ss)", kind, arg));

  if (calls->connection == NULL)
    g_ptr_array_add (calls->waiting, r);
  else
    {
      run_request (r);
      g_variant_unref (r);
    }
}

static void
start_call_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  request ("start", g_variant_get_string (param, NULL));
}

static void
join_call_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  request ("join", g_variant_get_string (param, NULL));
}

static NfltrDbusCall *
find_call (const char *path)
{
  g_autoptr(GDBusObject) object = calls->objects != NULL ? g_dbus_object_manager_get_object (calls->objects, path) : NULL;

  return object != NULL ? nfltr_dbus_object_get_call (NFLTR_DBUS_OBJECT (object)) : NULL;
}

static void
accept_call_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  const char *path = g_variant_get_string (param, NULL);
  g_autoptr(NfltrDbusCall) call = find_call (path);

  g_application_withdraw_notification (G_APPLICATION (calls->app), path);
  if (call == NULL)
    return;
  open_window (path, NULL);
  nfltr_dbus_call_call_accept (call, NULL, NULL, NULL);
}

static void
decline_call_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  const char *path = g_variant_get_string (param, NULL);
  g_autoptr(NfltrDbusCall) call = find_call (path);

  g_application_withdraw_notification (G_APPLICATION (calls->app), path);
  if (call != NULL)
    nfltr_dbus_call_call_hangup (call, NULL, NULL, NULL);
}

static void
test_call_state_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GVariantBuilder list;
  GVariantDict d;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < calls->windows->len; i++)
    g_variant_builder_add_value (&list, nfltr_call_window_describe (calls->windows->pdata[i]));
  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert_value (&d, "calls", g_variant_builder_end (&list));
  g_simple_action_set_state (action, g_variant_dict_end (&d));
}

static void
incoming_response_cb (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  const char *path = g_object_get_data (G_OBJECT (dialog), "call-path");

  g_action_group_activate_action (G_ACTION_GROUP (calls->app),
                                  g_str_equal (response, "accept") ? "accept-call" : "decline-call",
                                  g_variant_new_string (path));
}

/* A call rings: a notification (with the two buttons) and a dialog in the app. */
static void
ring (NfltrDbusCall *call, const char *path)
{
  g_autoptr (GNotification) n = g_notification_new (_ ("Incoming call"));
  GtkWindow *parent = gtk_application_get_active_window (calls->app);
  AdwMessageDialog *dialog;

  g_notification_set_body (n, nfltr_dbus_call_get_video (call)
                                ? _ ("A video call from your P2P peer (verified)")
                                : _ ("A call from your P2P peer (verified)"));
  g_notification_set_priority (n, G_NOTIFICATION_PRIORITY_URGENT);
  g_notification_add_button_with_target (n, _ ("Accept"), "app.accept-call", "s", path);
  g_notification_add_button_with_target (n, _ ("Decline"), "app.decline-call", "s", path);
  g_application_send_notification (G_APPLICATION (calls->app), path, n);
  dialog =
    ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent, _ ("Incoming call"),
                                                _ ("Your P2P peer is calling. The session is verified by "
                                                   "the code you both typed.")));
  adw_message_dialog_add_responses (dialog, "decline", _ ("_Decline"), "accept", _ ("_Accept"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "accept", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_response_appearance (dialog, "decline", ADW_RESPONSE_DESTRUCTIVE);
  g_object_set_data_full (G_OBJECT (dialog), "call-path", g_strdup (path), g_free);
  g_signal_connect (dialog, "response", G_CALLBACK (incoming_response_cb), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
object_added_cb (GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
  g_autoptr(NfltrDbusCall) call = nfltr_dbus_object_get_call (NFLTR_DBUS_OBJECT (object));

  if (call != NULL && g_strcmp0 (nfltr_dbus_call_get_state (call), "ringing") == 0)
    ring (call, g_dbus_object_get_object_path (object));
}

static void
objects_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  calls->objects = nfltr_dbus_object_manager_client_new_finish (result, &error);
  if (calls->objects == NULL)
    {
      g_message ("calls: no object manager: %s", error->message);
      return;
    }
  g_signal_connect (calls->objects, "object-added", G_CALLBACK (object_added_cb), NULL);
}

static void
bus_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  calls->connection = nfltr_service_locator_get_bus_finish (result, &error);
  if (calls->connection == NULL)
    {
      g_message ("calls: no bus: %s", error->message);
      return;
    }
  nfltr_dbus_object_manager_client_new (calls->connection, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
                                        NFLTR_SERVICE_BUS_NAME, NFLTR_SERVICE_OBJECT_PATH, NULL, objects_ready_cb, NULL);
  for (guint i = 0; i < calls->waiting->len; i++)
    run_request (calls->waiting->pdata[i]);
  g_ptr_array_set_size (calls->waiting, 0);
}

static const GActionEntry call_entries[] = {
  { "start-call", start_call_activated, "s" },
  { "join-call", join_call_activated, "s" },
  { "accept-call", accept_call_activated, "s" },
  { "decline-call", decline_call_activated, "s" },
};

static const GActionEntry test_entries[] = {
  { "test-call-state", test_call_state_activated, NULL, "@a{sv} {}" },
};

static void
shutdown_cb (GApplication *app, gpointer user_data)
{
  for (guint i = calls->windows->len; i > 0; i--)
    gtk_window_destroy (calls->windows->pdata[i - 1]);
  g_clear_object (&calls->objects);
  g_clear_object (&calls->connection);
  g_ptr_array_unref (calls->windows);
  g_ptr_array_unref (calls->waiting);
  g_clear_pointer (&calls, g_free);
}

void
nfltr_calls_init (GtkApplication *app)
{
  calls = g_new0 (Calls, 1);
  calls->app = app;
  calls->windows = g_ptr_array_new ();
  calls->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_action_map_add_action_entries (G_ACTION_MAP (app), call_entries, G_N_ELEMENTS (call_entries), app);
  if (g_strcmp0 (g_getenv ("NFLTR_APP_TEST"), "1") == 0)
    g_action_map_add_action_entries (G_ACTION_MAP (app), test_entries, G_N_ELEMENTS (test_entries), app);
  g_signal_connect (app, "shutdown", G_CALLBACK (shutdown_cb), NULL);
  nfltr_service_locator_get_bus (NULL, bus_cb, NULL);
}
