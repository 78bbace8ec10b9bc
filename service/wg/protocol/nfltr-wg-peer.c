/* nfltr-wg-peer.c — session rotation and the rekey decisions of one peer. */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-wg-peer.h"

#include <string.h>

NfltrWgPeer *
nfltr_wg_peer_new (guint id,
                   const NfltrWgIdentity *local,
                   const guint8 remote_static[NFLTR_WG_KEY_SIZE],
                   const guint8 *preshared_key,
                   guint persistent_keepalive_s)
{
  NfltrWgPeer *peer = g_new0 (NfltrWgPeer, 1);

  peer->id = id;
  nfltr_wg_handshake_init (&peer->handshake, local, remote_static, preshared_key);
  nfltr_wg_cookie_maker_init (&peer->cookie, remote_static);
  nfltr_wg_timers_init (&peer->timers, persistent_keepalive_s);
  return peer;
}

void
nfltr_wg_keypair_free (NfltrWgKeypair *keypair)
{
  if (keypair == NULL)
    return;
  nfltr_wg_wipe (keypair, sizeof *keypair);
  g_free (keypair);
}

void
nfltr_wg_peer_free (NfltrWgPeer *peer)
{
  if (peer == NULL)
    return;
  nfltr_wg_keypair_free (peer->current);
  nfltr_wg_keypair_free (peer->previous);
  nfltr_wg_keypair_free (peer->next);
  nfltr_wg_wipe (peer, sizeof *peer);
  g_free (peer);
}

NfltrWgKeypair *
nfltr_wg_peer_add_keypair (NfltrWgPeer *peer, const NfltrWgSessionKeys *keys, gint64 now_ns, NfltrWgKeypair **dropped2)
{
  NfltrWgKeypair *keypair = g_new0 (NfltrWgKeypair, 1);
  NfltrWgKeypair *dropped = NULL;

  keypair->keys = *keys;
  keypair->birth_ns = now_ns;
  keypair->valid = TRUE;
  nfltr_wg_replay_init (&keypair->replay);
  *dropped2 = NULL;

  if (keys->initiator)
    {
      /* The response confirmed the session: it is usable at once. A pending next (ours as a
       * responder) is demoted to previous rather than thrown away, as WireGuard does. */
      if (peer->next != NULL)
        {
          dropped = peer->current;
          *dropped2 = peer->previous;
          peer->previous = peer->next;
          peer->next = NULL;
        }
      else
        {
          dropped = peer->previous;
          peer->previous = peer->current;
        }
      peer->current = keypair;
    }
  else
    {
      /* As responder we may not send with it before the initiator's first data packet. */
      dropped = peer->next;
      *dropped2 = peer->previous;
      peer->previous = NULL;
      peer->next = keypair;
    }
  peer->sent_lastminute_handshake = FALSE;
  return dropped;
}

gboolean
nfltr_wg_peer_received_with_keypair (NfltrWgPeer *peer, NfltrWgKeypair *keypair, NfltrWgKeypair **dropped)
{
  *dropped = NULL;
  if (keypair == NULL || keypair != peer->next)
    return FALSE;
  *dropped = peer->previous;
  peer->previous = peer->current;
  peer->current = peer->next;
  peer->next = NULL;
  return TRUE;
}

gboolean
nfltr_wg_keypair_usable (const NfltrWgKeypair *keypair, gint64 now_ns)
{
  return keypair != NULL && keypair->valid &&
         now_ns - keypair->birth_ns < NFLTR_WG_REJECT_AFTER_TIME_S * NFLTR_WG_NS_PER_S &&
         keypair->send_counter < NFLTR_WG_REJECT_AFTER_MESSAGES;
}

gboolean
nfltr_wg_peer_should_rekey_on_send (const NfltrWgPeer *peer, gint64 now_ns, gint64 rekey_after_time_s)
{
  const NfltrWgKeypair *kp = peer->current;

  if (kp == NULL || !kp->valid)
    return FALSE;
  return kp->send_counter > NFLTR_WG_REKEY_AFTER_MESSAGES ||
         (kp->keys.initiator && now_ns - kp->birth_ns >= rekey_after_time_s * NFLTR_WG_NS_PER_S);
}

gboolean
nfltr_wg_peer_should_rekey_on_receive (NfltrWgPeer *peer, gint64 now_ns)
{
  const NfltrWgKeypair *kp = peer->current;
  gint64 limit = (NFLTR_WG_REJECT_AFTER_TIME_S - NFLTR_WG_KEEPALIVE_TIMEOUT_S - NFLTR_WG_REKEY_TIMEOUT_S) * NFLTR_WG_NS_PER_S;

  if (kp == NULL || !kp->valid || !kp->keys.initiator || peer->sent_lastminute_handshake)
    return FALSE;
  if (now_ns - kp->birth_ns < limit)
    return FALSE;
  peer->sent_lastminute_handshake = TRUE;
  return TRUE;
}

guint
nfltr_wg_peer_zero_keys (NfltrWgPeer *peer, NfltrWgKeypair *dropped[3])
{
  guint n = 0;

  if (peer->current != NULL)
    dropped[n++] = g_steal_pointer (&peer->current);
  if (peer->previous != NULL)
    dropped[n++] = g_steal_pointer (&peer->previous);
  if (peer->next != NULL)
    dropped[n++] = g_steal_pointer (&peer->next);
  nfltr_wg_handshake_clear (&peer->handshake);
  return n;
}
