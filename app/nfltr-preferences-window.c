/* nfltr-preferences-window.c — see nfltr-preferences-window.h. */
#define G_LOG_DOMAIN "nfltr-app"

#include "nfltr-preferences-window.h"

#include <glib/gi18n.h>

#include "nfltr-autostart.h"
#include "nfltr-format.h"

struct _NfltrPreferencesWindow {
  AdwPreferencesWindow parent_instance;

  GtkWindow *main_window;
  GSettings *settings;
  NfltrClient *client;

  GtkSwitch *start_at_login_switch;
  GtkSwitch *run_in_background_switch;
  AdwActionRow *relay_row;
  gboolean updating;
};

G_DEFINE_FINAL_TYPE (NfltrPreferencesWindow, nfltr_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
update_relay_row (NfltrPreferencesWindow *self)
{
  NfltrDbusManager *manager = nfltr_client_get_manager (self->client);
  const char *address = manager != NULL ? nfltr_dbus_manager_get_relay_address (manager) : NULL;

  adw_action_row_set_subtitle (self->relay_row, address != NULL && *address != '\0'
                                                  ? address
                                                  : _("Not connected to a relay"));
}

static void
on_start_at_login (NfltrPreferencesWindow *self)
{
  g_autoptr (GError) error = NULL;
  gboolean wanted = gtk_switch_get_active (self->start_at_login_switch);

  if (self->updating)
    return;
  if (!nfltr_autostart_set_enabled (wanted, &error))
    {
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (error->message));
      self->updating = TRUE;
      gtk_switch_set_active (self->start_at_login_switch, nfltr_autostart_is_enabled ());
      self->updating = FALSE;
    }
}

static void
change_relay_clicked (NfltrPreferencesWindow *self)
{
  gtk_window_close (GTK_WINDOW (self));
  gtk_widget_activate_action (GTK_WIDGET (self->main_window), "win.relay-settings", NULL);
}

void
nfltr_preferences_window_set (NfltrPreferencesWindow *self, const char *key, gboolean value)
{
  if (g_str_equal (key, "start-at-login"))
    gtk_switch_set_active (self->start_at_login_switch, value);
  else if (g_str_equal (key, "run-in-background"))
    gtk_switch_set_active (self->run_in_background_switch, value);
}

GVariant *
nfltr_preferences_window_describe (NfltrPreferencesWindow *self)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "start-at-login", "b", gtk_switch_get_active (self->start_at_login_switch));
  g_variant_dict_insert (&dict, "run-in-background", "b", gtk_switch_get_active (self->run_in_background_switch));
  g_variant_dict_insert (&dict, "relay", "s", adw_action_row_get_subtitle (self->relay_row));
  return g_variant_dict_end (&dict);
}

static void
nfltr_preferences_window_dispose (GObject *object)
{
  NfltrPreferencesWindow *self = NFLTR_PREFERENCES_WINDOW (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->settings);
  g_clear_object (&self->client);
  g_clear_weak_pointer (&self->main_window);
  G_OBJECT_CLASS (nfltr_preferences_window_parent_class)->dispose (object);
}

static void
nfltr_preferences_window_class_init (NfltrPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfltr_preferences_window_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/xyz/nfltr/Nfltr/nfltr-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NfltrPreferencesWindow, start_at_login_switch);
  gtk_widget_class_bind_template_child (widget_class, NfltrPreferencesWindow, run_in_background_switch);
  gtk_widget_class_bind_template_child (widget_class, NfltrPreferencesWindow, relay_row);
  gtk_widget_class_bind_template_callback (widget_class, on_start_at_login);
  gtk_widget_class_bind_template_callback (widget_class, change_relay_clicked);
}

static void
nfltr_preferences_window_init (NfltrPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

NfltrPreferencesWindow *
nfltr_preferences_window_new (GtkWindow *main_window, GSettings *settings, NfltrClient *client)
{
  NfltrPreferencesWindow *self = g_object_new (NFLTR_TYPE_PREFERENCES_WINDOW,
                                               "transient-for", main_window, "modal", TRUE, NULL);

  g_set_weak_pointer (&self->main_window, main_window);
  self->settings = g_object_ref (settings);
  self->client = g_object_ref (client);
  self->updating = TRUE;
  gtk_switch_set_active (self->start_at_login_switch, nfltr_autostart_is_enabled ());
  self->updating = FALSE;
  g_settings_bind (settings, "run-in-background", self->run_in_background_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  update_relay_row (self);
  return self;
}
