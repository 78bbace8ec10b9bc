/* test-wg-noise.c — the handshake (paper §5.4.2–§5.4.5) and cookies (§5.4.7): a transcript
 * with fixed keys checked byte for byte against wg-vectors.h (an independent Python
 * implementation), the keys both sides derive, and what a responder must refuse. */
#include "nfltr-wg-cookie.h"
#include "nfltr-wg-noise.h"
#include "wg-vectors.h"

#include <string.h>

typedef struct {
  NfltrWgIdentity initiator, responder;
  NfltrWgHandshake hs_i, hs_r;
  NfltrWgCookieMaker maker_i, maker_r;
} Pair;

static void
pair_init (Pair *p)
{
  nfltr_wg_identity_init (&p->initiator, hs_initiator_private);
  nfltr_wg_identity_init (&p->responder, hs_responder_private);
  nfltr_wg_handshake_init (&p->hs_i, &p->initiator, p->responder.public_key, hs_psk);
  nfltr_wg_handshake_init (&p->hs_r, &p->responder, p->initiator.public_key, hs_psk);
  nfltr_wg_cookie_maker_init (&p->maker_i, p->responder.public_key);
  nfltr_wg_cookie_maker_init (&p->maker_r, p->initiator.public_key);
}

static void
make_initiation (Pair *p, NfltrWgMessageInitiation *msg)
{
  g_assert_true (nfltr_wg_handshake_create_initiation (&p->hs_i, &p->initiator, msg, hs_initiator_ephemeral, hs_timestamp,
                                                       HS_INITIATOR_INDEX));
  nfltr_wg_cookie_add_macs (&p->maker_i, (guint8 *) msg, sizeof *msg, 1000);
}

static gboolean
consume_initiation (Pair *p, const NfltrWgMessageInitiation *msg, gint64 now_ns)
{
  NfltrWgHandshake scratch;
  guint8 remote_static[32];
  gboolean ok;

  if (!nfltr_wg_handshake_consume_initiation_begin (&p->responder, msg, &scratch, remote_static))
    return FALSE;
  g_assert_cmpmem (remote_static, 32, p->initiator.public_key, 32);
  ok = nfltr_wg_handshake_consume_initiation_finish (&p->hs_r, &scratch, msg, now_ns);
  nfltr_wg_handshake_clear (&scratch);
  return ok;
}

static void
test_transcript (void)
{
  Pair p;
  NfltrWgMessageInitiation init;
  NfltrWgMessageResponse resp;
  NfltrWgSessionKeys keys_i, keys_r;
  NfltrWgCookieChecker checker_r, checker_i;
  guint8 secret[32] = { 0 };

  pair_init (&p);
  make_initiation (&p, &init);
  g_assert_cmpmem (&init, sizeof init, hs_initiation, sizeof hs_initiation);

  /* The responder checks mac1 with its own key, then decrypts and takes over the state. */
  nfltr_wg_cookie_checker_init (&checker_r, p.responder.public_key);
  g_assert_cmpint (nfltr_wg_cookie_check (&checker_r, (guint8 *) &init, sizeof init, hs_cookie_source, 6, 1, secret), ==,
                   NFLTR_WG_MACS_VALID_MAC1);
  g_assert_true (consume_initiation (&p, &init, 1));
  g_assert_cmpuint (p.hs_r.remote_index, ==, HS_INITIATOR_INDEX);

  g_assert_true (nfltr_wg_handshake_create_response (&p.hs_r, &resp, hs_responder_ephemeral, HS_RESPONDER_INDEX));
  nfltr_wg_cookie_add_macs (&p.maker_r, (guint8 *) &resp, sizeof resp, 1000);
  g_assert_cmpmem (&resp, sizeof resp, hs_response, sizeof hs_response);

  nfltr_wg_cookie_checker_init (&checker_i, p.initiator.public_key);
  g_assert_cmpint (nfltr_wg_cookie_check (&checker_i, (guint8 *) &resp, sizeof resp, hs_cookie_source, 6, 1, secret), ==,
                   NFLTR_WG_MACS_VALID_MAC1);
  g_assert_true (nfltr_wg_handshake_consume_response (&p.hs_i, &p.initiator, &resp));

  g_assert_true (nfltr_wg_handshake_derive_keys (&p.hs_i, &keys_i));
  g_assert_true (nfltr_wg_handshake_derive_keys (&p.hs_r, &keys_r));
  g_assert_true (keys_i.initiator);
  g_assert_false (keys_r.initiator);
  g_assert_cmpmem (keys_i.send_key, 32, hs_initiator_send_key, 32);
  g_assert_cmpmem (keys_i.receive_key, 32, hs_initiator_receive_key, 32);
  g_assert_cmpmem (keys_r.receive_key, 32, keys_i.send_key, 32);
  g_assert_cmpmem (keys_r.send_key, 32, keys_i.receive_key, 32);
  g_assert_cmpuint (keys_i.remote_index, ==, HS_RESPONDER_INDEX);
  g_assert_cmpuint (keys_r.remote_index, ==, HS_INITIATOR_INDEX);
  /* Deriving clears the running state: no second session from one handshake. */
  g_assert_cmpint (p.hs_i.state, ==, NFLTR_WG_HANDSHAKE_ZEROED);
  g_assert_false (nfltr_wg_handshake_derive_keys (&p.hs_i, &keys_i));

  /* The first transport message: 20 bytes padded to 32, counter 0 (§5.4.6). */
  {
    guint8 data[16 + 32 + 16] = { 4, 0, 0, 0 };
    guint8 inner[32] = { 0x45 };

    nfltr_wg_put_le32 (data + 4, keys_i.remote_index);
    nfltr_wg_put_le64 (data + 8, 0);
    nfltr_wg_aead_encrypt (data + 16, inner, sizeof inner, NULL, 0, 0, keys_i.send_key);
    g_assert_cmpmem (data, sizeof data, hs_data_counter0, sizeof hs_data_counter0);
  }
}

static void
test_psk_mismatch_fails_response (void)
{
  Pair p;
  NfltrWgMessageInitiation init;
  NfltrWgMessageResponse resp;
  guint8 other_psk[32] = { 1 };

  pair_init (&p);
  nfltr_wg_handshake_init (&p.hs_r, &p.responder, p.initiator.public_key, other_psk);
  make_initiation (&p, &init);
  /* The PSK enters only at the response (IKpsk2): the initiation still decrypts. */
  g_assert_true (consume_initiation (&p, &init, 1));
  g_assert_true (nfltr_wg_handshake_create_response (&p.hs_r, &resp, hs_responder_ephemeral, HS_RESPONDER_INDEX));
  g_assert_false (nfltr_wg_handshake_consume_response (&p.hs_i, &p.initiator, &resp));
  /* A forged response leaves the initiation usable. */
  g_assert_cmpint (p.hs_i.state, ==, NFLTR_WG_HANDSHAKE_CREATED_INITIATION);
}

static void
test_responder_refuses (void)
{
  Pair p;
  NfltrWgMessageInitiation init, tampered;
  NfltrWgIdentity stranger;
  NfltrWgHandshake scratch;
  guint8 remote_static[32];
  guint8 stranger_private[32] = { 42 };
  guint8 later[12];

  pair_init (&p);
  make_initiation (&p, &init);

  /* Any flipped bit of the encrypted parts. */
  tampered = init;
  tampered.encrypted_static[5] ^= 0x80;
  g_assert_false (nfltr_wg_handshake_consume_initiation_begin (&p.responder, &tampered, &scratch, remote_static));
  tampered = init;
  tampered.encrypted_timestamp[0] ^= 1;
  g_assert_false (consume_initiation (&p, &tampered, 1));
  tampered = init;
  tampered.unencrypted_ephemeral[9] ^= 1;
  g_assert_false (nfltr_wg_handshake_consume_initiation_begin (&p.responder, &tampered, &scratch, remote_static));

  /* Meant for somebody else. */
  nfltr_wg_identity_init (&stranger, stranger_private);
  g_assert_false (nfltr_wg_handshake_consume_initiation_begin (&stranger, &init, &scratch, remote_static));

  /* Accepted once; the same initiation again is a replay (its timestamp does not grow). */
  g_assert_true (consume_initiation (&p, &init, G_GINT64_CONSTANT (5000000000)));
  g_assert_false (consume_initiation (&p, &init, G_GINT64_CONSTANT (9000000000)));

  /* A newer timestamp, but within 1/50 s of the last: the flood limit. */
  memcpy (later, hs_timestamp, 12);
  later[11] = 1;
  g_assert_true (nfltr_wg_handshake_create_initiation (&p.hs_i, &p.initiator, &init, hs_initiator_ephemeral, later, 7));
  g_assert_false (consume_initiation (&p, &init, G_GINT64_CONSTANT (5010000000)));
  g_assert_true (consume_initiation (&p, &init, G_GINT64_CONSTANT (5030000000)));
}

static void
test_cookie_reply (void)
{
  Pair p;
  NfltrWgMessageInitiation init;
  NfltrWgMessageCookie reply;
  NfltrWgCookieChecker checker;
  guint8 nonce[24] = { 9 };
  guint8 next_secret[32] = { 7 };
  guint8 other_source[6] = { 192, 0, 2, 99, 0xca, 0x6c };
  const gint64 t0 = G_GINT64_CONSTANT (1000000000);

  pair_init (&p);
  nfltr_wg_cookie_checker_init (&checker, p.responder.public_key);
  make_initiation (&p, &init);

  /* Under load the responder answers with MAC(Rm, source) under XChaCha20-Poly1305. */
  nfltr_wg_cookie_reply_create (&checker, &reply, (guint8 *) &init, sizeof init, HS_INITIATOR_INDEX, hs_cookie_source, 6, t0,
                                hs_cookie_secret, nonce);
  g_assert_cmpuint (reply.header.type, ==, 3);
  g_assert_cmpuint (nfltr_wg_get_le32 (reply.receiver_index), ==, HS_INITIATOR_INDEX);
  g_assert_true (nfltr_wg_cookie_consume_reply (&p.maker_i, &reply, t0));
  g_assert_cmpmem (p.maker_i.cookie, 16, hs_cookie, 16);
  /* One reply per mac1 sent. */
  g_assert_false (nfltr_wg_cookie_consume_reply (&p.maker_i, &reply, t0));

  /* The initiation sent again carries mac2 (vector from Python), which the responder accepts
   * from that source only. */
  nfltr_wg_cookie_add_macs (&p.maker_i, (guint8 *) &init, sizeof init, t0 + 1);
  g_assert_cmpmem (&init, sizeof init, hs_initiation_with_mac2, sizeof hs_initiation_with_mac2);
  g_assert_cmpint (nfltr_wg_cookie_check (&checker, (guint8 *) &init, sizeof init, hs_cookie_source, 6, t0 + 2, hs_cookie_secret),
                   ==, NFLTR_WG_MACS_VALID_MAC2);
  g_assert_cmpint (nfltr_wg_cookie_check (&checker, (guint8 *) &init, sizeof init, other_source, 6, t0 + 2, hs_cookie_secret),
                   ==, NFLTR_WG_MACS_VALID_MAC1);

  /* Two minutes later the secret has changed: the old cookie no longer proves anything. */
  g_assert_cmpint (nfltr_wg_cookie_check (&checker, (guint8 *) &init, sizeof init, hs_cookie_source, 6,
                                          t0 + 121 * G_GINT64_CONSTANT (1000000000), next_secret),
                   ==, NFLTR_WG_MACS_VALID_MAC1);
  /* And the initiator stops sending mac2 after 120 - 5 seconds. */
  nfltr_wg_cookie_add_macs (&p.maker_i, (guint8 *) &init, sizeof init, t0 + 116 * G_GINT64_CONSTANT (1000000000));
  g_assert_true (nfltr_wg_is_zero (init.macs.mac2, 16));

  /* A wrong mac1 is invalid outright. */
  init.macs.mac1[0] ^= 1;
  g_assert_cmpint (nfltr_wg_cookie_check (&checker, (guint8 *) &init, sizeof init, hs_cookie_source, 6, t0, hs_cookie_secret), ==,
                   NFLTR_WG_MACS_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wg/noise/transcript", test_transcript);
  g_test_add_func ("/wg/noise/psk-mismatch", test_psk_mismatch_fails_response);
  g_test_add_func ("/wg/noise/responder-refuses", test_responder_refuses);
  g_test_add_func ("/wg/cookie/reply-and-mac2", test_cookie_reply);
  return g_test_run ();
}
