/* test-wg-replay.c — the replay window (RFC 6479, paper §5.4.6): the cases of the Linux
 * kernel's WireGuard self-test (drivers/net/wireguard/selftest/counter.c) reproduced, and
 * the timers of §6 driven with a fake clock. */
#include "nfltr-wg-replay.h"
#include "nfltr-wg-timers.h"

#define S NFLTR_WG_NS_PER_S
#define WINDOW NFLTR_WG_REPLAY_WINDOW_SIZE
#define REJECT NFLTR_WG_REJECT_AFTER_MESSAGES

typedef struct {
  guint64 counter;
  gboolean accepted;
} Case;

static void
run_cases (NfltrWgReplay *replay, const Case *cases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      if (nfltr_wg_replay_check (replay, cases[i].counter) != cases[i].accepted)
        g_error ("case %" G_GSIZE_FORMAT ": counter %" G_GUINT64_FORMAT " should be %s", i + 1, cases[i].counter,
                 cases[i].accepted ? "accepted" : "refused");
    }
}

static void
test_kernel_sequence (void)
{
  /* T_LIM in the kernel's test: one past the window. */
  const guint64 lim = WINDOW + 1;
  const Case cases[] = {
    { 0, TRUE }, { 1, TRUE }, { 1, FALSE }, { 9, TRUE }, { 8, TRUE }, { 7, TRUE }, { 7, FALSE },
    { lim, TRUE }, { lim - 1, TRUE }, { lim - 1, FALSE }, { lim - 2, TRUE }, { 2, TRUE }, { 2, FALSE },
    { lim + 16, TRUE }, { 3, FALSE }, { lim + 16, FALSE }, { lim * 4, TRUE }, { lim * 4 - (lim - 1), TRUE },
    { 10, FALSE }, { lim * 4 - lim, FALSE }, { lim * 4 - (lim + 1), FALSE }, { lim * 4 - (lim - 2), TRUE },
    { lim * 4 + 1 - lim, FALSE }, { 0, FALSE }, { REJECT, FALSE }, { REJECT - 1, TRUE }, { REJECT, FALSE },
    { REJECT - 1, FALSE }, { REJECT - 2, TRUE }, { REJECT + 1, FALSE }, { REJECT + 2, FALSE },
    { REJECT - 2, FALSE }, { REJECT - 3, TRUE }, { 0, FALSE },
  };
  NfltrWgReplay replay;

  nfltr_wg_replay_init (&replay);
  run_cases (&replay, cases, G_N_ELEMENTS (cases));
}

static void
test_kernel_window_edges (void)
{
  NfltrWgReplay replay;

  /* 1..WINDOW, then 0 still fits (exactly WINDOW behind), once. */
  nfltr_wg_replay_init (&replay);
  for (guint64 i = 1; i <= WINDOW; i++)
    g_assert_true (nfltr_wg_replay_check (&replay, i));
  g_assert_true (nfltr_wg_replay_check (&replay, 0));
  g_assert_false (nfltr_wg_replay_check (&replay, 0));

  /* 2..WINDOW+1, then 1 fits and 0 is one too far. */
  nfltr_wg_replay_init (&replay);
  for (guint64 i = 2; i <= WINDOW + 1; i++)
    g_assert_true (nfltr_wg_replay_check (&replay, i));
  g_assert_true (nfltr_wg_replay_check (&replay, 1));
  g_assert_false (nfltr_wg_replay_check (&replay, 0));

  /* Backwards from WINDOW down to 0: all new, all inside. */
  nfltr_wg_replay_init (&replay);
  for (guint64 i = WINDOW + 1; i-- > 0;)
    g_assert_true (nfltr_wg_replay_check (&replay, i));

  /* Backwards from WINDOW+1 down to 1, then 0 is outside. */
  nfltr_wg_replay_init (&replay);
  for (guint64 i = WINDOW + 2; i-- > 1;)
    g_assert_true (nfltr_wg_replay_check (&replay, i));
  g_assert_false (nfltr_wg_replay_check (&replay, 0));

  /* Backwards from WINDOW to 1, then WINDOW+1 slides the window and 0 falls out. */
  nfltr_wg_replay_init (&replay);
  for (guint64 i = WINDOW + 1; i-- > 1;)
    g_assert_true (nfltr_wg_replay_check (&replay, i));
  g_assert_true (nfltr_wg_replay_check (&replay, WINDOW + 1));
  g_assert_false (nfltr_wg_replay_check (&replay, 0));

  /* The same but 0 first: both accepted. */
  nfltr_wg_replay_init (&replay);
  for (guint64 i = WINDOW + 1; i-- > 1;)
    g_assert_true (nfltr_wg_replay_check (&replay, i));
  g_assert_true (nfltr_wg_replay_check (&replay, 0));
  g_assert_true (nfltr_wg_replay_check (&replay, WINDOW + 1));
}

static void
test_timers_retransmit_then_give_up (void)
{
  NfltrWgTimers t;
  gint64 now = 100 * S;
  guint retries = 0;
  NfltrWgTimerEvents ev;

  nfltr_wg_timers_init (&t, 0);
  nfltr_wg_timers_handshake_initiated (&t, now, 333 * 1000000);
  /* REKEY_TIMEOUT plus the jitter: not a moment before. */
  g_assert_cmpint (nfltr_wg_timers_next_deadline (&t), ==, now + 5 * S + 333 * 1000000);
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 5 * S), ==, 0);

  /* Each expiry retries (the device sends a new initiation and re-arms) until
   * REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18 retries, then it gives up. */
  for (;;)
    {
      now = nfltr_wg_timers_next_deadline (&t);
      g_assert_cmpint (now, !=, 0);
      ev = nfltr_wg_timers_expire (&t, now);
      if (ev & NFLTR_WG_TIMER_GIVE_UP_HANDSHAKE)
        break;
      g_assert_cmpint (ev, ==, NFLTR_WG_TIMER_RETRANSMIT_HANDSHAKE);
      retries++;
      nfltr_wg_timers_handshake_initiated (&t, now, 0);
    }
  g_assert_cmpuint (retries, ==, NFLTR_WG_MAX_TIMER_HANDSHAKES + 1);
  /* Giving up schedules the erasure of key material 3 × REJECT_AFTER_TIME later. */
  g_assert_cmpint (nfltr_wg_timers_next_deadline (&t), ==, now + 3 * 180 * S);
}

static void
test_timers_keepalive_and_new_handshake (void)
{
  NfltrWgTimers t;
  gint64 now = 1000 * S;

  nfltr_wg_timers_init (&t, 0);
  nfltr_wg_timers_handshake_complete (&t);

  /* §6.5: data received and nothing sent back for KEEPALIVE_TIMEOUT → keepalive. */
  nfltr_wg_timers_data_received (&t, now);
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 10 * S - 1), ==, 0);
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 10 * S), ==, NFLTR_WG_TIMER_SEND_KEEPALIVE);

  /* …but sending anything authenticated first cancels it. */
  nfltr_wg_timers_data_received (&t, now);
  nfltr_wg_timers_any_authenticated_packet_sent (&t);
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 20 * S), ==, 0);

  /* More data while the keepalive is pending: another one after it. */
  nfltr_wg_timers_data_received (&t, now);
  nfltr_wg_timers_data_received (&t, now + S);
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 10 * S), ==, NFLTR_WG_TIMER_SEND_KEEPALIVE);
  nfltr_wg_timers_keepalive_sent (&t, now + 10 * S);
  g_assert_cmpint (nfltr_wg_timers_next_deadline (&t), ==, now + 20 * S);
  nfltr_wg_timers_any_authenticated_packet_sent (&t);

  /* §6.2: data sent and nothing heard for KEEPALIVE + REKEY_TIMEOUT → new handshake. */
  nfltr_wg_timers_data_sent (&t, now, 0);
  nfltr_wg_timers_data_sent (&t, now + 5 * S, 0); /* armed once, not pushed back */
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 15 * S), ==, NFLTR_WG_TIMER_NEW_HANDSHAKE);
  /* Any authenticated packet received disarms it. */
  nfltr_wg_timers_data_sent (&t, now, 0);
  nfltr_wg_timers_any_authenticated_packet_received (&t);
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 60 * S), ==, 0);
}

static void
test_timers_zero_keys_and_persistent_keepalive (void)
{
  NfltrWgTimers t;
  gint64 now = 5 * S;

  nfltr_wg_timers_init (&t, 25);
  nfltr_wg_timers_session_derived (&t, now);
  nfltr_wg_timers_any_authenticated_packet_traversal (&t, now);
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 25 * S), ==, NFLTR_WG_TIMER_PERSISTENT_KEEPALIVE);
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 540 * S - 1), ==, 0);
  g_assert_cmpint (nfltr_wg_timers_expire (&t, now + 540 * S), ==, NFLTR_WG_TIMER_ZERO_KEY_MATERIAL);
  g_assert_cmpint (nfltr_wg_timers_next_deadline (&t), ==, 0);

  /* Without an interval there is no persistent keepalive. */
  nfltr_wg_timers_init (&t, 0);
  nfltr_wg_timers_any_authenticated_packet_traversal (&t, now);
  g_assert_cmpint (nfltr_wg_timers_next_deadline (&t), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wg/replay/kernel-sequence", test_kernel_sequence);
  g_test_add_func ("/wg/replay/kernel-window-edges", test_kernel_window_edges);
  g_test_add_func ("/wg/timers/retransmit-then-give-up", test_timers_retransmit_then_give_up);
  g_test_add_func ("/wg/timers/keepalive-and-new-handshake", test_timers_keepalive_and_new_handshake);
  g_test_add_func ("/wg/timers/zero-keys-and-persistent-keepalive", test_timers_zero_keys_and_persistent_keepalive);
  return g_test_run ();
}
