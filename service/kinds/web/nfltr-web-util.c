/* nfltr-web-util.c — the web layer's pure pieces: the query-string parser (outside input:
 * fuzz/fuzz-web-query.c) and the constant-time comparison of secrets */
#define G_LOG_DOMAIN "nfltr-web"

#include "nfltr-web.h"

#include <string.h>

/* More is not a form any of our pages sends. */
#define MAX_QUERY_PAIRS 64
#define MAX_QUERY_LEN   (16 * 1024)

/* WHATWG URL §5.1 (application/x-www-form-urlencoded parsing): '+' is a space, then
 * percent-decoding. NULL for a NUL byte or a '%' not followed by two hex digits. */
static char *
form_decode (const char *text, gsize len)
{
  GString *out = g_string_sized_new (len);

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (c == '+')
        c = ' ';
      else if (c == '%')
        {
          int hi, lo;

          if (len - i < 3)
            goto bad;
          hi = g_ascii_xdigit_value (text[i + 1]);
          lo = g_ascii_xdigit_value (text[i + 2]);
          if (hi < 0 || lo < 0)
            goto bad;
          c = (char) (hi << 4 | lo);
          i += 2;
        }
      if (c == '\0')
        goto bad;
      g_string_append_c (out, c);
    }
  return g_string_free (out, FALSE);

bad:
  g_string_free (out, TRUE);
  return NULL;
}

GHashTable *
nfltr_web_query_parse (const char *query, gsize len)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gsize start = 0;

  if (query == NULL || len > MAX_QUERY_LEN)
    return table;
  while (start <= len && g_hash_table_size (table) < MAX_QUERY_PAIRS)
    {
      const char *pair = query + start;
      const char *amp = memchr (pair, '&', len - start);
      gsize pair_len = amp ? (gsize) (amp - pair) : len - start;
      const char *eq = memchr (pair, '=', pair_len);
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      if (pair_len > 0)
        {
          key = form_decode (pair, eq ? (gsize) (eq - pair) : pair_len);
          value = eq ? form_decode (eq + 1, pair_len - (eq - pair) - 1) : g_strdup ("");
          if (key != NULL && value != NULL && *key != '\0' && !g_hash_table_contains (table, key))
            g_hash_table_insert (table, g_steal_pointer (&key), g_steal_pointer (&value));
        }
      start += pair_len + 1;
    }
  return table;
}

gboolean
nfltr_web_secret_equal (const char *a, const char *b)
{
  guint8 da[32], db[32];
  gsize la = sizeof da, lb = sizeof db;
  g_autoptr(GChecksum) ca = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GChecksum) cb = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 diff = 0;

  if (a == NULL || b == NULL)
    return FALSE;
  /* Hashing first makes both the same length, so neither the content nor the length of the
   * secret shows in the time the loop takes. */
  g_checksum_update (ca, (const guchar *) a, strlen (a));
  g_checksum_update (cb, (const guchar *) b, strlen (b));
  g_checksum_get_digest (ca, da, &la);
  g_checksum_get_digest (cb, db, &lb);
  for (gsize i = 0; i < sizeof da; i++)
    diff |= da[i] ^ db[i];
  return diff == 0;
}
