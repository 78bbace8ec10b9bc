/* relay-wg-store.h — the WireGuard track's tables in relay.db: who owns each network and
 * which address each member's public key holds (docs/wireguard.md "The relay's part").
 *
 * Addresses come from 100.64.0.0/10 (RFC 6598). The /10 is split into 1024 /20s; a network
 * takes the lowest free /20 when it is created and keeps it while it exists; a member takes
 * the lowest free host of that /20 (offsets 1 … 4094) and keeps it — across reconnects and
 * relay restarts — until it leaves. UNIQUE constraints make a collision impossible even if two
 * writers raced. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RELAY_WG_SUBNET_PREFIX   20
#define RELAY_WG_SUBNETS         1024     /* 2^(20 - 10) */
#define RELAY_WG_HOSTS           4094     /* a /20 without network and broadcast */
#define RELAY_WG_BASE            0x64400000u  /* 100.64.0.0 */

typedef struct _RelayWgStore RelayWgStore;

typedef struct {
  char   *network;
  char   *public_key;   /* base64, as `wg` prints it */
  char   *kind;         /* "serve", "peer", "stock" */
  char   *label;        /* the stock peer's name, or "" */
  guint32 address;      /* host order */
} RelayWgMemberRow;

void          relay_wg_member_row_free (RelayWgMemberRow *row);

RelayWgStore *relay_wg_store_open   (const char *data_dir,
                                     GError    **error);
void          relay_wg_store_free   (RelayWgStore *store);

/* Creates the network for the owner, or finds it. FALSE with NFLTR_ERROR_NAME_TAKEN when
 * another owner has it, NFLTR_ERROR_NOT_FOUND when create is FALSE and it does not exist,
 * NFLTR_ERROR_LIMIT when every /20 is taken. *subnet is the network's first address. */
gboolean      relay_wg_store_network (RelayWgStore *store,
                                      const char   *name,
                                      const char   *owner_kind,
                                      const char   *owner_id,
                                      gboolean      create,
                                      guint32      *subnet,
                                      GError      **error);
/* The member's address, allocated on its first join (the lowest free host: the serve side,
 * joining first, gets the network's .1). */
gboolean      relay_wg_store_join    (RelayWgStore *store,
                                      const char   *network,
                                      const char   *public_key,
                                      const char   *kind,
                                      const char   *label,
                                      guint32      *address,
                                      GError      **error);
/* Releases the address. FALSE with NFLTR_ERROR_NOT_FOUND when the key is no member. */
gboolean      relay_wg_store_leave   (RelayWgStore *store,
                                      const char   *network,
                                      const char   *public_key,
                                      GError      **error);
/* Every member of every network (RelayWgMemberRow*), for the routing tables at start. */
GPtrArray    *relay_wg_store_members (RelayWgStore *store,
                                      GError      **error);

/* "100.64.16.1" */
char         *relay_wg_format_address (guint32 address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayWgStore, relay_wg_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayWgMemberRow, relay_wg_member_row_free)

G_END_DECLS
