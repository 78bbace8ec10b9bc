/* cmd-list.c — `nfltr list`: every tunnel of the service */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum {
  COL_NAME,
  COL_SOURCE,
  COL_STATE,
  COL_URL,
  COL_KIND,
  COL_TARGET,
  COL_MODE,
  COL_CONNS,
  COL_IN,
  COL_OUT,
  N_COLS
};

static const char * const headers[N_COLS] = {
  /* TRANSLATORS: the column headings of nfltr list, upper case as in ps or ls -l. SOURCE says
   * whether the service keeps the tunnel (saved) or a running nfltr command in a terminal
   * does; CONNS is the number of open connections, IN and OUT the bytes received and sent. */
  N_ ("NAME"),   N_ ("SOURCE"), N_ ("STATE"), N_ ("URL"), N_ ("KIND"),
  N_ ("TARGET"), N_ ("MODE"),   N_ ("CONNS"), N_ ("IN"),  N_ ("OUT")
};

/* When the table is wider than the terminal, columns go in this order (the least needed
 * first) until it fits; NAME, SOURCE, STATE and URL always stay. */
static const guint drop_order[] = { COL_OUT, COL_IN, COL_KIND, COL_CONNS, COL_TARGET, COL_MODE };

static char **
table_row (NfltrDbusTunnel *t)
{
  char **row = g_new0 (char *, N_COLS + 1);
  const char *mode = nfltr_dbus_tunnel_get_mode (t);
  const char *url = nfltr_dbus_tunnel_get_public_url (t);

  row[COL_NAME] = g_strdup (nfltr_dbus_tunnel_get_name (t));
  /* TRANSLATORS: nfltr list's SOURCE column: kept by the service, or by a command running in a terminal */
  row[COL_SOURCE] = g_strdup (nfltr_dbus_tunnel_get_transient (t) ? _ ("terminal") : _ ("saved"));
  row[COL_KIND] = g_strdup (nfltr_dbus_tunnel_get_kind (t));
  row[COL_TARGET] = g_strdup (nfltr_dbus_tunnel_get_target (t));
  row[COL_URL] = g_strdup (url && *url ? url : "-");
  /* Inspectable is shouted wherever it appears. */
  row[COL_MODE] = g_strdup (g_strcmp0 (mode, "inspectable") == 0 ? "INSPECTABLE" : mode);
  row[COL_STATE] = g_strdup (nfltr_dbus_tunnel_get_state (t));
  row[COL_CONNS] = g_strdup_printf ("%u", nfltr_dbus_tunnel_get_active_connections (t));
  row[COL_IN] = cli_format_bytes (nfltr_dbus_tunnel_get_bytes_in (t));
  row[COL_OUT] = cli_format_bytes (nfltr_dbus_tunnel_get_bytes_out (t));
  for (guint i = 0; i < N_COLS; i++)
    if (row[i] == NULL)
      row[i] = g_strdup ("");
  return row;
}

/* The terminal's width, $COLUMNS when stdout is not a terminal, else 0: no limit. */
static gsize
output_width (void)
{
  struct winsize ws;
  const char *columns = g_getenv ("COLUMNS");

  if (isatty (STDOUT_FILENO) && ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  if (columns != NULL && g_ascii_strtoull (columns, NULL, 10) > 0)
    return (gsize) g_ascii_strtoull (columns, NULL, 10);
  return 0;
}

static gsize
table_width (const gsize *width, const gboolean *shown)
{
  gsize total = 0;
  guint n = 0;

  for (guint c = 0; c < N_COLS; c++)
    if (shown[c])
      {
        total += width[c];
        n++;
      }
  return total + (n > 0 ? 2 * (n - 1) : 0);
}

static gboolean
any_inspectable (GPtrArray *rows)
{
  for (guint r = 0; r < rows->len; r++)
    if (g_str_equal (((char **) rows->pdata[r])[COL_MODE], "INSPECTABLE"))
      return TRUE;
  return FALSE;
}

static void
print_table (GPtrArray *rows, gboolean wide)
{
  gsize width[N_COLS];
  gboolean shown[N_COLS];
  const char *titles[N_COLS];
  gsize limit = wide ? 0 : output_width ();
  gboolean dropped = FALSE;
  guint last = 0;

  for (guint c = 0; c < N_COLS; c++)
    {
      titles[c] = _ (headers[c]);
      width[c] = g_utf8_strlen (titles[c], -1);
      shown[c] = TRUE;
      for (guint r = 0; r < rows->len; r++)
        width[c] = MAX (width[c], (gsize) g_utf8_strlen (((char **) rows->pdata[r])[c], -1));
    }
  for (guint i = 0; limit > 0 && i < G_N_ELEMENTS (drop_order) && table_width (width, shown) > limit; i++)
    {
      /* an inspectable tunnel's mode is never hidden */
      if (drop_order[i] == COL_MODE && any_inspectable (rows))
        continue;
      shown[drop_order[i]] = FALSE;
      dropped = TRUE;
    }
  for (guint c = 0; c < N_COLS; c++)
    if (shown[c])
      last = c;

  for (guint r = 0; r <= rows->len; r++)
    {
      const char * const *row = r == 0 ? titles : rows->pdata[r - 1];
      GString *line = g_string_new (NULL);

      for (guint c = 0; c < N_COLS; c++)
        {
          if (!shown[c])
            continue;
          g_string_append (line, row[c]);
          if (c != last)
            {
              gsize pad = width[c] - g_utf8_strlen (row[c], -1);

              for (gsize i = 0; i < pad + 2; i++)
                g_string_append_c (line, ' ');
            }
        }
      puts (line->str);
      g_string_free (line, TRUE);
    }
  if (dropped && isatty (STDOUT_FILENO))
    fputs (_ ("(“nfltr list --wide” shows every column)\n"), stdout);
}

/* Issue 11 item 7: one line per ACME tunnel under the table — "certificate: ACME, expires …",
 * or what the CA said when it failed. */
static void
print_acme (GPtrArray *tunnels)
{
  for (guint i = 0; i < tunnels->len; i++)
    {
      NfltrDbusTunnel *t = tunnels->pdata[i];
      const char *domain = nfltr_dbus_tunnel_get_acme_domain (t);
      const char *status = nfltr_dbus_tunnel_get_acme_status (t);
      const char *acme_error = nfltr_dbus_tunnel_get_acme_error (t);
      guint64 expires = nfltr_dbus_tunnel_get_certificate_expires (t);
      g_autoptr(GDateTime) when = expires > 0 ? g_date_time_new_from_unix_local ((gint64) expires) : NULL;
      g_autofree char *date = when != NULL ? g_date_time_format (when, "%Y-%m-%d %H:%M:%S %Z") : g_strdup ("?");
      g_autofree char *line = NULL;

      if (domain == NULL || *domain == '\0')
        continue;
      if (g_strcmp0 (nfltr_dbus_tunnel_get_certificate_source (t), "acme") == 0)
        /* TRANSLATORS: the tunnel's name, the certificate's host, a date and time */
        line = g_strdup_printf (_ ("%s: certificate: ACME for %s, expires %s"), nfltr_dbus_tunnel_get_name (t),
                                domain, date);
      else
        /* TRANSLATORS: the tunnel's name, the host, then pending|issuing|failed */
        line = g_strdup_printf (_ ("%s: certificate: ACME for %s: %s (its own certificate meanwhile)"),
                                nfltr_dbus_tunnel_get_name (t), domain, status);
      fputs (line, stdout);
      fputc ('\n', stdout);
      if (acme_error != NULL && *acme_error != '\0')
        {
          g_free (line);
          /* TRANSLATORS: the tunnel's name, then the CA's error in words */
          line = g_strdup_printf (_ ("%s: last ACME attempt failed: %s"), nfltr_dbus_tunnel_get_name (t), acme_error);
          fputs (line, stdout);
          fputc ('\n', stdout);
        }
    }
}

int
cli_cmd_list (int argc, char **argv)
{
  gboolean json = FALSE;
  gboolean wide = FALSE;
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  g_auto(GStrv) paths = NULL;
  g_autoptr(GPtrArray) tunnels = g_ptr_array_new_with_free_func (g_object_unref);

  const GOptionEntry entries[] = {
    { "wide", 'w', 0, G_OPTION_ARG_NONE, &wide, N_ ("Show every column, however wide"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print a JSON array, one object per tunnel"), NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);

  g_option_context_set_summary (
    context, _ ("Lists every tunnel of the service, in creation order: name, whether it is saved\n"
                "or runs in a terminal, state, URL, kind, target, mode, open connections and\n"
                "bytes. Columns that do not fit the terminal are left out (--wide shows them)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_command_line (context, "list", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;

  client = cli_client_connect (&error);
  if (client == NULL ||
      !nfltr_dbus_manager_call_list_tunnels_sync (cli_client_get_manager (client), &paths, NULL,
                                                  &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }

  for (guint i = 0; paths[i] != NULL; i++)
    {
      NfltrDbusTunnel *t = cli_client_get_tunnel (client, paths[i], &error);

      if (t == NULL)
        {
          cli_print_error (error);
          return CLI_EXIT_FAILURE;
        }
      /* Removed between ListTunnels and now: no properties came back. */
      if (nfltr_dbus_tunnel_get_id (t) == NULL)
        {
          g_object_unref (t);
          continue;
        }
      g_ptr_array_add (tunnels, t);
    }

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_array (b);
      for (guint i = 0; i < tunnels->len; i++)
        cli_json_add_tunnel (b, tunnels->pdata[i]);
      json_builder_end_array (b);
      cli_json_print_line (b);
    }
  else if (tunnels->len == 0)
    /* TRANSLATORS: “nfltr http PORT” is a command to type; keep the placeholder PORT. */
    fputs (_ ("No tunnels. Start one with “nfltr http PORT”.\n"), stdout);
  else
    {
      g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

      for (guint i = 0; i < tunnels->len; i++)
        g_ptr_array_add (rows, table_row (tunnels->pdata[i]));
      print_table (rows, wide);
      print_acme (tunnels);  /* issue 11 item 7 */
    }
  return CLI_EXIT_OK;
}
