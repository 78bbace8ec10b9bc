/* nfltr-wg-cookie.h — mac1, mac2 and cookie replies (WireGuard paper §5.3 and §5.4.4,
 * §5.4.7): the checker is the device's (it answers handshakes under load with a cookie), the
 * maker is each peer's (it stamps our handshake messages and keeps the cookie a peer sent). */
#pragma once

#include "nfltr-wg-messages.h"

G_BEGIN_DECLS

#define NFLTR_WG_LABEL_MAC1 "mac1----"
#define NFLTR_WG_LABEL_COOKIE "cookie--"
#define NFLTR_WG_COOKIE_LEN 16
/* §5.4.7: the secret Rm changes every two minutes; a cookie received is used for as long,
 * less a few seconds of latency (WireGuard's COOKIE_SECRET_LATENCY). */
#define NFLTR_WG_COOKIE_SECRET_MAX_AGE_S 120
#define NFLTR_WG_COOKIE_SECRET_LATENCY_S 5

typedef enum {
  NFLTR_WG_MACS_INVALID,    /* mac1 wrong: drop silently */
  NFLTR_WG_MACS_VALID_MAC1, /* mac1 right, mac2 missing or wrong */
  NFLTR_WG_MACS_VALID_MAC2, /* both right: the sender proved its address */
} NfltrWgMacsResult;

typedef struct {
  guint8 mac1_key[NFLTR_WG_HASH_LEN];              /* HASH(LABEL_MAC1 || Spub_m) */
  guint8 cookie_encryption_key[NFLTR_WG_KEY_SIZE]; /* HASH(LABEL_COOKIE || Spub_m) */
  guint8 secret[NFLTR_WG_HASH_LEN];                /* Rm */
  gint64 secret_birth_ns;                          /* monotonic; 0 = never made */
} NfltrWgCookieChecker;

typedef struct {
  guint8 mac1_key[NFLTR_WG_HASH_LEN]; /* of the peer's public key */
  guint8 cookie_decryption_key[NFLTR_WG_KEY_SIZE];
  guint8 cookie[NFLTR_WG_COOKIE_LEN];
  gint64 cookie_birth_ns; /* 0 = no cookie */
  guint8 last_mac1_sent[NFLTR_WG_MAC_LEN];
  gboolean have_sent_mac1;
} NfltrWgCookieMaker;

void nfltr_wg_cookie_checker_init (NfltrWgCookieChecker *checker,
                                   const guint8 local_public[NFLTR_WG_KEY_SIZE]);

/* Checks mac1 and, with the sender's address bytes (IP then port, any stable encoding),
 * mac2. random_secret supplies 32 bytes when Rm must be renewed. */
NfltrWgMacsResult nfltr_wg_cookie_check (NfltrWgCookieChecker *checker, const guint8 *msg, gsize msg_len,
                                         const guint8 *source, gsize source_len, gint64 now_ns,
                                         const guint8 random_secret[NFLTR_WG_HASH_LEN]);

/* Builds the cookie reply to a handshake message (whose sender index is sender_index). */
void nfltr_wg_cookie_reply_create (NfltrWgCookieChecker *checker, NfltrWgMessageCookie *reply,
                                   const guint8 *msg, gsize msg_len, guint32 sender_index,
                                   const guint8 *source, gsize source_len, gint64 now_ns,
                                   const guint8 random_secret[NFLTR_WG_HASH_LEN],
                                   const guint8 nonce[NFLTR_WG_XNONCE_LEN]);

void nfltr_wg_cookie_maker_init (NfltrWgCookieMaker *maker, const guint8 remote_public[NFLTR_WG_KEY_SIZE]);

/* Fills mac1 (always) and mac2 (with a fresh cookie, else zero) of a handshake message. */
void nfltr_wg_cookie_add_macs (NfltrWgCookieMaker *maker, guint8 *msg, gsize msg_len, gint64 now_ns);

/* Takes the cookie out of a reply to our last handshake message; FALSE if it does not
 * decrypt (wrong peer, or not an answer to the mac1 we sent). */
gboolean nfltr_wg_cookie_consume_reply (NfltrWgCookieMaker *maker, const NfltrWgMessageCookie *reply, gint64 now_ns);

G_END_DECLS
