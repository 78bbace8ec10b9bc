/* nfltr-forwarder.h — the serve side: every flow a peer opens through the netstack is re-dialled
 * on this machine's real network (TCP; UDP datagrams through one connected socket per flow),
 * within the --allow policy, and names are answered by a DNS server on the netstack's own
 * address (port 53) that resolves with the system's resolver. */
#pragma once

#include "nfltr-netstack.h"

G_BEGIN_DECLS

/* `--allow` when none is given: the private networks of RFC 1918 — the serve side's LAN, not
 * its loopback, link-local (cloud metadata at 169.254.169.254), the shared 100.64.0.0/10 of the
 * peers themselves, or the internet. docs/wireguard.md "What a peer may reach". */
#define NFLTR_FORWARDER_DEFAULT_ALLOW "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"

typedef struct _NfltrAllowList NfltrAllowList;

NfltrAllowList *nfltr_allow_list_parse (const char *spec,
                                        GError **error);
gboolean nfltr_allow_list_contains (const NfltrAllowList *list,
                                    guint32 address);
void nfltr_allow_list_free (NfltrAllowList *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrAllowList, nfltr_allow_list_free)

typedef struct _NfltrForwarder NfltrForwarder;

/* Takes the allow list; the netstack must outlive the forwarder. */
NfltrForwarder *nfltr_forwarder_new (NfltrNetstack *netstack,
                                     NfltrAllowList *allow,
                                     GError **error);
void nfltr_forwarder_free (NfltrForwarder *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrForwarder, nfltr_forwarder_free)

guint nfltr_forwarder_get_refused (NfltrForwarder *self);

/* The DNS part, pure: exposed for the fuzz target. Parses a query with one question; returns
 * the name (lower case, no trailing dot) and its type, or NULL. */
char *nfltr_dns_parse_query (const guint8 *data,
                             gsize len,
                             guint16 *qtype,
                             gsize *question_end);

G_END_DECLS
