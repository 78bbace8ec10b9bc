/* test-state.c — relay.json and tunnels.json as a user might leave them after hand-editing:
 * every fault is an error naming the file and the member, and one bad tunnel entry does not
 * cost the others. */
#include "nfltr-state.h"
#include "nfltr-error.h"

#include <string.h>

static void
relay_ok (void)
{
  const char *text = "{\"host\":\"nfltr.localhost\",\"port\":8443,\"fingerprint\":\"sha256:ab\",\"domain\":\"nfltr.localhost\"}";
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrRelayConfig) c = nfltr_relay_config_parse (text, strlen (text), "relay.json", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (c->host, ==, "nfltr.localhost");
  g_assert_cmpuint (c->port, ==, 8443);
  g_assert_cmpstr (c->fingerprint, ==, "sha256:ab");
  g_assert_cmpstr (c->domain, ==, "nfltr.localhost");
}

static void
relay_bad (const char *text, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrRelayConfig) c = nfltr_relay_config_parse (text, strlen (text), "relay.json", &error);

  g_assert_null (c);
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED);
  if (strstr (error->message, fragment) == NULL || strstr (error->message, "relay.json") == NULL)
    g_error ("%s → “%s”, expected “%s”", text, error->message, fragment);
}

static void
test_relay_config (void)
{
  relay_ok ();
  relay_bad ("", "is empty");
  relay_bad ("{", "not valid JSON");
  relay_bad ("[]", "not a JSON object");
  relay_bad ("{\"port\":1,\"fingerprint\":\"sha256:a\"}", "“host” is missing");
  relay_bad ("{\"host\":{},\"port\":1,\"fingerprint\":\"sha256:a\"}", "“host” must be a string");
  relay_bad ("{\"host\":\"h\",\"port\":70000,\"fingerprint\":\"sha256:a\"}", "“port” must be a number 1–65535");
  relay_bad ("{\"host\":\"h\",\"port\":\"8443\",\"fingerprint\":\"sha256:a\"}", "“port” must be a number");
  relay_bad ("{\"host\":\"h\",\"port\":1,\"fingerprint\":\"md5:a\"}", "bad host or fingerprint");
  relay_bad ("{\"host\":\"h\",\"port\":1,\"fingerprint\":\"sha256:a\",\"domain\":7}", "“domain” must be a string");
}

static void
test_tunnels (void)
{
  const char *text =
    "[{\"name\":\"a\",\"target\":\"127.0.0.1:3000\"},"
    " 5,"
    " {\"name\":\"b\",\"target\":{}},"
    " {\"name\":\"c\",\"target\":\"127.0.0.1:3001\",\"e2ee\":\"no\"},"
    " {\"name\":\"d\",\"target\":\"127.0.0.1:3002\",\"kind\":\"tcp\",\"e2ee\":false,\"enabled\":false}]";
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = nfltr_tunnels_parse (text, strlen (text), "tunnels.json", &error);
  NfltrTunnelConfig *a, *d;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  a = g_ptr_array_index (list, 0);
  d = g_ptr_array_index (list, 1);
  g_assert_cmpstr (a->name, ==, "a");
  g_assert_cmpstr (a->kind, ==, "http");
  g_assert_true (a->e2ee);
  g_assert_true (a->enabled);
  g_assert_cmpstr (d->name, ==, "d");
  g_assert_cmpstr (d->kind, ==, "tcp");
  g_assert_false (d->e2ee);
  g_assert_false (d->enabled);

  g_clear_pointer (&list, g_ptr_array_unref);
  list = nfltr_tunnels_parse ("{}", 2, "tunnels.json", &error);
  g_assert_null (list);
  g_assert_nonnull (strstr (error->message, "tunnels.json: not a JSON array"));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/state/relay-config", test_relay_config);
  g_test_add_func ("/state/tunnels", test_tunnels);
  return g_test_run ();
}
