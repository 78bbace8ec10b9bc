/* nfltr-application-actions.c — the app.* actions.
 *
 * GtkApplication exports these on the session bus (org.gtk.Actions at /xyz/nfltr/Nfltr).
 * With NFLTR_APP_TEST=1 a second set lets tests/app drive the real widgets (the switch, the
 * dialogs' fields and buttons) and read back what the window shows (app.test-state). */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-application-private.h"
#include "nfltr-window-private.h"
#include "calls/nfltr-calls.h" /* issue 14 */

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

/* app.new-tunnel and app.relay-settings, reachable from outside the window (org.gtk.Actions):
 * the window's action of the same name, with the window brought to the front. */
static void
window_action_activated (GSimpleAction *action,
                         GVariant      *param,
                         gpointer       user_data)
{
  NfltrWindow *window = _nfltr_application_get_window (NFLTR_APPLICATION (user_data));
  g_autofree char *name = g_strconcat ("win.", g_action_get_name (G_ACTION (action)), NULL);

  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), name, NULL);
}

/* p2papp: app.send-files (as), for the shell and the tests: what a drop on the window does. */
static void
send_files_activated (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  NfltrWindow *window = _nfltr_application_get_window (NFLTR_APPLICATION (user_data));

  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action_variant (GTK_WIDGET (window), "win.send-files", param);
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
  { "new-tunnel", window_action_activated },
  { "relay-settings", window_action_activated },
  { "preferences", window_action_activated },
  { "networks", window_action_activated },
  { "conversations", window_action_activated },
  { "share", window_action_activated },          /* p2papp */
  { "show-transfers", window_action_activated }, /* p2papp: the transfer notifications */
  { "send-files", send_files_activated, "as" },  /* p2papp */
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

/* The row of tunnel id, or NULL with a line in the log that names the action. */
static NfltrTunnelRow *
test_find_row (NfltrApplication *self,
               GSimpleAction    *action,
               const char       *id)
{
  NfltrTunnelRow *row = self->window != NULL ? _nfltr_window_find_row (self->window, id) : NULL;

  if (row == NULL)
    g_message ("%s: no row for %s", g_action_get_name (G_ACTION (action)), id);
  return row;
}

/* test-toggle (the row's switch) and test-expand (its details), both (id, on). */
static void
test_row_flag_activated (GSimpleAction *action,
                         GVariant      *param,
                         gpointer       user_data)
{
  const char *id;
  gboolean on;
  NfltrTunnelRow *row;

  g_variant_get (param, "(&sb)", &id, &on);
  if ((row = test_find_row (NFLTR_APPLICATION (user_data), action, id)) == NULL)
    return;
  if (g_str_equal (g_action_get_name (G_ACTION (action)), "test-toggle"))
    nfltr_tunnel_row_request_active (row, on);
  else
    nfltr_tunnel_row_set_expanded (row, on);
}

/* The row's own actions (the copy and open buttons' row.copy-url, row.open-url, row.remove). */
static void
test_row_action_activated (GSimpleAction *action,
                           GVariant      *param,
                           gpointer       user_data)
{
  const char *id;
  const char *name;
  NfltrTunnelRow *row;

  g_variant_get (param, "(&s&s)", &id, &name);
  if ((row = test_find_row (NFLTR_APPLICATION (user_data), action, id)) != NULL)
    gtk_widget_activate_action (GTK_WIDGET (row), name, NULL);
}

/* test-fill-new-tunnel and test-fill-relay: the open dialog's fields from an a{sv}. */
static void
test_fill_activated (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       user_data)
{
  NfltrWindow *window = NFLTR_APPLICATION (user_data)->window;

  if (window == NULL)
    return;
  if (g_str_equal (g_action_get_name (G_ACTION (action)), "test-fill-relay"))
    {
      if (window->relay_dialog != NULL)
        nfltr_relay_dialog_fill (window->relay_dialog, param);
    }
  else if (window->new_tunnel_dialog != NULL)
    nfltr_new_tunnel_dialog_fill (window->new_tunnel_dialog, param);
}

/* test-create and test-relay-next: the open dialog's main button; test-relay-logout its
 * Log Out button. */
static void
test_press_activated (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  NfltrWindow *window = NFLTR_APPLICATION (user_data)->window;
  const char *name = g_action_get_name (G_ACTION (action));
  gboolean relay = g_str_has_prefix (name, "test-relay-");
  GtkWidget *dialog;

  if (window == NULL)
    return;
  dialog = relay ? GTK_WIDGET (window->relay_dialog) : GTK_WIDGET (window->new_tunnel_dialog);
  if (dialog != NULL)
    gtk_widget_activate_action (dialog,
                                g_str_equal (name, "test-relay-logout") ? "dialog.logout"
                                : relay                                 ? "dialog.next"
                                                                        : "dialog.create",
                                NULL);
}

/* test-banner-button: clicks the window banner's button, as a person would. */
static void
test_banner_button_activated (GSimpleAction *action,
                              GVariant      *param,
                              gpointer       user_data)
{
  NfltrWindow *window = NFLTR_APPLICATION (user_data)->window;

  if (window != NULL)
    gtk_widget_activate (GTK_WIDGET (window->banner_button));
}

/* test-pref (sb): flips a Preferences switch as a click would. */
static void
test_pref_activated (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       user_data)
{
  NfltrWindow *window = NFLTR_APPLICATION (user_data)->window;
  const char *key;
  gboolean value;

  g_variant_get (param, "(&sb)", &key, &value);
  if (window != NULL && window->preferences != NULL)
    nfltr_preferences_window_set (window->preferences, key, value);
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
  if (self->window->preferences != NULL)
    gtk_window_close (GTK_WINDOW (self->window->preferences));
}

/* p2papp: test-transfers (a{sv}: nfltr_transfers_page_test's keys) and test-share
 * (a{sv}: opens Share a File or Text… and fills it, nfltr_share_dialog_fill). */
static void
test_transfers_activated (GSimpleAction *action,
                          GVariant      *param,
                          gpointer       user_data)
{
  NfltrWindow *window = NFLTR_APPLICATION (user_data)->window;

  if (window != NULL)
    nfltr_transfers_page_test (window->transfers_page, param);
}

static void
test_share_activated (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  NfltrWindow *window = NFLTR_APPLICATION (user_data)->window;

  if (window == NULL)
    return;
  _nfltr_window_show_share (window);
  nfltr_share_dialog_fill (window->share_dialog, param);
}

static const GActionEntry test_entries[] = {
  { "test-state", test_state_activated, NULL, "@a{sv} {}" },
  { "test-toggle", test_row_flag_activated, "(sb)" },
  { "test-expand", test_row_flag_activated, "(sb)" },
  { "test-row-action", test_row_action_activated, "(ss)" },
  { "test-fill-new-tunnel", test_fill_activated, "a{sv}" },
  { "test-create", test_press_activated },
  { "test-fill-relay", test_fill_activated, "a{sv}" },
  { "test-relay-next", test_press_activated },
  { "test-relay-logout", test_press_activated },
  { "test-banner-button", test_banner_button_activated },
  { "test-pref", test_pref_activated, "(sb)" },
  { "test-close", test_close_activated },
  { "test-close-dialogs", test_close_dialogs_activated },
  { "test-transfers", test_transfers_activated, "a{sv}" },
  { "test-share", test_share_activated, "a{sv}" },
};

void
_nfltr_application_actions_init (NfltrApplication *self)
{
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *new_accels[] = { "<Control>n", NULL };
  static const char *relay_accels[] = { "<Control>comma", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_entries, G_N_ELEMENTS (app_entries), self);
  nfltr_calls_init (GTK_APPLICATION (self)); /* issue 14: app.start-call, app.join-call (calls/) */
  if (g_strcmp0 (g_getenv ("NFLTR_APP_TEST"), "1") == 0)
    g_action_map_add_action_entries (G_ACTION_MAP (self), test_entries, G_N_ELEMENTS (test_entries), self);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.new-tunnel", new_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.relay-settings", relay_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);
}
