/* test-p2p-audit.c — the audit hash chain (docs/protocol.md §9.6): a known answer computed
 * independently with Python's hashlib, commitments, and a relay that flips a bit, drops,
 * injects, replays or reorders a frame: the session stops and the comparison of both
 * sides' chains names the frame. */
#include "nfltr-p2p-session.h"
#include "nfltr-p2p-error.h"
#include "p2p-test-util.h"

static const guint8 start[32] = {
  0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
  0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
};

static void
test_kat (void)
{
  g_autoptr(NfltrP2pAuditChain) chain = nfltr_p2p_audit_chain_new (NFLTR_P2P_DIR_A_TO_B, start);
  NfltrP2pCommitment c, back;
  guint8 buf[NFLTR_P2P_COMMITMENT_BYTES];

  nfltr_p2p_audit_chain_commit (chain, &c);
  g_assert_cmpuint (c.count, ==, 0);
  g_assert_cmpmem (c.head, 32, start, 32);
  nfltr_p2p_audit_chain_append (chain, 0, (const guint8 *) "record-0", 8);
  p2p_assert_hex (nfltr_p2p_audit_chain_get_link (chain, 0)->link, 32,
                  "07bf2b8b7ee0ca459129031b3d06448775f41c62db622038ced7e365e50605d7");
  nfltr_p2p_audit_chain_append (chain, 1, (const guint8 *) "record-one", 10);
  p2p_assert_hex (nfltr_p2p_audit_chain_get_link (chain, 1)->link, 32,
                  "e7db9abae22041089e6e6b0f4dfc162057d2b46e82f32c8caa4fa896a0361ace");

  nfltr_p2p_audit_chain_commit (chain, &c);
  nfltr_p2p_commitment_encode (&c, buf);
  p2p_assert_hex (buf, 9, "000000000000000002");
  g_assert_true (nfltr_p2p_commitment_decode (buf, sizeof buf, &back, NULL));
  g_assert_cmpint (back.direction, ==, c.direction);
  g_assert_cmpuint (back.count, ==, c.count);
  g_assert_cmpmem (back.head, 32, c.head, 32);
  g_assert_true (nfltr_p2p_audit_chain_check (chain, &c));
  /* an older commitment still checks; a later or a changed one does not */
  c.count = 1;
  memcpy (c.head, nfltr_p2p_audit_chain_get_link (chain, 0)->link, 32);
  g_assert_true (nfltr_p2p_audit_chain_check (chain, &c));
  c.head[5] ^= 1;
  g_assert_false (nfltr_p2p_audit_chain_check (chain, &c));
  c.count = 3;
  g_assert_false (nfltr_p2p_audit_chain_check (chain, &c));
  buf[0] = 2;
  g_assert_false (nfltr_p2p_commitment_decode (buf, sizeof buf, &back, NULL));
  g_assert_false (nfltr_p2p_commitment_decode (buf, sizeof buf - 1, &back, NULL));
}

typedef enum {
  RELAY_HONEST,
  RELAY_FLIP,
  RELAY_DROP,
  RELAY_INJECT,
  RELAY_REPLAY,
  RELAY_REORDER,
} Relay;

/* A sends ten chat records; the relay does its thing to record 5 on the way; B takes all
 * that arrives. Returns B's error (if any) and the comparison. */
static void
run (Relay              relay,
     GError           **b_error,
     NfltrP2pAuditDiff *diff,
     char             **description)
{
  NfltrP2pKeys keys;
  g_autoptr(NfltrP2pSession) a = NULL, b = NULL;
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  g_autoptr(GByteArray) wire = g_byte_array_new ();
  guint32 chat;

  memset (&keys, 0x5a, sizeof keys);
  keys.b_to_a_enc[0] = 1;
  a = nfltr_p2p_session_new (NFLTR_P2P_ROLE_A, &keys, NULL, NULL);
  b = nfltr_p2p_session_new (NFLTR_P2P_ROLE_B, &keys, NULL, NULL);
  chat = nfltr_p2p_mux_open (nfltr_p2p_session_get_mux (a), NFLTR_P2P_STREAM_CHAT, NULL);
  /* record 0 is the OPEN; 1..9 one line each */
  for (int i = 0; i < 10; i++)
    {
      GByteArray *one = g_byte_array_new ();

      if (i > 0)
        {
          g_autofree char *line = g_strdup_printf ("line %d", i);

          g_assert_true (nfltr_p2p_mux_write (nfltr_p2p_session_get_mux (a), chat, (const guint8 *) line, strlen (line), NULL));
        }
      g_assert_true (nfltr_p2p_session_pull (a, one, G_MAXSIZE, NULL));
      g_assert_cmpuint (one->len, >, 0);
      g_ptr_array_add (records, one);
    }
  for (guint i = 0; i < records->len; i++)
    {
      GByteArray *r = g_ptr_array_index (records, i);

      if (i == 5 && relay == RELAY_FLIP)
        r->data[r->len - 40] ^= 0x04;
      if (i == 5 && relay == RELAY_DROP)
        continue;
      if (i == 5 && relay == RELAY_INJECT)
        {
          guint8 junk[NFLTR_P2P_RECORD_OVERHEAD + 3] = { 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3 };

          g_byte_array_append (wire, junk, sizeof junk);
        }
      if (i == 5 && relay == RELAY_REPLAY)
        {
          GByteArray *old = g_ptr_array_index (records, 2);

          g_byte_array_append (wire, old->data, old->len);
        }
      if (i == 5 && relay == RELAY_REORDER)
        {
          GByteArray *next = g_ptr_array_index (records, 6);

          g_byte_array_append (wire, next->data, next->len);
          g_byte_array_append (wire, r->data, r->len);
          i++;
          continue;
        }
      g_byte_array_append (wire, r->data, r->len);
    }
  nfltr_p2p_session_push (b, wire->data, wire->len, b_error);
  nfltr_p2p_audit_compare (nfltr_p2p_session_get_chain (a, NFLTR_P2P_DIR_A_TO_B),
                           nfltr_p2p_session_get_chain (b, NFLTR_P2P_DIR_A_TO_B), diff);
  *description = nfltr_p2p_audit_diff_describe (diff, NFLTR_P2P_DIR_A_TO_B);
}

static void
test_relay (gconstpointer data)
{
  Relay relay = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  NfltrP2pAuditDiff diff;

  run (relay, &error, &diff, &text);
  switch (relay)
    {
      case RELAY_HONEST:
        g_assert_no_error (error);
        g_assert_cmpint (diff.kind, ==, NFLTR_P2P_AUDIT_SAME);
        g_assert_cmpstr (text, ==, "both chains (sender → receiver) agree");
        break;
      case RELAY_FLIP:
        g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_BAD_TAG);
        g_assert_cmpint (diff.kind, ==, NFLTR_P2P_AUDIT_MODIFIED);
        g_assert_cmpstr (text, ==,
                         "frame 5 (sender → receiver) was modified: 55 bytes were sent, 55 bytes with other "
                         "contents arrived");
        break;
      case RELAY_DROP:
        g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_SEQUENCE);
        g_assert_cmpstr (error->message, ==, "frame 5 is missing (frame 6 came next): the session is closed");
        g_assert_cmpint (diff.kind, ==, NFLTR_P2P_AUDIT_DROPPED);
        g_assert_cmpstr (text, ==, "frame 5 (sender → receiver) was dropped: it was sent and never arrived");
        break;
      case RELAY_INJECT:
        g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_BAD_TAG);
        g_assert_cmpint (diff.kind, ==, NFLTR_P2P_AUDIT_INJECTED);
        g_assert_cmpuint (diff.index, ==, 5);
        g_assert_cmpstr (text, ==,
                         "a frame claiming number 5 (sender → receiver) was injected at position 5: it "
                         "arrived and was never sent there");
        break;
      case RELAY_REPLAY:
        g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_SEQUENCE);
        g_assert_cmpstr (
          error->message, ==,
          "frame 2 arrived again after frame 4 (replayed or reordered): the session is closed");
        g_assert_cmpint (diff.kind, ==, NFLTR_P2P_AUDIT_INJECTED);
        g_assert_cmpuint (diff.seq, ==, 2);
        break;
      case RELAY_REORDER:
        g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_SEQUENCE);
        g_assert_cmpint (diff.kind, ==, NFLTR_P2P_AUDIT_REORDERED);
        g_assert_cmpstr (text, ==,
                         "frame 5 (sender → receiver) was reordered: a later frame arrived before it");
        break;
      default: g_assert_not_reached ();
    }
}

/* The receiver's chain stops early (the connection broke): the first frame missing is
 * named, and nothing is called tampering. */
static void
test_truncated (void)
{
  g_autoptr(NfltrP2pAuditChain) sent = nfltr_p2p_audit_chain_new (NFLTR_P2P_DIR_B_TO_A, start);
  g_autoptr(NfltrP2pAuditChain) got = nfltr_p2p_audit_chain_new (NFLTR_P2P_DIR_B_TO_A, start);
  NfltrP2pAuditDiff diff;
  g_autofree char *text = NULL;

  for (int i = 0; i < 4; i++)
    {
      guint8 rec[3] = { 'r', 'e', (guint8) i };

      nfltr_p2p_audit_chain_append (sent, i, rec, sizeof rec);
      if (i < 2)
        nfltr_p2p_audit_chain_append (got, i, rec, sizeof rec);
    }
  nfltr_p2p_audit_compare (sent, got, &diff);
  g_assert_cmpint (diff.kind, ==, NFLTR_P2P_AUDIT_TRUNCATED);
  text = nfltr_p2p_audit_diff_describe (&diff, NFLTR_P2P_DIR_B_TO_A);
  g_assert_cmpstr (text, ==, "frame 2 (receiver → sender) and those after it never arrived");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/p2p/audit/kat", test_kat);
  g_test_add_data_func ("/p2p/audit/relay/honest", GINT_TO_POINTER (RELAY_HONEST), test_relay);
  g_test_add_data_func ("/p2p/audit/relay/flips-a-bit", GINT_TO_POINTER (RELAY_FLIP), test_relay);
  g_test_add_data_func ("/p2p/audit/relay/drops", GINT_TO_POINTER (RELAY_DROP), test_relay);
  g_test_add_data_func ("/p2p/audit/relay/injects", GINT_TO_POINTER (RELAY_INJECT), test_relay);
  g_test_add_data_func ("/p2p/audit/relay/replays", GINT_TO_POINTER (RELAY_REPLAY), test_relay);
  g_test_add_data_func ("/p2p/audit/relay/reorders", GINT_TO_POINTER (RELAY_REORDER), test_relay);
  g_test_add_func ("/p2p/audit/truncated", test_truncated);
  return g_test_run ();
}
