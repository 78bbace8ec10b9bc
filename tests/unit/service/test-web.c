/* test-web.c — the web layer (service/kinds/web): a server fed through nfltr_web_connect's
 * socketpair answers real HTTP with the shell, the headers and the auth the pages rely on */
#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nfltr-web.h"

static void
hello_handler (NfltrWebServer *web, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer user_data)
{
  GString *page = nfltr_web_page_begin (web, "Hello <b>");

  g_string_append (page, "<p id=\"greeting\">hello ");
  nfltr_web_append_escaped (page, g_hash_table_lookup (query, "who"));
  g_string_append (page, "</p>");
  nfltr_web_page_finish (web, msg, SOUP_STATUS_OK, page);
}

static void
stream_handler (NfltrWebServer *web, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  g_autoptr(GInputStream) in = NULL;
  gsize n = 3 * 1000 * 1000;
  char *data = g_malloc (n);

  for (gsize i = 0; i < n; i++)
    data[i] = 'a' + i % 26;
  in = g_memory_input_stream_new_from_data (data, n, g_free);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  nfltr_web_send_stream (msg, in, strcmp (path, "/stream/chunked") == 0 ? -1 : (goffset) n, NULL, NULL);
}

/* One request on a fresh connection; the whole answer (the server closes: Connection: close). */
static char *
request (GVariant *config, const char *text)
{
  NfltrKindConn conn = {
    .client_addr = "127.0.0.1:5555", .sni = "t.nfltr.localhost", .cancel_fd = -1, .timeout_ms = 5000
  };
  g_autoptr (GError) error = NULL;
  GString *out = g_string_new (NULL);
  char buf[65536];
  ssize_t n;
  int fd = nfltr_web_connect (config, &conn, &error);

  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (ssize_t) strlen (text));
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (out, buf, n);
  close (fd);
  return g_string_free (out, FALSE);
}

static GVariant *
config_new (const char *basic, const char *token)
{
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  g_auto(GVariantDict) config = G_VARIANT_DICT_INIT (NULL);
  g_autoptr(GVariant) opts = NULL;
  g_autoptr(GError) error = NULL;

  if (basic)
    g_variant_dict_insert (&options, "basic-auth", "s", basic);
  if (token)
    g_variant_dict_insert (&options, "token", "s", token);
  opts = g_variant_ref_sink (g_variant_dict_end (&options));
  g_assert_true (nfltr_web_parse_auth_options (opts, &config, &error));
  g_assert_no_error (error);
  return g_variant_ref_sink (g_variant_dict_end (&config));
}

static void
start (GVariant *config)
{
  NfltrWebServer *web = nfltr_web_server_new (config, "Test app");
  g_autoptr(GError) error = NULL;

  nfltr_web_server_add_handler (web, "/", hello_handler, NULL, NULL);
  nfltr_web_server_add_handler (web, "/stream/", stream_handler, NULL, NULL);
  g_assert_true (nfltr_web_server_run (web, &error));
  g_assert_no_error (error);
}

static void
test_page_shell (void)
{
  g_autoptr(GVariant) config = config_new (NULL, NULL);
  g_autofree char *answer = NULL;

  start (config);
  answer = request (config, "GET /?who=%3Cscript%3E HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (answer, "Content-Security-Policy: default-src 'self'; script-src 'self';"));
  g_assert_nonnull (strstr (answer, "Referrer-Policy: no-referrer\r\n"));
  g_assert_nonnull (strstr (answer, "X-Content-Type-Options: nosniff\r\n"));
  g_assert_nonnull (strstr (answer, "Verified end-to-end"));
  /* Escaped, never markup: the query cannot inject a script. */
  g_assert_nonnull (strstr (answer, "hello &lt;script&gt;</p>"));
  g_assert_null (strstr (answer, "<script>"));
  g_assert_nonnull (strstr (answer, "<title>Hello &lt;b&gt; — Test app</title>"));
  g_clear_pointer (&answer, g_free);

  answer = request (config, "GET /.nfltr/style.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (answer, "Content-Type: text/css"));
  g_assert_nonnull (strstr (answer, ".nfltr-badge"));
  nfltr_web_server_stop (config);
}

static void
test_basic_auth (void)
{
  g_autoptr(GVariant) config = config_new ("ann:s3cret pass", NULL);
  g_autofree char *none = NULL, *wrong = NULL, *right = NULL, *upload = NULL;
  g_autofree char *good = g_base64_encode ((const guchar *) "ann:s3cret pass", 15);
  g_autofree char *bad = g_base64_encode ((const guchar *) "ann:s3cret pasS", 15);
  g_autofree char *req_wrong = g_strdup_printf ("GET / HTTP/1.1\r\nHost: t\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n", bad);
  g_autofree char *req_right = g_strdup_printf ("GET /?who=ann HTTP/1.1\r\nHost: t\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n", good);

  start (config);
  none = request (config, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (none, "HTTP/1.1 401 Unauthorized\r\n"));
  g_assert_nonnull (strstr (none, "WWW-Authenticate: Basic realm=\"nfltr\""));
  g_assert_nonnull (strstr (none, "needs a user name and password"));
  wrong = request (config, req_wrong);
  g_assert_true (g_str_has_prefix (wrong, "HTTP/1.1 401 Unauthorized\r\n"));
  g_assert_nonnull (strstr (wrong, "Wrong user name or password"));
  right = request (config, req_right);
  g_assert_true (g_str_has_prefix (right, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (right, "hello ann"));
  /* Refused before the body: the server answers without waiting for the 10 MB. */
  upload = request (config, "PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n"
                            "Expect: 100-continue\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (upload, "HTTP/1.1 401 Unauthorized\r\n"));
  nfltr_web_server_stop (config);
}

static void
test_token (void)
{
  g_autoptr(GVariant) config = config_new (NULL, "tok-0123456789");
  g_autofree char *none = NULL, *wrong = NULL, *browser = NULL, *curl = NULL, *cookie_req = NULL;
  g_autofree char *with_cookie = NULL, *bearer = NULL;
  const char *set_cookie, *end;
  g_autofree char *cookie = NULL;

  start (config);
  none = request (config, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (none, "HTTP/1.1 401 Unauthorized\r\n"));
  g_assert_nonnull (strstr (none, "needs its access token"));
  wrong = request (config, "GET /?token=tok-0123456788 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (wrong, "HTTP/1.1 401 Unauthorized\r\n"));
  g_assert_nonnull (strstr (wrong, "token in this link is wrong"));

  /* A browser is sent on without the token, with the cookie. */
  browser = request (config, "GET /a%20b/?x=1&token=tok-0123456789 HTTP/1.1\r\nHost: t\r\n"
                             "Accept: text/html\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (browser, "HTTP/1.1 303 See Other\r\n"));
  g_assert_nonnull (strstr (browser, "Location: /a%20b/?x=1\r\n"));
  set_cookie = strstr (browser, "Set-Cookie: " NFLTR_WEB_COOKIE "=");
  g_assert_nonnull (set_cookie);
  g_assert_nonnull (strstr (set_cookie, "HttpOnly"));
  set_cookie += strlen ("Set-Cookie: ");
  end = strchr (set_cookie, ';');
  cookie = g_strndup (set_cookie, end - set_cookie);
  g_assert_null (strstr (cookie, "tok-0123456789"));
  cookie_req = g_strdup_printf ("GET /?who=c HTTP/1.1\r\nHost: t\r\nCookie: a=b; %s\r\nConnection: close\r\n\r\n", cookie);
  with_cookie = request (config, cookie_req);
  g_assert_true (g_str_has_prefix (with_cookie, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (with_cookie, "hello c"));

  /* curl gets its answer at once. */
  curl = request (config, "GET /?who=curl&token=tok-0123456789 HTTP/1.1\r\nHost: t\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (curl, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (curl, "hello curl"));
  bearer = request (config, "GET /?who=b HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer tok-0123456789\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (bearer, "HTTP/1.1 200 OK\r\n"));
  nfltr_web_server_stop (config);
}

static void
test_stream (void)
{
  g_autoptr(GVariant) config = config_new (NULL, NULL);
  const char *paths[] = { "/stream/length", "/stream/chunked" };

  start (config);
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *req = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", paths[i]);
      g_autofree char *answer = request (config, req);
      const char *body = strstr (answer, "\r\n\r\n");

      g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200 OK\r\n"));
      g_assert_nonnull (body);
      if (i == 0)
        {
          g_assert_nonnull (strstr (answer, "Content-Length: 3000000\r\n"));
          g_assert_cmpuint (strlen (body + 4), ==, 3000000);
          for (gsize j = 0; j < 3000000; j++)
            if (body[4 + j] != 'a' + j % 26)
              g_error ("byte %" G_GSIZE_FORMAT " is wrong", j);
        }
      else
        g_assert_nonnull (strstr (answer, "Transfer-Encoding: chunked\r\n"));
    }
  nfltr_web_server_stop (config);
}

static void
test_stopped (void)
{
  g_autoptr(GVariant) config = config_new (NULL, NULL);
  NfltrKindConn conn = { .client_addr = "127.0.0.1:1", .cancel_fd = -1 };
  g_autoptr(GError) error = NULL;

  start (config);
  nfltr_web_server_stop (config);
  g_assert_cmpint (nfltr_web_connect (config, &conn, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  nfltr_web_server_stop (config); /* twice is nothing */
}

static void
test_query (void)
{
  const char *q = "a=1&b=x+y%21&a=2&bad=%zz&nul=%00&&=v&c&d=%4";
  g_autoptr(GHashTable) t = nfltr_web_query_parse (q, strlen (q));

  g_assert_cmpstr (g_hash_table_lookup (t, "a"), ==, "1");
  g_assert_cmpstr (g_hash_table_lookup (t, "b"), ==, "x y!");
  g_assert_cmpstr (g_hash_table_lookup (t, "c"), ==, "");
  g_assert_false (g_hash_table_contains (t, "bad"));
  g_assert_false (g_hash_table_contains (t, "nul"));
  g_assert_false (g_hash_table_contains (t, "d"));
  g_assert_cmpuint (g_hash_table_size (t), ==, 3);

  g_assert_true (nfltr_web_secret_equal ("abc", "abc"));
  g_assert_false (nfltr_web_secret_equal ("abc", "abd"));
  g_assert_false (nfltr_web_secret_equal ("abc", "abcd"));
  g_assert_false (nfltr_web_secret_equal ("abc", NULL));
}

static void
test_bad_options (void)
{
  const char *bad[][2] = { { "basic-auth", "nocolon" }, { "basic-auth", ":p" }, { "basic-auth", "u:" },
                           { "token", "short" }, { "token", "has space 12345" } };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
      g_auto(GVariantDict) config = G_VARIANT_DICT_INIT (NULL);
      g_autoptr(GVariant) opts = NULL;
      g_autoptr(GError) error = NULL;

      g_variant_dict_insert (&options, bad[i][0], "s", bad[i][1]);
      opts = g_variant_ref_sink (g_variant_dict_end (&options));
      g_assert_false (nfltr_web_parse_auth_options (opts, &config, &error));
      g_assert_nonnull (error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/web/page-shell", test_page_shell);
  g_test_add_func ("/web/basic-auth", test_basic_auth);
  g_test_add_func ("/web/token", test_token);
  g_test_add_func ("/web/stream", test_stream);
  g_test_add_func ("/web/stopped", test_stopped);
  g_test_add_func ("/web/query", test_query);
  g_test_add_func ("/web/bad-options", test_bad_options);
  return g_test_run ();
}
