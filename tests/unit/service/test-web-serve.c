/* test-web-serve.c — the serve kind's handlers on the web layer without a relay: every kind
 * of answer once (listing, file, range, 304, tar, gzip, PUT, form upload, refusals), so a
 * leak or a stray thread in any of them shows here (valgrind, ASan) */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "nfltr-kind-serve.h"
#include "nfltr-tunnel-kind.h"
#include "nfltr-web.h"

static char *
request (GVariant *config, const char *text, gsize extra_len, const char *extra)
{
  NfltrKindConn conn = { .client_addr = "127.0.0.1:5555", .sni = "t.nfltr.localhost", .cancel_fd = -1 };
  g_autoptr(GError) error = NULL;
  GString *out = g_string_new (NULL);
  char buf[65536];
  ssize_t n;
  int fd = nfltr_web_connect (config, &conn, &error);

  g_assert_no_error (error);
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (ssize_t) strlen (text));
  if (extra_len > 0)
    g_assert_cmpint (write (fd, extra, extra_len), ==, (ssize_t) extra_len);
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (out, buf, n);
  close (fd);
  return g_string_free (out, FALSE);
}

static void
test_serve (void)
{
  g_autofree char *dir = g_dir_make_tmp ("nfltr-test-serve-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "a.txt", NULL);
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GVariant) config = NULL;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autoptr(GError) error = NULL;
  NfltrTunnelKind *kind = nfltr_tunnel_kind_lookup ("serve");
  GString *content = g_string_new (NULL);
  const char *mp_body = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"up.txt\"\r\n\r\nuploaded\r\n--B--\r\n";
  g_autofree char *mp_head = NULL;
  g_autofree char *saved = NULL;
  struct {
    const char *request;
    const char *expect_prefix;
    const char *expect_inside;
  } cases[] = {
    { "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "HTTP/1.1 200", ">a.txt</a>" },
    { "GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "HTTP/1.1 200", "line 0\n" },
    { "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-5\r\nConnection: close\r\n\r\n", "HTTP/1.1 206",
      "Content-Range: bytes 0-5/" },
    { "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=999999-\r\nConnection: close\r\n\r\n", "HTTP/1.1 416",
      "bytes */" },
    { "GET /a.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", "HTTP/1.1 200",
      "Content-Encoding: gzip" },
    { "HEAD /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "HTTP/1.1 200",
      "Accept-Ranges: bytes" },
    { "GET /?download=tar HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "HTTP/1.1 200", "files/" },
    { "GET /sub HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "HTTP/1.1 301", "Location: /sub/" },
    { "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "HTTP/1.1 404", "No such file" },
    { "PUT /put.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", "HTTP/1.1 201",
      "saved put.txt" },
    { "PUT /big.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 999999\r\nExpect: 100-continue\r\nConnection: "
      "close\r\n\r\n",
      "HTTP/1.1 413", "larger than the limit" },
    { "DELETE /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "HTTP/1.1 405",
      "Allow: GET, HEAD, PUT, POST" },
  };

  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (content, "line %u\n", i);
  g_assert_true (g_file_set_contents (file, content->str, content->len, NULL));
  g_string_free (content, TRUE);
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);

  g_variant_dict_insert (&dict, "upload", "b", TRUE);
  g_variant_dict_insert (&dict, "max-upload", "t", (guint64) 1000);
  options = g_variant_ref_sink (g_variant_dict_end (&dict));
  config = nfltr_tunnel_kind_parse (kind, dir, options, &error);
  g_assert_no_error (error);
  g_assert_true (nfltr_tunnel_kind_start (kind, config, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *answer = request (config, cases[i].request, 0, NULL);

      if (!g_str_has_prefix (answer, cases[i].expect_prefix) || strstr (answer, cases[i].expect_inside) == NULL)
        g_error ("case %u: %.400s", i, answer);
    }
  mp_head = g_strdup_printf ("POST / HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n", strlen (mp_body));
  {
    g_autofree char *answer = request (config, mp_head, strlen (mp_body), mp_body);

    g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 201"));
  }
  {
    g_autofree char *path = g_build_filename (dir, "up.txt", NULL);

    g_assert_true (g_file_get_contents (path, &saved, NULL, NULL));
    g_assert_cmpstr (saved, ==, "uploaded");
    g_unlink (path);
  }
  nfltr_tunnel_kind_stop (kind, config);

  {
    g_autofree char *put = g_build_filename (dir, "put.txt", NULL);

    g_assert_true (g_file_get_contents (put, &text, NULL, NULL));
    g_assert_cmpstr (text, ==, "abc");
    g_unlink (put);
  }
  g_unlink (file);
  g_rmdir (sub);
  g_assert_cmpint (g_rmdir (dir), ==, 0); /* no temporary upload left behind */
}

static GVariant *
start_kind (const char *id, const char *target, GVariant *options)
{
  NfltrTunnelKind *kind = nfltr_tunnel_kind_lookup (id);
  g_autoptr(GError) error = NULL;
  GVariant *config = nfltr_tunnel_kind_parse (kind, target, options, &error);

  g_assert_no_error (error);
  g_assert_true (nfltr_tunnel_kind_start (kind, config, &error));
  g_assert_no_error (error);
  return config;
}

static void
test_command (void)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  const char *argv[] = { "cat", NULL };
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GVariant) config = NULL;
  g_autofree char *ok = NULL, *refused = NULL, *injected = NULL;

  g_variant_dict_insert (&dict, "argv", "^as", argv);
  g_variant_dict_insert (&dict, "arg-from-query", "s", "f");
  options = g_variant_ref_sink (g_variant_dict_end (&dict));
  config = start_kind ("command", "cat", options);
  ok = request (config, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", 0, NULL);
  g_assert_true (g_str_has_prefix (ok, "HTTP/1.1 200"));
  g_assert_nonnull (strstr (ok, "X-Exit-Status: 0\r\n"));
  g_assert_true (g_str_has_suffix (ok, "\r\n\r\nhello"));
  refused = request (config, "GET /?f=--version HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0, NULL);
  g_assert_true (g_str_has_prefix (refused, "HTTP/1.1 400"));
  /* cat is given one file name, the whole value: it does not exist, cat says so, exit 1 */
  injected = request (config, "GET /?f=x%3Bid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0, NULL);
  g_assert_true (g_str_has_prefix (injected, "HTTP/1.1 500"));
  g_assert_nonnull (strstr (injected, "X-Exit-Status: 1\r\n"));
  g_assert_nonnull (strstr (injected, "X-Stderr: cat: 'x;id': No such file"));
  nfltr_tunnel_kind_stop (nfltr_tunnel_kind_lookup ("command"), config);
}

static void
test_share_text (void)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GVariant) config = NULL;
  g_autofree char *ok = NULL, *other = NULL, *gone = NULL;

  g_variant_dict_insert (&dict, "secret", "s", "abcdefghijklmnopqrstuvwx");
  g_variant_dict_insert (&dict, "text", "s", "the text");
  g_variant_dict_insert (&dict, "max-downloads", "u", 1);
  options = g_variant_ref_sink (g_variant_dict_end (&dict));
  config = start_kind ("share", "text", options);
  other = request (config, "GET /abcdefghijklmnopqrstuvwX HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0, NULL);
  g_assert_true (g_str_has_prefix (other, "HTTP/1.1 404"));
  ok = request (config, "GET /abcdefghijklmnopqrstuvwx HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0, NULL);
  g_assert_true (g_str_has_prefix (ok, "HTTP/1.1 200"));
  g_assert_true (g_str_has_suffix (ok, "the text"));
  gone = request (config, "GET /abcdefghijklmnopqrstuvwx HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0, NULL);
  g_assert_true (g_str_has_prefix (gone, "HTTP/1.1 410"));
  nfltr_tunnel_kind_stop (nfltr_tunnel_kind_lookup ("share"), config);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/web/serve", test_serve);
  g_test_add_func ("/web/command", test_command);
  g_test_add_func ("/web/share-text", test_share_text);
  return g_test_run ();
}
