/* nfltr-call-media-private.h — what nfltr-call-media.c and its stats file share: the
 * media's constants (docs/protocol.md §14.3) and its instance struct. Not installed. */
#pragma once

#include "nfltr-call-media.h"

#define GST_USE_UNSTABLE_API
#include <gst/gst.h>
#include <gst/sdp/sdp.h>

G_BEGIN_DECLS

#define DEFAULT_WIDTH      320
#define DEFAULT_HEIGHT     240
#define DEFAULT_FPS        15
/* Bandwidth adaptation (§14.3): start, floor and ceiling of the VP8 target, in kbit/s. */
#define VIDEO_START_KBPS   600
#define VIDEO_MIN_KBPS     100
#define VIDEO_MAX_KBPS     1500
#define STATS_INTERVAL_MS  1000
#define PREVIEW_WIDTH      160
/* ULPFEC's share of the video bitrate (RFC 5109 through webrtcbin's "fec-percentage"). */
#define FEC_PERCENTAGE     20
/* The jitter buffers' target (webrtcbin "latency"), in ms: a call, not a stream. */
#define JITTER_LATENCY_MS  100
/* The stamp: 32 bits as two rows of 16 blocks of the luma plane (bench and latency test). */
#define STAMP_BITS         32
#define STAMP_ROW_BLOCKS   16
#define STAMP_BLOCK_H      16

struct _NfltrCallMedia {
  GObject parent_instance;

  NfltrCallMediaConfig config;
  char *pattern;
  char *video_device;
  char *stun;
  char *turn;
  char *local_address;
  GMainContext *context;

  GstElement *pipeline;
  GstElement *webrtc;
  GstElement *venc;
  GstElement *mute;
  gboolean camera_off;
  gboolean tamper;
  gboolean failed;
  gboolean connected;
  gboolean stopped;
  char *remote_fingerprint; /* "AB:CD:…" from the peer's SDP (sha-256) */

  /* counters (atomics: streaming threads) */
  gsize video_received;
  gsize video_decoded;
  gsize video_sent;
  gsize audio_received;
  gsize stamp_frames;
  gsize stamp_sum_us;

  GMutex lock;
  NfltrCallStats stats;
  guint64 last_bytes;
  gint64 last_bytes_time;
  guint target_kbps;
  guint stats_id;
  GstPromise *stats_promise; /* the last get-stats, interrupted at stop so it lets go of us */
  GstElement *opusdec;
};

/* nfltr-call-media-stats.c: one get-stats round on webrtcbin (a GSourceFunc, every
 * STATS_INTERVAL_MS while the call runs); its answer updates the stats and adapts the bitrate. */
gboolean nfltr_call_media_stats_tick_cb (gpointer user_data);

/* nfltr-call-sdp.c: the sha-256 fingerprint ("AB:CD:…") of an SDP's first media section (or
 * its session), of a PEM certificate; NULL when there is none. */
char *nfltr_call_sdp_fingerprint         (const GstSDPMessage *sdp);
char *nfltr_call_certificate_fingerprint (const char *pem);
/* Tests only: flips one hex digit of every fingerprint in sdp, as an attacker would. */
void  nfltr_call_tamper_fingerprints     (GstSDPMessage *sdp);

G_END_DECLS
