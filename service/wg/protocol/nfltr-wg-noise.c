/* nfltr-wg-noise.c — Noise_IKpsk2 as in the WireGuard paper §5.4; the comments name the
 * paper's lines (C = chaining key, H = hash, k = temporary key). */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-wg-noise.h"

#include <string.h>

/* WireGuard's INITIATIONS_PER_SECOND: a responder consumes at most this many initiations a
 * second from one peer. */
#define INITIATIONS_PER_SECOND 50

/* The initial C and H, computed once: C = HASH(Construction), H = HASH(C || Identifier). */
static void
initial_chaining_key_and_hash (guint8 ck[NFLTR_WG_HASH_LEN], guint8 h[NFLTR_WG_HASH_LEN])
{
  static gsize done = 0;
  static guint8 initial_ck[NFLTR_WG_HASH_LEN];
  static guint8 initial_h[NFLTR_WG_HASH_LEN];

  if (g_once_init_enter (&done))
    {
      nfltr_wg_hash (initial_ck, (const guint8 *) NFLTR_WG_CONSTRUCTION, strlen (NFLTR_WG_CONSTRUCTION), NULL, 0);
      nfltr_wg_hash (initial_h, initial_ck, NFLTR_WG_HASH_LEN, (const guint8 *) NFLTR_WG_IDENTIFIER,
                     strlen (NFLTR_WG_IDENTIFIER));
      g_once_init_leave (&done, 1);
    }
  memcpy (ck, initial_ck, NFLTR_WG_HASH_LEN);
  memcpy (h, initial_h, NFLTR_WG_HASH_LEN);
}

/* H = HASH(H || data) */
static void
mix_hash (guint8 h[NFLTR_WG_HASH_LEN], const guint8 *data, gsize len)
{
  nfltr_wg_hash (h, h, NFLTR_WG_HASH_LEN, data, len);
}

/* (C, k) = KDF2(C, DH(private, public)); FALSE on a zero DH result. */
static gboolean
mix_dh (guint8 ck[NFLTR_WG_HASH_LEN], guint8 *k, const guint8 private_key[NFLTR_WG_KEY_SIZE], const guint8 public_key[NFLTR_WG_KEY_SIZE])
{
  guint8 dh[NFLTR_WG_KEY_SIZE];
  gboolean ok = nfltr_wg_dh (dh, private_key, public_key);

  if (ok)
    nfltr_wg_kdf (ck, k, NULL, ck, dh, sizeof dh);
  nfltr_wg_wipe (dh, sizeof dh);
  return ok;
}

static void
mix_precomputed (guint8 ck[NFLTR_WG_HASH_LEN], guint8 k[NFLTR_WG_KEY_SIZE], const guint8 dh[NFLTR_WG_KEY_SIZE])
{
  nfltr_wg_kdf (ck, k, NULL, ck, dh, NFLTR_WG_KEY_SIZE);
}

/* (C, tau, k) = KDF3(C, Q); H = HASH(H || tau) */
static void
mix_psk (guint8 ck[NFLTR_WG_HASH_LEN], guint8 h[NFLTR_WG_HASH_LEN], guint8 k[NFLTR_WG_KEY_SIZE], const guint8 psk[NFLTR_WG_KEY_SIZE])
{
  guint8 tau[NFLTR_WG_HASH_LEN];

  nfltr_wg_kdf (ck, tau, k, ck, psk, NFLTR_WG_KEY_SIZE);
  mix_hash (h, tau, sizeof tau);
  nfltr_wg_wipe (tau, sizeof tau);
}

/* msg.field = AEAD(k, 0, plain, H); H = HASH(H || msg.field) */
static void
encrypt_and_hash (guint8 *out, const guint8 *plain, gsize len, const guint8 k[NFLTR_WG_KEY_SIZE], guint8 h[NFLTR_WG_HASH_LEN])
{
  nfltr_wg_aead_encrypt (out, plain, len, h, NFLTR_WG_HASH_LEN, 0, k);
  mix_hash (h, out, len + NFLTR_WG_AEAD_TAG_LEN);
}

static gboolean
decrypt_and_hash (guint8 *out, const guint8 *cipher, gsize cipher_len, const guint8 k[NFLTR_WG_KEY_SIZE], guint8 h[NFLTR_WG_HASH_LEN])
{
  if (!nfltr_wg_aead_decrypt (out, cipher, cipher_len, h, NFLTR_WG_HASH_LEN, 0, k))
    return FALSE;
  mix_hash (h, cipher, cipher_len);
  return TRUE;
}

void
nfltr_wg_identity_init (NfltrWgIdentity *identity, const guint8 private_key[NFLTR_WG_KEY_SIZE])
{
  memcpy (identity->private_key, private_key, NFLTR_WG_KEY_SIZE);
  nfltr_wg_clamp_private (identity->private_key);
  nfltr_wg_dh_public (identity->public_key, identity->private_key);
}

void
nfltr_wg_handshake_init (NfltrWgHandshake *handshake,
                         const NfltrWgIdentity *local,
                         const guint8 remote_static[NFLTR_WG_KEY_SIZE],
                         const guint8 *preshared_key)
{
  memset (handshake, 0, sizeof *handshake);
  memcpy (handshake->remote_static, remote_static, NFLTR_WG_KEY_SIZE);
  if (preshared_key != NULL)
    memcpy (handshake->preshared_key, preshared_key, NFLTR_WG_KEY_SIZE);
  handshake->static_static_ok = nfltr_wg_dh (handshake->static_static, local->private_key, remote_static);
  handshake->state = NFLTR_WG_HANDSHAKE_ZEROED;
}

void
nfltr_wg_handshake_clear (NfltrWgHandshake *handshake)
{
  nfltr_wg_wipe (handshake->hash, sizeof handshake->hash);
  nfltr_wg_wipe (handshake->chaining_key, sizeof handshake->chaining_key);
  nfltr_wg_wipe (handshake->ephemeral_private, sizeof handshake->ephemeral_private);
  nfltr_wg_wipe (handshake->remote_ephemeral, sizeof handshake->remote_ephemeral);
  handshake->local_index = 0;
  handshake->remote_index = 0;
  handshake->state = NFLTR_WG_HANDSHAKE_ZEROED;
}

gboolean
nfltr_wg_handshake_create_initiation (NfltrWgHandshake *handshake,
                                      const NfltrWgIdentity *local,
                                      NfltrWgMessageInitiation *msg,
                                      const guint8 ephemeral_private[NFLTR_WG_KEY_SIZE],
                                      const guint8 timestamp[NFLTR_WG_TAI64N_LEN],
                                      guint32 local_index)
{
  guint8 k[NFLTR_WG_KEY_SIZE];

  if (!handshake->static_static_ok)
    return FALSE;

  memset (msg, 0, sizeof *msg);
  msg->header.type = NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION;

  /* Ci = HASH(Construction); Hi = HASH(Ci || Identifier); Hi = HASH(Hi || Spub_r) */
  initial_chaining_key_and_hash (handshake->chaining_key, handshake->hash);
  mix_hash (handshake->hash, handshake->remote_static, NFLTR_WG_KEY_SIZE);

  /* (Epriv_i, Epub_i) = DH-Generate(); Ci = KDF1(Ci, Epub_i); msg.ephemeral = Epub_i;
   * Hi = HASH(Hi || msg.ephemeral) */
  memcpy (handshake->ephemeral_private, ephemeral_private, NFLTR_WG_KEY_SIZE);
  nfltr_wg_clamp_private (handshake->ephemeral_private);
  nfltr_wg_dh_public (msg->unencrypted_ephemeral, handshake->ephemeral_private);
  nfltr_wg_kdf (handshake->chaining_key, NULL, NULL, handshake->chaining_key, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);
  mix_hash (handshake->hash, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);

  /* (Ci, k) = KDF2(Ci, DH(Epriv_i, Spub_r)); msg.static = AEAD(k, 0, Spub_i, Hi) */
  if (!mix_dh (handshake->chaining_key, k, handshake->ephemeral_private, handshake->remote_static))
    goto fail;
  encrypt_and_hash (msg->encrypted_static, local->public_key, NFLTR_WG_KEY_SIZE, k, handshake->hash);

  /* (Ci, k) = KDF2(Ci, DH(Spriv_i, Spub_r)); msg.timestamp = AEAD(k, 0, Timestamp(), Hi) */
  mix_precomputed (handshake->chaining_key, k, handshake->static_static);
  encrypt_and_hash (msg->encrypted_timestamp, timestamp, NFLTR_WG_TAI64N_LEN, k, handshake->hash);

  nfltr_wg_put_le32 (msg->sender_index, local_index);
  handshake->local_index = local_index;
  handshake->state = NFLTR_WG_HANDSHAKE_CREATED_INITIATION;
  nfltr_wg_wipe (k, sizeof k);
  return TRUE;

fail:
  nfltr_wg_wipe (k, sizeof k);
  nfltr_wg_handshake_clear (handshake);
  return FALSE;
}

gboolean
nfltr_wg_handshake_consume_initiation_begin (const NfltrWgIdentity *local,
                                             const NfltrWgMessageInitiation *msg,
                                             NfltrWgHandshake *scratch,
                                             guint8 remote_static[NFLTR_WG_KEY_SIZE])
{
  guint8 k[NFLTR_WG_KEY_SIZE];
  gboolean ok = FALSE;

  memset (scratch, 0, sizeof *scratch);
  initial_chaining_key_and_hash (scratch->chaining_key, scratch->hash);
  mix_hash (scratch->hash, local->public_key, NFLTR_WG_KEY_SIZE);

  memcpy (scratch->remote_ephemeral, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);
  nfltr_wg_kdf (scratch->chaining_key, NULL, NULL, scratch->chaining_key, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);
  mix_hash (scratch->hash, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);

  /* (Cr, k) = KDF2(Cr, DH(Spriv_r, Epub_i)) */
  if (!mix_dh (scratch->chaining_key, k, local->private_key, msg->unencrypted_ephemeral))
    goto out;
  if (!decrypt_and_hash (remote_static, msg->encrypted_static, sizeof msg->encrypted_static, k, scratch->hash))
    goto out;
  ok = TRUE;

out:
  nfltr_wg_wipe (k, sizeof k);
  if (!ok)
    nfltr_wg_handshake_clear (scratch);
  return ok;
}

gboolean
nfltr_wg_handshake_consume_initiation_finish (NfltrWgHandshake *handshake,
                                              const NfltrWgHandshake *scratch,
                                              const NfltrWgMessageInitiation *msg,
                                              gint64 now_ns)
{
  guint8 ck[NFLTR_WG_HASH_LEN];
  guint8 h[NFLTR_WG_HASH_LEN];
  guint8 k[NFLTR_WG_KEY_SIZE];
  guint8 timestamp[NFLTR_WG_TAI64N_LEN];
  gboolean ok = FALSE;

  if (!handshake->static_static_ok)
    return FALSE;

  memcpy (ck, scratch->chaining_key, sizeof ck);
  memcpy (h, scratch->hash, sizeof h);

  /* (Cr, k) = KDF2(Cr, DH(Spriv_r, Spub_i)); Timestamp = AEAD-Decrypt(k, 0, msg.timestamp, Hr) */
  mix_precomputed (ck, k, handshake->static_static);
  if (!decrypt_and_hash (timestamp, msg->encrypted_timestamp, sizeof msg->encrypted_timestamp, k, h))
    goto out;

  /* §5.1: a timestamp not greater than the last one is a replay; memcmp orders TAI64N, which
   * is big-endian. The flood limit keeps a peer from making us rekey in a loop. */
  if (memcmp (timestamp, handshake->latest_timestamp, NFLTR_WG_TAI64N_LEN) <= 0)
    goto out;
  if (handshake->last_initiation_consumption_ns != 0 &&
      now_ns - handshake->last_initiation_consumption_ns <
        G_GINT64_CONSTANT (1000000000) / INITIATIONS_PER_SECOND)
    goto out;

  memcpy (handshake->latest_timestamp, timestamp, NFLTR_WG_TAI64N_LEN);
  handshake->last_initiation_consumption_ns = now_ns;
  memcpy (handshake->chaining_key, ck, sizeof ck);
  memcpy (handshake->hash, h, sizeof h);
  memcpy (handshake->remote_ephemeral, scratch->remote_ephemeral, NFLTR_WG_KEY_SIZE);
  handshake->remote_index = nfltr_wg_get_le32 (msg->sender_index);
  handshake->state = NFLTR_WG_HANDSHAKE_CONSUMED_INITIATION;
  ok = TRUE;

out:
  nfltr_wg_wipe (ck, sizeof ck);
  nfltr_wg_wipe (h, sizeof h);
  nfltr_wg_wipe (k, sizeof k);
  return ok;
}

gboolean
nfltr_wg_handshake_create_response (NfltrWgHandshake *handshake,
                                    NfltrWgMessageResponse *msg,
                                    const guint8 ephemeral_private[NFLTR_WG_KEY_SIZE],
                                    guint32 local_index)
{
  guint8 k[NFLTR_WG_KEY_SIZE];

  if (handshake->state != NFLTR_WG_HANDSHAKE_CONSUMED_INITIATION)
    return FALSE;

  memset (msg, 0, sizeof *msg);
  msg->header.type = NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE;
  nfltr_wg_put_le32 (msg->receiver_index, handshake->remote_index);

  /* (Epriv_r, Epub_r) = DH-Generate(); Cr = KDF1(Cr, Epub_r); msg.ephemeral = Epub_r;
   * Hr = HASH(Hr || msg.ephemeral) */
  memcpy (handshake->ephemeral_private, ephemeral_private, NFLTR_WG_KEY_SIZE);
  nfltr_wg_clamp_private (handshake->ephemeral_private);
  nfltr_wg_dh_public (msg->unencrypted_ephemeral, handshake->ephemeral_private);
  nfltr_wg_kdf (handshake->chaining_key, NULL, NULL, handshake->chaining_key, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);
  mix_hash (handshake->hash, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);

  /* Cr = KDF1(Cr, DH(Epriv_r, Epub_i)); Cr = KDF1(Cr, DH(Epriv_r, Spub_i)) */
  if (!mix_dh (handshake->chaining_key, NULL, handshake->ephemeral_private, handshake->remote_ephemeral))
    goto fail;
  if (!mix_dh (handshake->chaining_key, NULL, handshake->ephemeral_private, handshake->remote_static))
    goto fail;

  /* (Cr, tau, k) = KDF3(Cr, Q); Hr = HASH(Hr || tau); msg.empty = AEAD(k, 0, e, Hr) */
  mix_psk (handshake->chaining_key, handshake->hash, k, handshake->preshared_key);
  encrypt_and_hash (msg->encrypted_nothing, (const guint8 *) "", 0, k, handshake->hash);

  nfltr_wg_put_le32 (msg->sender_index, local_index);
  handshake->local_index = local_index;
  handshake->state = NFLTR_WG_HANDSHAKE_CREATED_RESPONSE;
  nfltr_wg_wipe (k, sizeof k);
  return TRUE;

fail:
  nfltr_wg_wipe (k, sizeof k);
  nfltr_wg_handshake_clear (handshake);
  return FALSE;
}

gboolean
nfltr_wg_handshake_consume_response (NfltrWgHandshake *handshake,
                                     const NfltrWgIdentity *local,
                                     const NfltrWgMessageResponse *msg)
{
  guint8 ck[NFLTR_WG_HASH_LEN];
  guint8 h[NFLTR_WG_HASH_LEN];
  guint8 k[NFLTR_WG_KEY_SIZE];
  guint8 nothing[1];
  gboolean ok = FALSE;

  if (handshake->state != NFLTR_WG_HANDSHAKE_CREATED_INITIATION)
    return FALSE;

  /* Work on copies: a forged response must not spoil the initiation we are waiting on. */
  memcpy (ck, handshake->chaining_key, sizeof ck);
  memcpy (h, handshake->hash, sizeof h);

  nfltr_wg_kdf (ck, NULL, NULL, ck, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);
  mix_hash (h, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);
  /* Ci = KDF1(Ci, DH(Epriv_i, Epub_r)); Ci = KDF1(Ci, DH(Spriv_i, Epub_r)) */
  if (!mix_dh (ck, NULL, handshake->ephemeral_private, msg->unencrypted_ephemeral))
    goto out;
  if (!mix_dh (ck, NULL, local->private_key, msg->unencrypted_ephemeral))
    goto out;
  mix_psk (ck, h, k, handshake->preshared_key);
  if (!decrypt_and_hash (nothing, msg->encrypted_nothing, sizeof msg->encrypted_nothing, k, h))
    goto out;

  memcpy (handshake->chaining_key, ck, sizeof ck);
  memcpy (handshake->hash, h, sizeof h);
  memcpy (handshake->remote_ephemeral, msg->unencrypted_ephemeral, NFLTR_WG_KEY_SIZE);
  handshake->remote_index = nfltr_wg_get_le32 (msg->sender_index);
  handshake->state = NFLTR_WG_HANDSHAKE_CONSUMED_RESPONSE;
  ok = TRUE;

out:
  nfltr_wg_wipe (ck, sizeof ck);
  nfltr_wg_wipe (h, sizeof h);
  nfltr_wg_wipe (k, sizeof k);
  return ok;
}

gboolean
nfltr_wg_handshake_derive_keys (NfltrWgHandshake *handshake, NfltrWgSessionKeys *keys)
{
  gboolean initiator;

  switch (handshake->state)
    {
      case NFLTR_WG_HANDSHAKE_CONSUMED_RESPONSE: initiator = TRUE; break;
      case NFLTR_WG_HANDSHAKE_CREATED_RESPONSE: initiator = FALSE; break;
      case NFLTR_WG_HANDSHAKE_ZEROED:
      case NFLTR_WG_HANDSHAKE_CREATED_INITIATION:
      case NFLTR_WG_HANDSHAKE_CONSUMED_INITIATION:
      default: return FALSE;
    }

  /* (T_send_i = T_recv_r, T_recv_i = T_send_r) = KDF2(Ci = Cr, e) */
  if (initiator)
    nfltr_wg_kdf (keys->send_key, keys->receive_key, NULL, handshake->chaining_key, NULL, 0);
  else
    nfltr_wg_kdf (keys->receive_key, keys->send_key, NULL, handshake->chaining_key, NULL, 0);
  keys->initiator = initiator;
  keys->local_index = handshake->local_index;
  keys->remote_index = handshake->remote_index;
  nfltr_wg_handshake_clear (handshake);
  return TRUE;
}
