/* nfltr-cidr.h — lists of address ranges ("192.0.2.0/24", "2001:db8::/32", "198.51.100.7"),
 * for the agent's --allow-cidr / --deny-cidr (issue 9 §10).
 *
 * Immutable once parsed, reference-counted, safe to share between threads. An IPv4-mapped
 * IPv6 address (::ffff:192.0.2.1) matches the IPv4 ranges, as a dual-stack socket reports
 * IPv4 clients that way. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _NfltrCidrList NfltrCidrList;

/* entries: NULL-terminated; each may hold several ranges separated by commas or spaces.
 * A bare address is a /32 (/128). NULL with an error naming the bad entry ("“10.0.0.0/33”: the
 * prefix length must be 0–32 for IPv4") or when there is no range at all. */
NfltrCidrList *nfltr_cidr_list_parse          (const char * const *entries,
                                               GError            **error);
NfltrCidrList *nfltr_cidr_list_ref            (NfltrCidrList      *list);
void           nfltr_cidr_list_unref          (NfltrCidrList      *list);
gboolean       nfltr_cidr_list_contains       (NfltrCidrList      *list,
                                               GInetAddress       *address);
/* address: "IP", "IP:PORT" or "[IPv6]:PORT" (the relay's client address). FALSE when it
 * does not parse. */
gboolean       nfltr_cidr_list_contains_text  (NfltrCidrList      *list,
                                               const char         *address);
/* The ranges in canonical form ("192.0.2.0/24"), a new NULL-terminated array. */
char         **nfltr_cidr_list_to_strv        (NfltrCidrList      *list);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrCidrList, nfltr_cidr_list_unref)

G_END_DECLS
