/* cmd-command.c — `nfltr command -- CMD [ARGS…]`: a command as a service, one run per request,
 * until Ctrl-C (the "command" kind, service/kinds/command, which documents the answers) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-commands.h"
#include "cli-output.h"
#include "cli-secret-link.h"
#include "cli-web-auth.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

int
cli_cmd_command (int argc, char **argv)
{
  int concurrency = 4, timeout_s = 30;
  g_autofree char *max_output = NULL;
  g_autofree char *max_input = NULL;
  g_autofree char *query_arg = NULL;
  g_autofree char *basic_auth = NULL;
  const GOptionEntry entries[] = {
    { "concurrency", 0, 0, G_OPTION_ARG_INT, &concurrency,
      N_ ("Runs at once; more requests are answered 503 (default 4)"), "N" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s,
      N_ ("Seconds a run may take before it is stopped and answered 504 (default 30)"), "S" },
    { "max-output", 0, 0, G_OPTION_ARG_STRING, &max_output,
      N_ ("Most output a run may give; beyond, it is stopped and answered 502 (default 10M)"), "SIZE" },
    { "max-input", 0, 0, G_OPTION_ARG_STRING, &max_input,
      N_ ("Largest request body accepted (default 10M)"), "SIZE" },
    { "arg-from-query", 0, 0, G_OPTION_ARG_STRING, &query_arg,
      N_ ("Append the query parameter NAME as one more argument (never split, never an option)"), "NAME" },
    CLI_WEB_AUTH_OPTION_ENTRIES (&basic_auth),
    G_OPTION_ENTRY_NULL
  };
  CliTunnelOptions options;
  g_auto (GStrv) positional = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *token = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  guint64 out_bytes = 0, in_bytes = 0;
  g_autoptr (GString) target = g_string_new (NULL);

  if (!cli_tunnel_options_parse_full (
        "command", argc, argv, entries, "-- CMD [ARGS…]",
        _ ("Runs CMD for each request, with the request body on its standard input, and\n"
           "answers with its standard output (its exit status and standard error in the\n"
           "X-Exit-Status and X-Stderr headers; exit 0 is 200, any other 500). No shell is\n"
           "involved: request data never becomes an argument unless --arg-from-query allows\n"
           "one parameter, as exactly one argument."),
        _ ("Examples:\n"
           "  nfltr command -- wc -l\n"
           "  nfltr command --arg-from-query q -- grep -i\n"
           "  nfltr command --token -- date     (prints a link with its token)\n"
           "  curl --data-binary @file.txt https://NAME.<relay domain>/\n"),
        1, -1, &options, &positional, &error) ||
      (max_output != NULL && !cli_parse_size (max_output, &out_bytes) &&
       (g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     _ ("--max-output: “%s” is not a size (e.g. 500K, 10M)"), max_output),
        TRUE)) ||
      (max_input != NULL && !cli_parse_size (max_input, &in_bytes) &&
       (g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     _ ("--max-input: “%s” is not a size (e.g. 500K, 10M)"), max_input),
        TRUE)) ||
      ((concurrency < 1 || timeout_s < 1) &&
       (g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                             _ ("--concurrency and --timeout must be 1 or more")),
        TRUE)) ||
      !cli_web_auth_options (basic_auth, &dict, &token, &error))
    {
      cli_tunnel_options_clear (&options);
      return cli_usage_error ("command", error);
    }

  /* GOption leaves the "--" that ends the options when nothing before it was positional. */
  if (positional[0] != NULL && g_str_equal (positional[0], "--"))
    {
      char **rest = g_strdupv (positional + 1);

      g_strfreev (positional);
      positional = rest;
    }
  if (positional[0] == NULL)
    {
      cli_tunnel_options_clear (&options);
      cli_fail (CLI_EXIT_USAGE, "%s", _ ("missing the command to run (“nfltr command -- CMD [ARGS…]”)"));
      return CLI_EXIT_USAGE;
    }
  for (guint i = 0; positional[i] != NULL; i++)
    {
      g_autofree char *quoted = g_shell_quote (positional[i]);

      g_string_append_printf (target, "%s%s", i ? " " : "", quoted);
    }
  options.target = g_strdup (target->str);
  g_variant_dict_insert (&dict, "argv", "^as", positional);
  g_variant_dict_insert (&dict, "cwd", "s", cwd);
  g_variant_dict_insert (&dict, "concurrency", "u", (guint32) concurrency);
  g_variant_dict_insert (&dict, "timeout", "u", (guint32) timeout_s);
  if (out_bytes > 0)
    g_variant_dict_insert (&dict, "max-output", "t", out_bytes);
  if (in_bytes > 0)
    g_variant_dict_insert (&dict, "max-input", "t", in_bytes);
  if (query_arg != NULL)
    g_variant_dict_insert (&dict, "arg-from-query", "s", query_arg);
  /* The kind is not told the tunnel's mode: its pages must not say "verified" then. */
  if (!options.e2ee)
    g_variant_dict_insert (&dict, "inspectable", "b", TRUE);
  options.kind_options = g_variant_ref_sink (g_variant_dict_end (&dict));
  cli_web_auth_announce (token);
  return cli_tunnel_run (&options, NULL);
}
