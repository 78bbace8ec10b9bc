/* fuzz-cidr.c — --allow-cidr / --deny-cidr lists (libshared/nfltr-cidr) and the relay's
 * client address they are matched against. A list that parses must print back to ranges
 * that parse to the same list, and must contain the network address of each of its ranges. */
#include "nfltr-cidr.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* First line: the list; the rest: an address to match. */
  g_autofree char *text = g_strndup ((const char *) data, size);
  char *newline = strchr (text, '\n');
  const char *address = newline != NULL ? newline + 1 : "192.0.2.1:443";
  const char *entries[] = { text, NULL };
  g_autoptr (NfltrCidrList) list = NULL;

  if (newline != NULL)
    *newline = '\0';
  list = nfltr_cidr_list_parse (entries, NULL);
  if (list == NULL)
    return 0;
  (void) nfltr_cidr_list_contains_text (list, address);

  g_auto (GStrv) canonical = nfltr_cidr_list_to_strv (list);
  g_autoptr (NfltrCidrList) again = nfltr_cidr_list_parse ((const char * const *) canonical, NULL);
  g_auto (GStrv) canonical_again = NULL;

  g_assert_nonnull (again);
  canonical_again = nfltr_cidr_list_to_strv (again);
  g_assert_true (g_strv_equal ((const char * const *) canonical, (const char * const *) canonical_again));
  for (guint i = 0; canonical[i] != NULL; i++)
    {
      g_autofree char *network = g_strndup (canonical[i], strcspn (canonical[i], "/"));

      g_assert_true (nfltr_cidr_list_contains_text (list, network));
    }
  return 0;
}
