/* nfltr-window.c — the main window.
 *
 * Shows one of: connecting, service error, first run (connect to a relay), no tunnels, or the
 * tunnel list bound to the client's live model. A banner under the header bar says when the
 * relay is unreachable or refuses the key, and what to do about it. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-a11y.h"
#include "nfltr-application.h"
#include "nfltr-window-private.h"

G_DEFINE_FINAL_TYPE (NfltrWindow, nfltr_window, ADW_TYPE_APPLICATION_WINDOW)

static GtkWidget *
create_row_cb (gpointer item,
               gpointer user_data)
{
  return nfltr_tunnel_row_new (NFLTR_DBUS_TUNNEL (item));
}

static gboolean
service_gone (NfltrWindow *self)
{
  g_autofree char *owner = NULL;

  if (self->manager == NULL)
    return FALSE;
  owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->manager));
  return owner == NULL;
}

static void
nfltr_window_update_page (NfltrWindow *self)
{
  NfltrClientState state = nfltr_client_get_state (self->client);
  guint n = g_list_model_get_n_items (nfltr_client_get_tunnels (self->client));
  const char *page;

  if (state == NFLTR_CLIENT_STATE_CONNECTING)
    page = "connecting";
  else if (state == NFLTR_CLIENT_STATE_FAILED || service_gone (self))
    {
      const char *error = nfltr_client_get_error (self->client);

      page = "service-error";
      adw_status_page_set_description (self->service_error_page,
                                       state == NFLTR_CLIENT_STATE_FAILED && error
                                       ? error
                                       : _("The service stopped. Start it again to see your tunnels."));
    }
  else if (n > 0)
    page = "tunnels";
  else if (self->manager == NULL ||
           g_strcmp0 (nfltr_dbus_manager_get_relay_state (self->manager), "logged-out") == 0 ||
           nfltr_dbus_manager_get_relay_address (self->manager) == NULL ||
           *nfltr_dbus_manager_get_relay_address (self->manager) == '\0')
    page = "login";
  else
    page = "empty";

  gtk_spinner_set_spinning (self->connecting_spinner, g_str_equal (page, "connecting"));
  gtk_stack_set_visible_child_name (self->stack, page);
  _nfltr_window_update_actions (self);
}

static void
nfltr_window_set_banner (NfltrWindow *self,
                         const char  *title,
                         const char  *detail,
                         const char  *button,
                         const char  *action,
                         gboolean     error)
{
  gboolean show = title != NULL;

  if (show)
    {
      gtk_label_set_label (self->banner_label, title);
      gtk_label_set_label (self->banner_detail, detail ? detail : "");
      gtk_widget_set_visible (GTK_WIDGET (self->banner_detail), detail != NULL && *detail != '\0');
      gtk_button_set_label (self->banner_button, button);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->banner_button), action);
      if (error)
        gtk_widget_add_css_class (self->banner_box, "error");
      else
        gtk_widget_remove_css_class (self->banner_box, "error");
    }
  gtk_revealer_set_reveal_child (self->banner_revealer, show);
}

static void
nfltr_window_update_relay (NfltrWindow *self)
{
  const char *relay_state = NULL;
  const char *address = NULL;
  const char *relay_error = NULL;
  guint n = g_list_model_get_n_items (nfltr_client_get_tunnels (self->client));

  if (self->manager != NULL && !service_gone (self))
    {
      relay_state = nfltr_dbus_manager_get_relay_state (self->manager);
      address = nfltr_dbus_manager_get_relay_address (self->manager);
      relay_error = nfltr_dbus_manager_get_relay_error (self->manager);
    }
  if (address != NULL && *address == '\0')
    address = NULL;

  if (g_strcmp0 (relay_state, "connected") == 0)
    adw_view_switcher_title_set_subtitle (self->window_title, address);
  else if (g_strcmp0 (relay_state, "connecting") == 0)
    adw_view_switcher_title_set_subtitle (self->window_title, _("Connecting to the relay…"));
  else if (relay_state == NULL)
    adw_view_switcher_title_set_subtitle (self->window_title, NULL);
  else if (address == NULL)
    adw_view_switcher_title_set_subtitle (self->window_title, _("Not connected"));
  else
    adw_view_switcher_title_set_subtitle (self->window_title, address);

  if (g_strcmp0 (relay_state, "unreachable") == 0)
    {
      g_autofree char *title = g_strdup_printf (_("Cannot reach the relay %s"), address ? address : "");
      g_autofree char *detail = NULL;
      const char *advice = _("Tunnels come back by themselves once it answers. Check that the relay is running and that this computer is online.");

      if (relay_error && *relay_error)
        detail = g_strdup_printf ("%s\n%s", advice, relay_error);
      else
        detail = g_strdup (advice);
      /* Issue 9 §6: said once, here, with a way to try again now. */
      nfltr_window_set_banner (self, title, detail, _ ("_Retry Now"), "win.retry-relay", FALSE);
    }
  else if (g_strcmp0 (relay_state, "auth-failed") == 0)
    nfltr_window_set_banner (
      self, _ ("The relay refused the API key"),
      _ ("Ask the relay’s operator for a valid key and enter it in the relay settings."), _ ("_Settings"),
      "win.relay-settings", TRUE);
  else if (g_strcmp0 (relay_state, "fingerprint-mismatch") == 0)
    nfltr_window_set_banner (
      self, _ ("The relay’s certificate has changed"),
      _ ("Someone may be intercepting the connection, or the operator replaced the certificate. Check the "
         "new fingerprint with the operator before you connect again."),
      _ ("_Settings"), "win.relay-settings", TRUE);
  else if (g_strcmp0 (relay_state, "logged-out") == 0 && n > 0)
    nfltr_window_set_banner (self, _ ("Not connected to a relay"),
                             _ ("Your tunnels get public addresses once you connect."), _ ("_Connect…"),
                             "win.relay-settings", FALSE);
  else
    nfltr_window_set_banner (self, NULL, NULL, NULL, NULL, FALSE);
}

static void
on_manager_properties_changed (NfltrWindow *self)
{
  nfltr_window_update_relay (self);
  nfltr_window_update_page (self);
}

static void
on_client_manager_changed (NfltrWindow *self)
{
  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_set_object (&self->manager, nfltr_client_get_manager (self->client));
  if (self->manager != NULL)
    {
      g_signal_connect_object (self->manager, "g-properties-changed",
                               G_CALLBACK (on_manager_properties_changed), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->manager, "notify::g-name-owner",
                               G_CALLBACK (on_manager_properties_changed), self, G_CONNECT_SWAPPED);
    }
  on_manager_properties_changed (self);
}

static void
on_tunnels_changed (NfltrWindow *self)
{
  nfltr_window_update_page (self);
  nfltr_window_update_relay (self);
}

static void
on_after_paint (GdkFrameClock *clock,
                NfltrWindow   *self)
{
  self->frames++;
  if (self->first_tunnels_frame_us == 0 &&
      g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "tunnels") == 0)
    {
      self->first_tunnels_frame_us = g_get_monotonic_time ();
      /* For the launch-time measurement (tests/app): CLOCK_MONOTONIC of the first frame that
       * shows the tunnel list, to compare with the moment the test spawned us. */
      if (g_getenv ("NFLTR_APP_TIMING") != NULL)
        g_printerr ("nfltr-app: first frame with %u tunnels at monotonic %" G_GINT64_FORMAT " us\n",
                    g_list_model_get_n_items (nfltr_client_get_tunnels (self->client)),
                    self->first_tunnels_frame_us);
    }
}

static void
nfltr_window_realize (GtkWidget *widget)
{
  NfltrWindow *self = NFLTR_WINDOW (widget);

  GTK_WIDGET_CLASS (nfltr_window_parent_class)->realize (widget);
  g_signal_connect_object (gtk_widget_get_frame_clock (widget), "after-paint",
                           G_CALLBACK (on_after_paint), self, 0);
}

void
nfltr_window_save_state (NfltrWindow *self)
{
  int width, height;

  g_return_if_fail (NFLTR_IS_WINDOW (self));

  gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
  g_settings_set (self->settings, "window-size", "(ii)", width, height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (GTK_WINDOW (self)));
}

static gboolean
nfltr_window_close_request (GtkWindow *window)
{
  NfltrWindow *self = NFLTR_WINDOW (window);

  nfltr_window_save_state (self);

  /* Keep running hidden so a failing tunnel can still notify; app.quit really quits. */
  if (g_settings_get_boolean (self->settings, "run-in-background"))
    {
      gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
      return TRUE;
    }
  return GTK_WINDOW_CLASS (nfltr_window_parent_class)->close_request (window);
}

static void
nfltr_window_dispose (GObject *object)
{
  NfltrWindow *self = NFLTR_WINDOW (object);

  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->manager);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  g_clear_weak_pointer (&self->new_tunnel_dialog);
  g_clear_weak_pointer (&self->relay_dialog);
  g_clear_weak_pointer (&self->preferences);
  g_clear_weak_pointer (&self->networks_window);
  g_clear_weak_pointer (&self->a2a_window);
  g_clear_weak_pointer (&self->share_dialog);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFLTR_TYPE_WINDOW);

  G_OBJECT_CLASS (nfltr_window_parent_class)->dispose (object);
}

static void
nfltr_window_class_init (NfltrWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = nfltr_window_dispose;
  widget_class->realize = nfltr_window_realize;
  window_class->close_request = nfltr_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/xyz/nfltr/Nfltr/nfltr-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, banner_revealer);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, banner_box);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, banner_detail);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, banner_button);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, new_button);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, service_error_page);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, list_box);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, connecting_spinner);
  /* p2papp: the Transfers page */
  g_type_ensure (NFLTR_TYPE_TRANSFERS_PAGE);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, NfltrWindow, transfers_page);

  _nfltr_window_class_actions_init (klass);
}

/* p2papp: files dropped anywhere on the window are offered with P2p.Send (issue 13 §6). */
static gboolean
on_drop (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         NfltrWindow   *self)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (GSList *l = g_value_get_boxed (value); l != NULL; l = l->next)
    {
      char *path = g_file_get_path (l->data);

      if (path != NULL)
        g_ptr_array_add (paths, path);
    }
  if (paths->len == 0)
    return FALSE;
  g_ptr_array_add (paths, NULL);
  _nfltr_window_send_files (self, (const char * const *) paths->pdata);
  return TRUE;
}

void
_nfltr_window_send_files (NfltrWindow        *self,
                          const char * const *paths)
{
  adw_view_stack_set_visible_child_name (self->view_stack, "transfers");
  nfltr_transfers_page_send_files (self->transfers_page, paths);
}

static void
nfltr_window_init (NfltrWindow *self)
{
  GtkDropTarget *drop;

  gtk_widget_init_template (GTK_WIDGET (self));
  nfltr_a11y_name_mnemonic_buttons (GTK_WIDGET (self));
  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect_object (drop, "drop", G_CALLBACK (on_drop), self, 0);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}

NfltrWindow *
nfltr_window_new (AdwApplication *application,
                  NfltrClient    *client)
{
  NfltrWindow *self;
  int width = 0, height = 0;

  self = g_object_new (NFLTR_TYPE_WINDOW, "application", application, NULL);
  self->client = g_object_ref (client);
  self->settings = g_object_ref (nfltr_application_get_settings (NFLTR_APPLICATION (application)));

  g_settings_get (self->settings, "window-size", "(ii)", &width, &height);
  gtk_window_set_default_size (GTK_WINDOW (self), MAX (width, 360), MAX (height, 294));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  gtk_list_box_bind_model (self->list_box, nfltr_client_get_tunnels (client),
                           create_row_cb, self, NULL);
  nfltr_transfers_page_set_client (self->transfers_page, client);
  g_signal_connect_object (nfltr_client_get_tunnels (client), "items-changed",
                           G_CALLBACK (on_tunnels_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::state",
                           G_CALLBACK (on_tunnels_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::manager",
                           G_CALLBACK (on_client_manager_changed), self, G_CONNECT_SWAPPED);
  on_client_manager_changed (self);

  return self;
}

void
nfltr_window_add_toast (NfltrWindow *self,
                        const char  *message)
{
  g_return_if_fail (NFLTR_IS_WINDOW (self));
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

void
nfltr_window_show_new_tunnel (NfltrWindow *self)
{
  g_return_if_fail (NFLTR_IS_WINDOW (self));

  if (self->new_tunnel_dialog == NULL)
    {
      NfltrNewTunnelDialog *dialog = nfltr_new_tunnel_dialog_new (self, self->client, self->settings);

      g_set_weak_pointer (&self->new_tunnel_dialog, dialog);
    }
  gtk_window_present (GTK_WINDOW (self->new_tunnel_dialog));
}

void
nfltr_window_show_relay_settings (NfltrWindow *self)
{
  g_return_if_fail (NFLTR_IS_WINDOW (self));

  if (self->relay_dialog == NULL)
    {
      NfltrRelayDialog *dialog = nfltr_relay_dialog_new (self, self->client, self->settings);

      g_set_weak_pointer (&self->relay_dialog, dialog);
    }
  gtk_window_present (GTK_WINDOW (self->relay_dialog));
}

void
nfltr_window_show_preferences (NfltrWindow *self)
{
  g_return_if_fail (NFLTR_IS_WINDOW (self));

  if (self->preferences == NULL)
    {
      NfltrPreferencesWindow *prefs = nfltr_preferences_window_new (GTK_WINDOW (self), self->settings,
                                                                    self->client);

      g_set_weak_pointer (&self->preferences, prefs);
    }
  gtk_window_present (GTK_WINDOW (self->preferences));
}

/* p2papp: Share a File or Text… (issue 10) */
void
_nfltr_window_show_share (NfltrWindow *self)
{
  g_return_if_fail (NFLTR_IS_WINDOW (self));

  if (self->share_dialog == NULL)
    {
      NfltrShareDialog *dialog = nfltr_share_dialog_new (GTK_WINDOW (self), self->client);

      g_set_weak_pointer (&self->share_dialog, dialog);
    }
  gtk_window_present (GTK_WINDOW (self->share_dialog));
}

void
nfltr_window_show_networks (NfltrWindow *self)
{
  g_return_if_fail (NFLTR_IS_WINDOW (self));

  if (self->networks_window == NULL)
    {
      NfltrNetworksWindow *window = nfltr_networks_window_new (self, self->client);

      g_set_weak_pointer (&self->networks_window, window);
    }
  gtk_window_present (GTK_WINDOW (self->networks_window));
}

/* issue 15: the Conversations window (app/a2a/). */
void
nfltr_window_show_conversations (NfltrWindow *self)
{
  if (self->a2a_window == NULL)
    g_set_weak_pointer (&self->a2a_window, nfltr_a2a_window_new (self, self->client));
  gtk_window_present (GTK_WINDOW (self->a2a_window));
}

NfltrTunnelRow *
_nfltr_window_find_row (NfltrWindow *self,
                        const char  *id_or_name)
{
  NfltrDbusTunnel *tunnel = nfltr_client_find_tunnel (self->client, id_or_name);

  if (tunnel == NULL)
    return NULL;
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->list_box));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (NFLTR_IS_TUNNEL_ROW (child) && nfltr_tunnel_row_get_tunnel (NFLTR_TUNNEL_ROW (child)) == tunnel)
      return NFLTR_TUNNEL_ROW (child);
  return NULL;
}

/* What the window shows, for the tests (app.test-state): the same strings a person reads. */
GVariant *
_nfltr_window_describe (NfltrWindow *self)
{
  GVariantDict dict;
  GVariantBuilder rows;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "page", "s", gtk_stack_get_visible_child_name (self->stack));
  g_variant_dict_insert (&dict, "visible", "b", gtk_widget_get_visible (GTK_WIDGET (self)));
  g_variant_dict_insert (&dict, "width", "i", gtk_widget_get_width (GTK_WIDGET (self)));
  g_variant_dict_insert (&dict, "banner-visible", "b", gtk_revealer_get_reveal_child (self->banner_revealer));
  g_variant_dict_insert (&dict, "banner-title", "s", gtk_label_get_label (self->banner_label));
  g_variant_dict_insert (&dict, "banner-button", "s", gtk_button_get_label (self->banner_button));
  g_variant_dict_insert (&dict, "new-tunnel-enabled", "b",
                         gtk_widget_is_sensitive (GTK_WIDGET (self->new_button)));
  g_variant_dict_insert (&dict, "new-tunnel-tooltip", "s",
                         gtk_widget_get_tooltip_text (GTK_WIDGET (self->new_button)));
  g_variant_dict_insert (&dict, "banner-detail", "s", gtk_label_get_label (self->banner_detail));
  g_variant_dict_insert (&dict, "subtitle", "s",
                         adw_view_switcher_title_get_subtitle (self->window_title)
                           ? adw_view_switcher_title_get_subtitle (self->window_title)
                           : "");
  g_variant_dict_insert (&dict, "frames", "t", self->frames);
  g_variant_dict_insert (&dict, "first-tunnels-frame-us", "x", self->first_tunnels_frame_us);

  g_variant_builder_init (&rows, G_VARIANT_TYPE ("aa{sv}"));
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->list_box));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (NFLTR_IS_TUNNEL_ROW (child))
      g_variant_builder_add_value (&rows, nfltr_tunnel_row_describe (NFLTR_TUNNEL_ROW (child)));
  g_variant_dict_insert_value (&dict, "rows", g_variant_builder_end (&rows));

  if (self->new_tunnel_dialog != NULL)
    g_variant_dict_insert_value (&dict, "new-tunnel-dialog",
                                 nfltr_new_tunnel_dialog_describe (self->new_tunnel_dialog));
  if (self->relay_dialog != NULL)
    g_variant_dict_insert_value (&dict, "relay-dialog",
                                 nfltr_relay_dialog_describe (self->relay_dialog));
  if (self->preferences != NULL)
    g_variant_dict_insert_value (&dict, "preferences",
                                 nfltr_preferences_window_describe (self->preferences));
  if (self->networks_window != NULL)
    g_variant_dict_insert_value (&dict, "networks-window",
                                 nfltr_networks_window_describe (self->networks_window));
  if (self->a2a_window != NULL)
    g_variant_dict_insert_value (&dict, "conversations-window", nfltr_a2a_window_describe (self->a2a_window));
  /* p2papp */
  g_variant_dict_insert (&dict, "view", "s", adw_view_stack_get_visible_child_name (self->view_stack));
  g_variant_dict_insert_value (&dict, "transfers", nfltr_transfers_page_describe (self->transfers_page));
  if (self->share_dialog != NULL)
    g_variant_dict_insert_value (&dict, "share-dialog", nfltr_share_dialog_describe (self->share_dialog));

  return g_variant_dict_end (&dict);
}
