/* relay-wg.h — the relay's WireGuard track (docs/wireguard.md "The relay's part",
 * docs/protocol.md §11): networks and their members (public keys from WG_JOIN, stable
 * addresses in relay.db), and the forwarding of opaque WireGuard datagrams between members —
 * on a UDP port with the number of the TLS port, or inside WG_PACKET frames on a member's
 * control channel where UDP does not pass.
 *
 * Routing reads only the outer header (relay-wg-classify.h): an initiation goes to the member
 * whose public key its mac1 was made for; every other message goes by its receiver index to
 * wherever the message that announced that index (as its sender index) came from. */
#pragma once

#include "relay-types.h"
#include "nfltr-proto.h"

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _RelayWg RelayWg;

/* What the UDP side counts (the tests and the log read them). */
typedef struct {
  guint64 forwarded;         /* datagrams handed on (UDP or WG_PACKET) */
  guint64 initiations;       /* of them, handshake initiations */
  guint64 dropped_invalid;   /* not one of the four messages */
  guint64 dropped_unrouted;  /* no member / index to send it to */
  guint64 dropped_rate;      /* over a source's rate */
  guint64 dropped_other;     /* neither WireGuard- nor STUN-shaped (relay/udp) */
} RelayWgStats;

/* Opens the track's tables in data_dir/relay.db and loads every member. */
RelayWg  *relay_wg_new    (RelayServer  *server,
                           GError      **error);
/* Binds UDP on address (the relay's listen address and port). */
gboolean  relay_wg_start  (RelayWg         *wg,
                           GSocketAddress  *address,
                           GError         **error);
void      relay_wg_free   (RelayWg *wg);
void      relay_wg_get_stats (RelayWg *wg, RelayWgStats *stats);

/* Per-source limits on UDP (docs/wireguard.md): datagrams per second and handshake
 * initiations per second from one IP address. 0 keeps the default. The defaults (the
 * options `nfltr-relay serve --wg-packet-rate`, `--wg-handshake-rate`): enough for one peer's
 * bulk transfer at a few Gbit/s; initiations are costly (one MAC per member tried) and rare
 * (one per REKEY_TIMEOUT per peer). The packets' bucket holds a tenth of a second's worth,
 * the initiations' one second's. */
#define RELAY_WG_DEFAULT_PACKETS_PER_S    200000
#define RELAY_WG_DEFAULT_HANDSHAKES_PER_S 50

void      relay_wg_set_rates (RelayWg *wg,
                              guint    packets_per_s,
                              guint    handshakes_per_s);

/* Track-table handlers (agents/relay-agent.c). */
void relay_wg_handle_join   (RelayAgent *agent, const NfltrFrame *frame);
void relay_wg_handle_leave  (RelayAgent *agent, const NfltrFrame *frame);
void relay_wg_handle_packet (RelayAgent *agent, const NfltrFrame *frame);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayWg, relay_wg_free)

G_END_DECLS
