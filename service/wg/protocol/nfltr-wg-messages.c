/* nfltr-wg-messages.c — validating datagrams and inner packets before anyone reads them. */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-wg-messages.h"

#include <stddef.h>
#include <string.h>

NfltrWgMessageType
nfltr_wg_message_classify (const guint8 *datagram, gsize len)
{
  if (len < sizeof (NfltrWgMessageHeader))
    return NFLTR_WG_MESSAGE_INVALID;
  if (datagram[1] != 0 || datagram[2] != 0 || datagram[3] != 0)
    return NFLTR_WG_MESSAGE_INVALID;

  /* One exact size per handshake message, as WireGuard's validate_header_len (). */
  switch (datagram[0])
    {
      case NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION:
        return len == NFLTR_WG_MESSAGE_INITIATION_LEN ? NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION
                                                      : NFLTR_WG_MESSAGE_INVALID;
      case NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE:
        return len == NFLTR_WG_MESSAGE_RESPONSE_LEN ? NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE
                                                    : NFLTR_WG_MESSAGE_INVALID;
      case NFLTR_WG_MESSAGE_HANDSHAKE_COOKIE:
        return len == NFLTR_WG_MESSAGE_COOKIE_LEN ? NFLTR_WG_MESSAGE_HANDSHAKE_COOKIE
                                                  : NFLTR_WG_MESSAGE_INVALID;
      case NFLTR_WG_MESSAGE_DATA:
        return len >= NFLTR_WG_MESSAGE_DATA_MIN_LEN ? NFLTR_WG_MESSAGE_DATA : NFLTR_WG_MESSAGE_INVALID;
      default: return NFLTR_WG_MESSAGE_INVALID;
    }
}

gsize
nfltr_wg_message_mac1_offset (NfltrWgMessageType type)
{
  switch (type)
    {
      case NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION: return offsetof (NfltrWgMessageInitiation, macs);
      case NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE: return offsetof (NfltrWgMessageResponse, macs);
      case NFLTR_WG_MESSAGE_INVALID:
      case NFLTR_WG_MESSAGE_HANDSHAKE_COOKIE:
      case NFLTR_WG_MESSAGE_DATA:
      default: g_return_val_if_reached (0);
    }
}

gsize
nfltr_wg_padded_len (gsize len, gsize mtu)
{
  gsize padded =
    (len + NFLTR_WG_MESSAGE_PADDING_MULTIPLE - 1) & ~(gsize) (NFLTR_WG_MESSAGE_PADDING_MULTIPLE - 1);

  /* §5.4.6: padding never takes a packet past the MTU (the kernel's calculate_skb_padding). */
  if (len > mtu)
    return len;
  return MIN (padded, mtu);
}

gsize
nfltr_wg_inner_packet_len (const guint8 *packet, gsize len)
{
  gsize claimed;

  if (len < 1)
    return 0;
  switch (packet[0] >> 4)
    {
      case 4:
        if (len < 20 || (packet[0] & 0x0f) < 5)
          return 0;
        claimed = ((gsize) packet[2] << 8) | packet[3];
        if (claimed < (gsize) (packet[0] & 0x0f) * 4)
          return 0;
        break;
      case 6:
        if (len < 40)
          return 0;
        claimed = 40 + (((gsize) packet[4] << 8) | packet[5]);
        break;
      default: return 0;
    }
  return claimed <= len ? claimed : 0;
}

gboolean
nfltr_wg_inner_address (const guint8 *packet, gsize len, gboolean source, guint *family, guint8 addr[16])
{
  if (len < 1)
    return FALSE;
  switch (packet[0] >> 4)
    {
      case 4:
        if (len < 20)
          return FALSE;
        *family = 4;
        memcpy (addr, packet + (source ? 12 : 16), 4);
        return TRUE;
      case 6:
        if (len < 40)
          return FALSE;
        *family = 6;
        memcpy (addr, packet + (source ? 8 : 24), 16);
        return TRUE;
      default: return FALSE;
    }
}
