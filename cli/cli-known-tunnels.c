/* cli-known-tunnels.c — pins of `nfltr ssh` (see the header) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-known-tunnels.h"

#include <string.h>

#include "nfltr-cert.h"

CliPinResult
cli_known_tunnels_check (const char  *contents,
                         gsize        len,
                         const char  *host,
                         const char  *fingerprint,
                         char       **pinned)
{
  const char *end = contents + len;
  CliPinResult result = CLI_PIN_UNKNOWN;

  for (const char *line = contents; line < end;)
    {
      const char *eol = memchr (line, '\n', end - line);
      g_autofree char *text = g_strndup (line, (eol != NULL ? eol : end) - line);
      g_auto(GStrv) words = NULL;
      guint8 digest[NFLTR_FINGERPRINT_LEN];

      line = eol != NULL ? eol + 1 : end;
      g_strstrip (text);
      if (*text == '\0' || *text == '#')
        continue;
      words = g_strsplit_set (text, " \t", -1);
      /* "HOST FINGERPRINT", nothing else; the last line for a host wins (appended later). */
      if (g_strv_length (words) != 2 || g_ascii_strcasecmp (words[0], host) != 0 ||
          !nfltr_fingerprint_parse (words[1], digest))
        continue;
      if (pinned != NULL)
        {
          g_free (*pinned);
          *pinned = nfltr_fingerprint_format (digest);
        }
      {
        g_autofree char *formatted = nfltr_fingerprint_format (digest);

        result = g_ascii_strcasecmp (formatted, fingerprint) == 0 ? CLI_PIN_MATCH : CLI_PIN_MISMATCH;
      }
    }
  return result;
}

char *
cli_known_tunnels_add (const char *contents, gsize len, const char *host, const char *fingerprint)
{
  GString *out = g_string_new_len (contents, len);

  if (out->len > 0 && out->str[out->len - 1] != '\n')
    g_string_append_c (out, '\n');
  g_string_append_printf (out, "%s %s\n", host, fingerprint);
  return g_string_free (out, FALSE);
}

gboolean
cli_ssh_parse_destination (const char *destination, char **host)
{
  const char *at = strrchr (destination, '@');
  const char *name = at != NULL ? at + 1 : destination;
  gsize len = strlen (name);
  gsize label = 0;

  if (len == 0 || len > 253 || name[0] == '.' || name[len - 1] == '.')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    {
      if (*p == '.')
        {
          if (label == 0 || p[-1] == '-')
            return FALSE;
          label = 0;
          continue;
        }
      if (!g_ascii_isalnum (*p) && !(*p == '-' && label > 0))
        return FALSE;
      if (++label > 63)
        return FALSE;
    }
  if (name[len - 1] == '-')
    return FALSE;
  if (host != NULL)
    *host = g_ascii_strdown (name, -1);
  return TRUE;
}
