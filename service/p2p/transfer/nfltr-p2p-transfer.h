/* nfltr-p2p-transfer.h — one P2P session and what it carries (docs/protocol.md §9.7–§9.8):
 * the offer or the claim at the relay, the pairing over P2P_SIGNAL, the session's records
 * over the path (relayed: P2P_RELAY), the files with SHA-256 and resume, the chat.
 * Exported as xyz.nfltr.Nfltr.Transfer. */
#pragma once

#include "nfltr-p2p-service.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_P2P_TRANSFER (nfltr_p2p_transfer_get_type ())
G_DECLARE_FINAL_TYPE (NfltrP2pTransfer, nfltr_p2p_transfer, NFLTR, P2P_TRANSFER, NfltrDbusTransferSkeleton)

/* Offers paths (files and folders, absolute); none makes a chat-only offer. The code is
 * chosen here (Code property) unless CODE is given (a restored offer); the offer reaches the
 * relay once the files are hashed. */
NfltrP2pTransfer *nfltr_p2p_transfer_new_send    (NfltrP2pService    *service,
                                                  const char         *id,
                                                  const char * const *paths,
                                                  const char         *code,
                                                  GError            **error);
NfltrP2pTransfer *nfltr_p2p_transfer_new_receive (NfltrP2pService *service,
                                                  const char      *id,
                                                  const char      *code,
                                                  const char      *directory,
                                                  gboolean         yes,
                                                  GError         **error);
void              nfltr_p2p_transfer_start       (NfltrP2pTransfer *self);
void              nfltr_p2p_transfer_handle_frame (NfltrP2pTransfer *self,
                                                   const NfltrFrame *frame);
/* The relay link came up (again) or went away. */
void              nfltr_p2p_transfer_link_changed (NfltrP2pTransfer *self,
                                                   gboolean          connected);
void              nfltr_p2p_transfer_shutdown     (NfltrP2pTransfer *self);
/* The audit entry of Audit()'s JSON array (a JsonObject-shaped GVariant a{sv} would do; we
 * keep JSON text to keep the CLI simple). */
/* The sender's paths as given (NULL for a receiver). */
const char * const *nfltr_p2p_transfer_get_paths (NfltrP2pTransfer *self);
gboolean          nfltr_p2p_transfer_is_final     (NfltrP2pTransfer *self);
void              nfltr_p2p_transfer_audit_json   (NfltrP2pTransfer *self,
                                                   GString          *out);

G_END_DECLS
