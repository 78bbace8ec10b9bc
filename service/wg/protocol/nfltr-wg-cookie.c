/* nfltr-wg-cookie.c — mac1/mac2 and the cookie mechanism, paper §5.4.4 and §5.4.7. */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-wg-cookie.h"

#include <string.h>

#define NS_PER_S G_GINT64_CONSTANT (1000000000)

static void
labelled_key (guint8 out[NFLTR_WG_HASH_LEN], const char *label, const guint8 public_key[NFLTR_WG_KEY_SIZE])
{
  nfltr_wg_hash (out, (const guint8 *) label, strlen (label), public_key, NFLTR_WG_KEY_SIZE);
}

static gboolean
expired (gint64 birth_ns, gint64 now_ns, gint64 max_age_s)
{
  return birth_ns == 0 || now_ns - birth_ns >= max_age_s * NS_PER_S;
}

void
nfltr_wg_cookie_checker_init (NfltrWgCookieChecker *checker, const guint8 local_public[NFLTR_WG_KEY_SIZE])
{
  memset (checker, 0, sizeof *checker);
  labelled_key (checker->mac1_key, NFLTR_WG_LABEL_MAC1, local_public);
  labelled_key (checker->cookie_encryption_key, NFLTR_WG_LABEL_COOKIE, local_public);
}

/* tau = MAC(Rm, Am): the cookie this source should have, under a secret at most two minutes
 * old. */
static void
make_cookie (NfltrWgCookieChecker *checker,
             guint8 cookie[NFLTR_WG_COOKIE_LEN],
             const guint8 *source,
             gsize source_len,
             gint64 now_ns,
             const guint8 random_secret[NFLTR_WG_HASH_LEN])
{
  if (expired (checker->secret_birth_ns, now_ns, NFLTR_WG_COOKIE_SECRET_MAX_AGE_S))
    {
      memcpy (checker->secret, random_secret, NFLTR_WG_HASH_LEN);
      /* 0 means "never", so a clock at 0 is nudged. */
      checker->secret_birth_ns = now_ns != 0 ? now_ns : 1;
    }
  nfltr_wg_mac (cookie, checker->secret, NFLTR_WG_HASH_LEN, source, source_len);
}

NfltrWgMacsResult
nfltr_wg_cookie_check (NfltrWgCookieChecker *checker,
                       const guint8 *msg,
                       gsize msg_len,
                       const guint8 *source,
                       gsize source_len,
                       gint64 now_ns,
                       const guint8 random_secret[NFLTR_WG_HASH_LEN])
{
  const NfltrWgMacs *macs = (const NfltrWgMacs *) (msg + msg_len - sizeof (NfltrWgMacs));
  gsize mac1_offset = msg_len - sizeof (NfltrWgMacs);
  guint8 computed[NFLTR_WG_MAC_LEN];
  guint8 cookie[NFLTR_WG_COOKIE_LEN];

  /* msg.mac1 = MAC(HASH(LABEL_MAC1 || Spub_m), msg_alpha) */
  nfltr_wg_mac (computed, checker->mac1_key, NFLTR_WG_HASH_LEN, msg, mac1_offset);
  if (!nfltr_wg_equal (computed, macs->mac1, NFLTR_WG_MAC_LEN))
    return NFLTR_WG_MACS_INVALID;

  /* msg.mac2 = MAC(tau, msg_beta) */
  make_cookie (checker, cookie, source, source_len, now_ns, random_secret);
  nfltr_wg_mac (computed, cookie, NFLTR_WG_COOKIE_LEN, msg, mac1_offset + NFLTR_WG_MAC_LEN);
  nfltr_wg_wipe (cookie, sizeof cookie);
  if (!nfltr_wg_equal (computed, macs->mac2, NFLTR_WG_MAC_LEN))
    return NFLTR_WG_MACS_VALID_MAC1;
  return NFLTR_WG_MACS_VALID_MAC2;
}

void
nfltr_wg_cookie_reply_create (NfltrWgCookieChecker *checker,
                              NfltrWgMessageCookie *reply,
                              const guint8 *msg,
                              gsize msg_len,
                              guint32 sender_index,
                              const guint8 *source,
                              gsize source_len,
                              gint64 now_ns,
                              const guint8 random_secret[NFLTR_WG_HASH_LEN],
                              const guint8 nonce[NFLTR_WG_XNONCE_LEN])
{
  const NfltrWgMacs *macs = (const NfltrWgMacs *) (msg + msg_len - sizeof (NfltrWgMacs));
  guint8 cookie[NFLTR_WG_COOKIE_LEN];

  memset (reply, 0, sizeof *reply);
  reply->header.type = NFLTR_WG_MESSAGE_HANDSHAKE_COOKIE;
  nfltr_wg_put_le32 (reply->receiver_index, sender_index);
  memcpy (reply->nonce, nonce, NFLTR_WG_XNONCE_LEN);

  /* msg.cookie = XAEAD(HASH(LABEL_COOKIE || Spub_m), msg.nonce, tau, M.mac1) */
  make_cookie (checker, cookie, source, source_len, now_ns, random_secret);
  nfltr_wg_xaead_encrypt (reply->encrypted_cookie, cookie, NFLTR_WG_COOKIE_LEN, macs->mac1, NFLTR_WG_MAC_LEN,
                          reply->nonce, checker->cookie_encryption_key);
  nfltr_wg_wipe (cookie, sizeof cookie);
}

void
nfltr_wg_cookie_maker_init (NfltrWgCookieMaker *maker, const guint8 remote_public[NFLTR_WG_KEY_SIZE])
{
  memset (maker, 0, sizeof *maker);
  labelled_key (maker->mac1_key, NFLTR_WG_LABEL_MAC1, remote_public);
  labelled_key (maker->cookie_decryption_key, NFLTR_WG_LABEL_COOKIE, remote_public);
}

void
nfltr_wg_cookie_add_macs (NfltrWgCookieMaker *maker, guint8 *msg, gsize msg_len, gint64 now_ns)
{
  NfltrWgMacs *macs = (NfltrWgMacs *) (msg + msg_len - sizeof (NfltrWgMacs));
  gsize mac1_offset = msg_len - sizeof (NfltrWgMacs);

  nfltr_wg_mac (macs->mac1, maker->mac1_key, NFLTR_WG_HASH_LEN, msg, mac1_offset);
  memcpy (maker->last_mac1_sent, macs->mac1, NFLTR_WG_MAC_LEN);
  maker->have_sent_mac1 = TRUE;

  /* §5.4.4: mac2 only with a cookie younger than the secret's life, else zeros. */
  if (!expired (maker->cookie_birth_ns, now_ns, NFLTR_WG_COOKIE_SECRET_MAX_AGE_S - NFLTR_WG_COOKIE_SECRET_LATENCY_S))
    nfltr_wg_mac (macs->mac2, maker->cookie, NFLTR_WG_COOKIE_LEN, msg, mac1_offset + NFLTR_WG_MAC_LEN);
  else
    memset (macs->mac2, 0, NFLTR_WG_MAC_LEN);
}

gboolean
nfltr_wg_cookie_consume_reply (NfltrWgCookieMaker *maker, const NfltrWgMessageCookie *reply, gint64 now_ns)
{
  guint8 cookie[NFLTR_WG_COOKIE_LEN];

  if (!maker->have_sent_mac1)
    return FALSE;
  if (!nfltr_wg_xaead_decrypt (cookie, reply->encrypted_cookie, sizeof reply->encrypted_cookie, maker->last_mac1_sent,
                               NFLTR_WG_MAC_LEN, reply->nonce, maker->cookie_decryption_key))
    return FALSE;
  memcpy (maker->cookie, cookie, NFLTR_WG_COOKIE_LEN);
  maker->cookie_birth_ns = now_ns != 0 ? now_ns : 1;
  /* One reply per mac1 we sent, as WireGuard: a second copy is not a fresh cookie. */
  maker->have_sent_mac1 = FALSE;
  nfltr_wg_wipe (cookie, sizeof cookie);
  return TRUE;
}
