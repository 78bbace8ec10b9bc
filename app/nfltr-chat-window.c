/* nfltr-chat-window.c — a chat with one peer (issue 13 §5, §6): the messages of a P2p.Chat
 * session, each of ours marked "Sent" until the peer's receipt (Transfer.MessageDelivered)
 * turns it "Delivered", an entry, and a Call button that hands the session to the call
 * window (app.start-call, parameter the session's object path) when the app has one. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-a11y.h"
#include "nfltr-chat-window.h"
#include "nfltr-format.h"

/* The call window's action (another part of the app registers it; hidden until it does). */
#define START_CALL_ACTION "start-call"

typedef struct {
  guint id; /* ours: SendMessage's id, 0 until it answers; the peer's: its id */
  gboolean mine;
  gboolean delivered;
  char *text;
  GtkLabel *receipt;
} Message;

struct _NfltrChatWindow {
  AdwWindow parent_instance;

  NfltrDbusTransfer *transfer;
  GCancellable *cancellable;
  GPtrArray *messages;    /* Message */
  GArray *early_receipts; /* ids delivered before SendMessage answered */

  AdwWindowTitle *title;
  GtkWidget *call_button;
  GtkListBox *list;
  GtkScrolledWindow *scroller;
  GtkEntry *entry;
  GtkLabel *error_label;
};

G_DEFINE_FINAL_TYPE (NfltrChatWindow, nfltr_chat_window, ADW_TYPE_WINDOW)

static void
message_free (gpointer data)
{
  Message *m = data;

  g_free (m->text);
  g_free (m);
}

static const char *
receipt_text (Message *m)
{
  return m->delivered ? _ ("Delivered") : m->id != 0 ? _ ("Sent") : _ ("Sending…");
}

static gboolean
scroll_to_end_cb (gpointer user_data)
{
  NfltrChatWindow *self = user_data;
  GtkAdjustment *adj;

  if (self->scroller != NULL)
    {
      adj = gtk_scrolled_window_get_vadjustment (self->scroller);
      gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj));
    }
  return G_SOURCE_REMOVE;
}

static Message *
add_message (NfltrChatWindow *self, guint id, const char *text, gboolean mine)
{
  Message *m = g_new0 (Message, 1);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *bubble = gtk_label_new (text);

  m->id = id;
  m->mine = mine;
  m->text = g_strdup (text);
  gtk_label_set_wrap (GTK_LABEL (bubble), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (bubble), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (bubble), TRUE);
  gtk_label_set_xalign (GTK_LABEL (bubble), 0);
  gtk_widget_add_css_class (bubble, "chat-bubble");
  gtk_widget_add_css_class (bubble, mine ? "chat-mine" : "chat-peer");
  gtk_widget_set_halign (box, mine ? GTK_ALIGN_END : GTK_ALIGN_START);
  gtk_widget_set_margin_start (box, mine ? 48 : 6);
  gtk_widget_set_margin_end (box, mine ? 6 : 48);
  gtk_box_append (GTK_BOX (box), bubble);
  if (mine)
    {
      m->receipt = GTK_LABEL (gtk_label_new (NULL));
      gtk_label_set_xalign (m->receipt, 1);
      gtk_widget_add_css_class (GTK_WIDGET (m->receipt), "caption");
      gtk_widget_add_css_class (GTK_WIDGET (m->receipt), "dim-label");
      gtk_label_set_label (m->receipt, receipt_text (m));
      gtk_box_append (GTK_BOX (box), GTK_WIDGET (m->receipt));
    }
  gtk_list_box_append (self->list, box);
  g_ptr_array_add (self->messages, m);
  /* After the new row's size is known. */
  g_idle_add_full (G_PRIORITY_LOW, scroll_to_end_cb, g_object_ref (self), g_object_unref);
  return m;
}

static void
mark_delivered (NfltrChatWindow *self, guint id)
{
  for (guint i = 0; i < self->messages->len; i++)
    {
      Message *m = g_ptr_array_index (self->messages, i);

      if (m->mine && m->id == id)
        {
          m->delivered = TRUE;
          gtk_label_set_label (m->receipt, receipt_text (m));
          return;
        }
    }
  g_array_append_val (self->early_receipts, id);
}

static void
message_received_cb (NfltrDbusTransfer *t, guint id, const char *text, NfltrChatWindow *self)
{
  add_message (self, id, text, FALSE);
}

static void
message_delivered_cb (NfltrDbusTransfer *t, guint id, NfltrChatWindow *self)
{
  mark_delivered (self, id);
}

static void
update_state (NfltrChatWindow *self)
{
  const char *state = nfltr_dbus_transfer_get_state (self->transfer);
  const char *code = nfltr_dbus_transfer_get_code (self->transfer);
  const char *path = nfltr_dbus_transfer_get_path (self->transfer);
  const char *err = nfltr_dbus_transfer_get_last_error (self->transfer);
  gboolean connected = g_strcmp0 (state, "connected") == 0;
  g_autofree char *subtitle = NULL;

  if (connected)
    subtitle = g_strdup (g_strcmp0 (path, "direct") == 0 ? _ ("Connected directly, end-to-end encrypted")
                                                         : _ ("Connected through the relay, end-to-end encrypted"));
  else if (g_strcmp0 (state, "waiting") == 0 && g_strcmp0 (nfltr_dbus_transfer_get_role (self->transfer), "send") == 0)
    /* TRANSLATORS: %s is the pairing code */
    subtitle = g_strdup_printf (_ ("Give the other person this code: %s"), code != NULL ? code : "");
  else if (g_strcmp0 (state, "done") == 0 || g_strcmp0 (state, "cancelled") == 0)
    subtitle = g_strdup (_ ("The chat has ended"));
  else if (g_strcmp0 (state, "failed") == 0)
    subtitle = g_strdup (_ ("The chat failed"));
  else
    subtitle = g_strdup (_ ("Connecting…"));
  adw_window_title_set_subtitle (self->title, subtitle);
  gtk_widget_set_sensitive (GTK_WIDGET (self->entry), connected);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "chat.send", connected);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label),
                          g_strcmp0 (state, "failed") == 0 && err != NULL && *err != '\0');
  gtk_label_set_label (self->error_label, err != NULL ? err : "");
}

static void
properties_changed_cb (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, NfltrChatWindow *self)
{
  update_state (self);
}

static void
update_call_button (NfltrChatWindow *self)
{
  GApplication *app = g_application_get_default ();

  /* Developer "calls" registers app.start-call; until that is in, there is no button. */
  gtk_widget_set_visible (self->call_button,
                          app != NULL && g_action_group_has_action (G_ACTION_GROUP (app), START_CALL_ACTION));
}

typedef struct {
  NfltrChatWindow *self;
  Message *message;
} Pending;

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(NfltrChatWindow) self = p->self;
  g_autoptr(GError) error = NULL;
  guint id = 0;

  if (!nfltr_dbus_transfer_call_send_message_finish (NFLTR_DBUS_TRANSFER (source), &id, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *message = nfltr_format_error (error);

          gtk_label_set_label (p->message->receipt, _ ("Not sent"));
          gtk_label_set_label (self->error_label, message);
          gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
        }
      g_free (p);
      return;
    }
  p->message->id = id;
  gtk_label_set_label (p->message->receipt, receipt_text (p->message));
  for (guint i = 0; i < self->early_receipts->len; i++)
    if (g_array_index (self->early_receipts, guint, i) == id)
      {
        g_array_remove_index_fast (self->early_receipts, i);
        mark_delivered (self, id);
        break;
      }
  g_free (p);
}

static void
send_text (NfltrChatWindow *self, const char *text)
{
  Pending *p;

  p = g_new0 (Pending, 1);
  p->self = g_object_ref (self);
  p->message = add_message (self, 0, text, TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  nfltr_dbus_transfer_call_send_message (self->transfer, text, self->cancellable, send_cb, p);
}

static void
send_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrChatWindow *self = NFLTR_CHAT_WINDOW (widget);
  g_autofree char *text = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->entry)));

  g_strstrip (text);
  if (*text == '\0')
    return;
  send_text (self, text);
  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
}

/* As typing text and pressing Enter would: nothing while no peer is connected. */
void
nfltr_chat_window_send (NfltrChatWindow *self, const char *text)
{
  g_return_if_fail (NFLTR_IS_CHAT_WINDOW (self));

  gtk_editable_set_text (GTK_EDITABLE (self->entry), text);
  gtk_widget_activate_action (GTK_WIDGET (self), "chat.send", NULL);
}

static void
call_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  NfltrChatWindow *self = NFLTR_CHAT_WINDOW (widget);
  GApplication *app = g_application_get_default ();

  if (app != NULL && g_action_group_has_action (G_ACTION_GROUP (app), START_CALL_ACTION))
    g_action_group_activate_action (G_ACTION_GROUP (app), START_CALL_ACTION,
                                    g_variant_new_string (g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->transfer))));
}

static void
nfltr_chat_window_build (NfltrChatWindow *self)
{
  GtkWidget *toolbar = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *clamp = adw_clamp_new ();
  GtkWidget *bottom = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *send = gtk_button_new_from_icon_name ("mail-send-symbolic");
  GtkWidget *placeholder = gtk_label_new (_ ("No messages yet"));

  gtk_window_set_title (GTK_WINDOW (self), _ ("Chat"));
  gtk_window_set_default_size (GTK_WINDOW (self), 420, 520);
  gtk_widget_set_size_request (GTK_WIDGET (self), 360, 294);
  gtk_window_set_hide_on_close (GTK_WINDOW (self), TRUE);

  self->title = ADW_WINDOW_TITLE (adw_window_title_new (_ ("Chat"), NULL));
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), GTK_WIDGET (self->title));
  self->call_button = gtk_button_new_from_icon_name ("call-start-symbolic");
  gtk_widget_set_tooltip_text (self->call_button, _ ("Call"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->call_button), GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Call"), -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->call_button), "chat.call");
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->call_button);
  gtk_box_append (GTK_BOX (toolbar), header);

  self->scroller = GTK_SCROLLED_WINDOW (gtk_scrolled_window_new ());
  gtk_scrolled_window_set_policy (self->scroller, GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (GTK_WIDGET (self->scroller), TRUE);
  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->list), "chat-list");
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_widget_set_margin_top (placeholder, 24);
  gtk_list_box_set_placeholder (self->list, placeholder);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->list), GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Messages"), -1);
  adw_clamp_set_maximum_size (ADW_CLAMP (clamp), 720);
  adw_clamp_set_child (ADW_CLAMP (clamp), GTK_WIDGET (self->list));
  gtk_scrolled_window_set_child (self->scroller, clamp);
  gtk_box_append (GTK_BOX (toolbar), GTK_WIDGET (self->scroller));

  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->error_label), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  gtk_box_append (GTK_BOX (toolbar), GTK_WIDGET (self->error_label));

  gtk_widget_set_margin_top (bottom, 6);
  gtk_widget_set_margin_bottom (bottom, 6);
  gtk_widget_set_margin_start (bottom, 6);
  gtk_widget_set_margin_end (bottom, 6);
  self->entry = GTK_ENTRY (gtk_entry_new ());
  gtk_widget_set_hexpand (GTK_WIDGET (self->entry), TRUE);
  gtk_entry_set_placeholder_text (self->entry, _ ("Message"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Message"), -1);
  gtk_entry_set_activates_default (self->entry, FALSE);
  gtk_widget_set_tooltip_text (send, _ ("Send"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (send), GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Send"), -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (send), "chat.send");
  gtk_widget_add_css_class (send, "suggested-action");
  gtk_box_append (GTK_BOX (bottom), GTK_WIDGET (self->entry));
  gtk_box_append (GTK_BOX (bottom), send);
  gtk_box_append (GTK_BOX (toolbar), bottom);

  adw_window_set_content (ADW_WINDOW (self), toolbar);
}

static void
entry_activate_cb (GtkEntry *entry, NfltrChatWindow *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "chat.send", NULL);
}

static void
nfltr_chat_window_dispose (GObject *object)
{
  NfltrChatWindow *self = NFLTR_CHAT_WINDOW (object);
  GApplication *app = g_application_get_default ();

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (app != NULL)
    g_signal_handlers_disconnect_by_data (app, self);
  if (self->transfer != NULL)
    g_signal_handlers_disconnect_by_data (self->transfer, self);
  g_clear_object (&self->transfer);
  G_OBJECT_CLASS (nfltr_chat_window_parent_class)->dispose (object);
}

static void
nfltr_chat_window_finalize (GObject *object)
{
  NfltrChatWindow *self = NFLTR_CHAT_WINDOW (object);

  g_ptr_array_unref (self->messages);
  g_array_unref (self->early_receipts);
  G_OBJECT_CLASS (nfltr_chat_window_parent_class)->finalize (object);
}

static void
nfltr_chat_window_class_init (NfltrChatWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfltr_chat_window_dispose;
  object_class->finalize = nfltr_chat_window_finalize;
  gtk_widget_class_install_action (widget_class, "chat.send", NULL, send_action);
  gtk_widget_class_install_action (widget_class, "chat.call", NULL, call_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
nfltr_chat_window_init (NfltrChatWindow *self)
{
  self->cancellable = g_cancellable_new ();
  self->messages = g_ptr_array_new_with_free_func (message_free);
  self->early_receipts = g_array_new (FALSE, FALSE, sizeof (guint));
  nfltr_chat_window_build (self);
}

NfltrChatWindow *
nfltr_chat_window_new (GtkWindow *parent, NfltrDbusTransfer *transfer)
{
  NfltrChatWindow *self;
  GApplication *app = g_application_get_default ();

  g_return_val_if_fail (NFLTR_DBUS_IS_TRANSFER (transfer), NULL);

  self = g_object_new (NFLTR_TYPE_CHAT_WINDOW, "transient-for", parent, NULL);
  self->transfer = g_object_ref (transfer);
  g_signal_connect_object (self->entry, "activate", G_CALLBACK (entry_activate_cb), self, 0);
  g_signal_connect_object (transfer, "g-properties-changed", G_CALLBACK (properties_changed_cb), self, 0);
  g_signal_connect_object (transfer, "message-received", G_CALLBACK (message_received_cb), self, 0);
  g_signal_connect_object (transfer, "message-delivered", G_CALLBACK (message_delivered_cb), self, 0);
  if (app != NULL)
    {
      g_signal_connect_object (app, "action-added", G_CALLBACK (update_call_button), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (app, "action-removed", G_CALLBACK (update_call_button), self, G_CONNECT_SWAPPED);
    }
  update_call_button (self);
  update_state (self);
  return self;
}

GVariant *
nfltr_chat_window_describe (NfltrChatWindow *self)
{
  GVariantDict dict;
  GVariantBuilder messages;

  g_return_val_if_fail (NFLTR_IS_CHAT_WINDOW (self), NULL);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "object-path", "s", g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->transfer)));
  g_variant_dict_insert (&dict, "visible", "b", gtk_widget_get_visible (GTK_WIDGET (self)));
  g_variant_dict_insert (&dict, "subtitle", "s",
                         adw_window_title_get_subtitle (self->title) ? adw_window_title_get_subtitle (self->title) : "");
  g_variant_dict_insert (&dict, "call-visible", "b", gtk_widget_get_visible (self->call_button));
  g_variant_dict_insert (&dict, "can-send", "b", gtk_widget_get_sensitive (GTK_WIDGET (self->entry)));
  g_variant_builder_init (&messages, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < self->messages->len; i++)
    {
      Message *m = g_ptr_array_index (self->messages, i);
      GVariantDict md;

      g_variant_dict_init (&md, NULL);
      g_variant_dict_insert (&md, "text", "s", m->text);
      g_variant_dict_insert (&md, "mine", "b", m->mine);
      g_variant_dict_insert (&md, "receipt", "s", m->mine ? gtk_label_get_label (m->receipt) : "");
      g_variant_builder_add_value (&messages, g_variant_dict_end (&md));
    }
  g_variant_dict_insert_value (&dict, "messages", g_variant_builder_end (&messages));
  return g_variant_dict_end (&dict);
}
