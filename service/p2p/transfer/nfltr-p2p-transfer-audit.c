/* nfltr-p2p-transfer-audit.c — the transfer's audit (docs/protocol.md §9.6): when a session
 * breaks, both sides swap their hash chains over P2P_SIGNAL, authenticated with a key the
 * relay does not hold, and compare them; Audit() shows the result. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"

static NfltrP2pDirection
my_direction (NfltrP2pTransfer *self)
{
  return self->sender ? NFLTR_P2P_DIR_A_TO_B : NFLTR_P2P_DIR_B_TO_A;
}

/* The key that authenticates an audit dump: both sides hold it, the relay does not. */
static void
audit_key (NfltrP2pTransfer *self, guint8 key[32])
{
  struct sha256_ctx ctx;

  sha256_init (&ctx);
  sha256_update (&ctx, 19, (const guint8 *) "nfltr-p2p-v1 audit");
  sha256_update (&ctx, sizeof self->keys.a_to_b_mac, self->keys.a_to_b_mac);
  sha256_update (&ctx, sizeof self->keys.b_to_a_mac, self->keys.b_to_a_mac);
  sha256_digest (&ctx, 32, key);
}

/* dump = magic | for each direction: count (u32 BE) | links (seq u64, length u32, content 32,
 * link 32) | HMAC-SHA-256 (audit key, everything before) */
void
_nfltr_p2p_transfer_send_audit_dump (NfltrP2pTransfer *self)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint8 magic = AUDIT_DUMP_MAGIC, key[32], tag[32];
  struct hmac_sha256_ctx mac;

  if (self->dump_sent || self->session == NULL)
    return;
  self->dump_sent = TRUE;
  g_byte_array_append (out, &magic, 1);
  for (int d = 0; d < 2; d++)
    {
      NfltrP2pAuditChain *chain = nfltr_p2p_session_get_chain (self->session, d);
      guint32 count = (guint32) MIN (nfltr_p2p_audit_chain_get_count (chain), 4096);
      guint32 count_be = GUINT32_TO_BE (count);

      g_byte_array_append (out, (const guint8 *) &count_be, 4);
      for (guint32 i = 0; i < count; i++)
        {
          const NfltrP2pAuditLink *l = nfltr_p2p_audit_chain_get_link (chain, i);
          guint64 seq_be = GUINT64_TO_BE (l->seq);
          guint32 len_be = GUINT32_TO_BE (l->length);

          g_byte_array_append (out, (const guint8 *) &seq_be, 8);
          g_byte_array_append (out, (const guint8 *) &len_be, 4);
          g_byte_array_append (out, l->content, 32);
          g_byte_array_append (out, l->link, 32);
        }
    }
  audit_key (self, key);
  hmac_sha256_set_key (&mac, sizeof key, key);
  hmac_sha256_update (&mac, out->len, out->data);
  hmac_sha256_digest (&mac, sizeof tag, tag);
  g_byte_array_append (out, tag, sizeof tag);
  _nfltr_p2p_transfer_send_signal (self, NFLTR_P2P_OP_FORWARD, out->data, out->len);
}

void
_nfltr_p2p_transfer_keep_my_chains (NfltrP2pTransfer *self)
{
  /* The session goes when the run ends; its chains stay for Audit(). Rebuilt link by link,
   * which also checks them. */
  for (int d = 0; d < 2 && self->session != NULL; d++)
    {
      NfltrP2pAuditChain *chain = nfltr_p2p_session_get_chain (self->session, d);

      g_clear_pointer (&self->my_chains[d], nfltr_p2p_audit_chain_free);
      self->my_chains[d] = nfltr_p2p_audit_chain_new (d, self->keys.transcript);
      for (guint64 i = 0; i < nfltr_p2p_audit_chain_get_count (chain); i++)
        nfltr_p2p_audit_chain_add_link (self->my_chains[d], nfltr_p2p_audit_chain_get_link (chain, i));
    }
}

static void
compare_chains (NfltrP2pTransfer *self)
{
  g_ptr_array_set_size (self->findings, 0);
  for (int d = 0; d < 2; d++)
    {
      NfltrP2pAuditChain *sent, *received;
      NfltrP2pAuditDiff diff;

      if (self->my_chains[d] == NULL || self->peer_chains[d] == NULL)
        continue;
      /* The side that sent direction d holds the sent chain. */
      sent = (NfltrP2pDirection) d == my_direction (self) ? self->my_chains[d] : self->peer_chains[d];
      received = (NfltrP2pDirection) d == my_direction (self) ? self->peer_chains[d] : self->my_chains[d];
      nfltr_p2p_audit_compare (sent, received, &diff);
      if (diff.kind != NFLTR_P2P_AUDIT_SAME)
        g_ptr_array_add (self->findings, nfltr_p2p_audit_diff_describe (&diff, d));
    }
}

gboolean
_nfltr_p2p_transfer_take_audit_dump (NfltrP2pTransfer *self, const guint8 *data, gsize len)
{
  guint8 key[32], tag[32];
  struct hmac_sha256_ctx mac;
  gsize off = 1;

  if (len < 1 + 8 + 32)
    return FALSE;
  audit_key (self, key);
  hmac_sha256_set_key (&mac, sizeof key, key);
  hmac_sha256_update (&mac, len - 32, data);
  hmac_sha256_digest (&mac, sizeof tag, tag);
  if (sodium_memcmp (tag, data + len - 32, 32) != 0)
    {
      g_ptr_array_add (self->findings, g_strdup ("the peer's audit chain failed authentication: it was changed on the way"));
      return FALSE;
    }
  len -= 32;
  for (int d = 0; d < 2; d++)
    {
      guint32 count_be, count;

      if (len - off < 4)
        return FALSE;
      memcpy (&count_be, data + off, 4);
      count = GUINT32_FROM_BE (count_be);
      off += 4;
      if ((len - off) / 76 < count)
        return FALSE;
      g_clear_pointer (&self->peer_chains[d], nfltr_p2p_audit_chain_free);
      self->peer_chains[d] = nfltr_p2p_audit_chain_new (d, self->keys.transcript);
      for (guint32 i = 0; i < count; i++, off += 76)
        {
          NfltrP2pAuditLink l;
          guint64 seq_be;
          guint32 len_be;

          memcpy (&seq_be, data + off, 8);
          memcpy (&len_be, data + off + 8, 4);
          l.seq = GUINT64_FROM_BE (seq_be);
          l.length = GUINT32_FROM_BE (len_be);
          memcpy (l.content, data + off + 12, 32);
          memcpy (l.link, data + off + 44, 32);
          if (!nfltr_p2p_audit_chain_add_link (self->peer_chains[d], &l))
            return FALSE;
        }
    }
  _nfltr_p2p_transfer_keep_my_chains (self);
  compare_chains (self);
  return TRUE;
}

/* A record or message that must not happen: the session is over for good. */
static gboolean
dump_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  self->dump_id = 0;
  _nfltr_p2p_transfer_send_audit_dump (self);
  return G_SOURCE_REMOVE;
}

void
_nfltr_p2p_transfer_session_broken (NfltrP2pTransfer *self, const GError *error)
{
  g_autofree char *msg = g_strdup (error->message);

  _nfltr_p2p_transfer_keep_my_chains (self);
  _nfltr_p2p_transfer_fail (self, msg);
  /* The records already on the way still go into the chain (so a dropped frame can be told
   * from a reordered one) before the chains go to the peer, which answers with its own. */
  if (self->dump_id == 0 && !self->dump_sent)
    self->dump_id = g_timeout_add (AUDIT_GRACE_MS, dump_cb, self);
}

static void
append_chain_json (GString *out, NfltrP2pAuditChain *chain)
{
  NfltrP2pCommitment c;
  g_autofree char *head = NULL;

  if (chain == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  nfltr_p2p_audit_chain_commit (chain, &c);
  head = _nfltr_p2p_transfer_hex (c.head, sizeof c.head);
  g_string_append_printf (out, "{\"count\":%" G_GUINT64_FORMAT ",\"head\":\"%s\"}", c.count, head);
}

void
nfltr_p2p_transfer_audit_json (NfltrP2pTransfer *self,
                               GString          *out)
{
  g_autoptr(JsonNode) err = json_node_new (JSON_NODE_VALUE);
  g_autofree char *err_text = NULL;

  if (self->session != NULL)
    _nfltr_p2p_transfer_keep_my_chains (self);
  json_node_set_string (err, nfltr_dbus_transfer_get_last_error (NFLTR_DBUS_TRANSFER (self)));
  err_text = json_to_string (err, FALSE);
  g_string_append_printf (out, "{\"transfer\":\"%s\",\"role\":\"%s\",\"state\":\"%s\",\"error\":%s,\"chains\":{",
                          self->id, self->sender ? "send" : "receive", _nfltr_p2p_transfer_state_name (self->state), err_text);
  for (int d = 0; d < 2; d++)
    {
      g_string_append_printf (out, "%s\"%s\":{\"mine\":", d ? "," : "", d == 0 ? "a-to-b" : "b-to-a");
      append_chain_json (out, self->my_chains[d]);
      g_string_append (out, ",\"peer\":");
      append_chain_json (out, self->peer_chains[d]);
      g_string_append (out, "}");
    }
  g_string_append (out, "},\"findings\":[");
  for (guint i = 0; i < self->findings->len; i++)
    {
      g_autoptr(JsonNode) n = json_node_new (JSON_NODE_VALUE);
      g_autofree char *t = NULL;

      json_node_set_string (n, self->findings->pdata[i]);
      t = json_to_string (n, FALSE);
      g_string_append_printf (out, "%s%s", i ? "," : "", t);
    }
  g_string_append (out, "]}");
}
