/* cmd-list.c — `nfltr list`: every tunnel of the service */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

enum { COL_NAME, COL_KIND, COL_TARGET, COL_URL, COL_MODE, COL_STATE, COL_CONNS, COL_IN, COL_OUT,
       N_COLS };

static const char * const headers[N_COLS] = {
  /* TRANSLATORS: the column headings of nfltr list, upper case as in ps or ls -l. CONNS is
   * the number of open connections, IN and OUT the bytes received and sent. */
  N_ ("NAME"), N_ ("KIND"), N_ ("TARGET"), N_ ("URL"), N_ ("MODE"), N_ ("STATE"), N_ ("CONNS"),
  N_ ("IN"), N_ ("OUT")
};

static char **
table_row (NfltrDbusTunnel *t)
{
  char **row = g_new0 (char *, N_COLS + 1);
  const char *mode = nfltr_dbus_tunnel_get_mode (t);
  const char *url = nfltr_dbus_tunnel_get_public_url (t);

  row[COL_NAME] = g_strdup (nfltr_dbus_tunnel_get_name (t));
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

static void
print_table (GPtrArray *rows)
{
  gsize width[N_COLS];
  const char *titles[N_COLS];

  for (guint c = 0; c < N_COLS; c++)
    {
      titles[c] = _ (headers[c]);
      width[c] = g_utf8_strlen (titles[c], -1);
      for (guint r = 0; r < rows->len; r++)
        width[c] = MAX (width[c], (gsize) g_utf8_strlen (((char **) rows->pdata[r])[c], -1));
    }

  for (guint r = 0; r <= rows->len; r++)
    {
      const char * const *row = r == 0 ? titles : rows->pdata[r - 1];
      GString *line = g_string_new (NULL);

      for (guint c = 0; c < N_COLS; c++)
        {
          gsize pad = width[c] - g_utf8_strlen (row[c], -1);

          g_string_append (line, row[c]);
          if (c + 1 < N_COLS)
            {
              for (gsize i = 0; i < pad + 2; i++)
                g_string_append_c (line, ' ');
            }
        }
      puts (line->str);
      g_string_free (line, TRUE);
    }
}

int
cli_cmd_list (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  g_auto(GStrv) paths = NULL;
  g_autoptr(GPtrArray) tunnels = g_ptr_array_new_with_free_func (g_object_unref);

  if (!cli_parse_json_flag ("list",
                            _ ("Lists every tunnel of the service, in creation order: name, "
                               "kind, target, URL, mode,\nstate, open connections and bytes."),
                            N_ ("Print a JSON array, one object per tunnel"), &argc, &argv, &json))
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
      print_table (rows);
    }
  return CLI_EXIT_OK;
}
