/* nfltr-p2p-call.h — one call carried by a P2P session (docs/protocol.md §14): the
 * xyz.nfltr.Nfltr.Call object on /xyz/nfltr/Nfltr/calls/<id>. It carries the call's
 * signalling between the session's CALL stream and the process that runs the media (the app
 * or `nfltr p2p call`), checking every message both ways, and never touches media itself. */
#pragma once

#include "nfltr-p2p-service.h"
#include "nfltr-p2p-transfer.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define NFLTR_P2P_CALLS_PATH "/xyz/nfltr/Nfltr/calls"

#define NFLTR_TYPE_P2P_CALL (nfltr_p2p_call_get_type ())
G_DECLARE_FINAL_TYPE (NfltrP2pCall, nfltr_p2p_call, NFLTR, P2P_CALL, NfltrDbusCallSkeleton)

/* A call over transfer (a chat-only session). code_call: the people typed a code to make this
 * call (no ring: the sender of the code offers the SDP once paired); else this side rings the
 * peer of a session that already runs. The call attaches itself to the transfer. */
NfltrP2pCall *nfltr_p2p_call_new (NfltrP2pService  *service,
                                  NfltrP2pTransfer *transfer,
                                  const char       *id,
                                  gboolean          code_call,
                                  gboolean          video);
/* Sends a call message (transfer full) on this side's CALL stream of transfer, opened with the
 * first; written into the session's own files' object through its private header. */
void          nfltr_p2p_transfer_send_call (NfltrP2pTransfer *transfer,
                                            JsonObject       *message);
/* Ends the call (bye to the peer) when the bus name that made or accepted it goes away: the
 * media process died or was killed without hanging up. */
void          nfltr_p2p_call_watch_owner (NfltrP2pCall          *self,
                                          GDBusMethodInvocation *invocation);
/* The call attached to transfer, or NULL. */
NfltrP2pCall *nfltr_p2p_call_for_transfer (NfltrP2pTransfer *transfer);
/* A message from the peer's CALL stream of transfer (the session's hook): a ring with no call
 * yet makes an incoming call, which is exported through the service. */
void          nfltr_p2p_call_take_message (NfltrP2pService  *service,
                                           NfltrP2pTransfer *transfer,
                                           JsonObject       *message);

G_END_DECLS
