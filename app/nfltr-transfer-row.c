/* nfltr-transfer-row.c — one P2P transfer on the Transfers page (issue 13 §6).
 *
 * Mirrors a Transfer object (data/dbus/xyz.nfltr.Nfltr.Transfer.xml): what it carries, how
 * far it got (bytes, speed, time left from the Progress signal), the path ("Direct" or
 * "Relayed", in the verified badge's style: both are end-to-end encrypted), the
 * receiver's accept/decline prompt with names and sizes, and the buttons that make sense in
 * each state: Cancel, Resume, Open, Show in Folder, Open Chat. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-a11y.h"
#include "nfltr-format.h"
#include "nfltr-transfer-row.h"

/* The offer prompt lists this many files by name, then "and N more". */
#define OFFER_NAMES_SHOWN 5

struct _NfltrTransferRow {
  GtkListBoxRow parent_instance;

  NfltrDbusTransfer *transfer;
  GCancellable *cancellable;
  gboolean chat;
  double speed;
  double eta;
  char *title;
  char *call_error;
  GPtrArray *renamed; /* "a.txt → a (1).txt": files saved under another name */
  char *first_saved;  /* the first file saved, for Open */

  GtkImage *icon;
  GtkLabel *title_label;
  GtkLabel *badge_label;
  GtkLabel *status_label;
  GtkProgressBar *progress;
  GtkWidget *offer_box;
  GtkLabel *offer_label;
  GtkLabel *saved_label;
  GtkLabel *error_label;
  GtkWidget *cancel_button;
  GtkWidget *resume_button;
  GtkWidget *open_button;
  GtkWidget *folder_button;
  GtkWidget *chat_button;
};

G_DEFINE_FINAL_TYPE (NfltrTransferRow, nfltr_transfer_row, GTK_TYPE_LIST_BOX_ROW)

static gboolean
state_is (NfltrTransferRow *self, const char *state)
{
  return g_strcmp0 (nfltr_dbus_transfer_get_state (self->transfer), state) == 0;
}

static gboolean
state_is_final (const char *state)
{
  return g_strv_contains ((const char *[]) { "done", "failed", "declined", "cancelled", NULL },
                          state != NULL ? state : "");
}

static gboolean
is_sender (NfltrTransferRow *self)
{
  return g_strcmp0 (nfltr_dbus_transfer_get_role (self->transfer), "send") == 0;
}

static guint
n_files (NfltrTransferRow *self)
{
  GVariant *files = nfltr_dbus_transfer_get_files (self->transfer);

  return files != NULL ? (guint) g_variant_n_children (files) : 0;
}

static void
update_title (NfltrTransferRow *self)
{
  GVariant *files = nfltr_dbus_transfer_get_files (self->transfer);
  guint n = n_files (self);
  const char *first = NULL;

  g_clear_pointer (&self->title, g_free);
  if (self->chat)
    self->title = g_strdup (_ ("Chat"));
  else if (n == 0)
    self->title = g_strdup (is_sender (self) ? _ ("Sending") : _ ("Receiving"));
  else
    {
      g_variant_get_child (files, 0, "(&sts)", &first, NULL, NULL);
      if (n == 1)
        self->title = g_strdup (first);
      else
        /* TRANSLATORS: the first file's name and how many more files the transfer carries */
        self->title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s and %u more file", "%s and %u more files",
                                                    n - 1),
                                       first, n - 1);
    }
  gtk_label_set_label (self->title_label, self->title);
}

char *
nfltr_transfer_row_describe_offer (NfltrTransferRow *self)
{
  GVariant *files = nfltr_dbus_transfer_get_files (self->transfer);
  g_autofree char *total = g_format_size_full (nfltr_dbus_transfer_get_bytes_total (self->transfer),
                                               G_FORMAT_SIZE_IEC_UNITS);
  GString *text;
  guint n = n_files (self);

  if (!state_is (self, "offered"))
    return NULL;
  text = g_string_new (NULL);
  /* TRANSLATORS: how many files and their size in all, e.g. "Accept 2 files (3.0 MiB)?" */
  g_string_append_printf (text, g_dngettext (GETTEXT_PACKAGE, "Accept %u file (%s)?", "Accept %u files (%s)?", n), n,
                          total);
  for (guint i = 0; i < n && i < OFFER_NAMES_SHOWN; i++)
    {
      const char *name;
      guint64 size;
      g_autofree char *sz = NULL;

      g_variant_get_child (files, i, "(&sts)", &name, &size, NULL);
      sz = g_format_size_full (size, G_FORMAT_SIZE_IEC_UNITS);
      g_string_append_printf (text, "\n%s — %s", name, sz);
    }
  if (n > OFFER_NAMES_SHOWN)
    {
      g_string_append_c (text, '\n');
      g_string_append_printf (text, g_dngettext (GETTEXT_PACKAGE, "and %u more", "and %u more", n - OFFER_NAMES_SHOWN),
                              n - OFFER_NAMES_SHOWN);
    }
  return g_string_free (text, FALSE);
}

/* rate: with speed and time left (only while bytes move: an interrupted transfer has none). */
static char *
format_progress (NfltrTransferRow *self,
                 gboolean          rate)
{
  guint64 done = nfltr_dbus_transfer_get_bytes_done (self->transfer);
  guint64 total = nfltr_dbus_transfer_get_bytes_total (self->transfer);
  g_autofree char *d = g_format_size_full (done, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *t = g_format_size_full (total, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *speed = NULL;
  g_autofree char *left = NULL;

  if (rate && self->speed > 0)
    {
      g_autofree char *sp = g_format_size_full ((guint64) self->speed, G_FORMAT_SIZE_IEC_UNITS);

      /* TRANSLATORS: a speed, e.g. "5.1 MiB/s" */
      speed = g_strdup_printf (_ ("%s/s"), sp);
    }
  if (rate && self->eta >= 0 && self->speed > 0)
    {
      guint s = (guint) (self->eta + 0.5);

      if (s >= 3600)
        left = g_strdup_printf (_ ("%u h %u min left"), s / 3600, (s % 3600) / 60);
      else if (s >= 60)
        left = g_strdup_printf (_ ("%u min %u s left"), s / 60, s % 60);
      else
        left = g_strdup_printf (_ ("%u s left"), s);
    }
  /* TRANSLATORS: bytes so far and in all, e.g. "12.0 MiB of 40.0 MiB" */
  {
    g_autofree char *base = g_strdup_printf (_ ("%s of %s"), d, t);

    if (speed != NULL && left != NULL)
      return g_strdup_printf ("%s · %s · %s", base, speed, left);
    if (speed != NULL)
      return g_strdup_printf ("%s · %s", base, speed);
    return g_steal_pointer (&base);
  }
}

static void
nfltr_transfer_row_update (NfltrTransferRow *self)
{
  NfltrDbusTransfer *t = self->transfer;
  const char *state = nfltr_dbus_transfer_get_state (t);
  const char *path = nfltr_dbus_transfer_get_path (t);
  const char *last_error = nfltr_dbus_transfer_get_last_error (t);
  const char *code = nfltr_dbus_transfer_get_code (t);
  guint64 done = nfltr_dbus_transfer_get_bytes_done (t);
  guint64 total = nfltr_dbus_transfer_get_bytes_total (t);
  gboolean sender = is_sender (self);
  gboolean active = !state_is_final (state);
  g_autofree char *status = NULL;
  g_autofree char *offer = NULL;
  const char *error_text = NULL;

  if (state == NULL)
    return;
  update_title (self);
  gtk_image_set_from_icon_name (self->icon, self->chat ? "user-available-symbolic"
                                            : sender   ? "document-send-symbolic"
                                                       : "folder-download-symbolic");

  if (g_str_equal (state, "waiting") || g_str_equal (state, "preparing"))
    status = sender || self->chat
               /* TRANSLATORS: %s is the pairing code */
               ? g_strdup_printf (self->chat ? _ ("Waiting for the other person… Code: %s")
                                             : _ ("Waiting for the receiver… Code: %s"),
                                  code != NULL ? code : "")
               : g_strdup (_ ("Looking for the sender…"));
  else if (g_str_equal (state, "pairing"))
    status = g_strdup (_ ("Checking the code…"));
  else if (g_str_equal (state, "offered"))
    status = g_strdup (sender ? _ ("Waiting for the receiver to accept…") : _ ("The sender offers these files"));
  else if (g_str_equal (state, "transferring"))
    status = format_progress (self, TRUE);
  else if (g_str_equal (state, "connected"))
    status = g_strdup (_ ("Connected"));
  else if (g_str_equal (state, "interrupted"))
    {
      g_autofree char *p = format_progress (self, FALSE);

      /* TRANSLATORS: %s is how far it got, e.g. "12.0 MiB of 40.0 MiB" */
      status = g_strdup_printf (_ ("Interrupted at %s — trying again…"), p);
    }
  else if (g_str_equal (state, "done"))
    {
      g_autofree char *t_s = g_format_size_full (total, G_FORMAT_SIZE_IEC_UNITS);

      status = self->chat ? g_strdup (_ ("Chat ended"))
                          /* TRANSLATORS: %s is the size of everything sent or received */
                          : g_strdup_printf (sender ? _ ("Sent — %s") : _ ("Received — %s"), t_s);
    }
  else if (g_str_equal (state, "failed"))
    status = g_strdup (_ ("Failed"));
  else if (g_str_equal (state, "declined"))
    status = g_strdup (sender ? _ ("The receiver declined") : _ ("Declined"));
  else if (g_str_equal (state, "cancelled"))
    status = g_strdup (_ ("Cancelled"));
  else
    status = g_strdup (state);
  gtk_label_set_label (self->status_label, status);

  /* Both paths are end-to-end encrypted (docs/protocol.md §9.3); the badge says which one. */
  gtk_widget_set_visible (GTK_WIDGET (self->badge_label), path != NULL && *path != '\0');
  gtk_label_set_label (self->badge_label, g_strcmp0 (path, "direct") == 0 ? _ ("Direct") : _ ("Relayed"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->badge_label),
                               g_strcmp0 (path, "direct") == 0
                                 ? _ ("Straight between the two computers, end-to-end encrypted")
                                 : _ ("Through the relay, end-to-end encrypted: the relay cannot read it"));

  gtk_widget_set_visible (GTK_WIDGET (self->progress),
                          !self->chat && total > 0
                            && (g_str_equal (state, "transferring") || g_str_equal (state, "interrupted")));
  gtk_progress_bar_set_fraction (self->progress, total > 0 ? (double) done / (double) total : 0);

  offer = sender ? NULL : nfltr_transfer_row_describe_offer (self);
  gtk_widget_set_visible (self->offer_box, offer != NULL);
  gtk_label_set_label (self->offer_label, offer != NULL ? offer : "");

  if (self->call_error != NULL)
    error_text = self->call_error;
  else if ((g_str_equal (state, "failed") || g_str_equal (state, "interrupted")) && last_error != NULL
           && *last_error != '\0')
    error_text = last_error;
  gtk_label_set_label (self->error_label, error_text != NULL ? error_text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), error_text != NULL);

  if (!sender && g_str_equal (state, "done") && !self->chat)
    {
      GString *saved = g_string_new (NULL);

      /* TRANSLATORS: %s is a folder */
      g_string_append_printf (saved, _ ("Saved in %s"), nfltr_dbus_transfer_get_directory (t));
      for (guint i = 0; i < self->renamed->len; i++)
        {
          g_string_append_c (saved, '\n');
          g_string_append (saved, g_ptr_array_index (self->renamed, i));
        }
      gtk_label_set_label (self->saved_label, saved->str);
      g_string_free (saved, TRUE);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->saved_label), !sender && g_str_equal (state, "done") && !self->chat);

  gtk_widget_set_visible (self->cancel_button, active && !g_str_equal (state, "offered"));
  gtk_widget_set_visible (self->resume_button,
                          g_str_equal (state, "interrupted") || (sender && g_str_equal (state, "waiting") && done > 0));
  gtk_widget_set_visible (self->open_button, !sender && g_str_equal (state, "done") && self->first_saved != NULL);
  gtk_widget_set_visible (self->folder_button, !sender && g_str_equal (state, "done") && !self->chat);
  gtk_widget_set_visible (self->chat_button, self->chat);
}

static void
properties_changed_cb (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, NfltrTransferRow *self)
{
  nfltr_transfer_row_update (self);
}

static void
progress_cb (NfltrDbusTransfer *t, guint64 done, guint64 total, double speed, double eta, const char *path,
             NfltrTransferRow *self)
{
  self->speed = speed;
  self->eta = eta;
  nfltr_transfer_row_update (self);
}

static void
file_done_cb (NfltrDbusTransfer *t, const char *name, guint64 size, const char *sha256, const char *path,
              const char *saved_as, NfltrTransferRow *self)
{
  g_autofree char *base = NULL;
  g_autofree char *slash_name = g_strconcat ("/", name, NULL);

  if (saved_as == NULL || *saved_as == '\0')
    return;
  if (self->first_saved == NULL)
    self->first_saved = g_strdup (saved_as);
  /* Never overwritten (issue 13 §4): a name that was taken got a renamed copy; say so. */
  base = g_path_get_basename (saved_as);
  if (!g_str_has_suffix (saved_as, slash_name))
    /* TRANSLATORS: a received file's name and the name it was saved under instead */
    g_ptr_array_add (self->renamed,
                     g_strdup_printf (_ ("%s was saved as “%s”: a file of that name was already there"), name, base));
  nfltr_transfer_row_update (self);
}

static void
call_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrTransferRow) self = user_data;
  g_autoptr(GError) error = NULL;

  /* Every method here returns (); any _finish reads the reply. */
  if (!nfltr_dbus_transfer_call_cancel_finish (NFLTR_DBUS_TRANSFER (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_free (self->call_error);
      self->call_error = nfltr_format_error (error);
    }
  else
    g_clear_pointer (&self->call_error, g_free);
  nfltr_transfer_row_update (self);
}

static void
transfer_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrTransferRow *self = NFLTR_TRANSFER_ROW (widget);
  NfltrDbusTransfer *t = self->transfer;

  if (g_str_equal (action_name, "transfer.cancel"))
    nfltr_dbus_transfer_call_cancel (t, self->cancellable, call_cb, g_object_ref (self));
  else if (g_str_equal (action_name, "transfer.resume"))
    nfltr_dbus_transfer_call_resume (t, self->cancellable, call_cb, g_object_ref (self));
  else if (g_str_equal (action_name, "transfer.accept"))
    nfltr_dbus_transfer_call_accept (t, self->cancellable, call_cb, g_object_ref (self));
  else if (g_str_equal (action_name, "transfer.decline"))
    nfltr_dbus_transfer_call_decline (t, self->cancellable, call_cb, g_object_ref (self));
}

static void
open_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrTransferRow *self = NFLTR_TRANSFER_ROW (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  const char *target = g_str_equal (action_name, "transfer.open") ? self->first_saved
                                                                  : nfltr_dbus_transfer_get_directory (self->transfer);
  g_autoptr(GFile) file = NULL;
  g_autofree char *uri = NULL;

  if (target == NULL || *target == '\0')
    return;
  file = g_file_new_for_path (target);
  uri = g_file_get_uri (file);
  gtk_show_uri (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, uri, GDK_CURRENT_TIME);
}

static void
chat_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrTransferRow *self = NFLTR_TRANSFER_ROW (widget);

  gtk_widget_activate_action (widget, "transfers.open-chat", "s",
                              g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->transfer)));
}

static GtkWidget *
text_button (const char *label, const char *action, const char *style)
{
  GtkWidget *button = gtk_button_new_with_mnemonic (label);

  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  if (style != NULL)
    gtk_widget_add_css_class (button, style);
  return button;
}

static GtkLabel *
wrapped_label (const char *style)
{
  GtkLabel *label = GTK_LABEL (gtk_label_new (NULL));

  gtk_label_set_xalign (label, 0);
  gtk_label_set_wrap (label, TRUE);
  gtk_label_set_wrap_mode (label, PANGO_WRAP_WORD_CHAR);
  if (style != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (label), style);
  return label;
}

static void
nfltr_transfer_row_build (NfltrTransferRow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *top = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *offer_buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkLabel *hint;

  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);

  self->icon = GTK_IMAGE (gtk_image_new ());
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->icon), GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Direction"), -1);
  self->title_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->title_label, 0);
  gtk_label_set_ellipsize (self->title_label, PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_set_hexpand (GTK_WIDGET (self->title_label), TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->title_label), "heading");
  self->badge_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_set_valign (GTK_WIDGET (self->badge_label), GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (GTK_WIDGET (self->badge_label), "badge");
  gtk_widget_add_css_class (GTK_WIDGET (self->badge_label), "verified");
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (self->icon));
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (self->title_label));
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (self->badge_label));
  gtk_box_append (GTK_BOX (box), top);

  self->status_label = wrapped_label ("dim-label");
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->status_label));
  self->progress = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->progress), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Progress"), -1);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->progress));

  self->offer_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  self->offer_label = wrapped_label (NULL);
  gtk_label_set_selectable (self->offer_label, TRUE);
  hint = wrapped_label ("dim-label");
  gtk_label_set_label (hint,
                       _ ("Nothing is overwritten: a file whose name is taken is saved as a renamed copy, "
                          "like “photo (1).jpg”."));
  gtk_box_append (GTK_BOX (offer_buttons),
                  text_button (_ ("_Accept"), "transfer.accept", "suggested-action"));
  gtk_box_append (GTK_BOX (offer_buttons), text_button (_ ("_Decline"), "transfer.decline", NULL));
  gtk_box_append (GTK_BOX (self->offer_box), GTK_WIDGET (self->offer_label));
  gtk_box_append (GTK_BOX (self->offer_box), GTK_WIDGET (hint));
  gtk_box_append (GTK_BOX (self->offer_box), offer_buttons);
  gtk_box_append (GTK_BOX (box), self->offer_box);

  self->saved_label = wrapped_label (NULL);
  gtk_label_set_selectable (self->saved_label, TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->saved_label));
  self->error_label = wrapped_label ("error");
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->error_label));

  gtk_widget_set_halign (buttons, GTK_ALIGN_END);
  self->chat_button = text_button (_ ("Open _Chat"), "transfer.open-chat", NULL);
  self->open_button = text_button (_ ("_Open"), "transfer.open", NULL);
  self->folder_button = text_button (_ ("Show in _Folder"), "transfer.show-folder", NULL);
  self->resume_button = text_button (_ ("_Resume"), "transfer.resume", NULL);
  self->cancel_button = text_button (_ ("_Cancel"), "transfer.cancel", "destructive-action");
  gtk_box_append (GTK_BOX (buttons), self->chat_button);
  gtk_box_append (GTK_BOX (buttons), self->open_button);
  gtk_box_append (GTK_BOX (buttons), self->folder_button);
  gtk_box_append (GTK_BOX (buttons), self->resume_button);
  gtk_box_append (GTK_BOX (buttons), self->cancel_button);
  gtk_box_append (GTK_BOX (box), buttons);

  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (self), box);
  nfltr_a11y_name_mnemonic_buttons (GTK_WIDGET (self));
}

static void
nfltr_transfer_row_dispose (GObject *object)
{
  NfltrTransferRow *self = NFLTR_TRANSFER_ROW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->transfer != NULL)
    g_signal_handlers_disconnect_by_data (self->transfer, self);
  g_clear_object (&self->transfer);
  G_OBJECT_CLASS (nfltr_transfer_row_parent_class)->dispose (object);
}

static void
nfltr_transfer_row_finalize (GObject *object)
{
  NfltrTransferRow *self = NFLTR_TRANSFER_ROW (object);

  g_free (self->title);
  g_free (self->call_error);
  g_free (self->first_saved);
  g_ptr_array_unref (self->renamed);
  G_OBJECT_CLASS (nfltr_transfer_row_parent_class)->finalize (object);
}

static void
nfltr_transfer_row_class_init (NfltrTransferRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfltr_transfer_row_dispose;
  object_class->finalize = nfltr_transfer_row_finalize;
  gtk_widget_class_install_action (widget_class, "transfer.cancel", NULL, transfer_action);
  gtk_widget_class_install_action (widget_class, "transfer.resume", NULL, transfer_action);
  gtk_widget_class_install_action (widget_class, "transfer.accept", NULL, transfer_action);
  gtk_widget_class_install_action (widget_class, "transfer.decline", NULL, transfer_action);
  gtk_widget_class_install_action (widget_class, "transfer.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "transfer.show-folder", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "transfer.open-chat", NULL, chat_action);
}

static void
nfltr_transfer_row_init (NfltrTransferRow *self)
{
  self->cancellable = g_cancellable_new ();
  self->renamed = g_ptr_array_new_with_free_func (g_free);
  self->eta = -1;
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (self), FALSE);
  gtk_list_box_row_set_selectable (GTK_LIST_BOX_ROW (self), FALSE);
  nfltr_transfer_row_build (self);
}

GtkWidget *
nfltr_transfer_row_new (NfltrDbusTransfer *transfer, gboolean chat)
{
  NfltrTransferRow *self;

  g_return_val_if_fail (NFLTR_DBUS_IS_TRANSFER (transfer), NULL);

  self = g_object_new (NFLTR_TYPE_TRANSFER_ROW, NULL);
  self->transfer = g_object_ref (transfer);
  self->chat = chat;
  g_signal_connect_object (transfer, "g-properties-changed", G_CALLBACK (properties_changed_cb), self, 0);
  g_signal_connect_object (transfer, "progress", G_CALLBACK (progress_cb), self, 0);
  g_signal_connect_object (transfer, "file-done", G_CALLBACK (file_done_cb), self, 0);
  nfltr_transfer_row_update (self);
  return GTK_WIDGET (self);
}

NfltrDbusTransfer *
nfltr_transfer_row_get_transfer (NfltrTransferRow *self)
{
  g_return_val_if_fail (NFLTR_IS_TRANSFER_ROW (self), NULL);
  return self->transfer;
}

void
nfltr_transfer_row_set_chat (NfltrTransferRow *self, gboolean chat)
{
  g_return_if_fail (NFLTR_IS_TRANSFER_ROW (self));
  self->chat = chat;
  nfltr_transfer_row_update (self);
}

gboolean
nfltr_transfer_row_is_chat (NfltrTransferRow *self)
{
  g_return_val_if_fail (NFLTR_IS_TRANSFER_ROW (self), FALSE);
  return self->chat;
}

const char *
nfltr_transfer_row_get_title (NfltrTransferRow *self)
{
  g_return_val_if_fail (NFLTR_IS_TRANSFER_ROW (self), NULL);
  return self->title;
}

/* What the row shows, in the words on screen (for the tests' app.test-state). */
GVariant *
nfltr_transfer_row_describe (NfltrTransferRow *self)
{
  GVariantDict dict;
  const char *state;

  g_return_val_if_fail (NFLTR_IS_TRANSFER_ROW (self), NULL);

  state = nfltr_dbus_transfer_get_state (self->transfer);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "id", "s", nfltr_dbus_transfer_get_id (self->transfer));
  g_variant_dict_insert (&dict, "object-path", "s", g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->transfer)));
  g_variant_dict_insert (&dict, "role", "s", nfltr_dbus_transfer_get_role (self->transfer));
  g_variant_dict_insert (&dict, "state", "s", state != NULL ? state : "");
  g_variant_dict_insert (&dict, "chat", "b", self->chat);
  g_variant_dict_insert (&dict, "title", "s", gtk_label_get_label (self->title_label));
  g_variant_dict_insert (&dict, "status", "s", gtk_label_get_label (self->status_label));
  g_variant_dict_insert (&dict, "badge", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->badge_label)) ? gtk_label_get_label (self->badge_label)
                                                                                 : "");
  g_variant_dict_insert (&dict, "offer", "s",
                         gtk_widget_get_visible (self->offer_box) ? gtk_label_get_label (self->offer_label) : "");
  g_variant_dict_insert (&dict, "saved", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->saved_label)) ? gtk_label_get_label (self->saved_label)
                                                                                 : "");
  g_variant_dict_insert (&dict, "error", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label)) ? gtk_label_get_label (self->error_label)
                                                                                 : "");
  g_variant_dict_insert (&dict, "progress", "d", gtk_progress_bar_get_fraction (self->progress));
  g_variant_dict_insert (&dict, "can-cancel", "b", gtk_widget_get_visible (self->cancel_button));
  g_variant_dict_insert (&dict, "can-resume", "b", gtk_widget_get_visible (self->resume_button));
  g_variant_dict_insert (&dict, "can-open", "b", gtk_widget_get_visible (self->open_button));
  g_variant_dict_insert (&dict, "can-show-folder", "b", gtk_widget_get_visible (self->folder_button));
  return g_variant_dict_end (&dict);
}
