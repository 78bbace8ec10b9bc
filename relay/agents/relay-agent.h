/* relay-agent.h — one agent control channel: a WebSocket on the relay's own name carrying
 * one frame per binary message (docs/protocol.md §3–§4, §6).
 *
 * The channel owns the handshake (HELLO → WELCOME), keep-alive and the routing of every other
 * frame through its track table (relay-agent.c): { frame type, minimum state, handler }. A
 * track — tunnels/ today; P2P, A2A, WireGuard later — adds its rows and keeps its handlers in
 * its own folder, using the functions below. */
#pragma once

#include <libsoup/soup.h>

#include "relay-types.h"
#include "nfltr-proto.h"

G_BEGIN_DECLS

/* Ordered: a track row's minimum state admits every later one. */
typedef enum {
  RELAY_AGENT_AWAIT_HELLO,   /* bounded by the hello timeout */
  RELAY_AGENT_READY,         /* after WELCOME; bounded by the idle timeout */
  RELAY_AGENT_CLOSED,
} RelayAgentState;

/* A track's handler for one frame type; the frame's required attributes are present. */
typedef void (*RelayFrameHandler) (RelayAgent       *agent,
                                   const NfltrFrame *frame);

/* Takes over the WebSocket; the agent lives until it closes (registered in server->agents). */
RelayAgent  *relay_agent_new      (RelayServer             *server,
                                   SoupWebsocketConnection *ws,
                                   const char              *peer);

RelayServer *relay_agent_get_server (RelayAgent *agent);
const char  *relay_agent_get_id   (RelayAgent *agent);
/* The first 8 hex digits of the agent id, or "-" before HELLO: for logs. */
const char  *relay_agent_get_log_id (RelayAgent *agent);
/* The remote address of the control channel, "IP:PORT". */
const char  *relay_agent_get_peer (RelayAgent *agent);
/* The store id of the API key the agent presented; -1 before HELLO. */
gint64       relay_agent_get_key_id (RelayAgent *agent);
RelayAgentState relay_agent_get_state (RelayAgent *agent);
/* Who the agent authenticated as, as the store names owners (docs/protocol.md §6): kind
 * "key" (an API key's id) or "agent" (an enrolment's id, fleet tokens). */
const char  *relay_agent_get_owner (RelayAgent *agent,
                                    gint64     *id);
/* The name prefix its fleet token restricts it to, or NULL when it may bind any name. */
const char  *relay_agent_get_name_prefix (RelayAgent *agent);
/* FALSE once its credential (API key or enrolment) is revoked: for the revocation poll. */
gboolean     relay_agent_credential_is_active (RelayAgent *agent);
/* issue 11, mTLS: the TLS client certificate of the channel's connection (NULL: none). */
void         relay_agent_set_peer_certificate (RelayAgent      *agent,
                                               GTlsCertificate *cert);
/* What a revoked agent is told: which of its credentials went. */
const char  *relay_agent_credential_revoked_message (RelayAgent *agent);
/* Random per control channel, set at WELCOME. */
const char  *relay_agent_get_session_id (RelayAgent *agent);
/* The features of the session (docs/protocol.md §8.2): "" when none. */
const char  *relay_agent_get_features (RelayAgent *agent);
/* name → RelayBinding (ref) this channel holds; the tunnel binder's (tunnels/relay-binder.c). */
GHashTable  *relay_agent_get_bindings (RelayAgent *agent);

void         relay_agent_send     (RelayAgent       *agent,
                                   const NfltrFrame *frame);
/* ERROR about a frame the agent sent (its frame-type and request-id, §4.2), naming name if
 * not NULL; the channel carries on. */
void         relay_agent_reply_error (RelayAgent          *agent,
                                      const NfltrFrame    *about,
                                      NfltrProtoErrorCode  code,
                                      const char          *message,
                                      const char          *name);
/* Logs the refusal, sends ERROR(code, message) and closes the channel. */
void         relay_agent_fail     (RelayAgent          *agent,
                                   NfltrProtoErrorCode  code,
                                   const char          *message);
/* Unbinds the agent's names, forgets it and closes its channel. */
void         relay_agent_close    (RelayAgent *agent,
                                   const char *reason);

/* Only for server->agents' destroy function. */
void         relay_agent_free     (RelayAgent *agent);

G_END_DECLS
