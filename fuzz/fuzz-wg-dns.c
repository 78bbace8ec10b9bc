/* fuzz-wg-dns.c — the serve side's DNS question parser (service/wg/forward, RFC 1035 §4.1):
 * every datagram a peer sends to port 53 of the serve side's address goes through it. */
#include "nfltr-forwarder.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint16 qtype = 0;
  gsize end = 0;
  g_autofree char *name = nfltr_dns_parse_query (data, size, &qtype, &end);

  if (name != NULL)
    {
      g_assert (end <= size);
      g_assert (strlen (name) > 0 && strlen (name) <= 253);
      for (const char *p = name; *p != '\0'; p++)
        g_assert (g_ascii_isalnum (*p) || *p == '-' || *p == '_' || *p == '.');
    }
  return 0;
}
