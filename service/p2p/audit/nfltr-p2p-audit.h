/* nfltr-p2p-audit.h — the audit trail of a P2P session (docs/protocol.md §9.6).
 *
 * Each side keeps one SHA-256 hash chain per direction over the records it sent or
 * received, exactly as they were on the wire:
 *
 *   link[i] = SHA-256 (link[i-1] | seq (u64 BE) | direction (u8) | length (u32 BE) | SHA-256 (record))
 *   link[-1] = the session's transcript hash TH
 *
 * Starting from TH ties the chain to one session. A commitment is (direction, count, head):
 * the sides exchange them during and at the end of the session. If the two chains of one
 * direction disagree, comparing them names the first frame that was modified, dropped,
 * injected or reordered on the way. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NFLTR_P2P_AUDIT_HASH_BYTES 32
#define NFLTR_P2P_COMMITMENT_BYTES (1 + 8 + NFLTR_P2P_AUDIT_HASH_BYTES)

typedef enum {
  NFLTR_P2P_DIR_A_TO_B = 0,
  NFLTR_P2P_DIR_B_TO_A = 1,
} NfltrP2pDirection;

typedef struct {
  guint64 seq;
  guint32 length;
  guint8  content[NFLTR_P2P_AUDIT_HASH_BYTES];
  guint8  link[NFLTR_P2P_AUDIT_HASH_BYTES];
} NfltrP2pAuditLink;

typedef struct {
  NfltrP2pDirection direction;
  guint64           count;
  guint8            head[NFLTR_P2P_AUDIT_HASH_BYTES];
} NfltrP2pCommitment;

typedef enum {
  NFLTR_P2P_AUDIT_SAME,       /* the chains agree */
  NFLTR_P2P_AUDIT_MODIFIED,   /* a frame arrived, but not as sent */
  NFLTR_P2P_AUDIT_DROPPED,    /* a frame was sent and never arrived, and later ones did */
  NFLTR_P2P_AUDIT_INJECTED,   /* a frame arrived that was never sent */
  NFLTR_P2P_AUDIT_REORDERED,  /* a frame arrived after a frame sent later */
  NFLTR_P2P_AUDIT_TRUNCATED,  /* the receiver's chain stops early: still in flight, or cut */
} NfltrP2pAuditDiffKind;

typedef struct {
  NfltrP2pAuditDiffKind kind;
  guint64               index;     /* position in the chains where they first part */
  guint64               seq;       /* the frame named: the sender's for all but INJECTED */
  guint32               sent_length;
  guint32               received_length;
} NfltrP2pAuditDiff;

typedef struct _NfltrP2pAuditChain NfltrP2pAuditChain;

NfltrP2pAuditChain *nfltr_p2p_audit_chain_new (NfltrP2pDirection direction,
                                               const guint8      start[NFLTR_P2P_AUDIT_HASH_BYTES]);
void                nfltr_p2p_audit_chain_free (NfltrP2pAuditChain *chain);
void                nfltr_p2p_audit_chain_append (NfltrP2pAuditChain *chain,
                                                  guint64             seq,
                                                  const guint8       *record,
                                                  gsize               len);
/* Appends a link as the peer reported it (its own chain, sent for the audit): FALSE when it
 * does not follow from this chain's head, so a reported chain is at least a chain. */
gboolean            nfltr_p2p_audit_chain_add_link (NfltrP2pAuditChain      *chain,
                                                    const NfltrP2pAuditLink *link);
guint64             nfltr_p2p_audit_chain_get_count (NfltrP2pAuditChain *chain);
const NfltrP2pAuditLink *nfltr_p2p_audit_chain_get_link (NfltrP2pAuditChain *chain,
                                                         guint64             index);
NfltrP2pDirection   nfltr_p2p_audit_chain_get_direction (NfltrP2pAuditChain *chain);
/* The chain's start (TH): a signed checkpoint's context (issue 15, nfltr-p2p-checkpoint.h). */
const guint8       *nfltr_p2p_audit_chain_get_start (NfltrP2pAuditChain *chain);
void                nfltr_p2p_audit_chain_commit (NfltrP2pAuditChain *chain,
                                                  NfltrP2pCommitment *out);
/* TRUE when the peer's commitment matches this chain's link at the same count (a
 * commitment made mid-session may name fewer frames than this side has seen since). */
gboolean            nfltr_p2p_audit_chain_check (NfltrP2pAuditChain       *chain,
                                                 const NfltrP2pCommitment *peer);

void                nfltr_p2p_commitment_encode (const NfltrP2pCommitment *c,
                                                 guint8                    out[NFLTR_P2P_COMMITMENT_BYTES]);
gboolean            nfltr_p2p_commitment_decode (const guint8       *data,
                                                 gsize               len,
                                                 NfltrP2pCommitment *out,
                                                 GError            **error);

/* Compares the sender's and the receiver's chain of one direction. */
void                nfltr_p2p_audit_compare (NfltrP2pAuditChain *sent,
                                             NfltrP2pAuditChain *received,
                                             NfltrP2pAuditDiff  *diff);
/* One sentence for the user: "frame 5 (A→B) was dropped: …". */
char               *nfltr_p2p_audit_diff_describe (const NfltrP2pAuditDiff *diff,
                                                   NfltrP2pDirection        direction);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrP2pAuditChain, nfltr_p2p_audit_chain_free)

G_END_DECLS
