/* nfltr-call-media.h — the media of one call (docs/protocol.md §14.3): GStreamer's webrtcbin
 * (ICE via libnice, DTLS-SRTP, RTCP, jitter buffers, NACK/RTX, ULPFEC/RED) with Opus and VP8,
 * in the process that owns the camera, the microphone and the window: the app or
 * `nfltr p2p call`. Its signalling (SDP offer/answer, trickled candidates) goes out through
 * the "signal" signal and comes in through nfltr_call_media_take_signal(); the caller carries
 * it over the P2P session's CALL stream (the service's xyz.nfltr.Nfltr.Call).
 *
 * After DTLS connects, the peer's certificate is checked against the sha-256 fingerprint of
 * the SDP that came through the authenticated session; a mismatch ends the call. */
#pragma once

#include <gst/gst.h>

#include "nfltr-call-signal.h"

G_BEGIN_DECLS

typedef enum {
  NFLTR_CALL_SOURCE_NONE,
  NFLTR_CALL_SOURCE_TEST,   /* videotestsrc with a timestamp overlay / audiotestsrc tone */
  NFLTR_CALL_SOURCE_DEVICE, /* camera (v4l2src) / microphone (pulsesrc + webrtcdsp) */
} NfltrCallSource;

typedef struct {
  gboolean initiator;    /* makes the SDP offer */
  NfltrCallSource video; /* NONE: audio only */
  NfltrCallSource audio;
  const char *video_device; /* v4l2 device, NULL: the first */
  const char *pattern;      /* videotestsrc pattern nick for TEST, NULL: "smpte" */
  guint width, height, fps; /* 0: 320x240 at 15 */
  const char *stun;         /* "stun://HOST:PORT" or NULL */
  const char *turn;         /* "turn://USER:PASS@HOST:PORT" or NULL */
  gboolean relay_only;      /* ICE policy "relay": only TURN candidates (tests, privacy) */
  const char *local_address; /* gather host candidates on this address only, or NULL: all */
  gboolean frames;          /* emit "frame" with RGBA samples (the app renders them) */
  gboolean play_audio;      /* play the peer's audio (autoaudiosink), else discard it */
  gboolean stamp;           /* code the send time into the top rows (latency bench) */
  /* Bench only: the same encoders, payloaders, jitter buffer and decoders with plain RTP over
   * UDP on loopback instead of webrtcbin (no ICE, no DTLS-SRTP, no RTCP): the baseline that
   * shows what encryption and webrtcbin cost. Video to port_base+0, audio +1 of the peer's. */
  gboolean plain;
  guint plain_my_port;
  guint plain_peer_port;
} NfltrCallMediaConfig;

typedef struct {
  guint64 video_frames_received; /* VP8 frames out of the depayloader */
  guint64 video_frames_decoded;
  guint64 video_frames_sent;
  guint64 audio_packets_received; /* Opus RTP packets into the depayloader */
  guint64 audio_concealed_ms;     /* Opus packet loss concealment */
  gint64 lost;                    /* RTP packets lost, both streams (RTCP) */
  double rtt_ms;                  /* RTCP round trip, -1 unknown */
  double fraction_lost;           /* the peer's report of our video, 0..1 */
  guint bitrate_kbps;             /* received, the last second */
  guint target_kbps;              /* the VP8 encoder's target now */
  guint64 stamp_frames;           /* frames whose stamp was read back */
  double latency_ms;              /* mean glass-to-glass of those (stamp) */
  char path[16];                  /* "direct" | "relayed" | "" */
  char state[16];                 /* "new" | "connecting" | "connected" | "failed" | "closed" */
} NfltrCallStats;

#define NFLTR_TYPE_CALL_MEDIA (nfltr_call_media_get_type ())
G_DECLARE_FINAL_TYPE (NfltrCallMedia, nfltr_call_media, NFLTR, CALL_MEDIA, GObject)

/* Signals: "signal" (NfltrCallSignal *: send it to the peer), "failed" (const char *: why,
 * once), "connected" (the DTLS fingerprint checked out), "frame" (gboolean remote,
 * GstSample * RGBA: on a streaming thread). */
NfltrCallMedia *nfltr_call_media_new          (const NfltrCallMediaConfig *config);
gboolean        nfltr_call_media_start        (NfltrCallMedia *self,
                                               GError        **error);
/* An offer, answer or candidate from the peer (ring/accept/decline/bye are the caller's). */
void            nfltr_call_media_take_signal  (NfltrCallMedia        *self,
                                               const NfltrCallSignal *signal);
void            nfltr_call_media_stop         (NfltrCallMedia *self);
void            nfltr_call_media_get_stats    (NfltrCallMedia *self,
                                               NfltrCallStats *stats);
void            nfltr_call_media_set_muted    (NfltrCallMedia *self,
                                               gboolean        muted);
void            nfltr_call_media_set_camera   (NfltrCallMedia *self,
                                               gboolean        on);
/* The JSON object `nfltr p2p call --json` prints once a second (without "event"). */
char           *nfltr_call_stats_to_json      (const NfltrCallStats *stats);

/* Tests only: rewrite the sha-256 fingerprint of every SDP the peer sends before it is used,
 * as a man in the middle of an unauthenticated channel would. */
void            nfltr_call_media_tamper_remote_fingerprint (NfltrCallMedia *self);

G_END_DECLS
