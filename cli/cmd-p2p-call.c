/* cmd-p2p-call.c — `nfltr p2p call [CODE] [--video-source …] [--audio-source …] [--json]`
 * (docs/cli.md, docs/protocol.md §14): a headless call. The service pairs and carries the
 * signalling (P2p.Call makes an xyz.nfltr.Nfltr.Call); the media runs here, in the process
 * that owns the camera and the microphone (service/p2p/call/media/, webrtcbin). Once
 * connected it prints the call's stats once a second. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"
#include "nfltr-call-media.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#define P2P_OBJECT_PATH "/xyz/nfltr/Nfltr/p2p"

int cli_cmd_p2p_call (int argc, char **argv);

typedef struct {
  CliClient *client;
  NfltrDbusCall *call;
  NfltrCallMedia *media;
  NfltrCallMediaConfig config;
  GPtrArray *early; /* NfltrCallSignal: what came before the media existed */
  GMainLoop *loop;
  gboolean json;
  gboolean connected;
  gint64 connected_at;
  guint duration;
  guint stats_id;
  int status;
  char *error;
} CallRun;

static void
print_json_event (CallRun *run, const char *event, const char *key, const char *value)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  cli_json_add_string (b, "event", event);
  if (key != NULL)
    cli_json_add_string (b, key, value);
  json_builder_end_object (b);
  cli_json_print_line (b);
}

static void
finish (CallRun *run, int status, const char *error)
{
  if (run->error == NULL && error != NULL)
    {
      run->error = g_strdup (error);
      if (run->json)
        print_json_event (run, "error", "message", error);
      else
        {
          g_autofree char *line = g_strdup_printf ("nfltr: %s\n", error);

          fputs (line, stderr);
        }
    }
  if (run->status < 0)
    run->status = status;
  g_main_loop_quit (run->loop);
}

static void
send_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!nfltr_dbus_call_call_send_finish (NFLTR_DBUS_CALL (source), result, &error))
    g_debug ("Call.Send: %s", error->message);
}

static void
media_signal_cb (NfltrCallMedia *media, NfltrCallSignal *signal, CallRun *run)
{
  g_autofree char *text = nfltr_call_signal_to_string (signal);

  nfltr_dbus_call_call_send (run->call, text, NULL, send_done_cb, run);
}

static void
media_failed_cb (NfltrCallMedia *media, const char *message, CallRun *run)
{
  finish (run, CLI_EXIT_FAILURE, message);
}

static void
media_connected_cb (NfltrCallMedia *media, CallRun *run)
{
  if (run->json)
    print_json_event (run, "connected", "fingerprint", "verified");
  else
    cli_print_flushed (_ ("Connected: the peer's media key matches the code you both typed."));
}

static gboolean
stats_cb (gpointer user_data)
{
  CallRun *run = user_data;
  NfltrCallStats stats;

  if (run->media == NULL)
    return G_SOURCE_CONTINUE;
  nfltr_call_media_get_stats (run->media, &stats);
  if (run->json)
    {
      g_autofree char *body = nfltr_call_stats_to_json (&stats);
      g_autofree char *line = g_strdup_printf ("{\"event\":\"stats\",%s\n", body + 1);

      fputs (line, stdout);
      fflush (stdout);
    }
  else
    {
      g_autofree char *line =
        /* Not translated: a machine-like status line, as the --json stats. */
        g_strdup_printf ("%s: video %" G_GUINT64_FORMAT " frames decoded, audio %" G_GUINT64_FORMAT
                         " packets, %" G_GINT64_FORMAT " lost, round trip %.0f ms, %u kbit/s\n",
                         *stats.path ? stats.path : "?", stats.video_frames_decoded,
                         stats.audio_packets_received, stats.lost, stats.rtt_ms, stats.bitrate_kbps);

      fputs (line, stdout);
      fflush (stdout);
    }
  if (run->duration > 0 &&
      g_get_monotonic_time () - run->connected_at >= (gint64) run->duration * G_USEC_PER_SEC)
    {
      nfltr_dbus_call_call_hangup_sync (run->call, NULL, NULL);
      finish (run, CLI_EXIT_OK, NULL);
    }
  return G_SOURCE_CONTINUE;
}

static void
start_media (CallRun *run)
{
  g_autoptr(GError) error = NULL;

  run->config.initiator = nfltr_dbus_call_get_initiator (run->call);
  run->config.stun = nfltr_dbus_call_get_stun_server (run->call);
  run->config.turn = nfltr_dbus_call_get_turn_server (run->call);
  if (run->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "media");
      cli_json_add_string (b, "stun", run->config.stun);
      json_builder_set_member_name (b, "turn");
      json_builder_add_boolean_value (b, run->config.turn != NULL && *run->config.turn);
      json_builder_set_member_name (b, "relay_only");
      json_builder_add_boolean_value (b, run->config.relay_only);
      json_builder_end_object (b);
      cli_json_print_line (b);
    }
  run->media = nfltr_call_media_new (&run->config);
  if (g_getenv ("NFLTR_CALL_TEST_TAMPER_FINGERPRINT") != NULL)
    nfltr_call_media_tamper_remote_fingerprint (run->media);
  g_signal_connect (run->media, "signal", G_CALLBACK (media_signal_cb), run);
  g_signal_connect (run->media, "failed", G_CALLBACK (media_failed_cb), run);
  g_signal_connect (run->media, "connected", G_CALLBACK (media_connected_cb), run);
  if (!nfltr_call_media_start (run->media, &error))
    {
      finish (run, CLI_EXIT_FAILURE, error->message);
      return;
    }
  for (guint i = 0; i < run->early->len; i++)
    nfltr_call_media_take_signal (run->media, run->early->pdata[i]);
  g_ptr_array_set_size (run->early, 0);
  run->connected_at = g_get_monotonic_time ();
  run->stats_id = g_timeout_add (1000, stats_cb, run);
}

static void
state_cb (GObject *object, GParamSpec *pspec, CallRun *run)
{
  const char *state = nfltr_dbus_call_get_state (run->call);

  if (state == NULL)
    return;
  if (run->json && pspec != NULL)
    print_json_event (run, "state", "state", state);
  if (g_str_equal (state, "connected") && !run->connected)
    {
      run->connected = TRUE;
      start_media (run);
    }
  else if (g_str_equal (state, "ended"))
    finish (run, CLI_EXIT_OK, NULL);
  else if (g_str_equal (state, "failed") || g_str_equal (state, "declined"))
    {
      const char *error = nfltr_dbus_call_get_last_error (run->call);

      finish (run, CLI_EXIT_FAILURE, error != NULL && *error ? error : state);
    }
}

static void
received_cb (NfltrDbusCall *call, const char *text, CallRun *run)
{
  g_autoptr(GError) error = NULL;
  NfltrCallSignal *signal = nfltr_call_signal_parse (text, -1, &error);

  if (signal == NULL)
    return;
  if (signal->type == NFLTR_CALL_SIGNAL_BYE)
    {
      nfltr_call_signal_free (signal);
      if (run->json)
        print_json_event (run, "bye", NULL, NULL);
      finish (run, CLI_EXIT_OK, NULL);
      return;
    }
  if (run->media == NULL)
    {
      g_ptr_array_add (run->early, signal);
      return;
    }
  nfltr_call_media_take_signal (run->media, signal);
  nfltr_call_signal_free (signal);
}

static gboolean
sigint_cb (gpointer user_data)
{
  CallRun *run = user_data;

  nfltr_dbus_call_call_hangup_sync (run->call, NULL, NULL);
  finish (run, CLI_EXIT_OK, NULL);
  return G_SOURCE_CONTINUE;
}

static void
lost_cb (gpointer user_data)
{
  finish (user_data, CLI_EXIT_FAILURE, _ ("the service went away"));
}

static gboolean
parse_source (const char *value, gboolean video, NfltrCallSource *out)
{
  if (value == NULL || g_str_equal (value, "test"))
    *out = NFLTR_CALL_SOURCE_TEST;
  else if (g_str_equal (value, video ? "camera" : "mic"))
    *out = NFLTR_CALL_SOURCE_DEVICE;
  else if (video && g_str_equal (value, "none"))
    *out = NFLTR_CALL_SOURCE_NONE;
  else
    return FALSE;
  return TRUE;
}

int
cli_cmd_p2p_call (int argc, char **argv)
{
  gboolean json = FALSE;
  gboolean relay_only = FALSE;
  g_autofree char *video_source = NULL;
  g_autofree char *audio_source = NULL;
  g_autofree char *device = NULL;
  g_autofree char *pattern = NULL;
  int duration = 0;
  GOptionEntry entries[] = {
    { "video-source", 0, 0, G_OPTION_ARG_STRING, &video_source, N_ ("test (a test pattern), camera or none (audio only)"),
      "SOURCE" },
    { "audio-source", 0, 0, G_OPTION_ARG_STRING, &audio_source, N_ ("test (a tone) or mic"), "SOURCE" },
    { "device", 0, 0, G_OPTION_ARG_FILENAME, &device, N_ ("The camera's device (default: the first)"), "PATH" },
    { "pattern", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &pattern, NULL, NULL },
    { "relay-only", 0, 0, G_OPTION_ARG_NONE, &relay_only, N_ ("Send media only through the relay's TURN server"), NULL },
    { "duration", 0, 0, G_OPTION_ARG_INT, &duration, N_ ("Hang up after this many seconds of call"), "SECONDS" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("One JSON object per line"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_ ("[CODE]"));
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrDbusP2p) p2p = NULL;
  g_autofree char *path = NULL;
  g_autofree char *code = NULL;
  CallRun run = { .status = -1 };
  GVariantBuilder options;
  guint sig, term;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("Calls a peer (audio and video): without CODE, prints one to share; with it, joins."));
  if (!cli_parse_command_line (context, "p2p call", &argc, &argv, 0, 1, NULL))
    return CLI_EXIT_USAGE;
  if (!parse_source (video_source, TRUE, &run.config.video) || !parse_source (audio_source, FALSE, &run.config.audio))
    return cli_fail (CLI_EXIT_USAGE, "%s", _ ("--video-source is test, camera or none; --audio-source is test or mic"));
  gst_init (NULL, NULL);
  run.json = json;
  run.duration = duration > 0 ? (guint) duration : 0;
  run.config.video_device = device;
  run.config.pattern = pattern;
  run.config.relay_only = relay_only;
  /* The same knob as the P2P direct path's (docs/protocol.md §9.9). */
  run.config.local_address = g_getenv ("NFLTR_P2P_LOCAL_ADDRESS");
  run.config.play_audio = run.config.audio == NFLTR_CALL_SOURCE_DEVICE;
  run.early = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_call_signal_free);
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "video", g_variant_new_boolean (run.config.video != NFLTR_CALL_SOURCE_NONE));
  run.client = cli_client_connect (&error);
  if (run.client == NULL || (p2p = nfltr_dbus_p2p_proxy_new_sync (cli_client_get_connection (run.client),
                                                                   G_DBUS_PROXY_FLAGS_NONE,
                                                                   cli_client_get_bus_name (run.client),
                                                                   P2P_OBJECT_PATH, NULL, &error)) == NULL
      || !nfltr_dbus_p2p_call_call_sync (p2p, argc > 1 ? argv[1] : "", g_variant_builder_end (&options), &path, &code,
                                         NULL, &error)
      || (run.call = nfltr_dbus_call_proxy_new_sync (cli_client_get_connection (run.client),
                                                     G_DBUS_PROXY_FLAGS_GET_INVALIDATED_PROPERTIES,
                                                     cli_client_get_bus_name (run.client), path, NULL, &error)) == NULL)
    {
      cli_print_error (error);
      g_ptr_array_unref (run.early);
      g_clear_pointer (&run.client, cli_client_free);
      return CLI_EXIT_FAILURE;
    }
  if (argc < 2)
    {
      if (json)
        print_json_event (&run, "code", "code", code);
      else
        {
          g_autofree char *text = g_strdup_printf (_ ("Code: %s\nOn the other machine: nfltr p2p call %s"), code, code);

          cli_print_flushed (text);
        }
    }
  run.loop = g_main_loop_new (NULL, FALSE);
  g_signal_connect (run.call, "notify::state", G_CALLBACK (state_cb), &run);
  g_signal_connect (run.call, "received", G_CALLBACK (received_cb), &run);
  cli_client_set_lost_func (run.client, lost_cb, &run);
  sig = g_unix_signal_add (SIGINT, sigint_cb, &run);
  term = g_unix_signal_add (SIGTERM, sigint_cb, &run); /* hang up, as for Ctrl-C */
  state_cb (NULL, NULL, &run);
  if (run.status < 0)
    g_main_loop_run (run.loop);
  g_source_remove (sig);
  g_source_remove (term);
  cli_client_set_lost_func (run.client, NULL, NULL);
  g_clear_handle_id (&run.stats_id, g_source_remove);
  if (run.media != NULL)
    {
      nfltr_call_media_stop (run.media);
      g_clear_object (&run.media);
    }
  g_signal_handlers_disconnect_by_data (run.call, &run);
  {
    /* The session under the call goes with it. */
    g_autoptr(NfltrDbusTransfer) transfer = nfltr_dbus_transfer_proxy_new_sync (
      cli_client_get_connection (run.client), G_DBUS_PROXY_FLAGS_NONE, cli_client_get_bus_name (run.client),
      nfltr_dbus_call_get_transfer (run.call), NULL, NULL);

    if (transfer != NULL)
      nfltr_dbus_transfer_call_cancel_sync (transfer, NULL, NULL);
  }
  g_clear_object (&run.call);
  g_ptr_array_unref (run.early);
  g_main_loop_unref (run.loop);
  g_free (run.error);
  g_clear_pointer (&run.client, cli_client_free);
  return run.status < 0 ? CLI_EXIT_FAILURE : run.status;
}
