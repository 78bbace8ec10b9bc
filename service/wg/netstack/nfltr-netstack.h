/* nfltr-netstack.h — a userspace TCP/IP stack (lwIP, NO_SYS=1, raw API) on a packet link.
 *
 * One NfltrNetstack is one lwIP network interface with its own IPv4 address. Packets leave
 * through the link's output function and enter through nfltr_netstack_input(): that pair is
 * the whole seam to the WireGuard device (or to a socketpair, a UDP socket, another netstack in
 * the same process). The stack runs on the thread-default GMainContext of the thread that made
 * the first netstack; every call must come from that thread.
 *
 * Two roles:
 *  - a client (the SOCKS5 side) dials TCP flows with nfltr_netstack_tcp_connect() and resolves
 *    names through a DNS server inside the network (nfltr_netstack_resolve_async);
 *  - a serve side (nfltr_netstack_set_serve) terminates every flow a peer opens, whatever the
 *    destination address: its callbacks see each TCP SYN and UDP datagram first and decide.
 *
 * IPv4 only for now (the relay allocates 100.64.0.0/10, issue 12).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _NfltrNetstack NfltrNetstack;
typedef struct _NfltrTcpFlow NfltrTcpFlow;

/* The link's sending half: one whole IPv4 packet, valid during the call. It may be called from
 * inside nfltr_netstack_input() (an ACK, an answer), so it must not feed a netstack of this
 * process synchronously: queue and deliver from the main loop. */
typedef void (*NfltrNetstackOutputFunc) (const guint8 *packet, gsize len, gpointer user_data);

/* One transport flow as the peer sent it: the peer's address and port (src) and the
 * destination it asked for (dst). Addresses in network byte order, ports in host order. */
typedef struct {
  guint32 src_addr;
  guint32 dst_addr;
  guint16 src_port;
  guint16 dst_port;
} NfltrFlowId;

guint nfltr_flow_id_hash (gconstpointer key);
gboolean nfltr_flow_id_equal (gconstpointer a, gconstpointer b);

/* How the serve side turns down a TCP SYN; each is what the peer's stack reports. */
typedef enum {
  NFLTR_NETSTACK_REFUSE_RESET,            /* TCP RST: "connection refused" */
  NFLTR_NETSTACK_REFUSE_NET_UNREACHABLE,  /* ICMP 3/0 (RFC 792) */
  NFLTR_NETSTACK_REFUSE_HOST_UNREACHABLE, /* ICMP 3/1 (RFC 792) */
  NFLTR_NETSTACK_REFUSE_PROHIBITED,       /* ICMP 3/13, administratively prohibited (RFC 1812 §5.2.7.1) */
} NfltrNetstackRefusal;

#define NFLTR_NETSTACK_ERROR (nfltr_netstack_error_quark ())
GQuark nfltr_netstack_error_quark (void);

typedef enum {
  NFLTR_NETSTACK_ERROR_FAILED,
  NFLTR_NETSTACK_ERROR_REFUSED,          /* the peer answered RST */
  NFLTR_NETSTACK_ERROR_NET_UNREACHABLE,  /* ICMP 3/0 */
  NFLTR_NETSTACK_ERROR_HOST_UNREACHABLE, /* ICMP 3/1, or no answer at all */
  NFLTR_NETSTACK_ERROR_PROHIBITED,       /* ICMP 3/13: the serve side's --allow said no */
  NFLTR_NETSTACK_ERROR_RESET,            /* an established flow was reset */
  NFLTR_NETSTACK_ERROR_NOT_FOUND,        /* a name did not resolve */
} NfltrNetstackError;

NfltrNetstack *nfltr_netstack_new (const char *address, guint prefix_len, guint mtu,
                                   NfltrNetstackOutputFunc output, gpointer user_data, GError **error);
void nfltr_netstack_free (NfltrNetstack *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrNetstack, nfltr_netstack_free)

/* The link's receiving half: one whole IPv4 packet, copied. */
void nfltr_netstack_input (NfltrNetstack *self, const guint8 *packet, gsize len);

guint32 nfltr_netstack_get_address (NfltrNetstack *self);

/* The DNS server client flows ask (the serve side's address; port 53). */
void nfltr_netstack_set_dns_server (NfltrNetstack *self, guint32 address);

/* ---- TCP flows ---- */

typedef struct {
  /* the handshake ended: error NULL when established */
  void (*connected) (NfltrTcpFlow *flow, const GError *error, gpointer user_data);
  /* bytes from the peer, or len 0 at its FIN; acknowledge with nfltr_tcp_flow_consumed() */
  void (*received) (NfltrTcpFlow *flow, const guint8 *data, gsize len, gpointer user_data);
  /* room in the send buffer again after a short write */
  void (*writable) (NfltrTcpFlow *flow, gpointer user_data);
  /* the flow died (reset, aborted); nothing is called after this but the owner still frees */
  void (*failed) (NfltrTcpFlow *flow, const GError *error, gpointer user_data);
} NfltrTcpFlowFuncs;

NfltrTcpFlow *nfltr_netstack_tcp_connect (NfltrNetstack *self,
                                          guint32 dst_addr,
                                          guint16 dst_port,
                                          const NfltrTcpFlowFuncs *funcs,
                                          gpointer user_data,
                                          GError **error);
void nfltr_tcp_flow_set_funcs (NfltrTcpFlow *flow,
                               const NfltrTcpFlowFuncs *funcs,
                               gpointer user_data);
const NfltrFlowId *nfltr_tcp_flow_get_id (NfltrTcpFlow *flow);
/* Queues up to len bytes; returns how many were taken (0 when the send buffer is full). */
gsize nfltr_tcp_flow_write (NfltrTcpFlow *flow,
                            const guint8 *data,
                            gsize len);
gsize nfltr_tcp_flow_get_write_space (NfltrTcpFlow *flow);
void nfltr_tcp_flow_consumed (NfltrTcpFlow *flow,
                              gsize len);
void nfltr_tcp_flow_shutdown_write (NfltrTcpFlow *flow);
/* Closes gracefully (RST if data is still unread) and frees; safe inside any callback. */
void nfltr_tcp_flow_free (NfltrTcpFlow *flow);
/* Resets the flow and frees it; safe inside any callback. */
void nfltr_tcp_flow_abort (NfltrTcpFlow *flow);

/* ---- the serve side ---- */

typedef struct {
  /* A SYN to a destination with no flow yet. Answer later, exactly once, with
   * nfltr_netstack_tcp_syn_accept() or _refuse(); retransmitted SYNs are held meanwhile. */
  void (*tcp_syn) (NfltrNetstack *netstack, const NfltrFlowId *id, gpointer user_data);
  /* The handshake of an accepted SYN finished: the flow is the caller's (free it). */
  void (*accepted) (NfltrNetstack *netstack, NfltrTcpFlow *flow, gpointer user_data);
  /* A UDP datagram to any destination but our own address (that goes to bound ports). */
  void (*udp) (NfltrNetstack *netstack, const NfltrFlowId *id, const guint8 *data, gsize len,
               gpointer user_data);
} NfltrNetstackServeFuncs;

void nfltr_netstack_set_serve (NfltrNetstack *self, const NfltrNetstackServeFuncs *funcs, gpointer user_data);
void nfltr_netstack_tcp_syn_accept (NfltrNetstack *self, const NfltrFlowId *id);
void nfltr_netstack_tcp_syn_refuse (NfltrNetstack *self, const NfltrFlowId *id, NfltrNetstackRefusal refusal);
/* Sends a datagram back to id->src from id->dst (the reply direction of id). */
gboolean nfltr_netstack_udp_reply (NfltrNetstack *self, const NfltrFlowId *id, const guint8 *data, gsize len);

/* A UDP port on our own address (the serve side's DNS answers on 53). */
typedef void (*NfltrNetstackUdpFunc) (NfltrNetstack *netstack, const NfltrFlowId *id, const guint8 *data,
                                      gsize len, gpointer user_data);
gboolean nfltr_netstack_udp_bind (NfltrNetstack *self, guint16 port, NfltrNetstackUdpFunc func,
                                  gpointer user_data, GError **error);

/* A UDP socket on our own address, ephemeral port, for any destination (SOCKS5 UDP ASSOCIATE).
 * func gets each datagram with id->src the sender and id->dst our own address and port. */
typedef struct _NfltrUdpSocket NfltrUdpSocket;

NfltrUdpSocket *nfltr_netstack_udp_open (NfltrNetstack *self, NfltrNetstackUdpFunc func, gpointer user_data,
                                         GError **error);
gboolean nfltr_udp_socket_send_to (NfltrUdpSocket *socket, guint32 dst_addr, guint16 dst_port,
                                   const guint8 *data, gsize len);
void nfltr_udp_socket_free (NfltrUdpSocket *socket);

/* ---- names ---- */

void nfltr_netstack_resolve_async (NfltrNetstack *self, const char *name, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
/* Returns the IPv4 address in network byte order, or 0 with error set. */
guint32 nfltr_netstack_resolve_finish (NfltrNetstack *self, GAsyncResult *result, GError **error);

G_END_DECLS
