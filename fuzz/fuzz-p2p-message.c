/* fuzz-p2p-message.c — the P2P pairing messages (service/p2p/session/nfltr-p2p-message.c,
 * docs/protocol.md §9.2): what the relay or a stranger sends an agent before any key exists.
 * Whatever decodes must encode back to the same bytes; then the same bytes go to a fresh
 * handshake on each side, which must refuse or take them without crashing. */
#include "nfltr-p2p-handshake.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  NfltrP2pMessage msg;
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);

  if (nfltr_p2p_message_decode (data, size, &msg, NULL))
    {
      g_autoptr(GBytes) again = nfltr_p2p_message_encode (&msg);

      g_assert (again != NULL);
      g_assert (g_bytes_equal (again, bytes));
      nfltr_p2p_message_clear (&msg);
    }
  for (int role = NFLTR_P2P_ROLE_A; role <= NFLTR_P2P_ROLE_B; role++)
    {
      g_autoptr(NfltrP2pHandshake) hs = nfltr_p2p_handshake_new (role, "7-lantern-otter-quartz", NULL);
      g_autoptr(GBytes) first = NULL;
      g_autoptr(GBytes) reply = NULL;

      if (role == NFLTR_P2P_ROLE_A)
        first = nfltr_p2p_handshake_start (hs, NULL);
      nfltr_p2p_handshake_receive (hs, bytes, &reply, NULL, NULL);
    }
  return 0;
}
