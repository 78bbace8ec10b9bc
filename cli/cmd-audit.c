/* cmd-audit.c — `nfltr audit verify LOG [--checkpoint FILE]` (docs/cli.md, docs/protocol.md
 * §13.6): checks a saved a2a conversation log offline — that it chains, and that it agrees
 * with the peer's signed checkpoints — and names the first bad frame. No service needed. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-commands.h"
#include "cli-output.h"
#include "nfltr-a2a-audit-log.h"

#include <glib/gi18n.h>
#include <stdio.h>

static int
audit_verify (int argc, char **argv)
{
  g_autofree char *checkpoint = NULL;
  GOptionEntry entries[] = {
    { "checkpoint", 0, 0, G_OPTION_ARG_FILENAME, &checkpoint,
      N_ ("The peer's signed checkpoints (…/a2a/logs/AGENT.checkpoints of the other side's service)"),
      N_ ("FILE") },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (_ ("LOG"));
  g_autoptr (GError) error = NULL;
  g_autofree char *log = NULL;
  g_autofree char *cps = NULL;
  gsize log_len = 0, cps_len = 0;
  g_autoptr (GString) report = g_string_new (NULL);

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (
    context, _ ("Checks a saved a2a conversation log (…/nfltr/a2a/logs/AGENT.log) and, "
                "with --checkpoint, that it agrees with what the peer signed; names the "
                "first frame that was modified, dropped, injected, reordered or cut off."));
  if (!cli_parse_command_line (context, "audit verify", &argc, &argv, 1, 1, _ ("the log to check")))
    return CLI_EXIT_USAGE;
  if (!g_file_get_contents (argv[1], &log, &log_len, &error) ||
      (checkpoint != NULL && !g_file_get_contents (checkpoint, &cps, &cps_len, &error)))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  if (!nfltr_a2a_audit_verify (log, log_len, cps, cps_len, report, &error))
    {
      g_autofree char *line = g_strdup_printf (_ ("FAILED: %s\n"), error->message);

      fputs (line, stdout);
      fflush (stdout);
      return CLI_EXIT_FAILURE;
    }
  fputs (report->str, stdout);
  fflush (stdout);
  return CLI_EXIT_OK;
}

int
cli_cmd_audit (int argc, char **argv)
{
  if (argc >= 2 && g_str_equal (argv[1], "verify"))
    return audit_verify (argc - 1, argv + 1);
  if (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
    {
      cli_print_flushed (_ ("Usage: nfltr audit verify LOG [--checkpoint FILE]"));
      return CLI_EXIT_OK;
    }
  return cli_fail (CLI_EXIT_USAGE, "%s", _ ("audit needs verify (see nfltr audit --help)"));
}
