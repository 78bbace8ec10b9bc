/* nfltr-window-actions.c — the win.* actions. */
#define G_LOG_DOMAIN "nfltr-app"

#include "nfltr-window-private.h"

#include <glib/gi18n.h>

static void
new_tunnel_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *param)
{
  nfltr_window_show_new_tunnel (NFLTR_WINDOW (widget));
}

static void
relay_settings_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *param)
{
  nfltr_window_show_relay_settings (NFLTR_WINDOW (widget));
}

static void
networks_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *param)
{
  nfltr_window_show_networks (NFLTR_WINDOW (widget));
}

static void
conversations_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *param)
{
  nfltr_window_show_conversations (NFLTR_WINDOW (widget));
}

static void
reconnect_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *param)
{
  nfltr_client_connect (NFLTR_WINDOW (widget)->client);
}

static void
preferences_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *param)
{
  nfltr_window_show_preferences (NFLTR_WINDOW (widget));
}

static void
retry_relay_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *param)
{
  NfltrWindow *self = NFLTR_WINDOW (widget);

  if (self->manager != NULL)
    nfltr_dbus_manager_call_retry_relay (self->manager, NULL, NULL, NULL);
}

/* p2papp: win.send-files (as): what a drop on the window does, by name, for the shell and
 * the tests; win.share; win.show-transfers. */
static void
send_files_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *param)
{
  g_autofree const char **paths = g_variant_get_strv (param, NULL);

  _nfltr_window_send_files (NFLTR_WINDOW (widget), paths);
}

static void
share_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *param)
{
  _nfltr_window_show_share (NFLTR_WINDOW (widget));
}

static void
show_transfers_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *param)
{
  adw_view_stack_set_visible_child_name (NFLTR_WINDOW (widget)->view_stack, "transfers");
}

void
_nfltr_window_update_actions (NfltrWindow *self)
{
  gboolean ready = nfltr_client_get_state (self->client) == NFLTR_CLIENT_STATE_READY &&
                   self->manager != NULL;
  const char *address = ready ? nfltr_dbus_manager_get_relay_address (self->manager) : NULL;
  /* Issue 9 §6: a tunnel needs a relay; say so on the button instead of failing later. */
  gboolean logged_in = ready && address != NULL && *address != '\0' &&
                       g_strcmp0 (nfltr_dbus_manager_get_relay_state (self->manager), "logged-out") != 0;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.new-tunnel", logged_in);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->new_button),
                               logged_in ? _("New Tunnel")
                                         : _("New Tunnel — connect to a relay first (Ctrl+,)"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.relay-settings", ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.networks", ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.share", logged_in);
}

void
_nfltr_window_class_actions_init (NfltrWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_install_action (widget_class, "win.new-tunnel", NULL, new_tunnel_action);
  gtk_widget_class_install_action (widget_class, "win.relay-settings", NULL, relay_settings_action);
  gtk_widget_class_install_action (widget_class, "win.reconnect", NULL, reconnect_action);
  gtk_widget_class_install_action (widget_class, "win.retry-relay", NULL, retry_relay_action);
  gtk_widget_class_install_action (widget_class, "win.preferences", NULL, preferences_action);
  gtk_widget_class_install_action (widget_class, "win.networks", NULL, networks_action);
  gtk_widget_class_install_action (widget_class, "win.conversations", NULL, conversations_action);
  gtk_widget_class_install_action (widget_class, "win.send-files", "as", send_files_action);
  gtk_widget_class_install_action (widget_class, "win.share", NULL, share_action);
  gtk_widget_class_install_action (widget_class, "win.show-transfers", NULL, show_transfers_action);

  /* Ctrl+N, Ctrl+, and Ctrl+W are application accels (nfltr-application-actions.c). */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_r, GDK_CONTROL_MASK, "win.reconnect", NULL);
}
