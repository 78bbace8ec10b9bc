/* nfltr-http-auth.c — see nfltr-http-auth.h. */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-http-auth.h"

#include "nfltr-error.h"

#include <string.h>

gboolean
nfltr_http_basic_auth_valid (const char *credentials, GError **error)
{
  const char *colon = credentials != NULL ? strchr (credentials, ':') : NULL;

  if (colon == NULL || colon == credentials || colon[1] == '\0')
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "basic-auth must be USER:PASSWORD, both non-empty");
      return FALSE;
    }
  for (const char *p = credentials; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      {
        g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                             "basic-auth must not contain control characters");
        return FALSE;
      }
  return TRUE;
}

/* Equal lengths and bytes, in time that depends on the lengths only. */
static gboolean
equal_constant_time (const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
  guint8 diff = a_len == b_len ? 0 : 1;

  for (gsize i = 0; i < b_len; i++)
    diff |= (guint8) ((i < a_len ? a[i] : 0) ^ b[i]);
  return diff == 0;
}

gboolean
nfltr_http_basic_auth_matches (const char *credentials, const char *value, gsize value_len)
{
  static const char scheme[] = "basic";
  g_autofree char *encoded = NULL;
  g_autofree guchar *decoded = NULL;
  gsize decoded_len = 0, i;

  /* RFC 9110 §11.1: the scheme is case-insensitive, then at least one space. */
  if (value_len <= sizeof scheme || g_ascii_strncasecmp (value, scheme, sizeof scheme - 1) != 0 ||
      value[sizeof scheme - 1] != ' ')
    return FALSE;
  for (i = sizeof scheme; i < value_len && value[i] == ' '; i++)
    ;
  encoded = g_strndup (value + i, value_len - i);
  g_strchomp (encoded);
  for (const char *p = encoded; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      return FALSE;
  decoded = g_base64_decode (encoded, &decoded_len);
  return equal_constant_time (decoded, decoded_len, (const guint8 *) credentials, strlen (credentials));
}

char *
nfltr_http_basic_auth_challenge (const char *realm)
{
  GString *value = g_string_new ("Basic realm=\"");

  /* quoted-string (RFC 9110 §5.6.4): escape the two characters that need it. */
  for (const char *p = realm; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (value, '\\');
      g_string_append_c (value, *p);
    }
  g_string_append (value, "\", charset=\"UTF-8\"");
  return g_string_free (value, FALSE);
}
