/* nfltr-p2p-checkpoint.c — signed checkpoints of P2P audit chains (nfltr-p2p-checkpoint.h). */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-checkpoint.h"

#include <string.h>

void
nfltr_p2p_checkpoint_sign (NfltrP2pAuditChain *chain, guint64 count, const guint8 secret_key[NFLTR_AUDIT_ED25519_SK_BYTES],
                           NfltrAuditCheckpoint *out)
{
  guint64 have = nfltr_p2p_audit_chain_get_count (chain);

  memset (out, 0, sizeof *out);
  out->count = count == 0 || count > have ? have : count;
  out->direction = nfltr_p2p_audit_chain_get_direction (chain);
  memcpy (out->context, nfltr_p2p_audit_chain_get_start (chain), NFLTR_AUDIT_HASH_BYTES);
  if (out->count == 0)
    memcpy (out->head, out->context, NFLTR_AUDIT_HASH_BYTES);
  else
    memcpy (out->head, nfltr_p2p_audit_chain_get_link (chain, out->count - 1)->link, NFLTR_AUDIT_HASH_BYTES);
  nfltr_audit_checkpoint_sign (out, secret_key);
}

gboolean
nfltr_p2p_checkpoint_check (NfltrP2pAuditChain *chain, const NfltrAuditCheckpoint *cp, const guint8 *signer,
                            GError **error)
{
  guint64 have = nfltr_p2p_audit_chain_get_count (chain);
  const char *dir = nfltr_p2p_audit_chain_get_direction (chain) == NFLTR_P2P_DIR_A_TO_B ? "A→B" : "B→A";

  if (!nfltr_audit_checkpoint_verify (cp, error))
    return FALSE;
  if (signer != NULL && memcmp (signer, cp->signer, NFLTR_AUDIT_ED25519_PK_BYTES) != 0)
    {
      g_set_error_literal (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_BAD_SIGNATURE,
                           "the checkpoint is signed by another key than the peer's identity");
      return FALSE;
    }
  if (memcmp (cp->context, nfltr_p2p_audit_chain_get_start (chain), NFLTR_AUDIT_HASH_BYTES) != 0 ||
      cp->direction != nfltr_p2p_audit_chain_get_direction (chain))
    {
      g_set_error_literal (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_MALFORMED,
                           "the checkpoint belongs to another session or direction");
      return FALSE;
    }
  if (cp->count > have)
    {
      g_set_error (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_MALFORMED,
                   "truncated: frame %" G_GUINT64_FORMAT
                   " (%s) is missing — the chain ends after frame %" G_GUINT64_FORMAT
                   ", but the peer signed %" G_GUINT64_FORMAT " frames",
                   have + 1, dir, have, cp->count);
      return FALSE;
    }
  if (cp->count > 0 && memcmp (nfltr_p2p_audit_chain_get_link (chain, cp->count - 1)->link, cp->head,
                               NFLTR_AUDIT_HASH_BYTES) != 0)
    {
      g_set_error (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_MALFORMED,
                   "frames 1–%" G_GUINT64_FORMAT
                   " (%s) are not what the peer signed: one of them was modified, "
                   "dropped, injected or reordered (the chains' comparison names which)",
                   cp->count, dir);
      return FALSE;
    }
  return TRUE;
}
