/* nfltr-failure-notifier.c — tunnels that fail together (the relay refused the key, every
 * tunnel at once) make one notification, not one each: failures are gathered for a moment,
 * then sent under a single id. Each failed tunnel's state is watched; when none is failed any
 * more (back online, stopped by the user, removed) the notification is withdrawn, so the
 * notification list never reports a problem that is over. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-failure-notifier.h"

/* Failures of one event arrive as one TunnelFailed signal per tunnel, within milliseconds. */
#define GATHER_MS 400
#define NOTIFICATION_ID "tunnels-failed"

struct _NfltrFailureNotifier {
  GObject parent_instance;

  GApplication *app; /* weak */
  NfltrClient *client;
  NfltrIsWatchedFunc is_watched;
  gpointer user_data;

  /* tunnel id → NfltrDbusTunnel, every tunnel failed and not yet recovered */
  GHashTable *failed;
  char *last_message;
  guint gather_source;
  gboolean shown;
};

G_DEFINE_FINAL_TYPE (NfltrFailureNotifier, nfltr_failure_notifier, G_TYPE_OBJECT)

static void
withdraw_if_recovered (NfltrFailureNotifier *self)
{
  if (g_hash_table_size (self->failed) > 0)
    return;
  g_clear_handle_id (&self->gather_source, g_source_remove);
  if (self->shown && self->app != NULL)
    g_application_withdraw_notification (self->app, NOTIFICATION_ID);
  self->shown = FALSE;
}

static void
forget_tunnel (NfltrFailureNotifier *self,
               NfltrDbusTunnel      *tunnel)
{
  g_signal_handlers_disconnect_by_data (tunnel, self);
  g_hash_table_remove (self->failed, nfltr_dbus_tunnel_get_id (tunnel));
  withdraw_if_recovered (self);
}

static void
tunnel_state_changed_cb (NfltrDbusTunnel      *tunnel,
                         GParamSpec           *pspec,
                         NfltrFailureNotifier *self)
{
  if (g_strcmp0 (nfltr_dbus_tunnel_get_state (tunnel), "failed") != 0)
    forget_tunnel (self, tunnel);
}

static void
tunnels_changed_cb (GListModel           *model,
                    guint                 position,
                    guint                 removed,
                    guint                 added,
                    NfltrFailureNotifier *self)
{
  GHashTableIter iter;
  gpointer value;
  g_autoptr(GPtrArray) gone = g_ptr_array_new ();

  if (removed == 0)
    return;
  g_hash_table_iter_init (&iter, self->failed);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      gboolean present = FALSE;

      for (guint i = 0; i < g_list_model_get_n_items (model) && !present; i++)
        {
          g_autoptr(NfltrDbusTunnel) t = g_list_model_get_item (model, i);

          present = (t == value);
        }
      if (!present)
        g_ptr_array_add (gone, value);
    }
  for (guint i = 0; i < gone->len; i++)
    forget_tunnel (self, gone->pdata[i]);
}

static gboolean
send_cb (gpointer user_data)
{
  NfltrFailureNotifier *self = user_data;
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *title = NULL;
  guint n = g_hash_table_size (self->failed);

  self->gather_source = 0;
  if (n == 0 || self->app == NULL)
    return G_SOURCE_REMOVE;

  if (n == 1)
    {
      GHashTableIter iter;
      gpointer value;
      const char *name;

      g_hash_table_iter_init (&iter, self->failed);
      g_hash_table_iter_next (&iter, NULL, &value);
      name = nfltr_dbus_tunnel_get_name (value);
      if (name != NULL && *name != '\0')
        title = g_strdup_printf (_("Tunnel “%s” failed"), name);
      else
        title = g_strdup (_("A tunnel failed"));
    }
  else
    title = g_strdup_printf (ngettext ("%u tunnel failed", "%u tunnels failed", n), n);

  notification = g_notification_new (title);
  if (self->last_message != NULL && *self->last_message != '\0')
    g_notification_set_body (notification, self->last_message);
  g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
  g_notification_set_default_action (notification, "app.show-window");
  g_application_send_notification (self->app, NOTIFICATION_ID, notification);
  self->shown = TRUE;
  return G_SOURCE_REMOVE;
}

static void
tunnel_failed_cb (NfltrClient          *client,
                  NfltrDbusTunnel      *tunnel,
                  const char           *message,
                  NfltrFailureNotifier *self)
{
  /* The window shows the failure itself; notify only when nobody is looking at it. */
  if (self->is_watched != NULL && self->is_watched (self->user_data))
    return;
  if (tunnel == NULL)
    return;

  if (!g_hash_table_contains (self->failed, nfltr_dbus_tunnel_get_id (tunnel)))
    {
      g_hash_table_insert (self->failed, g_strdup (nfltr_dbus_tunnel_get_id (tunnel)),
                           g_object_ref (tunnel));
      g_signal_connect_object (tunnel, "notify::state", G_CALLBACK (tunnel_state_changed_cb), self, 0);
    }
  g_free (self->last_message);
  self->last_message = g_strdup (message);
  if (self->gather_source == 0)
    self->gather_source = g_timeout_add (GATHER_MS, send_cb, self);
}

static void
nfltr_failure_notifier_dispose (GObject *object)
{
  NfltrFailureNotifier *self = NFLTR_FAILURE_NOTIFIER (object);
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&self->gather_source, g_source_remove);
  if (self->failed != NULL)
    {
      g_hash_table_iter_init (&iter, self->failed);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_signal_handlers_disconnect_by_data (value, self);
      g_hash_table_remove_all (self->failed);
    }
  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (nfltr_client_get_tunnels (self->client), self);
  g_clear_object (&self->client);
  g_clear_weak_pointer (&self->app);

  G_OBJECT_CLASS (nfltr_failure_notifier_parent_class)->dispose (object);
}

static void
nfltr_failure_notifier_finalize (GObject *object)
{
  NfltrFailureNotifier *self = NFLTR_FAILURE_NOTIFIER (object);

  g_clear_pointer (&self->failed, g_hash_table_unref);
  g_clear_pointer (&self->last_message, g_free);

  G_OBJECT_CLASS (nfltr_failure_notifier_parent_class)->finalize (object);
}

static void
nfltr_failure_notifier_class_init (NfltrFailureNotifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_failure_notifier_dispose;
  object_class->finalize = nfltr_failure_notifier_finalize;
}

static void
nfltr_failure_notifier_init (NfltrFailureNotifier *self)
{
  self->failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

NfltrFailureNotifier *
nfltr_failure_notifier_new (GApplication       *app,
                            NfltrClient        *client,
                            NfltrIsWatchedFunc  is_watched,
                            gpointer            user_data)
{
  NfltrFailureNotifier *self = g_object_new (NFLTR_TYPE_FAILURE_NOTIFIER, NULL);

  g_set_weak_pointer (&self->app, app);
  self->client = g_object_ref (client);
  self->is_watched = is_watched;
  self->user_data = user_data;
  g_signal_connect_object (client, "tunnel-failed", G_CALLBACK (tunnel_failed_cb), self, 0);
  g_signal_connect_object (nfltr_client_get_tunnels (client), "items-changed",
                           G_CALLBACK (tunnels_changed_cb), self, 0);
  return self;
}
