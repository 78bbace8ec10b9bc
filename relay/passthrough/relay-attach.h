/* relay-attach.h — public connections waiting for their agent data connection
 * (docs/protocol.md §5). Each waits under a random 16-byte conn-id, valid once, for at most
 * --attach-timeout; the data connection that presents it is paired with it, and the pair
 * is handed to the splice (verified) or to the inspecting TLS proxy (inspectable). */
#pragma once

#include "relay-types.h"
#include "nfltr-proto.h"

G_BEGIN_DECLS

RelayAttach *relay_attach_new            (RelayServer *server);
void         relay_attach_free           (RelayAttach *attach);

/* A TLS client for binding's name: sends CONN_OPEN to the owner and waits. hello is every
 * byte read from the client so far. */
void         relay_attach_open           (RelayAttach       *attach,
                                          RelayBinding      *binding,
                                          GSocketConnection *client,
                                          GBytes            *hello,
                                          const char        *peer);

/* Public connections waiting for or running through agent (--max-connections-per-agent). */
guint        relay_attach_agent_load     (RelayAttach *attach,
                                          RelayAgent  *agent);

/* An agent data connection presented conn_id (preamble already read). */
void         relay_attach_data_connection (RelayAttach       *attach,
                                           GSocketConnection *data,
                                           const guint8       conn_id[NFLTR_PROTO_CONN_ID_SIZE],
                                           const char        *peer);

/* CONN_REFUSE from agent; ignored unless agent is the one the conn-id was sent to. */
void         relay_attach_refuse         (RelayAttach  *attach,
                                          RelayAgent   *agent,
                                          const guint8 *conn_id,
                                          const char   *message);

/* The agent went away: close the public clients still waiting for it. */
void         relay_attach_drop_agent     (RelayAttach *attach,
                                          RelayAgent  *agent);

/* The warm pool (docs/protocol.md §5.1): binding's agent asked, in BIND, to keep up to
 * pool_max idle data connections here; grants them (CONN_OPEN with pool) and keeps the pool
 * topped up. Dropped on UNBIND, a rebind and the agent's end. */
void         relay_attach_pool_start     (RelayAttach  *attach,
                                          RelayBinding *binding,
                                          guint         pool_max);
void         relay_attach_pool_drop      (RelayAttach  *attach,
                                          RelayBinding *binding);
/* Pool connections of binding waiting for a client now. */
guint        relay_attach_pool_idle      (RelayAttach  *attach,
                                          RelayBinding *binding);

guint        relay_attach_pending_count  (RelayAttach *attach);
/* Waiting clients whose agent's control channel comes from source: data connections from
 * there are owed a place even past --max-connections-per-source. */
guint        relay_attach_owed_to_source (RelayAttach *attach,
                                          const char  *source);
/* Passthrough and inspect sessions that are running. */
guint        relay_attach_active_count   (RelayAttach *attach);

G_END_DECLS
