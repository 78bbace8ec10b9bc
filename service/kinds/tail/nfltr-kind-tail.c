/* nfltr-kind-tail.c — "tail": files followed as `tail -F` does (nfltr-tail-follower.c), their
 * lines pushed to a page over a WebSocket (nfltr-web-socket.h's feed), filtered, searched,
 * paused and coloured there (assets/tail.js).
 *
 * Options: "files" (as, absolute paths; else the target, one path), "lines" (u, how many of
 * the last lines to start with, default 100), and the web layer's "token" / "basic-auth".
 * Pages: "/" (the viewer), "/ws" (the feed), "/lines.txt" (the lines kept, as text: curl),
 * "/assets/…". */
#define G_LOG_DOMAIN "nfltr-tail"

#include "nfltr-kind-tail.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nfltr-error.h"
#include "nfltr-tail-follower.h"
#include "nfltr-tail-resources.h"
#include "nfltr-web-socket.h"
#include "nfltr-web.h"

#define DEFAULT_LINES 100
#define MAX_LINES     100000
#define MAX_FILES     16
/* Lines are sent in batches: at most this often, at most this many per message. */
#define BATCH_MS      50
#define BATCH_LINES   500
/* What a page that (re)connects is sent, and /lines.txt shows. */
#define FEED_MESSAGES 2000
#define FEED_BYTES    (16 * 1024 * 1024)

struct _NfltrKindTail {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindTail, nfltr_kind_tail, NFLTR_TYPE_TUNNEL_KIND)

/* ---- the app, on the web thread ---- */

typedef struct TailApp TailApp;

typedef struct {
  TailApp *app;
  guint index;
  NfltrTailFollower *follower;
} Followed;

struct TailApp {
  char        **files;
  guint         initial_lines;
  GPtrArray    *followed;   /* Followed* */
  NfltrWebFeed *feed;
  JsonBuilder  *batch;      /* lines not yet sent, or NULL */
  guint         batch_len;
  GSource      *flush;
  GMainContext *context;
};

static void
followed_free (gpointer data)
{
  Followed *f = data;

  g_signal_handlers_disconnect_by_data (f->follower, f);
  g_object_unref (f->follower);
  g_free (f);
}

static void
flush_batch (TailApp *app)
{
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  if (app->flush != NULL)
    {
      g_source_destroy (app->flush);
      g_clear_pointer (&app->flush, g_source_unref);
    }
  if (app->batch == NULL)
    return;
  json_builder_end_array (app->batch);
  json_builder_end_object (app->batch);
  root = json_builder_get_root (app->batch);
  text = json_to_string (root, FALSE);
  g_clear_object (&app->batch);
  app->batch_len = 0;
  nfltr_web_feed_append (app->feed, text);
}

static gboolean
flush_cb (gpointer user_data)
{
  TailApp *app = user_data;

  g_clear_pointer (&app->flush, g_source_unref);
  flush_batch (app);
  return G_SOURCE_REMOVE;
}

static void
line_cb (NfltrTailFollower *follower, const char *text, gboolean truncated, gpointer user_data)
{
  Followed *f = user_data;
  TailApp *app = f->app;

  if (app->batch == NULL)
    {
      app->batch = json_builder_new ();
      json_builder_begin_object (app->batch);
      json_builder_set_member_name (app->batch, "t");
      json_builder_add_string_value (app->batch, "lines");
      json_builder_set_member_name (app->batch, "lines");
      json_builder_begin_array (app->batch);
    }
  /* [file index, text, cut at NFLTR_TAIL_MAX_LINE] */
  json_builder_begin_array (app->batch);
  json_builder_add_int_value (app->batch, f->index);
  json_builder_add_string_value (app->batch, text);
  json_builder_add_boolean_value (app->batch, truncated);
  json_builder_end_array (app->batch);
  if (++app->batch_len >= BATCH_LINES)
    flush_batch (app);
  else if (app->flush == NULL)
    {
      app->flush = g_timeout_source_new (BATCH_MS);
      g_source_set_callback (app->flush, flush_cb, app, NULL);
      g_source_attach (app->flush, app->context);
    }
}

/* A notice for the page, in order with the lines around it (file: its index, or -1). */
static void
append_notice (TailApp *app, int file, const char *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  flush_batch (app);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "t");
  json_builder_add_string_value (b, "notice");
  json_builder_set_member_name (b, "file");
  json_builder_add_int_value (b, file);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  nfltr_web_feed_append (app->feed, text);
}

static void
notice_cb (NfltrTailFollower *follower, const char *message, gpointer user_data)
{
  Followed *f = user_data;

  append_notice (f->app, f->index, message);
}

static void
tail_app_free (gpointer data)
{
  TailApp *app = data;

  g_clear_pointer (&app->followed, g_ptr_array_unref);
  if (app->flush != NULL)
    {
      g_source_destroy (app->flush);
      g_clear_pointer (&app->flush, g_source_unref);
    }
  g_clear_object (&app->batch);
  g_clear_pointer (&app->feed, nfltr_web_feed_free);
  g_strfreev (app->files);
  g_clear_pointer (&app->context, g_main_context_unref);
  g_free (app);
}

/* Starts following on the web thread (the followers' sources belong to its context). */
static void
ensure_following (TailApp *app)
{
  if (app->followed != NULL)
    return;
  app->context = g_main_context_ref_thread_default ();
  app->followed = g_ptr_array_new_with_free_func (followed_free);
  for (guint i = 0; app->files[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      Followed *f = g_new0 (Followed, 1);

      f->app = app;
      f->index = i;
      f->follower = nfltr_tail_follower_new (app->files[i], app->initial_lines, &error);
      if (f->follower == NULL)
        {
          g_free (f);
          /* Shown in the page; the other files are followed. */
          append_notice (app, i, error->message);
          continue;
        }
      g_signal_connect (f->follower, "line", G_CALLBACK (line_cb), f);
      g_signal_connect (f->follower, "notice", G_CALLBACK (notice_cb), f);
      g_ptr_array_add (app->followed, f);
      nfltr_tail_follower_check (f->follower);
    }
  flush_batch (app);
}

static char *
hello_json (TailApp *app)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "t");
  json_builder_add_string_value (b, "hello");
  json_builder_set_member_name (b, "files");
  json_builder_begin_array (b);
  for (guint i = 0; app->files[i] != NULL; i++)
    json_builder_add_string_value (b, app->files[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
ws_ready_cb (NfltrWebServer *web, SoupWebsocketConnection *ws, gpointer user_data)
{
  TailApp *app = nfltr_web_server_get_app_data (web);
  g_autofree char *hello = NULL;

  if (app == NULL)
    return;
  ensure_following (app);
  flush_batch (app);
  hello = hello_json (app);
  nfltr_web_feed_attach (app->feed, ws, hello);
}

static void
serve_page (NfltrWebServer *web, TailApp *app, SoupServerMessage *msg)
{
  GString *page = nfltr_web_page_begin (web, "Log");

  g_string_append (page, "<link rel=\"stylesheet\" href=\"/assets/tail.css\">"
                         "<div class=\"tail-bar\">"
                         "<input type=\"search\" id=\"tail-filter\" placeholder=\"Filter (text or /regex/)\" "
                         "aria-label=\"Filter lines\">"
                         "<span id=\"tail-count\" class=\"tail-count\"></span>"
                         "<button type=\"button\" id=\"tail-pause\">Pause</button>"
                         "<label><input type=\"checkbox\" id=\"tail-wrap\" checked> Wrap</label>"
                         "<span id=\"tail-status\" class=\"tail-status\" role=\"status\">connecting…</span>"
                         "</div><div class=\"tail-files\" id=\"tail-files\">");
  for (guint i = 0; app->files[i] != NULL; i++)
    {
      g_string_append_printf (page, "<code class=\"tail-file f%u\">", i % 8);
      nfltr_web_append_escaped (page, app->files[i]);
      g_string_append (page, "</code> ");
    }
  g_string_append (page, "</div><div id=\"tail-log\" class=\"tail-log wrap\" role=\"log\" "
                         "aria-live=\"off\"></div>"
                         "<noscript><p>Without JavaScript: <a href=\"/lines.txt\">the lines as "
                         "text</a>.</p></noscript>"
                         "<script src=\"/assets/tail.js\"></script>");
  nfltr_web_page_finish (web, msg, SOUP_STATUS_OK, page);
}

/* The lines kept, as text (ANSI kept: `curl …/lines.txt` in a terminal shows the colours). */
static void
serve_lines (TailApp *app, SoupServerMessage *msg)
{
  g_autoptr(GPtrArray) messages = NULL;
  GString *out = g_string_new (NULL);
  g_autoptr(GBytes) bytes = NULL;

  ensure_following (app);
  flush_batch (app);
  messages = nfltr_web_feed_list (app->feed);
  for (guint i = 0; i < messages->len; i++)
    {
      gsize len;
      const char *data = g_bytes_get_data (g_ptr_array_index (messages, i), &len);
      /* The feed keeps the text without a terminating NUL. */
      g_autofree char *json = g_strndup (data, len);
      g_autoptr(JsonNode) node = json_from_string (json, NULL);
      JsonObject *o = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      const char *t = o != NULL ? json_object_get_string_member_with_default (o, "t", "") : "";

      if (g_str_equal (t, "lines"))
        {
          JsonArray *lines = json_object_get_array_member (o, "lines");

          for (guint j = 0; j < json_array_get_length (lines); j++)
            {
              JsonArray *line = json_array_get_array_element (lines, j);

              if (app->files[1] != NULL)
                g_string_append_printf (out, "%s: ", app->files[json_array_get_int_element (line, 0)]);
              g_string_append (out, json_array_get_string_element (line, 1));
              g_string_append_c (out, '\n');
            }
        }
      else if (g_str_equal (t, "notice"))
        g_string_append_printf (out, "--- %s\n", json_object_get_string_member_with_default (o, "text", ""));
    }
  bytes = g_string_free_to_bytes (out);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");
  nfltr_web_respond_bytes (msg, SOUP_STATUS_OK, "text/plain; charset=utf-8", bytes);
}

static gboolean
serve_asset (SoupServerMessage *msg, const char *path)
{
  static const char * const names[] = { "tail.js", "tail.css", NULL };

  return nfltr_web_respond_resource (msg, nfltr_tail_get_resource (), "/xyz/nfltr/Nfltr/tail/", names, path + strlen ("/assets/"));
}

static void
handle_cb (NfltrWebServer *web, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  TailApp *app = nfltr_web_server_get_app_data (web);

  if (!g_str_equal (soup_server_message_get_method (msg), "GET") &&
      !g_str_equal (soup_server_message_get_method (msg), "HEAD"))
    nfltr_web_respond_error (web, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET here.");
  else if (g_str_equal (path, "/"))
    serve_page (web, app, msg);
  else if (g_str_equal (path, "/ws"))
    nfltr_web_socket_upgrade (web, msg, ws_ready_cb, NULL, NULL);
  else if (g_str_equal (path, "/lines.txt"))
    serve_lines (app, msg);
  else if (!(g_str_has_prefix (path, "/assets/") && serve_asset (msg, path)))
    nfltr_web_respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "Nothing here.");
}

/* ---- the kind ---- */

static const char *
tail_get_id (NfltrTunnelKind *kind)
{
  return "tail";
}

static const char *
tail_get_label (NfltrTunnelKind *kind)
{
  return "Log viewer";
}

static const char *
tail_get_description (NfltrTunnelKind *kind)
{
  return "Log files followed live in the browser, with filter and colours";
}

static GVariant *
tail_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  g_auto(GVariantDict) config = G_VARIANT_DICT_INIT (NULL);
  g_auto(GStrv) files = NULL;
  guint32 lines = DEFAULT_LINES;

  if (options != NULL && g_variant_lookup (options, "files", "^as", &files) && files[0] == NULL)
    g_clear_pointer (&files, g_strfreev);
  if (files == NULL && target != NULL && *target != '\0')
    {
      char *one[] = { (char *) target, NULL };

      files = g_strdupv (one);
    }
  if (files == NULL)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "target is missing (FILE…: the files to follow)");
      return NULL;
    }
  if (g_strv_length (files) > MAX_FILES)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "at most %u files", MAX_FILES);
      return NULL;
    }
  for (guint i = 0; files[i] != NULL; i++)
    {
      struct stat st;

      if (!g_path_is_absolute (files[i]))
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "“%s” is not an absolute path", files[i]);
          return NULL;
        }
      /* A missing file is waited for (a log not yet created); anything else must be one. */
      if (stat (files[i], &st) == 0 && !S_ISREG (st.st_mode))
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "“%s” is not a regular file", files[i]);
          return NULL;
        }
      if (access (files[i], R_OK) != 0 && stat (files[i], &st) == 0)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "“%s” cannot be read",
                       files[i]);
          return NULL;
        }
    }
  if (options != NULL && g_variant_lookup (options, "lines", "u", &lines) && lines > MAX_LINES)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "--lines: at most %u", MAX_LINES);
      return NULL;
    }
  if (!nfltr_web_parse_auth_options (options, &config, error))
    return NULL;
  g_variant_dict_insert (&config, "files", "^as", files);
  g_variant_dict_insert (&config, "lines", "u", lines);
  return g_variant_dict_end (&config);
}

static char *
tail_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  g_auto(GStrv) files = NULL;

  g_variant_lookup (config, "files", "^as", &files);
  return files != NULL ? g_strjoinv (" ", files) : g_strdup ("");
}

static gboolean
tail_start (NfltrTunnelKind *kind, GVariant *config, GError **error)
{
  TailApp *app = g_new0 (TailApp, 1);
  NfltrWebServer *web;

  g_variant_lookup (config, "files", "^as", &app->files);
  app->initial_lines = DEFAULT_LINES;
  g_variant_lookup (config, "lines", "u", &app->initial_lines);
  app->feed = nfltr_web_feed_new (FEED_MESSAGES, FEED_BYTES);

  web = nfltr_web_server_new (config, "Log");
  nfltr_web_server_add_handler (web, "/", handle_cb, NULL, NULL);
  nfltr_web_server_set_app_data (web, app, tail_app_free);
  return nfltr_web_server_run (web, error);
}

static void
nfltr_kind_tail_class_init (NfltrKindTailClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  nfltr_web_kind_class_init (kind_class);
  kind_class->get_id = tail_get_id;
  kind_class->get_label = tail_get_label;
  kind_class->get_description = tail_get_description;
  kind_class->parse = tail_parse;
  kind_class->describe_target = tail_describe_target;
  kind_class->start = tail_start;
}

static void
nfltr_kind_tail_init (NfltrKindTail *self)
{
}
