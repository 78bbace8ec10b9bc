/* nfltr-wg-timers.h — the timers of the WireGuard paper §6 as five deadlines per peer, set
 * and cleared by the events WireGuard's timers.c names (data sent, data received, handshake
 * initiated, …). Time (monotonic ns) and jitter are passed in, so tests drive the clock. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* §6.1 "Preliminaries": the constants. */
#define NFLTR_WG_REKEY_AFTER_MESSAGES (G_GUINT64_CONSTANT (1) << 60)
#define NFLTR_WG_REKEY_AFTER_TIME_S 120
#define NFLTR_WG_REJECT_AFTER_TIME_S 180
#define NFLTR_WG_REKEY_ATTEMPT_TIME_S 90
#define NFLTR_WG_REKEY_TIMEOUT_S 5
#define NFLTR_WG_KEEPALIVE_TIMEOUT_S 10
/* REKEY_ATTEMPT_TIME / REKEY_TIMEOUT: retries before giving up (WireGuard's MAX_TIMER_HANDSHAKES). */
#define NFLTR_WG_MAX_TIMER_HANDSHAKES (NFLTR_WG_REKEY_ATTEMPT_TIME_S / NFLTR_WG_REKEY_TIMEOUT_S)
/* §6.1: up to a third of a second of jitter on REKEY_TIMEOUT, so peers do not retry in step. */
#define NFLTR_WG_REKEY_TIMEOUT_JITTER_MAX_MS 333

#define NFLTR_WG_NS_PER_S G_GINT64_CONSTANT (1000000000)

typedef enum {
  NFLTR_WG_TIMER_RETRANSMIT_HANDSHAKE = 1 << 0, /* send the initiation again */
  NFLTR_WG_TIMER_GIVE_UP_HANDSHAKE = 1 << 1,    /* REKEY_ATTEMPT_TIME passed: drop queued packets */
  NFLTR_WG_TIMER_SEND_KEEPALIVE = 1 << 2,       /* §6.5 passive keepalive */
  NFLTR_WG_TIMER_NEW_HANDSHAKE = 1 << 3,     /* sent data, heard nothing back for KEEPALIVE + REKEY_TIMEOUT */
  NFLTR_WG_TIMER_ZERO_KEY_MATERIAL = 1 << 4, /* 3 × REJECT_AFTER_TIME without a new session */
  NFLTR_WG_TIMER_PERSISTENT_KEEPALIVE = 1 << 5,
} NfltrWgTimerEvents;

typedef struct {
  /* Deadlines in monotonic ns, 0 = not armed. */
  gint64 retransmit_handshake;
  gint64 send_keepalive;
  gint64 new_handshake;
  gint64 zero_key_material;
  gint64 persistent_keepalive;
  guint handshake_attempts;
  gboolean need_another_keepalive;
  guint persistent_keepalive_interval_s;
} NfltrWgTimers;

void nfltr_wg_timers_init (NfltrWgTimers *timers, guint persistent_keepalive_interval_s);

/* The events of WireGuard's timers.c; jitter_ns is drawn by the caller in
 * [0, NFLTR_WG_REKEY_TIMEOUT_JITTER_MAX_MS]. */
void nfltr_wg_timers_data_sent (NfltrWgTimers *timers, gint64 now_ns, gint64 jitter_ns);
void nfltr_wg_timers_data_received (NfltrWgTimers *timers, gint64 now_ns);
void nfltr_wg_timers_any_authenticated_packet_sent (NfltrWgTimers *timers);
void nfltr_wg_timers_any_authenticated_packet_received (NfltrWgTimers *timers);
void nfltr_wg_timers_handshake_initiated (NfltrWgTimers *timers, gint64 now_ns, gint64 jitter_ns);
void nfltr_wg_timers_handshake_complete (NfltrWgTimers *timers);
void nfltr_wg_timers_session_derived (NfltrWgTimers *timers, gint64 now_ns);
void nfltr_wg_timers_any_authenticated_packet_traversal (NfltrWgTimers *timers, gint64 now_ns);

/* Disarms and returns every timer due at now_ns, deciding retry against give-up. */
NfltrWgTimerEvents nfltr_wg_timers_expire (NfltrWgTimers *timers, gint64 now_ns);
/* After the keepalive a SEND_KEEPALIVE asked for went out: another one is due if data kept
 * arriving meanwhile. */
void nfltr_wg_timers_keepalive_sent (NfltrWgTimers *timers, gint64 now_ns);
/* The earliest armed deadline, or 0. */
gint64 nfltr_wg_timers_next_deadline (const NfltrWgTimers *timers);

G_END_DECLS
