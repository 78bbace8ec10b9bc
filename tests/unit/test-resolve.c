/* test-resolve.c — HOST:PORT parsing errors a user will read, and RFC 6761 *.localhost */
#include "nfltr-resolve.h"
#include "nfltr-error.h"

#include <string.h>

static void
ok (const char *text, gboolean bare, const char *want_host, guint16 want_port)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  g_autoptr(GError) error = NULL;

  g_assert_true (nfltr_parse_host_port (text, 8443, bare, &host, &port, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (host, ==, want_host);
  g_assert_cmpuint (port, ==, want_port);
}

static void
bad (const char *text, gboolean bare, const char *fragment)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (nfltr_parse_host_port (text, 8443, bare, NULL, NULL, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, fragment) == NULL)
    g_error ("“%s”: message “%s” lacks “%s”", text, error->message, fragment);
}

static void
test_parse (void)
{
  ok ("3000", TRUE, "127.0.0.1", 3000);
  ok (":3000", TRUE, "127.0.0.1", 3000);
  ok ("localhost:3000", TRUE, "localhost", 3000);
  ok ("nfltr.localhost", FALSE, "nfltr.localhost", 8443);
  ok ("nfltr.localhost:9443", FALSE, "nfltr.localhost", 9443);
  ok ("[::1]:80", TRUE, "::1", 80);
  ok ("10.0.0.1:65535", TRUE, "10.0.0.1", 65535);
  bad ("70000", TRUE, "port 70000 is out of range 1–65535");
  bad ("0", TRUE, "port 0 is out of range");
  bad ("host:abc", TRUE, "port “abc” is not a number");
  bad ("host:", TRUE, "port is missing");
  bad ("", TRUE, "address is empty");
  bad ("[::1", TRUE, "unclosed");
  bad ("::1:80", TRUE, "[ADDR]:PORT");
  bad ("host:99999999999", TRUE, "out of range");
}

static void
url_ok (const char *text, NfltrAddressRole role, const char *want_host, guint16 want_port)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  g_autoptr(GError) error = NULL;

  g_assert_true (nfltr_parse_address (text, role, 8443, role == NFLTR_ADDRESS_TARGET, &host, &port, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (host, ==, want_host);
  g_assert_cmpuint (port, ==, want_port);
}

static void
url_bad (const char *text, NfltrAddressRole role, const char *fragment)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (nfltr_parse_address (text, role, 8443, TRUE, NULL, NULL, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, fragment) == NULL)
    g_error ("“%s”: message “%s” lacks “%s”", text, error->message, fragment);
  /* a pasted URL never gets the IPv6 hint (issue 9 §4) */
  g_assert_null (strstr (error->message, "[ADDR]:PORT"));
}

/* Issue 9 §4: URLs are accepted where a user pastes one, and refused saying what was wrong. */
static void
test_urls (void)
{
  url_ok ("http://localhost:8080", NFLTR_ADDRESS_TARGET, "localhost", 8080);
  url_ok ("http://localhost:8080/", NFLTR_ADDRESS_TARGET, "localhost", 8080);
  url_ok ("HTTP://127.0.0.1", NFLTR_ADDRESS_TARGET, "127.0.0.1", 80);
  url_ok ("http://[::1]:3000/", NFLTR_ADDRESS_TARGET, "::1", 3000);
  url_ok ("tcp://db.lan:5432", NFLTR_ADDRESS_TARGET, "db.lan", 5432);
  url_ok ("postgres://db.lan", NFLTR_ADDRESS_TARGET, "db.lan", 5432);
  url_ok ("ssh://10.0.0.5", NFLTR_ADDRESS_TARGET, "10.0.0.5", 22);
  url_ok ("3000", NFLTR_ADDRESS_TARGET, "127.0.0.1", 3000);
  url_ok ("https://host:8443", NFLTR_ADDRESS_RELAY, "host", 8443);
  url_ok ("https://relay.example.com/", NFLTR_ADDRESS_RELAY, "relay.example.com", 443);
  url_ok ("nfltr.localhost", NFLTR_ADDRESS_RELAY, "nfltr.localhost", 8443);

  url_bad ("https://localhost:8443", NFLTR_ADDRESS_TARGET, "plain address");
  url_bad ("http://localhost:8080/api", NFLTR_ADDRESS_TARGET, "drop “/api”");
  url_bad ("http://localhost:8080/?q=1", NFLTR_ADDRESS_TARGET, "drop “/?q=1”");
  url_bad ("http://user:pw@localhost:8080", NFLTR_ADDRESS_TARGET, "drop the user name");
  url_bad ("tcp://db.lan", NFLTR_ADDRESS_TARGET, "add :PORT");
  url_bad ("http://localhost:99999", NFLTR_ADDRESS_TARGET, "out of range");
  url_bad ("http://host:8443", NFLTR_ADDRESS_RELAY, "a relay speaks TLS");
  url_bad ("http://", NFLTR_ADDRESS_TARGET, "empty");
}

static void
test_localhost (void)
{
  g_autoptr(GSocketConnectable) c = NULL;
  g_autofree char *s = NULL;

  g_assert_true (nfltr_host_is_localhost ("localhost"));
  g_assert_true (nfltr_host_is_localhost ("nfltr.localhost"));
  g_assert_true (nfltr_host_is_localhost ("A.NFLTR.LOCALHOST."));
  g_assert_false (nfltr_host_is_localhost ("localhost.example.com"));
  g_assert_false (nfltr_host_is_localhost ("notlocalhost"));

  c = nfltr_resolve_connectable ("myapp.nfltr.localhost", 8443);
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (c));
  s = g_socket_connectable_to_string (c);
  g_assert_cmpstr (s, ==, "127.0.0.1:8443");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/resolve/parse", test_parse);
  g_test_add_func ("/resolve/urls", test_urls);
  g_test_add_func ("/resolve/localhost", test_localhost);
  return g_test_run ();
}
