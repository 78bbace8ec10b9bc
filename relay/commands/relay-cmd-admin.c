/* relay-cmd-admin.c — `nfltr-relay admin set-password`: the dashboard's operator password */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-commands.h"
#include "relay-types.h"
#include "dashboard/relay-dashboard.h"
#include "store/relay-store.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Shorter than this is refused: argon2id slows guessing, it does not make "1234" safe. */
#define PASSWORD_MIN 12
#define PASSWORD_MAX 1024

/* One line from stdin, echo off when it is a terminal. NULL at end of input. */
static char *
read_password (const char *prompt)
{
  struct termios saved, quiet;
  gboolean restore = FALSE;
  char buf[PASSWORD_MAX + 2];
  char *line = NULL;

  if (isatty (STDIN_FILENO))
    {
      if (tcgetattr (STDIN_FILENO, &saved) == 0)
        {
          quiet = saved;
          quiet.c_lflag &= ~(tcflag_t) ECHO;
          restore = tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
      fputs (prompt, stderr);
      fflush (stderr);
    }
  if (fgets (buf, sizeof buf, stdin) != NULL)
    {
      buf[strcspn (buf, "\r\n")] = '\0';
      line = g_strdup (buf);
    }
  explicit_bzero (buf, sizeof buf);
  if (restore)
    {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
      fputc ('\n', stderr);
    }
  return line;
}

int
relay_cmd_admin (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  const GOptionEntry entries[] = { { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
                                     "relay.db location (default $XDG_DATA_HOME/nfltr-relay)", "DIR" },
                                   { NULL } };
  const char *usage = "set-password - the dashboard's operator password (read from standard input)";
  g_autoptr (GError) error = NULL;
  g_autoptr (RelayStore) store = NULL;
  g_autofree char *password = NULL;
  g_autofree char *again = NULL;
  g_autofree char *hash = NULL;

  if (!relay_cmd_parse_options ("admin", usage, entries, &argc, &argv))
    return 2;
  if (argc != 2 || strcmp (argv[1], "set-password") != 0)
    {
      fprintf (stderr, "Usage: nfltr-relay admin set-password  [--data-dir DIR]   (the password on "
                       "standard input, or typed twice at a terminal)\n");
      return 2;
    }
  password = read_password ("New dashboard password: ");
  if (password != NULL && isatty (STDIN_FILENO))
    {
      again = read_password ("Again: ");
      if (again == NULL || strcmp (again, password) != 0)
        {
          fprintf (stderr, "nfltr-relay admin: the two passwords differ; nothing changed\n");
          return 1;
        }
    }
  if (password == NULL || strlen (password) < PASSWORD_MIN)
    {
      fprintf (stderr, "nfltr-relay admin: the password must have at least %d characters\n", PASSWORD_MIN);
      return 2;
    }
  hash = relay_dashboard_hash_password (password, &error);
  explicit_bzero (password, strlen (password));
  if (hash == NULL)
    {
      fprintf (stderr, "nfltr-relay admin: %s\n", error->message);
      return 1;
    }
  relay_cmd_default_data_dir (&data_dir);
  store = relay_store_open (data_dir, &error);
  if (store == NULL || !relay_store_operator_set_password (store, hash, &error))
    {
      fprintf (stderr, "nfltr-relay admin: %s\n", error->message);
      return 1;
    }
  fprintf (stderr, "nfltr-relay: dashboard password set (argon2id); log in at https://<relay>/dashboard\n");
  return 0;
}
