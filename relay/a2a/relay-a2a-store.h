/* relay-a2a-store.h — the a2a track's state in relay.db (docs/protocol.md §13.3).
 *
 * A small API of its own, so a fleet store (etcd) can take it over later: agents' published
 * keys, names agents serve under, and the offline queue — envelopes (ciphertext: the relay
 * never has anything else) for agents that are not connected, with their expiry. Its tables
 * live on the relay store's own connection to relay.db (relay_store_get_db): no descriptors
 * of its own, which a relay at its descriptor limit cannot spare. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RelayA2aStore RelayA2aStore;
struct sqlite3;

typedef struct {
  gint64  row;
  char   *sender;
  guint8  msg_id[16];
  GBytes *data;
} RelayA2aQueued;

void            relay_a2a_queued_free   (RelayA2aQueued *queued);

/* db: relay.db's connection, not owned (it outlives the store). */
RelayA2aStore  *relay_a2a_store_open    (struct sqlite3 *db,
                                         GError        **error);
void            relay_a2a_store_free    (RelayA2aStore *store);

/* The agent's Ed25519 public key (32 bytes), replacing the one it published before. */
gboolean        relay_a2a_store_put_key (RelayA2aStore *store,
                                         const char    *agent_id,
                                         const guint8  *key,
                                         GError       **error);
/* NULL when the agent never published one. */
GBytes         *relay_a2a_store_get_key (RelayA2aStore *store,
                                         const char    *agent_id);

/* FALSE with NFLTR_ERROR_NAME_TAKEN when another agent holds name. */
gboolean        relay_a2a_store_register_name (RelayA2aStore *store,
                                               const char    *name,
                                               const char    *agent_id,
                                               GError       **error);
char           *relay_a2a_store_lookup_name   (RelayA2aStore *store,
                                               const char    *name);

/* Holds an envelope for recipient until expires (Unix seconds). NFLTR_ERROR_LIMIT when
 * recipient already has max_messages or max_bytes waiting. */
gboolean        relay_a2a_store_enqueue (RelayA2aStore *store,
                                         const char    *recipient,
                                         const char    *sender,
                                         const guint8  *msg_id,
                                         GBytes        *data,
                                         gint64         expires,
                                         guint          max_messages,
                                         guint64        max_bytes,
                                         GError       **error);
/* RelayA2aQueued*, oldest first, not yet expired at now. */
GPtrArray      *relay_a2a_store_pending (RelayA2aStore *store,
                                         const char    *recipient,
                                         gint64         now);
/* Forgets the message: the recipient has it. */
void            relay_a2a_store_ack     (RelayA2aStore *store,
                                         const char    *recipient,
                                         const guint8  *msg_id);
/* Drops what expired; how many. */
guint           relay_a2a_store_expire  (RelayA2aStore *store,
                                         gint64         now);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayA2aStore, relay_a2a_store_free)

G_END_DECLS
