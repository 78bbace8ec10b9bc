/* cmd-terminal.c — `nfltr terminal [-- CMD…]` and `nfltr ai [-- CMD…]`: a program on a PTY in a
 * browser terminal behind a secret link (service/kinds/terminal/nfltr-term-app.h). The
 * command is looked up here, in the user's PATH, so a missing one is said at once and not in
 * a dead page. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-commands.h"
#include "cli-output.h"
#include "cli-secret-link.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* A link's secret: 128 bits from the kernel's CSPRNG, base64url (22 characters). */
char *
cli_new_token (void)
{
  guint8 bytes[16];
  char *text;

  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    g_error ("getrandom: %s", g_strerror (errno));
  text = g_base64_encode (bytes, sizeof bytes);
  g_strdelimit (text, "+", '-');
  g_strdelimit (text, "/", '_');
  *strchr (text, '=') = '\0';
  return text;
}

/* argv split at the first "--": what comes after it is the command, never an option. */
void
cli_split_command (int *argc, char **argv, char ***command)
{
  *command = NULL;
  for (int i = 1; i < *argc; i++)
    if (g_str_equal (argv[i], "--"))
      {
        *command = g_strdupv (argv + i + 1);
        argv[i] = NULL;
        *argc = i;
        return;
      }
}

static int
run_terminal (const char *kind, int argc, char **argv)
{
  g_autofree char *token = NULL;
  g_autofree char *basic_auth = NULL;
  g_autofree char *cwd = NULL;
  gboolean viewer = FALSE;
  gboolean ai = g_str_equal (kind, "ai");
  const GOptionEntry entries[] = {
    CLI_SECRET_LINK_OPTION_ENTRIES (&token, &basic_auth),
    { "viewer", 0, 0, G_OPTION_ARG_NONE, &viewer,
      N_ ("Also print a read-only link for people who may watch but not type"), NULL },
    { "cwd", 0, 0, G_OPTION_ARG_FILENAME, &cwd,
      N_ ("Where the command starts (default: the current directory)"), "DIR" },
    G_OPTION_ENTRY_NULL
  };
  g_auto (GStrv) command = NULL;
  g_autofree char *path = NULL;
  g_autofree char *viewer_token = NULL;
  g_auto (GVariantDict) kind_options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GError) error = NULL;
  CliTunnelOptions options;
  gboolean parsed;

  cli_split_command (&argc, argv, &command);
  if (ai)
    parsed = cli_tunnel_options_parse_full (
      kind, argc, argv, entries, "[-- COMMAND [ARGUMENTS…]]",
      _ ("Runs an AI command-line tool (claude unless you name another) in a browser terminal\n"
         "behind a secret link, until Ctrl-C. The session survives page reloads; its\n"
         "transcript can be downloaded from the page."),
      /* TRANSLATORS: translate “Examples:” only; the commands are typed as they are. */
      _ ("Examples:\n"
         "  nfltr ai\n"
         "  nfltr ai --viewer -- claude --model sonnet\n"),
      0, 0, &options, NULL, &error);
  else
    parsed = cli_tunnel_options_parse_full (
      kind, argc, argv, entries, "[-- COMMAND [ARGUMENTS…]]",
      _ ("Opens your shell (or COMMAND) in a browser terminal behind a secret link, until\n"
         "Ctrl-C. The session survives page reloads and dropped networks."),
      _ ("Examples:\n"
         "  nfltr terminal\n"
         "  nfltr terminal --viewer -- htop\n"),
      0, 0, &options, NULL, &error);
  if (!parsed)
    {
      cli_tunnel_options_clear (&options);
      return cli_usage_error (kind, error);
    }

  if (command == NULL || command[0] == NULL)
    {
      const char *shell = g_getenv ("SHELL");
      char *def[] = { (char *) (ai ? "claude" : (shell != NULL && *shell != '\0' ? shell : "/bin/sh")),
                      NULL };

      g_strfreev (command);
      command = g_strdupv (def);
    }
  path = g_find_program_in_path (command[0]);
  if (path == NULL)
    {
      cli_tunnel_options_clear (&options);
      if (ai && command[1] == NULL)
        /* TRANSLATORS: %s is the command (claude) */
        return cli_fail (CLI_EXIT_FAILURE,
                         _ ("“%s” is not installed (not found in PATH). Install it, or name the "
                            "AI tool to run: nfltr ai -- COMMAND"), command[0]);
      /* TRANSLATORS: %s is the command the user named */
      return cli_fail (CLI_EXIT_FAILURE, _ ("“%s” is not installed (not found in PATH)"), command[0]);
    }
  /* The service may have another PATH: it is given the program the user's PATH found. */
  g_free (command[0]);
  command[0] = g_steal_pointer (&path);
  if (cwd == NULL)
    cwd = g_get_current_dir ();
  else if (!g_path_is_absolute (cwd))
    {
      g_autofree char *here = g_get_current_dir ();
      char *absolute = g_build_filename (here, cwd, NULL);

      g_free (cwd);
      cwd = absolute;
    }
  if (viewer)
    viewer_token = cli_new_token ();

  g_variant_dict_insert (&kind_options, "argv", "^as", command);
  g_variant_dict_insert (&kind_options, "cwd", "s", cwd);
  if (viewer_token != NULL)
    {
      g_variant_dict_insert (&kind_options, "viewer-token", "s", viewer_token);
      options.viewer_suffix = g_strdup_printf ("/?token=%s", viewer_token);
    }
  options.target = g_strjoinv (" ", command);
  cli_secret_link_finish (&options, &kind_options, &token, basic_auth);
  return cli_tunnel_run (&options, NULL);
}

int
cli_cmd_terminal (int argc, char **argv)
{
  return run_terminal ("terminal", argc, argv);
}

int
cli_cmd_ai (int argc, char **argv)
{
  return run_terminal ("ai", argc, argv);
}
