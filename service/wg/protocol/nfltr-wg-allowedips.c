/* nfltr-wg-allowedips.c — longest-prefix match over a short list. */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-wg-allowedips.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

void
nfltr_wg_allowed_ips_init (NfltrWgAllowedIps *table)
{
  table->entries = g_array_new (FALSE, TRUE, sizeof (NfltrWgAllowedIp));
}

void
nfltr_wg_allowed_ips_clear (NfltrWgAllowedIps *table)
{
  g_clear_pointer (&table->entries, g_array_unref);
}

static void
mask_prefix (guint8 addr[16], guint len_bytes, guint cidr)
{
  for (guint i = 0; i < len_bytes; i++)
    {
      guint bits = cidr > i * 8 ? MIN (cidr - i * 8, 8) : 0;

      addr[i] &= (guint8) (0xff00 >> bits);
    }
}

gboolean
nfltr_wg_allowed_ip_parse (const char *text, NfltrWgAllowedIp *out)
{
  g_autofree char *copy = g_strdup (text);
  char *slash = strchr (copy, '/');
  guint max;

  memset (out, 0, sizeof *out);
  if (slash != NULL)
    *slash = '\0';
  if (inet_pton (AF_INET, copy, out->addr) == 1)
    {
      out->family = 4;
      max = 32;
    }
  else if (inet_pton (AF_INET6, copy, out->addr) == 1)
    {
      out->family = 6;
      max = 128;
    }
  else
    return FALSE;

  out->cidr = max;
  if (slash != NULL)
    {
      guint64 n;

      if (!g_ascii_string_to_unsigned (slash + 1, 10, 0, max, &n, NULL))
        return FALSE;
      out->cidr = (guint) n;
    }
  mask_prefix (out->addr, max / 8, out->cidr);
  return TRUE;
}

void
nfltr_wg_allowed_ips_insert (NfltrWgAllowedIps *table, const NfltrWgAllowedIp *prefix, guint peer)
{
  NfltrWgAllowedIp entry = *prefix;

  entry.peer = peer;
  for (guint i = 0; i < table->entries->len; i++)
    {
      NfltrWgAllowedIp *e = &g_array_index (table->entries, NfltrWgAllowedIp, i);

      if (e->family == entry.family && e->cidr == entry.cidr && memcmp (e->addr, entry.addr, 16) == 0)
        {
          e->peer = peer;
          return;
        }
    }
  g_array_append_val (table->entries, entry);
}

void
nfltr_wg_allowed_ips_remove_peer (NfltrWgAllowedIps *table, guint peer)
{
  for (guint i = table->entries->len; i-- > 0;)
    if (g_array_index (table->entries, NfltrWgAllowedIp, i).peer == peer)
      g_array_remove_index (table->entries, i);
}

guint
nfltr_wg_allowed_ips_lookup (const NfltrWgAllowedIps *table, guint family, const guint8 *addr)
{
  guint best_peer = 0;
  gint best_cidr = -1;
  guint len_bytes = family == 4 ? 4 : 16;

  for (guint i = 0; i < table->entries->len; i++)
    {
      const NfltrWgAllowedIp *e = &g_array_index (table->entries, NfltrWgAllowedIp, i);
      guint8 masked[16] = { 0 };

      if (e->family != family || (gint) e->cidr <= best_cidr)
        continue;
      memcpy (masked, addr, len_bytes);
      mask_prefix (masked, len_bytes, e->cidr);
      if (memcmp (masked, e->addr, len_bytes) == 0)
        {
          best_cidr = (gint) e->cidr;
          best_peer = e->peer;
        }
    }
  return best_peer;
}
