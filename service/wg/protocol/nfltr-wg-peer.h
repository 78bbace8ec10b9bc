/* nfltr-wg-peer.h — one peer's protocol state: its handshake, its cookie maker, its timers
 * and up to three sessions (keypairs) — previous, current and next — rotated as WireGuard's
 * noise.c does (paper §5.4.5 and §6). No sockets and no clock: the device feeds both. */
#pragma once

#include "nfltr-wg-cookie.h"
#include "nfltr-wg-noise.h"
#include "nfltr-wg-replay.h"
#include "nfltr-wg-timers.h"

G_BEGIN_DECLS

typedef struct {
  NfltrWgSessionKeys keys;
  guint64 send_counter;
  NfltrWgReplay replay;
  gint64 birth_ns;
  gboolean valid;
} NfltrWgKeypair;

typedef struct {
  guint id;
  NfltrWgHandshake handshake;
  NfltrWgCookieMaker cookie;
  NfltrWgTimers timers;
  /* kernel order: the one in use, the one before it (still accepted on receive), and the
   * responder's new one, unusable for sending until the initiator's first data packet
   * confirms it (§5.4.5). */
  NfltrWgKeypair *current;
  NfltrWgKeypair *previous;
  NfltrWgKeypair *next;
  gint64 last_sent_handshake_ns;
  gboolean sent_lastminute_handshake;
} NfltrWgPeer;

NfltrWgPeer *nfltr_wg_peer_new (guint id,
                                const NfltrWgIdentity *local,
                                const guint8 remote_static[NFLTR_WG_KEY_SIZE],
                                const guint8 *preshared_key,
                                guint persistent_keepalive_s);
void nfltr_wg_peer_free (NfltrWgPeer *peer);

/* Installs the keys of a completed handshake; returns the keypair that was dropped to make
 * room (its local index must be freed by the caller), possibly more than one through
 * *dropped2. */
NfltrWgKeypair *nfltr_wg_peer_add_keypair (NfltrWgPeer *peer,
                                           const NfltrWgSessionKeys *keys,
                                           gint64 now_ns,
                                           NfltrWgKeypair **dropped2);

/* A data packet authenticated under keypair: if that was the pending next one, it becomes
 * current (returns TRUE: the handshake is now confirmed); the former previous is returned in
 * *dropped for the caller to free. */
gboolean nfltr_wg_peer_received_with_keypair (NfltrWgPeer *peer, NfltrWgKeypair *keypair, NfltrWgKeypair **dropped);

/* A keypair may send/receive while younger than REJECT_AFTER_TIME and under
 * REJECT_AFTER_MESSAGES (§6.1). */
gboolean nfltr_wg_keypair_usable (const NfltrWgKeypair *keypair, gint64 now_ns);

/* §6.2 on the sending side: the current session wants a rekey (too many messages, or older
 * than REKEY_AFTER_TIME and we were its initiator). rekey_after_time_s is normally
 * NFLTR_WG_REKEY_AFTER_TIME_S. */
gboolean nfltr_wg_peer_should_rekey_on_send (const NfltrWgPeer *peer, gint64 now_ns, gint64 rekey_after_time_s);
/* §6.2 on the receiving side: the initiator's session nears REJECT_AFTER_TIME; one last
 * handshake is tried (once per session). */
gboolean nfltr_wg_peer_should_rekey_on_receive (NfltrWgPeer *peer, gint64 now_ns);

/* Drops every keypair (returned through the array for index bookkeeping, up to 3) and the
 * handshake state, as the ZERO_KEY_MATERIAL timer does. */
guint nfltr_wg_peer_zero_keys (NfltrWgPeer *peer, NfltrWgKeypair *dropped[3]);

void nfltr_wg_keypair_free (NfltrWgKeypair *keypair);

G_END_DECLS
