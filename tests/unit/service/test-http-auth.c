/* test-http-auth.c — --basic-auth (service/kinds/http/nfltr-http-auth.c): what a browser and
 * curl send is accepted, everything else is not, and the rewriter answers 401 with a
 * challenge and never forwards the credentials. */
#include "nfltr-http-auth.h"
#include "nfltr-http-rewrite.h"

#include <string.h>

static gboolean
matches (const char *value)
{
  return nfltr_http_basic_auth_matches ("alice:s3cret pass", value, strlen (value));
}

static void
test_matches (void)
{
  /* base64("alice:s3cret pass") = YWxpY2U6czNjcmV0IHBhc3M= */
  g_assert_true (matches ("Basic YWxpY2U6czNjcmV0IHBhc3M="));
  g_assert_true (matches ("basic YWxpY2U6czNjcmV0IHBhc3M="));
  g_assert_true (matches ("BASIC   YWxpY2U6czNjcmV0IHBhc3M="));
  g_assert_false (matches ("Basic YWxpY2U6czNjcmV0IHBhc3"));      /* truncated */
  g_assert_false (matches ("Basic YWxpY2U6czNjcmV0IHBhc3MX"));     /* longer */
  g_assert_false (matches ("Bearer YWxpY2U6czNjcmV0IHBhc3M="));
  g_assert_false (matches ("BasicYWxpY2U6czNjcmV0IHBhc3M="));
  g_assert_false (matches ("Basic YWxpY2U6czNjcmV0IHBhc3M=\x01"));
  g_assert_false (matches ("Basic "));
  g_assert_false (matches (""));
  g_assert_false (matches ("Basic YWxpY2U6"));                    /* alice: */
}

static void
test_valid (void)
{
  g_assert_true (nfltr_http_basic_auth_valid ("a:b", NULL));
  g_assert_true (nfltr_http_basic_auth_valid ("a:b:c", NULL)); /* a password may hold ':' */
  g_assert_false (nfltr_http_basic_auth_valid (":b", NULL));
  g_assert_false (nfltr_http_basic_auth_valid ("a:", NULL));
  g_assert_false (nfltr_http_basic_auth_valid ("ab", NULL));
  g_assert_false (nfltr_http_basic_auth_valid ("a:b\n", NULL));
  g_assert_false (nfltr_http_basic_auth_valid (NULL, NULL));
}

static void
test_challenge_quotes (void)
{
  g_autofree char *plain = nfltr_http_basic_auth_challenge ("app.example.com");
  g_autofree char *odd = nfltr_http_basic_auth_challenge ("a\"b\\c");

  g_assert_cmpstr (plain, ==, "Basic realm=\"app.example.com\", charset=\"UTF-8\"");
  g_assert_cmpstr (odd, ==, "Basic realm=\"a\\\"b\\\\c\", charset=\"UTF-8\"");
}

static void
test_rewriter (void)
{
  static const char ok[] = "GET /a HTTP/1.1\r\nHost: app.example.com\r\n"
                           "Authorization: Basic YWxpY2U6czNjcmV0IHBhc3M=\r\n\r\n";
  static const char none[] = "GET /b HTTP/1.1\r\nHost: app.example.com\r\n\r\n";
  g_autoptr (NfltrHttpRewriter) rw = nfltr_http_rewriter_new ("app.example.com", "192.0.2.1");
  g_autoptr (GByteArray) out = g_byte_array_new ();
  GBytes *response;
  g_autofree char *text = NULL;

  nfltr_http_rewriter_set_basic_auth (rw, "alice:s3cret pass");
  g_assert_cmpint (nfltr_http_rewriter_feed (rw, (const guint8 *) ok, strlen (ok), out), ==,
                   NFLTR_HTTP_REWRITE_CONTINUE);
  g_assert_nonnull (g_strstr_len ((const char *) out->data, out->len, "GET /a "));
  g_assert_null (g_strstr_len ((const char *) out->data, out->len, "uthorization"));
  g_byte_array_set_size (out, 0);
  g_assert_cmpint (nfltr_http_rewriter_feed (rw, (const guint8 *) none, strlen (none), out), ==,
                   NFLTR_HTTP_REWRITE_REJECT);
  g_assert_cmpuint (out->len, ==, 0);
  g_assert_cmpuint (nfltr_http_rewriter_get_status (rw), ==, 401);
  response = nfltr_http_rewriter_get_response (rw);
  text = g_strndup (g_bytes_get_data (response, NULL), g_bytes_get_size (response));
  g_assert_true (g_str_has_prefix (text, "HTTP/1.1 401 Unauthorized\r\n"));
  g_assert_nonnull (strstr (text, "\r\nWWW-Authenticate: Basic realm=\"app.example.com\", charset=\"UTF-8\"\r\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-auth/matches", test_matches);
  g_test_add_func ("/http-auth/valid", test_valid);
  g_test_add_func ("/http-auth/challenge-quotes", test_challenge_quotes);
  g_test_add_func ("/http-auth/rewriter", test_rewriter);
  return g_test_run ();
}
