/* nfltr-wg-crypto.c — BLAKE2s from libb2, X25519 and ChaCha20-Poly1305 from libsodium. */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-wg-crypto.h"

#include <blake2.h>
#include <sodium.h>
#include <string.h>

#define BLAKE2S_BLOCK_LEN 64

void
nfltr_wg_hash (guint8 out[NFLTR_WG_HASH_LEN], const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
  blake2s_state state;

  blake2s_init (&state, NFLTR_WG_HASH_LEN);
  if (a_len > 0)
    blake2s_update (&state, a, a_len);
  if (b_len > 0)
    blake2s_update (&state, b, b_len);
  blake2s_final (&state, out, NFLTR_WG_HASH_LEN);
}

void
nfltr_wg_mac (guint8 out[NFLTR_WG_MAC_LEN], const guint8 *key, gsize key_len, const guint8 *in, gsize in_len)
{
  blake2s (out, in, key, NFLTR_WG_MAC_LEN, in_len, key_len);
}

void
nfltr_wg_hmac (guint8 out[NFLTR_WG_HASH_LEN], const guint8 *key, gsize key_len, const guint8 *in, gsize in_len)
{
  guint8 block[BLAKE2S_BLOCK_LEN] = { 0 };
  guint8 inner[NFLTR_WG_HASH_LEN];
  blake2s_state state;

  /* RFC 2104 §2: a key longer than the block is hashed first. */
  if (key_len > BLAKE2S_BLOCK_LEN)
    nfltr_wg_hash (block, key, key_len, NULL, 0);
  else if (key_len > 0)
    memcpy (block, key, key_len);

  for (gsize i = 0; i < BLAKE2S_BLOCK_LEN; i++)
    block[i] ^= 0x36;
  blake2s_init (&state, NFLTR_WG_HASH_LEN);
  blake2s_update (&state, block, BLAKE2S_BLOCK_LEN);
  if (in_len > 0)
    blake2s_update (&state, in, in_len);
  blake2s_final (&state, inner, NFLTR_WG_HASH_LEN);

  for (gsize i = 0; i < BLAKE2S_BLOCK_LEN; i++)
    block[i] ^= 0x36 ^ 0x5c;
  blake2s_init (&state, NFLTR_WG_HASH_LEN);
  blake2s_update (&state, block, BLAKE2S_BLOCK_LEN);
  blake2s_update (&state, inner, NFLTR_WG_HASH_LEN);
  blake2s_final (&state, out, NFLTR_WG_HASH_LEN);

  nfltr_wg_wipe (block, sizeof block);
  nfltr_wg_wipe (inner, sizeof inner);
}

void
nfltr_wg_kdf (guint8 out1[NFLTR_WG_HASH_LEN],
              guint8 out2[NFLTR_WG_HASH_LEN],
              guint8 out3[NFLTR_WG_HASH_LEN],
              const guint8 key[NFLTR_WG_HASH_LEN],
              const guint8 *in,
              gsize in_len)
{
  guint8 secret[NFLTR_WG_HASH_LEN];
  guint8 buf[NFLTR_WG_HASH_LEN + 1];

  nfltr_wg_hmac (secret, key, NFLTR_WG_HASH_LEN, in, in_len);

  /* t1 = HMAC(t0, 0x1) */
  buf[0] = 1;
  nfltr_wg_hmac (buf, secret, NFLTR_WG_HASH_LEN, buf, 1);
  if (out1 != NULL)
    memcpy (out1, buf, NFLTR_WG_HASH_LEN);

  if (out2 != NULL || out3 != NULL)
    {
      /* t2 = HMAC(t0, t1 || 0x2) */
      buf[NFLTR_WG_HASH_LEN] = 2;
      nfltr_wg_hmac (buf, secret, NFLTR_WG_HASH_LEN, buf, sizeof buf);
      if (out2 != NULL)
        memcpy (out2, buf, NFLTR_WG_HASH_LEN);
    }

  if (out3 != NULL)
    {
      /* t3 = HMAC(t0, t2 || 0x3) */
      buf[NFLTR_WG_HASH_LEN] = 3;
      nfltr_wg_hmac (buf, secret, NFLTR_WG_HASH_LEN, buf, sizeof buf);
      memcpy (out3, buf, NFLTR_WG_HASH_LEN);
    }

  nfltr_wg_wipe (secret, sizeof secret);
  nfltr_wg_wipe (buf, sizeof buf);
}

gboolean
nfltr_wg_dh (guint8 out[NFLTR_WG_KEY_SIZE], const guint8 private_key[NFLTR_WG_KEY_SIZE], const guint8 public_key[NFLTR_WG_KEY_SIZE])
{
  /* libsodium refuses an all-zero shared secret with -1: the low-order points. */
  return crypto_scalarmult_curve25519 (out, private_key, public_key) == 0;
}

void
nfltr_wg_dh_public (guint8 public_key[NFLTR_WG_KEY_SIZE], const guint8 private_key[NFLTR_WG_KEY_SIZE])
{
  crypto_scalarmult_curve25519_base (public_key, private_key);
}

void
nfltr_wg_clamp_private (guint8 key[NFLTR_WG_KEY_SIZE])
{
  key[0] &= 248;
  key[31] = (key[31] & 127) | 64;
}

static void
counter_nonce (guint8 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], guint64 counter)
{
  memset (nonce, 0, 4);
  for (guint i = 0; i < 8; i++)
    nonce[4 + i] = (guint8) (counter >> (8 * i));
}

void
nfltr_wg_aead_encrypt (guint8 *out,
                       const guint8 *plain,
                       gsize plain_len,
                       const guint8 *ad,
                       gsize ad_len,
                       guint64 counter,
                       const guint8 key[NFLTR_WG_KEY_SIZE])
{
  guint8 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

  counter_nonce (nonce, counter);
  crypto_aead_chacha20poly1305_ietf_encrypt (out, NULL, plain, plain_len, ad, ad_len, NULL, nonce, key);
}

gboolean
nfltr_wg_aead_decrypt (guint8 *out,
                       const guint8 *cipher,
                       gsize cipher_len,
                       const guint8 *ad,
                       gsize ad_len,
                       guint64 counter,
                       const guint8 key[NFLTR_WG_KEY_SIZE])
{
  guint8 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

  if (cipher_len < NFLTR_WG_AEAD_TAG_LEN)
    return FALSE;
  counter_nonce (nonce, counter);
  return crypto_aead_chacha20poly1305_ietf_decrypt (out, NULL, NULL, cipher, cipher_len, ad, ad_len, nonce, key) == 0;
}

void
nfltr_wg_xaead_encrypt (guint8 *out,
                        const guint8 *plain,
                        gsize plain_len,
                        const guint8 *ad,
                        gsize ad_len,
                        const guint8 nonce[NFLTR_WG_XNONCE_LEN],
                        const guint8 key[NFLTR_WG_KEY_SIZE])
{
  crypto_aead_xchacha20poly1305_ietf_encrypt (out, NULL, plain, plain_len, ad, ad_len, NULL, nonce, key);
}

gboolean
nfltr_wg_xaead_decrypt (guint8 *out,
                        const guint8 *cipher,
                        gsize cipher_len,
                        const guint8 *ad,
                        gsize ad_len,
                        const guint8 nonce[NFLTR_WG_XNONCE_LEN],
                        const guint8 key[NFLTR_WG_KEY_SIZE])
{
  if (cipher_len < NFLTR_WG_AEAD_TAG_LEN)
    return FALSE;
  return crypto_aead_xchacha20poly1305_ietf_decrypt (out, NULL, NULL, cipher, cipher_len, ad, ad_len, nonce, key) == 0;
}

void
nfltr_wg_tai64n (guint8 out[NFLTR_WG_TAI64N_LEN], gint64 unix_us)
{
  /* TAI64 label: 2^62 + seconds (https://cr.yp.to/libtai/tai64.html); WireGuard ignores the
   * leap-second offset (as its reference implementations do), only monotonicity matters. */
  guint64 seconds = G_GUINT64_CONSTANT (0x400000000000000a) + (guint64) (unix_us / G_USEC_PER_SEC);
  guint32 nanoseconds = (guint32) (unix_us % G_USEC_PER_SEC) * 1000;

  /* Rounded down to 2^24 ns (about 16 ms), as wireguard-go's whitener, so the timestamp does
   * not leak a fine clock; 16 ms is still below the 50 initiations a second a responder
   * accepts. */
  nanoseconds &= ~(guint32) 0xffffff;

  for (guint i = 0; i < 8; i++)
    out[i] = (guint8) (seconds >> (56 - 8 * i));
  for (guint i = 0; i < 4; i++)
    out[8 + i] = (guint8) (nanoseconds >> (24 - 8 * i));
}

gboolean
nfltr_wg_equal (const guint8 *a, const guint8 *b, gsize len)
{
  return sodium_memcmp (a, b, len) == 0;
}

void
nfltr_wg_wipe (gpointer p, gsize len)
{
  sodium_memzero (p, len);
}

gboolean
nfltr_wg_is_zero (const guint8 *a, gsize len)
{
  return sodium_is_zero (a, len) == 1;
}
