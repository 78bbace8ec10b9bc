/* nfltr-kind-watch.c — "watch": a command run every few seconds (nfltr-watch-runner.c), each
 * run pushed to the page (nfltr-web-socket.h's feed), which marks what changed since the run
 * before, as `watch -d` does, and keeps the last runs to look back at.
 *
 * Options: "argv" (as, required: no shell), "interval" (d, seconds, default 2), "timeout"
 * (u, seconds a run may take, default 300), "max-output" (u, bytes kept per run, default
 * 256 KiB), "cwd" (s), and the web layer's "token" / "basic-auth". Pages: "/" (the view),
 * "/ws" (the runs), "/latest.txt" (the newest output: curl), "/assets/…". */
#define G_LOG_DOMAIN "nfltr-watch"

#include "nfltr-kind-watch.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "nfltr-error.h"
#include "nfltr-watch-resources.h"
#include "nfltr-watch-runner.h"
#include "nfltr-web-socket.h"
#include "nfltr-web.h"

#define DEFAULT_INTERVAL   2.0
#define MIN_INTERVAL       0.1
#define MAX_INTERVAL       86400.0
#define DEFAULT_TIMEOUT    300
#define DEFAULT_MAX_OUTPUT (256 * 1024)
#define MAX_MAX_OUTPUT     (4 * 1024 * 1024)
/* Runs kept for the history (and sent to a page that connects). */
#define HISTORY            30

struct _NfltrKindWatch {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindWatch, nfltr_kind_watch, NFLTR_TYPE_TUNNEL_KIND)

/* ---- the app, on the web thread ---- */

typedef struct {
  char            **argv;
  char             *cwd;
  double            interval;
  guint             timeout;
  guint             max_output;
  NfltrWatchRunner *runner;
  NfltrWebFeed     *feed;
  char             *latest;   /* the newest output */
} WatchApp;

static void
watch_app_free (gpointer data)
{
  WatchApp *app = data;

  if (app->runner != NULL)
    g_signal_handlers_disconnect_by_data (app->runner, app);
  g_clear_object (&app->runner);
  g_clear_pointer (&app->feed, nfltr_web_feed_free);
  g_strfreev (app->argv);
  g_free (app->cwd);
  g_free (app->latest);
  g_free (app);
}

static void
finished_cb (NfltrWatchRunner *runner, NfltrWatchRun *run, gpointer user_data)
{
  WatchApp *app = user_data;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "t");
  json_builder_add_string_value (b, "run");
  json_builder_set_member_name (b, "seq");
  json_builder_add_int_value (b, run->seq);
  json_builder_set_member_name (b, "started_ms");
  json_builder_add_int_value (b, run->started_us / 1000);
  json_builder_set_member_name (b, "duration_ms");
  json_builder_add_int_value (b, run->duration_us / 1000);
  json_builder_set_member_name (b, "status");
  if (run->exit_status >= 0)
    json_builder_add_int_value (b, run->exit_status);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "signal");
  if (run->signal > 0)
    json_builder_add_int_value (b, run->signal);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "timed_out");
  json_builder_add_boolean_value (b, run->timed_out);
  json_builder_set_member_name (b, "truncated");
  json_builder_add_boolean_value (b, run->truncated);
  json_builder_set_member_name (b, "output");
  json_builder_add_string_value (b, run->output);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  nfltr_web_feed_append (app->feed, text);
  g_free (app->latest);
  app->latest = g_strdup (run->output);
}

/* The runs begin with the first page: a command nobody watches is not run. */
static void
ensure_running (WatchApp *app)
{
  if (app->runner != NULL)
    return;
  app->runner = nfltr_watch_runner_new ((const char * const *) app->argv, app->cwd,
                                        (guint) (app->interval * 1000), app->timeout * 1000,
                                        app->max_output);
  g_signal_connect (app->runner, "finished", G_CALLBACK (finished_cb), app);
}

static char *
hello_json (WatchApp *app)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "t");
  json_builder_add_string_value (b, "hello");
  json_builder_set_member_name (b, "argv");
  json_builder_begin_array (b);
  for (guint i = 0; app->argv[i] != NULL; i++)
    json_builder_add_string_value (b, app->argv[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "interval_ms");
  json_builder_add_int_value (b, (gint64) (app->interval * 1000));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
ws_ready_cb (NfltrWebServer *web, SoupWebsocketConnection *ws, gpointer user_data)
{
  WatchApp *app = nfltr_web_server_get_app_data (web);
  g_autofree char *hello = NULL;

  if (app == NULL)
    return;
  ensure_running (app);
  hello = hello_json (app);
  nfltr_web_feed_attach (app->feed, ws, hello);
}

static void
serve_page (NfltrWebServer *web, WatchApp *app, SoupServerMessage *msg)
{
  GString *page = nfltr_web_page_begin (web, "Watch");
  g_autofree char *command = g_strjoinv (" ", app->argv);

  ensure_running (app);
  g_string_append (page, "<link rel=\"stylesheet\" href=\"/assets/watch.css\">"
                         "<div class=\"watch-bar\"><code class=\"watch-command\">");
  nfltr_web_append_escaped (page, command);
  g_string_append_printf (page,
                          "</code><span class=\"watch-every\">every %gs</span>"
                          "<span id=\"watch-state\" class=\"watch-state\" role=\"status\">"
                          "waiting for the first run…</span>"
                          "<label><input type=\"checkbox\" id=\"watch-diff\" checked> "
                          "Mark changes</label>"
                          "<button type=\"button\" id=\"watch-pause\">Pause</button></div>"
                          "<div class=\"watch-body\"><pre id=\"watch-output\" "
                          "class=\"watch-output\"></pre>"
                          "<nav class=\"watch-history\" aria-label=\"Runs\">"
                          "<h2>Runs</h2><ol id=\"watch-runs\" reversed></ol></nav></div>"
                          "<noscript><p>Without JavaScript: <a href=\"/latest.txt\">the "
                          "latest output as text</a>.</p></noscript>"
                          "<script src=\"/assets/watch.js\"></script>",
                          app->interval);
  nfltr_web_page_finish (web, msg, SOUP_STATUS_OK, page);
}

static gboolean
serve_asset (SoupServerMessage *msg, const char *path)
{
  static const char * const names[] = { "watch.js", "watch.css", NULL };

  return nfltr_web_respond_resource (msg, nfltr_watch_get_resource (), "/xyz/nfltr/Nfltr/watch/", names, path + strlen ("/assets/"));
}

static void
handle_cb (NfltrWebServer *web, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  WatchApp *app = nfltr_web_server_get_app_data (web);

  if (!g_str_equal (soup_server_message_get_method (msg), "GET") &&
      !g_str_equal (soup_server_message_get_method (msg), "HEAD"))
    nfltr_web_respond_error (web, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET here.");
  else if (g_str_equal (path, "/"))
    serve_page (web, app, msg);
  else if (g_str_equal (path, "/ws"))
    nfltr_web_socket_upgrade (web, msg, ws_ready_cb, NULL, NULL);
  else if (g_str_equal (path, "/latest.txt"))
    {
      g_autoptr(GBytes) bytes = NULL;

      ensure_running (app);
      bytes = g_bytes_new (app->latest ? app->latest : "", app->latest ? strlen (app->latest) : 0);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");
      nfltr_web_respond_bytes (msg, SOUP_STATUS_OK, "text/plain; charset=utf-8", bytes);
    }
  else if (!(g_str_has_prefix (path, "/assets/") && serve_asset (msg, path)))
    nfltr_web_respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "Nothing here.");
}

/* ---- the kind ---- */

static const char *
watch_get_id (NfltrTunnelKind *kind)
{
  return "watch";
}

static const char *
watch_get_label (NfltrTunnelKind *kind)
{
  return "Watch";
}

static const char *
watch_get_description (NfltrTunnelKind *kind)
{
  return "A command run every few seconds, its output in the browser with changes marked";
}

static GVariant *
watch_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  g_auto(GVariantDict) config = G_VARIANT_DICT_INIT (NULL);
  g_auto(GStrv) argv = NULL;
  g_autofree char *path = NULL;
  double interval = DEFAULT_INTERVAL;
  guint32 timeout = DEFAULT_TIMEOUT, max_output = DEFAULT_MAX_OUTPUT;
  const char *cwd = NULL;

  if (options != NULL && g_variant_lookup (options, "argv", "^as", &argv) && argv[0] == NULL)
    g_clear_pointer (&argv, g_strfreev);
  if (argv == NULL && target != NULL && *target != '\0' && !g_shell_parse_argv (target, NULL, &argv, NULL))
    argv = NULL;
  if (argv == NULL)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "the command to watch is missing (nfltr watch -- COMMAND…)");
      return NULL;
    }
  path = g_find_program_in_path (argv[0]);
  if (path == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s” is not installed (not found in PATH)", argv[0]);
      return NULL;
    }
  if (options != NULL)
    {
      g_variant_lookup (options, "interval", "d", &interval);
      g_variant_lookup (options, "timeout", "u", &timeout);
      g_variant_lookup (options, "max-output", "u", &max_output);
      g_variant_lookup (options, "cwd", "&s", &cwd);
    }
  if (!(interval >= MIN_INTERVAL && interval <= MAX_INTERVAL))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "--interval must be between %g and %g seconds", MIN_INTERVAL, MAX_INTERVAL);
      return NULL;
    }
  if (max_output == 0 || max_output > MAX_MAX_OUTPUT)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "--max-output must be between 1 and %u bytes", MAX_MAX_OUTPUT);
      return NULL;
    }
  if (cwd != NULL && !g_path_is_absolute (cwd))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "the working directory must be an absolute path, not “%s”", cwd);
      return NULL;
    }
  if (!nfltr_web_parse_auth_options (options, &config, error))
    return NULL;
  g_variant_dict_insert (&config, "argv", "^as", argv);
  g_variant_dict_insert (&config, "interval", "d", interval);
  g_variant_dict_insert (&config, "timeout", "u", timeout);
  g_variant_dict_insert (&config, "max-output", "u", max_output);
  if (cwd != NULL)
    g_variant_dict_insert (&config, "cwd", "s", cwd);
  return g_variant_dict_end (&config);
}

static char *
watch_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  g_auto(GStrv) argv = NULL;

  g_variant_lookup (config, "argv", "^as", &argv);
  return argv != NULL ? g_strjoinv (" ", argv) : g_strdup ("");
}

static gboolean
watch_start (NfltrTunnelKind *kind, GVariant *config, GError **error)
{
  WatchApp *app = g_new0 (WatchApp, 1);
  NfltrWebServer *web;

  g_variant_lookup (config, "argv", "^as", &app->argv);
  g_variant_lookup (config, "cwd", "s", &app->cwd);
  g_variant_lookup (config, "interval", "d", &app->interval);
  g_variant_lookup (config, "timeout", "u", &app->timeout);
  g_variant_lookup (config, "max-output", "u", &app->max_output);
  app->feed = nfltr_web_feed_new (HISTORY, HISTORY * (gsize) MAX_MAX_OUTPUT * 2);

  web = nfltr_web_server_new (config, "Watch");
  nfltr_web_server_add_handler (web, "/", handle_cb, NULL, NULL);
  nfltr_web_server_set_app_data (web, app, watch_app_free);
  return nfltr_web_server_run (web, error);
}

static void
nfltr_kind_watch_class_init (NfltrKindWatchClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  nfltr_web_kind_class_init (kind_class);
  kind_class->get_id = watch_get_id;
  kind_class->get_label = watch_get_label;
  kind_class->get_description = watch_get_description;
  kind_class->parse = watch_parse;
  kind_class->describe_target = watch_describe_target;
  kind_class->start = watch_start;
}

static void
nfltr_kind_watch_init (NfltrKindWatch *self)
{
}
