/* nfltr-a2a-proto.h — agent-to-agent messages, end to end (docs/protocol.md §13).
 *
 * Pure code, no I/O: the envelope the relay forwards without reading, the session keys
 * (Noise-K-like: the sender's fresh ephemeral and its static key each meet the recipient's
 * static key, es + ss, then HKDF-SHA-256), AES-256-GCM with the routing header as associated
 * data, the replay window, and the inner message (type, per-pair sequence number, payload).
 *
 *   envelope = version (1) | flags (1) | sender key (32, Ed25519) | recipient key id (8) |
 *              ephemeral (32, X25519) | counter (u64 BE) | ciphertext + tag (16)
 *   AD       = "nfltr-a2a-v1" | from (agent id) | 0 | to (agent id) | 0 | message id (16) |
 *              the envelope's first 82 bytes
 *   key      = HKDF-SHA-256 (salt "nfltr-a2a-v1 session", DH (e, R) | DH (s, R),
 *                            info S | R | E)        — X25519 forms of the static keys
 *   nonce    = 0 (4) | counter (u64 BE)
 *
 * With --no-payload-encryption the inner message travels in the clear followed by a tag over
 * nothing whose associated data is AD | inner: readable by the relay, still not forgeable.
 *
 * An identity is one Ed25519 key: it signs audit checkpoints, and its X25519 form (libsodium's
 * conversion, as age and minisign-style tools do) is the static key here, so an agent has one
 * key to publish, pin and compare. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NFLTR_A2A_VERSION            1
#define NFLTR_A2A_FLAG_PLAINTEXT     0x01   /* --no-payload-encryption: body in the clear, still tagged */
#define NFLTR_A2A_KEY_BYTES          32
#define NFLTR_A2A_KEY_ID_BYTES       8
#define NFLTR_A2A_MSG_ID_BYTES       16
#define NFLTR_A2A_TAG_BYTES          16
#define NFLTR_A2A_HEADER_BYTES       (1 + 1 + 32 + 8 + 32 + 8)
/* The largest text or file one message carries (§13.4): frames are at most 1 MiB, and a
 * relay's offline queue counts in messages. */
#define NFLTR_A2A_MAX_PAYLOAD        (256 * 1024)
/* type (1) | seq (8) | payload; a file adds its name (u16 length, ≤ 255 bytes). */
#define NFLTR_A2A_INNER_HEADER_BYTES 9
#define NFLTR_A2A_MAX_INNER          (NFLTR_A2A_MAX_PAYLOAD + NFLTR_A2A_INNER_HEADER_BYTES + 2 + 255)
#define NFLTR_A2A_MAX_ENVELOPE       (NFLTR_A2A_HEADER_BYTES + NFLTR_A2A_MAX_INNER + NFLTR_A2A_TAG_BYTES)
/* How far behind the newest counter a session still accepts (RFC 6479's idea, one word). */
#define NFLTR_A2A_REPLAY_WINDOW      64

typedef enum {
  NFLTR_A2A_ERROR_MALFORMED,      /* not an a2a envelope or inner message */
  NFLTR_A2A_ERROR_NOT_FOR_US,     /* addressed or sealed to another agent: re-addressed */
  NFLTR_A2A_ERROR_KEY_CHANGED,    /* the sender's key is not the one pinned for it */
  NFLTR_A2A_ERROR_AUTH_FAILED,    /* AES-GCM tag wrong: modified in transit, or forged */
  NFLTR_A2A_ERROR_REPLAYED,       /* counter or message id already seen */
  NFLTR_A2A_ERROR_TOO_BIG,        /* over NFLTR_A2A_MAX_PAYLOAD */
  NFLTR_A2A_ERROR_UNAVAILABLE,    /* this CPU has no AES-NI: libsodium's AES-GCM refuses */
  NFLTR_A2A_ERROR_NO_AGENT,       /* the relay knows no such agent or name */
  NFLTR_A2A_ERROR_FAILED,
} NfltrA2aError;

#define NFLTR_A2A_ERROR (nfltr_a2a_error_quark ())
GQuark nfltr_a2a_error_quark (void);

/* One agent's long-term key: Ed25519, and the X25519 form of it. */
typedef struct {
  guint8 ed_pk[32];
  guint8 ed_sk[64];
  guint8 x_pk[32];
  guint8 x_sk[32];
} NfltrA2aIdentity;

/* From a 32-byte seed (the file holds the seed). */
gboolean nfltr_a2a_identity_from_seed (NfltrA2aIdentity *id,
                                       const guint8      seed[32],
                                       GError          **error);
/* A peer's X25519 public key from its Ed25519 one; FALSE for a key that is not a point. */
gboolean nfltr_a2a_public_to_x25519   (const guint8 ed_pk[32],
                                       guint8       x_pk[32]);
/* "sha256:" + 64 hex: SHA-256 of the Ed25519 public key — the one fingerprint format. */
char    *nfltr_a2a_fingerprint        (const guint8 ed_pk[32]);
/* The first 8 bytes of that SHA-256: the envelope's recipient key id. */
void     nfltr_a2a_key_id             (const guint8 ed_pk[32],
                                       guint8       out[NFLTR_A2A_KEY_ID_BYTES]);
/* "ed25519:" + base64, as the key directory and the pin file carry it. */
char    *nfltr_a2a_key_to_text        (const guint8 ed_pk[32]);
gboolean nfltr_a2a_key_from_text      (const char  *text,
                                       guint8       ed_pk[32]);
/* FALSE (NFLTR_A2A_ERROR_UNAVAILABLE) when libsodium's AES-256-GCM cannot run here. */
gboolean nfltr_a2a_crypto_check       (GError **error);

/* RFC 5869 with HMAC-SHA-256; out_len ≤ 32 * 255. */
void     nfltr_a2a_hkdf_sha256        (const guint8 *salt, gsize salt_len,
                                       const guint8 *ikm, gsize ikm_len,
                                       const guint8 *info, gsize info_len,
                                       guint8 *out, gsize out_len);

/* The routing header: what the relay reads, and what the tag binds. */
typedef struct {
  const char *from;                         /* sender's agent id */
  const char *to;                           /* recipient's agent id */
  guint8      msg_id[NFLTR_A2A_MSG_ID_BYTES];
} NfltrA2aRoute;

/* A parsed envelope; body points into the parsed buffer. */
typedef struct {
  guint8        version;
  guint8        flags;
  guint8        sender_key[32];
  guint8        recipient_key_id[NFLTR_A2A_KEY_ID_BYTES];
  guint8        ephemeral[32];
  guint64       counter;
  const guint8 *body;
  gsize         body_len;
} NfltrA2aEnvelope;

gboolean nfltr_a2a_envelope_parse (const guint8      *data,
                                   gsize              len,
                                   NfltrA2aEnvelope  *env,
                                   GError           **error);

/* One direction of one pair, on the sender's side: the ephemeral key and its counter. A new
 * one (a new ephemeral key) after every start of the service, so a counter never repeats
 * under one key. */
typedef struct {
  guint8  recipient_ed[32];
  guint8  e_pk[32];
  guint8  key[32];
  guint64 next_counter;
} NfltrA2aSendSession;

/* ephemeral_sk NULL: a fresh random one (tests pass theirs for known answers). */
gboolean nfltr_a2a_send_session_init (NfltrA2aSendSession    *session,
                                      const NfltrA2aIdentity *self,
                                      const guint8            recipient_ed[32],
                                      const guint8           *ephemeral_sk,
                                      GError                **error);
/* Seals inner into an envelope (and counts the counter up). plaintext: the opt-out. */
GBytes  *nfltr_a2a_seal             (NfltrA2aSendSession    *session,
                                     const NfltrA2aIdentity *self,
                                     const NfltrA2aRoute    *route,
                                     gboolean                plaintext,
                                     const guint8           *inner,
                                     gsize                   inner_len,
                                     GError                **error);

/* The receiver's view of one sender session: replay window. */
typedef struct {
  guint64 top;       /* highest counter accepted */
  guint64 bitmap;    /* bit i: top - i was accepted */
  gboolean any;
} NfltrA2aReplay;

/* TRUE (and records it) when counter was not seen and is within the window. */
gboolean nfltr_a2a_replay_check (NfltrA2aReplay *window,
                                 guint64         counter);

/* Opens env for self. pinned: the sender's pinned key, NULL on first contact. Checks, in
 * order, that the envelope is for this agent (route->to, the key id), that the sender's key
 * is the pinned one, then the tag. Returns the inner message (not yet replay-checked: the
 * caller keeps the windows). */
GBytes  *nfltr_a2a_open            (const NfltrA2aIdentity *self,
                                    const char             *self_agent_id,
                                    const NfltrA2aRoute    *route,
                                    const NfltrA2aEnvelope *env,
                                    const guint8           *pinned,
                                    GError                **error);

/* --- the inner message ------------------------------------------------------------------ */

typedef enum {
  NFLTR_A2A_INNER_TEXT          = 1,  /* UTF-8 */
  NFLTR_A2A_INNER_FILE          = 2,  /* name length (u16) | name | bytes */
  NFLTR_A2A_INNER_RECEIPT       = 3,  /* message id (16) | signed checkpoint (optional, 174) */
  NFLTR_A2A_INNER_HTTP_REQUEST  = 4,  /* stream (16) | JSON length (u32) | JSON | body */
  NFLTR_A2A_INNER_HTTP_RESPONSE = 5,  /* stream (16) | JSON length (u32) | JSON */
  NFLTR_A2A_INNER_HTTP_BODY     = 6,  /* stream (16) | bytes */
  NFLTR_A2A_INNER_HTTP_END      = 7,  /* stream (16) | UTF-8 error, empty when it ended well */
} NfltrA2aInnerType;

typedef struct {
  guint8        type;
  guint64       seq;      /* per pair and direction, from 1: ordering */
  const guint8 *payload;
  gsize         payload_len;
  /* FILE */
  char         *file_name;
} NfltrA2aInner;

GBytes  *nfltr_a2a_inner_encode (guint8        type,
                                 guint64       seq,
                                 const char   *file_name,
                                 const guint8 *payload,
                                 gsize         payload_len);
/* Checks type, size, the text's UTF-8 and the file name (no '/', no NUL, not "." or ".."). */
gboolean nfltr_a2a_inner_parse  (const guint8   *data,
                                 gsize           len,
                                 NfltrA2aInner  *inner,
                                 GError        **error);
void     nfltr_a2a_inner_clear  (NfltrA2aInner *inner);

/* --- pins: the keys seen on first contact (~/.config/nfltr/a2a-pins) -------------------- */

/* One line per agent: "AGENT-ID ed25519:BASE64" ('#' starts a comment). Lines that do not
 * parse are skipped, counted in *bad. Returns agent id → 32-byte key (GBytes). */
GHashTable *nfltr_a2a_pins_parse  (const char *text,
                                   gsize       len,
                                   guint      *bad);
char       *nfltr_a2a_pins_format (GHashTable *pins);
/* 32 hex digits, lowercase. */
gboolean    nfltr_a2a_agent_id_is_valid (const char *id);

G_END_DECLS
