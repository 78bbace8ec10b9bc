/* nfltr-wg-replay.h — the sliding window against replayed data packets (paper §5.4.6,
 * RFC 6479), checked only after a packet authenticated. The window is 8192 bits in 64-bit
 * words, one word kept redundant so sliding never clears bits still in the window: it
 * accepts counters up to NFLTR_WG_REPLAY_WINDOW_SIZE behind the greatest seen. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NFLTR_WG_REPLAY_BITS_TOTAL 8192
#define NFLTR_WG_REPLAY_REDUNDANT_BITS 64
#define NFLTR_WG_REPLAY_WINDOW_SIZE (NFLTR_WG_REPLAY_BITS_TOTAL - NFLTR_WG_REPLAY_REDUNDANT_BITS)

/* §5.4.6 / WireGuard's messages.h: a receiver stops accepting before the counter could wrap
 * within the window. */
#define NFLTR_WG_REJECT_AFTER_MESSAGES (G_MAXUINT64 - NFLTR_WG_REPLAY_WINDOW_SIZE - 1)

typedef struct {
  /* greatest counter accepted, plus one (0 = none yet) */
  guint64 next;
  guint64 bitmap[NFLTR_WG_REPLAY_BITS_TOTAL / 64];
} NfltrWgReplay;

void nfltr_wg_replay_init (NfltrWgReplay *replay);
/* TRUE (and marks it seen) if counter is new and inside the window. */
gboolean nfltr_wg_replay_check (NfltrWgReplay *replay, guint64 counter);

G_END_DECLS
