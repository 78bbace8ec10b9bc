/* relay-wg-classify.h — all the relay ever reads of a WireGuard datagram: its outer header
 * (type, the sender and receiver indices) and, for a handshake initiation, whether its mac1
 * was made for a given public key (paper §5.4.4: mac1 = MAC(HASH(LABEL_MAC1 ‖ Spub), msg)).
 * Nothing is decrypted: the relay holds no private key. Pure functions, fuzzed by
 * fuzz/fuzz-relay-wg.c. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RELAY_WG_KEY_LEN 32

typedef struct {
  guint8  type;       /* 1 initiation, 2 response, 3 cookie reply, 4 data (paper §5.4) */
  guint32 sender;     /* types 1 and 2 */
  guint32 receiver;   /* types 2, 3 and 4 */
} RelayWgHeader;

/* FALSE unless the datagram is one of the four messages with its exact length (data: at
 * least 32 bytes) and reserved bytes zero, as WireGuard's validate_header_len(). */
gboolean relay_wg_classify   (const guint8  *datagram,
                              gsize          len,
                              RelayWgHeader *header);

/* HASH(LABEL_MAC1 ‖ public_key), computed once per member. */
void     relay_wg_mac1_key   (const guint8 public_key[RELAY_WG_KEY_LEN],
                              guint8       mac1_key[RELAY_WG_KEY_LEN]);
/* TRUE if the handshake message (type 1 or 2, already classified) carries a mac1 made with
 * mac1_key, i.e. it is addressed to that key's holder. */
gboolean relay_wg_mac1_matches (const guint8 *datagram,
                                gsize         len,
                                const guint8  mac1_key[RELAY_WG_KEY_LEN]);

G_END_DECLS
