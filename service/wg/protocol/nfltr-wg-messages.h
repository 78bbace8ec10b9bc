/* nfltr-wg-messages.h — the four WireGuard messages on the wire (paper §5.4.2–§5.4.7,
 * docs/wireguard.md "Message formats"), one struct per message as they appear in the
 * datagram, and the parser that checks a datagram's type and exact length before anything
 * reads it. Integers on the wire are little-endian. */
#pragma once

#include "nfltr-wg-crypto.h"

G_BEGIN_DECLS

typedef enum {
  NFLTR_WG_MESSAGE_INVALID = 0,
  NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION = 1,
  NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE = 2,
  NFLTR_WG_MESSAGE_HANDSHAKE_COOKIE = 3,
  NFLTR_WG_MESSAGE_DATA = 4,
} NfltrWgMessageType;

/* The common header: type, then three reserved zero bytes. */
typedef struct {
  guint8 type;
  guint8 reserved[3];
} NfltrWgMessageHeader;

typedef struct {
  guint8 mac1[NFLTR_WG_MAC_LEN];
  guint8 mac2[NFLTR_WG_MAC_LEN];
} NfltrWgMacs;

/* §5.4.2 first message: 148 bytes. */
typedef struct {
  NfltrWgMessageHeader header;
  guint8 sender_index[4];
  guint8 unencrypted_ephemeral[NFLTR_WG_KEY_SIZE];
  guint8 encrypted_static[NFLTR_WG_KEY_SIZE + NFLTR_WG_AEAD_TAG_LEN];
  guint8 encrypted_timestamp[NFLTR_WG_TAI64N_LEN + NFLTR_WG_AEAD_TAG_LEN];
  NfltrWgMacs macs;
} NfltrWgMessageInitiation;

/* §5.4.3 second message: 92 bytes. */
typedef struct {
  NfltrWgMessageHeader header;
  guint8 sender_index[4];
  guint8 receiver_index[4];
  guint8 unencrypted_ephemeral[NFLTR_WG_KEY_SIZE];
  guint8 encrypted_nothing[NFLTR_WG_AEAD_TAG_LEN];
  NfltrWgMacs macs;
} NfltrWgMessageResponse;

/* §5.4.7 cookie reply: 64 bytes. */
typedef struct {
  NfltrWgMessageHeader header;
  guint8 receiver_index[4];
  guint8 nonce[NFLTR_WG_XNONCE_LEN];
  guint8 encrypted_cookie[NFLTR_WG_MAC_LEN + NFLTR_WG_AEAD_TAG_LEN];
} NfltrWgMessageCookie;

/* §5.4.6 transport data: 16 bytes of header, then the encrypted packet (at least its tag). */
typedef struct {
  NfltrWgMessageHeader header;
  guint8 receiver_index[4];
  guint8 counter[8];
} NfltrWgMessageDataHeader;

#define NFLTR_WG_MESSAGE_INITIATION_LEN 148
#define NFLTR_WG_MESSAGE_RESPONSE_LEN 92
#define NFLTR_WG_MESSAGE_COOKIE_LEN 64
#define NFLTR_WG_MESSAGE_DATA_HEADER_LEN 16
#define NFLTR_WG_MESSAGE_DATA_MIN_LEN (NFLTR_WG_MESSAGE_DATA_HEADER_LEN + NFLTR_WG_AEAD_TAG_LEN)
/* §5.4.6: the plaintext is padded to a multiple of 16 bytes. */
#define NFLTR_WG_MESSAGE_PADDING_MULTIPLE 16

G_STATIC_ASSERT (sizeof (NfltrWgMessageInitiation) == NFLTR_WG_MESSAGE_INITIATION_LEN);
G_STATIC_ASSERT (sizeof (NfltrWgMessageResponse) == NFLTR_WG_MESSAGE_RESPONSE_LEN);
G_STATIC_ASSERT (sizeof (NfltrWgMessageCookie) == NFLTR_WG_MESSAGE_COOKIE_LEN);
G_STATIC_ASSERT (sizeof (NfltrWgMessageDataHeader) == NFLTR_WG_MESSAGE_DATA_HEADER_LEN);

/* The type of a datagram if its header is well formed (reserved bytes zero) and its length
 * is exactly that type's (at least the minimum for data), else NFLTR_WG_MESSAGE_INVALID. */
NfltrWgMessageType nfltr_wg_message_classify (const guint8 *datagram, gsize len);

/* Offsets of mac1 and mac2 inside a handshake message (the MACs cover everything before). */
gsize nfltr_wg_message_mac1_offset (NfltrWgMessageType type);

static inline guint32
nfltr_wg_get_le32 (const guint8 b[4])
{
  return (guint32) b[0] | ((guint32) b[1] << 8) | ((guint32) b[2] << 16) | ((guint32) b[3] << 24);
}

static inline void
nfltr_wg_put_le32 (guint8 b[4], guint32 v)
{
  for (guint i = 0; i < 4; i++)
    b[i] = (guint8) (v >> (8 * i));
}

static inline guint64
nfltr_wg_get_le64 (const guint8 b[8])
{
  return (guint64) nfltr_wg_get_le32 (b) | ((guint64) nfltr_wg_get_le32 (b + 4) << 32);
}

static inline void
nfltr_wg_put_le64 (guint8 b[8], guint64 v)
{
  for (guint i = 0; i < 8; i++)
    b[i] = (guint8) (v >> (8 * i));
}

/* The length a plaintext of len bytes is padded to (§5.4.6), never above mtu unless len is. */
gsize nfltr_wg_padded_len (gsize len, gsize mtu);

/* The inner IP packet's own length from its header (IPv4 total length, IPv6 40 + payload
 * length), or 0 if packet is not a well-formed IPv4/IPv6 header or claims more than len. A
 * keepalive (len 0) gives 0 too. */
gsize nfltr_wg_inner_packet_len (const guint8 *packet, gsize len);

/* The inner packet's source (for the allowed-IPs check) or destination (for routing):
 * family 4 or 6 and the address bytes; FALSE if packet is not IPv4/IPv6. */
gboolean nfltr_wg_inner_address (const guint8 *packet, gsize len, gboolean source, guint *family, guint8 addr[16]);

G_END_DECLS
