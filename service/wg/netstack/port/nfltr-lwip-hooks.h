/* The lwIP hooks named in lwipopts.h, implemented in nfltr-netstack.c. */
#ifndef NFLTR_LWIP_HOOKS_H
#define NFLTR_LWIP_HOOKS_H

#include "lwip/arch.h"
#include "lwip/ip_addr.h"

struct pbuf;
struct netif;

u32_t nfltr_lwip_hook_tcp_isn (const ip_addr_t *local_ip, u16_t local_port,
                               const ip_addr_t *remote_ip, u16_t remote_port);
int nfltr_lwip_hook_ip4_input (struct pbuf *p, struct netif *input_netif);
struct netif *nfltr_lwip_hook_ip4_route_src (const ip4_addr_t *src, const ip4_addr_t *dest);

#endif
