/* nfltr-p2p-handshake.c — CPace, then the transcript, then the confirmation (§9.3). */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-handshake.h"
#include "nfltr-p2p-error.h"
#include "nfltr-cpace.h"
#include "nfltr-p2p-code.h"

#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <string.h>

/* CPace's channel identifier (draft §3.1): binds the key to this protocol and version. */
static const char CHANNEL_ID[] = "nfltr-p2p-v1";
static const char TRANSCRIPT_LABEL[] = "nfltr-p2p-v1 transcript";

typedef enum {
  STATE_INIT,
  STATE_WAIT_PAKE_B,   /* A sent PAKE_A */
  STATE_KEYED,         /* ISK known; signalling flows */
  STATE_FAILED,
} State;

struct _NfltrP2pHandshake {
  NfltrP2pRole       role;
  State              state;
  char              *prs;
  guint8             y[NFLTR_CPACE_SCALAR_BYTES];
  guint8             nonce[NFLTR_P2P_NONCE_BYTES];
  guint8             sid[NFLTR_P2P_SID_BYTES];
  gboolean           fixed;
  guint8             Y[NFLTR_CPACE_POINT_BYTES];
  guint8             isk[NFLTR_CPACE_ISK_BYTES];
  struct sha256_ctx  th_a_to_b;
  struct sha256_ctx  th_b_to_a;
  gboolean           done_sent;
  gboolean           done_received;
  gboolean           confirm_sent;
  gboolean           confirm_received;
  gboolean           have_keys;
  guint8             kc_a[NFLTR_P2P_KEY_BYTES];
  guint8             kc_b[NFLTR_P2P_KEY_BYTES];
  NfltrP2pKeys       keys;
};

NfltrP2pHandshake *
nfltr_p2p_handshake_new (NfltrP2pRole role,
                         const char  *code,
                         GError     **error)
{
  g_autofree char *normalized = NULL;
  NfltrP2pHandshake *hs;

  if (!nfltr_p2p_code_parse (code, NULL, &normalized, error))
    return NULL;
  if (sodium_init () < 0)
    g_error ("libsodium cannot initialise");
  hs = g_new0 (NfltrP2pHandshake, 1);
  hs->role = role;
  hs->prs = g_steal_pointer (&normalized);
  sha256_init (&hs->th_a_to_b);
  sha256_init (&hs->th_b_to_a);
  return hs;
}

void
nfltr_p2p_handshake_free (NfltrP2pHandshake *hs)
{
  if (hs == NULL)
    return;
  sodium_memzero (hs->prs, strlen (hs->prs));
  g_free (hs->prs);
  sodium_memzero (hs, sizeof *hs);
  g_free (hs);
}

NfltrP2pRole
nfltr_p2p_handshake_get_role (NfltrP2pHandshake *hs)
{
  return hs->role;
}

void
nfltr_p2p_handshake_set_fixed_randomness (NfltrP2pHandshake *hs,
                                          const guint8       scalar[32],
                                          const guint8       nonce[NFLTR_P2P_NONCE_BYTES],
                                          const guint8       sid[NFLTR_P2P_SID_BYTES])
{
  memcpy (hs->y, scalar, sizeof hs->y);
  memcpy (hs->nonce, nonce, sizeof hs->nonce);
  if (sid != NULL)
    memcpy (hs->sid, sid, sizeof hs->sid);
  hs->fixed = TRUE;
}

static void
draw_randomness (NfltrP2pHandshake *hs)
{
  if (hs->fixed)
    return;
  nfltr_cpace_sample_scalar (hs->y);
  randombytes_buf (hs->nonce, sizeof hs->nonce);
  randombytes_buf (hs->sid, sizeof hs->sid);
}

G_GNUC_PRINTF (4, 5)
static gboolean
fail (NfltrP2pHandshake *hs,
      GError           **error,
      NfltrP2pError      code,
      const char        *format,
      ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  hs->state = STATE_FAILED;
  sodium_memzero (hs->isk, sizeof hs->isk);
  sodium_memzero (hs->y, sizeof hs->y);
  g_set_error_literal (error, NFLTR_P2P_ERROR, code, message);
  return FALSE;
}

/* Each message enters the hash of its direction as a 4-byte length and its bytes, so two
 * message boundaries cannot be shifted into one another. */
static void
transcript_add (NfltrP2pHandshake *hs,
                gboolean           sent,
                GBytes            *message)
{
  gboolean a_to_b = (hs->role == NFLTR_P2P_ROLE_A) == sent;
  struct sha256_ctx *ctx = a_to_b ? &hs->th_a_to_b : &hs->th_b_to_a;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);
  guint32 len_be = GUINT32_TO_BE ((guint32) len);

  sha256_update (ctx, 4, (const guint8 *) &len_be);
  sha256_update (ctx, len, data);
}

static gboolean
compute_isk (NfltrP2pHandshake *hs,
             const guint8       peer_Y[NFLTR_CPACE_POINT_BYTES],
             const guint8       peer_nonce[NFLTR_P2P_NONCE_BYTES],
             GError           **error)
{
  guint8 K[NFLTR_CPACE_POINT_BYTES];
  gboolean a = hs->role == NFLTR_P2P_ROLE_A;

  if (!nfltr_cpace_scalar_mult_vfy (hs->y, peer_Y, K))
    return fail (hs, error, NFLTR_P2P_ERROR_MALFORMED,
                 "the peer's key share is not a valid group element");
  /* ADa and ADb are the challenge nonces: fresh on each side, they make every transcript,
   * and so every confirmation tag, unique to this run. */
  nfltr_cpace_isk_ir (hs->sid, sizeof hs->sid, K,
                      a ? hs->Y : peer_Y, a ? hs->nonce : peer_nonce, NFLTR_P2P_NONCE_BYTES,
                      a ? peer_Y : hs->Y, a ? peer_nonce : hs->nonce, NFLTR_P2P_NONCE_BYTES,
                      hs->isk);
  sodium_memzero (K, sizeof K);
  sodium_memzero (hs->y, sizeof hs->y);
  hs->state = STATE_KEYED;
  return TRUE;
}

static gboolean
local_share (NfltrP2pHandshake *hs,
             GError           **error)
{
  guint8 g[NFLTR_CPACE_POINT_BYTES];
  g_autoptr(GByteArray) ci = g_byte_array_new ();

  nfltr_cpace_append_lv (ci, (const guint8 *) CHANNEL_ID, strlen (CHANNEL_ID));
  if (!nfltr_cpace_calculate_generator ((const guint8 *) hs->prs, strlen (hs->prs), ci->data, ci->len,
                                        hs->sid, sizeof hs->sid, g)
      || !nfltr_cpace_share (hs->y, g, hs->Y))
    return fail (hs, error, NFLTR_P2P_ERROR_MALFORMED, "cannot compute the key share");
  return TRUE;
}

GBytes *
nfltr_p2p_handshake_start (NfltrP2pHandshake *hs,
                           GError           **error)
{
  NfltrP2pMessage msg = { .type = NFLTR_P2P_MSG_PAKE_A };
  GBytes *out;

  if (hs->role != NFLTR_P2P_ROLE_A || hs->state != STATE_INIT)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED,
                   "only the sender starts a pairing, and only once");
      return NULL;
    }
  draw_randomness (hs);
  if (!local_share (hs, error))
    return NULL;
  memcpy (msg.sid, hs->sid, sizeof msg.sid);
  memcpy (msg.share, hs->Y, sizeof msg.share);
  memcpy (msg.nonce, hs->nonce, sizeof msg.nonce);
  out = nfltr_p2p_message_encode (&msg);
  transcript_add (hs, TRUE, out);
  hs->state = STATE_WAIT_PAKE_B;
  return out;
}

GBytes *
nfltr_p2p_handshake_send (NfltrP2pHandshake     *hs,
                          const NfltrP2pMessage *msg,
                          GError               **error)
{
  GBytes *out;

  if (hs->state != STATE_KEYED || hs->done_sent
      || (msg->type != NFLTR_P2P_MSG_ICE_CREDENTIALS && msg->type != NFLTR_P2P_MSG_ICE_CANDIDATE
          && msg->type != NFLTR_P2P_MSG_ICE_DONE))
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED,
                   "cannot send %s now", nfltr_p2p_message_type_name (msg->type));
      return NULL;
    }
  out = nfltr_p2p_message_encode (msg);
  if (out == NULL)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED,
                   "cannot encode %s", nfltr_p2p_message_type_name (msg->type));
      return NULL;
    }
  transcript_add (hs, TRUE, out);
  if (msg->type == NFLTR_P2P_MSG_ICE_DONE)
    hs->done_sent = TRUE;
  return out;
}

gboolean
nfltr_p2p_handshake_can_confirm (NfltrP2pHandshake *hs)
{
  return hs->state == STATE_KEYED && hs->done_sent && hs->done_received;
}

static void
derive_keys (NfltrP2pHandshake *hs)
{
  struct sha256_ctx th;
  struct hmac_sha256_ctx mac;
  guint8 h_ab[SHA256_DIGEST_SIZE], h_ba[SHA256_DIGEST_SIZE];
  guint8 prk[SHA256_DIGEST_SIZE];
  struct {
    const char *info;
    guint8     *out;
  } labels[] = {
    { "nfltr-p2p-v1 confirm A", hs->kc_a },
    { "nfltr-p2p-v1 confirm B", hs->kc_b },
    { "nfltr-p2p-v1 A>B enc", hs->keys.a_to_b_enc },
    { "nfltr-p2p-v1 A>B mac", hs->keys.a_to_b_mac },
    { "nfltr-p2p-v1 B>A enc", hs->keys.b_to_a_enc },
    { "nfltr-p2p-v1 B>A mac", hs->keys.b_to_a_mac },
  };

  if (hs->have_keys)
    return;
  sha256_digest (&hs->th_a_to_b, sizeof h_ab, h_ab);
  sha256_digest (&hs->th_b_to_a, sizeof h_ba, h_ba);
  sha256_init (&th);
  sha256_update (&th, strlen (TRANSCRIPT_LABEL), (const guint8 *) TRANSCRIPT_LABEL);
  sha256_update (&th, sizeof h_ab, h_ab);
  sha256_update (&th, sizeof h_ba, h_ba);
  sha256_digest (&th, sizeof hs->keys.transcript, hs->keys.transcript);

  /* RFC 5869: extract with the transcript as salt, so the keys depend on every message,
   * then one expand per purpose and direction. */
  hmac_sha256_set_key (&mac, sizeof hs->keys.transcript, hs->keys.transcript);
  hkdf_extract (&mac, (nettle_hash_update_func *) hmac_sha256_update,
                (nettle_hash_digest_func *) hmac_sha256_digest, SHA256_DIGEST_SIZE,
                sizeof hs->isk, hs->isk, prk);
  hmac_sha256_set_key (&mac, sizeof prk, prk);
  for (gsize i = 0; i < G_N_ELEMENTS (labels); i++)
    hkdf_expand (&mac, (nettle_hash_update_func *) hmac_sha256_update,
                 (nettle_hash_digest_func *) hmac_sha256_digest, SHA256_DIGEST_SIZE,
                 strlen (labels[i].info), (const guint8 *) labels[i].info, NFLTR_P2P_KEY_BYTES,
                 labels[i].out);
  sodium_memzero (prk, sizeof prk);
  sodium_memzero (&mac, sizeof mac);
  sodium_memzero (hs->isk, sizeof hs->isk);
  hs->have_keys = TRUE;
}

static void
confirm_tag (const guint8 key[NFLTR_P2P_KEY_BYTES],
             const guint8 transcript[32],
             guint8       tag[NFLTR_P2P_CONFIRM_BYTES])
{
  struct hmac_sha256_ctx mac;

  hmac_sha256_set_key (&mac, NFLTR_P2P_KEY_BYTES, key);
  hmac_sha256_update (&mac, 32, transcript);
  hmac_sha256_digest (&mac, NFLTR_P2P_CONFIRM_BYTES, tag);
}

GBytes *
nfltr_p2p_handshake_confirm (NfltrP2pHandshake *hs,
                             GError           **error)
{
  NfltrP2pMessage msg = { .type = NFLTR_P2P_MSG_CONFIRM };

  if (!nfltr_p2p_handshake_can_confirm (hs) || hs->confirm_sent)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_UNEXPECTED,
                   "cannot confirm before both sides ended their candidates");
      return NULL;
    }
  derive_keys (hs);
  confirm_tag (hs->role == NFLTR_P2P_ROLE_A ? hs->kc_a : hs->kc_b, hs->keys.transcript, msg.tag);
  hs->confirm_sent = TRUE;
  return nfltr_p2p_message_encode (&msg);
}

gboolean
nfltr_p2p_handshake_receive (NfltrP2pHandshake *hs,
                             GBytes            *message,
                             GBytes           **reply,
                             NfltrP2pMessage   *decoded,
                             GError           **error)
{
  NfltrP2pMessage msg;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);
  g_autoptr(GError) local_error = NULL;
  gboolean ok = FALSE;

  if (reply != NULL)
    *reply = NULL;
  if (hs->state == STATE_FAILED)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CLOSED, "the pairing already failed");
      return FALSE;
    }
  if (!nfltr_p2p_message_decode (data, len, &msg, &local_error))
    return fail (hs, error, NFLTR_P2P_ERROR_MALFORMED, "%s", local_error->message);

  switch (msg.type)
    {
      case NFLTR_P2P_MSG_PAKE_A:
        {
          NfltrP2pMessage answer = { .type = NFLTR_P2P_MSG_PAKE_B };
          g_autoptr (GBytes) out = NULL;

          if (hs->role != NFLTR_P2P_ROLE_B || hs->state != STATE_INIT)
            goto unexpected;
          transcript_add (hs, FALSE, message);
          draw_randomness (hs);
          memcpy (hs->sid, msg.sid, sizeof hs->sid);
          if (!local_share (hs, error) || !compute_isk (hs, msg.share, msg.nonce, error))
            goto out;
          memcpy (answer.share, hs->Y, sizeof answer.share);
          memcpy (answer.nonce, hs->nonce, sizeof answer.nonce);
          out = nfltr_p2p_message_encode (&answer);
          transcript_add (hs, TRUE, out);
          if (reply != NULL)
            *reply = g_steal_pointer (&out);
          break;
        }
      case NFLTR_P2P_MSG_PAKE_B:
        if (hs->role != NFLTR_P2P_ROLE_A || hs->state != STATE_WAIT_PAKE_B)
          goto unexpected;
        transcript_add (hs, FALSE, message);
        if (!compute_isk (hs, msg.share, msg.nonce, error))
          goto out;
        break;
      case NFLTR_P2P_MSG_ICE_CREDENTIALS:
      case NFLTR_P2P_MSG_ICE_CANDIDATE:
      case NFLTR_P2P_MSG_ICE_DONE:
        if (hs->state != STATE_KEYED || hs->done_received)
          goto unexpected;
        transcript_add (hs, FALSE, message);
        if (msg.type == NFLTR_P2P_MSG_ICE_DONE)
          hs->done_received = TRUE;
        break;
      case NFLTR_P2P_MSG_CONFIRM:
        {
          guint8 want[NFLTR_P2P_CONFIRM_BYTES];

          if (!nfltr_p2p_handshake_can_confirm (hs) || hs->confirm_received)
            goto unexpected;
          derive_keys (hs);
          confirm_tag (hs->role == NFLTR_P2P_ROLE_A ? hs->kc_b : hs->kc_a, hs->keys.transcript, want);
          if (!memeql_sec (want, msg.tag, sizeof want))
            {
              /* A wrong code and a changed transcript end the same way: neither side can tell
             * which, and saying more would help whoever is guessing. */
              fail (hs, error, NFLTR_P2P_ERROR_CODE_MISMATCH, "the code did not match");
              sodium_memzero (&hs->keys, sizeof hs->keys);
              goto out;
            }
          hs->confirm_received = TRUE;
          break;
        }
      case NFLTR_P2P_MSG_ABORT:
        if (msg.reason == NFLTR_P2P_ABORT_CODE_MISMATCH)
          fail (hs, error, NFLTR_P2P_ERROR_CODE_MISMATCH, "the code did not match");
        else
          fail (hs, error, NFLTR_P2P_ERROR_CLOSED, "the peer ended the pairing");
        goto out;
      default: goto unexpected;
    }
  ok = TRUE;
  if (decoded != NULL)
    {
      *decoded = msg;
      memset (&msg, 0, sizeof msg);
    }
  goto out;

unexpected:
  fail (hs, error, NFLTR_P2P_ERROR_UNEXPECTED, "unexpected %s in the pairing",
        nfltr_p2p_message_type_name (msg.type));
out:
  nfltr_p2p_message_clear (&msg);
  return ok;
}

gboolean
nfltr_p2p_handshake_is_done (NfltrP2pHandshake *hs)
{
  return hs->state == STATE_KEYED && hs->confirm_sent && hs->confirm_received;
}

gboolean
nfltr_p2p_handshake_get_keys (NfltrP2pHandshake *hs,
                              NfltrP2pKeys      *keys)
{
  if (!nfltr_p2p_handshake_is_done (hs))
    return FALSE;
  *keys = hs->keys;
  return TRUE;
}
