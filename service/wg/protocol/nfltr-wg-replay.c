/* nfltr-wg-replay.c — RFC 6479's bitmap window. Counters are shifted by one so that the
 * zeroed state means "nothing seen" and counter 0 is still acceptable once. */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-wg-replay.h"

#include <string.h>

#define WORDS (NFLTR_WG_REPLAY_BITS_TOTAL / 64)

void
nfltr_wg_replay_init (NfltrWgReplay *replay)
{
  memset (replay, 0, sizeof *replay);
}

gboolean
nfltr_wg_replay_check (NfltrWgReplay *replay, guint64 counter)
{
  guint64 shifted, word, bit;

  if (counter >= NFLTR_WG_REJECT_AFTER_MESSAGES)
    return FALSE;
  shifted = counter + 1;

  /* Too far behind the greatest seen: outside the window. */
  if (shifted + NFLTR_WG_REPLAY_WINDOW_SIZE < replay->next)
    return FALSE;

  word = shifted / 64;
  if (shifted > replay->next)
    {
      /* Slide forward: clear the words between the old top and the new one (all of them at
       * most once, however far the jump). */
      guint64 current_word = replay->next / 64;
      guint64 to_clear = MIN (word - current_word, (guint64) WORDS);

      for (guint64 i = 1; i <= to_clear; i++)
        replay->bitmap[(current_word + i) % WORDS] = 0;
      replay->next = shifted;
    }

  bit = G_GUINT64_CONSTANT (1) << (shifted % 64);
  word %= WORDS;
  if (replay->bitmap[word] & bit)
    return FALSE;
  replay->bitmap[word] |= bit;
  return TRUE;
}
