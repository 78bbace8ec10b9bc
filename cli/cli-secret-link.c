/* cli-secret-link.c — --token/--basic-auth and the printed link of the secret-link commands */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-secret-link.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>

void
cli_secret_link_finish (CliTunnelOptions *options, GVariantDict *kind_options, char **token, const char *basic_auth)
{
  if (*token == NULL)
    *token = cli_new_token ();
  g_variant_dict_insert (kind_options, "token", "s", *token);
  if (basic_auth != NULL)
    g_variant_dict_insert (kind_options, "basic-auth", "s", basic_auth);
  options->kind_options = g_variant_ref_sink (g_variant_dict_end (kind_options));
  options->url_suffix = g_strdup_printf ("/?token=%s", *token);
}

int
cli_usage_error (const char *command, const GError *error)
{
  cli_fail (CLI_EXIT_USAGE, "%s", error->message);
  if (error->domain == G_OPTION_ERROR)
    {
      /* TRANSLATORS: %s is the command (serve, tail, …) */
      g_autofree char *hint = g_strdup_printf (_ ("Try “nfltr %s --help”.\n"), command);

      fputs (hint, stderr);
    }
  return CLI_EXIT_USAGE;
}
