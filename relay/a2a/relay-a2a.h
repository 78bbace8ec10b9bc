/* relay-a2a.h — the a2a track at the relay (docs/protocol.md §13.2–§13.3).
 *
 * Routes A2A_MESSAGE frames between agents by agent id, reading only the routing header
 * (op, recipient, message id): the envelope in `data` is ciphertext the relay never opens.
 * It keeps the agents' published keys (the key directory), the names agents serve under,
 * and an offline queue — envelopes for agents that are not connected, with a TTL and a quota
 * per recipient, in relay.db so they survive a restart. Each agent's sends go through a
 * token bucket. */
#pragma once

#include "relay-types.h"
#include "nfltr-proto.h"

G_BEGIN_DECLS

typedef struct _RelayA2a RelayA2a;

/* How long the relay holds a message for an offline agent, at most (a sender may ask less). */
#define RELAY_A2A_TTL_S                (7 * 24 * 60 * 60)
/* The offline queue's quota per recipient. */
#define RELAY_A2A_QUEUE_MESSAGES       256
#define RELAY_A2A_QUEUE_BYTES          (16 * 1024 * 1024)
/* Per sending agent: messages per second, with a second's burst (NFLTR_RELAY_A2A_RATE). */
#define RELAY_A2A_RATE_MSGS_S          500

RelayA2a *relay_a2a_new  (RelayServer *server,
                          GError     **error);
void      relay_a2a_free (RelayA2a *a2a);

/* The track table's handler (agents/relay-agent.c). */
void      relay_a2a_handle_message (RelayAgent       *agent,
                                    const NfltrFrame *frame);
/* The agent's channel closed. */
void      relay_a2a_drop_agent     (RelayAgent *agent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayA2a, relay_a2a_free)

G_END_DECLS
