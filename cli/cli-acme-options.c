/* cli-acme-options.c — the tunnel commands' ACME options (issue 11 item 7) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-acme-options.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <unistd.h>

#include "cli-output.h"

void
cli_acme_add_entries (GOptionGroup *group, CliAcmeArgs *args)
{
  const GOptionEntry entries[] = {
    { "acme-domain", 0, 0, G_OPTION_ARG_STRING, &args->domain,
      N_ ("Get a certificate browsers trust for NAME (the tunnel's public host) from an ACME CA; the "
          "agent answers the CA's TLS-ALPN-01 check through the relay and renews it"),
      "NAME" },
    { "acme-directory", 0, 0, G_OPTION_ARG_STRING, &args->directory,
      N_ ("ACME directory URL of the CA (default: Let's Encrypt)"), "URL" },
    { "acme-ca-bundle", 0, 0, G_OPTION_ARG_FILENAME, &args->ca_bundle,
      N_ ("PEM file of CAs to trust for the ACME directory's HTTPS (a test CA)"), "FILE" },
    { "acme-email", 0, 0, G_OPTION_ARG_STRING, &args->email,
      N_ ("Contact address for the ACME account (expiry notices)"), "ADDRESS" },
    { "acme-new-key", 0, 0, G_OPTION_ARG_NONE, &args->new_key,
      N_ ("A new key with every ACME certificate (the public-key pin then changes at each renewal)"),
      NULL },
    G_OPTION_ENTRY_NULL
  };

  g_option_group_add_entries (group, entries);
}

gboolean
cli_acme_apply (CliAcmeArgs *args, GVariant **options, GError **error)
{
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  *options = NULL;
  if (args->domain == NULL)
    {
      if (args->directory != NULL || args->ca_bundle != NULL || args->email != NULL || args->new_key)
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                               _ ("the --acme-* options need --acme-domain NAME"));
          return FALSE;
        }
      return TRUE;
    }
  g_variant_dict_insert (&dict, "acme-domain", "s", args->domain);
  if (args->directory != NULL)
    {
      if (!g_str_has_prefix (args->directory, "https://"))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _ ("--acme-directory: “%s” is not an https:// URL"), args->directory);
          return FALSE;
        }
      g_variant_dict_insert (&dict, "acme-directory", "s", args->directory);
    }
  if (args->ca_bundle != NULL)
    {
      /* The service runs in another directory: an absolute path, checked readable here. */
      g_autoptr (GFile) file = g_file_new_for_commandline_arg (args->ca_bundle);
      g_autofree char *path = g_file_get_path (file);

      if (path == NULL || access (path, R_OK) != 0)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _ ("--acme-ca-bundle: cannot read “%s”"),
                       args->ca_bundle);
          return FALSE;
        }
      g_variant_dict_insert (&dict, "acme-ca-bundle", "s", path);
    }
  if (args->email != NULL)
    g_variant_dict_insert (&dict, "acme-email", "s", args->email);
  if (args->new_key)
    g_variant_dict_insert (&dict, "acme-new-key", "b", TRUE);
  *options = g_variant_ref_sink (g_variant_dict_end (&dict));
  return TRUE;
}

void
cli_acme_args_clear (CliAcmeArgs *args)
{
  g_clear_pointer (&args->domain, g_free);
  g_clear_pointer (&args->directory, g_free);
  g_clear_pointer (&args->ca_bundle, g_free);
  g_clear_pointer (&args->email, g_free);
}

char *
cli_acme_certificate_update (NfltrDbusTunnel *tunnel, gboolean json, char **shown)
{
  const char *fingerprint = nfltr_dbus_tunnel_get_fingerprint (tunnel);
  const char *source = nfltr_dbus_tunnel_get_certificate_source (tunnel);
  const char *status = nfltr_dbus_tunnel_get_acme_status (tunnel);
  const char *acme_error = nfltr_dbus_tunnel_get_acme_error (tunnel);
  guint64 expires = nfltr_dbus_tunnel_get_certificate_expires (tunnel);
  g_autofree char *key = g_strdup_printf ("%s|%s|%s", fingerprint, status, acme_error);
  g_autofree char *old = NULL;
  gboolean new_certificate;

  if (*shown != NULL && g_str_equal (*shown, key))
    return NULL;
  old = g_steal_pointer (shown);
  *shown = g_steal_pointer (&key);
  if (old == NULL || status == NULL || *status == '\0')
    return NULL;  /* the ready line said it all; no ACME, nothing more to say */
  new_certificate = !g_str_has_prefix (old, fingerprint != NULL ? fingerprint : "");
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "certificate");
      cli_json_add_string (b, "fingerprint", fingerprint);
      cli_json_add_string (b, "source", source);
      cli_json_add_int (b, "expires", (gint64) expires);
      cli_json_add_string (b, "acme_status", status);
      cli_json_add_string (b, "acme_error", acme_error);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      return json_to_string (root, FALSE);
    }
  if (new_certificate && g_strcmp0 (source, "acme") == 0)
    {
      g_autoptr (GDateTime) when = g_date_time_new_from_unix_local ((gint64) expires);
      g_autofree char *date = when != NULL ? g_date_time_format (when, "%Y-%m-%d %H:%M:%S %Z") : g_strdup ("?");

      /* TRANSLATORS: a date and time, then the certificate's fingerprint */
      return g_strdup_printf (_ ("Certificate: ACME, expires %s; fingerprint %s"), date, fingerprint);
    }
  if (g_strcmp0 (status, "failed") == 0 && acme_error != NULL && *acme_error != '\0')
    /* TRANSLATORS: the CA's error in words (English) */
    return g_strdup_printf (_ ("ACME failed: %s (the tunnel keeps its current certificate and tries "
                               "again later)"),
                            acme_error);
  return NULL;
}
