/* nfltr-p2p-handshake.h — pairing two agents that share a code (docs/protocol.md §9.3).
 *
 *   A (sender, has the code)              B (receiver, typed the code)
 *   PAKE_A  sid, Ya, nonce_a  ───────────►
 *           ◄─────────────────  PAKE_B  Yb, nonce_b          both: ISK (CPace)
 *   ICE_CREDENTIALS, ICE_CANDIDATE…, ICE_DONE, both ways, in any interleaving
 *   CONFIRM HMAC(kc_A, TH) ◄──────────► CONFIRM HMAC(kc_B, TH)
 *
 * TH is a hash over every message each side sent and received (one running hash per
 * direction, so the interleaving does not matter); kc_A, kc_B and the four session keys
 * come from HKDF-SHA-256 with TH as salt and ISK as input. A wrong code fails the
 * CONFIRM on both sides: "the code did not match". The caller moves the bytes; this object
 * only says what to send and whether what came is right. */
#pragma once

#include "nfltr-p2p-message.h"
#include "nfltr-p2p-record.h"

G_BEGIN_DECLS

typedef enum {
  NFLTR_P2P_ROLE_A, /* the sender: made the offer and its code, speaks first */
  NFLTR_P2P_ROLE_B, /* the receiver: typed the code */
} NfltrP2pRole;

/* The keys a finished handshake hands to the session: one pair per direction. */
typedef struct {
  guint8 a_to_b_enc[NFLTR_P2P_KEY_BYTES];
  guint8 a_to_b_mac[NFLTR_P2P_KEY_BYTES];
  guint8 b_to_a_enc[NFLTR_P2P_KEY_BYTES];
  guint8 b_to_a_mac[NFLTR_P2P_KEY_BYTES];
  guint8 transcript[32]; /* TH: both sides show the same, and the audit starts from it */
} NfltrP2pKeys;

typedef struct _NfltrP2pHandshake NfltrP2pHandshake;

NfltrP2pHandshake *nfltr_p2p_handshake_new (NfltrP2pRole role,
                                            const char  *code,
                                            GError     **error);
void               nfltr_p2p_handshake_free (NfltrP2pHandshake *hs);

/* Fixes the randomness (CPace scalar, challenge nonce, and for A the sid) so a run is
 * reproducible byte for byte: known-answer tests only. */
void               nfltr_p2p_handshake_set_fixed_randomness (NfltrP2pHandshake *hs,
                                                             const guint8       scalar[32],
                                                             const guint8       nonce[NFLTR_P2P_NONCE_BYTES],
                                                             const guint8       sid[NFLTR_P2P_SID_BYTES]);

/* A: the PAKE_A message to send first. */
GBytes            *nfltr_p2p_handshake_start (NfltrP2pHandshake *hs,
                                              GError           **error);

/* Adds a local signalling message (ICE_CREDENTIALS, ICE_CANDIDATE, ICE_DONE) to the
 * transcript and returns its encoding to send. Only after the PAKE messages. */
GBytes            *nfltr_p2p_handshake_send (NfltrP2pHandshake     *hs,
                                             const NfltrP2pMessage *msg,
                                             GError               **error);

/* Takes one message from the peer. *REPLY is set when it calls for one (B answers PAKE_A
 * with PAKE_B); *DECODED, when given, receives the message (the ICE agent wants the
 * candidates). Any failure ends the handshake. */
gboolean           nfltr_p2p_handshake_receive (NfltrP2pHandshake *hs,
                                                GBytes            *message,
                                                GBytes           **reply,
                                                NfltrP2pMessage   *decoded,
                                                GError           **error);

/* TRUE once both sides have sent and received ICE_DONE: the transcript is complete and
 * CONFIRM may be sent. */
gboolean           nfltr_p2p_handshake_can_confirm (NfltrP2pHandshake *hs);
GBytes            *nfltr_p2p_handshake_confirm (NfltrP2pHandshake *hs,
                                                GError           **error);

/* TRUE once this side sent its CONFIRM and the peer's one verified. */
gboolean           nfltr_p2p_handshake_is_done (NfltrP2pHandshake *hs);
gboolean           nfltr_p2p_handshake_get_keys (NfltrP2pHandshake *hs,
                                                 NfltrP2pKeys      *keys);
NfltrP2pRole       nfltr_p2p_handshake_get_role (NfltrP2pHandshake *hs);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrP2pHandshake, nfltr_p2p_handshake_free)

G_END_DECLS
