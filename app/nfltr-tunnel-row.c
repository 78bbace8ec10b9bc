/* nfltr-tunnel-row.c — one tunnel in the list.
 *
 * The row only mirrors the Tunnel proxy: every property change from the service (state,
 * counters, URL) updates it, and the switch calls Start/Stop. GtkSwitch keeps "active" (what
 * the user asked for) apart from "state" (what is true); the state follows the service. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-a11y.h"
#include "nfltr-application.h"
#include "nfltr-confirm.h"
#include "nfltr-fingerprint.h"

#include <string.h>
#include "nfltr-format.h"
#include "nfltr-share-secrets.h"
#include "nfltr-inspect-window.h" /* issue 9 §8 */
#include "nfltr-tunnel-row.h"
#include "nfltr-window.h"

#include <string.h>

#define QR_MODULE_PX 4

struct _NfltrTunnelRow
{
  GtkListBoxRow parent_instance;

  NfltrDbusTunnel *tunnel;
  GCancellable *cancellable;
  char *qr_text;
  char *call_error;
  int wanted;        /* -1: none; else the state the user asked for and we wait to see */
  gboolean call_done;

  GtkLabel *name_label;
  GtkLabel *badge_label;
  GtkLabel *target_label;
  GtkSwitch *active_switch;
  GtkLabel *url_label;
  GtkLabel *stats_label;
  GtkToggleButton *expand_button;
  GtkLabel *error_label;
  GtkLabel *proof_label;
  GtkRevealer *details_revealer;
  GtkLabel *fingerprint_label;
  GtkLabel *fingerprint_hint;
  GtkLabel *cert_warning_label;
  GtkPicture *qr_picture;
  GtkLabel *link_label; /* p2papp: the link with its secret, when this app made the tunnel */
  GtkWidget *inspect_button;  /* issue 9 §8 */
  GtkWidget *inspect_window;  /* issue 9 §8: the Inspect page, while open (weak) */
};

static NfltrDbusInspector *tunnel_inspector (NfltrTunnelRow *self); /* issue 9 §8 */

G_DEFINE_FINAL_TYPE (NfltrTunnelRow, nfltr_tunnel_row, GTK_TYPE_LIST_BOX_ROW)

static gboolean
state_is_running (const char *state)
{
  return g_strcmp0 (state, "online") == 0 ||
         g_strcmp0 (state, "starting") == 0 ||
         g_strcmp0 (state, "connecting") == 0 ||
         g_strcmp0 (state, "reconnecting") == 0;
}

static void
nfltr_tunnel_row_update_qr (NfltrTunnelRow *self)
{
  const char *url = nfltr_dbus_tunnel_get_public_url (self->tunnel);
  g_autofree char *text = NULL;
  g_autoptr(GdkTexture) texture = NULL;

  /* Only build the QR code once the row is open: 20 rows need no 20 textures at startup. */
  if (!gtk_revealer_get_reveal_child (self->details_revealer))
    return;

  /* Issue 9 §6: the URL alone, so a phone opens it; the fingerprint is shown beside it. */
  text = g_strdup (url ? url : "");
  if (g_strcmp0 (text, self->qr_text) == 0)
    return;
  g_free (self->qr_text);
  self->qr_text = g_steal_pointer (&text);
  texture = nfltr_fingerprint_qr_texture (self->qr_text, QR_MODULE_PX);
  gtk_picture_set_paintable (self->qr_picture, GDK_PAINTABLE (texture));
}

/* issue 11: the relay's own check of this tunnel, in words (Tunnel.ProofResult & co). */
static void
nfltr_tunnel_row_update_proof (NfltrTunnelRow *self)
{
  NfltrDbusTunnel *t = self->tunnel;
  const char *result = nfltr_dbus_tunnel_get_proof_result (t);
  const char *observed = nfltr_dbus_tunnel_get_proof_observed_fingerprint (t);
  guint64 checked = nfltr_dbus_tunnel_get_proof_checked (t);
  g_autofree char *text = NULL;
  g_autofree char *when = NULL;

  if (checked != 0)
    {
      g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc ((gint64) checked);
      g_autoptr(GDateTime) local = utc ? g_date_time_to_local (utc) : NULL;

      when = local ? g_date_time_format (local, "%X") : NULL;
    }
  if (result == NULL || *result == '\0')
    text = NULL;
  else if (nfltr_dbus_tunnel_get_proof_flagged (t) || g_strcmp0 (result, "mismatch") == 0)
    text = g_strdup_printf (_("Relay check: MISMATCH — the relay was served another certificate (%s)"),
                            observed && *observed ? observed : "?");
  else if (g_strcmp0 (result, "verified") == 0)
    text = g_strdup_printf (_("Relay check: verified at %s"), when ? when : "?");
  else if (g_strcmp0 (result, "inspectable") == 0)
    text = g_strdup (_("Relay check: none — inspectable, the relay reads this traffic"));
  else if (g_strcmp0 (result, "unreachable") == 0)
    text = g_strdup (_("Relay check: the relay could not reach this tunnel"));
  else
    text = g_strdup (_("Relay check: pending"));

  gtk_label_set_label (self->proof_label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->proof_label), text != NULL);
  if (g_strcmp0 (result, "mismatch") == 0 || nfltr_dbus_tunnel_get_proof_flagged (t))
    gtk_widget_add_css_class (GTK_WIDGET (self->proof_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->proof_label), "error");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "row.export-proof", text != NULL);
}

/* Manager.Kinds, for the kind's label: the row knows only its tunnel, the application holds
 * the client and its manager. */
static GVariant *
service_kinds (void)
{
  GApplication *app = g_application_get_default ();
  NfltrDbusManager *manager;

  if (!NFLTR_IS_APPLICATION (app))
    return NULL;
  manager = nfltr_client_get_manager (nfltr_application_get_client (NFLTR_APPLICATION (app)));
  return manager != NULL ? nfltr_dbus_manager_get_kinds (manager) : NULL;
}


/* Issue 9 §1: the publisher learns where the URL is shown that visitors will see a warning
 * ("Automatic" must not read as "a certificate browsers accept"). */
static void
update_certificate_warning (NfltrTunnelRow *self)
{
  const char *trust = nfltr_dbus_tunnel_get_certificate (self->tunnel);
  const char *reason = nfltr_dbus_tunnel_get_certificate_reason (self->tunnel);
  const char *url = nfltr_dbus_tunnel_get_public_url (self->tunnel);
  g_autofree char *text = NULL;
  gboolean is_hint = FALSE;

  /* Issue 9 §3: a tcp tunnel is not a website; say how its clients connect instead. */
  if (url != NULL && g_str_has_prefix (url, "tls://"))
    {
      /* TRANSLATORS: %s is the tunnel's HOST:PORT; keep the command as it is */
      text = g_strdup_printf (_ ("Not a website: clients connect with “nfltr connect %s”, which checks this "
                                 "certificate’s fingerprint."),
                              url + strlen ("tls://"));
      is_hint = TRUE;
    }
  else if (g_strcmp0 (trust, "self-signed") == 0)
    text = g_strdup (_ ("Self-signed certificate: visitors’ browsers will show a warning. They can compare "
                        "the fingerprint in the details, or you can use your own certificate."));
  else if (g_strcmp0 (trust, "untrusted") == 0)
    /* TRANSLATORS: %s is the reason in English, e.g. “expired” or “not valid for HOST” */
    text = g_strdup_printf (_ ("Your certificate is %s: visitors’ browsers will show a warning."),
                            reason != NULL && *reason ? reason : _ ("not trusted"));
  if (is_hint)
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->cert_warning_label), "warning");
      gtk_widget_add_css_class (GTK_WIDGET (self->cert_warning_label), "dim-label");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->cert_warning_label), "dim-label");
      gtk_widget_add_css_class (GTK_WIDGET (self->cert_warning_label), "warning");
    }
  gtk_label_set_label (self->cert_warning_label, text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->cert_warning_label), text != NULL);
}

static void
nfltr_tunnel_row_update (NfltrTunnelRow *self)
{
  NfltrDbusTunnel *t = self->tunnel;
  const char *state = nfltr_dbus_tunnel_get_state (t);
  const char *url = nfltr_dbus_tunnel_get_public_url (t);
  const char *last_error = nfltr_dbus_tunnel_get_last_error (t);
  const char *name = nfltr_dbus_tunnel_get_name (t);
  gboolean inspectable = g_strcmp0 (nfltr_dbus_tunnel_get_mode (t), "inspectable") == 0;
  gboolean flagged = !inspectable && nfltr_dbus_tunnel_get_proof_flagged (t);
  gboolean running = state_is_running (state);
  g_autofree char *target = nfltr_format_target (service_kinds (),
                                                 nfltr_dbus_tunnel_get_kind (t),
                                                 nfltr_dbus_tunnel_get_target (t));
  g_autofree char *stats = NULL;
  g_autofree char *fingerprint = nfltr_fingerprint_format_display (nfltr_dbus_tunnel_get_fingerprint (t));
  const char *error_text = NULL;
  g_autofree char *origin_text = NULL;

  gtk_label_set_label (self->name_label, name && *name ? name : nfltr_dbus_tunnel_get_id (t));
  gtk_label_set_label (self->target_label, target);

  nfltr_tunnel_row_update_proof (self);
  gtk_label_set_label (self->badge_label, inspectable ? _("Inspectable")
                                          : flagged ? _("Flagged: certificate mismatch")
                                                    : _("Verified end-to-end"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->badge_label),
                               inspectable
                               ? _("The relay terminates TLS for this tunnel and can read its traffic.")
                               : _("Only this computer holds the key: the relay forwards encrypted bytes it cannot read."));
  gtk_widget_remove_css_class (GTK_WIDGET (self->badge_label), "verified");
  gtk_widget_remove_css_class (GTK_WIDGET (self->badge_label), "inspectable");
  gtk_widget_remove_css_class (GTK_WIDGET (self->badge_label), "flagged");
  gtk_widget_add_css_class (GTK_WIDGET (self->badge_label),
                            inspectable ? "inspectable" : flagged ? "flagged" : "verified");

  if (url != NULL && *url != '\0')
    gtk_label_set_label (self->url_label, url);
  else if (g_strcmp0 (state, "starting") == 0)
    gtk_label_set_label (self->url_label, _("Getting a public address…"));
  else
    gtk_label_set_label (self->url_label, _("No public address yet"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->url_label), running && url && *url);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "row.copy-url", url && *url);
  {
    /* p2papp: a page behind a secret opens only with it; show and copy the whole link for
     * as long as the tunnel lives (the secret is in this process's memory only). */
    g_autofree char *link = nfltr_share_secrets_link (g_dbus_proxy_get_object_path (G_DBUS_PROXY (t)), url);
    g_autofree char *shown = link != NULL ? g_strdup_printf (_ ("Link with its secret: %s"), link) : NULL;

    gtk_label_set_label (self->link_label, shown != NULL ? shown : "");
    gtk_widget_set_visible (GTK_WIDGET (self->link_label), link != NULL);
  }
  /* A tls:// tunnel is not a website: no browser to open it in. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "row.open-url",
                                 url && *url && running && !g_str_has_prefix (url, "tls://"));
  /* issue 9 §8: http tunnels have an inspector; the button is there only for them */
  gtk_widget_set_visible (self->inspect_button, tunnel_inspector (self) != NULL);

  if (g_strcmp0 (state, "online") == 0)
    stats = nfltr_format_traffic (nfltr_dbus_tunnel_get_active_connections (t),
                                  nfltr_dbus_tunnel_get_total_connections (t),
                                  nfltr_dbus_tunnel_get_bytes_in (t),
                                  nfltr_dbus_tunnel_get_bytes_out (t));
  else if (g_strcmp0 (state, "starting") == 0)
    stats = g_strdup (_("Starting…"));
  else if (g_strcmp0 (state, "reconnecting") == 0)
    stats = g_strdup (_("Reconnecting to the relay…"));
  else if (g_strcmp0 (state, "connecting") == 0)
    /* Created while the relay is away: it goes online by itself once the relay answers. */
    stats = g_strdup (_("Waiting for the relay…"));
  else if (g_strcmp0 (state, "failed") == 0)
    stats = g_strdup (_("Failed"));
  else
    stats = g_strdup (_("Stopped"));
  gtk_label_set_label (self->stats_label, stats);

  if (self->call_error != NULL)
    error_text = self->call_error;
  /* A lost relay is the window banner's to say, once (issue 9 §6): a reconnecting row only
   * says "Reconnecting…" in its counters line. */
  else if (g_strcmp0 (state, "failed") == 0 && last_error != NULL && *last_error != '\0')
    error_text = last_error;
  else if (g_strcmp0 (state, "online") == 0 &&
           g_strcmp0 (nfltr_dbus_tunnel_get_origin_state (t), "down") == 0)
    {
      const char *why = nfltr_dbus_tunnel_get_origin_error (t);

      /* TRANSLATORS: %s names the local address and why it failed, in English */
      origin_text = g_strdup_printf (_("Local server is not answering: %s. Visitors get an error until it does."),
                                     why != NULL && *why ? why : "?");
      error_text = origin_text;
    }
  gtk_label_set_label (self->error_label, error_text ? error_text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), error_text != NULL);

  update_certificate_warning (self);
  gtk_label_set_label (self->fingerprint_label, fingerprint);
  gtk_label_set_label (self->fingerprint_hint,
                       inspectable
                         ? _ ("This is the certificate between the relay and this computer. Public visitors "
                              "see the relay’s own certificate, because the relay decrypts this tunnel.")
                       : url != NULL && g_str_has_prefix (url, "tls://")
                         ? _ ("Clients see exactly this certificate: “nfltr connect” pins it on first use "
                              "and refuses a changed one.")
                         : _ ("Visitors’ browsers see exactly this certificate. If the fingerprint they see "
                              "differs, someone in between is decrypting the traffic."));

  /* The switch's state follows the service; its "active" shows what the user asked for until
   * the service reports it (or the call failed, or the tunnel failed to start). */
  if (self->wanted != -1 &&
      ((running ? 1 : 0) == self->wanted ||
       (self->call_done && g_strcmp0 (state, "failed") == 0)))
    self->wanted = -1;
  if (self->wanted != -1)
    gtk_switch_set_state (self->active_switch, running);
  else
    {
      g_signal_handlers_block_matched (self->active_switch, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, self);
      gtk_switch_set_active (self->active_switch, running);
      gtk_switch_set_state (self->active_switch, running);
      g_signal_handlers_unblock_matched (self->active_switch, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, self);
    }

  nfltr_tunnel_row_update_qr (self);
}

static void
on_tunnel_properties_changed (GDBusProxy     *proxy,
                              GVariant       *changed,
                              GStrv           invalidated,
                              NfltrTunnelRow *self)
{
  nfltr_tunnel_row_update (self);
}

static void
start_stop_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(NfltrTunnelRow) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  /* Start and Stop both return (); either _finish reads the reply. */
  ok = nfltr_dbus_tunnel_call_start_finish (NFLTR_DBUS_TUNNEL (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self->call_done = TRUE;
  g_clear_pointer (&self->call_error, g_free);
  if (!ok)
    {
      self->call_error = nfltr_format_error (error);
      self->wanted = -1;
    }
  nfltr_tunnel_row_update (self);
}

static gboolean
on_switch_state_set (GtkSwitch      *sw,
                     gboolean        state,
                     NfltrTunnelRow *self)
{
  g_debug ("%s: switch → %s", nfltr_dbus_tunnel_get_id (self->tunnel), state ? "on" : "off");
  self->wanted = state ? 1 : 0;
  self->call_done = FALSE;
  g_clear_pointer (&self->call_error, g_free);
  if (state)
    nfltr_dbus_tunnel_call_start (self->tunnel, self->cancellable, start_stop_cb, g_object_ref (self));
  else
    nfltr_dbus_tunnel_call_stop (self->tunnel, self->cancellable, start_stop_cb, g_object_ref (self));
  /* TRUE: we set the switch's state ourselves once the service has answered. */
  return TRUE;
}

static void
on_expand_toggled (NfltrTunnelRow *self)
{
  gboolean expanded = gtk_toggle_button_get_active (self->expand_button);

  gtk_revealer_set_reveal_child (self->details_revealer, expanded);
  gtk_button_set_icon_name (GTK_BUTTON (self->expand_button),
                            expanded ? "pan-up-symbolic" : "pan-down-symbolic");
  nfltr_tunnel_row_update_qr (self);
}

static void
copy_fingerprint_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *param)
{
  NfltrTunnelRow *self = NFLTR_TUNNEL_ROW (widget);
  g_autofree char *fp = nfltr_fingerprint_format_display (nfltr_dbus_tunnel_get_fingerprint (self->tunnel));
  GtkRoot *root = gtk_widget_get_root (widget);

  if (*fp == '\0')
    return;
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), fp);
  if (NFLTR_IS_WINDOW (root))
    nfltr_window_add_toast (NFLTR_WINDOW (root), _("Fingerprint copied"));
}

static void
copy_url_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *param)
{
  NfltrTunnelRow *self = NFLTR_TUNNEL_ROW (widget);
  const char *url = nfltr_dbus_tunnel_get_public_url (self->tunnel);
  GtkRoot *root = gtk_widget_get_root (widget);
  g_autofree char *link = NULL;

  if (url == NULL || *url == '\0')
    return;
  /* p2papp: the link with its secret when the app knows it; the bare URL would only be
   * refused (401, 404) to whoever gets it. */
  link = nfltr_share_secrets_link (g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->tunnel)), url);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), link != NULL ? link : url);
  if (NFLTR_IS_WINDOW (root))
    nfltr_window_add_toast (NFLTR_WINDOW (root), link != NULL ? _ ("Link with its secret copied")
                                                              : _ ("Public URL copied"));
}

static void
open_url_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *param)
{
  NfltrTunnelRow *self = NFLTR_TUNNEL_ROW (widget);
  const char *url = nfltr_dbus_tunnel_get_public_url (self->tunnel);
  g_autofree char *link = NULL;

  if (url == NULL || *url == '\0')
    return;
  /* p2papp: the page behind a secret opens only with it */
  link = nfltr_share_secrets_link (g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->tunnel)), url);
  gtk_show_uri (GTK_WINDOW (gtk_widget_get_root (widget)), link != NULL ? link : url, GDK_CURRENT_TIME);
}

/* issue 9 §8: the tunnel's Inspector, from the same object the object manager gave us. */
static NfltrDbusInspector *
tunnel_inspector (NfltrTunnelRow *self)
{
  GDBusObject *object = g_dbus_interface_get_object (G_DBUS_INTERFACE (self->tunnel));
  g_autoptr(GDBusInterface) iface = NULL;

  if (object == NULL)
    return NULL;
  iface = g_dbus_object_get_interface (object, "xyz.nfltr.Nfltr.Inspector");
  /* The object holds it as long as the row's tunnel lives. */
  return iface != NULL ? NFLTR_DBUS_INSPECTOR (iface) : NULL;
}

static void
inspect_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *param)
{
  NfltrTunnelRow *self = NFLTR_TUNNEL_ROW (widget);
  NfltrDbusInspector *inspector = tunnel_inspector (self);

  if (inspector == NULL)
    return;
  if (self->inspect_window == NULL)
    {
      self->inspect_window = GTK_WIDGET (nfltr_inspect_window_new (GTK_WINDOW (gtk_widget_get_root (widget)),
                                                                  self->tunnel, inspector));
      g_object_add_weak_pointer (G_OBJECT (self->inspect_window), (gpointer *) &self->inspect_window);
    }
  gtk_window_present (GTK_WINDOW (self->inspect_window));
}

static void
remove_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(NfltrTunnelRow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!nfltr_dbus_tunnel_call_remove_finish (NFLTR_DBUS_TUNNEL (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_free (self->call_error);
      self->call_error = nfltr_format_error (error);
      nfltr_tunnel_row_update (self);
    }
}

static void
remove_confirmed (GObject *target)
{
  NfltrTunnelRow *self = NFLTR_TUNNEL_ROW (target);

  nfltr_dbus_tunnel_call_remove (self->tunnel, self->cancellable, remove_cb, g_object_ref (self));
}

/* Issue 9 §5: removing asks first, and says what happens to the name. */
static void
remove_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  NfltrTunnelRow *self = NFLTR_TUNNEL_ROW (widget);
  const char *name = nfltr_dbus_tunnel_get_name (self->tunnel);
  g_autofree char *heading = g_strdup_printf (_ ("Remove “%s”?"), name);
  g_autofree char *body =
    g_strdup_printf (_ ("Visitors get an error from now on. The name stays reserved for your API key: "
                        "“nfltr release %s” gives it up for good."),
                     name);

  nfltr_confirm (widget, _ ("Remove Tunnel"), heading, body, _ ("_Remove"), G_OBJECT (self),
                 remove_confirmed);
}

/* issue 11: Export Proof Bundle… — the bundle is fetched first, so the file dialog only opens
 * when there is something to save. GtkFileDialog is GTK 4.10; we build against 4.8. */
typedef struct {
  NfltrTunnelRow *row;
  char *bundle;
} Export;

static void
export_free (Export *export)
{
  g_clear_object (&export->row);
  g_free (export->bundle);
  g_free (export);
}

static void
export_response_cb (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  Export *export = user_data;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (export->row));

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autoptr(GError) error = NULL;

      if (file != NULL &&
          g_file_replace_contents (file, export->bundle, strlen (export->bundle), NULL, FALSE,
                                   G_FILE_CREATE_REPLACE_DESTINATION, NULL, NULL, &error))
        {
          if (NFLTR_IS_WINDOW (root))
            nfltr_window_add_toast (NFLTR_WINDOW (root), _("Proof bundle saved"));
        }
      else if (error != NULL)
        {
          g_free (export->row->call_error);
          export->row->call_error = g_strdup (error->message);
          nfltr_tunnel_row_update (export->row);
        }
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  export_free (export);
}

static void
export_fetch_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrTunnelRow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *bundle = NULL;
  g_autofree char *suggested = NULL;
  GtkFileChooserNative *dialog;
  GtkRoot *root;
  Export *export;

  if (!nfltr_dbus_tunnel_call_get_proof_bundle_finish (NFLTR_DBUS_TUNNEL (source), &bundle, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_free (self->call_error);
          self->call_error = nfltr_format_error (error);
          nfltr_tunnel_row_update (self);
        }
      return;
    }
  root = gtk_widget_get_root (GTK_WIDGET (self));
  dialog = gtk_file_chooser_native_new (_("Export Proof Bundle"), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  suggested = g_strdup_printf ("%s.proof.json", nfltr_dbus_tunnel_get_name (self->tunnel));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), suggested);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  export = g_new0 (Export, 1);
  export->row = g_object_ref (self);
  export->bundle = g_steal_pointer (&bundle);
  g_signal_connect (dialog, "response", G_CALLBACK (export_response_cb), export);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
export_proof_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *param)
{
  NfltrTunnelRow *self = NFLTR_TUNNEL_ROW (widget);

  g_clear_pointer (&self->call_error, g_free);
  nfltr_dbus_tunnel_call_get_proof_bundle (self->tunnel, self->cancellable, export_fetch_cb, g_object_ref (self));
}

static void
nfltr_tunnel_row_dispose (GObject *object)
{
  NfltrTunnelRow *self = NFLTR_TUNNEL_ROW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->inspect_window != NULL) /* issue 9 §8: the page goes with its tunnel */
    {
      GtkWidget *window = self->inspect_window;

      g_object_remove_weak_pointer (G_OBJECT (window), (gpointer *) &self->inspect_window);
      self->inspect_window = NULL;
      gtk_window_destroy (GTK_WINDOW (window));
    }
  if (self->tunnel)
    g_signal_handlers_disconnect_by_data (self->tunnel, self);
  g_clear_object (&self->tunnel);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFLTR_TYPE_TUNNEL_ROW);

  G_OBJECT_CLASS (nfltr_tunnel_row_parent_class)->dispose (object);
}

static void
nfltr_tunnel_row_finalize (GObject *object)
{
  NfltrTunnelRow *self = NFLTR_TUNNEL_ROW (object);

  g_free (self->qr_text);
  g_free (self->call_error);

  G_OBJECT_CLASS (nfltr_tunnel_row_parent_class)->finalize (object);
}

static void
nfltr_tunnel_row_class_init (NfltrTunnelRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfltr_tunnel_row_dispose;
  object_class->finalize = nfltr_tunnel_row_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/xyz/nfltr/Nfltr/nfltr-tunnel-row.ui");
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, badge_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, target_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, active_switch);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, url_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, stats_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, expand_button);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, error_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, proof_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, details_revealer);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, fingerprint_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, fingerprint_hint);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, cert_warning_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, qr_picture);
  gtk_widget_class_bind_template_child (widget_class, NfltrTunnelRow, inspect_button); /* issue 9 §8 */
  gtk_widget_class_bind_template_callback (widget_class, on_switch_state_set);
  gtk_widget_class_bind_template_callback (widget_class, on_expand_toggled);

  gtk_widget_class_install_action (widget_class, "row.copy-url", NULL, copy_url_action);
  gtk_widget_class_install_action (widget_class, "row.copy-fingerprint", NULL, copy_fingerprint_action);
  gtk_widget_class_install_action (widget_class, "row.open-url", NULL, open_url_action);
  gtk_widget_class_install_action (widget_class, "row.inspect", NULL, inspect_action); /* issue 9 §8 */
  gtk_widget_class_install_action (widget_class, "row.remove", NULL, remove_action);
  gtk_widget_class_install_action (widget_class, "row.export-proof", NULL, export_proof_action);
}

static void
nfltr_tunnel_row_init (NfltrTunnelRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  nfltr_a11y_name_mnemonic_buttons (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->wanted = -1;
  {
    /* p2papp: under the URL's line, in code so the template stays as it is. */
    GtkWidget *url_box = gtk_widget_get_parent (GTK_WIDGET (self->url_label));

    self->link_label = GTK_LABEL (gtk_label_new (NULL));
    gtk_label_set_xalign (self->link_label, 0);
    gtk_label_set_wrap (self->link_label, TRUE);
    gtk_label_set_wrap_mode (self->link_label, PANGO_WRAP_CHAR);
    gtk_label_set_selectable (self->link_label, TRUE);
    gtk_widget_add_css_class (GTK_WIDGET (self->link_label), "dim-label");
    gtk_widget_add_css_class (GTK_WIDGET (self->link_label), "caption");
    gtk_widget_set_visible (GTK_WIDGET (self->link_label), FALSE);
    gtk_widget_insert_after (GTK_WIDGET (self->link_label), gtk_widget_get_parent (url_box), url_box);
  }
}

GtkWidget *
nfltr_tunnel_row_new (NfltrDbusTunnel *tunnel)
{
  NfltrTunnelRow *self;

  g_return_val_if_fail (NFLTR_DBUS_IS_TUNNEL (tunnel), NULL);

  self = g_object_new (NFLTR_TYPE_TUNNEL_ROW, NULL);
  self->tunnel = g_object_ref (tunnel);
  g_signal_connect_object (tunnel, "g-properties-changed",
                           G_CALLBACK (on_tunnel_properties_changed), self, 0);
  /* p2papp: CreateTunnel answers after the row exists; its secret comes then. */
  g_signal_connect_object (nfltr_share_secrets_get_default (), "changed", G_CALLBACK (nfltr_tunnel_row_update), self,
                           G_CONNECT_SWAPPED);
  nfltr_tunnel_row_update (self);
  return GTK_WIDGET (self);
}

NfltrDbusTunnel *
nfltr_tunnel_row_get_tunnel (NfltrTunnelRow *self)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_ROW (self), NULL);
  return self->tunnel;
}

void
nfltr_tunnel_row_set_expanded (NfltrTunnelRow *self,
                               gboolean        expanded)
{
  g_return_if_fail (NFLTR_IS_TUNNEL_ROW (self));
  gtk_toggle_button_set_active (self->expand_button, expanded);
}

/* The same path as a click: GtkSwitch emits state-set, which calls Start or Stop. */
void
nfltr_tunnel_row_request_active (NfltrTunnelRow *self,
                                 gboolean        active)
{
  g_return_if_fail (NFLTR_IS_TUNNEL_ROW (self));
  gtk_switch_set_active (self->active_switch, active);
}

/* What the row shows, in the words on screen (for the tests' app.test-state). */
GVariant *
nfltr_tunnel_row_describe (NfltrTunnelRow *self)
{
  GVariantDict dict;

  g_return_val_if_fail (NFLTR_IS_TUNNEL_ROW (self), NULL);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "id", "s", nfltr_dbus_tunnel_get_id (self->tunnel));
  g_variant_dict_insert (&dict, "name", "s", gtk_label_get_label (self->name_label));
  g_variant_dict_insert (&dict, "target", "s", gtk_label_get_label (self->target_label));
  g_variant_dict_insert (&dict, "badge", "s", gtk_label_get_label (self->badge_label));
  g_variant_dict_insert (&dict, "certificate-warning", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->cert_warning_label))
                           ? gtk_label_get_label (self->cert_warning_label) : "");
  g_variant_dict_insert (&dict, "url", "s", gtk_label_get_label (self->url_label));
  g_variant_dict_insert (&dict, "can-open", "b",
                         gtk_widget_is_sensitive (GTK_WIDGET (self)) &&
                           nfltr_dbus_tunnel_get_public_url (self->tunnel) != NULL &&
                           !g_str_has_prefix (nfltr_dbus_tunnel_get_public_url (self->tunnel), "tls://") &&
                           state_is_running (nfltr_dbus_tunnel_get_state (self->tunnel)));
  g_variant_dict_insert (&dict, "stats", "s", gtk_label_get_label (self->stats_label));
  g_variant_dict_insert (&dict, "error", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label))
                         ? gtk_label_get_label (self->error_label) : "");
  g_variant_dict_insert (&dict, "switch-active", "b", gtk_switch_get_active (self->active_switch));
  g_variant_dict_insert (&dict, "switch-state", "b", gtk_switch_get_state (self->active_switch));
  g_variant_dict_insert (&dict, "expanded", "b", gtk_revealer_get_reveal_child (self->details_revealer));
  g_variant_dict_insert (&dict, "fingerprint", "s", gtk_label_get_label (self->fingerprint_label));
  g_variant_dict_insert (&dict, "qr", "b", gtk_picture_get_paintable (self->qr_picture) != NULL);
  g_variant_dict_insert (&dict, "proof", "s", gtk_label_get_label (self->proof_label));
  g_variant_dict_insert (&dict, "link", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->link_label)) ? gtk_label_get_label (self->link_label)
                                                                                : "");
  if (self->inspect_window != NULL) /* issue 9 §8 */
    g_variant_dict_insert_value (&dict, "inspect",
                                 nfltr_inspect_window_describe (NFLTR_INSPECT_WINDOW (self->inspect_window)));
  return g_variant_dict_end (&dict);
}
