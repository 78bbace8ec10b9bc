/* fuzz-a2a-pins.c — the a2a pin file (~/.config/nfltr/a2a-pins): what parses must print back
 * to a file that parses to the same pins. */
#include "nfltr-a2a-proto.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint bad = 0, bad2 = 0;
  g_autoptr(GHashTable) pins = nfltr_a2a_pins_parse ((const char *) data, size, &bad);
  g_autofree char *text = nfltr_a2a_pins_format (pins);
  g_autoptr(GHashTable) again = nfltr_a2a_pins_parse (text, strlen (text), &bad2);
  GHashTableIter iter;
  gpointer id, key;

  g_assert (bad2 == 0);
  g_assert (g_hash_table_size (again) == g_hash_table_size (pins));
  g_hash_table_iter_init (&iter, pins);
  while (g_hash_table_iter_next (&iter, &id, &key))
    g_assert (g_bytes_equal (key, g_hash_table_lookup (again, id)));
  return 0;
}
