/* nfltr-call-media.c — one call's media on webrtcbin (docs/protocol.md §14.3).
 *
 * Send: source → (stamp) → tee → VP8 (realtime, error resilient) → RTP → webrtcbin, and a
 * local preview off the tee; source → (echo cancellation) → mute → Opus (in-band FEC) → RTP.
 * Receive: webrtcbin's src pads → depayloader → decoder → appsink (RGBA, the app's window) or
 * fakesink; Opus with packet loss concealment. webrtcbin does ICE (libnice), DTLS-SRTP, RTCP,
 * the jitter buffers and, as set on each transceiver here, NACK/RTX and ULPFEC/RED.
 *
 * Threads: webrtcbin calls back on its own and on streaming threads; everything the caller
 * sees ("signal", "failed", "connected") is emitted on the main context the media was made
 * on; the counters are atomics and the stats a copy under a lock. */
#define G_LOG_DOMAIN "nfltr-call"

#include "nfltr-call-media.h"
#include "nfltr-call-media-private.h"
#include "nfltr-p2p-error.h"

#include <gio/gio.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <json-glib/json-glib.h>
#include <string.h>

enum {
  SIG_SIGNAL,
  SIG_FAILED,
  SIG_CONNECTED,
  SIG_FRAME,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NfltrCallMedia, nfltr_call_media, G_TYPE_OBJECT)

/* --- to the main context ----------------------------------------------------------------- */

typedef struct {
  NfltrCallMedia *self;
  NfltrCallSignal *signal;
  char *failure;
  gboolean connected;
} Emission;

static gboolean
emit_cb (gpointer user_data)
{
  Emission *e = user_data;

  if (e->signal != NULL && !e->self->stopped)
    g_signal_emit (e->self, signals[SIG_SIGNAL], 0, e->signal);
  if (e->failure != NULL)
    g_signal_emit (e->self, signals[SIG_FAILED], 0, e->failure);
  if (e->connected)
    g_signal_emit (e->self, signals[SIG_CONNECTED], 0);
  return G_SOURCE_REMOVE;
}

static void
emission_free (gpointer user_data)
{
  Emission *e = user_data;

  nfltr_call_signal_free (e->signal);
  g_free (e->failure);
  g_object_unref (e->self);
  g_free (e);
}

static void
emit_later (NfltrCallMedia *self, NfltrCallSignal *signal, const char *failure, gboolean connected)
{
  Emission *e = g_new0 (Emission, 1);

  e->self = g_object_ref (self);
  e->signal = signal;
  e->failure = g_strdup (failure);
  e->connected = connected;
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, emit_cb, e, emission_free);
}

static void
fail (NfltrCallMedia *self, const char *message)
{
  gboolean first;

  g_mutex_lock (&self->lock);
  first = !self->failed;
  self->failed = TRUE;
  g_strlcpy (self->stats.state, "failed", sizeof self->stats.state);
  g_mutex_unlock (&self->lock);
  if (first)
    {
      g_message ("call media failed: %s", message);
      emit_later (self, NULL, message, FALSE);
    }
}

/* --- SDP and the fingerprint ----------------------------------------------------------- */

/* webrtcbin 1.22 hands the DTLS layer no fingerprint to check: the peer's certificate is
 * accepted whatever it is. So we check it here, against the SDP that came through the
 * authenticated session, before the call counts as connected. */
static void
check_fingerprint (NfltrCallMedia *self)
{
  g_autoptr(GstWebRTCRTPTransceiver) trans = NULL;
  g_autoptr(GstWebRTCRTPSender) sender = NULL;
  g_autoptr(GstWebRTCDTLSTransport) dtls = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *seen = NULL;

  g_signal_emit_by_name (self->webrtc, "get-transceiver", 0, &trans);
  if (trans != NULL)
    g_object_get (trans, "sender", &sender, NULL);
  if (sender != NULL)
    g_object_get (sender, "transport", &dtls, NULL);
  if (dtls != NULL)
    g_object_get (dtls, "remote-certificate", &pem, NULL);
  seen = pem != NULL ? nfltr_call_certificate_fingerprint (pem) : NULL;
  if (seen == NULL || self->remote_fingerprint == NULL)
    {
      fail (self, "the peer's DTLS certificate could not be read");
      return;
    }
  if (!g_str_equal (seen, self->remote_fingerprint))
    {
      g_autofree char *message = g_strdup_printf (
        "the peer's DTLS certificate (sha-256 %.23s...) does not match the fingerprint in the "
        "authenticated SDP (%.23s...): the media is not from the person who typed the code",
        seen, self->remote_fingerprint);
      fail (self, message);
      return;
    }
  g_message ("call media: DTLS certificate matches the authenticated fingerprint %.23s...", seen);
  g_mutex_lock (&self->lock);
  self->connected = TRUE;
  g_strlcpy (self->stats.state, "connected", sizeof self->stats.state);
  g_mutex_unlock (&self->lock);
  emit_later (self, NULL, NULL, TRUE);
}

static void
connection_state_cb (GstElement *webrtc, GParamSpec *pspec, NfltrCallMedia *self)
{
  GstWebRTCPeerConnectionState state;

  g_object_get (webrtc, "connection-state", &state, NULL);
  g_debug ("connection state %d", state);
  switch (state)
    {
      case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED:
        if (!self->connected && !self->failed)
          check_fingerprint (self);
        break;
      case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED:
        fail (self, "the media connection failed (ICE or DTLS)");
        break;
      case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTING:
        g_mutex_lock (&self->lock);
        if (!self->failed && !self->connected)
          g_strlcpy (self->stats.state, "connecting", sizeof self->stats.state);
        g_mutex_unlock (&self->lock);
        break;
      case GST_WEBRTC_PEER_CONNECTION_STATE_NEW:
      case GST_WEBRTC_PEER_CONNECTION_STATE_DISCONNECTED:
      case GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED:
      default: break;
    }
}

/* --- negotiation ---------------------------------------------------------------------- */

static void
send_description (NfltrCallMedia *self, GstWebRTCSessionDescription *desc)
{
  NfltrCallSignal *signal;

  signal = nfltr_call_signal_new (desc->type == GST_WEBRTC_SDP_TYPE_OFFER ? NFLTR_CALL_SIGNAL_OFFER
                                                                          : NFLTR_CALL_SIGNAL_ANSWER);
  signal->sdp = gst_sdp_message_as_text (desc->sdp);
  emit_later (self, signal, NULL, FALSE);
}

static void
description_created_cb (GstPromise *promise, gpointer user_data)
{
  NfltrCallMedia *self = user_data;
  const GstStructure *reply = gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED
                                ? gst_promise_get_reply (promise)
                                : NULL;
  GstWebRTCSessionDescription *desc = NULL;
  const char *field = self->config.initiator ? "offer" : "answer";

  if (reply != NULL)
    gst_structure_get (reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL);
  gst_promise_unref (promise);
  if (desc == NULL)
    {
      fail (self, "webrtcbin made no SDP");
      return;
    }
  g_signal_emit_by_name (self->webrtc, "set-local-description", desc, NULL);
  send_description (self, desc);
  gst_webrtc_session_description_free (desc);
}

static void
negotiation_needed_cb (GstElement *webrtc, NfltrCallMedia *self)
{
  if (!self->config.initiator)
    return;
  g_signal_emit_by_name (webrtc, "create-offer", NULL,
                         gst_promise_new_with_change_func (description_created_cb, self, NULL));
}

static void
remote_set_cb (GstPromise *promise, gpointer user_data)
{
  NfltrCallMedia *self = user_data;

  gst_promise_unref (promise);
  if (!self->config.initiator)
    g_signal_emit_by_name (self->webrtc, "create-answer", NULL,
                           gst_promise_new_with_change_func (description_created_cb, self, NULL));
}

static void
ice_candidate_cb (GstElement *webrtc, guint mline, const char *candidate, NfltrCallMedia *self)
{
  NfltrCallSignal *signal;

  if (candidate == NULL || !g_str_has_prefix (candidate, "candidate:"))
    return;
  signal = nfltr_call_signal_new (NFLTR_CALL_SIGNAL_ICE);
  signal->mline = mline;
  signal->candidate = g_strdup (candidate);
  emit_later (self, signal, NULL, FALSE);
}

void
nfltr_call_media_take_signal (NfltrCallMedia *self, const NfltrCallSignal *signal)
{
  g_return_if_fail (NFLTR_IS_CALL_MEDIA (self));

  if (self->failed || self->stopped || self->webrtc == NULL)
    return;
  switch (signal->type)
    {
      case NFLTR_CALL_SIGNAL_OFFER:
      case NFLTR_CALL_SIGNAL_ANSWER:
        {
          GstSDPMessage *sdp = NULL;
          GstWebRTCSessionDescription *desc;
          gboolean offer = signal->type == NFLTR_CALL_SIGNAL_OFFER;

          if (offer == self->config.initiator)
            {
              fail (self, offer ? "both sides made an offer" : "an answer came to the side that answers");
              return;
            }
          if (gst_sdp_message_new_from_text (signal->sdp, &sdp) != GST_SDP_OK ||
              gst_sdp_message_medias_len (sdp) == 0)
            {
              if (sdp != NULL)
                gst_sdp_message_free (sdp);
              fail (self, "the peer's SDP does not parse");
              return;
            }
          if (self->tamper)
            nfltr_call_tamper_fingerprints (sdp);
          g_free (self->remote_fingerprint);
          self->remote_fingerprint = nfltr_call_sdp_fingerprint (sdp);
          if (self->remote_fingerprint == NULL)
            {
              gst_sdp_message_free (sdp);
              fail (self, "the peer's SDP has no sha-256 fingerprint");
              return;
            }
          desc = gst_webrtc_session_description_new (
            offer ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
          g_signal_emit_by_name (self->webrtc, "set-remote-description", desc,
                                 gst_promise_new_with_change_func (remote_set_cb, self, NULL));
          gst_webrtc_session_description_free (desc);
          break;
        }
      case NFLTR_CALL_SIGNAL_ICE:
        g_signal_emit_by_name (self->webrtc, "add-ice-candidate", signal->mline, signal->candidate);
        break;
      case NFLTR_CALL_SIGNAL_RING:
      case NFLTR_CALL_SIGNAL_ACCEPT:
      case NFLTR_CALL_SIGNAL_DECLINE:
      case NFLTR_CALL_SIGNAL_BYE:
      default: break;
    }
}

/* --- probes: counters, stamps, camera off -------------------------------------------- */

static GstPadProbeReturn
count_cb (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  gsize *counter = user_data;
  gint n = 1;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    n = (gint) gst_buffer_list_length (GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  g_atomic_pointer_add (counter, n);
  return GST_PAD_PROBE_OK;
}

static void
count_on (GstElement *element, const char *pad_name, gsize *counter)
{
  g_autoptr(GstPad) pad = gst_element_get_static_pad (element, pad_name);

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, count_cb, counter, NULL);
}

static guint32
stamp_now (void)
{
  return (guint32) (g_get_monotonic_time () / 100); /* 0.1 ms units */
}

/* I420 at the encoder's input: the send time as 32 black/white luma blocks, or, with the
 * camera off, a black frame. */
static GstPadProbeReturn
send_frame_cb (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  NfltrCallMedia *self = user_data;
  GstBuffer *buffer;
  GstMapInfo map;
  guint w = self->config.width, h = self->config.height;
  gsize y_size = (gsize) w * h;

  if (!self->config.stamp && !g_atomic_int_get (&self->camera_off))
    return GST_PAD_PROBE_OK;
  buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  if (!gst_buffer_map (buffer, &map, GST_MAP_WRITE) || map.size < y_size + y_size / 2)
    return GST_PAD_PROBE_OK;
  if (g_atomic_int_get (&self->camera_off))
    {
      memset (map.data, 16, y_size);
      memset (map.data + y_size, 128, y_size / 2);
    }
  if (self->config.stamp)
    {
      guint32 stamp = stamp_now ();
      guint bw = w / STAMP_ROW_BLOCKS;

      for (guint bit = 0; bit < STAMP_BITS; bit++)
        {
          guint8 v = (stamp >> (31 - bit)) & 1 ? 235 : 16;
          guint bx = (bit % STAMP_ROW_BLOCKS) * bw, by = (bit / STAMP_ROW_BLOCKS) * STAMP_BLOCK_H;

          for (guint y = by; y < by + STAMP_BLOCK_H && y < h; y++)
            memset (map.data + (gsize) y * w + bx, v, bw);
        }
    }
  gst_buffer_unmap (buffer, &map);
  return GST_PAD_PROBE_OK;
}

/* The decoder's I420 output: count it and read the stamp back. */
static GstPadProbeReturn
decoded_cb (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  NfltrCallMedia *self = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;
  guint w = self->config.width, h = self->config.height;

  g_atomic_pointer_add (&self->video_decoded, 1);
  if (!self->config.stamp || !gst_buffer_map (buffer, &map, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  if (map.size >= (gsize) w * h * 3 / 2)
    {
      guint32 stamp = 0;
      guint bw = w / STAMP_ROW_BLOCKS;
      gint64 delta;

      for (guint bit = 0; bit < STAMP_BITS; bit++)
        {
          guint x = (bit % STAMP_ROW_BLOCKS) * bw + bw / 2, y = (bit / STAMP_ROW_BLOCKS) * STAMP_BLOCK_H + STAMP_BLOCK_H / 2;

          stamp = (stamp << 1) | (map.data[(gsize) y * w + x] > 128 ? 1 : 0);
        }
      delta = (gint32) (stamp_now () - stamp);
      /* A frame whose blocks did not survive the encoder reads as nonsense: skip it. */
      if (delta >= 0 && delta < 50000)
        {
          g_atomic_pointer_add (&self->stamp_frames, 1);
          g_atomic_pointer_add (&self->stamp_sum_us, (gssize) delta * 100);
        }
    }
  gst_buffer_unmap (buffer, &map);
  return GST_PAD_PROBE_OK;
}

static GstFlowReturn
new_sample_cb (GstElement *sink, gpointer user_data)
{
  NfltrCallMedia *self = user_data;
  g_autoptr(GstSample) sample = NULL;
  gboolean remote = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (sink), "nfltr-remote"));

  g_signal_emit_by_name (sink, "pull-sample", &sample);
  if (sample != NULL)
    g_signal_emit (self, signals[SIG_FRAME], 0, remote, sample);
  return GST_FLOW_OK;
}

static GstElement *
video_sink (NfltrCallMedia *self, gboolean remote)
{
  GstElement *sink;

  if (!self->config.frames)
    {
      sink = gst_element_factory_make ("fakesink", NULL);
      g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
      return sink;
    }
  sink = gst_element_factory_make ("appsink", NULL);
  g_object_set (sink, "emit-signals", TRUE, "max-buffers", 2, "drop", TRUE, "sync", FALSE, "async", FALSE, NULL);
  g_object_set_data (G_OBJECT (sink), "nfltr-remote", GINT_TO_POINTER (remote));
  g_signal_connect (sink, "new-sample", G_CALLBACK (new_sample_cb), self);
  return sink;
}

/* --- building ------------------------------------------------------------------------- */

static GstElement *
make (const char *factory, const char *name, GError **error)
{
  GstElement *e = gst_element_factory_make (factory, name);

  if (e == NULL)
    g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED,
                 "the GStreamer element %s is missing (is gstreamer1.0-plugins-%s installed?)", factory,
                 g_str_equal (factory, "webrtcbin") || g_str_equal (factory, "webrtcdsp") ? "bad" : "good");
  return e;
}

static void
remote_pad_added_cb (GstElement *webrtc, GstPad *pad, NfltrCallMedia *self)
{
  g_autoptr(GstCaps) caps = NULL;
  const GstStructure *s;
  const char *media;
  g_autoptr(GError) error = NULL;
  GstElement *bin;
  g_autoptr(GstPad) sinkpad = NULL;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  s = gst_caps_get_structure (caps, 0);
  media = gst_structure_get_string (s, "media");
  if (g_strcmp0 (media, "video") == 0)
    {
      g_autofree char *desc =
        g_strdup_printf ("rtpvp8depay name=vdepay ! vp8dec name=vdec ! videoconvert ! "
                         "video/x-raw,format=RGBA ! queue max-size-buffers=2 leaky=downstream");
      GstElement *sink = video_sink (self, TRUE);

      bin = gst_parse_bin_from_description (desc, TRUE, &error);
      if (bin == NULL)
        {
          fail (self, error->message);
          return;
        }
      {
        GstElement *depay = gst_bin_get_by_name (GST_BIN (bin), "vdepay");
        GstElement *dec = gst_bin_get_by_name (GST_BIN (bin), "vdec");
        g_autoptr(GstPad) decsrc = gst_element_get_static_pad (dec, "src");

        count_on (depay, "src", &self->video_received);
        gst_pad_add_probe (decsrc, GST_PAD_PROBE_TYPE_BUFFER, decoded_cb, self, NULL);
        gst_object_unref (depay);
        gst_object_unref (dec);
      }
      gst_bin_add_many (GST_BIN (self->pipeline), bin, sink, NULL);
      gst_element_link (bin, sink);
      gst_element_sync_state_with_parent (sink);
    }
  else if (g_strcmp0 (media, "audio") == 0)
    {
      const char *out = !self->config.play_audio ? "fakesink sync=false async=false"
                        : self->config.audio == NFLTR_CALL_SOURCE_DEVICE
                          ? "webrtcechoprobe name=echoprobe ! autoaudiosink"
                          : "autoaudiosink";
      g_autofree char *desc =
        g_strdup_printf ("rtpopusdepay name=adepay ! opusdec name=adec plc=true use-inband-fec=true ! "
                         "audioconvert ! audioresample ! %s",
                         out);
      GstElement *depay;

      bin = gst_parse_bin_from_description (desc, TRUE, &error);
      if (bin == NULL)
        {
          fail (self, error->message);
          return;
        }
      depay = gst_bin_get_by_name (GST_BIN (bin), "adepay");
      count_on (depay, "sink", &self->audio_received);
      gst_object_unref (depay);
      g_mutex_lock (&self->lock);
      g_clear_object (&self->opusdec);
      self->opusdec = gst_bin_get_by_name (GST_BIN (bin), "adec");
      g_mutex_unlock (&self->lock);
      gst_bin_add (GST_BIN (self->pipeline), bin);
    }
  else
    return;
  sinkpad = gst_element_get_static_pad (bin, "sink");
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK)
    fail (self, "the peer's media could not be linked");
  gst_element_sync_state_with_parent (bin);
}

static void remote_pad_added_cb (GstElement *webrtc, GstPad *pad, NfltrCallMedia *self);

/* Bench baseline: RTP in the clear over loopback UDP, received through a jitter buffer into the
 * very chains webrtcbin's src pads get. */
static GstPad *
plain_sink_pad (NfltrCallMedia *self, gboolean video)
{
  GstElement *sink = gst_element_factory_make ("udpsink", NULL);

  g_object_set (sink, "host", "127.0.0.1", "port", self->config.plain_peer_port + (video ? 0 : 1), "sync", FALSE,
                "async", FALSE, NULL);
  gst_bin_add (GST_BIN (self->pipeline), sink);
  return gst_element_get_static_pad (sink, "sink");
}

static void
plain_receive (NfltrCallMedia *self, gboolean video)
{
  GstElement *src = gst_element_factory_make ("udpsrc", NULL);
  GstElement *jb = gst_element_factory_make ("rtpjitterbuffer", NULL);
  g_autoptr(GstCaps) caps = gst_caps_from_string (
    video ? "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
          : "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000");
  g_autoptr(GstPad) pad = NULL;

  g_object_set (src, "address", "127.0.0.1", "port", self->config.plain_my_port + (video ? 0 : 1), "caps", caps, NULL);
  g_object_set (jb, "latency", JITTER_LATENCY_MS, NULL);
  gst_bin_add_many (GST_BIN (self->pipeline), src, jb, NULL);
  gst_element_link (src, jb);
  pad = gst_element_get_static_pad (jb, "src");
  remote_pad_added_cb (NULL, pad, self);
}

static void
set_up_transceiver (GstPad *webrtc_pad, gboolean video)
{
  g_autoptr(GstWebRTCRTPTransceiver) trans = NULL;

  g_object_get (webrtc_pad, "transceiver", &trans, NULL);
  if (trans == NULL)
    return;
  g_object_set (trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV, "do-nack", TRUE, NULL);
  if (video)
    g_object_set (trans, "fec-type", GST_WEBRTC_FEC_TYPE_ULP_RED, "fec-percentage", FEC_PERCENTAGE, NULL);
}

static gboolean
link_send_branch (NfltrCallMedia *self, const char *desc, gboolean video, GError **error)
{
  GstElement *bin = gst_parse_bin_from_description (desc, TRUE, error);
  g_autoptr(GstPad) src = NULL;
  g_autoptr(GstPad) sink = NULL;

  if (bin == NULL)
    return FALSE;
  gst_bin_add (GST_BIN (self->pipeline), bin);
  src = gst_element_get_static_pad (bin, "src");
  sink = self->config.plain ? plain_sink_pad (self, video) : gst_element_request_pad_simple (self->webrtc, "sink_%u");
  if (sink == NULL || gst_pad_link (src, sink) != GST_PAD_LINK_OK)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED, "the %s could not be linked to webrtcbin",
                   video ? "video" : "audio");
      return FALSE;
    }
  if (!self->config.plain)
    set_up_transceiver (sink, video);
  if (video)
    {
      GstElement *enc = gst_bin_get_by_name (GST_BIN (bin), "venc");
      GstElement *conv = gst_bin_get_by_name (GST_BIN (bin), "vstamp");
      g_autoptr(GstPad) conv_src = gst_element_get_static_pad (conv, "src");

      self->venc = enc;
      count_on (enc, "src", &self->video_sent);
      gst_pad_add_probe (conv_src, GST_PAD_PROBE_TYPE_BUFFER, send_frame_cb, self, NULL);
      gst_object_unref (conv);
      if (self->config.frames)
        {
          GstElement *tee = gst_bin_get_by_name (GST_BIN (bin), "vtee");
          GstElement *q = gst_element_factory_make ("queue", NULL);
          GstElement *convert = gst_element_factory_make ("videoconvert", NULL);
          GstElement *scale = gst_element_factory_make ("videoscale", NULL);
          GstElement *filter = gst_element_factory_make ("capsfilter", NULL);
          GstElement *sink_el = video_sink (self, FALSE);
          /* The preview is drawn small: scale it here rather than hand the window more. */
          g_autoptr(GstCaps) rgba = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGBA", "width",
                                                         G_TYPE_INT, PREVIEW_WIDTH, "height", G_TYPE_INT,
                                                         PREVIEW_WIDTH * (gint) self->config.height / (gint) self->config.width,
                                                         NULL);

          g_object_set (q, "max-size-buffers", 2, "leaky", 2, NULL);
          g_object_set (filter, "caps", rgba, NULL);
          gst_bin_add_many (GST_BIN (self->pipeline), q, convert, scale, filter, sink_el, NULL);
          /* The tee sits inside the parsed bin: link through a ghost pad. */
          {
            GstPad *teepad = gst_element_request_pad_simple (tee, "src_%u");
            GstPad *ghost = gst_ghost_pad_new (NULL, teepad);

            gst_pad_set_active (ghost, TRUE);
            gst_element_add_pad (bin, ghost);
            gst_object_unref (teepad);
            gst_element_link_pads (bin, GST_OBJECT_NAME (ghost), q, "sink");
          }
          gst_element_link_many (q, convert, scale, filter, sink_el, NULL);
          gst_object_unref (tee);
        }
    }
  else
    self->mute = gst_bin_get_by_name (GST_BIN (bin), "mute");
  return TRUE;
}

static gboolean
build_webrtc (NfltrCallMedia *self, GError **error)
{
  NfltrCallMediaConfig *c = &self->config;

  self->webrtc = make ("webrtcbin", "webrtc", error);
  if (self->webrtc == NULL)
    return FALSE;
  g_object_set (self->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency", JITTER_LATENCY_MS, NULL);
  if (self->stun != NULL && *self->stun)
    g_object_set (self->webrtc, "stun-server", self->stun, NULL);
  if (self->turn != NULL && *self->turn)
    g_object_set (self->webrtc, "turn-server", self->turn, NULL);
  if (c->relay_only)
    g_object_set (self->webrtc, "ice-transport-policy", GST_WEBRTC_ICE_TRANSPORT_POLICY_RELAY, NULL);
  if (self->local_address != NULL && *self->local_address)
    {
      /* As the P2P direct path's NFLTR_P2P_LOCAL_ADDRESS: one address, e.g. loopback in tests
       * (libnice skips loopback otherwise, and a TURN server on 127.0.0.1 is then unreachable). */
      g_autoptr(GstWebRTCICE) ice = NULL;
      gboolean added = FALSE;

      g_object_get (self->webrtc, "ice-agent", &ice, NULL);
      if (ice != NULL && g_signal_lookup ("add-local-ip-address", G_OBJECT_TYPE (ice)) != 0)
        g_signal_emit_by_name (ice, "add-local-ip-address", self->local_address, &added);
      if (!added)
        g_message ("call media: could not limit ICE to %s", self->local_address);
    }
  gst_bin_add (GST_BIN (self->pipeline), self->webrtc);
  g_signal_connect (self->webrtc, "on-negotiation-needed", G_CALLBACK (negotiation_needed_cb), self);
  g_signal_connect (self->webrtc, "on-ice-candidate", G_CALLBACK (ice_candidate_cb), self);
  g_signal_connect (self->webrtc, "pad-added", G_CALLBACK (remote_pad_added_cb), self);
  g_signal_connect (self->webrtc, "notify::connection-state", G_CALLBACK (connection_state_cb), self);
  return TRUE;
}

static gboolean
build (NfltrCallMedia *self, GError **error)
{
  NfltrCallMediaConfig *c = &self->config;
  g_autofree char *video = NULL;
  g_autofree char *audio = NULL;
  g_autofree char *vsrc = NULL;

  self->pipeline = gst_pipeline_new ("call");
  if (c->plain)
    {
      plain_receive (self, TRUE);
      plain_receive (self, FALSE);
    }
  else if (!build_webrtc (self, error))
    return FALSE;

  if (c->video != NFLTR_CALL_SOURCE_NONE)
    {
      if (c->video == NFLTR_CALL_SOURCE_TEST)
        vsrc = g_strdup_printf (
          "videotestsrc is-live=true pattern=%s ! video/x-raw,width=%u,height=%u,framerate=%u/1 ! "
          "timeoverlay font-desc=\"Sans 10\"",
          self->pattern, c->width, c->height, c->fps);
      else
        vsrc = g_strdup_printf ("v4l2src%s%s ! videoconvert ! videoscale ! videorate ! "
                                "video/x-raw,width=%u,height=%u,framerate=%u/1",
                                self->video_device ? " device=" : "",
                                self->video_device ? self->video_device : "", c->width, c->height, c->fps);
      video = g_strdup_printf (
        "%s ! videoconvert name=vstamp ! video/x-raw,format=I420 ! tee name=vtee ! "
        "queue max-size-buffers=2 leaky=downstream ! "
        "vp8enc name=venc deadline=1 cpu-used=8 threads=2 end-usage=cbr target-bitrate=%u "
        "keyframe-max-dist=%u error-resilient=partitions lag-in-frames=0 ! "
        "rtpvp8pay picture-id-mode=15-bit mtu=1200 ! "
        "capsfilter caps=\"application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000\"",
        vsrc, VIDEO_START_KBPS * 1000, c->fps * 2);
      self->target_kbps = VIDEO_START_KBPS;
      if (!link_send_branch (self, video, TRUE, error))
        return FALSE;
    }
  if (c->audio == NFLTR_CALL_SOURCE_DEVICE)
    audio =
      g_strdup ("pulsesrc ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! "
                "webrtcdsp probe=echoprobe echo-cancel=true noise-suppression=true ! audioconvert ! "
                "volume name=mute ! opusenc inband-fec=true packet-loss-percentage=10 bitrate=32000 ! "
                "rtpopuspay ! capsfilter "
                "caps=\"application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000\"");
  else
    audio =
      g_strdup ("audiotestsrc is-live=true wave=sine freq=440 volume=0.2 ! audioconvert ! audioresample ! "
                "audio/x-raw,rate=48000,channels=1 ! volume name=mute ! "
                "opusenc inband-fec=true packet-loss-percentage=10 bitrate=32000 ! "
                "rtpopuspay ! capsfilter "
                "caps=\"application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000\"");
  if (c->audio != NFLTR_CALL_SOURCE_NONE && !link_send_branch (self, audio, FALSE, error))
    return FALSE;
  return TRUE;
}

/* --- controls and lifetime ------------------------------------------------------------ */

void
nfltr_call_media_set_muted (NfltrCallMedia *self, gboolean muted)
{
  if (self->mute != NULL)
    g_object_set (self->mute, "mute", muted, NULL);
}

void
nfltr_call_media_set_camera (NfltrCallMedia *self, gboolean on)
{
  g_atomic_int_set (&self->camera_off, !on);
}

void
nfltr_call_media_tamper_remote_fingerprint (NfltrCallMedia *self)
{
  self->tamper = TRUE;
}

static gboolean
bus_cb (GstBus *bus, GstMessage *message, gpointer user_data)
{
  NfltrCallMedia *self = user_data;

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *debug = NULL;
      g_autofree char *text = NULL;

      gst_message_parse_error (message, &error, &debug);
      g_debug ("%s", debug);
      text = g_strdup_printf ("%s: %s", GST_OBJECT_NAME (message->src), error->message);
      fail (self, text);
    }
  return G_SOURCE_CONTINUE;
}

gboolean
nfltr_call_media_start (NfltrCallMedia *self, GError **error)
{
  g_autoptr(GstBus) bus = NULL;

  if (!build (self, error))
    return FALSE;
  bus = gst_pipeline_get_bus (GST_PIPELINE (self->pipeline));
  gst_bus_add_watch (bus, bus_cb, self);
  g_strlcpy (self->stats.state, "new", sizeof self->stats.state);
  if (gst_element_set_state (self->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED,
                   "the call's media could not start (is the camera or microphone there?)");
      return FALSE;
    }
  if (!self->config.plain)
    self->stats_id = g_timeout_add (STATS_INTERVAL_MS, nfltr_call_media_stats_tick_cb, self);
  return TRUE;
}

void
nfltr_call_media_stop (NfltrCallMedia *self)
{
  g_autoptr(GstBus) bus = NULL;

  if (self->stopped)
    return;
  self->stopped = TRUE;
  g_clear_handle_id (&self->stats_id, g_source_remove);
  if (self->stats_promise != NULL)
    {
      /* A reply that never comes (the pipeline is going) would keep our reference forever. */
      gst_promise_interrupt (self->stats_promise);
      g_clear_pointer (&self->stats_promise, gst_promise_unref);
    }
  if (self->pipeline == NULL)
    return;
  bus = gst_pipeline_get_bus (GST_PIPELINE (self->pipeline));
  gst_bus_remove_watch (bus);
  gst_element_set_state (self->pipeline, GST_STATE_NULL);
  g_mutex_lock (&self->lock);
  g_strlcpy (self->stats.state, self->failed ? "failed" : "closed", sizeof self->stats.state);
  g_mutex_unlock (&self->lock);
}

NfltrCallMedia *
nfltr_call_media_new (const NfltrCallMediaConfig *config)
{
  NfltrCallMedia *self = g_object_new (NFLTR_TYPE_CALL_MEDIA, NULL);

  self->config = *config;
  self->pattern = g_strdup (config->pattern != NULL ? config->pattern : "smpte");
  self->video_device = g_strdup (config->video_device);
  self->stun = g_strdup (config->stun);
  self->turn = g_strdup (config->turn);
  self->local_address = g_strdup (config->local_address);
  self->config.local_address = self->local_address;
  self->config.pattern = self->pattern;
  self->config.video_device = self->video_device;
  self->config.stun = self->stun;
  self->config.turn = self->turn;
  if (self->config.width == 0)
    self->config.width = DEFAULT_WIDTH;
  if (self->config.height == 0)
    self->config.height = DEFAULT_HEIGHT;
  if (self->config.fps == 0)
    self->config.fps = DEFAULT_FPS;
  self->context = g_main_context_ref_thread_default ();
  self->stats.rtt_ms = -1;
  return self;
}

static void
nfltr_call_media_dispose (GObject *object)
{
  NfltrCallMedia *self = NFLTR_CALL_MEDIA (object);

  nfltr_call_media_stop (self);
  g_clear_object (&self->venc);
  g_clear_object (&self->mute);
  g_clear_object (&self->opusdec);
  g_clear_object (&self->pipeline);
  G_OBJECT_CLASS (nfltr_call_media_parent_class)->dispose (object);
}

static void
nfltr_call_media_finalize (GObject *object)
{
  NfltrCallMedia *self = NFLTR_CALL_MEDIA (object);

  g_free (self->pattern);
  g_free (self->video_device);
  g_free (self->stun);
  g_free (self->turn);
  g_free (self->local_address);
  g_free (self->remote_fingerprint);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (nfltr_call_media_parent_class)->finalize (object);
}

static void
nfltr_call_media_class_init (NfltrCallMediaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_call_media_dispose;
  object_class->finalize = nfltr_call_media_finalize;
  signals[SIG_SIGNAL] = g_signal_new ("signal", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                      G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIG_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIG_CONNECTED] = g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                         NULL, G_TYPE_NONE, 0);
  signals[SIG_FRAME] = g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                     G_TYPE_NONE, 2, G_TYPE_BOOLEAN, GST_TYPE_SAMPLE);
}

static void
nfltr_call_media_init (NfltrCallMedia *self)
{
  g_mutex_init (&self->lock);
}
