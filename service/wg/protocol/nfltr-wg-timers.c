/* nfltr-wg-timers.c — §6 of the paper, organised as WireGuard's timers.c. */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-wg-timers.h"

#include <string.h>

void
nfltr_wg_timers_init (NfltrWgTimers *timers, guint persistent_keepalive_interval_s)
{
  memset (timers, 0, sizeof *timers);
  timers->persistent_keepalive_interval_s = persistent_keepalive_interval_s;
}

/* §6.2: sent data and heard nothing back within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: start a
 * handshake. Armed once; the first packet received disarms it. */
void
nfltr_wg_timers_data_sent (NfltrWgTimers *timers, gint64 now_ns, gint64 jitter_ns)
{
  if (timers->new_handshake == 0)
    timers->new_handshake = now_ns + (NFLTR_WG_KEEPALIVE_TIMEOUT_S + NFLTR_WG_REKEY_TIMEOUT_S) * NFLTR_WG_NS_PER_S + jitter_ns;
}

/* §6.5: received data and sent nothing back within KEEPALIVE_TIMEOUT: send a keepalive. */
void
nfltr_wg_timers_data_received (NfltrWgTimers *timers, gint64 now_ns)
{
  if (timers->send_keepalive == 0)
    timers->send_keepalive = now_ns + NFLTR_WG_KEEPALIVE_TIMEOUT_S * NFLTR_WG_NS_PER_S;
  else
    timers->need_another_keepalive = TRUE;
}

void
nfltr_wg_timers_any_authenticated_packet_sent (NfltrWgTimers *timers)
{
  timers->send_keepalive = 0;
}

void
nfltr_wg_timers_any_authenticated_packet_received (NfltrWgTimers *timers)
{
  timers->new_handshake = 0;
}

/* §6.4: an unanswered initiation is retried after REKEY_TIMEOUT (plus jitter). */
void
nfltr_wg_timers_handshake_initiated (NfltrWgTimers *timers, gint64 now_ns, gint64 jitter_ns)
{
  timers->retransmit_handshake = now_ns + NFLTR_WG_REKEY_TIMEOUT_S * NFLTR_WG_NS_PER_S + jitter_ns;
}

void
nfltr_wg_timers_handshake_complete (NfltrWgTimers *timers)
{
  timers->retransmit_handshake = 0;
  timers->handshake_attempts = 0;
}

/* §6.3: key material is erased after 3 × REJECT_AFTER_TIME without a new session. */
void
nfltr_wg_timers_session_derived (NfltrWgTimers *timers, gint64 now_ns)
{
  timers->zero_key_material = now_ns + 3 * NFLTR_WG_REJECT_AFTER_TIME_S * NFLTR_WG_NS_PER_S;
}

/* §6.5: persistent keepalive counts from the last authenticated packet either way. */
void
nfltr_wg_timers_any_authenticated_packet_traversal (NfltrWgTimers *timers, gint64 now_ns)
{
  if (timers->persistent_keepalive_interval_s > 0)
    timers->persistent_keepalive = now_ns + (gint64) timers->persistent_keepalive_interval_s * NFLTR_WG_NS_PER_S;
}

static gboolean
due (gint64 *deadline, gint64 now_ns)
{
  if (*deadline == 0 || *deadline > now_ns)
    return FALSE;
  *deadline = 0;
  return TRUE;
}

NfltrWgTimerEvents
nfltr_wg_timers_expire (NfltrWgTimers *timers, gint64 now_ns)
{
  NfltrWgTimerEvents events = 0;

  if (due (&timers->retransmit_handshake, now_ns))
    {
      /* §6.4: after REKEY_ATTEMPT_TIME of retries, give up and forget queued packets; the
       * key material goes too, later, if nothing else arms it. */
      if (timers->handshake_attempts > NFLTR_WG_MAX_TIMER_HANDSHAKES)
        {
          events |= NFLTR_WG_TIMER_GIVE_UP_HANDSHAKE;
          timers->send_keepalive = 0;
          if (timers->zero_key_material == 0)
            timers->zero_key_material = now_ns + 3 * NFLTR_WG_REJECT_AFTER_TIME_S * NFLTR_WG_NS_PER_S;
        }
      else
        {
          timers->handshake_attempts++;
          events |= NFLTR_WG_TIMER_RETRANSMIT_HANDSHAKE;
        }
    }
  if (due (&timers->send_keepalive, now_ns))
    events |= NFLTR_WG_TIMER_SEND_KEEPALIVE;
  if (due (&timers->new_handshake, now_ns))
    events |= NFLTR_WG_TIMER_NEW_HANDSHAKE;
  if (due (&timers->zero_key_material, now_ns))
    events |= NFLTR_WG_TIMER_ZERO_KEY_MATERIAL;
  if (due (&timers->persistent_keepalive, now_ns))
    events |= NFLTR_WG_TIMER_PERSISTENT_KEEPALIVE;
  return events;
}

void
nfltr_wg_timers_keepalive_sent (NfltrWgTimers *timers, gint64 now_ns)
{
  if (timers->need_another_keepalive)
    {
      timers->need_another_keepalive = FALSE;
      timers->send_keepalive = now_ns + NFLTR_WG_KEEPALIVE_TIMEOUT_S * NFLTR_WG_NS_PER_S;
    }
}

gint64
nfltr_wg_timers_next_deadline (const NfltrWgTimers *timers)
{
  gint64 all[] = { timers->retransmit_handshake, timers->send_keepalive, timers->new_handshake,
                   timers->zero_key_material, timers->persistent_keepalive };
  gint64 next = 0;

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    if (all[i] != 0 && (next == 0 || all[i] < next))
      next = all[i];
  return next;
}
