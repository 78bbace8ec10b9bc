/* nfltr-p2p-record.h — one direction of a P2P session's record protection
 * (docs/protocol.md §9.4): AES-256-CTR, then HMAC-SHA-256 over the sequence number, the
 * length and the ciphertext (encrypt-then-MAC).
 *
 *   record = seq (u64 BE) | length (u32 BE) | ciphertext (length bytes) | tag (32 bytes)
 *   ciphertext = AES-256-CTR (enc_key, counter block = seq (8 bytes BE) | 0 (8 bytes), plaintext)
 *   tag = HMAC-SHA-256 (mac_key, seq | length | ciphertext)
 *
 * Each direction has its own two keys, so a counter block never repeats under one key as
 * long as seq does not, and a record can never be reflected back to its sender. The
 * sequence number is sent so that a receiver can say which frame went missing; it must
 * still be exactly the next one, or the session ends. Any failure is final: after it,
 * every call answers NFLTR_P2P_ERROR_CLOSED. */
#pragma once

#include <glib.h>
#include <nettle/aes.h>
#include <nettle/hmac.h>

G_BEGIN_DECLS

#define NFLTR_P2P_KEY_BYTES       32
#define NFLTR_P2P_TAG_BYTES       32
#define NFLTR_P2P_RECORD_HEADER   12
#define NFLTR_P2P_RECORD_OVERHEAD (NFLTR_P2P_RECORD_HEADER + NFLTR_P2P_TAG_BYTES)
/* The largest plaintext in one record: big enough to amortise the tag, small enough that a
 * file chunk does not hold a chat message back for long on a slow path. */
#define NFLTR_P2P_RECORD_MAX_PLAINTEXT (64 * 1024)

typedef struct {
  struct aes256_ctx      aes;
  struct hmac_sha256_ctx mac;
  guint64                seq;     /* the next record to seal, or to accept */
  gboolean               failed;
  char                  *failure; /* why it ended, repeated to every later call */
} NfltrP2pRecordDir;

void     nfltr_p2p_record_dir_init (NfltrP2pRecordDir *dir,
                                    const guint8       enc_key[NFLTR_P2P_KEY_BYTES],
                                    const guint8       mac_key[NFLTR_P2P_KEY_BYTES]);
void     nfltr_p2p_record_dir_clear (NfltrP2pRecordDir *dir);

/* Appends one record carrying PLAINTEXT to OUT. */
gboolean nfltr_p2p_record_seal (NfltrP2pRecordDir *dir,
                                const guint8      *plaintext,
                                gsize              len,
                                GByteArray        *out,
                                GError           **error);

/* How many bytes the record starting at BUF takes: 0 while fewer than a header are there;
 * -1 with ERROR for a length over the limit (which also ends DIR). */
gssize   nfltr_p2p_record_size (NfltrP2pRecordDir *dir,
                                const guint8      *buf,
                                gsize              avail,
                                GError           **error);

/* The sequence number a record claims, unauthenticated (for the audit chain). */
guint64  nfltr_p2p_record_claimed_seq (const guint8 *record);

/* Checks and decrypts one whole record into PLAINTEXT (replacing its contents). */
gboolean nfltr_p2p_record_open (NfltrP2pRecordDir *dir,
                                const guint8      *record,
                                gsize              len,
                                GByteArray        *plaintext,
                                GError           **error);

G_END_DECLS
