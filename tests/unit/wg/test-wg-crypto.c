/* test-wg-crypto.c — the primitives of the WireGuard paper §5.4 against known answers (the
 * BLAKE2s reference vectors, and wg-vectors.h from an independent Python implementation),
 * TAI64N, the message parser, padding and allowed IPs. */
#include "nfltr-wg-allowedips.h"
#include "nfltr-wg-crypto.h"
#include "nfltr-wg-messages.h"
#include "wg-vectors.h"

#include <string.h>

static const char kat_msg[] = "WireGuard: fast, modern, secure VPN tunnel";
#define KAT_MSG ((const guint8 *) kat_msg)
#define KAT_LEN (sizeof kat_msg - 1)

static void
assert_hex (const guint8 *got, gsize len, const char *hex)
{
  g_autofree char *text = g_malloc0 (len * 2 + 1);

  for (gsize i = 0; i < len; i++)
    g_snprintf (text + 2 * i, 3, "%02x", got[i]);
  g_assert_cmpstr (text, ==, hex);
}

static void
key_0_to_n (guint8 *key, gsize len)
{
  for (gsize i = 0; i < len; i++)
    key[i] = (guint8) i;
}

static void
test_blake2s_reference (void)
{
  guint8 out[32];
  guint8 key[32];

  /* RFC 7693 Appendix B: BLAKE2s-256("abc"); and the empty string. */
  nfltr_wg_hash (out, (const guint8 *) "abc", 3, NULL, 0);
  assert_hex (out, 32, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  nfltr_wg_hash (out, NULL, 0, NULL, 0);
  assert_hex (out, 32, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
  /* HASH(a || b) is the hash of the concatenation. */
  nfltr_wg_hash (out, (const guint8 *) "a", 1, (const guint8 *) "bc", 2);
  assert_hex (out, 32, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");

  key_0_to_n (key, sizeof key);
  nfltr_wg_hash (out, KAT_MSG, KAT_LEN, NULL, 0);
  g_assert_cmpmem (out, 32, kat_hash_msg, sizeof kat_hash_msg);
  nfltr_wg_mac (out, key, sizeof key, KAT_MSG, KAT_LEN);
  g_assert_cmpmem (out, 16, kat_mac_key32_msg, sizeof kat_mac_key32_msg);
}

static void
test_hmac_and_kdf (void)
{
  guint8 out[32], t1[32], t2[32], t3[32];
  guint8 key[32], long_key[100];

  key_0_to_n (key, sizeof key);
  key_0_to_n (long_key, sizeof long_key);
  nfltr_wg_hmac (out, key, sizeof key, KAT_MSG, KAT_LEN);
  g_assert_cmpmem (out, 32, kat_hmac_key32_msg, sizeof kat_hmac_key32_msg);
  nfltr_wg_hmac (out, long_key, sizeof long_key, KAT_MSG, KAT_LEN);
  g_assert_cmpmem (out, 32, kat_hmac_longkey_msg, sizeof kat_hmac_longkey_msg);

  nfltr_wg_kdf (t1, t2, t3, key, KAT_MSG, KAT_LEN);
  g_assert_cmpmem (t1, 32, kat_kdf_t1, 32);
  g_assert_cmpmem (t2, 32, kat_kdf_t2, 32);
  g_assert_cmpmem (t3, 32, kat_kdf_t3, 32);
  /* Fewer outputs give the same prefix of the sequence. */
  memset (t1, 0, 32);
  memset (t2, 0, 32);
  nfltr_wg_kdf (t1, t2, NULL, key, KAT_MSG, KAT_LEN);
  g_assert_cmpmem (t1, 32, kat_kdf_t1, 32);
  g_assert_cmpmem (t2, 32, kat_kdf_t2, 32);
  /* The key may alias an output, as the handshake's C = KDF(C, …) does. */
  memcpy (t1, key, 32);
  nfltr_wg_kdf (t1, NULL, NULL, t1, KAT_MSG, KAT_LEN);
  g_assert_cmpmem (t1, 32, kat_kdf_t1, 32);
}

static void
test_aead_nonce_is_le_counter (void)
{
  guint8 key[32];
  guint8 cipher[sizeof kat_msg - 1 + 16];
  guint8 plain[sizeof kat_msg - 1];

  key_0_to_n (key, sizeof key);
  nfltr_wg_aead_encrypt (cipher, KAT_MSG, KAT_LEN, (const guint8 *) "additional", 10, G_GUINT64_CONSTANT (0x0102030405060708), key);
  g_assert_cmpmem (cipher, sizeof cipher, kat_aead_counter_0x0102030405060708, sizeof kat_aead_counter_0x0102030405060708);
  g_assert_true (nfltr_wg_aead_decrypt (plain, cipher, sizeof cipher, (const guint8 *) "additional", 10,
                                        G_GUINT64_CONSTANT (0x0102030405060708), key));
  g_assert_cmpmem (plain, sizeof plain, kat_msg, KAT_LEN);
  /* Another counter, other additional data, one flipped bit: all refused. */
  g_assert_false (nfltr_wg_aead_decrypt (plain, cipher, sizeof cipher, (const guint8 *) "additional", 10, 1, key));
  g_assert_false (nfltr_wg_aead_decrypt (plain, cipher, sizeof cipher, (const guint8 *) "additionaL", 10,
                                         G_GUINT64_CONSTANT (0x0102030405060708), key));
  cipher[3] ^= 1;
  g_assert_false (nfltr_wg_aead_decrypt (plain, cipher, sizeof cipher, (const guint8 *) "additional", 10,
                                         G_GUINT64_CONSTANT (0x0102030405060708), key));
  g_assert_false (nfltr_wg_aead_decrypt (plain, cipher, 15, NULL, 0, 0, key));
}

static void
test_xaead_roundtrip (void)
{
  guint8 key[32], nonce[24], cipher[16 + 16], plain[16];

  key_0_to_n (key, sizeof key);
  key_0_to_n (nonce, sizeof nonce);
  nfltr_wg_xaead_encrypt (cipher, (const guint8 *) "0123456789abcdef", 16, (const guint8 *) "mac1", 4, nonce, key);
  g_assert_true (nfltr_wg_xaead_decrypt (plain, cipher, sizeof cipher, (const guint8 *) "mac1", 4, nonce, key));
  g_assert_cmpmem (plain, 16, "0123456789abcdef", 16);
  g_assert_false (nfltr_wg_xaead_decrypt (plain, cipher, sizeof cipher, (const guint8 *) "mac2", 4, nonce, key));
}

static void
test_dh_rejects_low_order (void)
{
  guint8 private_key[32], out[32];
  guint8 zero[32] = { 0 };

  key_0_to_n (private_key, sizeof private_key);
  nfltr_wg_clamp_private (private_key);
  /* The all-zero point is of small order: the shared secret would be zero. */
  g_assert_false (nfltr_wg_dh (out, private_key, zero));
}

static void
test_tai64n (void)
{
  guint8 out[12];

  /* 2^62 + 10 + seconds, big-endian, then nanoseconds rounded down to 2^24 ns. */
  nfltr_wg_tai64n (out, G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC + 123456);
  assert_hex (out, 12, "400000006553f10a07000000");
  nfltr_wg_tai64n (out, 0);
  assert_hex (out, 12, "400000000000000a00000000");
}

static void
test_classify (void)
{
  guint8 msg[200] = { 0 };

  msg[0] = 1;
  g_assert_cmpint (nfltr_wg_message_classify (msg, 148), ==, NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION);
  g_assert_cmpint (nfltr_wg_message_classify (msg, 147), ==, NFLTR_WG_MESSAGE_INVALID);
  g_assert_cmpint (nfltr_wg_message_classify (msg, 149), ==, NFLTR_WG_MESSAGE_INVALID);
  msg[0] = 2;
  g_assert_cmpint (nfltr_wg_message_classify (msg, 92), ==, NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE);
  msg[0] = 3;
  g_assert_cmpint (nfltr_wg_message_classify (msg, 64), ==, NFLTR_WG_MESSAGE_HANDSHAKE_COOKIE);
  msg[0] = 4;
  g_assert_cmpint (nfltr_wg_message_classify (msg, 32), ==, NFLTR_WG_MESSAGE_DATA);
  g_assert_cmpint (nfltr_wg_message_classify (msg, 200), ==, NFLTR_WG_MESSAGE_DATA);
  g_assert_cmpint (nfltr_wg_message_classify (msg, 31), ==, NFLTR_WG_MESSAGE_INVALID);
  /* Reserved bytes must be zero. */
  msg[2] = 1;
  g_assert_cmpint (nfltr_wg_message_classify (msg, 32), ==, NFLTR_WG_MESSAGE_INVALID);
  msg[2] = 0;
  msg[0] = 5;
  g_assert_cmpint (nfltr_wg_message_classify (msg, 64), ==, NFLTR_WG_MESSAGE_INVALID);
  g_assert_cmpint (nfltr_wg_message_classify (msg, 3), ==, NFLTR_WG_MESSAGE_INVALID);
}

static void
test_padding (void)
{
  g_assert_cmpuint (nfltr_wg_padded_len (0, 1420), ==, 0);
  g_assert_cmpuint (nfltr_wg_padded_len (1, 1420), ==, 16);
  g_assert_cmpuint (nfltr_wg_padded_len (16, 1420), ==, 16);
  g_assert_cmpuint (nfltr_wg_padded_len (17, 1420), ==, 32);
  /* Never past the MTU: 1419 would round to 1424. */
  g_assert_cmpuint (nfltr_wg_padded_len (1419, 1420), ==, 1420);
  g_assert_cmpuint (nfltr_wg_padded_len (1500, 1420), ==, 1500);
}

static void
test_inner_packet (void)
{
  guint8 v4[32] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 9, 0, 1, 10, 9, 0, 2 };
  guint8 v6[48] = { 0x60, 0, 0, 0, 0, 8, 17, 64 };
  guint8 addr[16];
  guint family;

  /* Padded to 32: the header says 28. */
  g_assert_cmpuint (nfltr_wg_inner_packet_len (v4, sizeof v4), ==, 28);
  g_assert_cmpuint (nfltr_wg_inner_packet_len (v4, 27), ==, 0);
  g_assert_true (nfltr_wg_inner_address (v4, 28, TRUE, &family, addr));
  g_assert_cmpuint (family, ==, 4);
  g_assert_cmpmem (addr, 4, "\x0a\x09\x00\x01", 4);
  g_assert_true (nfltr_wg_inner_address (v4, 28, FALSE, &family, addr));
  g_assert_cmpmem (addr, 4, "\x0a\x09\x00\x02", 4);
  v6[8] = 0xfd;
  g_assert_cmpuint (nfltr_wg_inner_packet_len (v6, sizeof v6), ==, 48);
  g_assert_true (nfltr_wg_inner_address (v6, 48, TRUE, &family, addr));
  g_assert_cmpuint (family, ==, 6);
  g_assert_cmpuint (addr[0], ==, 0xfd);
  /* Neither IPv4 nor IPv6; an IPv4 header length below 5 words. */
  v4[0] = 0x55;
  g_assert_cmpuint (nfltr_wg_inner_packet_len (v4, sizeof v4), ==, 0);
  v4[0] = 0x44;
  g_assert_cmpuint (nfltr_wg_inner_packet_len (v4, sizeof v4), ==, 0);
}

static void
test_allowed_ips (void)
{
  NfltrWgAllowedIps table;
  NfltrWgAllowedIp prefix;
  guint8 addr[16] = { 0 };

  nfltr_wg_allowed_ips_init (&table);
  g_assert_true (nfltr_wg_allowed_ip_parse ("10.9.0.0/24", &prefix));
  nfltr_wg_allowed_ips_insert (&table, &prefix, 1);
  g_assert_true (nfltr_wg_allowed_ip_parse ("10.9.0.7", &prefix)); /* a host route */
  g_assert_cmpuint (prefix.cidr, ==, 32);
  nfltr_wg_allowed_ips_insert (&table, &prefix, 2);
  g_assert_true (nfltr_wg_allowed_ip_parse ("10.9.1.200/16", &prefix)); /* host bits masked */
  g_assert_cmpmem (prefix.addr, 4, "\x0a\x09\x00\x00", 4);
  g_assert_true (nfltr_wg_allowed_ip_parse ("fd00::/8", &prefix));
  nfltr_wg_allowed_ips_insert (&table, &prefix, 3);

  memcpy (addr, "\x0a\x09\x00\x07", 4);
  g_assert_cmpuint (nfltr_wg_allowed_ips_lookup (&table, 4, addr), ==, 2); /* longest wins */
  memcpy (addr, "\x0a\x09\x00\x08", 4);
  g_assert_cmpuint (nfltr_wg_allowed_ips_lookup (&table, 4, addr), ==, 1);
  memcpy (addr, "\x0a\x09\x01\x08", 4);
  g_assert_cmpuint (nfltr_wg_allowed_ips_lookup (&table, 4, addr), ==, 0);
  addr[0] = 0xfd;
  g_assert_cmpuint (nfltr_wg_allowed_ips_lookup (&table, 6, addr), ==, 3);
  g_assert_cmpuint (nfltr_wg_allowed_ips_lookup (&table, 4, addr), ==, 0);

  /* A prefix given to another peer moves, as `wg set … allowed-ips` does. */
  g_assert_true (nfltr_wg_allowed_ip_parse ("10.9.0.7/32", &prefix));
  nfltr_wg_allowed_ips_insert (&table, &prefix, 4);
  memcpy (addr, "\x0a\x09\x00\x07", 4);
  g_assert_cmpuint (nfltr_wg_allowed_ips_lookup (&table, 4, addr), ==, 4);
  nfltr_wg_allowed_ips_remove_peer (&table, 4);
  g_assert_cmpuint (nfltr_wg_allowed_ips_lookup (&table, 4, addr), ==, 1);

  g_assert_false (nfltr_wg_allowed_ip_parse ("10.9.0.0/33", &prefix));
  g_assert_false (nfltr_wg_allowed_ip_parse ("10.9.0/24", &prefix));
  g_assert_false (nfltr_wg_allowed_ip_parse ("fd00::/129", &prefix));
  g_assert_false (nfltr_wg_allowed_ip_parse ("10.9.0.0/", &prefix));
  g_assert_false (nfltr_wg_allowed_ip_parse ("", &prefix));
  nfltr_wg_allowed_ips_clear (&table);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wg/crypto/blake2s-reference", test_blake2s_reference);
  g_test_add_func ("/wg/crypto/hmac-and-kdf", test_hmac_and_kdf);
  g_test_add_func ("/wg/crypto/aead-nonce", test_aead_nonce_is_le_counter);
  g_test_add_func ("/wg/crypto/xaead", test_xaead_roundtrip);
  g_test_add_func ("/wg/crypto/dh-low-order", test_dh_rejects_low_order);
  g_test_add_func ("/wg/crypto/tai64n", test_tai64n);
  g_test_add_func ("/wg/messages/classify", test_classify);
  g_test_add_func ("/wg/messages/padding", test_padding);
  g_test_add_func ("/wg/messages/inner-packet", test_inner_packet);
  g_test_add_func ("/wg/allowed-ips", test_allowed_ips);
  return g_test_run ();
}
