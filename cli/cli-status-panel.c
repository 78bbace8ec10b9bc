/* cli-status-panel.c — the live status panel (see the header) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-status-panel.h"

#include "cli-output.h"
#include "nfltr-resolve.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define REDRAW_INTERVAL_MS (1000 / CLI_STATUS_PANEL_HZ)
/* Below this many columns the labels are dropped. */
#define NARROW_COLUMNS 60

struct _CliStatusPanel {
  NfltrDbusTunnel *tunnel;
  NfltrDbusManager *manager;
  NfltrDbusInspector *inspector;
  gboolean color;
  guint columns;
  guint drawn;          /* panel lines on screen; the cursor ends the last one */
  gint64 online_since;  /* wall clock, 0 while not online */
  gint64 last_draw;
  guint redraw_id;
  guint tick_id;
  guint winch_id;
  gulong exchange_id;
};

static guint
terminal_columns (void)
{
  struct winsize ws;

  if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 80;
}

char *
cli_status_panel_fit (const char *text, guint width)
{
  glong len = g_utf8_strlen (text, -1);

  if (width == 0)
    return g_strdup ("");
  if (len <= (glong) width)
    return g_strdup (text);
  {
    g_autofree char *head = g_utf8_substring (text, 0, width - 1);

    return g_strconcat (head, "…", NULL);
  }
}

char *
cli_status_panel_format_exchange (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;
  GString *line;

  if (!json_parser_load_from_data (parser, json, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  o = json_node_get_object (json_parser_get_root (parser));
  line = g_string_new (NULL);
  g_string_append_printf (line, "%s %s", json_object_get_string_member_with_default (o, "method", "?"),
                          json_object_get_string_member_with_default (o, "path", "?"));
  if (json_object_get_int_member_with_default (o, "status", 0) > 0)
    g_string_append_printf (line, " %" G_GINT64_FORMAT, json_object_get_int_member_with_default (o, "status", 0));
  else
    g_string_append_printf (line, " — %s", json_object_get_string_member_with_default (o, "error", "no response"));
  g_string_append_printf (line, " %.0f ms", json_object_get_double_member_with_default (o, "duration_ms", 0));
  if (json_object_has_member (o, "replay_of"))
    g_string_append (line, _ (" (replay)"));
  return g_string_free (line, FALSE);
}

static const char *
state_colour (const char *state)
{
  if (g_strcmp0 (state, "online") == 0)
    return "\033[32m";
  if (g_strcmp0 (state, "failed") == 0)
    return "\033[31m";
  return "\033[33m";
}

static char *
format_duration (gint64 seconds)
{
  if (seconds < 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT " s", seconds);
  if (seconds < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT " min %" G_GINT64_FORMAT " s", seconds / 60, seconds % 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT " h %" G_GINT64_FORMAT " min", seconds / 3600, (seconds / 60) % 60);
}

/* The panel's lines, without colour codes in what is measured: colour wraps whole lines. */
static GPtrArray *
panel_lines (CliStatusPanel *self, GPtrArray *colours)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  NfltrDbusTunnel *t = self->tunnel;
  const char *state = nfltr_dbus_tunnel_get_state (t);
  const char *error = nfltr_dbus_tunnel_get_last_error (t);
  gboolean narrow = self->columns < NARROW_COLUMNS;
  const char *fingerprint = nfltr_dbus_tunnel_get_fingerprint (t);
  g_autofree char *stats = cli_format_stats (nfltr_dbus_tunnel_get_active_connections (t),
                                             nfltr_dbus_tunnel_get_total_connections (t),
                                             nfltr_dbus_tunnel_get_bytes_in (t),
                                             nfltr_dbus_tunnel_get_bytes_out (t));
  const char *inspect_url = self->inspector != NULL ? nfltr_dbus_inspector_get_url (self->inspector) : NULL;

  if (g_strcmp0 (state, "online") == 0)
    {
      if (self->online_since == 0)
        self->online_since = g_get_real_time ();
    }
  else
    self->online_since = 0;

  /* TRANSLATORS: the status panel's lines; labels padded like nfltr http's other lines. */
  if (error != NULL && *error != '\0' && g_strcmp0 (state, "online") != 0)
    g_ptr_array_add (lines, g_strdup_printf (narrow ? "%s — %s" : _ ("Session:     %s — %s"), state, error));
  else
    g_ptr_array_add (lines, g_strdup_printf (narrow ? "%s" : _ ("Session:     %s"), state));
  g_ptr_array_add (colours, (gpointer) state_colour (state));

  if (self->manager != NULL)
    {
      const char *relay = nfltr_dbus_manager_get_relay_address (self->manager);
      guint latency = nfltr_dbus_manager_get_relay_latency (self->manager);
      g_autofree char *lat = latency > 0 ? g_strdup_printf (_ ("%u ms"), latency) : g_strdup ("—");

      g_ptr_array_add (lines, g_strdup_printf (narrow ? "%s (%s)" : _ ("Relay:       %s (latency %s)"),
                                               relay != NULL ? relay : "", lat));
      g_ptr_array_add (colours, NULL);
    }
  if (self->online_since != 0)
    {
      g_autoptr(GDateTime) since = g_date_time_new_from_unix_local (self->online_since / G_USEC_PER_SEC);
      g_autofree char *clock = g_date_time_format (since, "%H:%M:%S");
      g_autofree char *ago = format_duration ((g_get_real_time () - self->online_since) / G_USEC_PER_SEC);

      g_ptr_array_add (lines, g_strdup_printf (narrow ? "%s (%s)" : _ ("Online since %s (%s)"), clock, ago));
      g_ptr_array_add (colours, NULL);
    }
  g_ptr_array_add (lines, g_strdup_printf (narrow ? "%s" : _ ("URL:         %s → %s"),
                                           nfltr_dbus_tunnel_get_public_url (t), nfltr_dbus_tunnel_get_target (t)));
  g_ptr_array_add (colours, NULL);
  g_ptr_array_add (lines, g_strdup_printf (narrow ? "%s %s" : _ ("Mode:        %s, %s"),
                                           cli_mode_description (nfltr_dbus_tunnel_get_mode (t)),
                                           fingerprint != NULL ? fingerprint : ""));
  g_ptr_array_add (colours, g_strcmp0 (nfltr_dbus_tunnel_get_mode (t), "inspectable") == 0 ? "\033[1;31m" : NULL);
  g_ptr_array_add (lines, g_strdup (stats));
  g_ptr_array_add (colours, NULL);
  if (inspect_url != NULL && *inspect_url != '\0')
    {
      g_ptr_array_add (lines, g_strdup_printf (narrow ? "%s" : _ ("Inspector:   %s"), inspect_url));
      g_ptr_array_add (colours, NULL);
    }
  return lines;
}

static void
erase (CliStatusPanel *self)
{
  if (self->drawn == 0)
    return;
  fputs ("\r", stdout);
  if (self->drawn > 1)
    printf ("\033[%uA", self->drawn - 1);
  fputs ("\033[J", stdout);
  self->drawn = 0;
}

static void
draw (CliStatusPanel *self)
{
  g_autoptr(GPtrArray) colours = g_ptr_array_new ();
  g_autoptr(GPtrArray) lines = panel_lines (self, colours);

  erase (self);
  for (guint i = 0; i < lines->len; i++)
    {
      g_autofree char *fitted = cli_status_panel_fit (g_ptr_array_index (lines, i), self->columns - 1);
      const char *colour = self->color ? g_ptr_array_index (colours, i) : NULL;

      if (i > 0)
        fputc ('\n', stdout);
      if (colour != NULL)
        fputs (colour, stdout);
      fputs (fitted, stdout);
      if (colour != NULL)
        fputs ("\033[0m", stdout);
    }
  self->drawn = lines->len;
  self->last_draw = g_get_monotonic_time ();
  fflush (stdout);
}

static gboolean
redraw_cb (gpointer user_data)
{
  CliStatusPanel *self = user_data;

  self->redraw_id = 0;
  draw (self);
  return G_SOURCE_REMOVE;
}

void
cli_status_panel_changed (CliStatusPanel *self)
{
  gint64 since = (g_get_monotonic_time () - self->last_draw) / 1000;

  if (self->redraw_id != 0)
    return;
  if (since >= REDRAW_INTERVAL_MS)
    draw (self);
  else
    self->redraw_id = g_timeout_add (REDRAW_INTERVAL_MS - since, redraw_cb, self);
}

void
cli_status_panel_print_line (CliStatusPanel *self, const char *line)
{
  erase (self);
  fputs (line, stdout);
  fputc ('\n', stdout);
  draw (self);
}

static gboolean
tick_cb (gpointer user_data)
{
  cli_status_panel_changed (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
winch_cb (gpointer user_data)
{
  CliStatusPanel *self = user_data;

  self->columns = terminal_columns ();
  /* The terminal may have rewrapped what was drawn: clear from the panel's top down. */
  draw (self);
  return G_SOURCE_CONTINUE;
}

static void
exchange_cb (NfltrDbusInspector *inspector, const char *json, CliStatusPanel *self)
{
  g_autofree char *line = cli_status_panel_format_exchange (json);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *clock = g_date_time_format (now, "%H:%M:%S");
  g_autofree char *full = NULL;

  if (line == NULL)
    return;
  full = g_strdup_printf ("%s  %s", clock, line);
  cli_status_panel_print_line (self, full);
}

CliStatusPanel *
cli_status_panel_new (NfltrDbusTunnel *tunnel, NfltrDbusManager *manager, NfltrDbusInspector *inspector,
                      gboolean color)
{
  CliStatusPanel *self = g_new0 (CliStatusPanel, 1);

  self->tunnel = g_object_ref (tunnel);
  self->manager = manager != NULL ? g_object_ref (manager) : NULL;
  self->inspector = inspector != NULL ? g_object_ref (inspector) : NULL;
  self->color = color;
  self->columns = terminal_columns ();
  self->tick_id = g_timeout_add_seconds (1, tick_cb, self);
  self->winch_id = g_unix_signal_add (SIGWINCH, winch_cb, self);
  if (self->inspector != NULL)
    self->exchange_id = g_signal_connect (self->inspector, "exchange", G_CALLBACK (exchange_cb), self);
  draw (self);
  return self;
}

void
cli_status_panel_free (CliStatusPanel *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->redraw_id, g_source_remove);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->winch_id, g_source_remove);
  if (self->exchange_id != 0)
    g_clear_signal_handler (&self->exchange_id, self->inspector);
  /* The last state stays; the shell's prompt starts on a line of its own. */
  if (self->drawn > 0)
    {
      fputs ("\033[0m\n", stdout);
      fflush (stdout);
    }
  g_clear_object (&self->tunnel);
  g_clear_object (&self->manager);
  g_clear_object (&self->inspector);
  g_free (self);
}

/* --- the inspector's side of nfltr http (issue 9 §8) ----------------------------------- */

/* Kept in step with service/inspect/nfltr-inspect-store.h and nfltr-inspect-address.h. */
#define INSPECT_DEFAULT_BODY_CAP (64 * 1024)
#define INSPECT_MAX_BODY_CAP     (16 * 1024 * 1024)

NfltrDbusInspector *
cli_inspector_get (CliClient *client, const char *object_path)
{
  g_autoptr(GError) error = NULL;
  NfltrDbusInspector *inspector =
    nfltr_dbus_inspector_proxy_new_sync (cli_client_get_connection (client), G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                         cli_client_get_bus_name (client), object_path, NULL, &error);

  if (inspector == NULL)
    g_debug ("no inspector: %s", error->message);
  return inspector;
}

const char *
cli_inspector_url (NfltrDbusInspector *inspector)
{
  const char *url = inspector != NULL ? nfltr_dbus_inspector_get_url (inspector) : NULL;

  return url != NULL && *url != '\0' ? url : NULL;
}

void
cli_inspector_print_ready (NfltrDbusInspector *inspector, gboolean asked)
{
  const char *error = inspector != NULL ? nfltr_dbus_inspector_get_error (inspector) : NULL;
  g_autofree char *line = NULL;

  if (cli_inspector_url (inspector) != NULL)
    /* TRANSLATORS: the inspector's web page; the label is padded as in “State:       %s” */
    line = g_strdup_printf (_ ("Inspector:   %s (this machine only)\n"), cli_inspector_url (inspector));
  else if (asked)
    /* TRANSLATORS: %s says why the inspector's web page is not running */
    line = g_strdup_printf (_ ("Inspector:   not running: %s\n"), error != NULL && *error ? error : "?");
  if (line != NULL)
    fputs (line, stdout);
}

gboolean
cli_check_inspect_address (const char *text, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) addr = NULL;
  guint64 port;

  if (g_ascii_string_to_unsigned (text, 10, 0, 65535, &port, NULL))
    return TRUE;
  if (!nfltr_parse_host_port (text, 4040, FALSE, &host, NULL, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _ ("--inspect: “%s” is not an address; give 127.0.0.1:PORT, [::1]:PORT or a port"), text);
      return FALSE;
    }
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  addr = g_inet_address_new_from_string (host);
  if (addr == NULL || !g_inet_address_get_is_loopback (addr))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _ ("--inspect: the inspector shows requests in clear, so it listens on loopback "
                      "only (127.0.0.1 or [::1]), not on “%s”"),
                   host);
      return FALSE;
    }
  return TRUE;
}

gboolean
cli_parse_inspect_bodies (const char *value, guint64 *bytes, GError **error)
{
  g_autofree char *number = NULL;
  guint64 n, unit = 1;
  gsize len;

  if (value == NULL || *value == '\0')
    {
      *bytes = INSPECT_DEFAULT_BODY_CAP;
      return TRUE;
    }
  len = strlen (value);
  if (g_ascii_toupper (value[len - 1]) == 'K')
    unit = 1024;
  else if (g_ascii_toupper (value[len - 1]) == 'M')
    unit = 1024 * 1024;
  number = g_strndup (value, unit > 1 ? len - 1 : len);
  if (!g_ascii_string_to_unsigned (number, 10, 1, INSPECT_MAX_BODY_CAP, &n, NULL) ||
      n * unit > INSPECT_MAX_BODY_CAP)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _ ("--inspect-bodies: “%s” is not a size from 1 to 16M (e.g. 4096, 64K, 1M)"), value);
      return FALSE;
    }
  *bytes = n * unit;
  return TRUE;
}
