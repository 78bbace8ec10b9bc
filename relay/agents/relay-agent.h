/* relay-agent.h — one agent control channel: a WebSocket on the relay's own name carrying
 * one frame per binary message (docs/protocol.md §3–§4, §6). */
#pragma once

#include <libsoup/soup.h>

#include "relay-types.h"
#include "nfltr-proto.h"

G_BEGIN_DECLS

/* Takes over the WebSocket; the agent lives until it closes (registered in server->agents). */
RelayAgent  *relay_agent_new      (RelayServer             *server,
                                   SoupWebsocketConnection *ws,
                                   const char              *peer);

const char  *relay_agent_get_id   (RelayAgent *agent);
/* Random per control channel, set at WELCOME. */
const char  *relay_agent_get_session_id (RelayAgent *agent);
void         relay_agent_send     (RelayAgent       *agent,
                                   const NfltrFrame *frame);
/* Unbinds the agent's names, forgets it and closes its channel. */
void         relay_agent_close    (RelayAgent *agent,
                                   const char *reason);

/* Only for server->agents' destroy function. */
void         relay_agent_free     (RelayAgent *agent);

G_END_DECLS
