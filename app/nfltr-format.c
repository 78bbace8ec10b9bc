/* nfltr-format.c — turning service values and errors into words for people. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>
#include <gio/gio.h>

#include "nfltr-error.h"
#include "nfltr-format.h"
#include "nfltr-resolve.h"

/* The service's errors arrive as xyz.nfltr.Nfltr.Error.* and map back to NFLTR_ERROR; say
 * what happened and what to do, then the service's own detail. */
char *
nfltr_format_error (const GError *error)
{
  g_autoptr(GError) copy = NULL;
  const char *lead = NULL;

  if (error == NULL)
    return g_strdup (_("Something went wrong."));

  copy = g_error_copy (error);
  if (g_dbus_error_is_remote_error (copy))
    g_dbus_error_strip_remote_error (copy);

  if (copy->domain == NFLTR_ERROR)
    {
      switch ((NfltrError) copy->code)
        {
        case NFLTR_ERROR_INVALID_ARGUMENT:
          lead = _("The service did not accept these settings.");
          break;
        case NFLTR_ERROR_CERTIFICATE:
          lead = _("The certificate or its key cannot be used.");
          break;
        case NFLTR_ERROR_RELAY_UNREACHABLE:
          lead = _("The relay cannot be reached. Check the address and that the relay is running.");
          break;
        case NFLTR_ERROR_AUTH_FAILED:
          lead = _("The relay refused the API key. Check the key with the relay’s operator.");
          break;
        case NFLTR_ERROR_NAME_TAKEN: lead = _ ("That name is taken. Choose another name."); break;
        case NFLTR_ERROR_NOT_FOUND:
          lead = _("The tunnel no longer exists.");
          break;
        case NFLTR_ERROR_NOT_LOGGED_IN:
          lead = _("Not connected to a relay yet. Connect to a relay first.");
          break;
        case NFLTR_ERROR_FINGERPRINT_MISMATCH:
          lead = _("The relay presented a different certificate than the one you confirmed. Someone may be intercepting the connection.");
          break;
        case NFLTR_ERROR_PROTOCOL:
          lead = _("The relay answered with something the service did not understand. The relay may run an incompatible version.");
          break;
        case NFLTR_ERROR_LIMIT:
          lead = _("The relay’s limit for this account has been reached.");
          break;
        case NFLTR_ERROR_FAILED:
        default:
          lead = NULL;
          break;
        }
    }
  else if (g_error_matches (copy, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
           g_error_matches (copy, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
           g_error_matches (copy, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT))
    lead = _("The NFLTR service did not answer in time.");
  else if (g_error_matches (copy, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
           g_error_matches (copy, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
           g_error_matches (copy, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
           g_error_matches (copy, G_IO_ERROR, G_IO_ERROR_CLOSED))
    lead = _("The NFLTR service is not running.");

  if (lead == NULL)
    return g_strdup (copy->message);
  if (copy->message == NULL || *copy->message == '\0')
    return g_strdup (lead);
  /* TRANSLATORS: first an explanation, then the service's own detail */
  return g_strdup_printf (_("%s (%s)"), lead, copy->message);
}

char *
nfltr_format_traffic (guint   active,
                      guint64 total,
                      guint64 bytes_in,
                      guint64 bytes_out)
{
  /* IEC units (KiB, MiB), as the CLI prints them (issue 9 §6: the same units everywhere). */
  g_autofree char *in = g_format_size_full (bytes_in, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *out = g_format_size_full (bytes_out, G_FORMAT_SIZE_IEC_UNITS);

  g_autofree char *all = g_strdup_printf ("%" G_GUINT64_FORMAT, total);

  /* TRANSLATORS: live connections, connections in all, bytes from the public, bytes to it;
   * e.g. "2 open · 15 total · 1.2 KiB in · 30 KiB out" */
  return g_strdup_printf (_("%u open · %s total · %s in · %s out"), active, all, in, out);
}

char *
nfltr_format_kind_label (GVariant   *kinds,
                         const char *kind)
{
  const char *id, *label, *description;
  GVariantIter iter;

  if (kinds != NULL && g_variant_is_of_type (kinds, G_VARIANT_TYPE ("a(sss)")))
    {
      g_variant_iter_init (&iter, kinds);
      while (g_variant_iter_next (&iter, "(&s&s&s)", &id, &label, &description))
        if (g_strcmp0 (id, kind) == 0)
          /* The service sends English; our catalog translates the labels it knows. */
          return g_strdup (*label != '\0' ? gettext (label) : id);
    }
  /* A kind the service no longer lists (or not yet): its id is still better than nothing. */
  return g_strdup (kind != NULL && *kind != '\0' ? kind : "?");
}

char *
nfltr_format_target (GVariant   *kinds,
                     const char *kind,
                     const char *target)
{
  g_autofree char *k = nfltr_format_kind_label (kinds, kind);

  /* TRANSLATORS: tunnel kind and the local address it forwards to, e.g. "HTTP → localhost:3000" */
  return g_strdup_printf (_("%s → %s"), k, target && *target ? target : "?");
}

static gboolean
parse_port (const char *s,
            guint      *port)
{
  guint64 value;

  if (s == NULL || *s == '\0' || strlen (s) > 5)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  value = g_ascii_strtoull (s, NULL, 10);
  if (value < 1 || value > 65535)
    return FALSE;
  *port = (guint) value;
  return TRUE;
}

gboolean
nfltr_validate_target (const char  *text,
                       char       **message)
{
  const char *colon;
  guint port;

  *message = NULL;
  if (text == NULL || *text == '\0')
    {
      *message = g_strdup (_("Enter the local port, like 3000, or an address, like localhost:3000."));
      return FALSE;
    }
  /* A pasted URL (http://localhost:8080/) is parsed as the service will parse it. */
  if (strstr (text, "://") != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (nfltr_parse_address (text, NFLTR_ADDRESS_TARGET, 0, TRUE, NULL, NULL, &error))
        return TRUE;
      *message = g_strdup (error->message);
      return FALSE;
    }
  colon = strrchr (text, ':');
  if (colon == NULL)
    {
      if (parse_port (text, &port))
        return TRUE;
      *message = g_strdup (_("A port is a number from 1 to 65535."));
      return FALSE;
    }
  if (colon == text)
    {
      *message = g_strdup (_("Enter a host name before the colon, like localhost:3000."));
      return FALSE;
    }
  if (!parse_port (colon + 1, &port))
    {
      *message = g_strdup (_("After the colon comes a port from 1 to 65535."));
      return FALSE;
    }
  for (const char *p = text; p < colon; p++)
    if (!(g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == '[' || *p == ']' || *p == ':'))
      {
        *message = g_strdup (_("The host name contains characters that are not allowed."));
        return FALSE;
      }
  return TRUE;
}

/* RFC 1035 §2.3.1 label: letters, digits and hyphens, at most 63, no hyphen at either end.
 * The public host is <name>.<relay-domain>, so lower case only. */
gboolean
nfltr_validate_name (const char  *text,
                     char       **message)
{
  gsize len;

  *message = NULL;
  if (text == NULL || *text == '\0')
    return TRUE;
  len = strlen (text);
  if (len > 63)
    {
      *message = g_strdup (_("A name has at most 63 characters."));
      return FALSE;
    }
  for (const char *p = text; *p; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '-'))
      {
        *message = g_strdup (_("Use lower-case letters, digits and hyphens only."));
        return FALSE;
      }
  if (text[0] == '-' || text[len - 1] == '-')
    {
      *message = g_strdup (_("A name cannot start or end with a hyphen."));
      return FALSE;
    }
  return TRUE;
}
