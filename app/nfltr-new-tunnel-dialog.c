/* nfltr-new-tunnel-dialog.c — the New Tunnel dialog.
 *
 * Input is checked as it is typed (the same rules the service applies, so most mistakes never
 * reach it); Create calls Manager.CreateTunnel with transient=false, which answers once the
 * tunnel is online, and whatever the service says is shown here in words. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>
#include <string.h>
#include <sys/random.h>

#include "nfltr-a11y.h"
#include "nfltr-error.h"
#include "nfltr-format.h"
#include "nfltr-new-tunnel-dialog.h"
#include "nfltr-share-secrets.h"
#include "nfltr-window.h"

enum {
  CERT_AUTOMATIC,
  CERT_OWN,
  CERT_INSPECTABLE,
};

static const char *cert_mode_names[] = { "automatic", "own", "inspectable" };

struct _NfltrNewTunnelDialog
{
  AdwWindow parent_instance;

  NfltrWindow *window; /* weak */
  NfltrClient *client;
  GSettings *settings;
  GCancellable *cancellable;
  GStrv kind_ids;      /* the service's Manager.Kinds, in the kind row's order */
  char *cert_file;
  char *key_file;
  gboolean busy;
  gboolean valid;
  GtkFileChooserNative *chooser;

  GtkButton *create_button;
  GtkSpinner *spinner;
  AdwComboRow *kind_row;
  AdwEntryRow *target_row;
  AdwEntryRow *name_row;
  GtkLabel *validation_label;
  AdwComboRow *cert_row;
  AdwActionRow *cert_file_row;
  AdwActionRow *key_file_row;
  GtkLabel *cert_hint;
  GtkWidget *inspectable_warning;
  GtkLabel *error_label;
  char *token;         /* the secret of the link of a terminal, ai, tail or watch tunnel */
};

G_DEFINE_FINAL_TYPE (NfltrNewTunnelDialog, nfltr_new_tunnel_dialog, ADW_TYPE_WINDOW)

static void
set_row_error (GtkWidget *row,
               gboolean   error)
{
  if (error)
    gtk_widget_add_css_class (row, "error");
  else
    gtk_widget_remove_css_class (row, "error");
}

static guint
index_of (const char * const *names,
          guint               n,
          const char         *name)
{
  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (names[i], name) == 0)
      return i;
  return 0;
}

/* Kinds whose page sits behind a secret link the dialog makes (service/kinds/terminal/
 * nfltr-term-app.h, tail, watch): their target is no address, and the link is copied. */
static gboolean
kind_has_secret_link (const char *kind)
{
  return g_strcmp0 (kind, "terminal") == 0 || g_strcmp0 (kind, "ai") == 0 ||
         g_strcmp0 (kind, "tail") == 0 || g_strcmp0 (kind, "watch") == 0;
}

/* What these kinds take as their target: a command (terminal, ai: may be empty, then the
 * shell or claude; watch), a file (tail). */
static gboolean
validate_secret_link_target (const char *kind, const char *text, char **message)
{
  *message = NULL;
  if (g_strcmp0 (kind, "tail") == 0 && !g_path_is_absolute (text))
    {
      *message = g_strdup (_("Enter the full path of the log file, like /var/log/syslog."));
      return FALSE;
    }
  if (g_strcmp0 (kind, "watch") == 0 && *text == '\0')
    {
      *message = g_strdup (_("Enter the command to run, like df -h."));
      return FALSE;
    }
  return TRUE;
}

/* A link's secret: 128 bits from the kernel's CSPRNG, base64url. */
static char *
new_token (void)
{
  guint8 bytes[16];
  char *text, *eq;

  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    return NULL;
  text = g_base64_encode (bytes, sizeof bytes);
  g_strdelimit (text, "+", '-');
  g_strdelimit (text, "/", '_');
  eq = strchr (text, '=');
  if (eq != NULL)
    *eq = '\0';
  return text;
}

/* The selected kind's id, NULL before the service has told us its kinds. */
static const char *
selected_kind (NfltrNewTunnelDialog *self)
{
  guint selected = adw_combo_row_get_selected (self->kind_row);

  if (self->kind_ids == NULL || selected >= g_strv_length (self->kind_ids))
    return NULL;
  return self->kind_ids[selected];
}

static void
select_kind (NfltrNewTunnelDialog *self,
             const char           *kind)
{
  if (self->kind_ids != NULL)
    adw_combo_row_set_selected (self->kind_row,
                                index_of ((const char * const *) self->kind_ids,
                                          g_strv_length (self->kind_ids), kind));
}

/* The kind row offers what the service offers (Manager.Kinds), labelled as it says. */
static void
load_kinds (NfltrNewTunnelDialog *self)
{
  NfltrDbusManager *manager = nfltr_client_get_manager (self->client);
  GVariant *kinds = manager != NULL ? nfltr_dbus_manager_get_kinds (manager) : NULL;
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new ();
  g_autoptr(GtkStringList) labels = gtk_string_list_new (NULL);
  const char *id, *label, *description;
  GVariantIter iter;

  if (kinds == NULL || !g_variant_is_of_type (kinds, G_VARIANT_TYPE ("a(sss)")))
    return;
  g_variant_iter_init (&iter, kinds);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &id, &label, &description))
    {
      g_autofree char *shown = NULL;

      /* A share's link carries a secret only the client that made it knows, and the
       * tunnel's URL does not: until the app can show that link, shares come from
       * `nfltr share`. */
      if (g_str_equal (id, "share"))
        continue;
      shown = nfltr_format_kind_label (kinds, id);

      g_strv_builder_add (ids, id);
      gtk_string_list_append (labels, shown);
    }
  g_strfreev (self->kind_ids);
  self->kind_ids = g_strv_builder_end (ids);
  adw_combo_row_set_model (self->kind_row, G_LIST_MODEL (labels));
}

static void nfltr_new_tunnel_dialog_validate (NfltrNewTunnelDialog *self);

static void
on_manager_changed (NfltrNewTunnelDialog *self)
{
  g_autofree char *kind = g_strdup (selected_kind (self));

  load_kinds (self);
  if (kind == NULL)
    kind = g_settings_get_string (self->settings, "last-kind");
  select_kind (self, kind);
  nfltr_new_tunnel_dialog_validate (self);
}

/* The target's meaning is the kind's: a folder for serve, a command line for command, a
 * local address for the rest. The title of the row says which. */
static gboolean
validate_kind_target (NfltrNewTunnelDialog  *self,
                      const char            *target,
                      char                 **message)
{
  const char *kind = selected_kind (self);

  if (g_strcmp0 (kind, "serve") == 0)
    {
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->target_row), _("_Folder to share"));
      if (g_path_is_absolute (target) && g_file_test (target, G_FILE_TEST_IS_DIR))
        return TRUE;
      *message = g_strdup (_("Enter the full path of a folder, like /home/ann/Public."));
      return FALSE;
    }
  if (g_strcmp0 (kind, "command") == 0)
    {
      g_auto(GStrv) argv = NULL;

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->target_row), _("_Command to run"));
      if (g_shell_parse_argv (target, NULL, &argv, NULL) && argv[0] != NULL)
        return TRUE;
      *message = g_strdup (_("Enter a command and its arguments, like wc -l."));
      return FALSE;
    }
  if (kind_has_secret_link (kind))
    return validate_secret_link_target (kind, target, message);
  /* A shell's target is the authorized_keys file, empty for ~/.ssh/authorized_keys
   * (service/kinds/shell); the service checks that it exists. */
  if (g_strcmp0 (kind, "shell") == 0)
    {
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->target_row),
                                     _ ("_Authorized keys file (optional)"));
      if (*target == '\0' || g_path_is_absolute (target) || g_str_has_prefix (target, "~/"))
        return TRUE;
      *message = g_strdup (
        _ ("Enter the full path of an authorized_keys file, or leave it empty for ~/.ssh/authorized_keys."));
      return FALSE;
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->target_row), _ ("Local _port or address"));
  return nfltr_validate_target (target, message);
}

static void
nfltr_new_tunnel_dialog_validate (NfltrNewTunnelDialog *self)
{
  const char *target = gtk_editable_get_text (GTK_EDITABLE (self->target_row));
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));
  guint cert = adw_combo_row_get_selected (self->cert_row);
  g_autofree char *target_msg = NULL;
  g_autofree char *name_msg = NULL;
  gboolean target_ok, name_ok, files_ok;
  const char *shown = NULL;

  target_ok = validate_kind_target (self, target, &target_msg);
  name_ok = nfltr_validate_name (name, &name_msg);
  files_ok = cert != CERT_OWN || (self->cert_file != NULL && self->key_file != NULL);

  /* An empty target is not an error yet: only say so once something was typed. */
  set_row_error (GTK_WIDGET (self->target_row), !target_ok && *target != '\0');
  set_row_error (GTK_WIDGET (self->name_row), !name_ok);
  if (!target_ok && *target != '\0')
    shown = target_msg;
  else if (!name_ok)
    shown = name_msg;
  gtk_label_set_label (self->validation_label, shown ? shown : "");
  gtk_widget_set_visible (GTK_WIDGET (self->validation_label), shown != NULL);

  gtk_widget_set_visible (GTK_WIDGET (self->cert_file_row), cert == CERT_OWN);
  gtk_widget_set_visible (GTK_WIDGET (self->key_file_row), cert == CERT_OWN);
  gtk_widget_set_visible (self->inspectable_warning, cert == CERT_INSPECTABLE);
  switch (cert)
    {
    case CERT_OWN:
      gtk_label_set_label (self->cert_hint,
                           _("Present your own certificate, for example one your organisation issued. Its key stays on this computer and the tunnel stays verified end-to-end."));
      break;
    case CERT_INSPECTABLE:
      gtk_label_set_label (self->cert_hint,
                           _("Inspectable: the relay terminates TLS for this tunnel."));
      break;
    case CERT_AUTOMATIC:
    default:
      gtk_label_set_label (self->cert_hint,
                           _ ("NFLTR makes a self-signed certificate for this tunnel. Only this computer has "
                              "its key, so the relay passes the traffic on without being able to read it: "
                              "verified end-to-end. Visitors’ browsers show a warning until they trust its "
                              "fingerprint; choose your own certificate to avoid that."));
      break;
    }
  adw_action_row_set_subtitle (self->cert_file_row, self->cert_file ? self->cert_file : _("None chosen"));
  adw_action_row_set_subtitle (self->key_file_row, self->key_file ? self->key_file : _("None chosen"));

  self->valid = target_ok && name_ok && files_ok && selected_kind (self) != NULL;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.create", self->valid && !self->busy);
}

static void
on_changed (NfltrNewTunnelDialog *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  nfltr_new_tunnel_dialog_validate (self);
}

static void
nfltr_new_tunnel_dialog_set_busy (NfltrNewTunnelDialog *self,
                                  gboolean              busy)
{
  self->busy = busy;
  /* GTK 4.8's GtkText warns (from its cursor blink) when it loses focus by turning
   * insensitive; move the focus off first, which sends it a proper focus-out. */
  if (busy)
    gtk_window_set_focus (GTK_WINDOW (self), NULL);
  gtk_spinner_set_spinning (self->spinner, busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->kind_row), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->target_row), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->name_row), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->cert_row), !busy);
  nfltr_new_tunnel_dialog_validate (self);
}

static void
create_tunnel_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(NfltrNewTunnelDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  if (!nfltr_dbus_manager_call_create_tunnel_finish (NFLTR_DBUS_MANAGER (source), &path, result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = nfltr_format_error (error);
      nfltr_new_tunnel_dialog_set_busy (self, FALSE);
      if (g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN))
        {
          /* Issue 9 §6: at the Name field, once — not also at the bottom. */
          set_row_error (GTK_WIDGET (self->name_row), TRUE);
          gtk_label_set_label (self->validation_label, message);
          gtk_widget_set_visible (GTK_WIDGET (self->validation_label), TRUE);
          gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
          return;
        }
      gtk_label_set_label (self->error_label, message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      return;
    }

  g_debug ("created %s", path);
  if (selected_kind (self) != NULL)
    g_settings_set_string (self->settings, "last-kind", selected_kind (self));
  g_settings_set_string (self->settings, "last-target",
                         gtk_editable_get_text (GTK_EDITABLE (self->target_row)));
  g_settings_set_string (self->settings, "last-certificate",
                         cert_mode_names[MIN (adw_combo_row_get_selected (self->cert_row), 2)]);
  if (self->token != NULL)
    {
      /* The page opens only with its secret: the whole link goes to the clipboard, and the
       * app keeps the secret in memory so the row's copy button gives it again (p2papp). */
      NfltrDbusTunnel *tunnel = nfltr_client_find_tunnel (self->client, path);
      const char *url = tunnel != NULL ? nfltr_dbus_tunnel_get_public_url (tunnel) : NULL;
      g_autofree char *suffix = g_strdup_printf ("/?token=%s", self->token);

      nfltr_share_secrets_remember (path, suffix);
      if (url != NULL && *url != '\0')
        {
          g_autofree char *link = nfltr_share_secrets_link (path, url);

          gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), link);
          if (self->window != NULL)
            nfltr_window_add_toast (self->window, _("Tunnel created; its link, with its secret, is copied"));
          gtk_window_close (GTK_WINDOW (self));
          return;
        }
    }
  if (self->window != NULL)
    nfltr_window_add_toast (self->window, _("Tunnel created"));
  gtk_window_close (GTK_WINDOW (self));
}

static void
create_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  NfltrNewTunnelDialog *self = NFLTR_NEW_TUNNEL_DIALOG (widget);
  NfltrDbusManager *manager = nfltr_client_get_manager (self->client);
  guint cert = adw_combo_row_get_selected (self->cert_row);
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));
  GVariantBuilder options;

  nfltr_new_tunnel_dialog_validate (self);
  if (!self->valid || self->busy || manager == NULL || selected_kind (self) == NULL)
    return;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string (selected_kind (self)));
  g_variant_builder_add (&options, "{sv}", "target",
                         g_variant_new_string (gtk_editable_get_text (GTK_EDITABLE (self->target_row))));
  if (*name != '\0')
    g_variant_builder_add (&options, "{sv}", "name", g_variant_new_string (name));
  g_variant_builder_add (&options, "{sv}", "e2ee", g_variant_new_boolean (cert != CERT_INSPECTABLE));
  if (cert == CERT_OWN)
    {
      g_variant_builder_add (&options, "{sv}", "cert-file", g_variant_new_string (self->cert_file));
      g_variant_builder_add (&options, "{sv}", "key-file", g_variant_new_string (self->key_file));
    }
  g_variant_builder_add (&options, "{sv}", "transient", g_variant_new_boolean (FALSE));
  g_clear_pointer (&self->token, g_free);
  if (kind_has_secret_link (selected_kind (self)))
    {
      self->token = new_token ();
      if (self->token != NULL)
        g_variant_builder_add (&options, "{sv}", "token", g_variant_new_string (self->token));
    }

  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  nfltr_new_tunnel_dialog_set_busy (self, TRUE);
  nfltr_dbus_manager_call_create_tunnel (manager, g_variant_builder_end (&options),
                                         self->cancellable, create_tunnel_cb, g_object_ref (self));
}

static void
chooser_response_cb (GtkNativeDialog      *chooser,
                     int                   response,
                     NfltrNewTunnelDialog *self)
{
  const char *which = g_object_get_data (G_OBJECT (chooser), "which");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      char *path = file ? g_file_get_path (file) : NULL;

      if (g_strcmp0 (which, "key") == 0)
        {
          g_free (self->key_file);
          self->key_file = path;
        }
      else
        {
          g_free (self->cert_file);
          self->cert_file = path;
        }
    }
  g_clear_object (&self->chooser);
  nfltr_new_tunnel_dialog_validate (self);
}

static void
choose_file_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *param)
{
  NfltrNewTunnelDialog *self = NFLTR_NEW_TUNNEL_DIALOG (widget);
  const char *which = g_variant_get_string (param, NULL);
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (g_str_equal (which, "key")
                                               ? _("Choose the Private Key")
                                               : _("Choose the Certificate"),
                                               GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_OPEN,
                                               _("_Select"), _("_Cancel"));
  gtk_file_filter_set_name (filter, _("PEM files"));
  gtk_file_filter_add_pattern (filter, "*.pem");
  gtk_file_filter_add_pattern (filter, "*.crt");
  gtk_file_filter_add_pattern (filter, "*.key");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), filter);
  g_object_set_data_full (G_OBJECT (self->chooser), "which", g_strdup (which), g_free);
  g_signal_connect (self->chooser, "response", G_CALLBACK (chooser_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
nfltr_new_tunnel_dialog_dispose (GObject *object)
{
  NfltrNewTunnelDialog *self = NFLTR_NEW_TUNNEL_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->chooser)
    {
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }
  g_clear_weak_pointer (&self->window);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFLTR_TYPE_NEW_TUNNEL_DIALOG);

  G_OBJECT_CLASS (nfltr_new_tunnel_dialog_parent_class)->dispose (object);
}

static void
nfltr_new_tunnel_dialog_finalize (GObject *object)
{
  NfltrNewTunnelDialog *self = NFLTR_NEW_TUNNEL_DIALOG (object);

  g_free (self->cert_file);
  g_free (self->key_file);
  g_strfreev (self->kind_ids);
  g_free (self->token);

  G_OBJECT_CLASS (nfltr_new_tunnel_dialog_parent_class)->finalize (object);
}

/* Drop the focus before the window goes: GTK 4.8 warns when a focused GtkText is destroyed
 * without having seen a focus-out (which it does not get without a window manager). */
static gboolean
nfltr_new_tunnel_dialog_close_request (GtkWindow *window)
{
  gtk_window_set_focus (window, NULL);
  return GTK_WINDOW_CLASS (nfltr_new_tunnel_dialog_parent_class)->close_request (window);
}

static void
nfltr_new_tunnel_dialog_class_init (NfltrNewTunnelDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfltr_new_tunnel_dialog_dispose;
  object_class->finalize = nfltr_new_tunnel_dialog_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = nfltr_new_tunnel_dialog_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/xyz/nfltr/Nfltr/nfltr-new-tunnel-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, create_button);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, spinner);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, kind_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, target_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, validation_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, cert_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, cert_file_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, key_file_row);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, cert_hint);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, inspectable_warning);
  gtk_widget_class_bind_template_child (widget_class, NfltrNewTunnelDialog, error_label);
  gtk_widget_class_bind_template_callback (widget_class, on_changed);

  gtk_widget_class_install_action (widget_class, "dialog.create", NULL, create_action);
  gtk_widget_class_install_action (widget_class, "dialog.choose-file", "s", choose_file_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, GDK_CONTROL_MASK, "dialog.create", NULL);
}

static void
nfltr_new_tunnel_dialog_init (NfltrNewTunnelDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  nfltr_a11y_name_mnemonic_buttons (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

NfltrNewTunnelDialog *
nfltr_new_tunnel_dialog_new (NfltrWindow *window,
                             NfltrClient *client,
                             GSettings   *settings)
{
  NfltrNewTunnelDialog *self;
  g_autofree char *kind = NULL;
  g_autofree char *target = NULL;
  g_autofree char *cert = NULL;
  guint cert_index;

  self = g_object_new (NFLTR_TYPE_NEW_TUNNEL_DIALOG, "transient-for", window, NULL);
  g_set_weak_pointer (&self->window, window);
  self->client = g_object_ref (client);
  self->settings = g_object_ref (settings);

  kind = g_settings_get_string (settings, "last-kind");
  target = g_settings_get_string (settings, "last-target");
  cert = g_settings_get_string (settings, "last-certificate");
  /* Before the service answered there are no kinds yet: they come with the manager. */
  g_signal_connect_object (client, "notify::manager", G_CALLBACK (on_manager_changed), self,
                           G_CONNECT_SWAPPED);
  load_kinds (self);
  select_kind (self, kind);
  gtk_editable_set_text (GTK_EDITABLE (self->target_row), target);
  /* Never start on inspectable: giving up end-to-end encryption is chosen each time. */
  cert_index = index_of (cert_mode_names, G_N_ELEMENTS (cert_mode_names), cert);
  adw_combo_row_set_selected (self->cert_row, cert_index == CERT_INSPECTABLE ? CERT_AUTOMATIC : cert_index);

  nfltr_new_tunnel_dialog_validate (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->target_row));
  return self;
}

/* Set fields as typing would (tests drive the dialog through app.test-fill-new-tunnel). */
void
nfltr_new_tunnel_dialog_fill (NfltrNewTunnelDialog *self,
                              GVariant             *fields)
{
  const char *s;

  g_return_if_fail (NFLTR_IS_NEW_TUNNEL_DIALOG (self));

  if (g_variant_lookup (fields, "kind", "&s", &s))
    select_kind (self, s);
  if (g_variant_lookup (fields, "target", "&s", &s))
    gtk_editable_set_text (GTK_EDITABLE (self->target_row), s);
  if (g_variant_lookup (fields, "name", "&s", &s))
    gtk_editable_set_text (GTK_EDITABLE (self->name_row), s);
  if (g_variant_lookup (fields, "certificate", "&s", &s))
    adw_combo_row_set_selected (self->cert_row, index_of (cert_mode_names, G_N_ELEMENTS (cert_mode_names), s));
  if (g_variant_lookup (fields, "cert-file", "&s", &s))
    {
      g_free (self->cert_file);
      self->cert_file = g_strdup (s);
    }
  if (g_variant_lookup (fields, "key-file", "&s", &s))
    {
      g_free (self->key_file);
      self->key_file = g_strdup (s);
    }
  nfltr_new_tunnel_dialog_validate (self);
}

GVariant *
nfltr_new_tunnel_dialog_describe (NfltrNewTunnelDialog *self)
{
  GVariantDict dict;

  g_return_val_if_fail (NFLTR_IS_NEW_TUNNEL_DIALOG (self), NULL);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "valid", "b", self->valid);
  g_variant_dict_insert (&dict, "busy", "b", self->busy);
  g_variant_dict_insert (&dict, "kind", "s", selected_kind (self) ? selected_kind (self) : "");
  g_variant_dict_insert (&dict, "kinds", "^as", self->kind_ids ? self->kind_ids : (char *[]) { NULL });
  g_variant_dict_insert (&dict, "validation", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->validation_label))
                         ? gtk_label_get_label (self->validation_label) : "");
  g_variant_dict_insert (&dict, "error", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label))
                         ? gtk_label_get_label (self->error_label) : "");
  g_variant_dict_insert (&dict, "inspectable-warning", "b", gtk_widget_get_visible (self->inspectable_warning));
  return g_variant_dict_end (&dict);
}
