/* relay-binder.h — the tunnel track of the control channel (docs/protocol.md §5–§6): BIND,
 * UNBIND, RELEASE and CONN_REFUSE from the agent, CONN_OPEN to it. The handlers are rows of the
 * track table in agents/relay-agent.c; the names they bind live in the registry
 * (relay-registry.h), their owners in the store (store/relay-store.h). */
#pragma once

#include "relay-types.h"
#include "nfltr-proto.h"

G_BEGIN_DECLS

void relay_binder_handle_bind        (RelayAgent       *agent,
                                      const NfltrFrame *frame);
void relay_binder_handle_unbind      (RelayAgent       *agent,
                                      const NfltrFrame *frame);
void relay_binder_handle_conn_refuse (RelayAgent       *agent,
                                      const NfltrFrame *frame);
/* §6: the owner ends its reservation of a name it does not have bound. */
void relay_binder_handle_release     (RelayAgent       *agent,
                                      const NfltrFrame *frame);

/* Tells binding's agent that a public client from client_addr waits under conn_id (§5 step 1). */
void relay_binder_send_conn_open     (RelayBinding     *binding,
                                      const guint8      conn_id[NFLTR_PROTO_CONN_ID_SIZE],
                                      const char       *client_addr);

/* Grants binding's agent a warm-pool slot under conn_id: CONN_OPEN with pool (§5.1). */
void relay_binder_send_pool_grant    (RelayBinding     *binding,
                                      const guint8      conn_id[NFLTR_PROTO_CONN_ID_SIZE]);

/* The agent's channel is going: every name it holds is unbound. */
void relay_binder_drop_agent         (RelayAgent       *agent);

G_END_DECLS
