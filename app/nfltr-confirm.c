/* nfltr-confirm.c — see nfltr-confirm.h. */
#define G_LOG_DOMAIN "nfltr-app"

#include "nfltr-confirm.h"

#include <adwaita.h>
#include <glib/gi18n.h>

typedef struct {
  GObject          *target;
  NfltrConfirmFunc  confirmed;
} Confirm;

static void
confirm_free (gpointer data, GClosure *closure)
{
  Confirm *c = data;

  g_object_unref (c->target);
  g_free (c);
}

static void
response_cb (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  Confirm *c = user_data;

  if (g_strcmp0 (response, "confirm") == 0)
    c->confirmed (c->target);
}

void
nfltr_confirm (GtkWidget *widget, const char *title, const char *heading, const char *body,
               const char *confirm_label, GObject *target, NfltrConfirmFunc confirmed)
{
  GtkRoot *root = gtk_widget_get_root (widget);
  AdwMessageDialog *dialog;
  Confirm *c = g_new0 (Confirm, 1);

  c->target = g_object_ref (target);
  c->confirmed = confirmed;
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                                       heading, body));
  gtk_window_set_title (GTK_WINDOW (dialog), title);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "confirm", confirm_label, NULL);
  adw_message_dialog_set_response_appearance (dialog, "confirm", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "confirm");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_data (dialog, "response", G_CALLBACK (response_cb), c, confirm_free, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}
