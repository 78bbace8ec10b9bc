/* nfltr-resolve.c — HOST:PORT parsing and RFC 6761 *.localhost resolution */
#define G_LOG_DOMAIN "nfltr-resolve"

#include "nfltr-resolve.h"
#include "nfltr-error.h"

#include <string.h>

static gboolean
parse_port (const char *text, guint16 *port, GError **error)
{
  guint64 value;
  char *end = NULL;

  if (text == NULL || *text == '\0')
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "port is missing");
      return FALSE;
    }
  for (const char *p = text; *p; p++)
    if (!g_ascii_isdigit (*p))
      {
        g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                     "port “%s” is not a number", text);
        return FALSE;
      }
  value = g_ascii_strtoull (text, &end, 10);
  if (strlen (text) > 6 || value < 1 || value > 65535)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "port %s is out of range 1–65535", text);
      return FALSE;
    }
  *port = (guint16) value;
  return TRUE;
}

gboolean
nfltr_parse_host_port (const char  *text,
                       guint16      default_port,
                       gboolean     allow_bare_port,
                       char       **host,
                       guint16     *port,
                       GError     **error)
{
  const char *colon = NULL;
  g_autofree char *h = NULL;
  guint16 p = default_port;

  if (text == NULL || *text == '\0')
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "address is empty (expected HOST:PORT or PORT)");
      return FALSE;
    }

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');
      if (close == NULL)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "address “%s” has an unclosed “[”", text);
          return FALSE;
        }
      h = g_strndup (text + 1, close - text - 1);
      if (close[1] == ':')
        {
          if (!parse_port (close + 2, &p, error))
            return FALSE;
        }
      else if (close[1] != '\0')
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "address “%s” has junk after “]”", text);
          return FALSE;
        }
    }
  else if (allow_bare_port && g_ascii_isdigit (text[0]) && strchr (text, ':') == NULL &&
           strchr (text, '.') == NULL)
    {
      if (!parse_port (text, &p, error))
        return FALSE;
      h = g_strdup ("127.0.0.1");
    }
  else
    {
      colon = strrchr (text, ':');
      if (colon != NULL && strchr (text, ':') != colon)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "address “%s”: write IPv6 addresses as [ADDR]:PORT", text);
          return FALSE;
        }
      if (colon != NULL)
        {
          h = g_strndup (text, colon - text);
          if (!parse_port (colon + 1, &p, error))
            return FALSE;
        }
      else
        h = g_strdup (text);
    }

  if (h == NULL || *h == '\0')
    {
      if (h != NULL && colon != NULL && allow_bare_port)
        {
          g_free (h);
          h = g_strdup ("127.0.0.1");  /* ":3000" */
        }
      else
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "address “%s” has no host", text);
          return FALSE;
        }
    }
  if (p == 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "address “%s” has no port", text);
      return FALSE;
    }

  if (host)
    *host = g_steal_pointer (&h);
  if (port)
    *port = p;
  return TRUE;
}

gboolean
nfltr_host_is_localhost (const char *host)
{
  g_autofree char *lower = NULL;
  gsize len;

  if (host == NULL)
    return FALSE;
  lower = g_ascii_strdown (host, -1);
  len = strlen (lower);
  if (len > 0 && lower[len - 1] == '.')
    lower[--len] = '\0';
  return g_str_equal (lower, "localhost") || g_str_has_suffix (lower, ".localhost");
}

GSocketConnectable *
nfltr_resolve_connectable (const char *host, guint16 port)
{
  if (nfltr_host_is_localhost (host))
    return G_SOCKET_CONNECTABLE (g_inet_socket_address_new_from_string ("127.0.0.1", port));
  return g_network_address_new (host, port);
}
