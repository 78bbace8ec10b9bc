/* nfltr-inspect-window.c — a tunnel's Inspect page (see the header) */
#define G_LOG_DOMAIN "nfltr-app"

#include "nfltr-inspect-window.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "nfltr-format.h"

/* Rows kept on the page; the service keeps its own bounded ring. */
#define MAX_ROWS 500

struct _NfltrInspectWindow {
  AdwWindow parent_instance;

  NfltrDbusTunnel *tunnel;
  NfltrDbusInspector *inspector;
  GCancellable *cancellable;
  gulong exchange_id;
  guint64 last_id;
  guint n_rows;
  guint64 selected;
  char *selected_path;

  GtkListBox *list;
  GtkLabel *empty_label;
  GtkTextView *detail;
  GtkEntry *path_entry;
  GtkButton *replay_button;
  GtkLabel *status_label;
};

G_DEFINE_FINAL_TYPE (NfltrInspectWindow, nfltr_inspect_window, ADW_TYPE_WINDOW)

/* IEC units, as the rows' counters and the CLI (issue 9 §6). */
static char *
format_size (gint64 bytes)
{
  return g_format_size_full ((guint64) MAX (bytes, 0), G_FORMAT_SIZE_IEC_UNITS);
}

/* "GET /path → 200 · 12 ms", the row's words. */
static char *
row_text (JsonObject *o)
{
  gint64 status = json_object_get_int_member_with_default (o, "status", 0);
  g_autofree char *status_text = status > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, status)
                                            : g_strdup (json_object_get_string_member_with_default (o, "error", _ ("no response")));
  g_autofree char *size = format_size (json_object_get_int_member_with_default (o, "response_size", 0));
  GString *text = g_string_new (NULL);

  g_string_append_printf (text, "%s %s → %s · %.0f ms · %s", json_object_get_string_member_with_default (o, "method", "?"),
                          json_object_get_string_member_with_default (o, "path", "?"), status_text,
                          json_object_get_double_member_with_default (o, "duration_ms", 0), size);
  if (json_object_has_member (o, "replay_of"))
    {
      g_autofree char *of = g_strdup_printf ("%" G_GINT64_FORMAT, json_object_get_int_member (o, "replay_of"));

      /* TRANSLATORS: after a request in the Inspect page: it was re-sent from there; %s is
       * the number of the request it re-sent */
      g_string_append_printf (text, _ (" · replay of #%s"), of);
    }
  return g_string_free (text, FALSE);
}

static void
add_exchange (NfltrInspectWindow *self, JsonObject *o)
{
  guint64 id = (guint64) json_object_get_int_member_with_default (o, "id", 0);
  g_autofree char *text = NULL;
  GtkWidget *label, *row;

  if (id == 0 || id <= self->last_id)
    return;
  self->last_id = id;
  text = row_text (o);
  label = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_tooltip_text (label, text);
  gtk_widget_set_margin_start (label, 8);
  gtk_widget_set_margin_end (label, 8);
  gtk_widget_set_margin_top (label, 6);
  gtk_widget_set_margin_bottom (label, 6);
  row = gtk_list_box_row_new ();
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), label);
  g_object_set_data (G_OBJECT (row), "exchange-id", GUINT_TO_POINTER ((guint) id));
  g_object_set_data_full (G_OBJECT (row), "exchange-path",
                          g_strdup (json_object_get_string_member_with_default (o, "path", "/")), g_free);
  /* Newest first, as the web page and ngrok list them. */
  gtk_list_box_prepend (self->list, row);
  /* Bounded like the agent's ring: the oldest row goes. */
  if (++self->n_rows > MAX_ROWS)
    {
      gtk_list_box_remove (self->list, GTK_WIDGET (gtk_list_box_get_row_at_index (self->list, MAX_ROWS)));
      self->n_rows--;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->empty_label), FALSE);
  if (self->selected == 0)
    gtk_list_box_select_row (self->list, GTK_LIST_BOX_ROW (row));
}

static JsonNode *
parse (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, json, -1, NULL) || json_parser_get_root (parser) == NULL)
    return NULL;
  return json_node_copy (json_parser_get_root (parser));
}

static void
exchange_cb (NfltrDbusInspector *inspector, const char *json, NfltrInspectWindow *self)
{
  g_autoptr(JsonNode) node = parse (json);

  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    add_exchange (self, json_node_get_object (node));
}

static void
list_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrInspectWindow *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr(JsonNode) node = NULL;
  JsonArray *array;

  if (!nfltr_dbus_inspector_call_list_finish (NFLTR_DBUS_INSPECTOR (source), &json, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        gtk_label_set_label (self->status_label, error->message);
      return;
    }
  node = parse (json);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  array = json_object_get_array_member (json_node_get_object (node), "exchanges");
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    add_exchange (self, json_array_get_object_element (array, i));
}

static void
append_headers (GString *text, JsonObject *o, const char *member)
{
  JsonArray *headers = json_object_get_array_member (o, member);

  for (guint i = 0; headers != NULL && i < json_array_get_length (headers); i++)
    {
      JsonArray *pair = json_array_get_array_element (headers, i);

      g_string_append_printf (text, "%s: %s\n", json_array_get_string_element (pair, 0),
                              json_array_get_string_element (pair, 1));
    }
}

static void
append_body (GString *text, JsonObject *o, const char *member, const char *size_member, const char *binary_member)
{
  JsonNode *body = json_object_get_member (o, member);
  gint64 size = json_object_get_int_member_with_default (o, size_member, 0);

  if (size == 0)
    return;
  g_string_append_c (text, '\n');
  if (body == NULL || JSON_NODE_HOLDS_NULL (body))
    {
      g_autofree char *bytes = format_size (size);

      /* TRANSLATORS: %s is a size; --inspect-bodies is an option of nfltr http, keep it */
      g_string_append_printf (text, _ ("(%s body, not kept: start the tunnel with --inspect-bodies to see bodies)\n"), bytes);
    }
  else if (json_object_get_boolean_member_with_default (o, binary_member, FALSE))
    {
      g_autofree char *bytes = format_size (size);

      /* TRANSLATORS: %s is a size */
      g_string_append_printf (text, _ ("(%s of binary data)\n"), bytes);
    }
  else
    {
      g_string_append (text, json_object_get_string_member_with_default (json_node_get_object (body), "text", ""));
      g_string_append_c (text, '\n');
    }
}

static void
get_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrInspectWindow *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  JsonObject *o;

  if (!nfltr_dbus_inspector_call_get_finish (NFLTR_DBUS_INSPECTOR (source), &json, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->detail), error->message, -1);
      return;
    }
  node = parse (json);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  o = json_node_get_object (node);
  g_string_append_printf (text, "%s %s HTTP/%s\n", json_object_get_string_member_with_default (o, "method", ""),
                          json_object_get_string_member_with_default (o, "path", ""),
                          json_object_get_string_member_with_default (o, "http_version", ""));
  append_headers (text, o, "request_headers");
  append_body (text, o, "request_body", "request_size", "request_binary");
  g_string_append (text, "\n");
  if (json_object_get_int_member_with_default (o, "status", 0) > 0)
    g_string_append_printf (text, "HTTP/%s %" G_GINT64_FORMAT "\n", json_object_get_string_member_with_default (o, "http_version", ""),
                            json_object_get_int_member (o, "status"));
  else
    g_string_append_printf (text, "%s\n", json_object_get_string_member_with_default (o, "error", _ ("no response")));
  append_headers (text, o, "response_headers");
  append_body (text, o, "response_body", "response_size", "response_binary");
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->detail), text->str, -1);
}

static void
row_selected_cb (GtkListBox *list, GtkListBoxRow *row, NfltrInspectWindow *self)
{
  const char *path;

  gtk_widget_set_sensitive (GTK_WIDGET (self->replay_button), row != NULL);
  if (row == NULL)
    return;
  self->selected = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (row), "exchange-id"));
  path = g_object_get_data (G_OBJECT (row), "exchange-path");
  g_free (self->selected_path);
  self->selected_path = g_strdup (path);
  gtk_editable_set_text (GTK_EDITABLE (self->path_entry), path);
  nfltr_dbus_inspector_call_get (self->inspector, self->selected, self->cancellable, get_cb, self);
}

static void
replay_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrInspectWindow *self = user_data;
  g_autoptr(GError) error = NULL;
  guint64 id = 0;
  g_autofree char *text = NULL;

  if (!nfltr_dbus_inspector_call_replay_finish (NFLTR_DBUS_INSPECTOR (source), &id, result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = nfltr_format_error (error);
      /* TRANSLATORS: %s says why a replay failed */
      text = g_strdup_printf (_ ("Replay failed: %s"), message);
    }
  else
    {
      g_autofree char *number = g_strdup_printf ("%" G_GUINT64_FORMAT, id);

      /* TRANSLATORS: %s is the number of the new request in the list */
      text = g_strdup_printf (_ ("Replayed as #%s"), number);
    }
  gtk_label_set_label (self->status_label, text);
  gtk_widget_set_sensitive (GTK_WIDGET (self->replay_button), TRUE);
}

static void
replay_clicked_cb (GtkButton *button, NfltrInspectWindow *self)
{
  const char *path = gtk_editable_get_text (GTK_EDITABLE (self->path_entry));
  g_autofree char *edits = NULL;

  if (self->selected == 0)
    return;
  if (g_strcmp0 (path, self->selected_path) != 0 && *path != '\0')
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, path);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      edits = json_to_string (root, FALSE);
    }
  gtk_widget_set_sensitive (GTK_WIDGET (self->replay_button), FALSE);
  gtk_label_set_label (self->status_label, _ ("Sending…"));
  nfltr_dbus_inspector_call_replay (self->inspector, self->selected, edits != NULL ? edits : "",
                                    self->cancellable, replay_cb, self);
}

GVariant *
nfltr_inspect_window_describe (NfltrInspectWindow *self)
{
  GVariantDict dict;
  GVariantBuilder rows;
  GtkTextIter start, end;
  g_autofree char *detail = NULL;

  g_variant_builder_init (&rows, G_VARIANT_TYPE ("as"));
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (GTK_IS_LIST_BOX_ROW (row))
      g_variant_builder_add (&rows, "s",
                             gtk_label_get_label (GTK_LABEL (gtk_list_box_row_get_child (GTK_LIST_BOX_ROW (row)))));
  gtk_text_buffer_get_bounds (gtk_text_view_get_buffer (self->detail), &start, &end);
  detail = gtk_text_buffer_get_text (gtk_text_view_get_buffer (self->detail), &start, &end, FALSE);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "title", "s", gtk_window_get_title (GTK_WINDOW (self)));
  g_variant_dict_insert_value (&dict, "rows", g_variant_builder_end (&rows));
  g_variant_dict_insert (&dict, "detail", "s", detail);
  g_variant_dict_insert (&dict, "status", "s", gtk_label_get_label (self->status_label));
  return g_variant_dict_end (&dict);
}

static void
nfltr_inspect_window_dispose (GObject *object)
{
  NfltrInspectWindow *self = NFLTR_INSPECT_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  if (self->inspector != NULL)
    g_clear_signal_handler (&self->exchange_id, self->inspector);
  g_clear_object (&self->inspector);
  g_clear_object (&self->tunnel);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->selected_path, g_free);
  G_OBJECT_CLASS (nfltr_inspect_window_parent_class)->dispose (object);
}

static void
nfltr_inspect_window_class_init (NfltrInspectWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = nfltr_inspect_window_dispose;
  gtk_widget_class_add_binding_action (GTK_WIDGET_CLASS (klass), GDK_KEY_w, GDK_CONTROL_MASK, "window.close", NULL);
}

static GtkWidget *
scrolled (GtkWidget *child)
{
  GtkWidget *sw = gtk_scrolled_window_new ();

  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (sw), child);
  gtk_widget_set_vexpand (sw, TRUE);
  gtk_widget_set_hexpand (sw, TRUE);
  return sw;
}

static void
nfltr_inspect_window_init (NfltrInspectWindow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *note, *paned, *left, *right, *replay_box, *shortcut;
  GtkEventController *shortcuts = gtk_shortcut_controller_new ();

  self->cancellable = g_cancellable_new ();
  gtk_window_set_default_size (GTK_WINDOW (self), 900, 600);

  self->replay_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_ ("_Replay")));
  gtk_widget_set_tooltip_text (
    GTK_WIDGET (self->replay_button),
    _ ("Send the selected request again, straight to the local server (not through the relay)"));
  gtk_widget_add_css_class (GTK_WIDGET (self->replay_button), "suggested-action");
  gtk_widget_set_sensitive (GTK_WIDGET (self->replay_button), FALSE);
  g_signal_connect (self->replay_button, "clicked", G_CALLBACK (replay_clicked_cb), self);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), GTK_WIDGET (self->replay_button));
  gtk_box_append (GTK_BOX (box), header);

  note = gtk_label_new (
    _ ("Recorded on this computer after decryption: the relay saw only ciphertext. "
       "Kept in memory only. Replays go straight to the local server, not through the relay."));
  gtk_label_set_wrap (GTK_LABEL (note), TRUE);
  gtk_label_set_xalign (GTK_LABEL (note), 0);
  gtk_widget_add_css_class (note, "dim-label");
  gtk_widget_set_margin_start (note, 12);
  gtk_widget_set_margin_end (note, 12);
  gtk_widget_set_margin_top (note, 6);
  gtk_widget_set_margin_bottom (note, 6);
  gtk_box_append (GTK_BOX (box), note);

  left = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_SINGLE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->list), GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Requests"), -1);
  g_signal_connect (self->list, "row-selected", G_CALLBACK (row_selected_cb), self);
  self->empty_label = GTK_LABEL (gtk_label_new (_ ("No requests yet. Open the tunnel’s address and they appear here.")));
  /* Not wrapped: a wrapping label inside GtkPaned makes its height-for-width inconsistent. */
  gtk_label_set_ellipsize (self->empty_label, PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (GTK_WIDGET (self->empty_label), "dim-label");
  gtk_widget_set_margin_top (GTK_WIDGET (self->empty_label), 24);
  gtk_box_append (GTK_BOX (left), GTK_WIDGET (self->empty_label));
  gtk_box_append (GTK_BOX (left), scrolled (GTK_WIDGET (self->list)));

  right = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  self->detail = GTK_TEXT_VIEW (gtk_text_view_new ());
  gtk_text_view_set_editable (self->detail, FALSE);
  gtk_text_view_set_monospace (self->detail, TRUE);
  gtk_text_view_set_wrap_mode (self->detail, GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_left_margin (self->detail, 8);
  gtk_text_view_set_top_margin (self->detail, 8);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->detail), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Request and response"), -1);
  gtk_box_append (GTK_BOX (right), scrolled (GTK_WIDGET (self->detail)));
  replay_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_margin_start (replay_box, 8);
  gtk_widget_set_margin_end (replay_box, 8);
  gtk_widget_set_margin_bottom (replay_box, 8);
  gtk_box_append (GTK_BOX (replay_box), gtk_label_new (_ ("Replay to path")));
  self->path_entry = GTK_ENTRY (gtk_entry_new ());
  gtk_widget_set_hexpand (GTK_WIDGET (self->path_entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->path_entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Replay to path"), -1);
  gtk_box_append (GTK_BOX (replay_box), GTK_WIDGET (self->path_entry));
  self->status_label = GTK_LABEL (gtk_label_new (""));
  gtk_box_append (GTK_BOX (replay_box), GTK_WIDGET (self->status_label));
  gtk_box_append (GTK_BOX (right), replay_box);

  paned = gtk_paned_new (GTK_ORIENTATION_HORIZONTAL);
  gtk_paned_set_start_child (GTK_PANED (paned), left);
  gtk_paned_set_end_child (GTK_PANED (paned), right);
  gtk_paned_set_position (GTK_PANED (paned), 380);
  gtk_widget_set_vexpand (paned, TRUE);
  gtk_box_append (GTK_BOX (box), paned);
  adw_window_set_content (ADW_WINDOW (self), box);

  /* Ctrl+R replays the selected request. */
  shortcut = GTK_WIDGET (self->replay_button);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_r, GDK_CONTROL_MASK),
                                                          gtk_signal_action_new ("clicked")));
  gtk_shortcut_controller_set_scope (GTK_SHORTCUT_CONTROLLER (shortcuts), GTK_SHORTCUT_SCOPE_MANAGED);
  gtk_widget_add_controller (shortcut, shortcuts);
}

NfltrInspectWindow *
nfltr_inspect_window_new (GtkWindow *parent, NfltrDbusTunnel *tunnel, NfltrDbusInspector *inspector)
{
  NfltrInspectWindow *self = g_object_new (NFLTR_TYPE_INSPECT_WINDOW, "transient-for", parent, NULL);
  /* TRANSLATORS: the Inspect window's title; %s is the tunnel's name */
  g_autofree char *title = g_strdup_printf (_ ("Inspect — %s"), nfltr_dbus_tunnel_get_name (tunnel));

  gtk_window_set_title (GTK_WINDOW (self), title);
  self->tunnel = g_object_ref (tunnel);
  self->inspector = g_object_ref (inspector);
  self->exchange_id = g_signal_connect (inspector, "exchange", G_CALLBACK (exchange_cb), self);
  nfltr_dbus_inspector_call_list (inspector, 0, self->cancellable, list_cb, self);
  return self;
}
