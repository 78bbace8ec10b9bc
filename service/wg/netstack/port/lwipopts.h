/* lwipopts.h — our lwIP configuration for the WireGuard netstack (docs/wireguard.md "Netstack").
 *
 * lwIP 2.1 raw API, NO_SYS=1: the stack runs on one GMainContext (nfltr-netstack.c) and never
 * on a thread of its own, so there is no tcpip mailbox to overflow. Debian's binary liblwip is
 * configured for the Hurd (64 KiB window, no window scaling, the tcpip thread); these options are
 * the reason we build lwIP ourselves.
 */
#ifndef NFLTR_LWIPOPTS_H
#define NFLTR_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_TIMERS 1

/* Memory comes from malloc: no fixed pools to size, and ASan sees every buffer. */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8

/* Layer 3 only: WireGuard carries bare IP packets. */
#define LWIP_ARP 0
#define LWIP_ETHERNET 0
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DNS 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_SINGLE_NETIF 0
#define LWIP_NETIF_TX_SINGLE_PBUF 1
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0

/* A peer must never use us as a router between its own packets (issue 12). */
#define IP_FORWARD 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_DEFAULT_TTL 64

/* SO_REUSE lets several netstacks of one process listen on the same port (one listener per
 * netif and port, nfltr-netstack.c). */
#define SO_REUSE 1

/* TCP: the WireGuard MTU is 1420 (wg-quick's default), minus 40 bytes of IPv4 and TCP headers. */
#define TCP_MSS 1380
/* RFC 7323 window scaling: a 4 MiB window (shift 7) keeps a long fat path busy; at 20 ms RTT
 * 64 KiB caps a stream at about 3 MB/s. */
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 7
#define TCP_WND (4 * 1024 * 1024)
#define TCP_SND_BUF (4 * 1024 * 1024)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
/* lwIP keeps the low-water mark in a u16_t (init.c sanity check); only netconn reads it */
#define TCP_SNDLOWAT (0xffff - 4 * TCP_MSS - 1)
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_BYTES TCP_WND
#define TCP_OOSEQ_MAX_PBUFS 0
/* RFC 2018 SACK, receiver side (lwIP 2.1 sends SACK blocks; it does not retransmit by them). */
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 8
#define LWIP_TCP_TIMESTAMPS 1
#define TCP_LISTEN_BACKLOG 0
#define LWIP_TCP_KEEPALIVE 1
#define TCP_OVERSIZE TCP_MSS
#define LWIP_TCP_PCB_NUM_EXT_ARGS 0
#define PBUF_POOL_BUFSIZE 1600

#define LWIP_CHECKSUM_CTRL_PER_NETIF 0
#define LWIP_STATS 0
#define LWIP_STATS_DISPLAY 0
#define LWIP_DEBUG_TIMERNAMES 0

#define LWIP_DNS_SECURE                                                                                      \
  (LWIP_DNS_SECURE_RAND_XID | LWIP_DNS_SECURE_NO_MULTIPLE_OUTSTANDING | LWIP_DNS_SECURE_RAND_SRC_PORT)
#define DNS_MAX_SERVERS 1
#define DNS_TABLE_SIZE 16
#define DNS_MAX_NAME_LENGTH 255
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1

/* The hooks: the seeded ISN, the serve side's "every destination is ours", routing by the
 * packet's own netif. */
#define LWIP_HOOK_FILENAME "nfltr-lwip-hooks.h"
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
  nfltr_lwip_hook_tcp_isn ((local_ip), (local_port), (remote_ip), (remote_port))
#define LWIP_HOOK_IP4_INPUT(pbuf, input_netif) nfltr_lwip_hook_ip4_input ((pbuf), (input_netif))
#define LWIP_HOOK_IP4_ROUTE_SRC(src, dest) nfltr_lwip_hook_ip4_route_src ((src), (dest))

#endif /* NFLTR_LWIPOPTS_H */
