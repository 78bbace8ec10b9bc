/* nfltr-p2p-message.h — the pairing and signalling messages two agents exchange before
 * their session keys exist (docs/protocol.md §9.2). The relay carries them (P2P_SIGNAL)
 * and sees them all; nothing in them helps it guess the code.
 *
 *   message = version (u8, 1) | type (u8) | body length (u16 BE) | body
 *
 * Each type has an exact body layout, checked before anything is read (as WireGuard's
 * validate_header_len does). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NFLTR_P2P_MSG_VERSION     1
#define NFLTR_P2P_MSG_HEADER      4
#define NFLTR_P2P_SID_BYTES       16
#define NFLTR_P2P_NONCE_BYTES     32
#define NFLTR_P2P_SHARE_BYTES     32
#define NFLTR_P2P_CONFIRM_BYTES   32
/* RFC 8445 §5.3: ice-ufrag at least 4 and ice-pwd at least 22 characters, both at most 256. */
#define NFLTR_P2P_UFRAG_MIN       4
#define NFLTR_P2P_PWD_MIN         22
#define NFLTR_P2P_ICE_STRING_MAX  256
#define NFLTR_P2P_CANDIDATE_MAX   512

typedef enum {
  NFLTR_P2P_MSG_PAKE_A          = 1, /* sender → receiver: sid, Ya, challenge nonce */
  NFLTR_P2P_MSG_PAKE_B          = 2, /* receiver → sender: Yb, challenge nonce */
  NFLTR_P2P_MSG_ICE_CREDENTIALS = 3, /* ufrag, pwd */
  NFLTR_P2P_MSG_ICE_CANDIDATE   = 4, /* one SDP candidate attribute value (trickle ICE) */
  NFLTR_P2P_MSG_ICE_DONE        = 5, /* end of candidates: the transcript is complete */
  NFLTR_P2P_MSG_CONFIRM         = 6, /* HMAC over the whole transcript */
  NFLTR_P2P_MSG_ABORT           = 7, /* reason */
} NfltrP2pMsgType;

typedef enum {
  NFLTR_P2P_ABORT_CANCELLED     = 1,
  NFLTR_P2P_ABORT_CODE_MISMATCH = 2,
  NFLTR_P2P_ABORT_PROTOCOL      = 3,
} NfltrP2pAbortReason;

typedef struct {
  NfltrP2pMsgType type;
  guint8          sid[NFLTR_P2P_SID_BYTES];
  guint8          share[NFLTR_P2P_SHARE_BYTES];
  guint8          nonce[NFLTR_P2P_NONCE_BYTES];
  guint8          tag[NFLTR_P2P_CONFIRM_BYTES];
  char           *ufrag;
  char           *pwd;
  char           *candidate;
  guint8          reason;
} NfltrP2pMessage;

void     nfltr_p2p_message_clear (NfltrP2pMessage *msg);
GBytes  *nfltr_p2p_message_encode (const NfltrP2pMessage *msg);
gboolean nfltr_p2p_message_decode (const guint8    *data,
                                   gsize            len,
                                   NfltrP2pMessage *msg,
                                   GError         **error);
const char *nfltr_p2p_message_type_name (guint8 type);

G_END_DECLS
