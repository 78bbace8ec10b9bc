/* nfltr-p2p-code.c — pairing codes (docs/protocol.md §9.1).
 *
 * The word list is NFLTR's own (written for this project, same licence as the code): 256
 * common English words of 3 to 9 letters, no two alike, sorted so a lookup is a binary
 * search. Changing it changes every code, so it is part of the protocol: never reorder it. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-code.h"
#include "nfltr-p2p-error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char * const words[NFLTR_P2P_CODE_LIST_SIZE] = {
  "acorn",   "actor",    "adobe",   "agent",    "album",   "alpha",     "amber",   "anchor",  "angle",
  "ankle",   "apple",    "apron",   "arena",    "arrow",   "aspen",     "atlas",   "attic",   "autumn",
  "avenue",  "badge",    "bagel",   "bakery",   "bamboo",  "banjo",     "barley",  "basil",   "basket",
  "beacon",  "beaver",   "bench",   "berry",    "bison",   "blanket",   "blossom", "bonnet",  "border",
  "bottle",  "bramble",  "breeze",  "brick",    "bridge",  "brook",     "bucket",  "buffalo", "bugle",
  "butter",  "cabin",    "cactus",  "camel",    "canal",   "candle",    "canoe",   "canyon",  "carbon",
  "carpet",  "carrot",   "castle",  "cedar",    "cello",   "chalk",     "cherry",  "chess",   "chimney",
  "cider",   "circus",   "citrus",  "clover",   "cobalt",  "cocoa",     "comet",   "copper",  "coral",
  "cotton",  "cradle",   "crater",  "cricket",  "crystal", "cupboard",  "daisy",   "dancer",  "delta",
  "desert",  "dolphin",  "domino",  "donkey",   "dragon",  "drum",      "eagle",   "easel",   "ember",
  "engine",  "falcon",   "feather", "fennel",   "ferry",   "fiddle",    "finch",   "flannel", "flute",
  "fossil",  "fountain", "fox",     "galaxy",   "garden",  "garlic",    "gecko",   "ginger",  "glacier",
  "goblet",  "granite",  "grape",   "gravel",   "guitar",  "hammer",    "harbor",  "harvest", "hazel",
  "helmet",  "heron",    "hickory", "honey",    "hornet",  "igloo",     "island",  "ivory",   "jacket",
  "jasmine", "jelly",    "jigsaw",  "jungle",   "kayak",   "kernel",    "kettle",  "kitten",  "koala",
  "ladder",  "lagoon",   "lantern", "lemon",    "lentil",  "lilac",     "lizard",  "lobster", "locket",
  "lotus",   "magnet",   "mango",   "maple",    "marble",  "meadow",    "melon",   "meteor",  "mint",
  "mitten",  "monkey",   "mosaic",  "muffin",   "mural",   "nectar",    "needle",  "nickel",  "noodle",
  "nutmeg",  "oasis",    "ocean",   "olive",    "onion",   "orbit",     "orchid",  "otter",   "oyster",
  "paddle",  "panda",    "paper",   "parrot",   "peach",   "pebble",    "pepper",  "piano",   "pickle",
  "pigeon",  "pillow",   "pine",    "planet",   "plum",    "pocket",    "pony",    "poppy",   "potato",
  "pretzel", "pumpkin",  "puzzle",  "quartz",   "quill",   "rabbit",    "radish",  "raven",   "ribbon",
  "river",   "robin",    "rocket",  "saddle",   "saffron", "salmon",    "satin",   "scarf",   "sequoia",
  "sesame",  "shadow",   "silver",  "sketch",   "sparrow", "spider",    "spinach", "sponge",  "squash",
  "statue",  "summit",   "sunset",  "swan",     "tablet",  "tangerine", "teapot",  "thimble", "thistle",
  "thunder", "tiger",    "timber",  "toast",    "tomato",  "topaz",     "tractor", "trumpet", "tulip",
  "tundra",  "turnip",   "turtle",  "umbrella", "valley",  "velvet",    "violet",  "violin",  "walnut",
  "walrus",  "wasabi",   "whale",   "wheat",    "willow",  "window",    "winter",  "wizard",  "wombat",
  "yogurt",  "zebra",    "zephyr",  "zinnia",
};

const char *
nfltr_p2p_code_word (guint index)
{
  g_return_val_if_fail (index < NFLTR_P2P_CODE_LIST_SIZE, NULL);
  return words[index];
}

int
nfltr_p2p_code_word_index (const char *word,
                           gsize       len)
{
  int lo = 0, hi = NFLTR_P2P_CODE_LIST_SIZE - 1;

  while (lo <= hi)
    {
      int mid = (lo + hi) / 2;
      int c = strncmp (words[mid], word, len);

      if (c == 0 && words[mid][len] != '\0')
        c = 1;
      if (c == 0)
        return mid;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid - 1;
    }
  return -1;
}

char *
nfltr_p2p_code_generate (guint number,
                         guint n_words)
{
  GString *code;

  g_return_val_if_fail (number >= 1 && number <= NFLTR_P2P_CODE_MAX_NUMBER, NULL);
  g_return_val_if_fail (n_words >= NFLTR_P2P_CODE_MIN_WORDS && n_words <= NFLTR_P2P_CODE_MAX_WORDS, NULL);
  if (sodium_init () < 0)
    g_error ("libsodium cannot initialise");
  code = g_string_new (NULL);
  g_string_append_printf (code, "%u", number);
  for (guint i = 0; i < n_words; i++)
    g_string_append_printf (code, "-%s", words[randombytes_uniform (NFLTR_P2P_CODE_LIST_SIZE)]);
  return g_string_free (code, FALSE);
}

static gboolean
is_separator (char c)
{
  return c == '-' || c == ' ' || c == '\t';
}

gboolean
nfltr_p2p_code_parse (const char *text,
                      guint      *number,
                      char      **normalized,
                      GError    **error)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *lower = NULL;
  const char *p;
  guint64 n = 0;
  guint n_words = 0;

  g_return_val_if_fail (text != NULL, FALSE);
  lower = g_ascii_strdown (text, -1);
  p = lower;
  while (g_ascii_isspace (*p))
    p++;
  if (!g_ascii_isdigit (*p))
    goto bad;
  while (g_ascii_isdigit (*p))
    {
      n = n * 10 + (guint64) (*p - '0');
      if (n > NFLTR_P2P_CODE_MAX_NUMBER)
        goto bad;
      p++;
    }
  if (n == 0)
    goto bad;
  g_string_append_printf (out, "%u", (guint) n);
  for (;;)
    {
      const char *start;
      int index;

      if (!is_separator (*p))
        break;
      while (is_separator (*p))
        p++;
      if (*p == '\0')
        break;
      start = p;
      while (g_ascii_isalpha (*p))
        p++;
      index = nfltr_p2p_code_word_index (start, p - start);
      if (p == start || index < 0 || ++n_words > NFLTR_P2P_CODE_MAX_WORDS)
        goto bad;
      g_string_append_printf (out, "-%s", words[index]);
    }
  while (g_ascii_isspace (*p))
    p++;
  if (*p != '\0' || n_words < NFLTR_P2P_CODE_MIN_WORDS)
    goto bad;
  if (number != NULL)
    *number = (guint) n;
  if (normalized != NULL)
    *normalized = g_string_free (g_steal_pointer (&out), FALSE);
  return TRUE;

bad:
  g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_BAD_CODE,
               "“%s” is not a pairing code: a code is a number and %d or %d words, like 7-lantern-otter-quartz",
               text, NFLTR_P2P_CODE_MIN_WORDS, NFLTR_P2P_CODE_MAX_WORDS);
  return FALSE;
}
