/* nfltr-p2p-audit.c — hash chains over the records of a session and their comparison. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-audit.h"
#include "nfltr-p2p-error.h"

#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <string.h>

struct _NfltrP2pAuditChain {
  NfltrP2pDirection direction;
  guint8            start[NFLTR_P2P_AUDIT_HASH_BYTES];
  GArray           *links; /* NfltrP2pAuditLink */
};

NfltrP2pAuditChain *
nfltr_p2p_audit_chain_new (NfltrP2pDirection direction,
                           const guint8      start[NFLTR_P2P_AUDIT_HASH_BYTES])
{
  NfltrP2pAuditChain *chain = g_new0 (NfltrP2pAuditChain, 1);

  chain->direction = direction;
  memcpy (chain->start, start, sizeof chain->start);
  chain->links = g_array_new (FALSE, FALSE, sizeof (NfltrP2pAuditLink));
  return chain;
}

void
nfltr_p2p_audit_chain_free (NfltrP2pAuditChain *chain)
{
  if (chain == NULL)
    return;
  g_array_unref (chain->links);
  g_free (chain);
}

static const guint8 *
head (NfltrP2pAuditChain *chain)
{
  if (chain->links->len == 0)
    return chain->start;
  return g_array_index (chain->links, NfltrP2pAuditLink, chain->links->len - 1).link;
}

void
nfltr_p2p_audit_chain_append (NfltrP2pAuditChain *chain,
                              guint64             seq,
                              const guint8       *record,
                              gsize               len)
{
  NfltrP2pAuditLink link = { .seq = seq, .length = (guint32) MIN (len, G_MAXUINT32) };
  struct sha256_ctx ctx;
  guint64 seq_be = GUINT64_TO_BE (seq);
  guint32 len_be = GUINT32_TO_BE (link.length);
  guint8 dir = chain->direction;

  sha256_init (&ctx);
  sha256_update (&ctx, len, record);
  sha256_digest (&ctx, sizeof link.content, link.content);

  sha256_update (&ctx, NFLTR_P2P_AUDIT_HASH_BYTES, head (chain));
  sha256_update (&ctx, 8, (const guint8 *) &seq_be);
  sha256_update (&ctx, 1, &dir);
  sha256_update (&ctx, 4, (const guint8 *) &len_be);
  sha256_update (&ctx, sizeof link.content, link.content);
  sha256_digest (&ctx, sizeof link.link, link.link);
  g_array_append_val (chain->links, link);
}

gboolean
nfltr_p2p_audit_chain_add_link (NfltrP2pAuditChain      *chain,
                                const NfltrP2pAuditLink *link)
{
  struct sha256_ctx ctx;
  guint8 want[NFLTR_P2P_AUDIT_HASH_BYTES];
  guint64 seq_be = GUINT64_TO_BE (link->seq);
  guint32 len_be = GUINT32_TO_BE (link->length);
  guint8 dir = chain->direction;

  sha256_init (&ctx);
  sha256_update (&ctx, NFLTR_P2P_AUDIT_HASH_BYTES, head (chain));
  sha256_update (&ctx, 8, (const guint8 *) &seq_be);
  sha256_update (&ctx, 1, &dir);
  sha256_update (&ctx, 4, (const guint8 *) &len_be);
  sha256_update (&ctx, sizeof link->content, link->content);
  sha256_digest (&ctx, sizeof want, want);
  if (memcmp (want, link->link, sizeof want) != 0)
    return FALSE;
  g_array_append_val (chain->links, *link);
  return TRUE;
}

guint64
nfltr_p2p_audit_chain_get_count (NfltrP2pAuditChain *chain)
{
  return chain->links->len;
}

NfltrP2pDirection
nfltr_p2p_audit_chain_get_direction (NfltrP2pAuditChain *chain)
{
  return chain->direction;
}

/* issue 15: what a signed checkpoint names as its context (nfltr-p2p-checkpoint.c). */
const guint8 *
nfltr_p2p_audit_chain_get_start (NfltrP2pAuditChain *chain)
{
  return chain->start;
}

const NfltrP2pAuditLink *
nfltr_p2p_audit_chain_get_link (NfltrP2pAuditChain *chain,
                                guint64             index)
{
  if (index >= chain->links->len)
    return NULL;
  return &g_array_index (chain->links, NfltrP2pAuditLink, index);
}

void
nfltr_p2p_audit_chain_commit (NfltrP2pAuditChain *chain,
                              NfltrP2pCommitment *out)
{
  out->direction = chain->direction;
  out->count = chain->links->len;
  memcpy (out->head, head (chain), sizeof out->head);
}

gboolean
nfltr_p2p_audit_chain_check (NfltrP2pAuditChain       *chain,
                             const NfltrP2pCommitment *peer)
{
  const guint8 *at;

  if (peer->direction != chain->direction || peer->count > chain->links->len)
    return FALSE;
  at = peer->count == 0 ? chain->start
                        : g_array_index (chain->links, NfltrP2pAuditLink, peer->count - 1).link;
  return memeql_sec (at, peer->head, NFLTR_P2P_AUDIT_HASH_BYTES);
}

void
nfltr_p2p_commitment_encode (const NfltrP2pCommitment *c,
                             guint8                    out[NFLTR_P2P_COMMITMENT_BYTES])
{
  guint64 count_be = GUINT64_TO_BE (c->count);

  out[0] = c->direction;
  memcpy (out + 1, &count_be, 8);
  memcpy (out + 9, c->head, NFLTR_P2P_AUDIT_HASH_BYTES);
}

gboolean
nfltr_p2p_commitment_decode (const guint8       *data,
                             gsize               len,
                             NfltrP2pCommitment *out,
                             GError            **error)
{
  guint64 count_be;

  if (len != NFLTR_P2P_COMMITMENT_BYTES || data[0] > NFLTR_P2P_DIR_B_TO_A)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED,
                   "a malformed audit commitment (%" G_GSIZE_FORMAT " bytes)", len);
      return FALSE;
    }
  out->direction = data[0];
  memcpy (&count_be, data + 1, 8);
  out->count = GUINT64_FROM_BE (count_be);
  memcpy (out->head, data + 9, NFLTR_P2P_AUDIT_HASH_BYTES);
  return TRUE;
}

static gboolean
same_frame (const NfltrP2pAuditLink *a,
            const NfltrP2pAuditLink *b)
{
  return a->seq == b->seq && a->length == b->length
         && memcmp (a->content, b->content, sizeof a->content) == 0;
}

/* Where, at or after FROM, CHAIN holds a record with the content of LINK; -1 if nowhere.
 * Content alone: a record's hash covers its own sequence number. */
static gint64
find_content (NfltrP2pAuditChain      *chain,
              guint64                  from,
              const NfltrP2pAuditLink *link)
{
  for (guint64 i = from; i < chain->links->len; i++)
    if (memcmp (g_array_index (chain->links, NfltrP2pAuditLink, i).content, link->content,
                sizeof link->content) == 0)
      return (gint64) i;
  return -1;
}

void
nfltr_p2p_audit_compare (NfltrP2pAuditChain *sent,
                         NfltrP2pAuditChain *received,
                         NfltrP2pAuditDiff  *diff)
{
  guint64 n_sent = sent->links->len, n_received = received->links->len;
  guint64 i = 0;
  const NfltrP2pAuditLink *s, *r;

  memset (diff, 0, sizeof *diff);
  while (i < n_sent && i < n_received
         && same_frame (&g_array_index (sent->links, NfltrP2pAuditLink, i),
                        &g_array_index (received->links, NfltrP2pAuditLink, i)))
    i++;
  diff->index = i;
  if (i == n_sent && i == n_received)
    {
      diff->kind = NFLTR_P2P_AUDIT_SAME;
      return;
    }
  if (i == n_received)
    {
      s = &g_array_index (sent->links, NfltrP2pAuditLink, i);
      diff->kind = NFLTR_P2P_AUDIT_TRUNCATED;
      diff->seq = s->seq;
      diff->sent_length = s->length;
      return;
    }
  r = &g_array_index (received->links, NfltrP2pAuditLink, i);
  diff->received_length = r->length;
  if (i == n_sent)
    {
      diff->kind = NFLTR_P2P_AUDIT_INJECTED;
      diff->seq = r->seq;
      return;
    }
  s = &g_array_index (sent->links, NfltrP2pAuditLink, i);
  diff->seq = s->seq;
  diff->sent_length = s->length;
  if (find_content (sent, i + 1, r) >= 0)
    {
      /* What arrived here was sent later: the frame sent here either comes after it
       * (reordered) or never comes (dropped). */
      diff->kind = find_content (received, i + 1, s) >= 0 ? NFLTR_P2P_AUDIT_REORDERED
                                                         : NFLTR_P2P_AUDIT_DROPPED;
    }
  else if (find_content (sent, 0, r) >= 0)
    {
      /* Sent, but earlier: an old frame played again. */
      diff->kind = NFLTR_P2P_AUDIT_INJECTED;
      diff->seq = r->seq;
    }
  else if (find_content (received, i + 1, s) >= 0)
    {
      /* Never sent, and the frame sent here still arrives after it. */
      diff->kind = NFLTR_P2P_AUDIT_INJECTED;
      diff->seq = r->seq;
    }
  else
    diff->kind = NFLTR_P2P_AUDIT_MODIFIED;
}

char *
nfltr_p2p_audit_diff_describe (const NfltrP2pAuditDiff *diff, NfltrP2pDirection direction)
{
  const char *dir = direction == NFLTR_P2P_DIR_A_TO_B ? "sender → receiver" : "receiver → sender";

  switch (diff->kind)
    {
      case NFLTR_P2P_AUDIT_SAME: return g_strdup_printf ("both chains (%s) agree", dir);
      case NFLTR_P2P_AUDIT_MODIFIED:
        return g_strdup_printf (
          "frame %" G_GUINT64_FORMAT
          " (%s) was modified: %u bytes were sent, %u bytes with other contents arrived",
          diff->seq, dir, diff->sent_length, diff->received_length);
      case NFLTR_P2P_AUDIT_DROPPED:
        return g_strdup_printf ("frame %" G_GUINT64_FORMAT " (%s) was dropped: it was sent and never arrived",
                                diff->seq, dir);
      case NFLTR_P2P_AUDIT_INJECTED:
        return g_strdup_printf ("a frame claiming number %" G_GUINT64_FORMAT
                                " (%s) was injected at position %" G_GUINT64_FORMAT
                                ": it arrived and was never sent there",
                                diff->seq, dir, diff->index);
      case NFLTR_P2P_AUDIT_REORDERED:
        return g_strdup_printf (
          "frame %" G_GUINT64_FORMAT " (%s) was reordered: a later frame arrived before it", diff->seq, dir);
      case NFLTR_P2P_AUDIT_TRUNCATED:
        return g_strdup_printf ("frame %" G_GUINT64_FORMAT " (%s) and those after it never arrived",
                                diff->seq, dir);
      default: g_return_val_if_reached (NULL);
    }
}
