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

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static gboolean
is_scheme (const char *text, gsize len)
{
  if (len == 0 || !g_ascii_isalpha (text[0]))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!g_ascii_isalnum (text[i]) && text[i] != '+' && text[i] != '-' && text[i] != '.')
      return FALSE;
  return TRUE;
}

static guint16
scheme_default_port (const char *scheme)
{
  static const struct {
    const char *scheme;
    guint16 port;
  } ports[] = {
    { "http", 80 },    { "https", 443 },     { "ws", 80 },           { "wss", 443 },
    { "ssh", 22 },     { "postgres", 5432 }, { "postgresql", 5432 }, { "mysql", 3306 },
    { "redis", 6379 }, { "mongodb", 27017 }, { "ftp", 21 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (ports); i++)
    if (g_str_equal (scheme, ports[i].scheme))
      return ports[i].port;
  return 0;
}

static gboolean
authority_has_port (const char *authority)
{
  const char *after = authority;

  if (authority[0] == '[')
    after = strchr (authority, ']') ? strchr (authority, ']') : authority;
  return strchr (after, ':') != NULL;
}

static gboolean
check_scheme (const char *text, const char *scheme, NfltrAddressRole role, GError **error)
{
  switch (role)
    {
      case NFLTR_ADDRESS_TARGET:
        if (g_str_equal (scheme, "https") || g_str_equal (scheme, "wss"))
          {
            g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                         "“%s” is an HTTPS server: the tunnel's TLS ends in the agent, which "
                         "speaks plain HTTP to the local server unless told otherwise: give that "
                         "server's plain address (e.g. http://localhost:8080), or its HOST:PORT "
                         "with --origin-tls",
                         text);
            return FALSE;
          }
        return TRUE;
      case NFLTR_ADDRESS_RELAY:
        if (!g_str_equal (scheme, "https") && !g_str_equal (scheme, "wss"))
          {
            g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                         "“%s”: a relay speaks TLS; write https://HOST[:PORT] or HOST:PORT", text);
            return FALSE;
          }
        return TRUE;
      default: g_assert_not_reached ();
    }
}

gboolean
nfltr_parse_address (const char *text, NfltrAddressRole role, guint16 default_port, gboolean allow_bare_port,
                     char **host, guint16 *port, GError **error)
{
  const char *sep = text ? strstr (text, "://") : NULL;
  g_autofree char *scheme = NULL;
  g_autofree char *authority = NULL;
  const char *rest;
  gsize len;
  guint16 scheme_port;

  if (sep == NULL || !is_scheme (text, sep - text))
    return nfltr_parse_host_port (text, default_port, allow_bare_port, host, port, error);

  scheme = g_ascii_strdown (text, sep - text);
  if (!check_scheme (text, scheme, role, error))
    return FALSE;

  rest = sep + 3;
  len = strcspn (rest, "/?#");
  authority = g_strndup (rest, len);
  if (strchr (authority, '@') != NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s”: drop the user name (“%.*s@”)", text,
                   (int) (strrchr (authority, '@') - authority), authority);
      return FALSE;
    }
  if (rest[len] != '\0' && !(rest[len] == '/' && rest[len + 1] == '\0'))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s”: an address has no path; drop “%s” (the tunnel serves every path)",
                   text, rest + len);
      return FALSE;
    }
  scheme_port = scheme_default_port (scheme);
  if (scheme_port == 0 && !authority_has_port (authority))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s” names no port and “%s://” has no usual one: add :PORT", text, scheme);
      return FALSE;
    }
  return nfltr_parse_host_port (authority, scheme_port ? scheme_port : default_port, FALSE,
                                host, port, error);
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
