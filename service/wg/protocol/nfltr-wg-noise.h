/* nfltr-wg-noise.h — the Noise_IKpsk2 handshake of the WireGuard paper §5.4.2–§5.4.5, one
 * function per message and per side, and the derivation of the transport keys.
 *
 * Deterministic: the ephemeral private key, the TAI64N timestamp and the local index are
 * passed in by the caller (the device draws them from libsodium's CSPRNG and the clock), so
 * the unit tests replay a handshake byte for byte. mac1/mac2 are not touched here
 * (nfltr-wg-cookie.h fills and checks them). */
#pragma once

#include "nfltr-wg-messages.h"

G_BEGIN_DECLS

/* §5.4: Construction and Identifier. */
#define NFLTR_WG_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define NFLTR_WG_IDENTIFIER "WireGuard v1 zx2c4 Jason@zx2c4.com"

typedef struct {
  guint8 private_key[NFLTR_WG_KEY_SIZE];
  guint8 public_key[NFLTR_WG_KEY_SIZE];
} NfltrWgIdentity;

typedef enum {
  NFLTR_WG_HANDSHAKE_ZEROED,
  NFLTR_WG_HANDSHAKE_CREATED_INITIATION,
  NFLTR_WG_HANDSHAKE_CONSUMED_INITIATION,
  NFLTR_WG_HANDSHAKE_CREATED_RESPONSE,
  NFLTR_WG_HANDSHAKE_CONSUMED_RESPONSE,
} NfltrWgHandshakeState;

/* One peer's handshake: its static key, the precomputed DH(S_priv_local, S_pub_remote), the
 * PSK (Q, all zero when unused) and the running Noise state. */
typedef struct {
  NfltrWgHandshakeState state;
  guint8 remote_static[NFLTR_WG_KEY_SIZE];
  guint8 static_static[NFLTR_WG_KEY_SIZE];
  gboolean static_static_ok;
  guint8 preshared_key[NFLTR_WG_KEY_SIZE];
  guint8 hash[NFLTR_WG_HASH_LEN];
  guint8 chaining_key[NFLTR_WG_HASH_LEN];
  guint8 ephemeral_private[NFLTR_WG_KEY_SIZE];
  guint8 remote_ephemeral[NFLTR_WG_KEY_SIZE];
  /* The greatest TAI64N accepted from this peer: an older or equal one is a replayed
   * initiation (§5.1). */
  guint8 latest_timestamp[NFLTR_WG_TAI64N_LEN];
  /* Monotonic ns of the last initiation consumed, for the per-peer flood limit. */
  gint64 last_initiation_consumption_ns;
  guint32 local_index;
  guint32 remote_index;
} NfltrWgHandshake;

/* The transport keys one handshake yields (§5.4.5). */
typedef struct {
  guint8 send_key[NFLTR_WG_KEY_SIZE];
  guint8 receive_key[NFLTR_WG_KEY_SIZE];
  guint32 local_index;
  guint32 remote_index;
  gboolean initiator;
} NfltrWgSessionKeys;

void nfltr_wg_identity_init (NfltrWgIdentity *identity, const guint8 private_key[NFLTR_WG_KEY_SIZE]);

void nfltr_wg_handshake_init (NfltrWgHandshake *handshake,
                              const NfltrWgIdentity *local,
                              const guint8 remote_static[NFLTR_WG_KEY_SIZE],
                              const guint8 *preshared_key);
/* Forgets the running state (not the peer's keys nor the latest timestamp). */
void nfltr_wg_handshake_clear (NfltrWgHandshake *handshake);

/* Initiator, §5.4.2. Fills msg up to (not including) the MACs. */
gboolean nfltr_wg_handshake_create_initiation (NfltrWgHandshake *handshake,
                                               const NfltrWgIdentity *local,
                                               NfltrWgMessageInitiation *msg,
                                               const guint8 ephemeral_private[NFLTR_WG_KEY_SIZE],
                                               const guint8 timestamp[NFLTR_WG_TAI64N_LEN],
                                               guint32 local_index);

/* Responder, §5.4.2, first half: decrypts the initiator's static key. The partial state is
 * kept in *scratch for _finish. Returns FALSE if the message does not decrypt. */
gboolean nfltr_wg_handshake_consume_initiation_begin (const NfltrWgIdentity *local,
                                                      const NfltrWgMessageInitiation *msg,
                                                      NfltrWgHandshake *scratch,
                                                      guint8 remote_static[NFLTR_WG_KEY_SIZE]);
/* Second half, on the peer's handshake found by remote_static: checks the timestamp (must
 * grow) and the flood limit (at most 50 initiations a second per peer, as WireGuard's
 * INITIATIONS_PER_SECOND), then takes over the state. */
gboolean nfltr_wg_handshake_consume_initiation_finish (NfltrWgHandshake *handshake,
                                                       const NfltrWgHandshake *scratch,
                                                       const NfltrWgMessageInitiation *msg,
                                                       gint64 now_ns);

/* Responder, §5.4.3. */
gboolean nfltr_wg_handshake_create_response (NfltrWgHandshake *handshake,
                                             NfltrWgMessageResponse *msg,
                                             const guint8 ephemeral_private[NFLTR_WG_KEY_SIZE],
                                             guint32 local_index);

/* Initiator, §5.4.3. */
gboolean nfltr_wg_handshake_consume_response (NfltrWgHandshake *handshake,
                                              const NfltrWgIdentity *local,
                                              const NfltrWgMessageResponse *msg);

/* §5.4.5: after CREATED_RESPONSE (responder) or CONSUMED_RESPONSE (initiator), derives the
 * transport keys and clears the running state. */
gboolean nfltr_wg_handshake_derive_keys (NfltrWgHandshake *handshake, NfltrWgSessionKeys *keys);

G_END_DECLS
