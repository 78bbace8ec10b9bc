/* cli-acme-options.c — the tunnel commands' ACME options (issue 11 item 7) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-acme-options.h"

#include <glib/gi18n.h>
#include <unistd.h>

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
