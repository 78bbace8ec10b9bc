/* relay-udp.h — the relay's UDP port: the same number as its TLS port (docs/relay.md "UDP").
 *
 * Datagrams are sorted by their first bytes, as the TCP listener sorts connections:
 *   STUN (RFC 5389 §6): the two top bits of byte 0 are zero and bytes 4–7 are the magic
 *     cookie 0x2112A442 → answered here (Binding requests: the sender's address as
 *     XOR-MAPPED-ADDRESS, then FINGERPRINT), for the P2P track's server-reflexive candidates;
 *     also an RFC 3489 Binding request (no cookie: type 0x0001 and its exact length), answered
 *     with MAPPED-ADDRESS — libnice discovers server-reflexive candidates that way;
 *   WireGuard (its whitepaper §5.4): byte 0 is a message type 1–4 and bytes 1–3 are zero →
 *     handed to the WireGuard track's handler when one is set (relay_udp_set_wg_handler);
 *   anything else → dropped, counted. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _RelayUdp RelayUdp;

typedef enum {
  RELAY_UDP_STUN,
  RELAY_UDP_WIREGUARD,
  RELAY_UDP_OTHER,
} RelayUdpKind;

#define RELAY_STUN_MAGIC_COOKIE 0x2112A442u /* RFC 5389 §6 */
#define RELAY_STUN_HEADER       20
#define RELAY_STUN_MAX          548         /* RFC 5389 §7.1: fits the IPv4 minimum MTU path */

/* Which track a datagram is for (pure: the fuzz target's entry point too). */
RelayUdpKind relay_udp_classify (const guint8 *data,
                                 gsize         len);
/* The answer to a STUN message from `from`, written to out (at least RELAY_STUN_MAX bytes):
 * its length, or 0 when nothing is to be sent (not a well-formed Binding request). */
gsize        relay_stun_answer  (const guint8   *request,
                                 gsize           len,
                                 GSocketAddress *from,
                                 guint8         *out);

typedef void (*RelayUdpHandler) (RelayUdp       *udp,
                                 const guint8   *data,
                                 gsize           len,
                                 GSocketAddress *from,
                                 gpointer        user_data);

/* Binds address (port 0: any) and serves on the thread-default main context. */
RelayUdp    *relay_udp_new      (GInetSocketAddress *address,
                                 GError            **error);
void         relay_udp_free     (RelayUdp *udp);
guint16      relay_udp_get_port (RelayUdp *udp);
GSocket     *relay_udp_get_socket (RelayUdp *udp);
void         relay_udp_set_wg_handler (RelayUdp        *udp,
                                       RelayUdpHandler  handler,
                                       gpointer         user_data);
/* Counters, for logs and tests. */
guint64      relay_udp_get_count (RelayUdp     *udp,
                                  RelayUdpKind  kind);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayUdp, relay_udp_free)

G_END_DECLS
