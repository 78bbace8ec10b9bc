/* cmd-tunnel.c — `nfltr http`, `nfltr tcp` and `nfltr KIND TARGET` for any other kind the
 * service lists in Manager.Kinds: create a transient tunnel, follow it, remove it on Ctrl-C
 * (the shared command line is cli-tunnel-options.c) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-acme-options.h"  /* issue 11: --acme-* */
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"
#include "cli-status-panel.h" /* issue 9 §9 */

#include "nfltr-error.h"
#include "nfltr-service-locator.h"
#ifdef NFLTR_HAVE_ENGINE
#include "nfltr-tunnel-kind.h"
#endif

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* docs/cli.md: live counters are shown at most once a second. */
#define STATS_INTERVAL_US G_USEC_PER_SEC

/* ---- running ----------------------------------------------------------------------------- */

typedef struct
{
  CliTunnelOptions  options;
  CliClient        *client;
  GMainLoop        *loop;
  GCancellable     *cancellable;
  NfltrDbusTunnel  *tunnel;
  char             *object_path;
  int               exit_status;
  gboolean          ready;
  gboolean          shown_connecting;
  gboolean          stopping;
  gboolean          tty;
  gboolean          color;

  /* what the user has seen */
  char             *shown_state;
  char             *shown_error;
  char             *shown_origin;
  char             *shown_certificate; /* issue 11: cli_acme_certificate_update's */
  gboolean          stats_shown;
  guint             shown_active;
  guint64           shown_total;
  guint64           shown_in;
  guint64           shown_out;
  gint64            stats_time;
  guint             stats_timeout;
  char             *live_line;      /* TTY: the line redrawn in place */

  guint             signal_sources[3];
  guint             removed_subscription;

  /* a command of its own on top of this run (cmd-shell.c): more to say once online */
  CliTunnelReadyHook ready_hook;
  gpointer           ready_data;

  NfltrDbusInspector *inspector;    /* http: the tunnel's request inspector (issue 9 §8) */
  CliStatusPanel     *panel;        /* TTY, once online: the live status panel (issue 9 §9) */
} TunnelRun;

static void tunnel_run_stop (TunnelRun *run, int exit_status);

/* Human mode: a line above the live counters. */
static void
print_line (TunnelRun *run, const char *line)
{
  if (run->panel != NULL) /* issue 9 §9: lines scroll above the panel */
    {
      cli_status_panel_print_line (run->panel, line);
      return;
    }
  if (run->tty && run->live_line != NULL)
    fputs ("\r\033[K", stdout);
  fputs (line, stdout);
  fputc ('\n', stdout);
  if (run->tty && run->live_line != NULL)
    fputs (run->live_line, stdout);
  fflush (stdout);
}

/* Human mode, before leaving: end the live line so the shell prompt starts on its own line. */
static void
finish_live_line (TunnelRun *run)
{
  g_clear_pointer (&run->panel, cli_status_panel_free); /* issue 9 §9 */
  if (run->tty && run->live_line != NULL)
    {
      fputc ('\n', stdout);
      fflush (stdout);
      g_clear_pointer (&run->live_line, g_free);
    }
}

/* json_message: the message of the JSON error event, in English whatever the locale (--json
 * output is an API); message: the same in the user's language, for stderr. */
static void
show_error (TunnelRun *run, const char *json_message, const char *message)
{
  if (run->options.json)
    {
      g_autofree char *line = cli_event_error (json_message);

      cli_print_flushed (line);
    }
  finish_live_line (run);
  cli_fail (CLI_EXIT_FAILURE, "%s", message);
}

/* The tunnel is gone or never came: say why and end the run with a failure. */
static void
fail_run (TunnelRun *run, const char *json_message, const char *message)
{
  show_error (run, json_message, message);
  run->stopping = TRUE;
  run->exit_status = CLI_EXIT_FAILURE;
  g_main_loop_quit (run->loop);
}

static void
show_stats (TunnelRun *run, gboolean force)
{
  guint active = nfltr_dbus_tunnel_get_active_connections (run->tunnel);
  guint64 total = nfltr_dbus_tunnel_get_total_connections (run->tunnel);
  guint64 bytes_in = nfltr_dbus_tunnel_get_bytes_in (run->tunnel);
  guint64 bytes_out = nfltr_dbus_tunnel_get_bytes_out (run->tunnel);

  if (!force && run->stats_shown && active == run->shown_active && total == run->shown_total &&
      bytes_in == run->shown_in && bytes_out == run->shown_out)
    return;

  run->stats_shown = TRUE;
  run->shown_active = active;
  run->shown_total = total;
  run->shown_in = bytes_in;
  run->shown_out = bytes_out;
  run->stats_time = g_get_monotonic_time ();

  if (run->options.json)
    {
      g_autofree char *line = cli_event_stats (active, total, bytes_in, bytes_out);

      cli_print_flushed (line);
    }
  else if (run->panel != NULL) /* issue 9 §9 */
    cli_status_panel_changed (run->panel);
  else if (run->tty)
    {
      g_free (run->live_line);
      run->live_line = cli_format_stats (active, total, bytes_in, bytes_out);
      fputs ("\r\033[K", stdout);
      fputs (run->live_line, stdout);
      fflush (stdout);
    }
  else
    {
      g_autofree char *line = cli_format_stats (active, total, bytes_in, bytes_out);

      print_line (run, line);
    }
}

static gboolean
stats_timeout_cb (gpointer user_data)
{
  TunnelRun *run = user_data;

  run->stats_timeout = 0;
  show_stats (run, FALSE);
  return G_SOURCE_REMOVE;
}

/* Counters can change thousands of times a second; the user sees them once a second. */
static void
schedule_stats (TunnelRun *run)
{
  gint64 since = g_get_monotonic_time () - run->stats_time;

  if (run->stats_timeout != 0)
    return;
  if (since >= STATS_INTERVAL_US)
    show_stats (run, FALSE);
  else
    run->stats_timeout = g_timeout_add ((STATS_INTERVAL_US - since) / 1000 + 1,
                                        stats_timeout_cb, run);
}

static void
show_state (TunnelRun *run)
{
  const char *state = nfltr_dbus_tunnel_get_state (run->tunnel);
  const char *error = nfltr_dbus_tunnel_get_last_error (run->tunnel);
  gboolean state_changed = g_strcmp0 (state, run->shown_state) != 0;
  gboolean error_changed = g_strcmp0 (error, run->shown_error) != 0;

  if (!state_changed && !error_changed)
    return;
  g_free (run->shown_state);
  run->shown_state = g_strdup (state);
  g_free (run->shown_error);
  run->shown_error = g_strdup (error);

  if (run->options.json)
    {
      g_autofree char *line = cli_event_state (state, error);

      cli_print_flushed (line);
    }
  else if (state_changed)
    {
      g_autofree char *line = NULL;

      if (error != NULL && *error != '\0' && g_strcmp0 (state, "online") != 0)
        /* TRANSLATORS: the lines nfltr http prints are “Label:” and the value; pad the
         * labels with spaces so that all values start in the same column, as in nfltr
         * status. Here: the tunnel's state (a word of the service's: online, reconnecting,
         * …) and what went wrong. */
        line = g_strdup_printf (_ ("State:       %s — %s"), state, error);
      else
        line = g_strdup_printf (_ ("State:       %s"), state);
      print_line (run, line);
    }
  else if (error != NULL && *error != '\0')
    {
      g_autofree char *line = g_strdup_printf (_ ("Error:       %s"), error);

      print_line (run, line);
    }
}

static void
show_ready (TunnelRun *run)
{
  NfltrDbusTunnel *t = run->tunnel;
  const char *mode = nfltr_dbus_tunnel_get_mode (t);
  gboolean inspectable = g_strcmp0 (mode, "inspectable") == 0;
  g_autofree char *url = NULL;
  g_autofree char *viewer_url = NULL;

  /* A command may add a path to the URL (share: its secret). */
  if (run->options.url_suffix != NULL)
    {
      g_autofree char *base = g_strdup (nfltr_dbus_tunnel_get_public_url (t));

      if (g_str_has_suffix (base, "/"))
        base[strlen (base) - 1] = '\0';
      url = g_strconcat (base, run->options.url_suffix, NULL);
    }
  else
    url = g_strdup (nfltr_dbus_tunnel_get_public_url (t));
  /* terminal --viewer: a second, read-only link. */
  if (run->options.viewer_suffix != NULL)
    {
      g_autofree char *base = g_strdup (nfltr_dbus_tunnel_get_public_url (t));

      if (g_str_has_suffix (base, "/"))
        base[strlen (base) - 1] = '\0';
      viewer_url = g_strconcat (base, run->options.viewer_suffix, NULL);
    }

  if (run->options.json)
    {
      g_autofree char *line = cli_event_ready_for (t, url);

      if (viewer_url != NULL)
        {
          char *with_viewer = cli_event_add_string (line, "viewer_url", viewer_url);

          g_free (line);
          line = with_viewer;
        }
      if (cli_inspector_url (run->inspector) != NULL) /* issue 9 §8 */
        {
          char *with_inspector = cli_event_add_string (line, "inspect_url", cli_inspector_url (run->inspector));

          g_free (line);
          line = with_inspector;
        }
      cli_print_flushed (line);
      if (run->ready_hook != NULL)
        run->ready_hook (t, TRUE, run->ready_data);
    }
  else
    {
      const char *bold_red = run->color ? "\033[1;31m" : "";
      const char *reset = run->color ? "\033[0m" : "";
      g_autofree char *mode_line = NULL;
      g_autofree char *warning = cli_certificate_warning (t);

      /* TRANSLATORS: the public URL and the local address it forwards to. Labels padded as
       * in “State:       %s” (see there). */
      printf (_ ("URL:         %s → %s\n"), url, nfltr_dbus_tunnel_get_target (t));
      if (viewer_url != NULL)
        /* TRANSLATORS: the read-only link of nfltr terminal --viewer. Label padded as in
         * “State:       %s”. */
        printf (_ ("Viewer URL:  %s (read-only)\n"), viewer_url);
      /* TRANSLATORS: the %s around the mode are colour codes; keep all three. */
      mode_line = g_strdup_printf (_ ("Mode:        %s%s%s\n"), inspectable ? bold_red : "",
                                   cli_mode_description (mode), inspectable ? reset : "");
      /* Composed first: gcc's sanitizer build cannot prove a translated format non-NULL
       * inside printf (-Werror=format-overflow). */
      fputs (mode_line, stdout);
      if (inspectable)
        printf (_ ("Fingerprint: %s (relay→agent hop; clients see the relay's certificate)\n"),
                nfltr_dbus_tunnel_get_fingerprint (t));
      else
        printf (_ ("Fingerprint: %s\n"), nfltr_dbus_tunnel_get_fingerprint (t));
      if (g_str_has_prefix (nfltr_dbus_tunnel_get_public_url (t), "tls://"))
        {
          const char *hostport = nfltr_dbus_tunnel_get_public_url (t) + strlen ("tls://");
          g_autofree char *clients = NULL;

          /* TRANSLATORS: how clients reach a tcp tunnel; %s is HOST:PORT twice. Keep the
           * command and its options as they are. */
          clients = g_strdup_printf (
            _ ("Clients:     nfltr connect %s --listen 127.0.0.1:PORT\n"
               "             (or any TLS client that sends %s as SNI and checks the fingerprint)\n"),
            hostport, hostport);
          fputs (clients, stdout);
        }
      if (warning != NULL)
        {
          /* TRANSLATORS: %s is a sentence about the tunnel's certificate; the label is padded
           * as in “State:       %s” (see there). */
          g_autofree char *line = g_strdup_printf (_ ("Certificate: %s\n"), warning);

          fputs (line, stdout);
        }
      cli_inspector_print_ready (run->inspector, run->options.inspect_addr != NULL); /* issue 9 §8 */
      if (run->ready_hook != NULL)
        run->ready_hook (t, FALSE, run->ready_data);
      fputs (_ ("Press Ctrl-C to stop the tunnel.\n"), stdout);
      fflush (stdout);
    }

  run->shown_state = g_strdup (nfltr_dbus_tunnel_get_state (t));
  run->shown_error = g_strdup (nfltr_dbus_tunnel_get_last_error (t));
  run->shown_origin = g_strdup ("unknown");
  /* The counters' starting point; a terminal shows it at once, other outputs on change. */
  if (run->tty && !run->options.json) /* issue 9 §9: the live status panel */
    {
      run->panel = cli_status_panel_new (t, cli_client_get_manager (run->client), run->inspector, run->color);
      show_stats (run, TRUE);
    }
  else
    {
      run->stats_shown = TRUE;
      run->shown_active = nfltr_dbus_tunnel_get_active_connections (t);
      run->shown_total = nfltr_dbus_tunnel_get_total_connections (t);
      run->shown_in = nfltr_dbus_tunnel_get_bytes_in (t);
      run->shown_out = nfltr_dbus_tunnel_get_bytes_out (t);
    }
}

/* Issue 9 §2: the local server stopped (or started again) answering visitors. */
static void
show_origin (TunnelRun *run)
{
  NfltrDbusTunnel *t = run->tunnel;
  const char *origin = nfltr_dbus_tunnel_get_origin_state (t);
  const char *error = nfltr_dbus_tunnel_get_origin_error (t);
  gboolean was_down = g_strcmp0 (run->shown_origin, "down") == 0;

  if (origin == NULL || g_strcmp0 (origin, run->shown_origin) == 0)
    return;
  g_free (run->shown_origin);
  run->shown_origin = g_strdup (origin);
  if (run->options.json)
    {
      g_autofree char *line = cli_event_origin (origin, error,
                                                nfltr_dbus_tunnel_get_origin_failures (t));

      cli_print_flushed (line);
    }
  else if (g_strcmp0 (origin, "down") == 0)
    {
      /* TRANSLATORS: %s is why the local server could not be reached, in English, naming
       * its address ("could not connect to 127.0.0.1:3000: Connection refused") */
      g_autofree char *line = g_strdup_printf (_ ("Local server is not answering: %s. Visitors "
                                                  "get an error until it does."),
                                               error != NULL && *error ? error : "?");

      print_line (run, line);
    }
  else if (g_strcmp0 (origin, "up") == 0 && was_down)
    print_line (run, _ ("Local server is answering again."));
}

/* Issue 11: the certificate changed (ACME) or ACME failed. */
static void
show_certificate (TunnelRun *run)
{
  g_autofree char *line = cli_acme_certificate_update (run->tunnel, run->options.json, &run->shown_certificate);

  if (line == NULL)
    return;
  if (run->options.json)
    cli_print_flushed (line);
  else
    print_line (run, line);
}

static void
tunnel_changed (TunnelRun *run)
{
  const char *state = nfltr_dbus_tunnel_get_state (run->tunnel);
  const char *url = nfltr_dbus_tunnel_get_public_url (run->tunnel);

  if (run->stopping)
    return;

  if (g_strcmp0 (state, "failed") == 0)
    {
      const char *error = nfltr_dbus_tunnel_get_last_error (run->tunnel);
      gboolean has_error = error != NULL && *error != '\0';
      g_autofree char *json_message = g_strdup_printf ("tunnel failed: %s",
                                                       has_error ? error : "no reason given");
      /* TRANSLATORS: %s is the service's reason (in English) or “no reason given” */
      g_autofree char *message = g_strdup_printf (_ ("tunnel failed: %s"),
                                                  has_error ? error : _ ("no reason given"));

      if (run->ready)
        show_state (run);
      show_error (run, json_message, message);
      tunnel_run_stop (run, CLI_EXIT_FAILURE);
      return;
    }

  if (!run->ready)
    {
      /* CreateTunnel returns once online, or at once with the relay away ("connecting"). */
      if (g_strcmp0 (state, "online") == 0 && url != NULL && *url != '\0')
        {
          run->ready = TRUE;
          show_ready (run);
          show_certificate (run);  /* issue 11: records what the ready line showed */
        }
      else if (g_strcmp0 (state, "connecting") == 0 && !run->shown_connecting)
        {
          run->shown_connecting = TRUE;
          if (run->options.json)
            {
              g_autofree char *line = cli_event_state (state, nfltr_dbus_tunnel_get_last_error (run->tunnel));

              cli_print_flushed (line);
            }
          else
            {
              fputs (_ ("Connecting to relay…\n"), stdout);
              fflush (stdout);
            }
        }
      return;
    }

  show_state (run);
  show_origin (run);
  show_certificate (run);  /* issue 11: ACME issuance and renewal */
  schedule_stats (run);
  if (run->panel != NULL) /* issue 9 §9 */
    cli_status_panel_changed (run->panel);
}

static void
properties_changed_cb (GDBusProxy *proxy,
                       GVariant   *changed,
                       GStrv       invalidated,
                       gpointer    user_data)
{
  tunnel_changed (user_data);
}

static void
remove_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TunnelRun *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!nfltr_dbus_tunnel_call_remove_finish (NFLTR_DBUS_TUNNEL (source), result, &error) &&
      !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND))
    {
      g_autofree char *message = cli_error_message (error);
      g_autofree char *json_text = g_strdup_printf ("could not remove the tunnel: %s", message);
      g_autofree char *text = g_strdup_printf (_ ("could not remove the tunnel: %s"), message);

      show_error (run, json_text, text);
      run->exit_status = CLI_EXIT_FAILURE;
    }
  else if (run->exit_status == CLI_EXIT_OK)
    {
      if (run->options.json)
        {
          g_autofree char *line = cli_event_stopped ();

          cli_print_flushed (line);
        }
      else
        {
          finish_live_line (run);
          fputs (_ ("Tunnel removed.\n"), stdout);
          fflush (stdout);
        }
    }
  g_main_loop_quit (run->loop);
}

/* Removes the tunnel (if there is one) and leaves the loop. */
static void
tunnel_run_stop (TunnelRun *run, int exit_status)
{
  if (run->stopping)
    return;
  run->stopping = TRUE;
  run->exit_status = exit_status;
  g_clear_handle_id (&run->stats_timeout, g_source_remove);

  if (run->tunnel != NULL)
    nfltr_dbus_tunnel_call_remove (run->tunnel, NULL, remove_cb, run);
  else
    {
      g_cancellable_cancel (run->cancellable);
      g_main_loop_quit (run->loop);
    }
}

static gboolean
signal_cb (gpointer user_data)
{
  TunnelRun *run = user_data;

  if (run->stopping)
    {
      /* A second Ctrl-C: leave now; the service removes a transient tunnel whose client left. */
      g_main_loop_quit (run->loop);
      return G_SOURCE_CONTINUE;
    }
  tunnel_run_stop (run, run->tunnel != NULL ? CLI_EXIT_OK : CLI_EXIT_INTERRUPTED);
  return G_SOURCE_CONTINUE;
}

static void
service_lost_cb (gpointer user_data)
{
  TunnelRun *run = user_data;

  if (run->stopping)
    return;
  fail_run (run, "lost the connection to the NFLTR service; the tunnel is gone",
            _ ("lost the connection to the NFLTR service; the tunnel is gone"));
}

static void
interfaces_removed_cb (GDBusConnection *connection,
                       const char      *sender,
                       const char      *object_path,
                       const char      *interface_name,
                       const char      *signal_name,
                       GVariant        *parameters,
                       gpointer         user_data)
{
  TunnelRun *run = user_data;
  const char *path = NULL;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(oas)")))
    return;
  g_variant_get (parameters, "(&o@as)", &path, NULL);
  if (run->stopping || g_strcmp0 (path, run->object_path) != 0)
    return;
  fail_run (run, "the tunnel was removed by another client",
            _ ("the tunnel was removed by another client"));
}

static void
create_tunnel_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TunnelRun *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  if (!nfltr_dbus_manager_call_create_tunnel_finish (NFLTR_DBUS_MANAGER (source), &path, result,
                                                     &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *message = cli_error_message (error);

          show_error (run, message, message);
          run->exit_status = CLI_EXIT_FAILURE;
        }
      run->stopping = TRUE;
      g_main_loop_quit (run->loop);
      return;
    }

  run->object_path = g_steal_pointer (&path);
  run->tunnel = cli_client_get_tunnel (run->client, run->object_path, &error);
  if (run->tunnel == NULL)
    {
      g_autofree char *message = cli_error_message (error);

      fail_run (run, message, message);
      return;
    }

  g_signal_connect (run->tunnel, "g-properties-changed", G_CALLBACK (properties_changed_cb), run);
  if (g_str_equal (run->options.kind, "http")) /* issue 9 §8 */
    run->inspector = cli_inspector_get (run->client, run->object_path);
  run->removed_subscription =
    g_dbus_connection_signal_subscribe (cli_client_get_connection (run->client),
                                        cli_client_get_bus_name (run->client),
                                        "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesRemoved", NFLTR_SERVICE_OBJECT_PATH, NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE, interfaces_removed_cb, run,
                                        NULL);
  tunnel_changed (run);
}

/* client: already connected (the generic path asked it for its kinds), or NULL. */
static int
run_tunnel (const char *kind, CliClient *connected, int argc, char **argv,
            CliTunnelReadyHook ready_hook, gpointer ready_data)
{
  CliTunnelOptions options;
  g_autoptr(GError) error = NULL;

  if (!cli_tunnel_options_parse (kind, argc, argv, &options, &error))
    {
      cli_fail (CLI_EXIT_USAGE, "%s", error->message);
      /* A wrong flag or argument, not an unreadable file: point at the help. */
      if (error->domain == G_OPTION_ERROR)
        fprintf (stderr, _ ("Try “nfltr %s --help”.\n"), kind);
      cli_tunnel_options_clear (&options);
      return CLI_EXIT_USAGE;
    }
  options.ready_hook = ready_hook;
  options.ready_data = ready_data;
  return cli_tunnel_run (&options, connected);
}

static void
stop_cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  TunnelRun *run = user_data;
  const char *message = g_object_get_data (G_OBJECT (cancellable), "message");

  /* The message set on the cancellable (a reason known only when it fires) wins. */
  if (message != NULL)
    {
      g_free (run->options.stop_message);
      run->options.stop_message = g_strdup (message);
    }

  if (run->stopping)
    return;
  if (run->options.json)
    {
      g_autofree char *line = cli_event_state ("finished", run->options.stop_message);

      cli_print_flushed (line);
    }
  else if (run->options.stop_message != NULL)
    {
      g_autofree char *line = g_strdup_printf ("%s", run->options.stop_message);

      finish_live_line (run);
      print_line (run, line);
    }
  tunnel_run_stop (run, CLI_EXIT_OK);
}

int
cli_tunnel_run (CliTunnelOptions *options, CliClient *connected)
{
  TunnelRun run = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) variant = NULL;
  g_autoptr(CliClient) client = connected;
  const int signals[] = { SIGINT, SIGTERM, SIGHUP };
  gulong stop_handler = 0;

  run.options = *options;
  memset (options, 0, sizeof *options);
  if (client == NULL)
    client = cli_client_connect (&error);
  if (client == NULL)
    {
      g_autofree char *message = cli_error_message (error);

      cli_tunnel_options_clear (&run.options);
      return cli_fail (CLI_EXIT_FAILURE, "%s", message);
    }

  run.client = client;
  run.loop = g_main_loop_new (NULL, FALSE);
  run.cancellable = g_cancellable_new ();
  run.tty = cli_stdout_is_tty ();
  run.color = cli_use_color ();
  run.exit_status = CLI_EXIT_OK;
  run.ready_hook = run.options.ready_hook;
  run.ready_data = run.options.ready_data;
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    run.signal_sources[i] = g_unix_signal_add (signals[i], signal_cb, &run);
  cli_client_set_lost_func (client, service_lost_cb, &run);

  variant = g_variant_ref_sink (cli_tunnel_options_to_variant (&run.options));
  nfltr_dbus_manager_call_create_tunnel (cli_client_get_manager (client), variant,
                                         run.cancellable, create_tunnel_cb, &run);
  /* The command's own end (a share that expired), on this thread's loop. */
  if (run.options.stop != NULL)
    stop_handler = g_cancellable_connect (run.options.stop, G_CALLBACK (stop_cancelled_cb), &run, NULL);
  g_main_loop_run (run.loop);
  if (stop_handler != 0)
    g_cancellable_disconnect (run.options.stop, stop_handler);

  cli_client_set_lost_func (client, NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    g_clear_handle_id (&run.signal_sources[i], g_source_remove);
  g_clear_handle_id (&run.stats_timeout, g_source_remove);
  if (run.removed_subscription != 0)
    g_dbus_connection_signal_unsubscribe (cli_client_get_connection (client),
                                          run.removed_subscription);
  if (run.tunnel != NULL)
    g_signal_handlers_disconnect_by_data (run.tunnel, &run);
  finish_live_line (&run);

  g_clear_object (&run.inspector); /* issue 9 §8 */
  g_clear_object (&run.tunnel);
  g_clear_object (&run.cancellable);
  g_clear_pointer (&run.loop, g_main_loop_unref);
  g_free (run.object_path);
  g_free (run.shown_state);
  g_free (run.shown_error);
  g_free (run.shown_origin);
  g_free (run.shown_certificate);
  cli_tunnel_options_clear (&run.options);
  return run.exit_status;
}

int
cli_cmd_http (int argc, char **argv)
{
  return run_tunnel ("http", NULL, argc, argv, NULL, NULL);
}

int
cli_cmd_tcp (int argc, char **argv)
{
  return run_tunnel ("tcp", NULL, argc, argv, NULL, NULL);
}

int
cli_run_tunnel (const char *kind, int argc, char **argv, CliTunnelReadyHook ready_hook,
                gpointer ready_data)
{
  return run_tunnel (kind, NULL, argc, argv, ready_hook, ready_data);
}

static gboolean
kinds_contain (GVariant *kinds, const char *kind)
{
  const char *id, *label, *description;
  GVariantIter iter;

  if (kinds == NULL || !g_variant_is_of_type (kinds, G_VARIANT_TYPE ("a(sss)")))
    return FALSE;
  g_variant_iter_init (&iter, kinds);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &id, &label, &description))
    if (g_str_equal (id, kind))
      return TRUE;
  return FALSE;
}

gboolean
cli_cmd_kind (int argc, char **argv, int *exit_status)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = cli_client_connect (&error);

  if (client == NULL)
    {
      g_debug ("cannot ask the service for its kinds: %s", error->message);
      return FALSE;
    }
  if (!kinds_contain (nfltr_dbus_manager_get_kinds (cli_client_get_manager (client)), argv[0]))
    return FALSE;
  *exit_status = run_tunnel (argv[0], g_steal_pointer (&client), argc, argv, NULL, NULL);
  return TRUE;
}

/* TRUE when the service already runs on its bus: `nfltr help` asks it then, and never
 * starts one just to print a help text. */
static gboolean
service_is_running (void)
{
  g_autoptr(GDBusConnection) bus = nfltr_service_locator_get_bus_sync (NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  gboolean running = FALSE;

  if (bus == NULL)
    return FALSE;
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", NFLTR_SERVICE_BUS_NAME), G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &running);
  return running;
}

static void
print_kind_list (FILE *out, GVariant *kinds)
{
  const char *id, *label, *description;
  GVariantIter iter;

  g_variant_iter_init (&iter, kinds);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &id, &label, &description))
    fprintf (out, "  %-7s %s\n", id, description);
}

void
cli_print_kinds (FILE *out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  GVariant *kinds;

  /* TRANSLATORS: a heading of nfltr help; KIND and TARGET are placeholders, as in the
   * usage lines above. */
  fprintf (out, "\n%s\n", _ ("Tunnel kinds (run as “nfltr KIND TARGET”):"));
  if (!service_is_running ())
    {
#ifdef NFLTR_HAVE_ENGINE
      /* The engine linked into this binary is the one a service started by it would run:
       * its table of kinds is the same Manager.Kinds would list. */
      g_autoptr(GVariant) local = g_variant_ref_sink (nfltr_tunnel_kind_list_to_variant ());

      print_kind_list (out, local);
#else
      fprintf (out, "  %s\n", _ ("(the service is not running; any other nfltr command starts it)"));
#endif
      return;
    }
  client = cli_client_connect (&error);
  if (client == NULL)
    {
      g_autofree char *message = cli_error_message (error);
      g_autofree char *line = g_strdup_printf (_ ("(the service could not be asked: %s)"), message);

      fprintf (out, "  %s\n", line);
      return;
    }
  kinds = nfltr_dbus_manager_get_kinds (cli_client_get_manager (client));
  if (kinds == NULL || !g_variant_is_of_type (kinds, G_VARIANT_TYPE ("a(sss)")))
    {
      fprintf (out, "  %s\n", _ ("(the service does not list its kinds)"));
      return;
    }
  print_kind_list (out, kinds);
}
