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

/* A chain this side kept: the live session's, or the copy the last run left. */
static NfltrP2pAuditChain *
mine (NfltrP2pTransfer *self, int d)
{
  return self->session != NULL ? nfltr_p2p_session_get_chain (self->session, d) : self->my_chains[d];
}

static void
append_be64 (GByteArray *out, guint64 v)
{
  guint64 be = GUINT64_TO_BE (v);

  g_byte_array_append (out, (const guint8 *) &be, 8);
}

static void
append_be32 (GByteArray *out, guint32 v)
{
  guint32 be = GUINT32_TO_BE (v);

  g_byte_array_append (out, (const guint8 *) &be, 4);
}

static guint64
read_be64 (const guint8 *p)
{
  guint64 be;

  memcpy (&be, p, 8);
  return GUINT64_FROM_BE (be);
}

static guint32
read_be32 (const guint8 *p)
{
  guint32 be;

  memcpy (&be, p, 4);
  return GUINT32_FROM_BE (be);
}

/* The link a chain holds before position i: the start (TH) for i = 0. */
static const guint8 *
link_before (NfltrP2pAuditChain *chain, guint64 i, const guint8 *th)
{
  return i == 0 ? th : nfltr_p2p_audit_chain_get_link (chain, i - 1)->link;
}

/* Appends the HMAC (audit key) over everything before and sends it. */
static void
send_authenticated (NfltrP2pTransfer *self, GByteArray *out)
{
  guint8 key[32], tag[32];
  struct hmac_sha256_ctx mac;

  audit_key (self, key);
  hmac_sha256_set_key (&mac, sizeof key, key);
  hmac_sha256_update (&mac, out->len, out->data);
  hmac_sha256_digest (&mac, sizeof tag, tag);
  g_byte_array_append (out, tag, sizeof tag);
  _nfltr_p2p_transfer_send_signal (self, NFLTR_P2P_OP_FORWARD, out->data, out->len);
}

static gboolean
authentic (NfltrP2pTransfer *self, const guint8 *data, gsize len)
{
  guint8 key[32], tag[32];
  struct hmac_sha256_ctx mac;

  if (len < 1 + 32)
    return FALSE;
  audit_key (self, key);
  hmac_sha256_set_key (&mac, sizeof key, key);
  hmac_sha256_update (&mac, len - 32, data);
  hmac_sha256_digest (&mac, sizeof tag, tag);
  return sodium_memcmp (tag, data + len - 32, 32) == 0;
}

/* Round one, the summary (§9.8): per direction, count (u64 BE) | stride (u32 BE) | n (u32 BE) |
 * n × the link at positions stride-1, 2·stride-1, … Bounded for a session of any length:
 * the chains agree up to the last checkpoint that matches and differ from the next one on
 * (a link covers everything before it), so the peer learns which stride holds the first
 * difference without either side sending a whole chain. */
void
_nfltr_p2p_transfer_send_audit_dump (NfltrP2pTransfer *self)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint8 magic = AUDIT_DUMP_MAGIC;

  if (self->dump_sent || (self->session == NULL && self->my_chains[0] == NULL))
    return;
  self->dump_sent = TRUE;
  g_byte_array_append (out, &magic, 1);
  for (int d = 0; d < 2; d++)
    {
      NfltrP2pAuditChain *chain = mine (self, d);
      guint64 count = nfltr_p2p_audit_chain_get_count (chain);
      guint64 stride = MAX (1, (count + AUDIT_CHECKPOINTS - 1) / AUDIT_CHECKPOINTS);
      guint32 n = (guint32) (count / stride);

      append_be64 (out, count);
      append_be32 (out, (guint32) MIN (stride, G_MAXUINT32));
      append_be32 (out, n);
      for (guint32 k = 0; k < n; k++)
        g_byte_array_append (out, nfltr_p2p_audit_chain_get_link (chain, (k + 1) * stride - 1)->link, 32);
    }
  send_authenticated (self, out);
}

/* Round two, the window: per direction, start (u64 BE) | the peer's whole count (u64 BE) |
 * the link before start (32) | n (u32 BE) | n × (seq u64, length u32, content 32, link 32):
 * this side's links from the last checkpoint of the peer's summary that matches, through the
 * stride that holds the first difference and AUDIT_LOOKAHEAD more (to tell a dropped frame
 * from a late one). */
static void
send_audit_window (NfltrP2pTransfer *self, const guint8 *data)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint8 magic = AUDIT_WINDOW_MAGIC;
  gsize off = 1;

  if (self->window_sent)
    return;
  self->window_sent = TRUE;
  g_byte_array_append (out, &magic, 1);
  for (int d = 0; d < 2; d++)
    {
      NfltrP2pAuditChain *chain = mine (self, d);
      guint64 count = nfltr_p2p_audit_chain_get_count (chain);
      guint64 stride, start = 0, end;
      guint32 n;

      stride = MAX (1, read_be32 (data + off + 8));
      n = read_be32 (data + off + 12);
      off += 16;
      /* Checked by take_summary: n links follow. */
      for (guint32 k = 0; k < n; k++, off += 32)
        if (start == (guint64) k * stride && (k + 1) * stride <= count
            && sodium_memcmp (nfltr_p2p_audit_chain_get_link (chain, (k + 1) * stride - 1)->link, data + off, 32) == 0)
          start = (k + 1) * stride;
      end = MIN (count, start + MIN (stride + AUDIT_LOOKAHEAD, AUDIT_WINDOW_MAX));
      append_be64 (out, start);
      append_be64 (out, count);
      g_byte_array_append (out, link_before (chain, start, self->keys.transcript), 32);
      append_be32 (out, (guint32) (end - start));
      for (guint64 i = start; i < end; i++)
        {
          const NfltrP2pAuditLink *l = nfltr_p2p_audit_chain_get_link (chain, i);

          append_be64 (out, l->seq);
          append_be32 (out, l->length);
          g_byte_array_append (out, l->content, 32);
          g_byte_array_append (out, l->link, 32);
        }
    }
  send_authenticated (self, out);
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

/* Compares the peer's window of each direction with the same stretch of this side's chain. */
static void
compare_chains (NfltrP2pTransfer *self)
{
  g_ptr_array_set_size (self->findings, 0);
  for (int d = 0; d < 2; d++)
    {
      NfltrP2pAuditChain *chain = self->my_chains[d], *peer = self->peer_chains[d];
      g_autoptr(NfltrP2pAuditChain) view = NULL;
      NfltrP2pAuditChain *sent, *received;
      NfltrP2pAuditDiff diff;
      guint64 start = self->peer_start[d], count, end;

      if (chain == NULL || peer == NULL)
        continue;
      count = nfltr_p2p_audit_chain_get_count (chain);
      if (start > count ||
          sodium_memcmp (link_before (chain, start, self->keys.transcript), self->peer_base[d], 32) != 0)
        {
          g_ptr_array_add (
            self->findings,
            g_strdup_printf ("the chains (%s) differ before position %" G_GUINT64_FORMAT
                             ", which the peer's audit did not cover",
                             d == NFLTR_P2P_DIR_A_TO_B ? "sender → receiver" : "receiver → sender", start));
          continue;
        }
      /* Where the peer's window stops short of its chain, this side's stretch stops there too,
       * so the end of the window does not read as frames that never came. */
      end = start + nfltr_p2p_audit_chain_get_count (peer);
      end = end < self->peer_count[d] ? MIN (end, count) : count;
      view = nfltr_p2p_audit_chain_new (d, self->peer_base[d]);
      for (guint64 i = start; i < end; i++)
        nfltr_p2p_audit_chain_add_link (view, nfltr_p2p_audit_chain_get_link (chain, i));
      /* The side that sent direction d holds the sent chain. */
      sent = (NfltrP2pDirection) d == my_direction (self) ? view : peer;
      received = (NfltrP2pDirection) d == my_direction (self) ? peer : view;
      nfltr_p2p_audit_compare (sent, received, &diff);
      diff.index += start;
      if (diff.kind != NFLTR_P2P_AUDIT_SAME)
        g_ptr_array_add (self->findings, nfltr_p2p_audit_diff_describe (&diff, d));
    }
}

static gboolean
take_summary (NfltrP2pTransfer *self, const guint8 *data, gsize len)
{
  gsize off = 1;

  len -= 32;
  for (int d = 0; d < 2; d++)
    {
      guint32 n;

      if (len - off < 16)
        return FALSE;
      n = read_be32 (data + off + 12);
      off += 16;
      if ((len - off) / 32 < n)
        return FALSE;
      off += (gsize) n * 32;
    }
  if (!self->dump_sent)
    {
      /* Answering: our summary first, so the peer can send its window too. */
      self->audit_answerer = TRUE;
      _nfltr_p2p_transfer_send_audit_dump (self);
    }
  send_audit_window (self, data);
  return TRUE;
}

static gboolean
take_window (NfltrP2pTransfer *self, const guint8 *data, gsize len)
{
  gsize off = 1;

  len -= 32;
  for (int d = 0; d < 2; d++)
    {
      guint32 n;

      if (len - off < 8 + 8 + 32 + 4)
        return FALSE;
      self->peer_start[d] = read_be64 (data + off);
      self->peer_count[d] = read_be64 (data + off + 8);
      memcpy (self->peer_base[d], data + off + 16, 32);
      n = read_be32 (data + off + 48);
      off += 52;
      if ((len - off) / 76 < n || self->peer_start[d] + n > self->peer_count[d])
        return FALSE;
      g_clear_pointer (&self->peer_chains[d], nfltr_p2p_audit_chain_free);
      self->peer_chains[d] = nfltr_p2p_audit_chain_new (d, self->peer_base[d]);
      for (guint32 i = 0; i < n; i++, off += 76)
        {
          NfltrP2pAuditLink l;

          l.seq = read_be64 (data + off);
          l.length = read_be32 (data + off + 8);
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

/* An audit message from the peer (AUDIT_DUMP_MAGIC or AUDIT_WINDOW_MAGIC): FALSE when it is
 * malformed or failed authentication. */
gboolean
_nfltr_p2p_transfer_take_audit_dump (NfltrP2pTransfer *self, const guint8 *data, gsize len)
{
  gboolean ok;

  if (self->session == NULL && self->my_chains[0] == NULL)
    return FALSE;
  if (!authentic (self, data, len))
    {
      g_ptr_array_add (self->findings, g_strdup ("the peer's audit chain failed authentication: it was changed on the way"));
      ok = FALSE;
    }
  else if (data[0] == AUDIT_DUMP_MAGIC)
    ok = take_summary (self, data, len);
  else
    ok = take_window (self, data, len);
  if (self->state != ST_FAILED)
    _nfltr_p2p_transfer_fail (self, "the peer's session failed");
  if (data[0] == AUDIT_WINDOW_MAGIC || !ok)
    {
      if (self->findings->len > 0)
        {
          g_autofree char *msg = g_strdup_printf ("the peer's session failed: %s", (char *) self->findings->pdata[0]);

          if (self->audit_answerer)
            _nfltr_p2p_transfer_set_error (self, msg);
        }
      /* The side that answered ends the run once both windows crossed. */
      if (self->audit_answerer)
        _nfltr_p2p_transfer_end_run (self, NFLTR_P2P_END_CLOSED);
      self->audit_answerer = FALSE;
    }
  return ok;
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

/* A peer's chain is the window it sent: its count is the whole chain's, its head the last
 * link it reported, and "from" says where the window starts. */
static void
append_chain_json (GString *out, NfltrP2pAuditChain *chain, gboolean peer, guint64 from, guint64 total)
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
  if (peer)
    g_string_append_printf (out, "{\"count\":%" G_GUINT64_FORMAT ",\"head\":\"%s\",\"from\":%" G_GUINT64_FORMAT "}",
                            total, head, from);
  else
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
      append_chain_json (out, self->my_chains[d], FALSE, 0, 0);
      g_string_append (out, ",\"peer\":");
      append_chain_json (out, self->peer_chains[d], TRUE, self->peer_start[d], self->peer_count[d]);
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
