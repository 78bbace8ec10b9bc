/* nfltr-wg-crypto.h — the primitives of the WireGuard paper §5.4 ("Cryptographic
 * primitives"): HASH, MAC, HMAC, KDF1..3 on BLAKE2s (libb2), DH on X25519 and AEAD/XAEAD on
 * ChaCha20-Poly1305 (libsodium), and TAI64N timestamps.
 *
 * Pure functions: no clock, no randomness, no GLib main loop. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NFLTR_WG_HASH_LEN 32       /* BLAKE2s-256 */
#define NFLTR_WG_MAC_LEN 16        /* keyed BLAKE2s-128 (paper §5.4: MAC) */
#define NFLTR_WG_KEY_SIZE 32       /* Curve25519 and ChaCha20 keys */
#define NFLTR_WG_AEAD_TAG_LEN 16
#define NFLTR_WG_XNONCE_LEN 24     /* XChaCha20-Poly1305 nonce (cookie replies, §5.4.7) */
#define NFLTR_WG_TAI64N_LEN 12

/* HASH(a || b): BLAKE2s-256 (b may be empty). */
void nfltr_wg_hash (guint8 out[NFLTR_WG_HASH_LEN], const guint8 *a, gsize a_len, const guint8 *b, gsize b_len);

/* MAC(key, input): keyed BLAKE2s with a 16-byte output. */
void nfltr_wg_mac (guint8 out[NFLTR_WG_MAC_LEN], const guint8 *key, gsize key_len, const guint8 *in, gsize in_len);

/* HMAC(key, input) with BLAKE2s-256 (RFC 2104, block size 64). */
void nfltr_wg_hmac (guint8 out[NFLTR_WG_HASH_LEN], const guint8 *key, gsize key_len, const guint8 *in, gsize in_len);

/* KDF_n(key, input) of §5.4: t0 = HMAC(key, input), t1 = HMAC(t0, 0x1), t_i = HMAC(t0, t_{i-1} || i).
 * Any of out1..out3 may be NULL (then fewer outputs are derived). */
void nfltr_wg_kdf (guint8 out1[NFLTR_WG_HASH_LEN],
                   guint8 out2[NFLTR_WG_HASH_LEN],
                   guint8 out3[NFLTR_WG_HASH_LEN],
                   const guint8 key[NFLTR_WG_HASH_LEN],
                   const guint8 *in,
                   gsize in_len);

/* DH(private, public): FALSE if the result is all zero (a low-order point), which the
 * handshake must reject. */
gboolean nfltr_wg_dh (guint8 out[NFLTR_WG_KEY_SIZE], const guint8 private_key[NFLTR_WG_KEY_SIZE], const guint8 public_key[NFLTR_WG_KEY_SIZE]);
void nfltr_wg_dh_public (guint8 public_key[NFLTR_WG_KEY_SIZE], const guint8 private_key[NFLTR_WG_KEY_SIZE]);
/* Clamps 32 random bytes into a Curve25519 private key, as `wg genkey`. */
void nfltr_wg_clamp_private (guint8 key[NFLTR_WG_KEY_SIZE]);

/* AEAD(key, counter, plain, auth): ChaCha20-Poly1305 IETF with the nonce 32 zero bits ||
 * little-endian 64-bit counter. out has plain_len + 16 bytes. */
void nfltr_wg_aead_encrypt (guint8 *out,
                            const guint8 *plain,
                            gsize plain_len,
                            const guint8 *ad,
                            gsize ad_len,
                            guint64 counter,
                            const guint8 key[NFLTR_WG_KEY_SIZE]);
/* out has cipher_len - 16 bytes; FALSE if the tag does not verify (out then undefined). */
gboolean nfltr_wg_aead_decrypt (guint8 *out,
                                const guint8 *cipher,
                                gsize cipher_len,
                                const guint8 *ad,
                                gsize ad_len,
                                guint64 counter,
                                const guint8 key[NFLTR_WG_KEY_SIZE]);

/* XAEAD(key, nonce, plain, auth): XChaCha20-Poly1305. */
void nfltr_wg_xaead_encrypt (guint8 *out,
                             const guint8 *plain,
                             gsize plain_len,
                             const guint8 *ad,
                             gsize ad_len,
                             const guint8 nonce[NFLTR_WG_XNONCE_LEN],
                             const guint8 key[NFLTR_WG_KEY_SIZE]);
gboolean nfltr_wg_xaead_decrypt (guint8 *out,
                                 const guint8 *cipher,
                                 gsize cipher_len,
                                 const guint8 *ad,
                                 gsize ad_len,
                                 const guint8 nonce[NFLTR_WG_XNONCE_LEN],
                                 const guint8 key[NFLTR_WG_KEY_SIZE]);

/* TAI64N of a wall-clock time (µs since the Unix epoch): 8 bytes big-endian seconds since
 * 1970 TAI offset by 2^62, then 4 bytes big-endian nanoseconds. */
void nfltr_wg_tai64n (guint8 out[NFLTR_WG_TAI64N_LEN], gint64 unix_us);

/* Constant-time comparison and wiping. */
gboolean nfltr_wg_equal (const guint8 *a, const guint8 *b, gsize len);
void nfltr_wg_wipe (gpointer p, gsize len);
gboolean nfltr_wg_is_zero (const guint8 *a, gsize len);

G_END_DECLS
