/* relay-proof.h — the relay checks verified tunnels itself (issue 11 items 1–3).
 *
 * When a verified tunnel binds, on every re-bind (a new BIND, so possibly a new certificate)
 * and every --proof-interval, the relay asks the agent for a data connection exactly as for a
 * public client (CONN_OPEN, the data preamble, the splice), runs a TLS client over it with
 * SNI = the tunnel's host, and records the certificate the agent's TLS server presented. The
 * SHA-256 of that certificate (libshared/nfltr-cert's format) is compared with the fingerprint
 * declared in BIND; a mismatch flags the tunnel. Inspectable tunnels are never checked nor
 * called verified: the relay terminates their public TLS itself.
 *
 * The results are published as the proof JSON (/api/v1/proof/<name>), the proof page
 * (/proof/<name>) and the bundle (/api/v1/proof/<name>/bundle: the JSON in canonical form,
 * signed with the relay's Ed25519 key; docs/protocol.md §10). */
#pragma once

#include <json-glib/json-glib.h>

#include "relay-types.h"

G_BEGIN_DECLS

typedef struct _RelayProof RelayProof;

/* The state of a tunnel's check; a string only in JSON (relay_proof_result_to_string). */
typedef enum {
  RELAY_PROOF_PENDING,      /* verified, no check finished yet */
  RELAY_PROOF_OK,           /* the certificate served is the one declared in BIND */
  RELAY_PROOF_MISMATCH,     /* the agent served another certificate: the tunnel is flagged */
  RELAY_PROOF_UNREACHABLE,  /* no TLS handshake through the tunnel (agent refused, timed out) */
  RELAY_PROOF_INSPECTABLE,  /* inspectable mode: never checked, never verified */
} RelayProofResult;

const char *relay_proof_result_to_string (RelayProofResult result);

/* Loads the relay's Ed25519 signing key from data_dir/relay-signing.key (0600), creating it on
 * first use; *public_text (if not NULL) gets "ed25519:<base64 of the 32-byte public key>". */
gboolean    relay_proof_signing_key_load (const char  *data_dir,
                                          guint8       secret_key[64],
                                          char       **public_text,
                                          GError     **error);

/* The checker of one server: hooks the registry so every BIND is checked, and checks every
 * bound verified tunnel again each interval_s seconds. */
RelayProof *relay_proof_new              (RelayServer *server,
                                          guint        interval_s,
                                          GError     **error);
void        relay_proof_free             (RelayProof  *proof);

/* "ed25519:<base64>": what WELCOME carries and agents pin. */
const char *relay_proof_get_signing_key  (RelayProof  *proof);

/* Starts a check of name's binding now (no-op for an unbound or inspectable name). */
void        relay_proof_check_now        (RelayServer *server,
                                          const char  *name);

/* The proof document of name (the object /api/v1/proof/<name> serves; fields in
 * docs/protocol.md §10), or NULL when nothing is bound under name. For the dashboard:
 * read "result" ("verified" | "mismatch" | "pending" | "unreachable" | "inspectable"),
 * "checked" (RFC 3339 or null), "observed-fingerprint" and "declared-fingerprint". */
JsonNode   *relay_proof_get              (RelayServer *server,
                                          const char  *name);

/* The same, canonicalised and signed: the bundle's bytes (docs/protocol.md §10). */
GBytes     *relay_proof_get_bundle       (RelayServer *server,
                                          const char  *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayProof, relay_proof_free)

G_END_DECLS
