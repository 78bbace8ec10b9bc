/* nfltr-p2p-checkpoint.h — signed checkpoints of a P2P session's audit chains (issue 15,
 * docs/protocol.md §13.6): one side signs the head of a chain (its context is the session's
 * transcript hash, the chain's start) with its agent's Ed25519 identity key, and the other
 * holds its own chain against it. The same checkpoints as a2a conversations'
 * (libshared/nfltr-audit-checkpoint.h), so `nfltr audit verify` reads both. */
#pragma once

#include "nfltr-audit-checkpoint.h"
#include "nfltr-p2p-audit.h"

G_BEGIN_DECLS

/* Signs chain's head after its first count frames (count ≤ the chain's length; 0 = all). */
void     nfltr_p2p_checkpoint_sign  (NfltrP2pAuditChain   *chain,
                                     guint64               count,
                                     const guint8          secret_key[NFLTR_AUDIT_ED25519_SK_BYTES],
                                     NfltrAuditCheckpoint *out);
/* TRUE when checkpoint is signed (by signer, when not NULL), names this chain's session and
 * direction, and agrees with the chain at its count. Else the error names the first frame
 * that is missing ("truncated") or differs. */
gboolean nfltr_p2p_checkpoint_check (NfltrP2pAuditChain         *chain,
                                     const NfltrAuditCheckpoint *checkpoint,
                                     const guint8               *signer,
                                     GError                    **error);

G_END_DECLS
