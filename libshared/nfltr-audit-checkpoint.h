/* nfltr-audit-checkpoint.h — signed audit checkpoints (docs/protocol.md §13.6).
 *
 * A checkpoint is one side's signature over the head of one hash chain: which conversation
 * or session (a 32-byte context), which direction, how many frames, the chain's head after
 * them, and the signer's Ed25519 public key. The two sides of a P2P session or an a2a
 * conversation exchange them at intervals and at the end, so each keeps the peer's word on
 * what was sent and received, and `nfltr audit verify` can hold a saved log against it.
 *
 * Pure: encode, sign, parse and verify; no I/O, no clock. The chain itself is the one of
 * docs/protocol.md §9.6, and nfltr_audit_chain_next() computes one link of it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NFLTR_AUDIT_HASH_BYTES        32
#define NFLTR_AUDIT_ED25519_PK_BYTES  32
#define NFLTR_AUDIT_ED25519_SK_BYTES  64
#define NFLTR_AUDIT_SIGNATURE_BYTES   64
#define NFLTR_AUDIT_CHECKPOINT_MAGIC  "NFCP"
/* magic (4) | version (1) | context (32) | direction (1) | count (u64 BE) | head (32) |
 * signer (32) | signature (64) over everything before it */
#define NFLTR_AUDIT_CHECKPOINT_BYTES  (4 + 1 + 32 + 1 + 8 + 32 + 32 + 64)
#define NFLTR_AUDIT_CHECKPOINT_TEXT_PREFIX "nfltr-checkpoint-v1 "

typedef struct {
  guint8  context[NFLTR_AUDIT_HASH_BYTES];
  guint8  direction;
  guint64 count;
  guint8  head[NFLTR_AUDIT_HASH_BYTES];
  guint8  signer[NFLTR_AUDIT_ED25519_PK_BYTES];
  guint8  signature[NFLTR_AUDIT_SIGNATURE_BYTES];
} NfltrAuditCheckpoint;

typedef enum {
  NFLTR_AUDIT_ERROR_MALFORMED,   /* not a checkpoint: wrong size, magic or version */
  NFLTR_AUDIT_ERROR_BAD_SIGNATURE,
} NfltrAuditError;

#define NFLTR_AUDIT_ERROR (nfltr_audit_error_quark ())
GQuark   nfltr_audit_error_quark (void);

/* link = SHA-256 (prev | seq (u64 BE) | direction (u8) | length (u32 BE) | SHA-256 (record)) */
void     nfltr_audit_chain_next (const guint8  prev[NFLTR_AUDIT_HASH_BYTES],
                                 guint64       seq,
                                 guint8        direction,
                                 const guint8 *record,
                                 gsize         length,
                                 guint8        link[NFLTR_AUDIT_HASH_BYTES]);

/* The same link from SHA-256 (record), for a log that keeps only the record's hash. */
void     nfltr_audit_chain_next_hashed (const guint8  prev[NFLTR_AUDIT_HASH_BYTES],
                                        guint64       seq,
                                        guint8        direction,
                                        const guint8  content[NFLTR_AUDIT_HASH_BYTES],
                                        gsize         length,
                                        guint8        link[NFLTR_AUDIT_HASH_BYTES]);

/* Fills signer and signature from the Ed25519 secret key (libsodium's 64-byte form). */
void     nfltr_audit_checkpoint_sign   (NfltrAuditCheckpoint *checkpoint,
                                        const guint8          secret_key[NFLTR_AUDIT_ED25519_SK_BYTES]);
/* TRUE when the signature is the signer's over the rest. */
gboolean nfltr_audit_checkpoint_verify (const NfltrAuditCheckpoint *checkpoint,
                                        GError                    **error);
void     nfltr_audit_checkpoint_encode (const NfltrAuditCheckpoint *checkpoint,
                                        guint8                      out[NFLTR_AUDIT_CHECKPOINT_BYTES]);
gboolean nfltr_audit_checkpoint_decode (const guint8          *data,
                                        gsize                  len,
                                        NfltrAuditCheckpoint  *checkpoint,
                                        GError               **error);
/* One line: NFLTR_AUDIT_CHECKPOINT_TEXT_PREFIX + base64 of the encoding (no newline). */
char    *nfltr_audit_checkpoint_to_text   (const NfltrAuditCheckpoint *checkpoint);
/* Parses one such line (surrounding white space allowed); does not verify. */
gboolean nfltr_audit_checkpoint_from_text (const char            *line,
                                           NfltrAuditCheckpoint  *checkpoint,
                                           GError               **error);

G_END_DECLS
