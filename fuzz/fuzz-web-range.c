/* fuzz-web-range.c — serve's Range header parser (service/kinds/serve/nfltr-serve-range.c).
 * The first 8 bytes are the file size; the rest is the header value. Whatever the input, a
 * satisfiable answer lies inside the file. */
#include "nfltr-serve-range.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint64 file_size = 0, start = 0, length = 0;
  g_autofree char *header = NULL;

  if (size >= 8)
    {
      memcpy (&file_size, data, 8);
      data += 8;
      size -= 8;
    }
  header = g_strndup ((const char *) data, size);
  switch (nfltr_serve_range_parse (header, file_size, &start, &length))
    {
      case NFLTR_RANGE_SATISFIABLE:
        g_assert (length > 0);
        g_assert (start < file_size);
        g_assert (length <= file_size - start);
        break;
      case NFLTR_RANGE_NONE:
      case NFLTR_RANGE_UNSATISFIABLE:
      default: break;
    }
  return 0;
}
