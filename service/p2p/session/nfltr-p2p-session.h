/* nfltr-p2p-session.h — a keyed P2P session over any byte stream (docs/protocol.md §9.4–9.6):
 * the mux's frames sealed into records on the way out, records opened and handed to the mux
 * on the way in, and every record on the wire entered into the audit chains.
 *
 * It does no I/O: the transport (ICE pseudo-TCP, QUIC, SCTP, or the relay's P2P_RELAY
 * fallback) calls pull for bytes to send and push with bytes that came. Any bad record ends
 * the session for good; the audit chain of the received direction keeps recording what
 * still arrives, so the audit can tell a dropped frame from a reordered one. */
#pragma once

#include "nfltr-p2p-mux.h"
#include "nfltr-p2p-audit.h"

G_BEGIN_DECLS

typedef struct _NfltrP2pSession NfltrP2pSession;

NfltrP2pSession    *nfltr_p2p_session_new (NfltrP2pRole                role,
                                           const NfltrP2pKeys         *keys,
                                           const NfltrP2pMuxCallbacks *callbacks,
                                           gpointer                    user_data);
void                nfltr_p2p_session_free (NfltrP2pSession *session);

NfltrP2pMux        *nfltr_p2p_session_get_mux (NfltrP2pSession *session);
NfltrP2pAuditChain *nfltr_p2p_session_get_chain (NfltrP2pSession  *session,
                                                 NfltrP2pDirection direction);

/* Appends records to WIRE until the mux has nothing sendable or WIRE holds at least
 * MAX_BYTES. FALSE with ERROR once the session has ended. */
gboolean            nfltr_p2p_session_pull (NfltrP2pSession *session,
                                            GByteArray      *wire,
                                            gsize            max_bytes,
                                            GError         **error);
/* Bytes from the transport, in any split. FALSE with the reason when they end the session
 * (and NFLTR_P2P_ERROR_CLOSED on every later call). */
gboolean            nfltr_p2p_session_push (NfltrP2pSession *session,
                                            const guint8    *data,
                                            gsize            len,
                                            GError         **error);

/* Queues a COMMIT for each of this side's two chains. */
void                nfltr_p2p_session_commit (NfltrP2pSession *session);
/* How the peer's commitments compared with this side's chains so far: the number checked
 * and the number that did not match. */
void                nfltr_p2p_session_get_commit_results (NfltrP2pSession *session,
                                                          guint           *checked,
                                                          guint           *mismatched);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrP2pSession, nfltr_p2p_session_free)

G_END_DECLS
