/* nfltr-a2a-proto.c — the a2a envelope, keys and inner messages (nfltr-a2a-proto.h). */
#define G_LOG_DOMAIN "nfltr-a2a"

#include "nfltr-a2a-proto.h"
#include "nfltr-audit-checkpoint.h"

#include <sodium.h>
#include <string.h>

G_DEFINE_QUARK (nfltr-a2a-error-quark, nfltr_a2a_error)

#define AD_LABEL "nfltr-a2a-v1"
#define SESSION_SALT "nfltr-a2a-v1 session"

gboolean
nfltr_a2a_crypto_check (GError **error)
{
  if (sodium_init () < 0)
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_UNAVAILABLE,
                           "libsodium failed to initialise");
      return FALSE;
    }
  if (!crypto_aead_aes256gcm_is_available ())
    {
      g_set_error_literal (
        error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_UNAVAILABLE,
        "this CPU has no AES-NI, and libsodium's AES-256-GCM (a2a payload encryption) needs "
        "it: a2a messages cannot be sealed or opened on this machine");
      return FALSE;
    }
  return TRUE;
}

gboolean
nfltr_a2a_identity_from_seed (NfltrA2aIdentity *id, const guint8 seed[32], GError **error)
{
  if (sodium_init () < 0)
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_UNAVAILABLE, "libsodium failed to initialise");
      return FALSE;
    }
  crypto_sign_seed_keypair (id->ed_pk, id->ed_sk, seed);
  if (crypto_sign_ed25519_pk_to_curve25519 (id->x_pk, id->ed_pk) != 0 ||
      crypto_sign_ed25519_sk_to_curve25519 (id->x_sk, id->ed_sk) != 0)
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_FAILED, "cannot derive the X25519 key");
      return FALSE;
    }
  return TRUE;
}

gboolean
nfltr_a2a_public_to_x25519 (const guint8 ed_pk[32], guint8 x_pk[32])
{
  return crypto_sign_ed25519_pk_to_curve25519 (x_pk, ed_pk) == 0;
}

char *
nfltr_a2a_fingerprint (const guint8 ed_pk[32])
{
  guint8 digest[32];
  GString *s = g_string_new ("sha256:");

  crypto_hash_sha256 (digest, ed_pk, 32);
  for (gsize i = 0; i < sizeof digest; i++)
    g_string_append_printf (s, "%02x", digest[i]);
  return g_string_free (s, FALSE);
}

void
nfltr_a2a_key_id (const guint8 ed_pk[32], guint8 out[NFLTR_A2A_KEY_ID_BYTES])
{
  guint8 digest[32];

  crypto_hash_sha256 (digest, ed_pk, 32);
  memcpy (out, digest, NFLTR_A2A_KEY_ID_BYTES);
}

char *
nfltr_a2a_key_to_text (const guint8 ed_pk[32])
{
  g_autofree char *b64 = g_base64_encode (ed_pk, 32);

  return g_strconcat ("ed25519:", b64, NULL);
}

gboolean
nfltr_a2a_key_from_text (const char *text, guint8 ed_pk[32])
{
  guint8 raw[48];
  gint state = 0;
  guint save = 0;
  gsize n;
  const char *b64;

  if (text == NULL || !g_str_has_prefix (text, "ed25519:"))
    return FALSE;
  b64 = text + strlen ("ed25519:");
  /* 32 bytes are 44 base64 characters; anything else is refused before decoding. */
  if (strlen (b64) != 44)
    return FALSE;
  for (const char *p = b64; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      return FALSE;
  n = g_base64_decode_step (b64, 44, raw, &state, &save);
  if (n != 32)
    return FALSE;
  memcpy (ed_pk, raw, 32);
  return TRUE;
}

gboolean
nfltr_a2a_agent_id_is_valid (const char *id)
{
  if (id == NULL || strlen (id) != 32)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

void
nfltr_a2a_hkdf_sha256 (const guint8 *salt, gsize salt_len, const guint8 *ikm, gsize ikm_len,
                       const guint8 *info, gsize info_len, guint8 *out, gsize out_len)
{
  guint8 prk[crypto_auth_hmacsha256_BYTES];
  guint8 t[crypto_auth_hmacsha256_BYTES];
  gsize t_len = 0;
  crypto_auth_hmacsha256_state st;

  g_return_if_fail (out_len <= 255 * sizeof t);
  /* Extract: PRK = HMAC (salt, IKM) */
  crypto_auth_hmacsha256_init (&st, salt, salt_len);
  crypto_auth_hmacsha256_update (&st, ikm, ikm_len);
  crypto_auth_hmacsha256_final (&st, prk);
  /* Expand: T(i) = HMAC (PRK, T(i-1) | info | i) */
  for (guint8 i = 1; out_len > 0; i++)
    {
      gsize n;

      crypto_auth_hmacsha256_init (&st, prk, sizeof prk);
      crypto_auth_hmacsha256_update (&st, t, t_len);
      crypto_auth_hmacsha256_update (&st, info, info_len);
      crypto_auth_hmacsha256_update (&st, &i, 1);
      crypto_auth_hmacsha256_final (&st, t);
      t_len = sizeof t;
      n = MIN (out_len, sizeof t);
      memcpy (out, t, n);
      out += n;
      out_len -= n;
    }
  sodium_memzero (prk, sizeof prk);
  sodium_memzero (t, sizeof t);
}

/* key = HKDF (salt, DH (e, R) | DH (s, R), S | R | E), each side computing its two DHs. */
static gboolean
derive_key (const guint8 es[32], const guint8 ss[32], const guint8 s_x[32], const guint8 r_x[32],
            const guint8 e_x[32], guint8 key[32])
{
  guint8 ikm[64];
  guint8 info[96];

  memcpy (ikm, es, 32);
  memcpy (ikm + 32, ss, 32);
  memcpy (info, s_x, 32);
  memcpy (info + 32, r_x, 32);
  memcpy (info + 64, e_x, 32);
  nfltr_a2a_hkdf_sha256 ((const guint8 *) SESSION_SALT, strlen (SESSION_SALT), ikm, sizeof ikm, info,
                         sizeof info, key, 32);
  sodium_memzero (ikm, sizeof ikm);
  return TRUE;
}

gboolean
nfltr_a2a_send_session_init (NfltrA2aSendSession *session, const NfltrA2aIdentity *self,
                             const guint8 recipient_ed[32], const guint8 *ephemeral_sk, GError **error)
{
  guint8 e_sk[32];
  guint8 r_x[32];
  guint8 es[32];
  guint8 ss[32];

  memset (session, 0, sizeof *session);
  if (!nfltr_a2a_public_to_x25519 (recipient_ed, r_x))
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "the recipient's key is not a valid key");
      return FALSE;
    }
  if (ephemeral_sk != NULL)
    memcpy (e_sk, ephemeral_sk, 32);
  else
    randombytes_buf (e_sk, sizeof e_sk);
  crypto_scalarmult_base (session->e_pk, e_sk);
  /* An all-zero DH result means a low-order point: refuse, as X25519 users must. */
  if (crypto_scalarmult (es, e_sk, r_x) != 0 || crypto_scalarmult (ss, self->x_sk, r_x) != 0)
    {
      sodium_memzero (e_sk, sizeof e_sk);
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "the recipient's key is a weak key");
      return FALSE;
    }
  derive_key (es, ss, self->x_pk, r_x, session->e_pk, session->key);
  memcpy (session->recipient_ed, recipient_ed, 32);
  sodium_memzero (e_sk, sizeof e_sk);
  sodium_memzero (es, sizeof es);
  sodium_memzero (ss, sizeof ss);
  return TRUE;
}

static GByteArray *
build_ad (const NfltrA2aRoute *route, const guint8 *header)
{
  GByteArray *ad = g_byte_array_new ();
  const guint8 zero = 0;

  g_byte_array_append (ad, (const guint8 *) AD_LABEL, strlen (AD_LABEL));
  g_byte_array_append (ad, (const guint8 *) route->from, strlen (route->from));
  g_byte_array_append (ad, &zero, 1);
  g_byte_array_append (ad, (const guint8 *) route->to, strlen (route->to));
  g_byte_array_append (ad, &zero, 1);
  g_byte_array_append (ad, route->msg_id, NFLTR_A2A_MSG_ID_BYTES);
  g_byte_array_append (ad, header, NFLTR_A2A_HEADER_BYTES);
  return ad;
}

static void
make_nonce (guint64 counter, guint8 nonce[12])
{
  guint64 be = GUINT64_TO_BE (counter);

  memset (nonce, 0, 4);
  memcpy (nonce + 4, &be, 8);
}

GBytes *
nfltr_a2a_seal (NfltrA2aSendSession *session, const NfltrA2aIdentity *self, const NfltrA2aRoute *route,
                gboolean plaintext, const guint8 *inner, gsize inner_len, GError **error)
{
  g_autoptr(GByteArray) out = g_byte_array_sized_new (NFLTR_A2A_HEADER_BYTES + inner_len + NFLTR_A2A_TAG_BYTES);
  g_autoptr(GByteArray) ad = NULL;
  guint8 header[NFLTR_A2A_HEADER_BYTES];
  guint8 nonce[12];
  guint64 counter_be;
  unsigned long long clen = 0;

  if (inner_len > NFLTR_A2A_MAX_INNER)
    {
      g_set_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_TOO_BIG,
                   "the message is %" G_GSIZE_FORMAT " bytes; an a2a message carries at most %d", inner_len,
                   NFLTR_A2A_MAX_PAYLOAD);
      return NULL;
    }
  if (!nfltr_a2a_crypto_check (error))
    return NULL;
  /* A counter never repeats under one key: 2^64 messages would take longer than any run. */
  if (session->next_counter == G_MAXUINT64)
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_FAILED, "session counter exhausted");
      return NULL;
    }
  header[0] = NFLTR_A2A_VERSION;
  header[1] = plaintext ? NFLTR_A2A_FLAG_PLAINTEXT : 0;
  memcpy (header + 2, self->ed_pk, 32);
  nfltr_a2a_key_id (session->recipient_ed, header + 34);
  memcpy (header + 42, session->e_pk, 32);
  counter_be = GUINT64_TO_BE (session->next_counter);
  memcpy (header + 74, &counter_be, 8);
  g_byte_array_append (out, header, sizeof header);
  ad = build_ad (route, header);
  make_nonce (session->next_counter, nonce);
  if (plaintext)
    {
      /* The opt-out drops the secrecy, not the authenticity: the inner message travels in
       * the clear and is bound, with the header, into a tag over nothing (GMAC), so the relay
       * can read it but not forge or alter it. */
      g_byte_array_append (ad, inner, inner_len);
      g_byte_array_append (out, inner, inner_len);
      g_byte_array_set_size (out, NFLTR_A2A_HEADER_BYTES + inner_len + NFLTR_A2A_TAG_BYTES);
      crypto_aead_aes256gcm_encrypt (out->data + NFLTR_A2A_HEADER_BYTES + inner_len, &clen, NULL, 0, ad->data,
                                     ad->len, NULL, nonce, session->key);
    }
  else
    {
      g_byte_array_set_size (out, NFLTR_A2A_HEADER_BYTES + inner_len + NFLTR_A2A_TAG_BYTES);
      crypto_aead_aes256gcm_encrypt (out->data + NFLTR_A2A_HEADER_BYTES, &clen, inner, inner_len, ad->data, ad->len,
                                     NULL, nonce, session->key);
    }
  session->next_counter++;
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

gboolean
nfltr_a2a_envelope_parse (const guint8 *data, gsize len, NfltrA2aEnvelope *env, GError **error)
{
  guint64 counter_be;

  if (len < NFLTR_A2A_HEADER_BYTES)
    {
      g_set_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED,
                   "not an a2a message: %" G_GSIZE_FORMAT " bytes, shorter than its header", len);
      return FALSE;
    }
  if (data[0] != NFLTR_A2A_VERSION)
    {
      g_set_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "a2a message version %u is not supported",
                   data[0]);
      return FALSE;
    }
  if ((data[1] & ~NFLTR_A2A_FLAG_PLAINTEXT) != 0)
    {
      g_set_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "a2a message has unknown flags 0x%02x",
                   data[1]);
      return FALSE;
    }
  if (len > NFLTR_A2A_MAX_ENVELOPE)
    {
      g_set_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_TOO_BIG, "a2a message of %" G_GSIZE_FORMAT " bytes is too big",
                   len);
      return FALSE;
    }
  env->version = data[0];
  env->flags = data[1];
  memcpy (env->sender_key, data + 2, 32);
  memcpy (env->recipient_key_id, data + 34, NFLTR_A2A_KEY_ID_BYTES);
  memcpy (env->ephemeral, data + 42, 32);
  memcpy (&counter_be, data + 74, 8);
  env->counter = GUINT64_FROM_BE (counter_be);
  env->body = data + NFLTR_A2A_HEADER_BYTES;
  env->body_len = len - NFLTR_A2A_HEADER_BYTES;
  if (env->body_len < NFLTR_A2A_TAG_BYTES)
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "a2a message too short for its tag");
      return FALSE;
    }
  return TRUE;
}

gboolean
nfltr_a2a_replay_check (NfltrA2aReplay *w, guint64 counter)
{
  if (!w->any)
    {
      w->any = TRUE;
      w->top = counter;
      w->bitmap = 1;
      return TRUE;
    }
  if (counter > w->top)
    {
      guint64 shift = counter - w->top;

      w->bitmap = shift >= 64 ? 0 : w->bitmap << shift;
      w->bitmap |= 1;
      w->top = counter;
      return TRUE;
    }
  if (w->top - counter >= NFLTR_A2A_REPLAY_WINDOW)
    return FALSE;
  if (w->bitmap & (G_GUINT64_CONSTANT (1) << (w->top - counter)))
    return FALSE;
  w->bitmap |= G_GUINT64_CONSTANT (1) << (w->top - counter);
  return TRUE;
}

GBytes *
nfltr_a2a_open (const NfltrA2aIdentity *self, const char *self_agent_id, const NfltrA2aRoute *route,
                const NfltrA2aEnvelope *env, const guint8 *pinned, GError **error)
{
  guint8 my_key_id[NFLTR_A2A_KEY_ID_BYTES];
  guint8 header[NFLTR_A2A_HEADER_BYTES];
  guint8 s_x[32];
  guint8 es[32];
  guint8 ss[32];
  guint8 key[32];
  guint8 nonce[12];
  guint64 counter_be;
  g_autoptr(GByteArray) ad = NULL;
  g_autofree guint8 *plain = NULL;
  unsigned long long plen = 0;
  int rc;

  if (g_strcmp0 (route->to, self_agent_id) != 0)
    {
      g_set_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_NOT_FOR_US,
                   "re-addressed: the message is addressed to agent %s, not to this agent", route->to);
      return NULL;
    }
  nfltr_a2a_key_id (self->ed_pk, my_key_id);
  if (memcmp (env->recipient_key_id, my_key_id, sizeof my_key_id) != 0)
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_NOT_FOR_US,
                           "re-addressed: the message was sealed for another agent's key, not this agent's");
      return NULL;
    }
  if (pinned != NULL && memcmp (pinned, env->sender_key, 32) != 0)
    {
      g_autofree char *was = nfltr_a2a_fingerprint (pinned);
      g_autofree char *now = nfltr_a2a_fingerprint (env->sender_key);

      g_set_error (
        error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_KEY_CHANGED,
        "the key of agent %s changed: pinned %s, this message comes from %s. Refused. If the agent "
        "really has a new key, accept it with: nfltr a2a trust %s %s",
        route->from, was, now, route->from, now);
      return NULL;
    }
  if (!nfltr_a2a_crypto_check (error))
    return NULL;
  if (!nfltr_a2a_public_to_x25519 (env->sender_key, s_x) ||
      crypto_scalarmult (es, self->x_sk, env->ephemeral) != 0 || crypto_scalarmult (ss, self->x_sk, s_x) != 0)
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_AUTH_FAILED,
                           "modified in transit or forged: the message's keys are not valid keys");
      return NULL;
    }
  derive_key (es, ss, s_x, self->x_pk, env->ephemeral, key);
  header[0] = env->version;
  header[1] = env->flags;
  memcpy (header + 2, env->sender_key, 32);
  memcpy (header + 34, env->recipient_key_id, NFLTR_A2A_KEY_ID_BYTES);
  memcpy (header + 42, env->ephemeral, 32);
  counter_be = GUINT64_TO_BE (env->counter);
  memcpy (header + 74, &counter_be, 8);
  ad = build_ad (route, header);
  make_nonce (env->counter, nonce);
  if (env->flags & NFLTR_A2A_FLAG_PLAINTEXT)
    {
      gsize inner_len = env->body_len - NFLTR_A2A_TAG_BYTES;

      g_byte_array_append (ad, env->body, inner_len);
      rc = crypto_aead_aes256gcm_decrypt (NULL, &plen, NULL, env->body + inner_len, NFLTR_A2A_TAG_BYTES, ad->data,
                                          ad->len, nonce, key);
      plain = g_memdup2 (env->body, inner_len);
      plen = inner_len;
    }
  else
    {
      plain = g_malloc (env->body_len);
      rc = crypto_aead_aes256gcm_decrypt (plain, &plen, NULL, env->body, env->body_len, ad->data, ad->len, nonce, key);
    }
  sodium_memzero (key, sizeof key);
  sodium_memzero (es, sizeof es);
  sodium_memzero (ss, sizeof ss);
  if (rc != 0)
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_AUTH_FAILED,
                           "modified in transit or forged: the message does not authenticate (AES-GCM tag "
                           "mismatch over its routing header and ciphertext)");
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&plain), plen);
}

/* --- inner messages ----------------------------------------------------------------------- */

GBytes *
nfltr_a2a_inner_encode (guint8 type, guint64 seq, const char *file_name, const guint8 *payload, gsize payload_len)
{
  GByteArray *out = g_byte_array_sized_new (NFLTR_A2A_INNER_HEADER_BYTES + payload_len + 300);
  guint64 seq_be = GUINT64_TO_BE (seq);

  g_byte_array_append (out, &type, 1);
  g_byte_array_append (out, (const guint8 *) &seq_be, 8);
  if (type == NFLTR_A2A_INNER_FILE)
    {
      gsize n = file_name ? MIN (strlen (file_name), 255) : 0;
      guint16 n_be = GUINT16_TO_BE ((guint16) n);

      g_byte_array_append (out, (const guint8 *) &n_be, 2);
      g_byte_array_append (out, (const guint8 *) file_name, n);
    }
  if (payload_len > 0)
    g_byte_array_append (out, payload, payload_len);
  return g_byte_array_free_to_bytes (out);
}

static gboolean
file_name_is_valid (const char *name, gsize len)
{
  if (len == 0 || len > 255 || memchr (name, '/', len) != NULL || memchr (name, '\0', len) != NULL ||
      memchr (name, '\\', len) != NULL)
    return FALSE;
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return FALSE;
  return g_utf8_validate (name, len, NULL);
}

gboolean
nfltr_a2a_inner_parse (const guint8 *data, gsize len, NfltrA2aInner *inner, GError **error)
{
  guint64 seq_be;
  const guint8 *p;
  gsize left;

  memset (inner, 0, sizeof *inner);
  if (len < NFLTR_A2A_INNER_HEADER_BYTES)
    {
      g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "a2a message body too short");
      return FALSE;
    }
  inner->type = data[0];
  memcpy (&seq_be, data + 1, 8);
  inner->seq = GUINT64_FROM_BE (seq_be);
  p = data + NFLTR_A2A_INNER_HEADER_BYTES;
  left = len - NFLTR_A2A_INNER_HEADER_BYTES;
  switch ((NfltrA2aInnerType) inner->type)
    {
      case NFLTR_A2A_INNER_TEXT:
        if (left > NFLTR_A2A_MAX_PAYLOAD || !g_utf8_validate ((const char *) p, left, NULL))
          {
            g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "a2a text is not UTF-8 or too long");
            return FALSE;
          }
        break;
      case NFLTR_A2A_INNER_FILE:
        {
          guint16 n_be;
          gsize n;

          if (left < 2)
            goto short_body;
          memcpy (&n_be, p, 2);
          n = GUINT16_FROM_BE (n_be);
          if (left - 2 < n || !file_name_is_valid ((const char *) p + 2, n) || left - 2 - n > NFLTR_A2A_MAX_PAYLOAD)
            {
              g_set_error_literal (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "a2a file has a bad name or size");
              return FALSE;
            }
          inner->file_name = g_strndup ((const char *) p + 2, n);
          p += 2 + n;
          left -= 2 + n;
          break;
        }
      case NFLTR_A2A_INNER_RECEIPT:
        if (left != NFLTR_A2A_MSG_ID_BYTES && left != NFLTR_A2A_MSG_ID_BYTES + NFLTR_AUDIT_CHECKPOINT_BYTES)
          goto short_body;
        break;
      case NFLTR_A2A_INNER_HTTP_REQUEST:
      case NFLTR_A2A_INNER_HTTP_RESPONSE:
        {
          guint32 n_be;

          if (left < 16 + 4)
            goto short_body;
          memcpy (&n_be, p + 16, 4);
          if (GUINT32_FROM_BE (n_be) > left - 20)
            goto short_body;
          break;
        }
      case NFLTR_A2A_INNER_HTTP_BODY:
      case NFLTR_A2A_INNER_HTTP_END:
        if (left < 16)
          goto short_body;
        break;
      default:
        g_set_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "unknown a2a message type %u", inner->type);
        return FALSE;
    }
  inner->payload = p;
  inner->payload_len = left;
  return TRUE;

short_body:
  g_set_error (error, NFLTR_A2A_ERROR, NFLTR_A2A_ERROR_MALFORMED, "a2a message of type %u is cut short", inner->type);
  return FALSE;
}

void
nfltr_a2a_inner_clear (NfltrA2aInner *inner)
{
  g_clear_pointer (&inner->file_name, g_free);
}

/* --- pins --------------------------------------------------------------------------------- */

GHashTable *
nfltr_a2a_pins_parse (const char *text, gsize len, guint *bad)
{
  GHashTable *pins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  g_autofree char *copy = g_strndup (text, len);
  g_auto(GStrv) lines = g_strsplit (copy, "\n", -1);

  *bad = 0;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = NULL;
      char *line = g_strstrip (lines[i]);
      guint8 key[32];

      if (*line == '\0' || *line == '#')
        continue;
      fields = g_strsplit_set (line, " \t", -1);
      if (g_strv_length (fields) != 2 || !nfltr_a2a_agent_id_is_valid (fields[0]) ||
          !nfltr_a2a_key_from_text (fields[1], key))
        {
          (*bad)++;
          continue;
        }
      g_hash_table_replace (pins, g_strdup (fields[0]), g_bytes_new (key, sizeof key));
    }
  return pins;
}

static gint
compare_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

char *
nfltr_a2a_pins_format (GHashTable *pins)
{
  GString *out = g_string_new ("# nfltr a2a: agents' keys, pinned on first contact (nfltr a2a trust to change one)\n");
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer id;

  g_hash_table_iter_init (&iter, pins);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    g_ptr_array_add (ids, id);
  g_ptr_array_sort (ids, compare_str);
  for (guint i = 0; i < ids->len; i++)
    {
      GBytes *key = g_hash_table_lookup (pins, ids->pdata[i]);
      g_autofree char *text = nfltr_a2a_key_to_text (g_bytes_get_data (key, NULL));

      g_string_append_printf (out, "%s %s\n", (const char *) ids->pdata[i], text);
    }
  return g_string_free (out, FALSE);
}
