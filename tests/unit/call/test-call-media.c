/* test-call-media — two media engines (webrtcbin) in one process call each other over
 * loopback with test sources, their signalling passed as the CALL stream's JSON text (what
 * the session would carry): both sides decode video frames and audio packets, and the
 * glass-to-glass stamp reads back. With the fingerprint in one side's received SDP changed
 * (a man in the middle of the signalling), that side refuses the media: the DTLS certificate
 * it meets does not match. */
#include "nfltr-call-media.h"

#include <string.h>

/* Few, so a machine shared with parallel builds (2 frames a second) still passes: the point is
 * that frames arrive and decode both ways, not how many. */
#define MIN_FRAMES 8

typedef struct {
  NfltrCallMedia *media[2];
  char *failure[2];
  gboolean connected[2];
  GMainLoop *loop;
  guint timeout_id;
} Call;

static void
signal_cb (NfltrCallMedia *media, NfltrCallSignal *signal, Call *call)
{
  NfltrCallMedia *peer = media == call->media[0] ? call->media[1] : call->media[0];
  g_autofree char *text = nfltr_call_signal_to_string (signal);
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrCallSignal) back = nfltr_call_signal_parse (text, -1, &error);

  g_assert_no_error (error);
  nfltr_call_media_take_signal (peer, back);
}

static void
failed_cb (NfltrCallMedia *media, const char *message, Call *call)
{
  int i = media == call->media[0] ? 0 : 1;

  g_free (call->failure[i]);
  call->failure[i] = g_strdup (message);
  g_main_loop_quit (call->loop);
}

static void
connected_cb (NfltrCallMedia *media, Call *call)
{
  call->connected[media == call->media[0] ? 0 : 1] = TRUE;
}

static gboolean
check_cb (gpointer user_data)
{
  Call *call = user_data;
  NfltrCallStats a, b;

  nfltr_call_media_get_stats (call->media[0], &a);
  nfltr_call_media_get_stats (call->media[1], &b);
  g_test_message ("A: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT " audio; B: %" G_GUINT64_FORMAT
                  " frames, %" G_GUINT64_FORMAT " audio",
                  a.video_frames_decoded, a.audio_packets_received, b.video_frames_decoded, b.audio_packets_received);
  if (a.video_frames_decoded >= MIN_FRAMES && b.video_frames_decoded >= MIN_FRAMES && a.audio_packets_received >= 50
      && b.audio_packets_received >= 50 && a.stamp_frames > 0 && b.stamp_frames > 0
      /* the path comes with the stats that name the ICE pair, which can lag the frames */
      && a.path != NULL && *a.path != '\0')
    g_main_loop_quit (call->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  Call *call = user_data;

  call->timeout_id = 0;
  g_main_loop_quit (call->loop);
  return G_SOURCE_REMOVE;
}

static void
run_call (Call *call, gboolean tamper, guint seconds)
{
  NfltrCallMediaConfig config = {
    .video = NFLTR_CALL_SOURCE_TEST,
    .audio = NFLTR_CALL_SOURCE_TEST,
    .stamp = TRUE,
    /* By hand: a TURN server to force the relayed path through (turn://USER:PASS@HOST:PORT). */
    .turn = g_getenv ("NFLTR_CALL_TEST_TURN"),
    .relay_only = g_getenv ("NFLTR_CALL_TEST_TURN") != NULL,
    .local_address = g_getenv ("NFLTR_P2P_LOCAL_ADDRESS"),
  };
  g_autoptr(GError) error = NULL;
  guint check;

  call->loop = g_main_loop_new (NULL, FALSE);
  for (int i = 0; i < 2; i++)
    {
      config.initiator = i == 0;
      config.pattern = i == 0 ? "smpte" : "ball";
      call->media[i] = nfltr_call_media_new (&config);
      g_signal_connect (call->media[i], "signal", G_CALLBACK (signal_cb), call);
      g_signal_connect (call->media[i], "failed", G_CALLBACK (failed_cb), call);
      g_signal_connect (call->media[i], "connected", G_CALLBACK (connected_cb), call);
    }
  if (tamper)
    nfltr_call_media_tamper_remote_fingerprint (call->media[1]);
  /* The answerer first, so it is ready when the offer comes. */
  nfltr_call_media_start (call->media[1], &error);
  g_assert_no_error (error);
  nfltr_call_media_start (call->media[0], &error);
  g_assert_no_error (error);
  check = g_timeout_add (500, check_cb, call);
  call->timeout_id = g_timeout_add_seconds (seconds, timeout_cb, call);
  g_main_loop_run (call->loop);
  g_source_remove (check);
  g_clear_handle_id (&call->timeout_id, g_source_remove);
}

static void
end_call (Call *call)
{
  for (int i = 0; i < 2; i++)
    {
      nfltr_call_media_stop (call->media[i]);
      g_object_unref (call->media[i]);
      g_free (call->failure[i]);
    }
  g_main_loop_unref (call->loop);
}

static void
test_call (void)
{
  Call call = { 0 };
  NfltrCallStats a, b;

  run_call (&call, FALSE, 180);
  nfltr_call_media_get_stats (call.media[0], &a);
  nfltr_call_media_get_stats (call.media[1], &b);
  g_assert_null (call.failure[0]);
  g_assert_null (call.failure[1]);
  g_assert_true (call.connected[0] && call.connected[1]);
  g_assert_cmpuint (a.video_frames_decoded, >=, MIN_FRAMES);
  g_assert_cmpuint (b.video_frames_decoded, >=, MIN_FRAMES);
  g_assert_cmpuint (a.audio_packets_received, >=, 50);
  g_assert_cmpuint (b.audio_packets_received, >=, 50);
  g_assert_cmpuint (a.stamp_frames, >, 0);
  g_test_message ("glass-to-glass on loopback: A sees %.1f ms, B sees %.1f ms", a.latency_ms, b.latency_ms);
  g_assert_cmpfloat (a.latency_ms, >, 0);
  g_assert_cmpfloat (a.latency_ms, <, 5000);
  g_assert_cmpstr (a.path, ==, g_getenv ("NFLTR_CALL_TEST_TURN") != NULL ? "relayed" : "direct");
  end_call (&call);
}

static void
test_tampered_fingerprint (void)
{
  Call call = { 0 };
  NfltrCallStats b;

  run_call (&call, TRUE, 60);
  nfltr_call_media_get_stats (call.media[1], &b);
  g_assert_nonnull (call.failure[1]);
  g_test_message ("B: %s", call.failure[1]);
  g_assert_nonnull (strstr (call.failure[1], "does not match the fingerprint in the authenticated SDP"));
  g_assert_false (call.connected[1]);
  g_assert_cmpstr (b.state, ==, "failed");
  end_call (&call);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  /* webrtcbin's libnice agent runs gupnp-igd, which warns when another process holds the SSDP
   * port it picks (1.22 cannot turn UPnP off): criticals stay fatal, that warning must not be. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/call/media/call", test_call);
  g_test_add_func ("/call/media/tampered-fingerprint", test_tampered_fingerprint);
  return g_test_run ();
}
