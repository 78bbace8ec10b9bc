/* nfltr-transfers-page.c — the Transfers page (issue 13 §6).
 *
 * A client of xyz.nfltr.Nfltr.P2p (Send, Receive, Chat) and of every Transfer object the
 * service exports (its own object manager on the client's connection, so transfers the CLI
 * started show too). The newest outgoing offer's code is shown big, copyable and as a QR
 * code while it waits; each transfer is an NfltrTransferRow; each chat gets an
 * NfltrChatWindow, kept (hidden when closed) for as long as the page lives so its messages
 * are not lost. Desktop notifications say when an offer waits for an answer, a transfer
 * finished or failed, and what to do. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "nfltr-a11y.h"
#include "nfltr-chat-window.h"
#include "nfltr-fingerprint.h"
#include "nfltr-format.h"
#include "nfltr-transfer-row.h"
#include "nfltr-transfers-page.h"
#include "nfltr-window.h"

#define P2P_OBJECT_PATH "/xyz/nfltr/Nfltr/p2p"
#define QR_MODULE_PX 6
/* docs/protocol.md §9.1: a number from 1 to 9999, then two or three words. */
#define CODE_MAX_NUMBER 9999

struct _NfltrTransfersPage {
  AdwBin parent_instance;

  NfltrClient *client;
  NfltrDbusManager *manager;
  NfltrDbusP2p *p2p;
  GDBusObjectManager *object_manager;
  GCancellable *cancellable;
  GHashTable *rows;        /* object path → NfltrTransferRow (owned by the list) */
  GHashTable *states;      /* object path → last state seen, for notifications */
  GHashTable *chat_paths;  /* object paths of chats this app started or joined */
  GHashTable *chats;       /* object path → NfltrChatWindow (a reference) */
  GPtrArray *notified;     /* titles of the notifications sent, for the tests */
  char *send_path;         /* the newest outgoing offer, whose code the card shows */
  char *qr_text;
  char *directory;
  gboolean code_valid;
  GtkFileChooserNative *chooser;

  GtkLabel *error_label;
  GtkWidget *code_card;
  GtkLabel *code_label;
  GtkPicture *qr_picture;
  GtkLabel *code_status_label;
  AdwEntryRow *code_row;
  AdwActionRow *folder_row;
  GtkLabel *receive_validation;
  GtkButton *receive_button;
  AdwEntryRow *chat_code_row;
  GtkListBox *list_box;
};

G_DEFINE_FINAL_TYPE (NfltrTransfersPage, nfltr_transfers_page, ADW_TYPE_BIN)

static void
show_error (NfltrTransfersPage *self, const GError *error)
{
  g_autofree char *message = error != NULL ? nfltr_format_error (error) : NULL;

  gtk_label_set_label (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

/* ---- codes ------------------------------------------------------------------------------ */

/* The code as typed, checked as the service will (docs/protocol.md §9.1): any case, spaces or
 * hyphens between the parts. */
static gboolean
code_is_valid (const char *text)
{
  g_auto(GStrv) parts = NULL;
  g_autofree char *copy = g_strdup (text);
  guint n = 0;
  guint64 number = 0;

  g_strdelimit (copy, " \t", '-');
  parts = g_strsplit (copy, "-", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *p = parts[i];

      if (*p == '\0')
        continue;
      if (n == 0)
        {
          if (!g_ascii_string_to_unsigned (p, 10, 1, CODE_MAX_NUMBER, &number, NULL))
            return FALSE;
        }
      else
        for (const char *c = p; *c; c++)
          if (!g_ascii_isalpha (*c))
            return FALSE;
      n++;
    }
  return n == 3 || n == 4;
}

static void
update_receive (NfltrTransfersPage *self)
{
  const char *code = gtk_editable_get_text (GTK_EDITABLE (self->code_row));
  gboolean typed = *code != '\0';

  self->code_valid = code_is_valid (code);
  if (typed && !self->code_valid)
    gtk_widget_add_css_class (GTK_WIDGET (self->code_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->code_row), "error");
  gtk_label_set_label (self->receive_validation,
                       _ ("A code is a number and two or three words, like 7-lantern-otter-quartz."));
  gtk_widget_set_visible (GTK_WIDGET (self->receive_validation), typed && !self->code_valid);
  adw_action_row_set_subtitle (self->folder_row, self->directory);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "transfers.receive", self->code_valid && self->p2p != NULL);
}

static void
on_code_changed (NfltrTransfersPage *self)
{
  update_receive (self);
}

static void
on_code_activated (NfltrTransfersPage *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "transfers.receive", NULL);
}

static void
on_chat_apply (NfltrTransfersPage *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "transfers.join-chat", NULL);
}

/* ---- the code card ------------------------------------------------------------------------ */

static NfltrDbusTransfer *
transfer_at (NfltrTransfersPage *self, const char *path)
{
  NfltrTransferRow *row = path != NULL ? g_hash_table_lookup (self->rows, path) : NULL;

  return row != NULL ? nfltr_transfer_row_get_transfer (row) : NULL;
}

static void
update_code_card (NfltrTransfersPage *self)
{
  NfltrDbusTransfer *t = transfer_at (self, self->send_path);
  const char *state = t != NULL ? nfltr_dbus_transfer_get_state (t) : NULL;
  const char *code = t != NULL ? nfltr_dbus_transfer_get_code (t) : NULL;
  gboolean show = code != NULL && *code != '\0' &&
                  g_strv_contains ((const char *[]) { "preparing", "waiting", "pairing", "offered", NULL },
                                   state != NULL ? state : "");

  gtk_widget_set_visible (self->code_card, show);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "transfers.copy-code", show);
  if (!show)
    return;
  gtk_label_set_label (self->code_label, code);
  gtk_label_set_label (self->code_status_label, g_str_equal (state, "pairing") ? _ ("Checking the code…")
                                                : g_str_equal (state, "offered")
                                                  ? _ ("Waiting for the receiver to accept…")
                                                  : _ ("Waiting for the receiver… On the other computer: "
                                                       "Transfers → Receive, or “nfltr p2p receive CODE”."));
  if (g_strcmp0 (self->qr_text, code) != 0)
    {
      g_autoptr (GdkTexture) texture = nfltr_fingerprint_qr_texture (code, QR_MODULE_PX);

      g_free (self->qr_text);
      self->qr_text = g_strdup (code);
      gtk_picture_set_paintable (self->qr_picture, GDK_PAINTABLE (texture));
    }
}

/* ---- notifications ------------------------------------------------------------------------ */

static void
notify (NfltrTransfersPage *self, const char *id, const char *title, const char *body)
{
  GApplication *app = g_application_get_default ();
  g_autoptr(GNotification) n = g_notification_new (title);

  g_notification_set_body (n, body);
  g_notification_set_default_action (n, "app.show-transfers");
  g_notification_add_button (n, _ ("Show Transfers"), "app.show-transfers");
  if (app != NULL)
    g_application_send_notification (app, id, n);
  g_ptr_array_add (self->notified, g_strdup (title));
}

static void
withdraw (const char *id)
{
  GApplication *app = g_application_get_default ();

  if (app != NULL)
    g_application_withdraw_notification (app, id);
}

static void
notify_state (NfltrTransfersPage *self, NfltrTransferRow *row, const char *path)
{
  NfltrDbusTransfer *t = nfltr_transfer_row_get_transfer (row);
  const char *state = nfltr_dbus_transfer_get_state (t);
  /* a copy: replacing the entry below frees the table's */
  g_autofree char *before = g_strdup (g_hash_table_lookup (self->states, path));
  g_autofree char *offer_id = g_strdup_printf ("transfer-offer-%s", nfltr_dbus_transfer_get_id (t));
  g_autofree char *end_id = g_strdup_printf ("transfer-end-%s", nfltr_dbus_transfer_get_id (t));
  gboolean sender = g_strcmp0 (nfltr_dbus_transfer_get_role (t), "send") == 0;

  if (state == NULL || g_strcmp0 (before, state) == 0)
    return;
  g_hash_table_replace (self->states, g_strdup (path), g_strdup (state));
  if (g_strcmp0 (before, "offered") == 0)
    withdraw (offer_id);
  if (g_str_equal (state, "offered") && !sender)
    {
      g_autofree char *body = nfltr_transfer_row_describe_offer (row);
      g_autofree char *full = g_strdup_printf ("%s\n%s", body != NULL ? body : "",
                                               _ ("Open Transfers to accept or decline."));

      notify (self, offer_id, _ ("Files offered to you"), full);
    }
  else if (g_str_equal (state, "done") && !nfltr_transfer_row_is_chat (row))
    {
      g_autofree char *size = g_format_size_full (nfltr_dbus_transfer_get_bytes_total (t), G_FORMAT_SIZE_IEC_UNITS);
      /* TRANSLATORS: what was sent, its size, and (receiver) the folder it is in */
      g_autofree char *body = sender ? g_strdup_printf (_ ("%s (%s) arrived whole."), nfltr_transfer_row_get_title (row),
                                                        size)
                                     : g_strdup_printf (_ ("%s (%s) is in %s."), nfltr_transfer_row_get_title (row),
                                                        size, nfltr_dbus_transfer_get_directory (t));

      notify (self, end_id, sender ? _ ("Transfer sent") : _ ("Transfer received"), body);
    }
  else if (g_str_equal (state, "failed"))
    {
      const char *err = nfltr_dbus_transfer_get_last_error (t);
      g_autofree char *body = g_strdup_printf ("%s\n%s", err != NULL && *err ? err : _ ("The connection was lost."),
                                               sender ? _ ("Send the files again and give the receiver the new code.")
                                                      : _ ("Ask the sender for a new code and try again."));

      notify (self, end_id, _ ("Transfer failed"), body);
    }
}

/* ---- rows and chats ----------------------------------------------------------------------- */

static NfltrChatWindow *
ensure_chat (NfltrTransfersPage *self, const char *path)
{
  NfltrChatWindow *chat = g_hash_table_lookup (self->chats, path);
  NfltrDbusTransfer *t = transfer_at (self, path);
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (chat != NULL || t == NULL)
    return chat;
  chat = nfltr_chat_window_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, t);
  g_hash_table_insert (self->chats, g_strdup (path), g_object_ref_sink (chat));
  return chat;
}

static void
transfer_changed_cb (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, NfltrTransfersPage *self)
{
  const char *path = g_dbus_proxy_get_object_path (proxy);
  NfltrTransferRow *row = self->rows != NULL ? g_hash_table_lookup (self->rows, path) : NULL;

  if (row == NULL)
    return;
  /* A session with no files that connected is a chat, whoever started it. */
  if (!nfltr_transfer_row_is_chat (row)
      && g_strcmp0 (nfltr_dbus_transfer_get_state (NFLTR_DBUS_TRANSFER (proxy)), "connected") == 0)
    {
      g_hash_table_add (self->chat_paths, g_strdup (path));
      nfltr_transfer_row_set_chat (row, TRUE);
    }
  if (nfltr_transfer_row_is_chat (row))
    ensure_chat (self, path);
  notify_state (self, row, path);
  update_code_card (self);
}

static void
add_transfer (NfltrTransfersPage *self, NfltrDbusTransfer *transfer)
{
  const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (transfer));
  GtkWidget *row;

  if (g_hash_table_contains (self->rows, path))
    return;
  row = nfltr_transfer_row_new (transfer, g_hash_table_contains (self->chat_paths, path));
  g_hash_table_insert (self->rows, g_strdup (path), row);
  /* A transfer that ended before the app started (or reconnected) is not news. */
  if (g_strv_contains ((const char *[]) { "done", "failed", "declined", "cancelled", NULL },
                       nfltr_dbus_transfer_get_state (transfer) != NULL ? nfltr_dbus_transfer_get_state (transfer) : ""))
    g_hash_table_replace (self->states, g_strdup (path), g_strdup (nfltr_dbus_transfer_get_state (transfer)));
  /* Newest first. */
  gtk_list_box_prepend (self->list_box, row);
  g_signal_connect_object (transfer, "g-properties-changed", G_CALLBACK (transfer_changed_cb), self, 0);
  transfer_changed_cb (G_DBUS_PROXY (transfer), NULL, NULL, self);
}

static void
object_added_cb (GDBusObjectManager *om, GDBusObject *object, NfltrTransfersPage *self)
{
  g_autoptr(NfltrDbusTransfer) t = nfltr_dbus_object_get_transfer (NFLTR_DBUS_OBJECT (object));

  if (t != NULL)
    add_transfer (self, t);
}

static void
interface_added_cb (GDBusObjectManager *om, GDBusObject *object, GDBusInterface *interface, NfltrTransfersPage *self)
{
  object_added_cb (om, object, self);
}

static void
object_removed_cb (GDBusObjectManager *om, GDBusObject *object, NfltrTransfersPage *self)
{
  const char *path = g_dbus_object_get_object_path (object);
  GtkWidget *row = g_hash_table_lookup (self->rows, path);
  NfltrChatWindow *chat = g_hash_table_lookup (self->chats, path);

  if (row != NULL)
    {
      gtk_list_box_remove (self->list_box, row);
      g_hash_table_remove (self->rows, path);
    }
  if (chat != NULL)
    {
      gtk_window_destroy (GTK_WINDOW (chat));
      g_hash_table_remove (self->chats, path);
    }
}

static void
clear_rows (NfltrTransfersPage *self)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    gtk_list_box_remove (self->list_box, value);
  g_hash_table_remove_all (self->rows);
}

static void
object_manager_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrTransfersPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autolist(GDBusObject) objects = NULL;
  GDBusObjectManager *om = nfltr_dbus_object_manager_client_new_finish (result, &error);

  if (om == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  self->object_manager = om;
  g_signal_connect_object (om, "object-added", G_CALLBACK (object_added_cb), self, 0);
  g_signal_connect_object (om, "object-removed", G_CALLBACK (object_removed_cb), self, 0);
  g_signal_connect_object (om, "interface-added", G_CALLBACK (interface_added_cb), self, 0);
  objects = g_dbus_object_manager_get_objects (om);
  for (GList *l = objects; l != NULL; l = l->next)
    object_added_cb (om, l->data, self);
}

static void
p2p_proxy_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrTransfersPage) self = user_data;
  g_autoptr(GError) error = NULL;
  NfltrDbusP2p *p2p = nfltr_dbus_p2p_proxy_new_finish (result, &error);

  if (p2p == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  /* Send and Receive wait for the relay before they answer: give them the service's time. */
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (p2p), 60 * 1000);
  self->p2p = p2p;
  update_receive (self);
}

static void
on_manager_changed (NfltrTransfersPage *self)
{
  NfltrDbusManager *manager = nfltr_client_get_manager (self->client);
  GDBusConnection *connection;
  const char *name;

  if (manager == self->manager)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->p2p);
  g_set_object (&self->manager, manager);
  clear_rows (self);
  update_receive (self);
  update_code_card (self);
  if (manager == NULL)
    return;
  self->cancellable = g_cancellable_new ();
  connection = g_dbus_proxy_get_connection (G_DBUS_PROXY (manager));
  name = g_dbus_proxy_get_name (G_DBUS_PROXY (manager));
  nfltr_dbus_p2p_proxy_new (connection, G_DBUS_PROXY_FLAGS_NONE, name, P2P_OBJECT_PATH, self->cancellable,
                            p2p_proxy_cb, g_object_ref (self));
  nfltr_dbus_object_manager_client_new (connection, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE, name,
                                        NFLTR_SERVICE_OBJECT_PATH, self->cancellable, object_manager_cb,
                                        g_object_ref (self));
}

/* ---- sending ------------------------------------------------------------------------------ */

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrTransfersPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *code = NULL;

  if (!nfltr_dbus_p2p_call_send_finish (NFLTR_DBUS_P2P (source), &path, &code, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  g_debug ("offered as %s, code %s", path, code);
  g_free (self->send_path);
  self->send_path = g_steal_pointer (&path);
  update_code_card (self);
}

void
nfltr_transfers_page_send_files (NfltrTransfersPage *self, const char * const *paths)
{
  g_return_if_fail (NFLTR_IS_TRANSFERS_PAGE (self));

  show_error (self, NULL);
  if (paths == NULL || paths[0] == NULL)
    return;
  if (self->p2p == NULL)
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "");

      show_error (self, error);
      return;
    }
  nfltr_dbus_p2p_call_send (self->p2p, paths, g_variant_new ("a{sv}", NULL), self->cancellable, send_cb,
                            g_object_ref (self));
}

static void
send_chooser_cb (GtkNativeDialog *chooser, int response, NfltrTransfersPage *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (chooser));
      g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

      for (guint i = 0; i < g_list_model_get_n_items (files); i++)
        {
          g_autoptr(GFile) file = g_list_model_get_item (files, i);
          char *path = g_file_get_path (file);

          if (path != NULL)
            g_ptr_array_add (paths, path);
        }
      g_ptr_array_add (paths, NULL);
      nfltr_transfers_page_send_files (self, (const char * const *) paths->pdata);
    }
  g_clear_object (&self->chooser);
}

static void
directory_chooser_cb (GtkNativeDialog *chooser, int response, NfltrTransfersPage *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL)
        {
          g_free (self->directory);
          self->directory = path;
        }
      update_receive (self);
    }
  g_clear_object (&self->chooser);
}

static void
choose_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrTransfersPage *self = NFLTR_TRANSFERS_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  gboolean directory = g_str_equal (action_name, "transfers.choose-directory");
  gboolean folder = directory || g_str_equal (action_name, "transfers.choose-folder");

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (directory ? _ ("Save Received Files In")
                                               : folder  ? _ ("Choose a Folder to Send")
                                                         : _ ("Choose Files to Send"),
                                               GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER
                                                      : GTK_FILE_CHOOSER_ACTION_OPEN,
                                               directory ? _ ("_Select") : _ ("_Send"), _ ("_Cancel"));
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (self->chooser), !directory);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response",
                    directory ? G_CALLBACK (directory_chooser_cb) : G_CALLBACK (send_chooser_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
copy_code_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrTransfersPage *self = NFLTR_TRANSFERS_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), gtk_label_get_label (self->code_label));
  if (NFLTR_IS_WINDOW (root))
    nfltr_window_add_toast (NFLTR_WINDOW (root), _ ("Code copied"));
}

/* ---- receiving and chats ------------------------------------------------------------------ */

static void
receive_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrTransfersPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  gtk_widget_set_sensitive (GTK_WIDGET (self->receive_button), TRUE);
  if (!nfltr_dbus_p2p_call_receive_finish (NFLTR_DBUS_P2P (source), &path, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  gtk_editable_set_text (GTK_EDITABLE (self->code_row), "");
}

static void
receive_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrTransfersPage *self = NFLTR_TRANSFERS_PAGE (widget);
  const char *code = gtk_editable_get_text (GTK_EDITABLE (self->code_row));

  update_receive (self);
  if (!self->code_valid || self->p2p == NULL)
    return;
  show_error (self, NULL);
  /* The default folder may not exist yet in a new account. */
  g_mkdir_with_parents (self->directory, 0700);
  gtk_widget_set_sensitive (GTK_WIDGET (self->receive_button), FALSE);
  /* "yes" stays false: the row asks, with the names and sizes. */
  nfltr_dbus_p2p_call_receive (self->p2p, code, self->directory, g_variant_new ("a{sv}", NULL), self->cancellable,
                               receive_cb, g_object_ref (self));
}

static void
chat_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrTransfersPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *code = NULL;
  NfltrTransferRow *row;
  NfltrChatWindow *chat;

  if (!nfltr_dbus_p2p_call_chat_finish (NFLTR_DBUS_P2P (source), &path, &code, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  g_hash_table_add (self->chat_paths, g_strdup (path));
  row = g_hash_table_lookup (self->rows, path);
  if (row != NULL)
    nfltr_transfer_row_set_chat (row, TRUE);
  gtk_editable_set_text (GTK_EDITABLE (self->chat_code_row), "");
  chat = ensure_chat (self, path);
  if (chat != NULL)
    gtk_window_present (GTK_WINDOW (chat));
}

static void
chat_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrTransfersPage *self = NFLTR_TRANSFERS_PAGE (widget);
  const char *code = "";

  if (self->p2p == NULL)
    return;
  if (g_str_equal (action_name, "transfers.join-chat"))
    {
      code = gtk_editable_get_text (GTK_EDITABLE (self->chat_code_row));
      if (!code_is_valid (code))
        {
          gtk_widget_add_css_class (GTK_WIDGET (self->chat_code_row), "error");
          return;
        }
      gtk_widget_remove_css_class (GTK_WIDGET (self->chat_code_row), "error");
    }
  show_error (self, NULL);
  nfltr_dbus_p2p_call_chat (self->p2p, code, g_variant_new ("a{sv}", NULL), self->cancellable, chat_cb,
                            g_object_ref (self));
}

static void
open_chat_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrTransfersPage *self = NFLTR_TRANSFERS_PAGE (widget);
  NfltrChatWindow *chat = ensure_chat (self, g_variant_get_string (param, NULL));

  if (chat != NULL)
    gtk_window_present (GTK_WINDOW (chat));
}

/* ---- the class ---------------------------------------------------------------------------- */

static void
nfltr_transfers_page_dispose (GObject *object)
{
  NfltrTransfersPage *self = NFLTR_TRANSFERS_PAGE (object);
  GHashTableIter iter;
  gpointer value;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->chooser != NULL)
    {
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }
  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_object (&self->manager);
  if (self->rows != NULL)
    {
      g_hash_table_iter_init (&iter, self->rows);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_signal_handlers_disconnect_by_data (nfltr_transfer_row_get_transfer (value), self);
    }
  if (self->object_manager != NULL)
    g_signal_handlers_disconnect_by_data (self->object_manager, self);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->p2p);
  if (self->chats != NULL)
    {
      g_hash_table_iter_init (&iter, self->chats);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        gtk_window_destroy (GTK_WINDOW (value));
      g_clear_pointer (&self->chats, g_hash_table_unref);
    }
  g_clear_pointer (&self->rows, g_hash_table_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFLTR_TYPE_TRANSFERS_PAGE);
  G_OBJECT_CLASS (nfltr_transfers_page_parent_class)->dispose (object);
}

static void
nfltr_transfers_page_finalize (GObject *object)
{
  NfltrTransfersPage *self = NFLTR_TRANSFERS_PAGE (object);

  g_hash_table_unref (self->states);
  g_hash_table_unref (self->chat_paths);
  g_ptr_array_unref (self->notified);
  g_free (self->send_path);
  g_free (self->qr_text);
  g_free (self->directory);
  G_OBJECT_CLASS (nfltr_transfers_page_parent_class)->finalize (object);
}

static void
nfltr_transfers_page_class_init (NfltrTransfersPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfltr_transfers_page_dispose;
  object_class->finalize = nfltr_transfers_page_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/xyz/nfltr/Nfltr/nfltr-transfers-page.ui");
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, code_card);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, code_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, qr_picture);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, code_status_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, code_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, folder_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, receive_validation);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, receive_button);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, chat_code_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrTransfersPage, list_box);
  gtk_widget_class_bind_template_callback (widget_class, on_code_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_code_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_chat_apply);

  gtk_widget_class_install_action (widget_class, "transfers.choose-files", NULL, choose_action);
  gtk_widget_class_install_action (widget_class, "transfers.choose-folder", NULL, choose_action);
  gtk_widget_class_install_action (widget_class, "transfers.choose-directory", NULL, choose_action);
  gtk_widget_class_install_action (widget_class, "transfers.copy-code", NULL, copy_code_action);
  gtk_widget_class_install_action (widget_class, "transfers.receive", NULL, receive_action);
  gtk_widget_class_install_action (widget_class, "transfers.start-chat", NULL, chat_action);
  gtk_widget_class_install_action (widget_class, "transfers.join-chat", NULL, chat_action);
  gtk_widget_class_install_action (widget_class, "transfers.open-chat", "s", open_chat_action);
}

static void
nfltr_transfers_page_init (NfltrTransfersPage *self)
{
  const char *downloads = g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);

  gtk_widget_init_template (GTK_WIDGET (self));
  nfltr_a11y_name_mnemonic_buttons (GTK_WIDGET (self));
  self->rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->states = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->chat_paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->chats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->notified = g_ptr_array_new_with_free_func (g_free);
  /* XDG's Downloads folder, as Warp and the browsers use; ~/Downloads when none is set. */
  self->directory = downloads != NULL ? g_strdup (downloads)
                                      : g_build_filename (g_get_home_dir (), "Downloads", NULL);
  update_receive (self);
  update_code_card (self);
}

void
nfltr_transfers_page_set_client (NfltrTransfersPage *self, NfltrClient *client)
{
  g_return_if_fail (NFLTR_IS_TRANSFERS_PAGE (self));

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_set_object (&self->client, client);
  if (client != NULL)
    g_signal_connect_object (client, "notify::manager", G_CALLBACK (on_manager_changed), self, G_CONNECT_SWAPPED);
  on_manager_changed (self);
}

/* ---- tests -------------------------------------------------------------------------------- */

static NfltrTransferRow *
find_row (NfltrTransfersPage *self, const char *key)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      NfltrDbusTransfer *t = nfltr_transfer_row_get_transfer (value);

      if (g_strcmp0 (nfltr_dbus_transfer_get_id (t), key) == 0
          || g_strcmp0 (g_dbus_proxy_get_object_path (G_DBUS_PROXY (t)), key) == 0)
        return value;
    }
  return NULL;
}

/* request (a{sv}), each key optional, done in this order:
 *   "send" as             the files, as a drop would hand them over
 *   "code" s              typed into the receive box's code row
 *   "directory" s         the folder chosen for received files
 *   "receive" b           the Receive button
 *   "row-action" (ss)     a transfer's id or object path, and its action ("transfer.accept", …)
 *   "start-chat" b        Start a Chat
 *   "join-chat" s         a code typed into the chat row, applied
 *   "chat-send" (ss)      a chat's object path and a message, typed and sent with Enter
 *   "copy-code" b         the code card's copy button */
void
nfltr_transfers_page_test (NfltrTransfersPage *self, GVariant *request)
{
  const char *s, *s2;
  g_autofree const char **paths = NULL;
  gboolean b;

  g_return_if_fail (NFLTR_IS_TRANSFERS_PAGE (self));

  if (g_variant_lookup (request, "send", "^a&s", &paths))
    nfltr_transfers_page_send_files (self, paths);
  if (g_variant_lookup (request, "code", "&s", &s))
    gtk_editable_set_text (GTK_EDITABLE (self->code_row), s);
  if (g_variant_lookup (request, "directory", "&s", &s))
    {
      g_free (self->directory);
      self->directory = g_strdup (s);
      update_receive (self);
    }
  if (g_variant_lookup (request, "receive", "b", &b) && b)
    gtk_widget_activate (GTK_WIDGET (self->receive_button));
  if (g_variant_lookup (request, "row-action", "(&s&s)", &s, &s2))
    {
      NfltrTransferRow *row = find_row (self, s);

      if (row != NULL)
        gtk_widget_activate_action (GTK_WIDGET (row), s2, NULL);
    }
  if (g_variant_lookup (request, "start-chat", "b", &b) && b)
    gtk_widget_activate_action (GTK_WIDGET (self), "transfers.start-chat", NULL);
  if (g_variant_lookup (request, "join-chat", "&s", &s))
    {
      gtk_editable_set_text (GTK_EDITABLE (self->chat_code_row), s);
      g_signal_emit_by_name (self->chat_code_row, "apply");
    }
  if (g_variant_lookup (request, "chat-send", "(&s&s)", &s, &s2))
    {
      NfltrChatWindow *chat = g_hash_table_lookup (self->chats, s);

      if (chat != NULL)
        nfltr_chat_window_send (chat, s2);
    }
  if (g_variant_lookup (request, "copy-code", "b", &b) && b)
    gtk_widget_activate_action (GTK_WIDGET (self), "transfers.copy-code", NULL);
}

GVariant *
nfltr_transfers_page_describe (NfltrTransfersPage *self)
{
  GVariantDict dict;
  GVariantBuilder rows, chats;

  g_return_val_if_fail (NFLTR_IS_TRANSFERS_PAGE (self), NULL);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "ready", "b", self->p2p != NULL && self->object_manager != NULL);
  g_variant_dict_insert (&dict, "code-visible", "b", gtk_widget_get_visible (self->code_card));
  g_variant_dict_insert (&dict, "code", "s", gtk_label_get_label (self->code_label));
  g_variant_dict_insert (&dict, "code-status", "s", gtk_label_get_label (self->code_status_label));
  g_variant_dict_insert (&dict, "qr", "b", gtk_picture_get_paintable (self->qr_picture) != NULL);
  g_variant_dict_insert (&dict, "qr-text", "s", self->qr_text != NULL ? self->qr_text : "");
  g_variant_dict_insert (&dict, "receive-enabled", "b", gtk_widget_is_sensitive (GTK_WIDGET (self->receive_button)));
  g_variant_dict_insert (&dict, "receive-validation", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->receive_validation))
                           ? gtk_label_get_label (self->receive_validation)
                           : "");
  g_variant_dict_insert (&dict, "directory", "s", self->directory);
  g_variant_dict_insert (&dict, "error", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label)) ? gtk_label_get_label (self->error_label)
                                                                                 : "");
  g_variant_builder_init (&rows, G_VARIANT_TYPE ("aa{sv}"));
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->list_box)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (NFLTR_IS_TRANSFER_ROW (child))
      g_variant_builder_add_value (&rows, nfltr_transfer_row_describe (NFLTR_TRANSFER_ROW (child)));
  g_variant_dict_insert_value (&dict, "rows", g_variant_builder_end (&rows));
  g_variant_builder_init (&chats, G_VARIANT_TYPE ("aa{sv}"));
  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, self->chats);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      g_variant_builder_add_value (&chats, nfltr_chat_window_describe (value));
  }
  g_variant_dict_insert_value (&dict, "chats", g_variant_builder_end (&chats));
  {
    GVariantBuilder titles;

    g_variant_builder_init (&titles, G_VARIANT_TYPE_STRING_ARRAY);
    for (guint i = 0; i < self->notified->len; i++)
      g_variant_builder_add (&titles, "s", g_ptr_array_index (self->notified, i));
    g_variant_dict_insert_value (&dict, "notifications", g_variant_builder_end (&titles));
  }
  return g_variant_dict_end (&dict);
}
