/* nfltr-wg-device.h — one WireGuard interface in userspace: the protocol of
 * service/wg/protocol/ run over a UDP socket on a GMainContext (docs/wireguard.md).
 *
 * This is the seam the netstack (service/wg/netstack/) and the SOCKS5 front code against:
 *
 *   - nfltr_wg_device_send () delivers one inner IP packet (IPv4 or IPv6, no link header) to a
 *     peer; the device handshakes first if it has to and queues a few packets meanwhile;
 *   - the receive callback is called with every inner IP packet that arrived from a peer,
 *     after decryption, the replay check and the allowed-IPs check on its inner source.
 *
 * Everything happens on the GMainContext that was thread-default when the device was made:
 * call every function from that context's thread; callbacks run there too. The device never
 * blocks and never starts a thread.
 *
 * Peers are named by a small integer id the device hands out (stable for the peer's life;
 * 0 is never a valid id). Keys are the 32 raw bytes of WireGuard's Curve25519 keys;
 * nfltr_wg_key_from_base64 () reads the base64 form `wg` prints. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NFLTR_WG_KEY_LEN 32

/* The largest inner packet the device carries: WireGuard's default MTU for IPv4 underlay
 * (1420), also what the netstack should announce as its MTU. */
#define NFLTR_WG_DEFAULT_MTU 1420

typedef guint NfltrWgPeerId;

#define NFLTR_WG_TYPE_DEVICE (nfltr_wg_device_get_type ())
G_DECLARE_FINAL_TYPE (NfltrWgDevice, nfltr_wg_device, NFLTR_WG, DEVICE, GObject)

/* Called once per inner IP packet received from peer. packet is valid only during the
 * call. */
typedef void (*NfltrWgReceiveFunc) (NfltrWgDevice *device, NfltrWgPeerId peer, const guint8 *packet,
                                    gsize len, gpointer user_data);

/* Where outer (encrypted) WireGuard datagrams go when the device has no UDP socket of its
 * own, e.g. through the relay's control channel; endpoint is the peer's last known address
 * or NULL. Returns FALSE if the datagram was dropped. */
typedef gboolean (*NfltrWgTransmitFunc) (NfltrWgDevice *device, NfltrWgPeerId peer, GSocketAddress *endpoint,
                                         const guint8 *datagram, gsize len, gpointer user_data);

/* Counters of one peer, as `wg show` reports them plus the drops the attacks tests look at. */
typedef struct {
  guint64 rx_bytes;            /* outer bytes received and accepted */
  guint64 tx_bytes;            /* outer bytes sent */
  gint64 last_handshake_unix;  /* seconds since the epoch of the last completed handshake, 0 = never */
  guint64 rx_packets;          /* inner packets delivered to the receive callback */
  guint64 tx_packets;          /* inner packets sent (keepalives not counted) */
  guint64 dropped_replay;      /* authenticated data packets whose counter was already seen or too old */
  guint64 dropped_allowed_ips; /* authenticated packets whose inner source is not the peer's */
  guint64 handshakes_completed;
} NfltrWgPeerStats;

/* Device-wide counters. */
typedef struct {
  guint64 dropped_invalid;     /* unparseable or unauthenticated datagrams, wrong mac1 */
  guint64 cookie_replies_sent; /* handshake messages answered with a cookie because of load */
  guint64 handshakes_rejected; /* handshake initiations/responses refused (e.g. no mac2 under load) */
} NfltrWgDeviceStats;

gboolean nfltr_wg_key_from_base64 (const char *base64, guint8 key[NFLTR_WG_KEY_LEN], GError **error);
char *nfltr_wg_key_to_base64 (const guint8 key[NFLTR_WG_KEY_LEN]);
void nfltr_wg_generate_private_key (guint8 private_key[NFLTR_WG_KEY_LEN]);
void nfltr_wg_public_key (const guint8 private_key[NFLTR_WG_KEY_LEN], guint8 public_key[NFLTR_WG_KEY_LEN]);

NfltrWgDevice *nfltr_wg_device_new (const guint8 private_key[NFLTR_WG_KEY_LEN]);

/* Opens a UDP socket on address (port 0: any) and starts reading it; the port chosen is
 * nfltr_wg_device_get_port (). Without a bound socket, outer datagrams go to the transmit
 * func and come in through nfltr_wg_device_receive_datagram (). Binding again replaces the
 * socket: the device roams, and peers follow its new source address. */
gboolean nfltr_wg_device_bind (NfltrWgDevice *self, GInetSocketAddress *address, GError **error);
guint16 nfltr_wg_device_get_port (NfltrWgDevice *self);

void nfltr_wg_device_set_receive_func (NfltrWgDevice *self,
                                       NfltrWgReceiveFunc func,
                                       gpointer user_data,
                                       GDestroyNotify destroy);
void nfltr_wg_device_set_transmit_func (NfltrWgDevice *self,
                                        NfltrWgTransmitFunc func,
                                        gpointer user_data,
                                        GDestroyNotify destroy);

/* Feeds one outer datagram that arrived by another transport (from = the sender's address,
 * used for roaming, may be NULL). */
void nfltr_wg_device_receive_datagram (NfltrWgDevice *self,
                                       GSocketAddress *from,
                                       const guint8 *datagram,
                                       gsize len);

/* Adds a peer. preshared_key may be NULL (all zero, as WireGuard). endpoint may be NULL: the
 * peer then becomes reachable once it has handshaken with us. persistent_keepalive_s = 0 is
 * off. Returns 0 (and sets error) if the key is already a peer or is our own. */
NfltrWgPeerId nfltr_wg_device_add_peer (NfltrWgDevice *self,
                                        const guint8 public_key[NFLTR_WG_KEY_LEN],
                                        const guint8 *preshared_key,
                                        GInetSocketAddress *endpoint,
                                        guint persistent_keepalive_s,
                                        GError **error);
void nfltr_wg_device_remove_peer (NfltrWgDevice *self, NfltrWgPeerId peer);
NfltrWgPeerId nfltr_wg_device_lookup_peer (NfltrWgDevice *self, const guint8 public_key[NFLTR_WG_KEY_LEN]);

/* Allowed IPs (cryptokey routing): a prefix routes outgoing packets to the peer and admits
 * incoming packets whose inner source is inside it. cidr is "10.0.0.2/32" or "fd00::/64". */
gboolean nfltr_wg_device_add_allowed_ip (NfltrWgDevice *self,
                                         NfltrWgPeerId peer,
                                         const char *cidr,
                                         GError **error);
void nfltr_wg_device_set_endpoint (NfltrWgDevice *self, NfltrWgPeerId peer, GInetSocketAddress *endpoint);
/* The peer's current endpoint (it changes when the peer roams), or NULL. Transfer full. */
GInetSocketAddress *nfltr_wg_device_dup_endpoint (NfltrWgDevice *self, NfltrWgPeerId peer);

/* Sends one inner IP packet to peer. Returns FALSE if the packet was dropped (unknown peer,
 * too long, queue full); the send itself is asynchronous and best effort, like IP. */
gboolean nfltr_wg_device_send (NfltrWgDevice *self, NfltrWgPeerId peer, const guint8 *packet, gsize len);
/* Sends one inner IP packet to the peer whose allowed IPs hold its destination address. */
gboolean nfltr_wg_device_send_routed (NfltrWgDevice *self, const guint8 *packet, gsize len);

/* Starts a handshake now, as `wg` does on the first packet. */
void nfltr_wg_device_initiate_handshake (NfltrWgDevice *self, NfltrWgPeerId peer);

gboolean nfltr_wg_device_get_peer_stats (NfltrWgDevice *self, NfltrWgPeerId peer, NfltrWgPeerStats *stats);
void nfltr_wg_device_get_stats (NfltrWgDevice *self, NfltrWgDeviceStats *stats);

/* Testing and operator hooks. force_under_load makes every handshake message without a valid
 * mac2 get a cookie reply (the "under load" of the paper §5.3); otherwise the device decides
 * from the rate of handshake messages. */
void nfltr_wg_device_set_force_under_load (NfltrWgDevice *self, gboolean under_load);
/* Shortens REKEY_AFTER_TIME (paper §6.2, normally 120 s) so a test sees a rekey; 0 restores. */
void nfltr_wg_device_set_rekey_after_time (NfltrWgDevice *self, guint seconds);

G_END_DECLS
