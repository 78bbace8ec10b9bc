/* nfltr-networks-window.c — the Networks page: every xyz.nfltr.Nfltr.Network the service
 * exports under /xyz/nfltr/Nfltr/networks/, one group per network (role, state, address) with
 * a row per peer (address, kind and name; latest handshake, bytes, endpoint), as
 * `nfltr wg status` shows them. It follows the object manager and the networks' properties
 * (Peers changes about once a second while traffic flows). */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-networks-window.h"
#include "nfltr-window.h"

struct _NfltrNetworksWindow {
  AdwWindow parent_instance;

  NfltrClient *client;
  GDBusObjectManager *object_manager;
  GCancellable *cancellable;
  GPtrArray *networks; /* NfltrDbusNetwork*, sorted by name */

  GtkStack *stack;
  GtkBox *list;
};

G_DEFINE_FINAL_TYPE (NfltrNetworksWindow, nfltr_networks_window, ADW_TYPE_WINDOW)

static const char *
role_label (const char *role)
{
  if (g_strcmp0 (role, "serve") == 0)
    /* TRANSLATORS: the role of this machine in a WireGuard network: its exit */
    return _("Serve side");
  if (g_strcmp0 (role, "socks5") == 0)
    /* TRANSLATORS: the role of this machine in a WireGuard network: a peer with a SOCKS5 server */
    return _("SOCKS5 peer");
  return role;
}

static const char *
state_label (const char *state)
{
  if (g_strcmp0 (state, "online") == 0)
    return _("Online");
  if (g_strcmp0 (state, "connecting") == 0)
    return _("Connecting");
  if (g_strcmp0 (state, "failed") == 0)
    return _("Failed");
  return state;
}

static char *
network_subtitle (NfltrDbusNetwork *n)
{
  const char *address = nfltr_dbus_network_get_address (n);
  const char *error = nfltr_dbus_network_get_last_error (n);

  /* TRANSLATORS: role · state · address, e.g. “Serve side · Online · 100.64.0.1/20” */
  return g_strdup_printf (_("%s · %s · %s%s%s"), role_label (nfltr_dbus_network_get_role (n)),
                          state_label (nfltr_dbus_network_get_state (n)),
                          address && *address ? address : _("no address yet"),
                          error && *error ? " — " : "", error && *error ? error : "");
}

static char *
peer_title (const char *address, const char *kind, const char *label)
{
  const char *what = g_strcmp0 (kind, "serve") == 0   ? _("serve side")
                     : g_strcmp0 (kind, "stock") == 0 ? _("WireGuard peer")
                                                      : _("peer");

  if (label != NULL && *label != '\0')
    /* TRANSLATORS: a peer's address, what it is, its name: “100.64.0.3 — WireGuard peer laptop” */
    return g_strdup_printf (_("%s — %s %s"), address, what, label);
  /* TRANSLATORS: a peer's address and what it is: “100.64.0.2 — peer” */
  return g_strdup_printf (_("%s — %s"), address, what);
}

static char *
peer_subtitle (gint64 handshake, guint64 rx, guint64 tx, const char *endpoint)
{
  g_autofree char *in = g_format_size (rx);
  g_autofree char *out = g_format_size (tx);
  g_autofree char *when = NULL;

  if (handshake <= 0)
    when = g_strdup (_("no handshake yet"));
  else
    /* TRANSLATORS: how long ago the latest WireGuard handshake was, in seconds */
    {
      g_autofree char *seconds = g_strdup_printf ("%" G_GINT64_FORMAT,
                                                  MAX (0, g_get_real_time () / G_USEC_PER_SEC - handshake));

      when = g_strdup_printf (_("handshake %s s ago"), seconds);
    }
  /* TRANSLATORS: latest handshake · bytes received · bytes sent · where the peer is reached */
  return g_strdup_printf (_("%s · received %s · sent %s · via %s"), when, in, out,
                          endpoint && *endpoint ? endpoint : "—");
}

static void
rebuild (NfltrNetworksWindow *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_box_remove (self->list, child);
  for (guint i = 0; i < self->networks->len; i++)
    {
      NfltrDbusNetwork *n = self->networks->pdata[i];
      GtkWidget *group = adw_preferences_group_new ();
      GVariant *peers = nfltr_dbus_network_get_peers (n);
      g_autofree char *subtitle = network_subtitle (n);
      GVariantIter iter;
      const char *key, *label, *kind, *address, *endpoint;
      gint64 handshake;
      guint64 rx, tx;
      guint n_peers = 0;

      adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), nfltr_dbus_network_get_name (n));
      adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (group), subtitle);
      if (peers != NULL)
        {
          g_variant_iter_init (&iter, peers);
          while (g_variant_iter_next (&iter, "(&s&s&s&s&sxtt)", &key, &label, &kind, &address, &endpoint,
                                      &handshake, &rx, &tx))
            {
              GtkWidget *row = adw_action_row_new ();
              g_autofree char *title = peer_title (address, kind, label);
              g_autofree char *sub = peer_subtitle (handshake, rx, tx, endpoint);

              adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
              adw_action_row_set_subtitle (ADW_ACTION_ROW (row), sub);
              gtk_widget_set_tooltip_text (row, key);
              adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);
              n_peers++;
            }
        }
      if (n_peers == 0)
        {
          GtkWidget *row = adw_action_row_new ();

          adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No peers yet"));
          adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);
        }
      gtk_box_append (self->list, group);
    }
  gtk_stack_set_visible_child_name (self->stack, self->networks->len > 0 ? "networks" : "empty");
}

static void
network_changed_cb (GDBusProxy          *proxy,
                    GVariant            *changed,
                    GStrv                invalidated,
                    NfltrNetworksWindow *self)
{
  rebuild (self);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  NfltrDbusNetwork *na = *(NfltrDbusNetwork **) a;
  NfltrDbusNetwork *nb = *(NfltrDbusNetwork **) b;

  return g_strcmp0 (nfltr_dbus_network_get_name (na), nfltr_dbus_network_get_name (nb));
}

static void
collect (NfltrNetworksWindow *self)
{
  g_autolist (GDBusObject) objects = g_dbus_object_manager_get_objects (self->object_manager);

  for (guint i = 0; i < self->networks->len; i++)
    g_signal_handlers_disconnect_by_data (self->networks->pdata[i], self);
  g_ptr_array_set_size (self->networks, 0);
  for (GList *l = objects; l != NULL; l = l->next)
    {
      NfltrDbusNetwork *n = nfltr_dbus_object_get_network (NFLTR_DBUS_OBJECT (l->data));

      if (n == NULL)
        continue;
      g_signal_connect (n, "g-properties-changed", G_CALLBACK (network_changed_cb), self);
      g_ptr_array_add (self->networks, n);
    }
  g_ptr_array_sort (self->networks, compare_names);
  rebuild (self);
}

static void
objects_changed_cb (GDBusObjectManager  *manager,
                    GDBusObject         *object,
                    NfltrNetworksWindow *self)
{
  collect (self);
}

static void
object_manager_ready_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  NfltrNetworksWindow *self = user_data;
  g_autoptr(GError) error = NULL;
  GDBusObjectManager *om = nfltr_dbus_object_manager_client_new_finish (result, &error);

  if (om == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("networks: %s", error->message);
      return;
    }
  self->object_manager = om;
  g_signal_connect_object (om, "object-added", G_CALLBACK (objects_changed_cb), self, 0);
  g_signal_connect_object (om, "object-removed", G_CALLBACK (objects_changed_cb), self, 0);
  g_signal_connect_object (om, "interface-added", G_CALLBACK (objects_changed_cb), self, 0);
  collect (self);
}

NfltrNetworksWindow *
nfltr_networks_window_new (NfltrWindow *window, NfltrClient *client)
{
  NfltrNetworksWindow *self = g_object_new (NFLTR_TYPE_NETWORKS_WINDOW, "transient-for", window, NULL);
  NfltrDbusManager *manager = nfltr_client_get_manager (client);

  self->client = g_object_ref (client);
  if (manager != NULL)
    nfltr_dbus_object_manager_client_new (g_dbus_proxy_get_connection (G_DBUS_PROXY (manager)),
                                          G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE, NFLTR_SERVICE_BUS_NAME,
                                          NFLTR_SERVICE_OBJECT_PATH, self->cancellable, object_manager_ready_cb,
                                          self);
  return self;
}

GVariant *
nfltr_networks_window_describe (NfltrNetworksWindow *self)
{
  GVariantDict dict;
  GVariantBuilder networks;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "page", "s", gtk_stack_get_visible_child_name (self->stack));
  g_variant_builder_init (&networks, G_VARIANT_TYPE ("aa{sv}"));
  for (GtkWidget *group = gtk_widget_get_first_child (GTK_WIDGET (self->list)); group != NULL;
       group = gtk_widget_get_next_sibling (group))
    {
      GVariantDict n;
      GVariantBuilder peers;

      g_variant_dict_init (&n, NULL);
      g_variant_dict_insert (&n, "title", "s", adw_preferences_group_get_title (ADW_PREFERENCES_GROUP (group)));
      g_variant_dict_insert (&n, "subtitle", "s",
                             adw_preferences_group_get_description (ADW_PREFERENCES_GROUP (group)));
      g_variant_builder_init (&peers, G_VARIANT_TYPE ("a(ss)"));
      /* The group's rows: every AdwActionRow below it. */
      for (GtkWidget *w = gtk_widget_get_first_child (group); w != NULL;)
        {
          if (ADW_IS_ACTION_ROW (w))
            {
              const char *sub = adw_action_row_get_subtitle (ADW_ACTION_ROW (w));

              g_variant_builder_add (&peers, "(ss)", adw_preferences_row_get_title (ADW_PREFERENCES_ROW (w)),
                                     sub ? sub : "");
            }
          if (gtk_widget_get_first_child (w) != NULL && !ADW_IS_ACTION_ROW (w))
            w = gtk_widget_get_first_child (w);
          else
            {
              while (w != group && gtk_widget_get_next_sibling (w) == NULL)
                w = gtk_widget_get_parent (w);
              w = w == group ? NULL : gtk_widget_get_next_sibling (w);
            }
        }
      g_variant_dict_insert_value (&n, "peers", g_variant_builder_end (&peers));
      g_variant_builder_add_value (&networks, g_variant_dict_end (&n));
    }
  g_variant_dict_insert_value (&dict, "networks", g_variant_builder_end (&networks));
  return g_variant_dict_end (&dict);
}

static void
nfltr_networks_window_dispose (GObject *object)
{
  NfltrNetworksWindow *self = NFLTR_NETWORKS_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  if (self->networks != NULL)
    for (guint i = 0; i < self->networks->len; i++)
      g_signal_handlers_disconnect_by_data (self->networks->pdata[i], self);
  g_clear_pointer (&self->networks, g_ptr_array_unref);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (nfltr_networks_window_parent_class)->dispose (object);
}

static void
nfltr_networks_window_class_init (NfltrNetworksWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = nfltr_networks_window_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/xyz/nfltr/Nfltr/nfltr-networks-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NfltrNetworksWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, NfltrNetworksWindow, list);
}

static void
nfltr_networks_window_init (NfltrNetworksWindow *self)
{
  self->cancellable = g_cancellable_new ();
  self->networks = g_ptr_array_new_with_free_func (g_object_unref);
  gtk_widget_init_template (GTK_WIDGET (self));
}
