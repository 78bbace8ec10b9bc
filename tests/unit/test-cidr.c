/* test-cidr.c — address ranges for --allow-cidr / --deny-cidr (libshared/nfltr-cidr). */
#include "nfltr-cidr.h"

static NfltrCidrList *
parse (const char *text, GError **error)
{
  const char *entries[] = { text, NULL };

  return nfltr_cidr_list_parse (entries, error);
}

static void
test_ipv4 (void)
{
  g_autoptr (NfltrCidrList) list = parse ("192.0.2.0/24, 198.51.100.7", NULL);

  g_assert_nonnull (list);
  g_assert_true (nfltr_cidr_list_contains_text (list, "192.0.2.0:1"));
  g_assert_true (nfltr_cidr_list_contains_text (list, "192.0.2.255:65535"));
  g_assert_false (nfltr_cidr_list_contains_text (list, "192.0.3.0:1"));
  g_assert_true (nfltr_cidr_list_contains_text (list, "198.51.100.7:443"));
  g_assert_false (nfltr_cidr_list_contains_text (list, "198.51.100.8:443"));
  /* A dual-stack socket's view of an IPv4 client. */
  g_assert_true (nfltr_cidr_list_contains_text (list, "[::ffff:192.0.2.9]:80"));
  g_assert_false (nfltr_cidr_list_contains_text (list, "[::ffff:192.0.3.9]:80"));
  g_assert_false (nfltr_cidr_list_contains_text (list, "not an address"));
  g_assert_false (nfltr_cidr_list_contains_text (list, NULL));
}

static void
test_ipv6_and_odd_prefixes (void)
{
  g_autoptr (NfltrCidrList) list = parse ("2001:db8::/33 10.0.0.0/9 0.0.0.0/0", NULL);
  g_auto (GStrv) canonical = NULL;

  g_assert_nonnull (list);
  g_assert_true (nfltr_cidr_list_contains_text (list, "[2001:db8:7fff::1]:1"));
  g_assert_false (nfltr_cidr_list_contains_text (list, "[2001:db8:8000::1]:1"));
  g_assert_true (nfltr_cidr_list_contains_text (list, "203.0.113.1:1")); /* 0.0.0.0/0 */
  g_assert_false (nfltr_cidr_list_contains_text (list, "[2001:db9::1]:1"));

  g_autoptr (NfltrCidrList) host_bits = parse ("192.0.2.200/25", NULL);
  canonical = nfltr_cidr_list_to_strv (host_bits);
  g_assert_cmpstr (canonical[0], ==, "192.0.2.128/25");
  g_assert_true (nfltr_cidr_list_contains_text (host_bits, "192.0.2.129:1"));
  g_assert_false (nfltr_cidr_list_contains_text (host_bits, "192.0.2.127:1"));
}

static void
test_errors_name_the_entry (void)
{
  struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "10.0.0.0/33", "“10.0.0.0/33”: the prefix length must be 0–32 for IPv4" },
    { "2001:db8::/129", "“2001:db8::/129”: the prefix length must be 0–128 for IPv6" },
    { "10.0.0.0/-1", "“10.0.0.0/-1”: the prefix length must be 0–32 for IPv4" },
    { "example.com", "“example.com” is not an address range" },
    { "10.0.0.0/24,300.1.1.1", "“300.1.1.1” is not an address range" },
    { " , ", "no address range given" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (NfltrCidrList) list = parse (cases[i].text, &error);

      g_assert_null (list);
      g_assert_nonnull (error);
      g_assert_true (g_str_has_prefix (error->message, cases[i].message));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cidr/ipv4", test_ipv4);
  g_test_add_func ("/cidr/ipv6-and-odd-prefixes", test_ipv6_and_odd_prefixes);
  g_test_add_func ("/cidr/errors-name-the-entry", test_errors_name_the_entry);
  return g_test_run ();
}
