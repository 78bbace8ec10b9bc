/* nfltr-relay-dialog.c — connecting to a relay, first run and later.
 *
 * Two steps, so the user sees what they are about to trust: Next probes the relay
 * (Manager.ProbeRelay) and shows its certificate fingerprint; "Trust and Connect" logs in
 * (Manager.Login) pinning exactly that fingerprint, so a different certificate presented in
 * between is refused by the service rather than silently trusted. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-a11y.h"
#include "nfltr-error.h"
#include "nfltr-fingerprint.h"
#include "nfltr-format.h"
#include "nfltr-relay-dialog.h"

#include "nfltr-confirm.h"
#include "nfltr-window.h"

typedef enum {
  STEP_ENTER,
  STEP_CONFIRM,
} Step;

struct _NfltrRelayDialog
{
  AdwWindow parent_instance;

  NfltrWindow *window; /* weak */
  NfltrClient *client;
  GSettings *settings;
  GCancellable *cancellable;
  Step step;
  gboolean busy;
  char *fingerprint;

  GtkButton *next_button;
  GtkSpinner *spinner;
  AdwEntryRow *address_row;
  AdwPasswordEntryRow *key_row;
  AdwPreferencesGroup *fingerprint_group;
  GtkLabel *fingerprint_label;
  GtkLabel *subject_label;
  GtkLabel *error_label;
  AdwPreferencesGroup *account_group;
};

G_DEFINE_FINAL_TYPE (NfltrRelayDialog, nfltr_relay_dialog, ADW_TYPE_WINDOW)

static void
nfltr_relay_dialog_update (NfltrRelayDialog *self)
{
  const char *address = gtk_editable_get_text (GTK_EDITABLE (self->address_row));
  const char *key = gtk_editable_get_text (GTK_EDITABLE (self->key_row));
  NfltrDbusManager *manager = nfltr_client_get_manager (self->client);
  const char *current = manager ? nfltr_dbus_manager_get_relay_address (manager) : NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->fingerprint_group), self->step == STEP_CONFIRM);
  gtk_button_set_label (self->next_button,
                        self->step == STEP_CONFIRM ? _("_Trust and Connect") : _("_Next"));
  nfltr_a11y_name_mnemonic_buttons (GTK_WIDGET (self->next_button));
  /* see nfltr_new_tunnel_dialog_set_busy(): no focused GtkText may turn insensitive */
  if (self->busy)
    gtk_window_set_focus (GTK_WINDOW (self), NULL);
  gtk_spinner_set_spinning (self->spinner, self->busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->address_row), !self->busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->key_row), !self->busy);
  gtk_widget_set_visible (GTK_WIDGET (self->account_group), current != NULL && *current != '\0');
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.next",
                                 !self->busy && *address != '\0' && *key != '\0' && manager != NULL);
}

static void
nfltr_relay_dialog_show_error (NfltrRelayDialog *self,
                               const GError     *error)
{
  g_autofree char *message = nfltr_format_error (error);

  gtk_label_set_label (self->error_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
}

static void
on_address_changed (NfltrRelayDialog *self)
{
  /* A different relay needs its own fingerprint check. */
  self->step = STEP_ENTER;
  g_clear_pointer (&self->fingerprint, g_free);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  nfltr_relay_dialog_update (self);
}

static void
on_key_changed (NfltrRelayDialog *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  nfltr_relay_dialog_update (self);
}

static void
probe_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(NfltrRelayDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *shown = NULL;

  if (!nfltr_dbus_manager_call_probe_relay_finish (NFLTR_DBUS_MANAGER (source), &fingerprint,
                                                   &subject, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      self->busy = FALSE;
      nfltr_relay_dialog_show_error (self, error);
      nfltr_relay_dialog_update (self);
      return;
    }

  self->busy = FALSE;
  self->step = STEP_CONFIRM;
  g_free (self->fingerprint);
  self->fingerprint = g_steal_pointer (&fingerprint);
  shown = nfltr_fingerprint_format_display (self->fingerprint);
  gtk_label_set_label (self->fingerprint_label, shown);
  if (subject && *subject)
    {
      g_autofree char *text = g_strdup_printf (_("Certificate subject: %s"), subject);
      gtk_label_set_label (self->subject_label, text);
    }
  else
    gtk_label_set_label (self->subject_label, "");
  nfltr_relay_dialog_update (self);
}

static void
login_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(NfltrRelayDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *fingerprint = NULL;

  if (!nfltr_dbus_manager_call_login_finish (NFLTR_DBUS_MANAGER (source), &fingerprint, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      self->busy = FALSE;
      /* The certificate changed between probe and login: show the new one afresh. */
      if (g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH))
        self->step = STEP_ENTER;
      nfltr_relay_dialog_show_error (self, error);
      nfltr_relay_dialog_update (self);
      return;
    }

  g_settings_set_string (self->settings, "last-relay",
                         gtk_editable_get_text (GTK_EDITABLE (self->address_row)));
  if (self->window != NULL)
    nfltr_window_add_toast (self->window, _("Connected to the relay"));
  gtk_window_close (GTK_WINDOW (self));
}

static void
next_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  NfltrRelayDialog *self = NFLTR_RELAY_DIALOG (widget);
  NfltrDbusManager *manager = nfltr_client_get_manager (self->client);
  const char *address = gtk_editable_get_text (GTK_EDITABLE (self->address_row));
  const char *key = gtk_editable_get_text (GTK_EDITABLE (self->key_row));

  if (manager == NULL || self->busy || *address == '\0' || *key == '\0')
    return;

  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  self->busy = TRUE;
  if (self->step == STEP_ENTER)
    nfltr_dbus_manager_call_probe_relay (manager, address, self->cancellable,
                                         probe_cb, g_object_ref (self));
  else
    nfltr_dbus_manager_call_login (manager, address, key, self->fingerprint,
                                   self->cancellable, login_cb, g_object_ref (self));
  nfltr_relay_dialog_update (self);
}

static void
logout_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(NfltrRelayDialog) self = user_data;
  g_autoptr(GError) error = NULL;

  self->busy = FALSE;
  if (!nfltr_dbus_manager_call_logout_finish (NFLTR_DBUS_MANAGER (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        nfltr_relay_dialog_show_error (self, error);
      nfltr_relay_dialog_update (self);
      return;
    }
  if (self->window != NULL)
    nfltr_window_add_toast (self->window, _("Logged out of the relay"));
  gtk_window_close (GTK_WINDOW (self));
}

static void
logout_confirmed (GObject *target)
{
  NfltrRelayDialog *self = NFLTR_RELAY_DIALOG (target);
  NfltrDbusManager *manager = nfltr_client_get_manager (self->client);

  if (manager == NULL || self->busy)
    return;
  self->busy = TRUE;
  nfltr_dbus_manager_call_logout (manager, self->cancellable, logout_cb, g_object_ref (self));
  nfltr_relay_dialog_update (self);
}

/* Issue 9 §5: logging out deletes the API key from this computer; never without saying so. */
static void
logout_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrRelayDialog *self = NFLTR_RELAY_DIALOG (widget);

  if (self->busy)
    return;
  nfltr_confirm (widget, _ ("Log Out"), _ ("Log out of the relay?"),
                 _ ("Your tunnels go offline, and the API key is deleted from this computer. "
                    "Keep a copy of it: you need it to log in again, and the relay shows it only once."),
                 _ ("_Log Out"), G_OBJECT (self), logout_confirmed);
}

static void
nfltr_relay_dialog_dispose (GObject *object)
{
  NfltrRelayDialog *self = NFLTR_RELAY_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_weak_pointer (&self->window);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFLTR_TYPE_RELAY_DIALOG);

  G_OBJECT_CLASS (nfltr_relay_dialog_parent_class)->dispose (object);
}

static void
nfltr_relay_dialog_finalize (GObject *object)
{
  NfltrRelayDialog *self = NFLTR_RELAY_DIALOG (object);

  g_free (self->fingerprint);

  G_OBJECT_CLASS (nfltr_relay_dialog_parent_class)->finalize (object);
}

/* Drop the focus before the window goes: GTK 4.8 warns when a focused GtkText is destroyed
 * without having seen a focus-out (which it does not get without a window manager). */
static gboolean
nfltr_relay_dialog_close_request (GtkWindow *window)
{
  gtk_window_set_focus (window, NULL);
  return GTK_WINDOW_CLASS (nfltr_relay_dialog_parent_class)->close_request (window);
}

static void
nfltr_relay_dialog_class_init (NfltrRelayDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfltr_relay_dialog_dispose;
  object_class->finalize = nfltr_relay_dialog_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = nfltr_relay_dialog_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/xyz/nfltr/Nfltr/nfltr-relay-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, NfltrRelayDialog, next_button);
  gtk_widget_class_bind_template_child (widget_class, NfltrRelayDialog, spinner);
  gtk_widget_class_bind_template_child (widget_class, NfltrRelayDialog, address_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrRelayDialog, key_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrRelayDialog, fingerprint_group);
  gtk_widget_class_bind_template_child (widget_class, NfltrRelayDialog, fingerprint_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrRelayDialog, subject_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrRelayDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrRelayDialog, account_group);
  gtk_widget_class_bind_template_callback (widget_class, on_address_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_key_changed);

  gtk_widget_class_install_action (widget_class, "dialog.next", NULL, next_action);
  gtk_widget_class_install_action (widget_class, "dialog.logout", NULL, logout_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, GDK_CONTROL_MASK, "dialog.next", NULL);
}

static void
nfltr_relay_dialog_init (NfltrRelayDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  nfltr_a11y_name_mnemonic_buttons (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

NfltrRelayDialog *
nfltr_relay_dialog_new (NfltrWindow *window,
                        NfltrClient *client,
                        GSettings   *settings)
{
  NfltrRelayDialog *self;
  NfltrDbusManager *manager = nfltr_client_get_manager (client);
  const char *current = manager ? nfltr_dbus_manager_get_relay_address (manager) : NULL;
  g_autofree char *last = g_settings_get_string (settings, "last-relay");

  self = g_object_new (NFLTR_TYPE_RELAY_DIALOG, "transient-for", window, NULL);
  g_set_weak_pointer (&self->window, window);
  self->client = g_object_ref (client);
  self->settings = g_object_ref (settings);

  if (current != NULL && *current != '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->address_row), current);
  else if (*last != '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->address_row), last);
  else
    gtk_editable_set_text (GTK_EDITABLE (self->address_row),
                           NFLTR_DEFAULT_DOMAIN ":" NFLTR_DEFAULT_RELAY_PORT);
  nfltr_relay_dialog_update (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->key_row));
  return self;
}

void
nfltr_relay_dialog_fill (NfltrRelayDialog *self,
                         GVariant         *fields)
{
  const char *s;

  g_return_if_fail (NFLTR_IS_RELAY_DIALOG (self));

  if (g_variant_lookup (fields, "address", "&s", &s))
    gtk_editable_set_text (GTK_EDITABLE (self->address_row), s);
  if (g_variant_lookup (fields, "api-key", "&s", &s))
    gtk_editable_set_text (GTK_EDITABLE (self->key_row), s);
}

GVariant *
nfltr_relay_dialog_describe (NfltrRelayDialog *self)
{
  GVariantDict dict;

  g_return_val_if_fail (NFLTR_IS_RELAY_DIALOG (self), NULL);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "step", "s", self->step == STEP_CONFIRM ? "confirm" : "enter");
  g_variant_dict_insert (&dict, "busy", "b", self->busy);
  g_variant_dict_insert (&dict, "fingerprint", "s", gtk_label_get_label (self->fingerprint_label));
  g_variant_dict_insert (&dict, "error", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label))
                         ? gtk_label_get_label (self->error_label) : "");
  return g_variant_dict_end (&dict);
}
