/* relay-wg-classify.c — the outer WireGuard header, read and nothing more (relay-wg-classify.h). */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-wg-classify.h"

#include <string.h>

#include "nfltr-wg-cookie.h"
#include "nfltr-wg-crypto.h"
#include "nfltr-wg-messages.h"

gboolean
relay_wg_classify (const guint8 *datagram, gsize len, RelayWgHeader *header)
{
  NfltrWgMessageType type = nfltr_wg_message_classify (datagram, len);

  header->type = (guint8) type;
  header->sender = 0;
  header->receiver = 0;
  switch (type)
    {
      case NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION:
        header->sender = nfltr_wg_get_le32 (((const NfltrWgMessageInitiation *) datagram)->sender_index);
        return TRUE;
      case NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE:
        header->sender = nfltr_wg_get_le32 (((const NfltrWgMessageResponse *) datagram)->sender_index);
        header->receiver = nfltr_wg_get_le32 (((const NfltrWgMessageResponse *) datagram)->receiver_index);
        return TRUE;
      case NFLTR_WG_MESSAGE_HANDSHAKE_COOKIE:
        header->receiver = nfltr_wg_get_le32 (((const NfltrWgMessageCookie *) datagram)->receiver_index);
        return TRUE;
      case NFLTR_WG_MESSAGE_DATA:
        header->receiver = nfltr_wg_get_le32 (((const NfltrWgMessageDataHeader *) datagram)->receiver_index);
        return TRUE;
      case NFLTR_WG_MESSAGE_INVALID:
      default: return FALSE;
    }
}

void
relay_wg_mac1_key (const guint8 public_key[RELAY_WG_KEY_LEN], guint8 mac1_key[RELAY_WG_KEY_LEN])
{
  nfltr_wg_hash (mac1_key, (const guint8 *) NFLTR_WG_LABEL_MAC1, strlen (NFLTR_WG_LABEL_MAC1), public_key,
                 RELAY_WG_KEY_LEN);
}

gboolean
relay_wg_mac1_matches (const guint8 *datagram, gsize len, const guint8 mac1_key[RELAY_WG_KEY_LEN])
{
  NfltrWgMessageType type = nfltr_wg_message_classify (datagram, len);
  guint8 computed[NFLTR_WG_MAC_LEN];
  gsize offset;

  if (type != NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION && type != NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE)
    return FALSE;
  offset = nfltr_wg_message_mac1_offset (type);
  nfltr_wg_mac (computed, mac1_key, RELAY_WG_KEY_LEN, datagram, offset);
  return nfltr_wg_equal (computed, datagram + offset, NFLTR_WG_MAC_LEN);
}
