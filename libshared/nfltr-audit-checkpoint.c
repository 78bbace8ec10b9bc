/* nfltr-audit-checkpoint.c — signed hash-chain heads (nfltr-audit-checkpoint.h). */
#define G_LOG_DOMAIN "nfltr-audit"

#include "nfltr-audit-checkpoint.h"

#include <sodium.h>
#include <string.h>

G_DEFINE_QUARK (nfltr-audit-error-quark, nfltr_audit_error)

#define CHECKPOINT_VERSION 1
#define SIGNED_BYTES (NFLTR_AUDIT_CHECKPOINT_BYTES - NFLTR_AUDIT_SIGNATURE_BYTES)

void
nfltr_audit_chain_next_hashed (const guint8 prev[NFLTR_AUDIT_HASH_BYTES], guint64 seq, guint8 direction,
                               const guint8 content[NFLTR_AUDIT_HASH_BYTES], gsize length,
                               guint8 link[NFLTR_AUDIT_HASH_BYTES])
{
  crypto_hash_sha256_state st;
  guint64 seq_be = GUINT64_TO_BE (seq);
  guint32 len_be = GUINT32_TO_BE ((guint32) length);

  crypto_hash_sha256_init (&st);
  crypto_hash_sha256_update (&st, prev, NFLTR_AUDIT_HASH_BYTES);
  crypto_hash_sha256_update (&st, (const guint8 *) &seq_be, 8);
  crypto_hash_sha256_update (&st, &direction, 1);
  crypto_hash_sha256_update (&st, (const guint8 *) &len_be, 4);
  crypto_hash_sha256_update (&st, content, NFLTR_AUDIT_HASH_BYTES);
  crypto_hash_sha256_final (&st, link);
}

void
nfltr_audit_chain_next (const guint8 prev[NFLTR_AUDIT_HASH_BYTES], guint64 seq, guint8 direction,
                        const guint8 *record, gsize length, guint8 link[NFLTR_AUDIT_HASH_BYTES])
{
  guint8 content[NFLTR_AUDIT_HASH_BYTES];

  crypto_hash_sha256 (content, record, length);
  nfltr_audit_chain_next_hashed (prev, seq, direction, content, length, link);
}

/* Everything but the signature, in wire order. */
static void
encode_signed (const NfltrAuditCheckpoint *c, guint8 out[SIGNED_BYTES])
{
  guint64 count_be = GUINT64_TO_BE (c->count);
  guint8 *p = out;

  memcpy (p, NFLTR_AUDIT_CHECKPOINT_MAGIC, 4), p += 4;
  *p++ = CHECKPOINT_VERSION;
  memcpy (p, c->context, 32), p += 32;
  *p++ = c->direction;
  memcpy (p, &count_be, 8), p += 8;
  memcpy (p, c->head, 32), p += 32;
  memcpy (p, c->signer, 32);
}

void
nfltr_audit_checkpoint_sign (NfltrAuditCheckpoint *checkpoint,
                             const guint8          secret_key[NFLTR_AUDIT_ED25519_SK_BYTES])
{
  guint8 msg[SIGNED_BYTES];

  crypto_sign_ed25519_sk_to_pk (checkpoint->signer, secret_key);
  encode_signed (checkpoint, msg);
  crypto_sign_detached (checkpoint->signature, NULL, msg, sizeof msg, secret_key);
}

gboolean
nfltr_audit_checkpoint_verify (const NfltrAuditCheckpoint *checkpoint, GError **error)
{
  guint8 msg[SIGNED_BYTES];

  encode_signed (checkpoint, msg);
  if (crypto_sign_verify_detached (checkpoint->signature, msg, sizeof msg, checkpoint->signer) != 0)
    {
      g_set_error_literal (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_BAD_SIGNATURE,
                           "the checkpoint's signature does not verify: it was altered, or not signed by the key it names");
      return FALSE;
    }
  return TRUE;
}

void
nfltr_audit_checkpoint_encode (const NfltrAuditCheckpoint *checkpoint, guint8 out[NFLTR_AUDIT_CHECKPOINT_BYTES])
{
  encode_signed (checkpoint, out);
  memcpy (out + SIGNED_BYTES, checkpoint->signature, NFLTR_AUDIT_SIGNATURE_BYTES);
}

gboolean
nfltr_audit_checkpoint_decode (const guint8 *data, gsize len, NfltrAuditCheckpoint *c, GError **error)
{
  guint64 count_be;
  const guint8 *p = data;

  if (len != NFLTR_AUDIT_CHECKPOINT_BYTES || memcmp (data, NFLTR_AUDIT_CHECKPOINT_MAGIC, 4) != 0)
    {
      g_set_error (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_MALFORMED,
                   "not an audit checkpoint (%" G_GSIZE_FORMAT " bytes)", len);
      return FALSE;
    }
  if (data[4] != CHECKPOINT_VERSION)
    {
      g_set_error (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_MALFORMED,
                   "audit checkpoint version %u is not supported", data[4]);
      return FALSE;
    }
  p += 5;
  memcpy (c->context, p, 32), p += 32;
  c->direction = *p++;
  memcpy (&count_be, p, 8), p += 8;
  c->count = GUINT64_FROM_BE (count_be);
  memcpy (c->head, p, 32), p += 32;
  memcpy (c->signer, p, 32), p += 32;
  memcpy (c->signature, p, 64);
  return TRUE;
}

char *
nfltr_audit_checkpoint_to_text (const NfltrAuditCheckpoint *checkpoint)
{
  guint8 raw[NFLTR_AUDIT_CHECKPOINT_BYTES];
  g_autofree char *b64 = NULL;

  nfltr_audit_checkpoint_encode (checkpoint, raw);
  b64 = g_base64_encode (raw, sizeof raw);
  return g_strconcat (NFLTR_AUDIT_CHECKPOINT_TEXT_PREFIX, b64, NULL);
}

gboolean
nfltr_audit_checkpoint_from_text (const char *line, NfltrAuditCheckpoint *checkpoint, GError **error)
{
  g_autofree char *copy = g_strstrip (g_strdup (line));
  const char *b64;
  gsize len = 0;
  /* g_base64_decode_step may write up to 3 bytes past the decoded length's multiple of 3 */
  guint8 raw[NFLTR_AUDIT_CHECKPOINT_BYTES + 4];
  gint state = 0;
  guint save = 0;

  if (!g_str_has_prefix (copy, NFLTR_AUDIT_CHECKPOINT_TEXT_PREFIX))
    {
      g_set_error_literal (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_MALFORMED,
                           "not an audit checkpoint line (it starts with “" NFLTR_AUDIT_CHECKPOINT_TEXT_PREFIX
                           "”)");
      return FALSE;
    }
  b64 = copy + strlen (NFLTR_AUDIT_CHECKPOINT_TEXT_PREFIX);
  /* Decoding into a fixed buffer: anything longer than a checkpoint is refused unread. */
  if (strlen (b64) > (NFLTR_AUDIT_CHECKPOINT_BYTES + 2) / 3 * 4)
    {
      g_set_error_literal (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_MALFORMED,
                           "audit checkpoint too long");
      return FALSE;
    }
  for (const char *p = b64; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      {
        g_set_error_literal (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_MALFORMED,
                             "audit checkpoint is not base64");
        return FALSE;
      }
  len = g_base64_decode_step (b64, strlen (b64), raw, &state, &save);
  return nfltr_audit_checkpoint_decode (raw, len, checkpoint, error);
}
