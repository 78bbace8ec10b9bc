/* nfltr-web-multipart.c — a streaming multipart/form-data parser (RFC 2046 §5.1.1) */
#define G_LOG_DOMAIN "nfltr-web"

#include "nfltr-web-multipart.h"

#include <gio/gio.h>
#include <string.h>

#define MAX_BOUNDARY     70          /* RFC 2046 §5.1.1 */
#define MAX_PART_HEADERS (16 * 1024) /* a browser sends a few hundred bytes */

typedef enum {
  STATE_PREAMBLE,     /* before the first delimiter */
  STATE_AFTER_DELIM,  /* "--" (the end) or padding and CRLF (a part) */
  STATE_HEADERS,
  STATE_BODY,
  STATE_EPILOGUE,
  STATE_FAILED,
} State;

struct _NfltrWebMultipart {
  char *delimiter;  /* "\r\n--BOUNDARY" */
  gsize delimiter_len;
  const NfltrWebMultipartCallbacks *cb;
  gpointer user_data;
  State state;
  GByteArray *buf;
};

NfltrWebMultipart *
nfltr_web_multipart_new (const char                       *boundary,
                         const NfltrWebMultipartCallbacks *callbacks,
                         gpointer                          user_data,
                         GError                          **error)
{
  NfltrWebMultipart *mp;
  gsize len = boundary ? strlen (boundary) : 0;

  if (len == 0 || len > MAX_BOUNDARY)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "multipart boundary must be 1 to 70 characters");
      return NULL;
    }
  mp = g_new0 (NfltrWebMultipart, 1);
  mp->delimiter = g_strconcat ("\r\n--", boundary, NULL);
  mp->delimiter_len = len + 4;
  mp->cb = callbacks;
  mp->user_data = user_data;
  mp->buf = g_byte_array_new ();
  /* The first delimiter may open the body without a CRLF before it: pretend there was one. */
  g_byte_array_append (mp->buf, (const guint8 *) "\r\n", 2);
  return mp;
}

void
nfltr_web_multipart_free (NfltrWebMultipart *mp)
{
  if (mp == NULL)
    return;
  g_byte_array_unref (mp->buf);
  g_free (mp->delimiter);
  g_free (mp);
}

static void
consume (NfltrWebMultipart *mp, gsize n)
{
  g_byte_array_remove_range (mp->buf, 0, (guint) n);
}

static const guint8 *
find (const guint8 *hay, gsize hay_len, const char *needle, gsize needle_len)
{
  return memmem (hay, hay_len, needle, needle_len);
}

/* The value of param ("filename") in a Content-Disposition value: a token or a quoted string
 * (RFC 9110 §5.6.4, backslash escapes). NULL when absent. */
static char *
disposition_param (const char *value, const char *param)
{
  gsize plen = strlen (param);
  const char *p = value;

  while ((p = strchr (p, ';')) != NULL)
    {
      p++;
      while (*p == ' ' || *p == '\t')
        p++;
      if (g_ascii_strncasecmp (p, param, plen) == 0 && p[plen] == '=')
        {
          GString *out = g_string_new (NULL);

          p += plen + 1;
          if (*p == '"')
            {
              for (p++; *p && *p != '"'; p++)
                {
                  if (*p == '\\' && p[1] != '\0')
                    p++;
                  g_string_append_c (out, *p);
                }
            }
          else
            for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++)
              g_string_append_c (out, *p);
          return g_string_free (out, FALSE);
        }
    }
  return NULL;
}

static gboolean
fail (NfltrWebMultipart *mp, GError **error, const char *message)
{
  mp->state = STATE_FAILED;
  if (error != NULL && *error == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, message);
  return FALSE;
}

static gboolean
headers_done (NfltrWebMultipart *mp, const char *headers, GError **error)
{
  g_auto(GStrv) lines = g_strsplit (headers, "\r\n", -1);
  g_autofree char *name = NULL;
  g_autofree char *filename = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *colon = strchr (lines[i], ':');

      if (colon == NULL)
        continue;
      if ((gsize) (colon - lines[i]) == strlen ("Content-Disposition") &&
          g_ascii_strncasecmp (lines[i], "Content-Disposition", colon - lines[i]) == 0)
        {
          g_clear_pointer (&name, g_free);
          g_clear_pointer (&filename, g_free);
          name = disposition_param (colon + 1, "name");
          filename = disposition_param (colon + 1, "filename");
        }
    }
  if (!mp->cb->part_begin (name ? name : "", filename, mp->user_data, error))
    return fail (mp, error, "upload refused");
  return TRUE;
}

static gboolean
step (NfltrWebMultipart *mp, gboolean *progress, GError **error)
{
  const guint8 *d = mp->buf->data;
  gsize len = mp->buf->len;
  const guint8 *hit;

  *progress = FALSE;
  switch (mp->state)
    {
      case STATE_PREAMBLE:
        hit = find (d, len, mp->delimiter, mp->delimiter_len);
        if (hit == NULL)
          {
            /* Keep what could be the start of a delimiter. */
            if (len >= mp->delimiter_len)
              consume (mp, len - (mp->delimiter_len - 1));
            return TRUE;
          }
        consume (mp, (gsize) (hit - d) + mp->delimiter_len);
        mp->state = STATE_AFTER_DELIM;
        *progress = TRUE;
        return TRUE;

      case STATE_AFTER_DELIM:
        {
          gsize i = 0;

          if (len < 2)
            return TRUE;
          if (d[0] == '-' && d[1] == '-')
            {
              mp->state = STATE_EPILOGUE;
              *progress = TRUE;
              return TRUE;
            }
          /* transport-padding (LWSP) then CRLF */
          while (i < len && (d[i] == ' ' || d[i] == '\t'))
            i++;
          if (i > 256)
            return fail (mp, error, "malformed multipart delimiter line");
          if (len - i < 2)
            return TRUE;
          if (d[i] != '\r' || d[i + 1] != '\n')
            return fail (mp, error, "malformed multipart delimiter line");
          consume (mp, i + 2);
          mp->state = STATE_HEADERS;
          *progress = TRUE;
          return TRUE;
        }

      case STATE_HEADERS:
        {
          g_autofree char *headers = NULL;

          /* An empty header block is "\r\n" at once. */
          if (len >= 2 && d[0] == '\r' && d[1] == '\n')
            hit = d;
          else
            {
              hit = find (d, len, "\r\n\r\n", 4);
              if (hit != NULL)
                hit += 2;
            }
          if (hit == NULL)
            {
              if (len > MAX_PART_HEADERS)
                return fail (mp, error, "multipart part headers too long");
              return TRUE;
            }
          if (memchr (d, '\0', hit - d) != NULL)
            return fail (mp, error, "NUL in multipart part headers");
          headers = g_strndup ((const char *) d, hit - d);
          consume (mp, (gsize) (hit - d) + 2);
          if (!headers_done (mp, headers, error))
            return FALSE;
          mp->state = STATE_BODY;
          *progress = TRUE;
          return TRUE;
        }

      case STATE_BODY:
        hit = find (d, len, mp->delimiter, mp->delimiter_len);
        if (hit == NULL)
          {
            gsize safe = len >= mp->delimiter_len ? len - (mp->delimiter_len - 1) : 0;

            if (safe > 0)
              {
                if (!mp->cb->part_data (d, safe, mp->user_data, error))
                  return fail (mp, error, "upload refused");
                consume (mp, safe);
              }
            return TRUE;
          }
        if (hit > d && !mp->cb->part_data (d, hit - d, mp->user_data, error))
          return fail (mp, error, "upload refused");
        if (!mp->cb->part_end (mp->user_data, error))
          return fail (mp, error, "upload refused");
        consume (mp, (gsize) (hit - d) + mp->delimiter_len);
        mp->state = STATE_AFTER_DELIM;
        *progress = TRUE;
        return TRUE;

      case STATE_EPILOGUE: g_byte_array_set_size (mp->buf, 0); return TRUE;

      case STATE_FAILED:
      default: return fail (mp, error, "malformed multipart body");
    }
}

gboolean
nfltr_web_multipart_feed (NfltrWebMultipart *mp, const guint8 *data, gsize len, GError **error)
{
  gboolean progress = TRUE;

  if (mp->state == STATE_FAILED)
    return fail (mp, error, "malformed multipart body");
  if (mp->state == STATE_EPILOGUE)
    return TRUE;
  g_byte_array_append (mp->buf, data, (guint) len);
  while (progress)
    if (!step (mp, &progress, error))
      return FALSE;
  return TRUE;
}

gboolean
nfltr_web_multipart_finish (NfltrWebMultipart *mp, GError **error)
{
  if (mp->state == STATE_EPILOGUE)
    return TRUE;
  return fail (mp, error, "the upload ended before its last part was complete");
}
