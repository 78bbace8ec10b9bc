/* fuzz-p2p-session.c — the P2P session's parsers (service/p2p/session/, audit/;
 * docs/protocol.md §9.4–9.6): the record framing of the byte stream a peer or the relay
 * sends, and behind valid records the mux frames and audit commitments.
 *
 * The input is used twice: as raw wire bytes into a session (records that do not
 * authenticate), and cut into pieces (a 2-byte length before each) that a sender with the
 * same keys seals, so the mux and commitment parsers see arbitrary plaintext. */
#include "nfltr-p2p-session.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fixed_keys (NfltrP2pKeys *keys)
{
  memset (keys, 0x11, sizeof *keys);
  keys->b_to_a_enc[0] = 0x22;
  keys->b_to_a_mac[0] = 0x22;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  NfltrP2pKeys keys;
  NfltrP2pRecordDir sender;
  g_autoptr(NfltrP2pSession) raw = NULL;
  g_autoptr(NfltrP2pSession) sealed = NULL;
  g_autoptr(GByteArray) wire = g_byte_array_new ();
  gsize off = 0;

  fixed_keys (&keys);
  raw = nfltr_p2p_session_new (NFLTR_P2P_ROLE_B, &keys, NULL, NULL);
  /* in two splits, as a transport would deliver them */
  nfltr_p2p_session_push (raw, data, size / 2, NULL);
  nfltr_p2p_session_push (raw, data + size / 2, size - size / 2, NULL);
  g_assert (nfltr_p2p_audit_chain_get_count (nfltr_p2p_session_get_chain (raw, NFLTR_P2P_DIR_A_TO_B)) <=
            size / NFLTR_P2P_RECORD_OVERHEAD);

  sealed = nfltr_p2p_session_new (NFLTR_P2P_ROLE_B, &keys, NULL, NULL);
  nfltr_p2p_record_dir_init (&sender, keys.a_to_b_enc, keys.a_to_b_mac);
  while (off + 2 <= size)
    {
      gsize len = (gsize) data[off] << 8 | data[off + 1];

      off += 2;
      len = MIN (len, size - off);
      g_assert (nfltr_p2p_record_seal (&sender, data + off, len, wire, NULL));
      off += len;
    }
  nfltr_p2p_session_push (sealed, wire->data, wire->len, NULL);
  /* whatever the peer sent, this side can still try to answer without crashing */
  g_byte_array_set_size (wire, 0);
  nfltr_p2p_session_commit (sealed);
  nfltr_p2p_session_pull (sealed, wire, G_MAXSIZE, NULL);
  nfltr_p2p_record_dir_clear (&sender);
  return 0;
}
