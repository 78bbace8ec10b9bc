/* cmd-serve.c — `nfltr serve DIR`: a folder as a file server over the agent's own TLS, until
 * Ctrl-C (the "serve" kind, service/kinds/serve) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-commands.h"
#include "cli-output.h"
#include "cli-secret-link.h"
#include "cli-web-auth.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

int
cli_cmd_serve (int argc, char **argv)
{
  gboolean upload = FALSE;
  g_autofree char *max_upload = NULL;
  g_autofree char *basic_auth = NULL;
  const GOptionEntry entries[] = {
    { "upload", 0, 0, G_OPTION_ARG_NONE, &upload,
      N_ ("Let visitors upload files into the folder (a form on the page, or HTTP PUT)"), NULL },
    { "max-upload", 0, 0, G_OPTION_ARG_STRING, &max_upload,
      N_ ("Largest upload accepted, e.g. 500M or 2G (default 1G)"), "SIZE" },
    CLI_WEB_AUTH_OPTION_ENTRIES (&basic_auth),
    G_OPTION_ENTRY_NULL
  };
  CliTunnelOptions options;
  g_auto (GStrv) positional = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *dir = NULL;
  g_autofree char *token = NULL;
  guint64 max_bytes = 0;

  if (!cli_tunnel_options_parse_full (
        "serve", argc, argv, entries, "DIR",
        _ ("Shares the folder DIR as a file server through the relay until Ctrl-C:\n"
           "a listing that sorts, downloads that resume, folders as .tar. Verified\n"
           "end-to-end: TLS ends on this machine and the relay cannot read it."),
        _ ("Examples:\n"
           "  nfltr serve ~/Public\n"
           "  nfltr serve . --upload --max-upload 2G --basic-auth ann:secret\n"
           "  nfltr serve photos --token     (prints a link with its token)\n"),
        1, 1, &options, &positional, &error) ||
      (max_upload != NULL && !cli_parse_size (max_upload, &max_bytes) &&
       (g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     _ ("--max-upload: “%s” is not a size (e.g. 500M, 2G)"), max_upload),
        TRUE)) ||
      !cli_web_auth_options (basic_auth, &dict, &token, &error))
    {
      cli_tunnel_options_clear (&options);
      return cli_usage_error ("serve", error);
    }

  dir = g_canonicalize_filename (positional[0], NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      cli_tunnel_options_clear (&options);
      return cli_fail (CLI_EXIT_USAGE, _ ("“%s” is not a folder"), positional[0]);
    }
  options.target = g_steal_pointer (&dir);
  g_variant_dict_insert (&dict, "upload", "b", upload);
  if (max_bytes > 0)
    g_variant_dict_insert (&dict, "max-upload", "t", max_bytes);
  /* The kind is not told the tunnel's mode: its pages must not say "verified" then. */
  if (!options.e2ee)
    g_variant_dict_insert (&dict, "inspectable", "b", TRUE);
  options.kind_options = g_variant_ref_sink (g_variant_dict_end (&dict));
  cli_web_auth_announce (token);
  return cli_tunnel_run (&options, NULL);
}
