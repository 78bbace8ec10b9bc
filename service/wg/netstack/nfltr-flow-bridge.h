/* nfltr-flow-bridge.h — bytes both ways between a real socket and a netstack TCP flow, with
 * backpressure: the flow's receive window stays closed while the socket cannot take more, and
 * the socket is not read while the flow's send buffer is full. Half-closes pass through. */
#pragma once

#include "nfltr-netstack.h"

G_BEGIN_DECLS

typedef struct _NfltrFlowBridge NfltrFlowBridge;

/* Called once, when both directions have ended (error NULL) or one failed. */
typedef void (*NfltrFlowBridgeDoneFunc) (NfltrFlowBridge *bridge,
                                         const GError *error,
                                         gpointer user_data);

/* Takes both the connection and the flow; initial bytes (read from the socket already) go to
 * the flow first. */
NfltrFlowBridge *nfltr_flow_bridge_new (GSocketConnection *connection,
                                        NfltrTcpFlow *flow,
                                        const guint8 *initial,
                                        gsize initial_len,
                                        NfltrFlowBridgeDoneFunc done,
                                        gpointer user_data);
void nfltr_flow_bridge_free (NfltrFlowBridge *bridge);
guint64 nfltr_flow_bridge_get_bytes_to_flow (NfltrFlowBridge *bridge);
guint64 nfltr_flow_bridge_get_bytes_to_socket (NfltrFlowBridge *bridge);

G_END_DECLS
