/* nfltr-inspect-address.c — the inspector page's address rules (see the header) */
#define G_LOG_DOMAIN "nfltr-inspect"

#include "nfltr-inspect-address.h"

#include "nfltr-error.h"
#include "nfltr-resolve.h"

#include <gio/gio.h>
#include <string.h>

gboolean
nfltr_inspect_parse_listen_address (const char *text, char **host, guint16 *port, GError **error)
{
  g_autofree char *h = NULL;
  g_autoptr(GInetAddress) addr = NULL;
  guint16 p = NFLTR_INSPECT_DEFAULT_PORT;
  guint64 bare;

  if (text == NULL || *text == '\0')
    h = g_strdup ("127.0.0.1");
  else if (g_ascii_string_to_unsigned (text, 10, 0, 65535, &bare, NULL))
    {
      h = g_strdup ("127.0.0.1");
      p = (guint16) bare;
    }
  else if (!nfltr_parse_host_port (text, NFLTR_INSPECT_DEFAULT_PORT, FALSE, &h, &p, NULL))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s” is not an address for the inspector: give 127.0.0.1:PORT, [::1]:PORT or a port",
                   text);
      return FALSE;
    }
  if (g_ascii_strcasecmp (h, "localhost") == 0)
    {
      g_free (h);
      h = g_strdup ("127.0.0.1");
    }
  addr = g_inet_address_new_from_string (h);
  if (addr == NULL || !g_inet_address_get_is_loopback (addr))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "the inspector shows requests in clear, so it listens on loopback only "
                   "(127.0.0.1 or [::1]), not on “%s”", h);
      return FALSE;
    }
  *host = g_inet_address_to_string (addr);
  *port = p;
  return TRUE;
}

gboolean
nfltr_inspect_host_allowed (const char *host_field, const char *bound_host, guint16 port)
{
  g_autofree char *h = NULL;
  guint16 p = 0;

  if (host_field == NULL || bound_host == NULL)
    return FALSE;
  /* RFC 9110 §7.2: Host is uri-host [ ":" port ]; the page's own URL always has the port. */
  if (!nfltr_parse_host_port (host_field, 0, FALSE, &h, &p, NULL) || p != port)
    return FALSE;
  if (g_ascii_strcasecmp (h, "localhost") == 0)
    return TRUE;
  return g_strcmp0 (h, bound_host) == 0;
}

gboolean
nfltr_inspect_check_options (GVariant *options, GError **error)
{
  g_autofree char *host = NULL;
  const char *addr = NULL;
  guint64 bodies = 0;
  guint16 port;

  if (options == NULL)
    return TRUE;
  if (g_variant_lookup (options, "inspect-addr", "&s", &addr) &&
      !nfltr_inspect_parse_listen_address (addr, &host, &port, error))
    return FALSE;
  if (g_variant_lookup (options, "inspect-bodies", "t", &bodies) && bodies > NFLTR_INSPECT_MAX_BODY_CAP)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "the inspector keeps at most %u MiB of each body", NFLTR_INSPECT_MAX_BODY_CAP / (1024 * 1024));
      return FALSE;
    }
  return TRUE;
}
