/* nfltr-proto.h — codec for the agent–relay wire protocol (docs/protocol.md) */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* docs/protocol.md §4. NFLTR_PROTO_VERSION is the highest version this side speaks (§8.1). */
#define NFLTR_PROTO_VERSION        1
#define NFLTR_PROTO_HEADER_SIZE    8
#define NFLTR_PROTO_ATTR_HEADER_SIZE 6   /* type u16, length u32 */
#define NFLTR_PROTO_MAX_PAYLOAD    (1024 * 1024)
#define NFLTR_PROTO_FINGERPRINT_SIZE 32
#define NFLTR_PROTO_CONN_ID_SIZE   16
/* docs/protocol.md §5 */
#define NFLTR_PROTO_ATTACH_MAGIC   "NFLTRD"
#define NFLTR_PROTO_ATTACH_SIZE    40
/* docs/protocol.md §5.1 (warm pool): what the relay writes first on a pooled data connection
 * when a public client takes it — magic, version, length, the client's "IP:PORT". */
#define NFLTR_PROTO_TAKE_MAGIC     "NFLTRT"
#define NFLTR_PROTO_TAKE_HEADER_SIZE 8
#define NFLTR_PROTO_TAKE_MAX_SIZE  (NFLTR_PROTO_TAKE_HEADER_SIZE + 255)
#define NFLTR_PROTO_FEATURE_WARM_POOL "warm-pool"
#define NFLTR_PROTO_WS_SUBPROTOCOL "nfltr.v1"
/* issue 11, mTLS (§12.1): HELLO's api-key when the credential is the TLS client certificate. */
#define NFLTR_PROTO_MTLS_MARKER "nfltr_mtls"
#define NFLTR_PROTO_CONTROL_PATH   "/agent/v1/control"
/* docs/protocol.md §8.2 */
#define NFLTR_PROTO_FEATURE_MAX_LEN 32

/* Header flags, docs/protocol.md §4.1. A sender sets only known bits; a receiver ignores the
 * reserved ones (the decoder clears them). */
#define NFLTR_FRAME_FLAG_IGNORABLE 0x0001
#define NFLTR_FRAME_FLAGS_KNOWN    NFLTR_FRAME_FLAG_IGNORABLE

typedef enum {
  NFLTR_FRAME_HELLO       = 0x01,
  NFLTR_FRAME_WELCOME     = 0x02,
  NFLTR_FRAME_ERROR       = 0x03,
  NFLTR_FRAME_PING        = 0x04,
  NFLTR_FRAME_PONG        = 0x05,
  NFLTR_FRAME_BIND        = 0x10,
  NFLTR_FRAME_BOUND       = 0x11,
  NFLTR_FRAME_UNBIND      = 0x12,
  NFLTR_FRAME_RELEASE     = 0x13,
  NFLTR_FRAME_RELEASED    = 0x14,
  NFLTR_FRAME_CONN_OPEN   = 0x20,
  NFLTR_FRAME_CONN_REFUSE = 0x21,
  NFLTR_FRAME_WG_PACKET   = 0x40,
  /* the WireGuard track's membership frames (docs/protocol.md §11) */
  NFLTR_FRAME_WG_JOIN     = 0x41,
  NFLTR_FRAME_WG_JOINED   = 0x42,
  NFLTR_FRAME_WG_LEAVE    = 0x43,
  NFLTR_FRAME_WG_LEFT     = 0x44,
  NFLTR_FRAME_WG_PEER     = 0x45,
  NFLTR_FRAME_WG_PEER_GONE = 0x46,
  NFLTR_FRAME_P2P_SIGNAL  = 0x50,
  NFLTR_FRAME_P2P_RELAY   = 0x51,
  NFLTR_FRAME_TURN_REQUEST     = 0x58, /* issue 14: calls' TURN credentials (§14.4) */
  NFLTR_FRAME_TURN_CREDENTIALS = 0x59,
  NFLTR_FRAME_A2A_MESSAGE = 0x60,
} NfltrFrameType;

typedef enum {
  NFLTR_ATTR_PROTO_VERSION = 1,
  NFLTR_ATTR_API_KEY       = 2,
  NFLTR_ATTR_AGENT_ID      = 3,
  NFLTR_ATTR_AGENT_VERSION = 4,
  NFLTR_ATTR_RELAY_VERSION = 5,
  NFLTR_ATTR_DOMAIN        = 6,
  NFLTR_ATTR_SESSION_ID    = 7,
  NFLTR_ATTR_CODE          = 8,
  NFLTR_ATTR_MESSAGE       = 9,
  NFLTR_ATTR_REQUEST_ID    = 10,
  NFLTR_ATTR_NAME          = 11,
  NFLTR_ATTR_MODE          = 12,
  NFLTR_ATTR_FINGERPRINT   = 13,
  NFLTR_ATTR_HOST          = 14,
  NFLTR_ATTR_URL           = 15,
  NFLTR_ATTR_CONN_ID       = 16,
  NFLTR_ATTR_CLIENT_ADDR   = 17,
  NFLTR_ATTR_SEQ           = 18,
  NFLTR_ATTR_PEER_ID       = 19,
  NFLTR_ATTR_DATA          = 20,
  NFLTR_ATTR_KIND          = 21,
  NFLTR_ATTR_FEATURES      = 22,
  NFLTR_ATTR_FRAME_TYPE    = 23,
  NFLTR_ATTR_SIGNING_KEY   = 24,  /* issue 11: the relay's proof signing key, in WELCOME */
  NFLTR_ATTR_P2P_OP        = 25,  /* P2P_SIGNAL: what the relay is asked to do (§9.7) */
  /* the a2a track's (docs/protocol.md §13), 40–49 */
  NFLTR_ATTR_A2A_OP        = 40,  /* A2A_MESSAGE: what the frame asks or says (§13.2) */
  NFLTR_ATTR_A2A_FROM      = 41,  /* the sender's agent id, set by the relay on delivery */
  NFLTR_ATTR_A2A_MSG_ID    = 42,  /* 16 bytes, random per message */
  NFLTR_ATTR_A2A_NAME      = 43,  /* a name an agent serves under (a2a serve) */
  NFLTR_ATTR_A2A_TTL       = 44,  /* u32 seconds the relay may hold it for an offline agent */
  NFLTR_ATTR_POOL_MAX      = 50,  /* BIND: idle data connections the agent keeps (§5.1) */
  NFLTR_ATTR_POOL          = 51,  /* CONN_OPEN: 1 = a warm-pool slot, no client yet (§5.1) */
  /* the WireGuard track's (docs/protocol.md §11), numbered from 64 to stay clear of the rest */
  NFLTR_ATTR_WG_ADDRESS    = 64,
  NFLTR_ATTR_WG_PORT       = 65,
  NFLTR_ATTR_WG_LABEL      = 66,
  NFLTR_ATTR_LAST_         = 66,
} NfltrAttrType;

/* docs/protocol.md §13.2: A2A_MESSAGE's a2a-op. */
typedef enum {
  NFLTR_A2A_OP_SEND      = 0, /* agent: data (an envelope) to peer-id */
  NFLTR_A2A_OP_DELIVER   = 1, /* relay → recipient: data from a2a-from */
  NFLTR_A2A_OP_ACK       = 2, /* recipient: a2a-msg-id is handled; the relay forgets it */
  NFLTR_A2A_OP_PUBLISH   = 3, /* agent: data is its 32-byte Ed25519 key (request-id; OK) */
  NFLTR_A2A_OP_LOOKUP    = 4, /* agent: peer-id's key, or a2a-name's agent (request-id; KEY) */
  NFLTR_A2A_OP_KEY       = 5, /* relay: peer-id's key in data */
  NFLTR_A2A_OP_REGISTER  = 6, /* agent: serve a2a-name (request-id; OK) */
  NFLTR_A2A_OP_OK        = 7, /* relay: the request with this request-id worked */
  NFLTR_A2A_OP_FETCH     = 8, /* agent: deliver what waits for me */
  NFLTR_A2A_OP_STORED    = 9, /* relay → sender: the recipient is offline; held (a2a-ttl) */
  NFLTR_A2A_OP_FORWARDED = 10, /* relay → sender: handed to the recipient's channel */
} NfltrA2aOp;

/* docs/protocol.md §9.7: P2P_SIGNAL's p2p-op; no attribute means FORWARD. */
typedef enum {
  NFLTR_P2P_OP_FORWARD  = 0, /* data goes to the other agent of the offer */
  NFLTR_P2P_OP_OFFER    = 1, /* sender: register the lookup id (request-id; reply OK) */
  NFLTR_P2P_OP_CLAIM    = 2, /* receiver: join the offer (request-id; reply OK) */
  NFLTR_P2P_OP_OK       = 3, /* relay: the OFFER or CLAIM with this request-id succeeded */
  NFLTR_P2P_OP_CLAIMED  = 4, /* relay → sender: a receiver joined */
  NFLTR_P2P_OP_END      = 5, /* either agent: the run ended; data[0] is an NfltrP2pEnd */
  NFLTR_P2P_OP_WITHDRAW = 6, /* sender: the offer is no longer wanted */
  NFLTR_P2P_OP_GONE     = 7, /* relay → sender: the offer expired or used up its runs */
} NfltrP2pOp;

typedef enum {
  NFLTR_P2P_END_FAILED = 0, /* the pairing failed (wrong code): one run spent */
  NFLTR_P2P_END_PAIRED = 1, /* the sender saw the peer's confirmation: runs restored */
  NFLTR_P2P_END_CLOSED = 2, /* the session is over or broke; the offer stays for a resume */
} NfltrP2pEnd;

typedef enum {
  NFLTR_MODE_VERIFIED    = 1,
  NFLTR_MODE_INSPECTABLE = 2,
} NfltrMode;

typedef enum {
  NFLTR_PROTO_ERR_PROTOCOL            = 1,
  NFLTR_PROTO_ERR_UNSUPPORTED_VERSION = 2,
  NFLTR_PROTO_ERR_AUTH_FAILED         = 3,
  NFLTR_PROTO_ERR_NAME_TAKEN          = 4,
  NFLTR_PROTO_ERR_BAD_NAME            = 5,
  NFLTR_PROTO_ERR_LIMIT               = 6,
  NFLTR_PROTO_ERR_UNSUPPORTED_FRAME   = 7,
  NFLTR_PROTO_ERR_INTERNAL            = 8,
  NFLTR_PROTO_ERR_NO_OFFER            = 9,  /* §9.7: no such P2P offer (never, expired or used up) */
  NFLTR_PROTO_ERR_OFFER_CLAIMED       = 10, /* §9.7: another peer is pairing with that offer */
  NFLTR_PROTO_ERR_NO_AGENT            = 11, /* §13.3: no such agent or a2a name (no published key) */
} NfltrProtoErrorCode;

/* Decode failures, domain NFLTR_PROTO_ERROR. The message names what was wrong. */
typedef enum {
  NFLTR_PROTO_DECODE_TRUNCATED,
  NFLTR_PROTO_DECODE_BAD_VERSION,     /* header version 0 */
  NFLTR_PROTO_DECODE_BAD_FLAGS,       /* no longer raised: reserved flags are ignored (§4.1) */
  NFLTR_PROTO_DECODE_TOO_BIG,
  NFLTR_PROTO_DECODE_BAD_LENGTH,
  NFLTR_PROTO_DECODE_BAD_ATTR,
  NFLTR_PROTO_DECODE_MISSING_ATTR,
  NFLTR_PROTO_DECODE_WRONG_TYPE,      /* a typed decoder (nfltr-messages.h) got another frame type */
} NfltrProtoDecodeError;

#define NFLTR_PROTO_ERROR (nfltr_proto_error_quark ())
GQuark nfltr_proto_error_quark (void);

/* A decoded or to-be-encoded frame: a type, header flags and version, plus a set of
 * attributes. Each attribute is at most once; values are kept as bytes. A new frame has
 * version NFLTR_PROTO_VERSION and no flags. */
typedef struct _NfltrFrame NfltrFrame;

NfltrFrame   *nfltr_frame_new          (NfltrFrameType type);
void          nfltr_frame_free         (NfltrFrame *frame);
NfltrFrameType nfltr_frame_get_type    (const NfltrFrame *frame);
/* Header flags (§4.1). set_flags takes only known bits (NFLTR_FRAME_FLAGS_KNOWN). */
guint16       nfltr_frame_get_flags    (const NfltrFrame *frame);
void          nfltr_frame_set_flags    (NfltrFrame *frame, guint16 flags);
gboolean      nfltr_frame_is_ignorable (const NfltrFrame *frame);
/* Header version byte (§4): informational, ≥ 1. The session's version is the one HELLO and
 * WELCOME settled (§8.1); a sender writes that one here. */
guint8        nfltr_frame_get_version  (const NfltrFrame *frame);
void          nfltr_frame_set_version  (NfltrFrame *frame, guint8 version);
/* NULL for a type this side does not know (the table in nfltr-messages.c). */
const char   *nfltr_frame_type_to_string (guint8 type);
/* The attribute's name (docs/protocol.md §4 "Attribute types"), NULL when unknown. */
const char   *nfltr_proto_attr_to_string (guint attr);
const char   *nfltr_proto_error_code_to_string (guint16 code);

void          nfltr_frame_set_bytes    (NfltrFrame *frame, NfltrAttrType attr, const void *data, gsize len);
void          nfltr_frame_set_string   (NfltrFrame *frame, NfltrAttrType attr, const char *value);
void          nfltr_frame_set_u8       (NfltrFrame *frame, NfltrAttrType attr, guint8 value);
void          nfltr_frame_set_u16      (NfltrFrame *frame, NfltrAttrType attr, guint16 value);
void          nfltr_frame_set_u32      (NfltrFrame *frame, NfltrAttrType attr, guint32 value);
void          nfltr_frame_set_u64      (NfltrFrame *frame, NfltrAttrType attr, guint64 value);

gboolean      nfltr_frame_has          (const NfltrFrame *frame, NfltrAttrType attr);
/* Getters return FALSE / NULL when the attribute is absent. Sizes were checked on decode. */
const guint8 *nfltr_frame_get_bytes    (const NfltrFrame *frame, NfltrAttrType attr, gsize *len);
const char   *nfltr_frame_get_string   (const NfltrFrame *frame, NfltrAttrType attr);
gboolean      nfltr_frame_get_u8       (const NfltrFrame *frame, NfltrAttrType attr, guint8 *value);
gboolean      nfltr_frame_get_u16      (const NfltrFrame *frame, NfltrAttrType attr, guint16 *value);
gboolean      nfltr_frame_get_u32      (const NfltrFrame *frame, NfltrAttrType attr, guint32 *value);
gboolean      nfltr_frame_get_u64      (const NfltrFrame *frame, NfltrAttrType attr, guint64 *value);

/* Serialises header + attributes (in attribute-type order). */
GBytes       *nfltr_frame_encode       (const NfltrFrame *frame);

/* Decodes exactly one frame occupying all of data[0..len) (docs/protocol.md §4.2 step 1). Any
 * header version ≥ 1 is accepted; reserved flag bits are dropped. Unknown attribute types are
 * skipped; known ones are checked for size and (strings) UTF-8. Then checks that the
 * attributes the frame type requires (the table in nfltr-messages.c) are present. */
NfltrFrame   *nfltr_frame_decode       (const guint8 *data, gsize len, GError **error);

/* Convenience: an ERROR frame. */
NfltrFrame   *nfltr_frame_new_error    (NfltrProtoErrorCode code, const char *message);
/* An ERROR about a received frame: carries its frame-type, and its request-id if it had one
 * (§4.2 step 4). about may be NULL (then it is nfltr_frame_new_error). */
NfltrFrame   *nfltr_frame_new_error_for (NfltrProtoErrorCode code, const char *message,
                                         const NfltrFrame   *about);
/* The PONG that answers ping: the same seq (§3). */
NfltrFrame   *nfltr_frame_new_pong_for (const NfltrFrame *ping);

/* Feature lists (docs/protocol.md §8.2): tokens separated by spaces. */
gboolean      nfltr_proto_feature_is_valid (const char *token);
/* TRUE if features (NULL = none) lists token. */
gboolean      nfltr_proto_features_has (const char *features, const char *token);
/* The valid tokens of offered that supported lists too, in offered's order, each once,
 * separated by single spaces; "" when none. Either may be NULL (none). */
char         *nfltr_proto_features_intersect (const char *offered, const char *supported);

/* Data-connection preamble (docs/protocol.md §5). */
void          nfltr_proto_attach_encode (const guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE],
                                         guint8       out[NFLTR_PROTO_ATTACH_SIZE]);
gboolean      nfltr_proto_attach_decode (const guint8 *data, gsize len,
                                         guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE],
                                         GError **error);

/* Warm-pool take header (docs/protocol.md §5.1). encode: client_addr of at most 255 bytes;
 * returns the bytes written to out (NFLTR_PROTO_TAKE_MAX_SIZE). decode: 0 when data does not
 * hold the whole header yet, -1 (and error) when it is not one, else the header's size, with
 * *client_addr the client's address (newly allocated). */
gsize         nfltr_proto_take_encode   (const char *client_addr,
                                         guint8      out[NFLTR_PROTO_TAKE_MAX_SIZE]);
gssize        nfltr_proto_take_decode   (const guint8 *data, gsize len,
                                         char       **client_addr,
                                         GError     **error);

/* TRUE if name is one DNS label: [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? */
gboolean      nfltr_proto_name_is_valid (const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrFrame, nfltr_frame_free)

G_END_DECLS
