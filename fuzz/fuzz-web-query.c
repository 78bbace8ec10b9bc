/* fuzz-web-query.c — the web layer's query-string parser (service/kinds/web/nfltr-web-util.c):
 * every key and value it keeps is a string without NUL, at most 64 pairs, no key empty. */
#include "nfltr-web.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GHashTable) table = nfltr_web_query_parse ((const char *) data, size);
  GHashTableIter iter;
  gpointer key, value;

  g_assert (table != NULL);
  g_assert_cmpuint (g_hash_table_size (table), <=, 64);
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_assert (*(char *) key != '\0');
      g_assert (strlen (key) <= size && strlen (value) <= size);
    }
  return 0;
}
