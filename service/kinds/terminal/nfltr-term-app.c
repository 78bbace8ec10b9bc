/* nfltr-term-app.c — the terminal and ai kinds' web app: a program's PTY in a browser */
#define G_LOG_DOMAIN "nfltr-terminal"

#include "nfltr-term-app.h"

#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "nfltr-error.h"
#include "nfltr-term-message.h"
#include "nfltr-term-resources.h"
#include "nfltr-term-session.h"
#include "nfltr-web-socket.h"
#include "nfltr-web.h"

#define ASSETS_RESOURCE "/xyz/nfltr/Nfltr/terminal/"
#define WRITER_COOKIE   "nfltr-term"
#define VIEWER_COOKIE   "nfltr-term-view"
/* xterm.js injects <style> elements for its renderer: the layer's policy with inline styles
 * allowed (never inline scripts). */
#define TERM_CSP                                                                           \
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "            \
  "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "        \
  "form-action 'self'; frame-ancestors 'none'"

typedef enum {
  ROLE_NONE,
  ROLE_VIEWER,
  ROLE_WRITER,
} Role;

/* One running tunnel's app; lives on the web server's thread (its app data). */
typedef struct {
  char            **argv;
  char             *cwd;
  char             *title;
  gsize             ring_size;
  char             *writer_cookie; /* HMAC of the token: the cookie is not the token */
  char             *viewer_cookie;
  char             *writer_token;
  char             *viewer_token;
  NfltrTermSession *session;
} TermApp;

/* ---- options ---------------------------------------------------------------------------------- */

static char *
default_shell (void)
{
  const char *shell = g_getenv ("SHELL");
  struct passwd *pw;

  if (shell != NULL && g_path_is_absolute (shell) && access (shell, X_OK) == 0)
    return g_strdup (shell);
  pw = getpwuid (getuid ());
  if (pw != NULL && pw->pw_shell != NULL && access (pw->pw_shell, X_OK) == 0)
    return g_strdup (pw->pw_shell);
  return g_strdup ("/bin/sh");
}

/* The web layer's token rules (letters, digits, -_.~, long enough) for one of ours. */
static gboolean
check_token (const char *option, const char *token, GError **error)
{
  g_auto(GVariantDict) probe = G_VARIANT_DICT_INIT (NULL);
  g_auto(GVariantDict) out = G_VARIANT_DICT_INIT (NULL);
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GError) local = NULL;

  g_variant_dict_insert (&probe, "token", "s", token);
  options = g_variant_ref_sink (g_variant_dict_end (&probe));
  if (nfltr_web_parse_auth_options (options, &out, &local))
    return TRUE;
  /* Its message names --token; ours may be --viewer's. */
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "%s: %s", option, local->message);
  return FALSE;
}

GVariant *
nfltr_term_app_parse (const NfltrTermAppKind *app_kind,
                      const char             *target,
                      GVariant               *options,
                      GError                **error)
{
  g_auto(GVariantDict) config = G_VARIANT_DICT_INIT (NULL);
  g_auto(GStrv) argv = NULL;
  g_autofree char *path = NULL;
  const char *cwd = NULL, *token = NULL, *viewer = NULL, *basic = NULL;

  if (options != NULL && g_variant_lookup (options, "argv", "^as", &argv) && argv[0] == NULL)
    g_clear_pointer (&argv, g_strfreev);
  if (argv == NULL && target != NULL && *target != '\0')
    {
      g_autoptr(GError) local = NULL;

      /* Split like a command line, never run by a shell. */
      if (!g_shell_parse_argv (target, NULL, &argv, &local))
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "cannot read the command “%s”: %s", target, local->message);
          return NULL;
        }
    }
  if (argv == NULL)
    {
      char *def[] = { app_kind->default_command != NULL ? g_strdup (app_kind->default_command)
                                                         : default_shell (),
                      NULL };

      argv = g_strdupv (def);
      g_free (def[0]);
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
      g_variant_lookup (options, "cwd", "&s", &cwd);
      g_variant_lookup (options, "token", "&s", &token);
      g_variant_lookup (options, "viewer-token", "&s", &viewer);
      g_variant_lookup (options, "basic-auth", "&s", &basic);
    }
  if (cwd != NULL && *cwd != '\0' && !g_path_is_absolute (cwd))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "the working directory must be an absolute path, not “%s”", cwd);
      return NULL;
    }
  if ((token == NULL || *token == '\0') && (basic == NULL || *basic == '\0'))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "a terminal needs a token or --basic-auth: it must never be open to "
                           "anyone who finds its URL");
      return NULL;
    }
  if (token != NULL && *token != '\0' && !check_token ("--token", token, error))
    return NULL;
  if (viewer != NULL && *viewer != '\0')
    {
      if (!check_token ("--viewer", viewer, error))
        return NULL;
      if (token != NULL && g_str_equal (viewer, token))
        {
          g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                               "the viewer token must differ from the token");
          return NULL;
        }
    }
  if (basic != NULL && *basic != '\0')
    {
      g_auto(GVariantDict) probe = G_VARIANT_DICT_INIT (NULL);
      g_autoptr(GVariant) only_basic = NULL;

      /* The layer checks basic auth itself; tokens are ours (a writer and a viewer). */
      g_variant_dict_insert (&probe, "basic-auth", "s", basic);
      only_basic = g_variant_ref_sink (g_variant_dict_end (&probe));
      if (!nfltr_web_parse_auth_options (only_basic, &config, error))
        return NULL;
    }

  g_variant_dict_insert (&config, "argv", "^as", argv);
  if (cwd != NULL && *cwd != '\0')
    g_variant_dict_insert (&config, "cwd", "s", cwd);
  if (token != NULL && *token != '\0')
    g_variant_dict_insert (&config, "writer-token", "s", token);
  if (viewer != NULL && *viewer != '\0')
    g_variant_dict_insert (&config, "viewer-token", "s", viewer);
  g_variant_dict_insert (&config, "title", "s", app_kind->title);
  g_variant_dict_insert (&config, "ring", "t", (guint64) app_kind->ring_size);
  return g_variant_dict_end (&config);
}

char *
nfltr_term_app_describe_target (GVariant *config)
{
  g_auto(GStrv) argv = NULL;
  GString *out = g_string_new (NULL);

  g_variant_lookup (config, "argv", "^as", &argv);
  for (guint i = 0; argv != NULL && argv[i] != NULL; i++)
    {
      gboolean plain = *argv[i] != '\0' && strpbrk (argv[i], " \t\n'\"\\$`*?[]{}()<>|&;#~") == NULL;
      g_autofree char *quoted = plain ? g_strdup (argv[i]) : g_shell_quote (argv[i]);

      if (i > 0)
        g_string_append_c (out, ' ');
      g_string_append (out, quoted);
    }
  return g_string_free (out, FALSE);
}

/* ---- the app on the web thread ----------------------------------------------------------------- */

static void
term_app_free (gpointer data)
{
  TermApp *app = data;

  g_clear_object (&app->session);
  g_strfreev (app->argv);
  g_free (app->cwd);
  g_free (app->title);
  g_free (app->writer_cookie);
  g_free (app->viewer_cookie);
  g_free (app->writer_token);
  g_free (app->viewer_token);
  g_free (app);
}

static char *
cookie_value (const char *token, const char *role)
{
  return g_compute_hmac_for_string (G_CHECKSUM_SHA256, (const guchar *) token, strlen (token), role, -1);
}

/* The value of the cookie name in the request's Cookie headers, or NULL. */
static char *
find_cookie (SoupServerMessage *msg, const char *name)
{
  const char *header = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                      "Cookie");
  g_auto(GStrv) parts = NULL;
  gsize name_len = strlen (name);

  if (header == NULL)
    return NULL;
  parts = g_strsplit_set (header, ";,", 64);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *p = parts[i];

      while (*p == ' ')
        p++;
      if (strncmp (p, name, name_len) == 0 && p[name_len] == '=')
        return g_strdup (p + name_len + 1);
    }
  return NULL;
}

static Role
role_of (TermApp *app, SoupServerMessage *msg)
{
  g_autofree char *writer = NULL;
  g_autofree char *viewer = NULL;

  /* Basic auth alone: the layer let only the right user in. */
  if (app->writer_token == NULL)
    return ROLE_WRITER;
  writer = find_cookie (msg, WRITER_COOKIE);
  if (writer != NULL && nfltr_web_secret_equal (writer, app->writer_cookie))
    return ROLE_WRITER;
  viewer = find_cookie (msg, VIEWER_COOKIE);
  if (viewer != NULL && app->viewer_cookie != NULL && nfltr_web_secret_equal (viewer, app->viewer_cookie))
    return ROLE_VIEWER;
  return ROLE_NONE;
}

/* ?token=…: the matching cookie and a redirect to the same page without the query. */
static gboolean
take_token (TermApp *app, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  const char *token = g_hash_table_lookup (query, "token");
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  g_autofree char *cookie = NULL;
  g_autofree char *location = NULL;

  if (token == NULL || app->writer_token == NULL)
    return FALSE;
  if (nfltr_web_secret_equal (token, app->writer_token))
    cookie = g_strdup_printf (WRITER_COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Strict",
                              app->writer_cookie);
  else if (app->viewer_token != NULL && nfltr_web_secret_equal (token, app->viewer_token))
    cookie = g_strdup_printf (VIEWER_COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Strict",
                              app->viewer_cookie);
  else
    return FALSE;
  soup_message_headers_append (h, "Set-Cookie", cookie);
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  /* Relative: soup would make it absolute with the scheme it sees, http. */
  location = g_uri_escape_string (path, "/", FALSE);
  soup_server_message_set_status (msg, SOUP_STATUS_SEE_OTHER, NULL);
  soup_message_headers_replace (h, "Location", location);
  return TRUE;
}

static void
serve_page (NfltrWebServer *web, TermApp *app, SoupServerMessage *msg, Role role)
{
  GString *page = nfltr_web_page_begin (web, app->title);
  g_autofree char *command = g_strjoinv (" ", app->argv);

  g_string_append (page, "<link rel=\"stylesheet\" href=\"/assets/xterm.css\">"
                         "<link rel=\"stylesheet\" href=\"/assets/terminal.css\">"
                         "<div class=\"term-bar\"><code class=\"term-command\">");
  nfltr_web_append_escaped (page, command);
  g_string_append_printf (page,
                          "</code><span class=\"term-role\">%s</span>"
                          "<span id=\"term-status\" class=\"term-status\" role=\"status\">"
                          "connecting…</span><span class=\"term-actions\">",
                          role == ROLE_WRITER ? "" : "read-only");
  if (role == ROLE_WRITER)
    g_string_append (page, "<button type=\"button\" id=\"term-copy\">Copy</button>"
                           "<button type=\"button\" id=\"term-paste\">Paste</button>");
  g_string_append (page, "<a href=\"/transcript.txt\" download=\"transcript.txt\">Transcript</a>"
                         "</span></div>");
  g_string_append_printf (page,
                          "<div id=\"terminal\" class=\"term\" data-role=\"%s\"></div>"
                          "<noscript><p>The terminal needs JavaScript.</p></noscript>"
                          "<script src=\"/assets/xterm.js\"></script>"
                          "<script src=\"/assets/addon-fit.js\"></script>"
                          "<script src=\"/assets/terminal.js\"></script>",
                          role == ROLE_WRITER ? "writer" : "viewer");
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Security-Policy",
                                TERM_CSP);
  nfltr_web_page_finish (web, msg, SOUP_STATUS_OK, page);
}

static gboolean
serve_asset (SoupServerMessage *msg, const char *path)
{
  static const char * const names[] = { "xterm.js", "addon-fit.js", "terminal.js", "xterm.css", "terminal.css", NULL };

  return nfltr_web_respond_resource (msg, nfltr_term_get_resource (), ASSETS_RESOURCE, names, path + strlen ("/assets/"));
}

static void
serve_transcript (TermApp *app, SoupServerMessage *msg, gboolean strip)
{
  g_autoptr(GBytes) bytes = app->session != NULL ? nfltr_term_session_get_transcript (app->session, strip)
                                                 : g_bytes_new (NULL, 0);
  g_autofree char *disposition = g_strdup_printf ("attachment; filename=\"transcript.%s\"",
                                                  strip ? "txt" : "ansi");

  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Content-Disposition", disposition);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Cache-Control", "no-store");
  nfltr_web_respond_bytes (msg, SOUP_STATUS_OK,
                           strip ? "text/plain; charset=utf-8" : "application/octet-stream", bytes);
}

/* ---- the WebSocket ---- */

static void
session_exited_cb (NfltrTermSession *session, int wait_status, gpointer user_data)
{
  g_debug ("terminal program ended (wait status %d)", wait_status);
}

static void
ws_ready_cb (NfltrWebServer *web, SoupWebsocketConnection *ws, gpointer user_data)
{
  TermApp *app = nfltr_web_server_get_app_data (web);
  Role role = GPOINTER_TO_INT (user_data);
  g_autoptr(GError) error = NULL;

  if (app == NULL)
    {
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      return;
    }
  if (role == ROLE_WRITER && (app->session == NULL || !nfltr_term_session_is_running (app->session)))
    {
      /* The first writer, or the first after the program ended: a fresh session. */
      g_clear_object (&app->session);
      app->session = nfltr_term_session_new ((const char * const *) app->argv, app->cwd,
                                             app->ring_size, &error);
      if (app->session == NULL)
        {
          g_warning ("terminal: %s", error->message);
          soup_websocket_connection_send_text (ws, "{\"t\":\"error\",\"message\":"
                                                   "\"the program could not be started\"}");
          soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NULL);
          return;
        }
      g_signal_connect (app->session, "exited", G_CALLBACK (session_exited_cb), NULL);
    }
  if (app->session == NULL)
    {
      /* A viewer before any writer: nothing to watch yet. */
      soup_websocket_connection_send_text (ws, "{\"t\":\"waiting\"}");
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                       "the session has not started yet");
      return;
    }
  nfltr_term_session_attach (app->session, ws, role == ROLE_WRITER);
}

static void
handle_cb (NfltrWebServer    *web,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  TermApp *app = nfltr_web_server_get_app_data (web);
  const char *method = soup_server_message_get_method (msg);
  Role role;

  if (g_str_has_prefix (path, "/assets/") && serve_asset (msg, path))
    return; /* static, and nothing secret */
  if (g_str_equal (path, "/") && take_token (app, msg, path, query))
    return;
  role = role_of (app, msg);
  if (role == ROLE_NONE)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                    "no-store");
      nfltr_web_respond_error (web, msg, SOUP_STATUS_UNAUTHORIZED,
                               "Open the link with its ?token= (nfltr prints it), or ask for a "
                               "new one.");
      return;
    }
  if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD"))
    {
      nfltr_web_respond_error (web, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET here.");
      return;
    }
  if (g_str_equal (path, "/"))
    serve_page (web, app, msg, role);
  else if (g_str_equal (path, "/ws"))
    nfltr_web_socket_upgrade (web, msg, ws_ready_cb, GINT_TO_POINTER (role), NULL);
  else if (g_str_equal (path, "/transcript.txt"))
    serve_transcript (app, msg, TRUE);
  else if (g_str_equal (path, "/transcript.ansi"))
    serve_transcript (app, msg, FALSE);
  else
    nfltr_web_respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "Nothing here.");
}

gboolean
nfltr_term_app_start (GVariant *config, GError **error)
{
  TermApp *app = g_new0 (TermApp, 1);
  NfltrWebServer *web;
  guint64 ring = 1 << 20;

  g_variant_lookup (config, "argv", "^as", &app->argv);
  g_variant_lookup (config, "cwd", "s", &app->cwd);
  g_variant_lookup (config, "title", "s", &app->title);
  g_variant_lookup (config, "ring", "t", &ring);
  g_variant_lookup (config, "writer-token", "s", &app->writer_token);
  g_variant_lookup (config, "viewer-token", "s", &app->viewer_token);
  app->ring_size = MAX (ring, 4096);
  if (app->title == NULL)
    app->title = g_strdup ("Terminal");
  if (app->writer_token != NULL)
    app->writer_cookie = cookie_value (app->writer_token, "nfltr-term-writer");
  if (app->viewer_token != NULL)
    app->viewer_cookie = cookie_value (app->viewer_token, "nfltr-term-viewer");

  web = nfltr_web_server_new (config, app->title);
  nfltr_web_server_add_handler (web, "/", handle_cb, NULL, NULL);
  nfltr_web_server_set_app_data (web, app, term_app_free);
  return nfltr_web_server_run (web, error);
}
