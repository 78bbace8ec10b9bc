/* test-a2a.c — the a2a construction (docs/protocol.md §13.4): known answers computed by
 * gen-a2a-vectors.py with Python's cryptography, and every rejection a receiver must make —
 * a flipped bit anywhere, a replay, a re-addressed message, a changed key, a stripped flag. */
#include "nfltr-a2a-proto.h"
#include "nfltr-audit-checkpoint.h"
#include "a2a-vectors.h"

#include <sodium.h>
#include <string.h>

typedef struct {
  NfltrA2aIdentity alice, bob, carol;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  guint8 carol_seed[32];

  g_assert_true (nfltr_a2a_identity_from_seed (&f->alice, kat_alice_seed, NULL));
  g_assert_true (nfltr_a2a_identity_from_seed (&f->bob, kat_bob_seed, NULL));
  memset (carol_seed, 0x77, sizeof carol_seed);
  g_assert_true (nfltr_a2a_identity_from_seed (&f->carol, carol_seed, NULL));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
}

static NfltrA2aRoute
kat_route (void)
{
  NfltrA2aRoute route = { .from = KAT_ALICE_ID, .to = KAT_BOB_ID };

  memcpy (route.msg_id, kat_msg_id, 16);
  return route;
}

/* The KAT envelope, sealed by alice for bob. */
static GBytes *
seal_kat (Fixture *f, gboolean plaintext)
{
  NfltrA2aSendSession s;
  NfltrA2aRoute route = kat_route ();
  g_autoptr(GError) error = NULL;
  GBytes *env;

  g_assert_true (nfltr_a2a_send_session_init (&s, &f->alice, f->bob.ed_pk, kat_eph_sk, &error));
  g_assert_no_error (error);
  s.next_counter = KAT_COUNTER;
  env = nfltr_a2a_seal (&s, &f->alice, &route, plaintext, kat_inner, sizeof kat_inner, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s.next_counter, ==, KAT_COUNTER + 1);
  return env;
}

/* Opens data as bob would; NULL with error on a rejection. */
static GBytes *
open_as (const NfltrA2aIdentity *who, const char *who_id, const NfltrA2aRoute *route, const guint8 *data, gsize len,
         const guint8 *pinned, GError **error)
{
  NfltrA2aEnvelope env;

  if (!nfltr_a2a_envelope_parse (data, len, &env, error))
    return NULL;
  return nfltr_a2a_open (who, who_id, route, &env, pinned, error);
}

static void
test_hkdf_rfc5869 (void)
{
  /* RFC 5869 A.1 */
  guint8 ikm[22], salt[13], info[10], okm[42];
  static const guint8 want[42] = { 0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a, 0x90, 0x43, 0x4f, 0x64, 0xd0, 0x36,
                                   0x2f, 0x2a, 0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c, 0x5d, 0xb0, 0x2d, 0x56,
                                   0xec, 0xc4, 0xc5, 0xbf, 0x34, 0x00, 0x72, 0x08, 0xd5, 0xb8, 0x87, 0x18, 0x58, 0x65 };

  memset (ikm, 0x0b, sizeof ikm);
  for (guint i = 0; i < sizeof salt; i++)
    salt[i] = i;
  for (guint i = 0; i < sizeof info; i++)
    info[i] = 0xf0 + i;
  nfltr_a2a_hkdf_sha256 (salt, sizeof salt, ikm, sizeof ikm, info, sizeof info, okm, sizeof okm);
  g_assert_cmpmem (okm, sizeof okm, want, sizeof want);
}

static void
test_known_answer (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) env = seal_kat (f, FALSE);
  NfltrA2aRoute route = kat_route ();
  NfltrA2aSendSession s;
  g_autoptr(GBytes) inner = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (nfltr_a2a_send_session_init (&s, &f->alice, f->bob.ed_pk, kat_eph_sk, NULL));
  g_assert_cmpmem (s.key, 32, kat_key, sizeof kat_key);
  g_assert_cmpmem (g_bytes_get_data (env, NULL), g_bytes_get_size (env), kat_envelope, sizeof kat_envelope);
  inner = open_as (&f->bob, KAT_BOB_ID, &route, kat_envelope, sizeof kat_envelope, f->alice.ed_pk, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (inner, NULL), g_bytes_get_size (inner), kat_inner, sizeof kat_inner);
}

static void
test_every_bit_flip_is_rejected (Fixture *f, gconstpointer data)
{
  NfltrA2aRoute route = kat_route ();

  for (gsize i = 0; i < sizeof kat_envelope; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (kat_envelope, sizeof kat_envelope);
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) inner = NULL;

      copy[i] ^= 0x01;
      inner = open_as (&f->bob, KAT_BOB_ID, &route, copy, sizeof kat_envelope, f->alice.ed_pk, &error);
      g_assert_null (inner);
      g_assert_nonnull (error);
      /* Where the bit landed decides the reason; none of them passes. */
      if (i >= 2 && i < 34)
        g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_KEY_CHANGED);
      else if (i >= 34 && i < 42)
        g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_NOT_FOR_US);
      else if (i >= 42)
        {
          g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_AUTH_FAILED);
          g_assert_nonnull (strstr (error->message, "modified in transit"));
        }
    }
}

static void
test_routing_header_is_bound (Fixture *f, gconstpointer data)
{
  NfltrA2aRoute route = kat_route ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) inner = NULL;

  /* Another message id, another sender id: the tag covers both. */
  route.msg_id[0] ^= 1;
  inner = open_as (&f->bob, KAT_BOB_ID, &route, kat_envelope, sizeof kat_envelope, f->alice.ed_pk, &error);
  g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_AUTH_FAILED);
  g_clear_error (&error);
  route = kat_route ();
  route.from = "cccccccc0123456789abcdef01234567";
  inner = open_as (&f->bob, KAT_BOB_ID, &route, kat_envelope, sizeof kat_envelope, f->alice.ed_pk, &error);
  g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_AUTH_FAILED);
}

static void
test_readdressed_is_rejected (Fixture *f, gconstpointer data)
{
  NfltrA2aRoute route = kat_route ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) inner = NULL;
  const char *carol_id = "cccccccc0123456789abcdef01234567";

  /* Delivered to carol with bob's address on it. */
  inner = open_as (&f->carol, carol_id, &route, kat_envelope, sizeof kat_envelope, f->alice.ed_pk, &error);
  g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_NOT_FOR_US);
  g_assert_nonnull (strstr (error->message, "re-addressed"));
  g_clear_error (&error);
  /* Delivered to carol with carol's address on it: the envelope names bob's key. */
  route.to = carol_id;
  inner = open_as (&f->carol, carol_id, &route, kat_envelope, sizeof kat_envelope, f->alice.ed_pk, &error);
  g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_NOT_FOR_US);
  g_assert_nonnull (strstr (error->message, "another agent's key"));
}

static void
test_changed_key_is_refused (Fixture *f, gconstpointer data)
{
  NfltrA2aRoute route = kat_route ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) inner = NULL;
  g_autofree char *fp = nfltr_a2a_fingerprint (f->alice.ed_pk);

  /* Bob pinned carol's key for alice's id: a message sealed with alice's real key is refused. */
  inner = open_as (&f->bob, KAT_BOB_ID, &route, kat_envelope, sizeof kat_envelope, f->carol.ed_pk, &error);
  g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_KEY_CHANGED);
  g_assert_nonnull (strstr (error->message, fp));
  g_assert_nonnull (strstr (error->message, "nfltr a2a trust " KAT_ALICE_ID));
  g_clear_error (&error);
  /* First contact (nothing pinned) opens. */
  inner = open_as (&f->bob, KAT_BOB_ID, &route, kat_envelope, sizeof kat_envelope, NULL, &error);
  g_assert_no_error (error);
}

static void
test_plaintext_opt_out_is_still_authentic (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) env = seal_kat (f, TRUE);
  NfltrA2aRoute route = kat_route ();
  gsize len;
  const guint8 *p = g_bytes_get_data (env, &len);
  g_autoptr(GBytes) inner = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *copy = NULL;

  /* Readable by anyone on the way (that is the opt-out)… */
  g_assert_cmpmem (p + NFLTR_A2A_HEADER_BYTES, sizeof kat_inner, kat_inner, sizeof kat_inner);
  inner = open_as (&f->bob, KAT_BOB_ID, &route, p, len, f->alice.ed_pk, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (inner, NULL), g_bytes_get_size (inner), kat_inner, sizeof kat_inner);
  /* …but not alterable. */
  copy = g_memdup2 (p, len);
  copy[NFLTR_A2A_HEADER_BYTES + 10] ^= 0x20;
  g_clear_pointer (&inner, g_bytes_unref);
  inner = open_as (&f->bob, KAT_BOB_ID, &route, copy, len, f->alice.ed_pk, &error);
  g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_AUTH_FAILED);
  g_clear_error (&error);
  /* Nor can an encrypted message be passed off as a plaintext one. */
  g_free (copy);
  copy = g_memdup2 (kat_envelope, sizeof kat_envelope);
  copy[1] |= NFLTR_A2A_FLAG_PLAINTEXT;
  inner = open_as (&f->bob, KAT_BOB_ID, &route, copy, sizeof kat_envelope, f->alice.ed_pk, &error);
  g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_AUTH_FAILED);
}

static void
test_replay_window (void)
{
  NfltrA2aReplay w = { 0 };

  g_assert_true (nfltr_a2a_replay_check (&w, 0));
  g_assert_false (nfltr_a2a_replay_check (&w, 0));
  g_assert_true (nfltr_a2a_replay_check (&w, 5));
  g_assert_true (nfltr_a2a_replay_check (&w, 3));   /* late, inside the window: once */
  g_assert_false (nfltr_a2a_replay_check (&w, 3));
  g_assert_false (nfltr_a2a_replay_check (&w, 5));
  g_assert_true (nfltr_a2a_replay_check (&w, 100));
  g_assert_false (nfltr_a2a_replay_check (&w, 100 - NFLTR_A2A_REPLAY_WINDOW));  /* too old */
  g_assert_true (nfltr_a2a_replay_check (&w, 100 - NFLTR_A2A_REPLAY_WINDOW + 1));
}

static void
test_nonces_never_repeat (Fixture *f, gconstpointer data)
{
  NfltrA2aSendSession s1, s2;
  NfltrA2aRoute route = kat_route ();
  g_autoptr(GBytes) a = NULL;
  g_autoptr(GBytes) b = NULL;
  g_autoptr(GBytes) c = NULL;

  g_assert_true (nfltr_a2a_send_session_init (&s1, &f->alice, f->bob.ed_pk, NULL, NULL));
  g_assert_true (nfltr_a2a_send_session_init (&s2, &f->alice, f->bob.ed_pk, NULL, NULL));
  /* A new session (a restart) has a new ephemeral key, so a new key under the reset counter. */
  g_assert_cmpmem (s1.e_pk, 32, s1.e_pk, 32);
  g_assert_true (memcmp (s1.e_pk, s2.e_pk, 32) != 0);
  g_assert_true (memcmp (s1.key, s2.key, 32) != 0);
  a = nfltr_a2a_seal (&s1, &f->alice, &route, FALSE, kat_inner, sizeof kat_inner, NULL);
  b = nfltr_a2a_seal (&s1, &f->alice, &route, FALSE, kat_inner, sizeof kat_inner, NULL);
  c = nfltr_a2a_seal (&s2, &f->alice, &route, FALSE, kat_inner, sizeof kat_inner, NULL);
  g_assert_false (g_bytes_equal (a, b));
  g_assert_false (g_bytes_equal (a, c));
  g_assert_cmpuint (s1.next_counter, ==, 2);
}

static void
test_inner_and_limits (void)
{
  g_autoptr(GBytes) text = nfltr_a2a_inner_encode (NFLTR_A2A_INNER_TEXT, 7, NULL, (const guint8 *) "hi", 2);
  g_autoptr(GBytes) file = nfltr_a2a_inner_encode (NFLTR_A2A_INNER_FILE, 8, "a.txt", (const guint8 *) "xyz", 3);
  g_autoptr(GBytes) evil = nfltr_a2a_inner_encode (NFLTR_A2A_INNER_FILE, 9, "../x", (const guint8 *) "", 0);
  NfltrA2aInner inner;
  g_autoptr(GError) error = NULL;
  static const guint8 bad_utf8[] = { 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xfe };

  g_assert_true (nfltr_a2a_inner_parse (g_bytes_get_data (text, NULL), g_bytes_get_size (text), &inner, NULL));
  g_assert_cmpuint (inner.type, ==, NFLTR_A2A_INNER_TEXT);
  g_assert_cmpuint (inner.seq, ==, 7);
  g_assert_cmpmem (inner.payload, inner.payload_len, "hi", 2);
  nfltr_a2a_inner_clear (&inner);
  g_assert_true (nfltr_a2a_inner_parse (g_bytes_get_data (file, NULL), g_bytes_get_size (file), &inner, NULL));
  g_assert_cmpstr (inner.file_name, ==, "a.txt");
  g_assert_cmpmem (inner.payload, inner.payload_len, "xyz", 3);
  nfltr_a2a_inner_clear (&inner);
  g_assert_false (nfltr_a2a_inner_parse (g_bytes_get_data (evil, NULL), g_bytes_get_size (evil), &inner, &error));
  g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_false (nfltr_a2a_inner_parse (bad_utf8, sizeof bad_utf8, &inner, &error));
  g_clear_error (&error);
  {
    NfltrA2aIdentity id;
    NfltrA2aSendSession s;
    NfltrA2aRoute route = kat_route ();
    g_autofree guint8 *huge = g_malloc0 (NFLTR_A2A_MAX_INNER + 1);
    g_autoptr(GBytes) env = NULL;

    g_assert_true (nfltr_a2a_identity_from_seed (&id, kat_alice_seed, NULL));
    g_assert_true (nfltr_a2a_send_session_init (&s, &id, id.ed_pk, NULL, NULL));
    env = nfltr_a2a_seal (&s, &id, &route, FALSE, huge, NFLTR_A2A_MAX_INNER + 1, &error);
    g_assert_null (env);
    g_assert_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_TOO_BIG);
  }
}

static void
test_pins_parse (void)
{
  guint8 key[32];
  g_autofree char *text = NULL;
  g_autofree char *again = NULL;
  g_autoptr(GHashTable) pins = NULL;
  g_autoptr(GHashTable) pins2 = NULL;
  guint bad = 0;

  memset (key, 9, sizeof key);
  {
    g_autofree char *k = nfltr_a2a_key_to_text (key);

    text = g_strdup_printf ("# comment\n%s %s\nnot a pin\n%s ed25519:short\n\n", KAT_ALICE_ID, k, KAT_BOB_ID);
  }
  pins = nfltr_a2a_pins_parse (text, strlen (text), &bad);
  g_assert_cmpuint (bad, ==, 2);
  g_assert_cmpuint (g_hash_table_size (pins), ==, 1);
  g_assert_cmpmem (g_bytes_get_data (g_hash_table_lookup (pins, KAT_ALICE_ID), NULL), 32, key, 32);
  again = nfltr_a2a_pins_format (pins);
  pins2 = nfltr_a2a_pins_parse (again, strlen (again), &bad);
  g_assert_cmpuint (bad, ==, 0);
  g_assert_cmpuint (g_hash_table_size (pins2), ==, 1);
}

/* --- signed checkpoints ------------------------------------------------------------------- */

static void
test_checkpoint_roundtrip (Fixture *f, gconstpointer data)
{
  NfltrAuditCheckpoint cp = { 0 }, back;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  guint8 raw[NFLTR_AUDIT_CHECKPOINT_BYTES];

  memset (cp.context, 1, 32);
  cp.direction = 1;
  cp.count = 42;
  nfltr_audit_chain_next (cp.context, 1, 1, (const guint8 *) "rec", 3, cp.head);
  nfltr_audit_checkpoint_sign (&cp, f->alice.ed_sk);
  g_assert_cmpmem (cp.signer, 32, f->alice.ed_pk, 32);
  g_assert_true (nfltr_audit_checkpoint_verify (&cp, &error));
  text = nfltr_audit_checkpoint_to_text (&cp);
  g_assert_true (g_str_has_prefix (text, NFLTR_AUDIT_CHECKPOINT_TEXT_PREFIX));
  g_assert_true (nfltr_audit_checkpoint_from_text (text, &back, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (back.count, ==, 42);
  g_assert_true (nfltr_audit_checkpoint_verify (&back, &error));
  /* Any altered byte breaks the signature (or the parse). */
  nfltr_audit_checkpoint_encode (&cp, raw);
  for (gsize i = 0; i < sizeof raw; i++)
    {
      guint8 copy[NFLTR_AUDIT_CHECKPOINT_BYTES];
      NfltrAuditCheckpoint c2;

      memcpy (copy, raw, sizeof raw);
      copy[i] ^= 0x80;
      g_assert_false (nfltr_audit_checkpoint_decode (copy, sizeof copy, &c2, NULL) &&
                      nfltr_audit_checkpoint_verify (&c2, NULL));
    }
  g_assert_false (nfltr_audit_checkpoint_from_text ("nfltr-checkpoint-v1 AAAA", &back, NULL));
  g_assert_false (nfltr_audit_checkpoint_from_text ("garbage", &back, NULL));
}

static void
test_chain_matches_p2p_definition (void)
{
  /* docs/protocol.md §9.6: link = SHA-256 (prev | seq BE | dir | len BE | SHA-256 (record)) */
  guint8 prev[32], link[32], want[32], content[32];
  crypto_hash_sha256_state st;
  guint8 tail[13] = { 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 5 };

  memset (prev, 0xab, 32);
  nfltr_audit_chain_next (prev, 3, 1, (const guint8 *) "hello", 5, link);
  crypto_hash_sha256 (content, (const guint8 *) "hello", 5);
  crypto_hash_sha256_init (&st);
  crypto_hash_sha256_update (&st, prev, 32);
  crypto_hash_sha256_update (&st, tail, sizeof tail);
  crypto_hash_sha256_update (&st, content, 32);
  crypto_hash_sha256_final (&st, want);
  g_assert_cmpmem (link, 32, want, 32);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  if (sodium_init () < 0)
    return 1;
  if (!crypto_aead_aes256gcm_is_available ())
    {
      g_test_skip ("no AES-NI: libsodium's AES-256-GCM is not available on this CPU");
      return g_test_run ();
    }
  g_test_add_func ("/a2a/hkdf-rfc5869", test_hkdf_rfc5869);
  g_test_add ("/a2a/known-answer", Fixture, NULL, fixture_setup, test_known_answer, fixture_teardown);
  g_test_add ("/a2a/bit-flip", Fixture, NULL, fixture_setup, test_every_bit_flip_is_rejected,
              fixture_teardown);
  g_test_add ("/a2a/routing-header-bound", Fixture, NULL, fixture_setup, test_routing_header_is_bound,
              fixture_teardown);
  g_test_add ("/a2a/readdressed", Fixture, NULL, fixture_setup, test_readdressed_is_rejected,
              fixture_teardown);
  g_test_add ("/a2a/changed-key", Fixture, NULL, fixture_setup, test_changed_key_is_refused,
              fixture_teardown);
  g_test_add ("/a2a/plaintext-opt-out", Fixture, NULL, fixture_setup,
              test_plaintext_opt_out_is_still_authentic, fixture_teardown);
  g_test_add_func ("/a2a/replay-window", test_replay_window);
  g_test_add ("/a2a/nonces", Fixture, NULL, fixture_setup, test_nonces_never_repeat, fixture_teardown);
  g_test_add_func ("/a2a/inner", test_inner_and_limits);
  g_test_add_func ("/a2a/pins", test_pins_parse);
  g_test_add ("/a2a/checkpoint", Fixture, NULL, fixture_setup, test_checkpoint_roundtrip, fixture_teardown);
  g_test_add_func ("/a2a/chain", test_chain_matches_p2p_definition);
  return g_test_run ();
}
