/* nfltr-call-media-stats.c — a call's statistics from webrtcbin's get-stats (bytes, loss,
 * RTT, the selected candidate pair's types: Direct or Relayed) and the bandwidth adaptation
 * they drive (docs/protocol.md §14.3). The stats are a copy under the media's lock. */
#define G_LOG_DOMAIN "nfltr-call"

#include "nfltr-call-media-private.h"

#include <gst/webrtc/webrtc.h>
#include <json-glib/json-glib.h>
#include <string.h>

/* --- stats and bandwidth adaptation ---------------------------------------------------- */

typedef struct {
  NfltrCallMedia *self;
  guint64 bytes;
  gint64 lost;
  double rtt;
  double video_fraction_lost;
  gboolean have_video_report;
  char local_candidate[64];
  GHashTable *candidate_types; /* id → type */
} StatsWalk;

static gboolean
stats_field_cb (GQuark field, const GValue *value, gpointer user_data)
{
  StatsWalk *w = user_data;
  const GstStructure *s;
  GstWebRTCStatsType type;

  if (!GST_VALUE_HOLDS_STRUCTURE (value))
    return TRUE;
  s = gst_value_get_structure (value);
  if (!gst_structure_get (s, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type, NULL))
    return TRUE;
  switch (type)
    {
      case GST_WEBRTC_STATS_INBOUND_RTP:
        {
          guint64 bytes = 0;
          gint64 lost = 0;

          gst_structure_get_uint64 (s, "bytes-received", &bytes);
          gst_structure_get_int64 (s, "packets-lost", &lost);
          w->bytes += bytes;
          w->lost += MAX (lost, 0);
          break;
        }
      case GST_WEBRTC_STATS_REMOTE_INBOUND_RTP:
        {
          double rtt = -1, fraction = 0;
          const char *kind = gst_structure_get_string (s, "kind");

          if (gst_structure_get_double (s, "round-trip-time", &rtt) && rtt > 0)
            w->rtt = MAX (w->rtt, rtt * 1000.0);
          if (gst_structure_get_double (s, "fraction-lost", &fraction) &&
              (kind == NULL || g_str_equal (kind, "video")))
            {
              w->video_fraction_lost = MAX (w->video_fraction_lost, fraction);
              w->have_video_report = TRUE;
            }
          break;
        }
      case GST_WEBRTC_STATS_CANDIDATE_PAIR:
        {
          const char *local = gst_structure_get_string (s, "local-candidate-id");

          if (local != NULL)
            g_strlcpy (w->local_candidate, local, sizeof w->local_candidate);
          break;
        }
      case GST_WEBRTC_STATS_LOCAL_CANDIDATE:
      case GST_WEBRTC_STATS_REMOTE_CANDIDATE:
        {
          /* By the field's name, which the pair's local-candidate-id names: 1.22 swaps the two
         * candidates' structure names. */
          const char *ctype = gst_structure_get_string (s, "candidate-type");

          g_hash_table_insert (w->candidate_types, g_strdup (g_quark_to_string (field)),
                               g_strdup (ctype ? ctype : ""));
          break;
        }
      case GST_WEBRTC_STATS_CODEC:
      case GST_WEBRTC_STATS_OUTBOUND_RTP:
      case GST_WEBRTC_STATS_REMOTE_OUTBOUND_RTP:
      case GST_WEBRTC_STATS_CSRC:
      case GST_WEBRTC_STATS_PEER_CONNECTION:
      case GST_WEBRTC_STATS_DATA_CHANNEL:
      case GST_WEBRTC_STATS_STREAM:
      case GST_WEBRTC_STATS_TRANSPORT:
      case GST_WEBRTC_STATS_CERTIFICATE:
      default: break;
    }
  return TRUE;
}

/* Bandwidth adaptation: webrtcbin 1.22 has no congestion controller of its own, so once a
 * second the VP8 target follows the loss the peer reports in RTCP receiver reports for our
 * video (RFC 3550 §6.4.1 fraction lost): over 10 % → ×0.7, over 2 % → ×0.85, else ×1.05, within
 * VIDEO_MIN_KBPS..VIDEO_MAX_KBPS. */
static void
adapt_bitrate (NfltrCallMedia *self, double fraction_lost)
{
  guint target = self->target_kbps;

  if (fraction_lost > 0.10)
    target = target * 7 / 10;
  else if (fraction_lost > 0.02)
    target = target * 85 / 100;
  else
    target = target * 105 / 100 + 1;
  target = CLAMP (target, VIDEO_MIN_KBPS, VIDEO_MAX_KBPS);
  if (target != self->target_kbps && self->venc != NULL)
    {
      g_debug ("video target %u -> %u kbit/s (peer reports %.1f %% lost)", self->target_kbps, target, fraction_lost * 100);
      self->target_kbps = target;
      g_object_set (self->venc, "target-bitrate", (gint) (target * 1000), NULL);
    }
}

static void
stats_cb (GstPromise *promise, gpointer user_data)
{
  NfltrCallMedia *self = user_data;
  /* Interrupted at stop: no reply to read (get_reply wants a replied promise). */
  const GstStructure *reply = gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED
                                ? gst_promise_get_reply (promise)
                                : NULL;
  StatsWalk w = { .self = self, .rtt = -1 };
  gint64 now = g_get_monotonic_time ();
  guint64 concealed_ns = 0;

  if (reply == NULL || self->stopped)
    {
      gst_promise_unref (promise);
      g_object_unref (self);
      return;
    }
  w.candidate_types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (g_getenv ("NFLTR_CALL_DUMP_STATS") != NULL)
    {
      g_autofree char *text = gst_structure_to_string (reply);

      g_printerr ("%s\n", text);
    }
  gst_structure_foreach (reply, stats_field_cb, &w);
  if (self->venc != NULL && w.have_video_report)
    adapt_bitrate (self, w.video_fraction_lost);
  g_mutex_lock (&self->lock);
  if (self->opusdec != NULL)
    {
      GstStructure *dec_stats = NULL;

      g_object_get (self->opusdec, "stats", &dec_stats, NULL);
      if (dec_stats != NULL)
        {
          gst_structure_get_uint64 (dec_stats, "plc-duration", &concealed_ns);
          gst_structure_free (dec_stats);
        }
    }
  if (self->last_bytes_time > 0 && now > self->last_bytes_time && w.bytes >= self->last_bytes)
    self->stats.bitrate_kbps = (guint) ((w.bytes - self->last_bytes) * 8 * 1000 / (guint64) (now - self->last_bytes_time));
  self->last_bytes = w.bytes;
  self->last_bytes_time = now;
  self->stats.lost = w.lost;
  self->stats.rtt_ms = w.rtt;
  self->stats.fraction_lost = w.video_fraction_lost;
  self->stats.audio_concealed_ms = concealed_ns / 1000000;
  if (*w.local_candidate)
    {
      const char *ctype = g_hash_table_lookup (w.candidate_types, w.local_candidate);

      if (ctype != NULL && *ctype)
        g_strlcpy (self->stats.path, g_str_equal (ctype, "relay") ? "relayed" : "direct", sizeof self->stats.path);
    }
  g_mutex_unlock (&self->lock);
  g_hash_table_unref (w.candidate_types);
  gst_promise_unref (promise);
  g_object_unref (self);
}

gboolean
nfltr_call_media_stats_tick_cb (gpointer user_data)
{
  NfltrCallMedia *self = user_data;
  GstPromise *promise = gst_promise_new_with_change_func (stats_cb, g_object_ref (self), NULL);

  g_clear_pointer (&self->stats_promise, gst_promise_unref);
  self->stats_promise = gst_promise_ref (promise);
  g_signal_emit_by_name (self->webrtc, "get-stats", NULL, promise);
  return G_SOURCE_CONTINUE;
}

void
nfltr_call_media_get_stats (NfltrCallMedia *self, NfltrCallStats *stats)
{
  gint64 frames;

  g_mutex_lock (&self->lock);
  *stats = self->stats;
  g_mutex_unlock (&self->lock);
  stats->video_frames_received = (guint64) g_atomic_pointer_get (&self->video_received);
  stats->video_frames_decoded = (guint64) g_atomic_pointer_get (&self->video_decoded);
  stats->video_frames_sent = (guint64) g_atomic_pointer_get (&self->video_sent);
  stats->audio_packets_received = (guint64) g_atomic_pointer_get (&self->audio_received);
  frames = (gint64) g_atomic_pointer_get (&self->stamp_frames);
  stats->stamp_frames = (guint64) frames;
  stats->latency_ms = frames > 0 ? (double) g_atomic_pointer_get (&self->stamp_sum_us) / frames / 1000.0 : -1;
  stats->target_kbps = self->target_kbps;
}

char *
nfltr_call_stats_to_json (const NfltrCallStats *stats)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, stats->state);
  json_builder_set_member_name (b, "video_frames_received");
  json_builder_add_int_value (b, (gint64) stats->video_frames_received);
  json_builder_set_member_name (b, "video_frames_decoded");
  json_builder_add_int_value (b, (gint64) stats->video_frames_decoded);
  json_builder_set_member_name (b, "video_frames_sent");
  json_builder_add_int_value (b, (gint64) stats->video_frames_sent);
  json_builder_set_member_name (b, "audio_packets_received");
  json_builder_add_int_value (b, (gint64) stats->audio_packets_received);
  json_builder_set_member_name (b, "audio_concealed_ms");
  json_builder_add_int_value (b, (gint64) stats->audio_concealed_ms);
  json_builder_set_member_name (b, "lost");
  json_builder_add_int_value (b, stats->lost);
  json_builder_set_member_name (b, "rtt_ms");
  json_builder_add_double_value (b, stats->rtt_ms);
  json_builder_set_member_name (b, "bitrate_kbps");
  json_builder_add_int_value (b, stats->bitrate_kbps);
  json_builder_set_member_name (b, "target_kbps");
  json_builder_add_int_value (b, stats->target_kbps);
  if (stats->stamp_frames > 0)
    {
      json_builder_set_member_name (b, "latency_ms");
      json_builder_add_double_value (b, stats->latency_ms);
    }
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, stats->path);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}
