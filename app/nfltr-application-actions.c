/* nfltr-application-actions.c — the app.* actions.
 *
 * GtkApplication exports these on the session bus (org.gtk.Actions at /xyz/nfltr/Nfltr).
 * With NFLTR_APP_TEST=1 a second set lets tests/app drive the real widgets (the switch, the
 * dialogs' fields and buttons) and read back what the window shows (app.test-state). */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-application-private.h"
#include "nfltr-window-private.h"

static void
quit_activated (GSimpleAction *action,
                GVariant      *param,
                gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
show_window_activated (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       user_data)
{
  g_application_activate (G_APPLICATION (user_data));
}

static void
new_tunnel_activated (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  NfltrWindow *window = _nfltr_application_get_window (NFLTR_APPLICATION (user_data));

  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.new-tunnel", NULL);
}

static void
relay_settings_activated (GSimpleAction *action,
                          GVariant      *param,
                          gpointer       user_data)
{
  NfltrWindow *window = _nfltr_application_get_window (NFLTR_APPLICATION (user_data));

  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.relay-settings", NULL);
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  NfltrWindow *window = _nfltr_application_get_window (NFLTR_APPLICATION (user_data));
  const char *developers[] = { "The NFLTR developers", NULL };

  adw_show_about_window (GTK_WINDOW (window),
                         "application-name", _("NFLTR"),
                         "application-icon", NFLTR_APP_ID,
                         "version", PACKAGE_VERSION,
                         "comments", _("Put a local server on the web, end-to-end encrypted"),
                         "developers", developers,
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static const GActionEntry app_entries[] = {
  { "quit", quit_activated },
  { "show-window", show_window_activated },
  { "new-tunnel", new_tunnel_activated },
  { "relay-settings", relay_settings_activated },
  { "about", about_activated },
};

/* ---- test actions (NFLTR_APP_TEST=1) ---------------------------------------------------- */

static void
test_state_activated (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "client-state", "i", nfltr_client_get_state (self->client));
  if (self->window != NULL)
    g_variant_dict_insert_value (&dict, "window", _nfltr_window_describe (self->window));
  g_simple_action_set_state (action, g_variant_dict_end (&dict));
}

static void
test_toggle_activated (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);
  const char *id;
  gboolean on;
  NfltrTunnelRow *row;

  g_variant_get (param, "(&sb)", &id, &on);
  if (self->window == NULL || (row = _nfltr_window_find_row (self->window, id)) == NULL)
    {
      g_message ("test-toggle: no row for %s", id);
      return;
    }
  nfltr_tunnel_row_request_active (row, on);
}

static void
test_expand_activated (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);
  const char *id;
  gboolean on;
  NfltrTunnelRow *row;

  g_variant_get (param, "(&sb)", &id, &on);
  if (self->window == NULL || (row = _nfltr_window_find_row (self->window, id)) == NULL)
    {
      g_message ("test-expand: no row for %s", id);
      return;
    }
  nfltr_tunnel_row_set_expanded (row, on);
}

/* The row's own actions (the copy and open buttons' row.copy-url, row.open-url, row.remove). */
static void
test_row_action_activated (GSimpleAction *action,
                           GVariant      *param,
                           gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);
  const char *id;
  const char *name;
  NfltrTunnelRow *row;

  g_variant_get (param, "(&s&s)", &id, &name);
  if (self->window == NULL || (row = _nfltr_window_find_row (self->window, id)) == NULL)
    {
      g_message ("test-row-action: no row for %s", id);
      return;
    }
  gtk_widget_activate_action (GTK_WIDGET (row), name, NULL);
}

static void
test_fill_new_tunnel_activated (GSimpleAction *action,
                                GVariant      *param,
                                gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);

  if (self->window != NULL && self->window->new_tunnel_dialog != NULL)
    nfltr_new_tunnel_dialog_fill (self->window->new_tunnel_dialog, param);
}

static void
test_create_activated (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);

  if (self->window != NULL && self->window->new_tunnel_dialog != NULL)
    gtk_widget_activate_action (GTK_WIDGET (self->window->new_tunnel_dialog), "dialog.create", NULL);
}

static void
test_fill_relay_activated (GSimpleAction *action,
                           GVariant      *param,
                           gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);

  if (self->window != NULL && self->window->relay_dialog != NULL)
    nfltr_relay_dialog_fill (self->window->relay_dialog, param);
}

static void
test_relay_next_activated (GSimpleAction *action,
                           GVariant      *param,
                           gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);

  if (self->window != NULL && self->window->relay_dialog != NULL)
    gtk_widget_activate_action (GTK_WIDGET (self->window->relay_dialog), "dialog.next", NULL);
}

static void
test_close_activated (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);

  if (self->window != NULL)
    gtk_window_close (GTK_WINDOW (self->window));
}

static void
test_close_dialogs_activated (GSimpleAction *action,
                              GVariant      *param,
                              gpointer       user_data)
{
  NfltrApplication *self = NFLTR_APPLICATION (user_data);

  if (self->window == NULL)
    return;
  if (self->window->new_tunnel_dialog != NULL)
    gtk_window_close (GTK_WINDOW (self->window->new_tunnel_dialog));
  if (self->window->relay_dialog != NULL)
    gtk_window_close (GTK_WINDOW (self->window->relay_dialog));
}

static const GActionEntry test_entries[] = {
  { "test-state", test_state_activated, NULL, "@a{sv} {}" },
  { "test-toggle", test_toggle_activated, "(sb)" },
  { "test-expand", test_expand_activated, "(sb)" },
  { "test-row-action", test_row_action_activated, "(ss)" },
  { "test-fill-new-tunnel", test_fill_new_tunnel_activated, "a{sv}" },
  { "test-create", test_create_activated },
  { "test-fill-relay", test_fill_relay_activated, "a{sv}" },
  { "test-relay-next", test_relay_next_activated },
  { "test-close", test_close_activated },
  { "test-close-dialogs", test_close_dialogs_activated },
};

void
_nfltr_application_actions_init (NfltrApplication *self)
{
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *new_accels[] = { "<Control>n", NULL };
  static const char *relay_accels[] = { "<Control>comma", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_entries, G_N_ELEMENTS (app_entries), self);
  if (g_strcmp0 (g_getenv ("NFLTR_APP_TEST"), "1") == 0)
    g_action_map_add_action_entries (G_ACTION_MAP (self), test_entries, G_N_ELEMENTS (test_entries), self);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.new-tunnel", new_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.relay-settings", relay_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);
}
