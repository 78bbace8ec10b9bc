/* nfltr-random-name.c — the names a tunnel gets when the user gives none */
#define G_LOG_DOMAIN "nfltr-manager"

#include "nfltr-random-name.h"

#include <gnutls/crypto.h>
#include <sys/random.h>

static const char *adjectives[] = {
  "amber", "brave", "calm", "clever", "cosmic", "eager", "fancy", "gentle", "happy", "jolly",
  "lively", "lucky", "mellow", "nimble", "proud", "quiet", "rapid", "shiny", "sunny", "swift",
  "tidy", "vivid", "witty", "zesty",
};
static const char *nouns[] = {
  "badger", "comet", "falcon", "fern", "harbor", "heron", "koala", "lagoon", "maple", "meadow",
  "otter", "panda", "pebble", "quokka", "raven", "river", "robin", "spruce", "tiger", "walrus",
  "willow", "wombat", "yak", "zebra",
};

/* docs/protocol.md §6: a relay reserves every name for the credential that bound it, so a
 * random name must not be one anybody else could have had or can guess: 50 bits from the
 * CSPRNG in the suffix (10 base32 letters), the words only for reading. */
#define RANDOM_NAME_SUFFIX_CHARS 10

static void
random_bytes (guint8 *buf, gsize len)
{
  if (gnutls_rnd (GNUTLS_RND_RANDOM, buf, len) == 0)
    return;
  if (getrandom (buf, len, 0) == (gssize) len)
    return;
  /* Never a guessable name: without random bytes the service cannot work safely at all. */
  g_error ("no random bytes from GnuTLS or getrandom(2) for a tunnel name");
}

char *
nfltr_random_tunnel_name (void)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  guint8 raw[2 + 2 + 8];
  guint64 bits = 0;
  char suffix[RANDOM_NAME_SUFFIX_CHARS + 1];

  random_bytes (raw, sizeof raw);
  for (guint i = 0; i < 8; i++)
    bits = (bits << 8) | raw[4 + i];
  for (guint i = 0; i < RANDOM_NAME_SUFFIX_CHARS; i++, bits >>= 5)
    suffix[i] = alphabet[bits & 31];
  suffix[RANDOM_NAME_SUFFIX_CHARS] = '\0';
  return g_strdup_printf ("%s-%s-%s", adjectives[((raw[0] << 8) | raw[1]) % G_N_ELEMENTS (adjectives)],
                          nouns[((raw[2] << 8) | raw[3]) % G_N_ELEMENTS (nouns)], suffix);
}
