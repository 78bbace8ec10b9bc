/* fuzz-relay-wg.c — what the relay reads of a WireGuard datagram from anyone on the internet
 * (relay/wg/relay-wg-classify.h): the outer header and, for handshake messages, whether mac1
 * names a member's key. The seeds (fuzz/corpus/relay-wg) are the four messages made with the
 * test vectors' keys; the key below is the vectors' responder, so an initiation seed matches
 * and the comparison runs to its end. */
#include "wg/relay-wg-classify.h"
#include "nfltr-wg-device.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const guint8 zero[RELAY_WG_KEY_LEN] = { 0 };
  guint8 private_key[RELAY_WG_KEY_LEN], responder[RELAY_WG_KEY_LEN], mac1_key[RELAY_WG_KEY_LEN];
  RelayWgHeader header;

  /* tests/unit/wg/gen-wg-vectors.py's responder (as fuzz-wg-messages.c) */
  for (guint i = 0; i < RELAY_WG_KEY_LEN; i++)
    private_key[i] = (guint8) (i * 11 + 3);
  nfltr_wg_public_key (private_key, responder);
  if (relay_wg_classify (data, size, &header))
    {
      g_assert (header.type >= 1 && header.type <= 4);
      relay_wg_mac1_key (responder, mac1_key);
      (void) relay_wg_mac1_matches (data, size, mac1_key);
      relay_wg_mac1_key (zero, mac1_key);
      (void) relay_wg_mac1_matches (data, size, mac1_key);
    }
  else
    g_assert (header.type == 0);
  return 0;
}
