/* nfltr-wg-allowedips.h — cryptokey routing (paper §3): each peer owns IP prefixes; an
 * outgoing packet goes to the peer owning the longest prefix holding its destination, and an
 * incoming packet is accepted only if its source lies in a prefix of the peer that sent it.
 *
 * A flat list searched for the longest match: the networks this product builds have tens of
 * peers, not the kernel's thousands, and a list is easy to read. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  GArray *entries; /* of NfltrWgAllowedIp */
} NfltrWgAllowedIps;

typedef struct {
  guint family; /* 4 or 6 */
  guint8 addr[16];
  guint cidr;
  guint peer; /* NfltrWgPeerId */
} NfltrWgAllowedIp;

void nfltr_wg_allowed_ips_init (NfltrWgAllowedIps *table);
void nfltr_wg_allowed_ips_clear (NfltrWgAllowedIps *table);

/* Parses "a.b.c.d/n" or "x::y/n" (no "/n": a host route). */
gboolean nfltr_wg_allowed_ip_parse (const char *text, NfltrWgAllowedIp *out);

/* Inserts prefix for peer; a prefix already present moves to peer, as `wg set` does. */
void nfltr_wg_allowed_ips_insert (NfltrWgAllowedIps *table, const NfltrWgAllowedIp *prefix, guint peer);
void nfltr_wg_allowed_ips_remove_peer (NfltrWgAllowedIps *table, guint peer);

/* The peer owning the longest prefix holding addr, 0 if none. */
guint nfltr_wg_allowed_ips_lookup (const NfltrWgAllowedIps *table, guint family, const guint8 *addr);

G_END_DECLS
