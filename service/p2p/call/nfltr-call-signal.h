/* nfltr-call-signal.h — the messages of a call on the session's CALL stream (docs/protocol.md
 * §14.2). Each is one §9.8 message (u32 BE length | JSON object) on a stream of kind 4:
 *
 *   {"t":"ring","video":true}          the caller asks (a call inside a running session)
 *   {"t":"accept"} / {"t":"decline"}   the callee's answer
 *   {"t":"offer","sdp":"v=0…"}         the initiator's SDP offer (webrtcbin)
 *   {"t":"answer","sdp":"v=0…"}        the other side's SDP answer
 *   {"t":"ice","m":0,"c":"candidate:…"} one trickled ICE candidate of m-line m
 *   {"t":"bye","reason":"…"}           hang up
 *
 * The same JSON text crosses D-Bus between the service and the process that runs the media
 * (Call.Send, Call::Received), so both ends check it with this one parser. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* An SDP of two m-lines with every codec webrtcbin offers stays under 8 KiB; 64 KiB leaves room
 * and keeps one message well inside NFLTR_P2P_MESSAGE_MAX. */
#define NFLTR_CALL_SDP_MAX       (64 * 1024)
/* The same bound as a pairing candidate (§9.2). */
#define NFLTR_CALL_CANDIDATE_MAX 512
#define NFLTR_CALL_MLINE_MAX     16
#define NFLTR_CALL_REASON_MAX    256

typedef enum {
  NFLTR_CALL_SIGNAL_RING = 1,
  NFLTR_CALL_SIGNAL_ACCEPT,
  NFLTR_CALL_SIGNAL_DECLINE,
  NFLTR_CALL_SIGNAL_OFFER,
  NFLTR_CALL_SIGNAL_ANSWER,
  NFLTR_CALL_SIGNAL_ICE,
  NFLTR_CALL_SIGNAL_BYE,
} NfltrCallSignalType;

typedef struct {
  NfltrCallSignalType type;
  gboolean video;  /* RING */
  char *sdp;       /* OFFER, ANSWER */
  guint mline;     /* ICE */
  char *candidate; /* ICE: "candidate:…" */
  char *reason;    /* BYE, DECLINE: may be NULL */
} NfltrCallSignal;

NfltrCallSignal *nfltr_call_signal_new         (NfltrCallSignalType type);
void             nfltr_call_signal_free        (NfltrCallSignal *signal);
/* NULL with error set (NFLTR_P2P_ERROR_MALFORMED) when the object is not one of the messages
 * above, with each field in its bounds. */
NfltrCallSignal *nfltr_call_signal_from_json   (JsonObject *object,
                                                GError    **error);
NfltrCallSignal *nfltr_call_signal_parse       (const char *text,
                                                gssize      len,
                                                GError    **error);
JsonObject      *nfltr_call_signal_to_json     (const NfltrCallSignal *signal);
char            *nfltr_call_signal_to_string   (const NfltrCallSignal *signal);
const char      *nfltr_call_signal_type_name   (NfltrCallSignalType type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrCallSignal, nfltr_call_signal_free)

G_END_DECLS
