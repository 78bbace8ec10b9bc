/* nfltr-proof-bundle.h — the proof bundle (issue 11 item 3; docs/protocol.md §10): a proof
 * document in canonical JSON, signed with the relay's Ed25519 key (libsodium).
 *
 * The relay signs (relay/proof/), `nfltr verify` checks offline (cli/cmd-proof.c). */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The bundle's "bundle" member, and the prefix of the signed message (§10). */
#define NFLTR_PROOF_BUNDLE_FORMAT   "nfltr-proof-v1"
#define NFLTR_PROOF_KEY_PREFIX      "ed25519:"
#define NFLTR_PROOF_PUBLIC_KEY_SIZE 32
#define NFLTR_PROOF_SECRET_KEY_SIZE 64
#define NFLTR_PROOF_SIGNATURE_SIZE  64

typedef enum {
  NFLTR_PROOF_ERROR_MALFORMED,      /* not a bundle in canonical form */
  NFLTR_PROOF_ERROR_BAD_SIGNATURE,  /* the signature does not match the document */
  NFLTR_PROOF_ERROR_OTHER_KEY,      /* signed by a key other than the expected one */
} NfltrProofError;

#define NFLTR_PROOF_ERROR (nfltr_proof_error_quark ())
GQuark   nfltr_proof_error_quark (void);

/* §10 "Canonical form": objects with members sorted by name (names are ASCII), no
 * whitespace, strings with only `"`, `\` and control characters escaped, integers only.
 * NULL with NFLTR_PROOF_ERROR_MALFORMED for a float or a non-ASCII member name. */
char    *nfltr_proof_canonicalize (JsonNode  *node,
                                   GError   **error);

/* "ed25519:<base64 of 32 bytes>" */
char    *nfltr_proof_key_format  (const guint8 public_key[NFLTR_PROOF_PUBLIC_KEY_SIZE]);
gboolean nfltr_proof_key_parse   (const char  *text,
                                  guint8       public_key[NFLTR_PROOF_PUBLIC_KEY_SIZE]);

/* A new Ed25519 key pair (libsodium's crypto_sign_keypair). */
void     nfltr_proof_keypair     (guint8 public_key[NFLTR_PROOF_PUBLIC_KEY_SIZE],
                                  guint8 secret_key[NFLTR_PROOF_SECRET_KEY_SIZE]);

/* The bundle of proof (an object), signed with secret_key: canonical JSON and a newline. */
GBytes  *nfltr_proof_bundle_sign (JsonNode     *proof,
                                  const guint8  secret_key[NFLTR_PROOF_SECRET_KEY_SIZE],
                                  GError      **error);

/* Checks a bundle read from outside: the bytes are a bundle in canonical form (a final
 * newline allowed), its key is expected_key when that is not NULL (OTHER_KEY otherwise), and
 * the signature holds for that key (BAD_SIGNATURE otherwise). Returns the proof object
 * and, in *relay_key, the key text the bundle names. Never trusts anything before the
 * signature is checked, beyond reading it. */
JsonNode *nfltr_proof_bundle_verify (const guint8  *data,
                                     gsize          len,
                                     const guint8  *expected_key,
                                     char         **relay_key,
                                     GError       **error);

G_END_DECLS
