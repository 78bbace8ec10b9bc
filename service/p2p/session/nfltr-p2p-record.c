/* nfltr-p2p-record.c — AES-256-CTR + HMAC-SHA-256 records, encrypt-then-MAC, with nettle
 * (GnuTLS's own crypto library, so AES-NI and SHA-NI when the CPU has them). */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-record.h"
#include "nfltr-p2p-error.h"

#include <nettle/ctr.h>
#include <nettle/memops.h>
#include <string.h>

void
nfltr_p2p_record_dir_init (NfltrP2pRecordDir *dir,
                           const guint8       enc_key[NFLTR_P2P_KEY_BYTES],
                           const guint8       mac_key[NFLTR_P2P_KEY_BYTES])
{
  memset (dir, 0, sizeof *dir);
  aes256_set_encrypt_key (&dir->aes, enc_key);
  hmac_sha256_set_key (&dir->mac, NFLTR_P2P_KEY_BYTES, mac_key);
}

void
nfltr_p2p_record_dir_clear (NfltrP2pRecordDir *dir)
{
  g_free (dir->failure);
  /* The expanded keys are as secret as the keys. */
  memset (dir, 0, sizeof *dir);
}

static gboolean
closed_error (NfltrP2pRecordDir *dir,
              GError           **error)
{
  g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CLOSED,
               "the session is closed: %s", dir->failure);
  return FALSE;
}

G_GNUC_PRINTF (4, 5)
static gboolean
fail (NfltrP2pRecordDir *dir,
      GError           **error,
      NfltrP2pError      code,
      const char        *format,
      ...)
{
  va_list args;

  va_start (args, format);
  g_free (dir->failure);
  dir->failure = g_strdup_vprintf (format, args);
  va_end (args);
  dir->failed = TRUE;
  g_set_error_literal (error, NFLTR_P2P_ERROR, code, dir->failure);
  return FALSE;
}

static void
header_encode (guint8  header[NFLTR_P2P_RECORD_HEADER],
               guint64 seq,
               guint32 len)
{
  guint64 seq_be = GUINT64_TO_BE (seq);
  guint32 len_be = GUINT32_TO_BE (len);

  memcpy (header, &seq_be, 8);
  memcpy (header + 8, &len_be, 4);
}

static void
counter_block (guint8  ctr[AES_BLOCK_SIZE],
               guint64 seq)
{
  guint64 seq_be = GUINT64_TO_BE (seq);

  memcpy (ctr, &seq_be, 8);
  memset (ctr + 8, 0, 8);
}

gboolean
nfltr_p2p_record_seal (NfltrP2pRecordDir *dir,
                       const guint8      *plaintext,
                       gsize              len,
                       GByteArray        *out,
                       GError           **error)
{
  guint8 ctr[AES_BLOCK_SIZE];
  guint start;
  guint8 *record;

  if (dir->failed)
    return closed_error (dir, error);
  if (len > NFLTR_P2P_RECORD_MAX_PLAINTEXT)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_LIMIT,
                   "a frame of %" G_GSIZE_FORMAT " bytes is over the limit of %d", len,
                   NFLTR_P2P_RECORD_MAX_PLAINTEXT);
      return FALSE;
    }
  if (dir->seq == G_MAXUINT64)
    return fail (dir, error, NFLTR_P2P_ERROR_LIMIT, "the session used up its sequence numbers");

  start = out->len;
  g_byte_array_set_size (out, start + NFLTR_P2P_RECORD_OVERHEAD + len);
  record = out->data + start;
  header_encode (record, dir->seq, (guint32) len);
  counter_block (ctr, dir->seq);
  if (len > 0)
    ctr_crypt (&dir->aes, (nettle_cipher_func *) aes256_encrypt, AES_BLOCK_SIZE, ctr, len,
               record + NFLTR_P2P_RECORD_HEADER, plaintext);
  hmac_sha256_update (&dir->mac, NFLTR_P2P_RECORD_HEADER + len, record);
  hmac_sha256_digest (&dir->mac, NFLTR_P2P_TAG_BYTES, record + NFLTR_P2P_RECORD_HEADER + len);
  dir->seq++;
  return TRUE;
}

gssize
nfltr_p2p_record_size (NfltrP2pRecordDir *dir,
                       const guint8      *buf,
                       gsize              avail,
                       GError           **error)
{
  guint32 len_be;
  guint32 len;

  if (dir->failed)
    {
      closed_error (dir, error);
      return -1;
    }
  if (avail < NFLTR_P2P_RECORD_HEADER)
    return 0;
  memcpy (&len_be, buf + 8, 4);
  len = GUINT32_FROM_BE (len_be);
  if (len > NFLTR_P2P_RECORD_MAX_PLAINTEXT)
    {
      fail (dir, error, NFLTR_P2P_ERROR_MALFORMED,
            "frame %" G_GUINT64_FORMAT " claims %u bytes, over the limit of %d: the session is closed",
            nfltr_p2p_record_claimed_seq (buf), len, NFLTR_P2P_RECORD_MAX_PLAINTEXT);
      return -1;
    }
  return NFLTR_P2P_RECORD_OVERHEAD + (gssize) len;
}

guint64
nfltr_p2p_record_claimed_seq (const guint8 *record)
{
  guint64 seq_be;

  memcpy (&seq_be, record, 8);
  return GUINT64_FROM_BE (seq_be);
}

gboolean
nfltr_p2p_record_open (NfltrP2pRecordDir *dir,
                       const guint8      *record,
                       gsize              len,
                       GByteArray        *plaintext,
                       GError           **error)
{
  guint8 tag[NFLTR_P2P_TAG_BYTES];
  guint8 ctr[AES_BLOCK_SIZE];
  guint32 len_be;
  gsize body;
  guint64 seq;

  if (dir->failed)
    return closed_error (dir, error);
  if (len < NFLTR_P2P_RECORD_OVERHEAD)
    return fail (dir, error, NFLTR_P2P_ERROR_MALFORMED,
                 "a frame of %" G_GSIZE_FORMAT " bytes is too short: the session is closed", len);
  seq = nfltr_p2p_record_claimed_seq (record);
  memcpy (&len_be, record + 8, 4);
  body = GUINT32_FROM_BE (len_be);
  if (body != len - NFLTR_P2P_RECORD_OVERHEAD)
    return fail (dir, error, NFLTR_P2P_ERROR_MALFORMED,
                 "frame %" G_GUINT64_FORMAT " has a length that does not match its size: the session is closed",
                 seq);

  /* The tag first: nothing of an unauthenticated record is believed, its sequence number
   * included. A wrong key (a wrong code) and a changed bit look the same here. */
  hmac_sha256_update (&dir->mac, NFLTR_P2P_RECORD_HEADER + body, record);
  hmac_sha256_digest (&dir->mac, NFLTR_P2P_TAG_BYTES, tag);
  if (!memeql_sec (tag, record + NFLTR_P2P_RECORD_HEADER + body, NFLTR_P2P_TAG_BYTES))
    return fail (dir, error, NFLTR_P2P_ERROR_BAD_TAG,
                 "frame %" G_GUINT64_FORMAT
                 " failed authentication (bad tag): it was changed on the way; the session is closed",
                 seq);
  if (seq < dir->seq)
    return fail (dir, error, NFLTR_P2P_ERROR_SEQUENCE,
                 "frame %" G_GUINT64_FORMAT " arrived again after frame %" G_GUINT64_FORMAT
                 " (replayed or reordered): the session is closed",
                 seq, dir->seq - 1);
  if (seq > dir->seq)
    return fail (dir, error, NFLTR_P2P_ERROR_SEQUENCE,
                 "frame %" G_GUINT64_FORMAT " is missing (frame %" G_GUINT64_FORMAT
                 " came next): the session is closed",
                 dir->seq, seq);

  g_byte_array_set_size (plaintext, body);
  counter_block (ctr, seq);
  if (body > 0)
    ctr_crypt (&dir->aes, (nettle_cipher_func *) aes256_encrypt, AES_BLOCK_SIZE, ctr, body, plaintext->data,
               record + NFLTR_P2P_RECORD_HEADER);
  dir->seq++;
  return TRUE;
}
