/* nfltr-messages.h — one struct, one decode and one encode per frame type, and the one table
 * of frame types (docs/protocol.md §4 "Frame types"), in the shape of WireGuard's messages.h.
 *
 * Decoders fill a struct from a frame: strings point into the frame (valid while it lives),
 * optional attributes that are absent are NULL (strings) or flagged by a has_* field. They
 * check what nfltr_frame_decode() cannot know about a value (a mode that is neither verified
 * nor inspectable, …) and return FALSE with a NFLTR_PROTO_ERROR. Encoders return a new frame
 * with the version NFLTR_PROTO_VERSION and no flags. */
#pragma once

#include "nfltr-proto.h"

G_BEGIN_DECLS

/* Who may send a frame type (docs/protocol.md §4.2 step 3). */
typedef enum {
  NFLTR_MSG_FROM_AGENT = 1 << 0,
  NFLTR_MSG_FROM_RELAY = 1 << 1,
  NFLTR_MSG_FROM_BOTH  = NFLTR_MSG_FROM_AGENT | NFLTR_MSG_FROM_RELAY,
} NfltrMsgDirection;

#define NFLTR_MSG_MAX_ATTRS 8

/* One row of the frame-type table. required and optional are 0-terminated. */
typedef struct {
  guint8              type;
  const char         *name;
  NfltrMsgDirection   direction;
  NfltrAttrType       required[NFLTR_MSG_MAX_ATTRS];
  NfltrAttrType       optional[NFLTR_MSG_MAX_ATTRS];
} NfltrMsgInfo;

/* The row for type, or NULL when this side does not know the type. */
const NfltrMsgInfo *nfltr_msg_info_lookup (guint8 type);
/* Every row, in type order; *n_rows is set to their number. */
const NfltrMsgInfo *nfltr_msg_info_all    (gsize *n_rows);
/* FALSE, with NFLTR_PROTO_DECODE_MISSING_ATTR, if a known type lacks a required attribute.
 * Unknown types have no requirements. nfltr_frame_decode() calls this. */
gboolean            nfltr_msg_check_required (const NfltrFrame *frame,
                                              GError          **error);

/* 0x01 HELLO, agent → relay */
typedef struct {
  guint16     proto_version;
  const char *api_key;
  const char *agent_id;
  const char *agent_version;   /* optional */
  const char *features;        /* optional, §8.2 */
} NfltrMsgHello;

/* 0x02 WELCOME, relay → agent */
typedef struct {
  guint16     proto_version;
  const char *session_id;
  const char *domain;
  const char *relay_version;   /* optional */
  const char *features;        /* optional on decode; always sent by the relay (§8.2) */
  const char *signing_key;     /* optional: "ed25519:<base64>", the proof key (§10) */
} NfltrMsgWelcome;

/* 0x03 ERROR, both ways */
typedef struct {
  guint16     code;            /* NfltrProtoErrorCode, or one this side does not know */
  const char *message;
  gboolean    has_request_id;
  guint32     request_id;
  const char *name;            /* optional */
  gboolean    has_frame_type;
  guint8      frame_type;
} NfltrMsgError;

/* 0x04 PING and 0x05 PONG, both ways */
typedef struct {
  guint64 seq;
} NfltrMsgPing;

typedef struct {
  guint64 seq;
} NfltrMsgPong;

/* 0x10 BIND, agent → relay */
typedef struct {
  guint32     request_id;
  const char *name;
  NfltrMode   mode;
  guint8      fingerprint[NFLTR_PROTO_FINGERPRINT_SIZE];
  const char *kind;            /* optional */
  guint16     pool_max;        /* optional, §5.1: idle data connections wanted; 0 = none */
} NfltrMsgBind;

/* 0x11 BOUND, relay → agent */
typedef struct {
  guint32     request_id;
  const char *name;
  const char *host;
  const char *url;
} NfltrMsgBound;

/* 0x12 UNBIND, agent → relay */
typedef struct {
  const char *name;
} NfltrMsgUnbind;

/* 0x13 RELEASE, agent → relay */
typedef struct {
  guint32     request_id;
  const char *name;
} NfltrMsgRelease;

/* 0x14 RELEASED, relay → agent */
typedef struct {
  guint32     request_id;
  const char *name;
} NfltrMsgReleased;

/* 0x20 CONN_OPEN, relay → agent */
typedef struct {
  guint8      conn_id[NFLTR_PROTO_CONN_ID_SIZE];
  const char *name;
  const char *client_addr;
  gboolean    pool;            /* optional, §5.1: a warm-pool slot (client_addr is "") */
} NfltrMsgConnOpen;

/* 0x21 CONN_REFUSE, agent → relay */
typedef struct {
  guint8      conn_id[NFLTR_PROTO_CONN_ID_SIZE];
  const char *message;         /* optional */
} NfltrMsgConnRefuse;

/* The reserved track frames (WG_PACKET, P2P_SIGNAL, P2P_RELAY, A2A_MESSAGE) have table rows
 * only; each track adds its struct here when it lands. */

gboolean    nfltr_msg_hello_decode        (const NfltrFrame *frame, NfltrMsgHello *msg, GError **error);
NfltrFrame *nfltr_msg_hello_encode        (const NfltrMsgHello *msg);
gboolean    nfltr_msg_welcome_decode      (const NfltrFrame *frame, NfltrMsgWelcome *msg, GError **error);
NfltrFrame *nfltr_msg_welcome_encode      (const NfltrMsgWelcome *msg);
gboolean    nfltr_msg_error_decode        (const NfltrFrame *frame, NfltrMsgError *msg, GError **error);
NfltrFrame *nfltr_msg_error_encode        (const NfltrMsgError *msg);
gboolean    nfltr_msg_ping_decode         (const NfltrFrame *frame, NfltrMsgPing *msg, GError **error);
NfltrFrame *nfltr_msg_ping_encode         (const NfltrMsgPing *msg);
gboolean    nfltr_msg_pong_decode         (const NfltrFrame *frame, NfltrMsgPong *msg, GError **error);
NfltrFrame *nfltr_msg_pong_encode         (const NfltrMsgPong *msg);
gboolean    nfltr_msg_bind_decode         (const NfltrFrame *frame, NfltrMsgBind *msg, GError **error);
NfltrFrame *nfltr_msg_bind_encode         (const NfltrMsgBind *msg);
gboolean    nfltr_msg_bound_decode        (const NfltrFrame *frame, NfltrMsgBound *msg, GError **error);
NfltrFrame *nfltr_msg_bound_encode        (const NfltrMsgBound *msg);
gboolean    nfltr_msg_unbind_decode       (const NfltrFrame *frame, NfltrMsgUnbind *msg, GError **error);
NfltrFrame *nfltr_msg_unbind_encode       (const NfltrMsgUnbind *msg);
gboolean    nfltr_msg_release_decode      (const NfltrFrame *frame, NfltrMsgRelease *msg, GError **error);
NfltrFrame *nfltr_msg_release_encode      (const NfltrMsgRelease *msg);
gboolean    nfltr_msg_released_decode     (const NfltrFrame *frame, NfltrMsgReleased *msg, GError **error);
NfltrFrame *nfltr_msg_released_encode     (const NfltrMsgReleased *msg);
gboolean    nfltr_msg_conn_open_decode    (const NfltrFrame *frame, NfltrMsgConnOpen *msg, GError **error);
NfltrFrame *nfltr_msg_conn_open_encode    (const NfltrMsgConnOpen *msg);
gboolean    nfltr_msg_conn_refuse_decode  (const NfltrFrame *frame, NfltrMsgConnRefuse *msg, GError **error);
NfltrFrame *nfltr_msg_conn_refuse_encode  (const NfltrMsgConnRefuse *msg);

G_END_DECLS
