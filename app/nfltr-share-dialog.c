/* nfltr-share-dialog.c — "Share a File or Text…" (issue 10's app side).
 *
 * A file (dropped on the dialog or chosen) or text (typed or pasted from the clipboard) becomes
 * a "share" tunnel (service/kinds/share) at https://NAME.RELAY/SECRET, as `nfltr share FILE`
 * and `nfltr share --text` make it: the secret is 144 bits from the kernel's CSPRNG, made
 * here and kept only in this process's memory (nfltr-share-secrets), so the row can show and
 * copy the link as long as the tunnel lives. The tunnel is transient: it ends with the app,
 * as the CLI's share ends with the command. Text is served as text/plain (the kind's "text"
 * option, as --text). */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>
#include <string.h>
#include <sys/random.h>

#include "nfltr-a11y.h"
#include "nfltr-format.h"
#include "nfltr-share-dialog.h"
#include "nfltr-share-secrets.h"
#include "nfltr-window.h"

/* As cmd-share.c: 144 bits, base64url without padding. */
#define SECRET_BYTES 18

static const struct {
  const char *id;
  guint64 seconds;
} expiries[] = {
  { "15m", 15 * 60 },
  { "1h", 3600 },
  { "1d", 24 * 3600 },
  { "7d", 7 * 24 * 3600 },
};
/* "1 hour", as `nfltr share` without --expires */
#define DEFAULT_EXPIRY 1

struct _NfltrShareDialog {
  AdwWindow parent_instance;

  NfltrClient *client;
  GCancellable *cancellable;
  GtkFileChooserNative *chooser;
  char *file;
  gboolean busy;
  gboolean valid;

  AdwActionRow *file_row;
  GtkWidget *clear_button;
  GtkTextBuffer *text;
  GtkWidget *text_view;
  AdwComboRow *expires_row;
  GtkSpinButton *max_spin;
  GtkLabel *error_label;
  GtkSpinner *spinner;
};

G_DEFINE_FINAL_TYPE (NfltrShareDialog, nfltr_share_dialog, ADW_TYPE_WINDOW)

static char *
new_secret (void)
{
  guint8 bytes[SECRET_BYTES];
  char *text;

  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    return NULL;
  text = g_base64_encode (bytes, sizeof bytes);
  g_strdelimit (text, "+", '-');
  g_strdelimit (text, "/", '_');
  memset (bytes, 0, sizeof bytes);
  return text;
}

static char *
text_contents (NfltrShareDialog *self)
{
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (self->text, &start, &end);
  return gtk_text_buffer_get_text (self->text, &start, &end, FALSE);
}

static void
validate (NfltrShareDialog *self)
{
  g_autofree char *text = text_contents (self);

  /* A file wins over text: the text box is greyed out while a file is chosen. */
  self->valid = self->file != NULL || *text != '\0';
  adw_action_row_set_subtitle (self->file_row, self->file != NULL ? self->file : _ ("None — drop one here or choose"));
  gtk_widget_set_visible (self->clear_button, self->file != NULL);
  gtk_widget_set_sensitive (self->text_view, self->file == NULL && !self->busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "share.create", self->valid && !self->busy);
}

void
nfltr_share_dialog_set_file (NfltrShareDialog *self, const char *path)
{
  g_return_if_fail (NFLTR_IS_SHARE_DIALOG (self));

  g_free (self->file);
  self->file = path != NULL && *path != '\0' ? g_canonicalize_filename (path, NULL) : NULL;
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  validate (self);
}

static gboolean
drop_cb (GtkDropTarget *target, const GValue *value, double x, double y, NfltrShareDialog *self)
{
  GSList *files = g_value_get_boxed (value);
  g_autofree char *path = files != NULL ? g_file_get_path (files->data) : NULL;

  if (path == NULL)
    return FALSE;
  nfltr_share_dialog_set_file (self, path);
  return TRUE;
}

static void
chooser_cb (GtkNativeDialog *chooser, int response, NfltrShareDialog *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      nfltr_share_dialog_set_file (self, path);
    }
  g_clear_object (&self->chooser);
}

static void
choose_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrShareDialog *self = NFLTR_SHARE_DIALOG (widget);

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_ ("Choose a File to Share"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_OPEN, _ ("_Select"), _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response", G_CALLBACK (chooser_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
clear_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  nfltr_share_dialog_set_file (NFLTR_SHARE_DIALOG (widget), NULL);
}

static void
paste_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrShareDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, &error);

  if (self->text == NULL)
    return;
  if (text == NULL)
    {
      gtk_label_set_label (self->error_label, _ ("The clipboard holds no text."));
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      return;
    }
  nfltr_share_dialog_set_file (self, NULL);
  gtk_text_buffer_set_text (self->text, text, -1);
}

static void
paste_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (widget), NULL, paste_cb, g_object_ref (widget));
}

static void
set_busy (NfltrShareDialog *self, gboolean busy)
{
  self->busy = busy;
  if (busy)
    gtk_window_set_focus (GTK_WINDOW (self), NULL);
  gtk_spinner_set_spinning (self->spinner, busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->expires_row), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->max_spin), !busy);
  validate (self);
}

typedef struct {
  NfltrShareDialog *self;
  char *secret;
} Create;

static void
create_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Create *c = user_data;
  g_autoptr(NfltrShareDialog) self = c->self;
  g_autofree char *secret = c->secret;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *suffix = NULL;
  g_autofree char *link = NULL;
  NfltrDbusTunnel *tunnel;
  GtkWindow *parent;

  g_free (c);
  if (!nfltr_dbus_manager_call_create_tunnel_finish (NFLTR_DBUS_MANAGER (source), &path, result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = nfltr_format_error (error);
      set_busy (self, FALSE);
      gtk_label_set_label (self->error_label, message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      return;
    }
  suffix = g_strconcat ("/", secret, NULL);
  nfltr_share_secrets_remember (path, suffix);
  memset (secret, 0, strlen (secret));
  tunnel = nfltr_client_find_tunnel (self->client, path);
  link = tunnel != NULL ? nfltr_share_secrets_link (path, nfltr_dbus_tunnel_get_public_url (tunnel)) : NULL;
  parent = gtk_window_get_transient_for (GTK_WINDOW (self));
  if (link != NULL)
    gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), link);
  if (NFLTR_IS_WINDOW (parent))
    nfltr_window_add_toast (NFLTR_WINDOW (parent), link != NULL ? _ ("Shared; the link, with its secret, is copied")
                                                                : _ ("Shared"));
  gtk_window_close (GTK_WINDOW (self));
}

static void
create_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrShareDialog *self = NFLTR_SHARE_DIALOG (widget);
  NfltrDbusManager *manager = nfltr_client_get_manager (self->client);
  g_autofree char *text = text_contents (self);
  guint expiry = adw_combo_row_get_selected (self->expires_row);
  GVariantBuilder options;
  Create *c;

  validate (self);
  if (!self->valid || self->busy || manager == NULL)
    return;
  c = g_new0 (Create, 1);
  c->secret = new_secret ();
  if (c->secret == NULL)
    {
      g_free (c);
      gtk_label_set_label (self->error_label, _ ("Could not make a secret for the link."));
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      return;
    }
  c->self = g_object_ref (self);
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("share"));
  if (self->file != NULL)
    g_variant_builder_add (&options, "{sv}", "target", g_variant_new_string (self->file));
  else
    {
      g_variant_builder_add (&options, "{sv}", "target", g_variant_new_string ("text"));
      g_variant_builder_add (&options, "{sv}", "text", g_variant_new_string (text));
    }
  g_variant_builder_add (&options, "{sv}", "secret", g_variant_new_string (c->secret));
  g_variant_builder_add (&options, "{sv}", "expires",
                         g_variant_new_uint64 (expiries[MIN (expiry, G_N_ELEMENTS (expiries) - 1)].seconds));
  g_variant_builder_add (&options, "{sv}", "max-downloads",
                         g_variant_new_uint32 ((guint32) gtk_spin_button_get_value_as_int (self->max_spin)));
  /* Ends with the app, as `nfltr share` ends with the command; never saved with its secret. */
  g_variant_builder_add (&options, "{sv}", "transient", g_variant_new_boolean (TRUE));
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  set_busy (self, TRUE);
  nfltr_dbus_manager_call_create_tunnel (manager, g_variant_builder_end (&options), self->cancellable, create_cb, c);
}

static void
text_changed_cb (NfltrShareDialog *self)
{
  validate (self);
}

static void
nfltr_share_dialog_build (NfltrShareDialog *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *cancel = gtk_button_new_with_mnemonic (_ ("_Cancel"));
  GtkWidget *share = gtk_button_new_with_mnemonic (_ ("_Share"));
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *what = adw_preferences_group_new ();
  GtkWidget *text_group = adw_preferences_group_new ();
  GtkWidget *limits = adw_preferences_group_new ();
  GtkWidget *choose = gtk_button_new_with_mnemonic (_ ("C_hoose…"));
  GtkWidget *paste = gtk_button_new_with_mnemonic (_ ("_Paste"));
  GtkWidget *frame = gtk_frame_new (NULL);
  GtkWidget *max_row = adw_action_row_new ();
  g_autoptr(GtkStringList) expiry_labels = gtk_string_list_new (NULL);
  GtkDropTarget *drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);

  gtk_window_set_title (GTK_WINDOW (self), _ ("Share a File or Text"));
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);
  gtk_window_set_default_size (GTK_WINDOW (self), 480, 560);
  gtk_widget_set_size_request (GTK_WIDGET (self), 360, 294);

  gtk_actionable_set_action_name (GTK_ACTIONABLE (cancel), "window.close");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (share), "share.create");
  gtk_widget_add_css_class (share, "suggested-action");
  adw_header_bar_set_show_end_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_set_show_start_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), cancel);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), share);
  self->spinner = GTK_SPINNER (gtk_spinner_new ());
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), GTK_WIDGET (self->spinner));
  gtk_box_append (GTK_BOX (box), header);

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (what), _ ("File"));
  adw_preferences_group_set_description (
    ADW_PREFERENCES_GROUP (what),
    _ ("Anyone with the link can download it until it expires; the relay cannot read it."));
  self->file_row = ADW_ACTION_ROW (adw_action_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->file_row), _ ("File to share"));
  gtk_widget_set_valign (choose, GTK_ALIGN_CENTER);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (choose), "share.choose");
  self->clear_button = gtk_button_new_from_icon_name ("edit-clear-symbolic");
  gtk_widget_set_valign (self->clear_button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (self->clear_button, "flat");
  gtk_widget_set_tooltip_text (self->clear_button, _ ("Share Text Instead"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->clear_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Share Text Instead"), -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->clear_button), "share.clear");
  adw_action_row_add_suffix (self->file_row, self->clear_button);
  adw_action_row_add_suffix (self->file_row, choose);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (what), GTK_WIDGET (self->file_row));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (what));

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (text_group), _ ("Or Text"));
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (text_group),
                                         _ ("Served as plain text, like “nfltr share --text”."));
  gtk_widget_set_valign (paste, GTK_ALIGN_CENTER);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (paste), "share.paste");
  adw_preferences_group_set_header_suffix (ADW_PREFERENCES_GROUP (text_group), paste);
  self->text = gtk_text_buffer_new (NULL);
  self->text_view = gtk_text_view_new_with_buffer (self->text);
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (self->text_view), GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_top_margin (GTK_TEXT_VIEW (self->text_view), 8);
  gtk_text_view_set_bottom_margin (GTK_TEXT_VIEW (self->text_view), 8);
  gtk_text_view_set_left_margin (GTK_TEXT_VIEW (self->text_view), 8);
  gtk_text_view_set_right_margin (GTK_TEXT_VIEW (self->text_view), 8);
  gtk_widget_set_size_request (self->text_view, -1, 96);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->text_view), GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Text to share"),
                                  -1);
  gtk_frame_set_child (GTK_FRAME (frame), self->text_view);
  gtk_widget_add_css_class (frame, "view");
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (text_group), frame);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (text_group));
  g_signal_connect_object (self->text, "changed", G_CALLBACK (text_changed_cb), self, G_CONNECT_SWAPPED);

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (limits), _ ("Limits"));
  gtk_string_list_append (expiry_labels, _ ("15 minutes"));
  gtk_string_list_append (expiry_labels, _ ("1 hour"));
  gtk_string_list_append (expiry_labels, _ ("1 day"));
  gtk_string_list_append (expiry_labels, _ ("7 days"));
  self->expires_row = ADW_COMBO_ROW (adw_combo_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->expires_row), _ ("_Link works for"));
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (self->expires_row), TRUE);
  adw_combo_row_set_model (self->expires_row, G_LIST_MODEL (expiry_labels));
  adw_combo_row_set_selected (self->expires_row, DEFAULT_EXPIRY);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (limits), GTK_WIDGET (self->expires_row));
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (max_row), _ ("_Downloads allowed"));
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (max_row), TRUE);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (max_row), _ ("0 for no limit"));
  self->max_spin = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (0, 1000, 1));
  gtk_widget_set_valign (GTK_WIDGET (self->max_spin), GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->max_spin), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Downloads allowed"), -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (max_row), GTK_WIDGET (self->max_spin));
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (max_row), GTK_WIDGET (self->max_spin));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (limits), max_row);
  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  gtk_label_set_xalign (self->error_label, 0);
  gtk_widget_set_margin_top (GTK_WIDGET (self->error_label), 12);
  gtk_widget_add_css_class (GTK_WIDGET (self->error_label), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (limits), GTK_WIDGET (self->error_label));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (limits));
  gtk_widget_set_vexpand (page, TRUE);
  gtk_box_append (GTK_BOX (box), page);

  adw_window_set_content (ADW_WINDOW (self), box);
  g_signal_connect_object (drop, "drop", G_CALLBACK (drop_cb), self, 0);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
  nfltr_a11y_name_mnemonic_buttons (GTK_WIDGET (self));
}

static void
nfltr_share_dialog_dispose (GObject *object)
{
  NfltrShareDialog *self = NFLTR_SHARE_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->chooser != NULL)
    {
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }
  g_clear_object (&self->client);
  g_clear_object (&self->text);
  G_OBJECT_CLASS (nfltr_share_dialog_parent_class)->dispose (object);
}

static void
nfltr_share_dialog_finalize (GObject *object)
{
  NfltrShareDialog *self = NFLTR_SHARE_DIALOG (object);

  g_free (self->file);
  G_OBJECT_CLASS (nfltr_share_dialog_parent_class)->finalize (object);
}

/* As the New Tunnel dialog: drop the focus first (GTK 4.8 warns without a window manager). */
static gboolean
nfltr_share_dialog_close_request (GtkWindow *window)
{
  gtk_window_set_focus (window, NULL);
  return GTK_WINDOW_CLASS (nfltr_share_dialog_parent_class)->close_request (window);
}

static void
nfltr_share_dialog_class_init (NfltrShareDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfltr_share_dialog_dispose;
  object_class->finalize = nfltr_share_dialog_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = nfltr_share_dialog_close_request;
  gtk_widget_class_install_action (widget_class, "share.create", NULL, create_action);
  gtk_widget_class_install_action (widget_class, "share.choose", NULL, choose_action);
  gtk_widget_class_install_action (widget_class, "share.clear", NULL, clear_action);
  gtk_widget_class_install_action (widget_class, "share.paste", NULL, paste_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, GDK_CONTROL_MASK, "share.create", NULL);
}

static void
nfltr_share_dialog_init (NfltrShareDialog *self)
{
  self->cancellable = g_cancellable_new ();
  nfltr_share_dialog_build (self);
}

NfltrShareDialog *
nfltr_share_dialog_new (GtkWindow *parent, NfltrClient *client)
{
  NfltrShareDialog *self = g_object_new (NFLTR_TYPE_SHARE_DIALOG, "transient-for", parent, NULL);

  self->client = g_object_ref (client);
  validate (self);
  return self;
}

void
nfltr_share_dialog_fill (NfltrShareDialog *self, GVariant *fields)
{
  const char *s;
  gboolean b;
  guint32 u;

  g_return_if_fail (NFLTR_IS_SHARE_DIALOG (self));

  if (g_variant_lookup (fields, "file", "&s", &s))
    nfltr_share_dialog_set_file (self, s);
  if (g_variant_lookup (fields, "text", "&s", &s))
    gtk_text_buffer_set_text (self->text, s, -1);
  if (g_variant_lookup (fields, "paste", "b", &b) && b)
    gtk_widget_activate_action (GTK_WIDGET (self), "share.paste", NULL);
  if (g_variant_lookup (fields, "expires", "&s", &s))
    for (guint i = 0; i < G_N_ELEMENTS (expiries); i++)
      if (g_str_equal (expiries[i].id, s))
        adw_combo_row_set_selected (self->expires_row, i);
  if (g_variant_lookup (fields, "max-downloads", "u", &u))
    gtk_spin_button_set_value (self->max_spin, u);
  if (g_variant_lookup (fields, "share", "b", &b) && b)
    gtk_widget_activate_action (GTK_WIDGET (self), "share.create", NULL);
}

GVariant *
nfltr_share_dialog_describe (NfltrShareDialog *self)
{
  GVariantDict dict;
  g_autofree char *text = NULL;

  g_return_val_if_fail (NFLTR_IS_SHARE_DIALOG (self), NULL);

  text = text_contents (self);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "file", "s", self->file != NULL ? self->file : "");
  g_variant_dict_insert (&dict, "text", "s", text);
  g_variant_dict_insert (&dict, "valid", "b", self->valid);
  g_variant_dict_insert (&dict, "busy", "b", self->busy);
  g_variant_dict_insert (&dict, "expires", "s", expiries[MIN (adw_combo_row_get_selected (self->expires_row),
                                                              G_N_ELEMENTS (expiries) - 1)].id);
  g_variant_dict_insert (&dict, "max-downloads", "u", (guint32) gtk_spin_button_get_value_as_int (self->max_spin));
  g_variant_dict_insert (&dict, "error", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label)) ? gtk_label_get_label (self->error_label)
                                                                                 : "");
  return g_variant_dict_end (&dict);
}
