/* test-p2p-handshake.c — pairing (docs/protocol.md §9.3): a full run with fixed randomness
 * pinned byte for byte, then everything that must fail: a wrong code, a changed candidate,
 * a replayed handshake, a third party guessing, messages out of order. */
#include "nfltr-p2p-handshake.h"
#include "nfltr-p2p-error.h"
#include "p2p-test-util.h"

#define CODE "7-lantern-otter-quartz"
/* Pinned from this implementation's own run with the fixed randomness of fixed ()
 * (CPace itself is checked against the draft's vectors in test-p2p-cpace.c): a change to
 * the message layout, the transcript or the key schedule shows here. */
#define KAT_YA "d67b069e457848638faf53acf985db2bc04cbd7ab00d5fe1bab612a82768d66d"
#define KAT_TH "e85a0ec8a5efe6170001f41bcd2632f2c48909e2fc318af59776a558f202c826"
#define KAT_AB_ENC "faf37a4fdc638f24352add738116d2992ebca0a78bebf024e9f35cbe5f625d69"
#define KAT_AB_MAC "aa0ec6fa20f3c9a8559676301e1dfb3c9c4a97cfe932b9319bd32f6c635d2d99"
#define KAT_BA_ENC "9879ca065197982e53d9c784e73a77594a57449adec5e327fcd5868c3681ffa3"
#define KAT_BA_MAC "e108b371a9f4a2eda2c1183b6e4e917c06aae30b9711f2be1415087484f02bdb"
#define KAT_CONFIRM_A "ec7f6727c94cce3be54594bfe30f3224df08d64941187adc0d0d2c2f3a2da8c4"

typedef struct {
  NfltrP2pHandshake *a;
  NfltrP2pHandshake *b;
  GPtrArray         *a_sent;  /* GBytes, everything A sent, for replays */
  GError            *a_error;
  GError            *b_error;
} Run;

static void
fixed (NfltrP2pHandshake *hs,
       guint8             seed)
{
  guint8 scalar[32], nonce[32], sid[16];

  for (int i = 0; i < 32; i++)
    {
      scalar[i] = (guint8) (seed + i);
      nonce[i] = (guint8) (seed * 3 + i);
    }
  scalar[31] &= 0x0f;
  for (int i = 0; i < 16; i++)
    sid[i] = (guint8) (0xa0 + i);
  nfltr_p2p_handshake_set_fixed_randomness (hs, scalar, nonce, sid);
}

static GBytes *
ice (NfltrP2pHandshake *hs,
     NfltrP2pMsgType    type,
     const char        *text)
{
  NfltrP2pMessage msg = { .type = type };
  GBytes *out;

  if (type == NFLTR_P2P_MSG_ICE_CREDENTIALS)
    {
      msg.ufrag = (char *) "uFrG";
      msg.pwd = (char *) text;
    }
  else if (type == NFLTR_P2P_MSG_ICE_CANDIDATE)
    msg.candidate = (char *) text;
  out = nfltr_p2p_handshake_send (hs, &msg, NULL);
  g_assert_nonnull (out);
  return out;
}

static gboolean
deliver (NfltrP2pHandshake *to,
         GBytes            *msg,
         GBytes           **reply,
         GError           **error)
{
  return nfltr_p2p_handshake_receive (to, msg, reply, NULL, error);
}

/* Runs a whole pairing; TAMPER, when set, may change a candidate from B to A on the way.
 * Returns whether both sides finished. */
static gboolean
run_pairing (Run        *run,
             const char *code_a,
             const char *code_b,
             gboolean    tamper)
{
  g_autoptr(GBytes) pake_a = NULL, pake_b = NULL;
  g_autoptr(GBytes) a_cred = NULL, a_cand = NULL, a_done = NULL;
  g_autoptr(GBytes) b_cred = NULL, b_cand = NULL, b_done = NULL;
  g_autoptr(GBytes) a_confirm = NULL, b_confirm = NULL;
  gboolean ok_a, ok_b;

  run->a = nfltr_p2p_handshake_new (NFLTR_P2P_ROLE_A, code_a, NULL);
  run->b = nfltr_p2p_handshake_new (NFLTR_P2P_ROLE_B, code_b, NULL);
  run->a_sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  fixed (run->a, 1);
  fixed (run->b, 2);

  pake_a = nfltr_p2p_handshake_start (run->a, NULL);
  g_assert_nonnull (pake_a);
  g_ptr_array_add (run->a_sent, g_bytes_ref (pake_a));
  g_assert_true (deliver (run->b, pake_a, &pake_b, NULL));
  g_assert_nonnull (pake_b);
  g_assert_true (deliver (run->a, pake_b, NULL, NULL));

  /* trickled candidates cross each other: A's and B's arrive in different orders */
  a_cred = ice (run->a, NFLTR_P2P_MSG_ICE_CREDENTIALS, "aaaaaaaaaaaaaaaaaaaaaa");
  b_cred = ice (run->b, NFLTR_P2P_MSG_ICE_CREDENTIALS, "bbbbbbbbbbbbbbbbbbbbbb");
  a_cand = ice (run->a, NFLTR_P2P_MSG_ICE_CANDIDATE, "1 1 UDP 2130706431 127.0.0.1 40001 typ host");
  g_assert_true (deliver (run->b, a_cred, NULL, NULL));
  b_cand = ice (run->b, NFLTR_P2P_MSG_ICE_CANDIDATE, "1 1 UDP 2130706431 127.0.0.1 40002 typ host");
  g_assert_true (deliver (run->a, b_cred, NULL, NULL));
  if (tamper)
    {
      NfltrP2pMessage forged = { .type = NFLTR_P2P_MSG_ICE_CANDIDATE,
                                 .candidate = (char *) "1 1 UDP 2130706431 192.0.2.66 40002 typ host" };

      /* the relay points A at an address of its own choosing */
      g_bytes_unref (b_cand);
      b_cand = nfltr_p2p_message_encode (&forged);
    }
  g_assert_true (deliver (run->a, b_cand, NULL, NULL));
  g_assert_true (deliver (run->b, a_cand, NULL, NULL));
  a_done = ice (run->a, NFLTR_P2P_MSG_ICE_DONE, NULL);
  b_done = ice (run->b, NFLTR_P2P_MSG_ICE_DONE, NULL);
  g_assert_false (nfltr_p2p_handshake_can_confirm (run->a));
  g_assert_true (deliver (run->a, b_done, NULL, NULL));
  g_assert_true (deliver (run->b, a_done, NULL, NULL));
  g_ptr_array_add (run->a_sent, g_bytes_ref (a_cred));
  g_ptr_array_add (run->a_sent, g_bytes_ref (a_cand));
  g_ptr_array_add (run->a_sent, g_bytes_ref (a_done));

  g_assert_true (nfltr_p2p_handshake_can_confirm (run->a));
  g_assert_true (nfltr_p2p_handshake_can_confirm (run->b));
  b_confirm = nfltr_p2p_handshake_confirm (run->b, NULL);
  a_confirm = nfltr_p2p_handshake_confirm (run->a, NULL);
  g_ptr_array_add (run->a_sent, g_bytes_ref (a_confirm));
  ok_a = deliver (run->a, b_confirm, NULL, &run->a_error);
  ok_b = deliver (run->b, a_confirm, NULL, &run->b_error);
  return ok_a && ok_b;
}

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->a, nfltr_p2p_handshake_free);
  g_clear_pointer (&run->b, nfltr_p2p_handshake_free);
  g_clear_pointer (&run->a_sent, g_ptr_array_unref);
  g_clear_error (&run->a_error);
  g_clear_error (&run->b_error);
}

static void
test_kat (void)
{
  Run run = { 0 };
  NfltrP2pKeys ka, kb;
  GBytes *pake_a;

  g_assert_true (run_pairing (&run, CODE, "  7 LANTERN otter quartz", FALSE));
  g_assert_true (nfltr_p2p_handshake_is_done (run.a));
  g_assert_true (nfltr_p2p_handshake_is_done (run.b));
  g_assert_true (nfltr_p2p_handshake_get_keys (run.a, &ka));
  g_assert_true (nfltr_p2p_handshake_get_keys (run.b, &kb));
  g_assert_cmpmem (&ka, sizeof ka, &kb, sizeof kb);

  /* Fixed scalars, nonces and sid: every byte below is reproducible. PAKE_A carries
   * version 1, type 1, 80 bytes: sid, Ya, nonce_a. */
  pake_a = g_ptr_array_index (run.a_sent, 0);
  p2p_assert_hex (g_bytes_get_data (pake_a, NULL), 4, "01010050");
  p2p_assert_hex ((const guint8 *) g_bytes_get_data (pake_a, NULL) + 4, 16, "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  if (g_getenv ("P2P_KAT_PRINT") != NULL)
    {
      g_autofree char *ya = p2p_test_hex ((const guint8 *) g_bytes_get_data (pake_a, NULL) + 20, 32);
      g_autofree char *th = p2p_test_hex (ka.transcript, 32);
      g_autofree char *e1 = p2p_test_hex (ka.a_to_b_enc, 32);
      g_autofree char *m1 = p2p_test_hex (ka.a_to_b_mac, 32);
      g_autofree char *e2 = p2p_test_hex (ka.b_to_a_enc, 32);
      g_autofree char *m2 = p2p_test_hex (ka.b_to_a_mac, 32);
      g_autofree char *tag = p2p_test_hex ((const guint8 *) g_bytes_get_data (g_ptr_array_index (run.a_sent, 4), NULL) + 4, 32);

      g_printerr ("Ya %s\nTH %s\nAB enc %s\nAB mac %s\nBA enc %s\nBA mac %s\nconfirm A %s\n", ya, th, e1, m1, e2, m2, tag);
    }
  p2p_assert_hex ((const guint8 *) g_bytes_get_data (pake_a, NULL) + 20, 32, KAT_YA);
  p2p_assert_hex (ka.transcript, 32, KAT_TH);
  p2p_assert_hex (ka.a_to_b_enc, 32, KAT_AB_ENC);
  p2p_assert_hex (ka.a_to_b_mac, 32, KAT_AB_MAC);
  p2p_assert_hex (ka.b_to_a_enc, 32, KAT_BA_ENC);
  p2p_assert_hex (ka.b_to_a_mac, 32, KAT_BA_MAC);
  p2p_assert_hex ((const guint8 *) g_bytes_get_data (g_ptr_array_index (run.a_sent, 4), NULL) + 4, 32, KAT_CONFIRM_A);
  /* the four keys are four different keys */
  g_assert_true (memcmp (ka.a_to_b_enc, ka.b_to_a_enc, 32) != 0);
  g_assert_true (memcmp (ka.a_to_b_enc, ka.a_to_b_mac, 32) != 0);
  run_clear (&run);
}

static void
test_wrong_code (void)
{
  Run run = { 0 };
  NfltrP2pKeys keys;

  g_assert_false (run_pairing (&run, CODE, "7-lantern-otter-quill", FALSE));
  g_assert_error (run.a_error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH);
  g_assert_error (run.b_error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH);
  g_assert_cmpstr (run.a_error->message, ==, "the code did not match");
  g_assert_cmpstr (run.b_error->message, ==, "the code did not match");
  g_assert_false (nfltr_p2p_handshake_get_keys (run.a, &keys));
  g_assert_false (nfltr_p2p_handshake_get_keys (run.b, &keys));
  run_clear (&run);
}

/* The confirmation covers the ICE candidates: a relay that rewrites one is caught. */
static void
test_tampered_candidate (void)
{
  Run run = { 0 };

  g_assert_false (run_pairing (&run, CODE, CODE, TRUE));
  g_assert_error (run.a_error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH);
  g_assert_error (run.b_error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH);
  run_clear (&run);
}

/* Everything A sent in one pairing, played to a fresh B by someone who recorded it: B's
 * nonce is new, so A's old confirmation does not fit. */
static void
test_replayed_handshake (void)
{
  Run run = { 0 };
  g_autoptr(NfltrP2pHandshake) b2 = nfltr_p2p_handshake_new (NFLTR_P2P_ROLE_B, CODE, NULL);
  g_autoptr(GBytes) reply = NULL, done = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (run_pairing (&run, CODE, CODE, FALSE));
  /* b2 draws its own randomness */
  g_assert_true (deliver (b2, g_ptr_array_index (run.a_sent, 0), &reply, NULL));
  g_assert_nonnull (reply);
  for (guint i = 1; i < 4; i++)
    g_assert_true (deliver (b2, g_ptr_array_index (run.a_sent, i), NULL, NULL));
  done = ice (b2, NFLTR_P2P_MSG_ICE_DONE, NULL);
  g_assert_false (deliver (b2, g_ptr_array_index (run.a_sent, 4), NULL, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH);
  g_assert_false (nfltr_p2p_handshake_is_done (b2));
  run_clear (&run);
}

/* A third party that raced to claim the offer holds no code; guessing one fails on the
 * sender's side with the same message, and the sender learns nothing more. */
static void
test_third_party (void)
{
  Run run = { 0 };

  g_assert_false (run_pairing (&run, CODE, "7-acorn-actor-adobe", FALSE));
  g_assert_error (run.a_error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH);
  run_clear (&run);
}

static void
test_order (void)
{
  g_autoptr(NfltrP2pHandshake) a = nfltr_p2p_handshake_new (NFLTR_P2P_ROLE_A, CODE, NULL);
  g_autoptr(NfltrP2pHandshake) b = nfltr_p2p_handshake_new (NFLTR_P2P_ROLE_B, CODE, NULL);
  g_autoptr(NfltrP2pHandshake) b2 = nfltr_p2p_handshake_new (NFLTR_P2P_ROLE_B, CODE, NULL);
  g_autoptr(GBytes) pake_a = NULL, pake_b = NULL, cand = NULL;
  g_autoptr(GError) error = NULL;
  NfltrP2pMessage done = { .type = NFLTR_P2P_MSG_ICE_DONE };
  NfltrP2pMessage confirm = { .type = NFLTR_P2P_MSG_CONFIRM };
  g_autoptr(GBytes) confirm_bytes = nfltr_p2p_message_encode (&confirm);

  /* the receiver does not start; nothing is sent before the keys */
  g_assert_null (nfltr_p2p_handshake_start (b, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED);
  g_clear_error (&error);
  g_assert_null (nfltr_p2p_handshake_send (a, &done, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED);
  g_clear_error (&error);

  /* a CONFIRM before the transcript is complete ends the pairing */
  pake_a = nfltr_p2p_handshake_start (a, NULL);
  g_assert_true (deliver (b, pake_a, &pake_b, NULL));
  g_assert_false (deliver (b, confirm_bytes, NULL, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED);
  g_assert_cmpstr (error->message, ==, "unexpected CONFIRM in the pairing");
  g_clear_error (&error);
  g_assert_false (deliver (b, pake_a, NULL, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CLOSED);
  g_clear_error (&error);

  /* PAKE_A twice */
  g_assert_true (deliver (b2, pake_a, NULL, NULL));
  g_assert_false (deliver (b2, pake_a, NULL, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED);
  g_clear_error (&error);

  /* a share that is not a group element */
  {
    g_autoptr(NfltrP2pHandshake) b3 = nfltr_p2p_handshake_new (NFLTR_P2P_ROLE_B, CODE, NULL);
    g_autoptr(GBytes) bad = NULL;
    guint8 *copy = g_memdup2 (g_bytes_get_data (pake_a, NULL), g_bytes_get_size (pake_a));

    memset (copy + 4 + 16, 0, 32); /* the identity */
    bad = g_bytes_new_take (copy, g_bytes_get_size (pake_a));
    g_assert_false (deliver (b3, bad, NULL, &error));
    g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED);
    g_assert_cmpstr (error->message, ==, "the peer's key share is not a valid group element");
    g_clear_error (&error);
  }

  /* a bad code never gets as far as a handshake */
  g_assert_null (nfltr_p2p_handshake_new (NFLTR_P2P_ROLE_B, "seven-otters", &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_BAD_CODE);
}

static void
test_message_codec (void)
{
  NfltrP2pMessage in = { .type = NFLTR_P2P_MSG_ICE_CREDENTIALS, .ufrag = (char *) "abcd",
                         .pwd = (char *) "0123456789012345678901" };
  NfltrP2pMessage out;
  g_autoptr(GBytes) bytes = nfltr_p2p_message_encode (&in);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  g_autoptr(GError) error = NULL;
  guint8 short_pwd[] = { 1, 3, 0, 8, 4, 'a', 'b', 'c', 'd', 2, 'x', 'y' };
  guint8 newline[] = { 1, 4, 0, 3, 'a', '\n', 'b' };
  guint8 version2[] = { 2, 5, 0, 0 };

  p2p_assert_hex (data, len, "0103001c04616263641630313233343536373839303132333435363738393031");
  g_assert_true (nfltr_p2p_message_decode (data, len, &out, NULL));
  g_assert_cmpstr (out.ufrag, ==, "abcd");
  g_assert_cmpstr (out.pwd, ==, "0123456789012345678901");
  nfltr_p2p_message_clear (&out);
  g_assert_false (nfltr_p2p_message_decode (data, len - 1, &out, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_false (nfltr_p2p_message_decode (short_pwd, sizeof short_pwd, &out, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_false (nfltr_p2p_message_decode (newline, sizeof newline, &out, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_false (nfltr_p2p_message_decode (version2, sizeof version2, &out, &error));
  g_assert_cmpstr (error->message, ==, "the peer speaks pairing version 2; this one speaks 1");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/p2p/handshake/kat", test_kat);
  g_test_add_func ("/p2p/handshake/wrong-code", test_wrong_code);
  g_test_add_func ("/p2p/handshake/tampered-candidate", test_tampered_candidate);
  g_test_add_func ("/p2p/handshake/replayed", test_replayed_handshake);
  g_test_add_func ("/p2p/handshake/third-party", test_third_party);
  g_test_add_func ("/p2p/handshake/order", test_order);
  g_test_add_func ("/p2p/handshake/message-codec", test_message_codec);
  return g_test_run ();
}
