/* nfltr-a2a-window.c — the Conversations window (nfltr-a2a-window.h). It asks the service's
 * A2a object for Conversations() and asks again whenever a message arrives, is delivered or
 * is rejected. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "nfltr-a2a-window.h"
#include "nfltr-fingerprint.h"
#include "nfltr-window.h"

#define A2A_OBJECT_PATH "/xyz/nfltr/Nfltr/a2a"

struct _NfltrA2aWindow {
  AdwWindow parent_instance;

  NfltrClient  *client;
  NfltrDbusA2a *a2a;
  GCancellable *cancellable;

  AdwPreferencesPage  *page;
  AdwPreferencesGroup *identity;
  GtkWidget           *id_row;
  GtkWidget           *qr;
  GtkWidget           *empty;
  GPtrArray           *groups;   /* the conversations' AdwPreferencesGroup, shown */
};

G_DEFINE_FINAL_TYPE (NfltrA2aWindow, nfltr_a2a_window, ADW_TYPE_WINDOW)

static void refresh (NfltrA2aWindow *self);

static char *
message_subtitle (JsonObject *m)
{
  gboolean sent = g_strcmp0 (json_object_get_string_member_with_default (m, "direction", ""), "sent") == 0;
  gboolean delivered = json_object_get_boolean_member_with_default (m, "delivered", FALSE);
  gboolean encrypted = json_object_get_boolean_member_with_default (m, "encrypted", TRUE);
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (json_object_get_int_member_with_default (m, "time", 0));
  g_autofree char *time = g_date_time_format (when, "%H:%M:%S");
  const char *state = sent ? (delivered ? _("sent, delivered") : _("sent, no receipt yet")) : _("received");

  if (!encrypted)
    /* TRANSLATORS: a message's state and time, and the label of one sent with --no-payload-encryption */
    return g_strdup_printf (_("%s · %s · NOT ENCRYPTED (the relay could read it)"), state, time);
  /* TRANSLATORS: a message's state and time: “received · 12:01:33 · end-to-end encrypted” */
  return g_strdup_printf (_("%s · %s · end-to-end encrypted"), state, time);
}

static void
clear_groups (NfltrA2aWindow *self)
{
  for (guint i = 0; i < self->groups->len; i++)
    adw_preferences_page_remove (self->page, self->groups->pdata[i]);
  g_ptr_array_set_size (self->groups, 0);
}

static void
show_json (NfltrA2aWindow *self, const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *list;

  clear_groups (self);
  if (!json_parser_load_from_data (parser, json, -1, NULL) || !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
    return;
  list = json_node_get_array (json_parser_get_root (parser));
  gtk_widget_set_visible (self->empty, json_array_get_length (list) == 0);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *c = json_array_get_object_element (list, i);
      JsonArray *messages = json_object_get_array_member (c, "messages");
      AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
      g_autofree char *title = g_strdup_printf (_("Agent %s"), json_object_get_string_member_with_default (c, "peer", ""));
      g_autofree char *fp = nfltr_fingerprint_format_display (json_object_get_string_member_with_default (c, "fingerprint", ""));

      adw_preferences_group_set_title (group, title);
      /* TRANSLATORS: the pinned key of the other agent */
      {
        g_autofree char *desc = g_strdup_printf (_("Key %s (pinned on first contact)"), fp);

        adw_preferences_group_set_description (group, desc);
      }
      for (guint j = 0; messages != NULL && j < json_array_get_length (messages); j++)
        {
          JsonObject *m = json_array_get_object_element (messages, j);
          GtkWidget *row = adw_action_row_new ();
          const char *file = json_object_get_string_member_with_default (m, "file", "");
          const char *text = json_object_get_string_member_with_default (m, "text", "");
          gboolean sent = g_strcmp0 (json_object_get_string_member_with_default (m, "direction", ""), "sent") == 0;
          g_autofree char *subtitle = message_subtitle (m);
          g_autofree char *shown = *file ? g_strdup_printf (_("File %s"), file) : g_markup_escape_text (text, -1);

          adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), shown);
          adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
          adw_action_row_add_prefix (ADW_ACTION_ROW (row),
                                     gtk_image_new_from_icon_name (sent ? "go-next-symbolic" : "go-previous-symbolic"));
          if (!json_object_get_boolean_member_with_default (m, "encrypted", TRUE))
            gtk_widget_add_css_class (row, "error");
          adw_preferences_group_add (group, row);
        }
      adw_preferences_page_add (self->page, group);
      g_ptr_array_add (self->groups, group);
    }
}

static void
conversations_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrA2aWindow *self = user_data;
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;

  if (!nfltr_dbus_a2a_call_conversations_finish (NFLTR_DBUS_A2A (source), &json, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("conversations: %s", error->message);
      return;
    }
  show_json (self, json);
}

static void
refresh (NfltrA2aWindow *self)
{
  if (self->a2a != NULL)
    nfltr_dbus_a2a_call_conversations (self->a2a, self->cancellable, conversations_cb, self);
}

static void
changed_cb (NfltrA2aWindow *self)
{
  refresh (self);
}

static void
show_identity (NfltrA2aWindow *self)
{
  const char *id = nfltr_dbus_a2a_get_agent_id (self->a2a);
  const char *fp = nfltr_dbus_a2a_get_fingerprint (self->a2a);
  g_autofree char *shown = nfltr_fingerprint_format_display (fp ? fp : "");
  g_autofree char *qr_text = g_strdup_printf ("%s %s", id ? id : "", fp ? fp : "");
  g_autoptr(GdkTexture) texture = nfltr_fingerprint_qr_texture (qr_text, 4);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->id_row), id ? id : "");
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->id_row), shown);
  if (texture != NULL)
    gtk_picture_set_paintable (GTK_PICTURE (self->qr), GDK_PAINTABLE (texture));
}

static void
proxy_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrA2aWindow *self = user_data;
  g_autoptr(GError) error = NULL;
  NfltrDbusA2a *a2a = nfltr_dbus_a2a_proxy_new_finish (result, &error);

  if (a2a == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("a2a: %s", error->message);
      return;
    }
  self->a2a = a2a;
  g_signal_connect_object (a2a, "message-received", G_CALLBACK (changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (a2a, "delivered", G_CALLBACK (changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (a2a, "rejected", G_CALLBACK (changed_cb), self, G_CONNECT_SWAPPED);
  show_identity (self);
  refresh (self);
}

NfltrA2aWindow *
nfltr_a2a_window_new (NfltrWindow *window, NfltrClient *client)
{
  NfltrA2aWindow *self = g_object_new (NFLTR_TYPE_A2A_WINDOW, "transient-for", window, NULL);
  NfltrDbusManager *manager = nfltr_client_get_manager (client);

  self->client = g_object_ref (client);
  if (manager != NULL)
    nfltr_dbus_a2a_proxy_new (g_dbus_proxy_get_connection (G_DBUS_PROXY (manager)), G_DBUS_PROXY_FLAGS_NONE,
                              g_dbus_proxy_get_name (G_DBUS_PROXY (manager)), A2A_OBJECT_PATH, self->cancellable,
                              proxy_ready_cb, self);
  return self;
}

GVariant *
nfltr_a2a_window_describe (NfltrA2aWindow *self)
{
  GVariantDict dict;
  GVariantBuilder convs;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "id", "s", adw_preferences_row_get_title (ADW_PREFERENCES_ROW (self->id_row)));
  g_variant_dict_insert (&dict, "fingerprint", "s", adw_action_row_get_subtitle (ADW_ACTION_ROW (self->id_row)));
  g_variant_builder_init (&convs, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < self->groups->len; i++)
    {
      GtkWidget *group = self->groups->pdata[i];
      GVariantDict c;
      GVariantBuilder rows;

      g_variant_dict_init (&c, NULL);
      g_variant_dict_insert (&c, "title", "s", adw_preferences_group_get_title (ADW_PREFERENCES_GROUP (group)));
      g_variant_builder_init (&rows, G_VARIANT_TYPE ("a(ss)"));
      for (GtkWidget *w = gtk_widget_get_first_child (group); w != NULL;)
        {
          if (ADW_IS_ACTION_ROW (w))
            {
              const char *sub = adw_action_row_get_subtitle (ADW_ACTION_ROW (w));

              g_variant_builder_add (&rows, "(ss)", adw_preferences_row_get_title (ADW_PREFERENCES_ROW (w)),
                                     sub ? sub : "");
            }
          if (gtk_widget_get_first_child (w) != NULL && !ADW_IS_ACTION_ROW (w))
            w = gtk_widget_get_first_child (w);
          else
            {
              while (w != group && gtk_widget_get_next_sibling (w) == NULL)
                w = gtk_widget_get_parent (w);
              w = w == group ? NULL : gtk_widget_get_next_sibling (w);
            }
        }
      g_variant_dict_insert_value (&c, "messages", g_variant_builder_end (&rows));
      g_variant_builder_add_value (&convs, g_variant_dict_end (&c));
    }
  g_variant_dict_insert_value (&dict, "conversations", g_variant_builder_end (&convs));
  return g_variant_dict_end (&dict);
}

static void
nfltr_a2a_window_dispose (GObject *object)
{
  NfltrA2aWindow *self = NFLTR_A2A_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->a2a);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_pointer (&self->groups, g_ptr_array_unref);
  G_OBJECT_CLASS (nfltr_a2a_window_parent_class)->dispose (object);
}

static void
nfltr_a2a_window_class_init (NfltrA2aWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = nfltr_a2a_window_dispose;
}

static void
nfltr_a2a_window_init (NfltrA2aWindow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();

  self->cancellable = g_cancellable_new ();
  self->groups = g_ptr_array_new ();
  gtk_window_set_title (GTK_WINDOW (self), _ ("Conversations"));
  gtk_window_set_default_size (GTK_WINDOW (self), 560, 640);
  gtk_box_append (GTK_BOX (box), header);
  self->page = ADW_PREFERENCES_PAGE (adw_preferences_page_new ());
  gtk_widget_set_vexpand (GTK_WIDGET (self->page), TRUE);
  self->identity = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  adw_preferences_group_set_title (self->identity, _ ("This agent"));
  adw_preferences_group_set_description (
    self->identity, _ ("Other agents send to this id; compare the key's fingerprint with "
                       "theirs out of band (nfltr a2a id). Messages are end-to-end "
                       "encrypted: the relay routes them and cannot read them."));
  self->id_row = adw_action_row_new ();
  gtk_widget_add_css_class (self->id_row, "property");
  adw_preferences_group_add (self->identity, self->id_row);
  self->qr = gtk_picture_new ();
  gtk_widget_set_size_request (self->qr, 160, 160);
  gtk_widget_set_halign (self->qr, GTK_ALIGN_CENTER);
  gtk_widget_set_margin_top (self->qr, 12);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->qr), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("QR code of this agent's id and key fingerprint"), -1);
  adw_preferences_group_add (self->identity, self->qr);
  adw_preferences_page_add (self->page, self->identity);
  self->empty = adw_status_page_new ();
  adw_status_page_set_title (ADW_STATUS_PAGE (self->empty), _("No conversations yet"));
  adw_status_page_set_description (ADW_STATUS_PAGE (self->empty), _("nfltr a2a send AGENT MESSAGE starts one."));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->page));
  gtk_box_append (GTK_BOX (box), self->empty);
  gtk_widget_set_visible (self->empty, FALSE);
  adw_window_set_content (ADW_WINDOW (self), box);
}
