/* call-bench — one call on loopback, both ends in this process, for bench/call-latency/run:
 * the real media (webrtcbin: ICE, DTLS-SRTP, RTCP, NACK/RTX, ULPFEC) or, with --plain, the
 * same encoders, payloaders, jitter buffer and decoders over plain RTP/UDP. Both send a test
 * pattern whose top rows carry the send time (nfltr-call-media's stamp); each received,
 * decoded frame's stamp gives glass-to-glass latency. Prints one JSON line: latency (mean,
 * median, p95 of the per-second means), frames, RTCP round trip, and CPU seconds of this
 * process per second of call (one call = both ends). */
#include "nfltr-call-media.h"

#include <stdio.h>
#include <sys/resource.h>

typedef struct {
  NfltrCallMedia *media[2];
  GMainLoop *loop;
  GArray *latency; /* double: each second's mean, both sides */
  guint64 last_frames[2];
  double last_sum[2];
  int seconds;
  int ticks;
  gboolean failed;
} Bench;

static void
signal_cb (NfltrCallMedia *media, NfltrCallSignal *signal, Bench *b)
{
  nfltr_call_media_take_signal (media == b->media[0] ? b->media[1] : b->media[0], signal);
}

static void
failed_cb (NfltrCallMedia *media, const char *message, Bench *b)
{
  g_printerr ("call-bench: %s\n", message);
  b->failed = TRUE;
  g_main_loop_quit (b->loop);
}

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static gboolean
tick_cb (gpointer user_data)
{
  Bench *b = user_data;

  for (int i = 0; i < 2; i++)
    {
      NfltrCallStats s;
      double sum;

      nfltr_call_media_get_stats (b->media[i], &s);
      sum = s.latency_ms * (double) s.stamp_frames;
      /* Skip the first seconds: connection set-up and the first key frames. */
      if (b->ticks >= 3 && s.stamp_frames > b->last_frames[i])
        {
          double mean = (sum - b->last_sum[i]) / (double) (s.stamp_frames - b->last_frames[i]);

          g_array_append_val (b->latency, mean);
        }
      b->last_frames[i] = s.stamp_frames;
      b->last_sum[i] = sum;
    }
  if (++b->ticks >= b->seconds)
    g_main_loop_quit (b->loop);
  return G_SOURCE_CONTINUE;
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  gboolean plain = FALSE;
  int seconds = 20;
  int port = 47000;
  GOptionEntry entries[] = {
    { "plain", 0, 0, G_OPTION_ARG_NONE, &plain, "Plain RTP over UDP instead of webrtcbin", NULL },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "Length of the call", "N" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "Plain mode: first of four UDP ports", "PORT" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  NfltrCallMediaConfig config = {
    .video = NFLTR_CALL_SOURCE_TEST,
    .audio = NFLTR_CALL_SOURCE_TEST,
    .stamp = TRUE,
    .local_address = "127.0.0.1",
  };
  Bench b = { 0 };
  NfltrCallStats s[2];
  double cpu0, cpu1, rtt = -1, mean = 0;
  gint64 t0, t1;
  guint n;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("call-bench: %s\n", error->message);
      return 2;
    }
  b.loop = g_main_loop_new (NULL, FALSE);
  b.latency = g_array_new (FALSE, FALSE, sizeof (double));
  b.seconds = seconds;
  config.plain = plain;
  for (int i = 0; i < 2; i++)
    {
      config.initiator = i == 0;
      config.plain_my_port = port + 2 * i;
      config.plain_peer_port = port + 2 * (1 - i);
      b.media[i] = nfltr_call_media_new (&config);
      g_signal_connect (b.media[i], "signal", G_CALLBACK (signal_cb), &b);
      g_signal_connect (b.media[i], "failed", G_CALLBACK (failed_cb), &b);
    }
  cpu0 = cpu_seconds ();
  t0 = g_get_monotonic_time ();
  if (!nfltr_call_media_start (b.media[1], &error) || !nfltr_call_media_start (b.media[0], &error))
    {
      g_printerr ("call-bench: %s\n", error->message);
      return 1;
    }
  g_timeout_add_seconds (1, tick_cb, &b);
  g_main_loop_run (b.loop);
  cpu1 = cpu_seconds ();
  t1 = g_get_monotonic_time ();
  for (int i = 0; i < 2; i++)
    {
      nfltr_call_media_get_stats (b.media[i], &s[i]);
      if (s[i].rtt_ms > 0)
        rtt = MAX (rtt, s[i].rtt_ms);
    }
  n = b.latency->len;
  g_array_sort (b.latency, cmp_double);
  for (guint i = 0; i < n; i++)
    mean += g_array_index (b.latency, double, i) / n;
  printf ("{\"mode\":\"%s\",\"seconds\":%.1f,\"latency_ms_mean\":%.1f,\"latency_ms_p50\":%.1f,\"latency_ms_"
          "p95\":%.1f,"
          "\"frames_decoded\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
          "],\"stamped_frames\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
          "],\"audio_packets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "],"
          "\"rtt_ms\":%.1f,\"cpu_per_call\":%.3f,\"failed\":%s}\n",
          plain ? "plain-rtp" : "webrtc-dtls-srtp", (t1 - t0) / 1e6, mean,
          n ? g_array_index (b.latency, double, n / 2) : -1.0,
          n ? g_array_index (b.latency, double, MIN (n - 1, n * 95 / 100)) : -1.0, s[0].video_frames_decoded,
          s[1].video_frames_decoded, s[0].stamp_frames, s[1].stamp_frames, s[0].audio_packets_received,
          s[1].audio_packets_received, rtt, (cpu1 - cpu0) / ((t1 - t0) / 1e6), b.failed ? "true" : "false");
  for (int i = 0; i < 2; i++)
    {
      nfltr_call_media_stop (b.media[i]);
      g_object_unref (b.media[i]);
    }
  g_array_unref (b.latency);
  g_main_loop_unref (b.loop);
  return b.failed ? 1 : 0;
}
