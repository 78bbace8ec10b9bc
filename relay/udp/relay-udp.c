/* relay-udp.c — the relay's UDP port: STUN answered here, WireGuard handed on, the rest
 * dropped. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-udp.h"

#include <string.h>

#define STUN_BINDING_REQUEST  0x0001 /* RFC 5389 §18.1 */
#define STUN_BINDING_SUCCESS  0x0101
#define STUN_XOR_MAPPED       0x0020 /* RFC 5389 §15.2 */
#define STUN_MAPPED_ADDRESS   0x0001 /* RFC 5389 §15.1, RFC 3489 §11.2.1 */
#define STUN_SOFTWARE         0x8022 /* RFC 5389 §15.10 */
#define STUN_SOFTWARE_TEXT    "nfltr-relay"
/* RFC 5389 §15.5: ICE agents (libnice in RFC 5245 mode, RFC 8445 §5.1.2) drop a response on
 * their candidate's socket that has no FINGERPRINT — without it no server-reflexive candidate
 * is ever gathered (issue 13's NAT lab, tests/integration/test_p2p_nat.py). */
#define STUN_FINGERPRINT      0x8028
#define STUN_FINGERPRINT_XOR  0x5354554eu

struct _RelayUdp {
  GSocket         *socket;
  GSource         *source;
  guint16          port;
  RelayUdpHandler  wg_handler;
  gpointer         wg_data;
  guint64          counts[3];
};

RelayUdpKind
relay_udp_classify (const guint8 *data,
                    gsize         len)
{
  if (len >= RELAY_STUN_HEADER && (data[0] & 0xC0) == 0
      && GUINT32_FROM_BE (*(const guint32 *) (const void *) (data + 4)) == RELAY_STUN_MAGIC_COOKIE)
    return RELAY_UDP_STUN;
  /* issue 13 (labs): an RFC 3489 Binding request has no cookie — libnice sends its
   * server-reflexive discovery that way — so it is known by its type and exact length (a
   * WireGuard message never starts with 0). */
  if (len >= RELAY_STUN_HEADER && data[0] == 0 && data[1] == STUN_BINDING_REQUEST
      && (gsize) ((data[2] << 8) | data[3]) + RELAY_STUN_HEADER == len)
    return RELAY_UDP_STUN;
  if (len >= 4 && data[0] >= 1 && data[0] <= 4 && data[1] == 0 && data[2] == 0 && data[3] == 0)
    return RELAY_UDP_WIREGUARD;
  return RELAY_UDP_OTHER;
}

static void
put16 (guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

/* CRC-32 of ISO 3309 / ITU-T V.42 (the one of zlib and Ethernet), bit by bit: a STUN answer is
 * a few dozen bytes. */
static guint32
crc32_v42 (const guint8 *data, gsize len)
{
  guint32 crc = 0xffffffffu;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
  return ~crc;
}

gsize
relay_stun_answer (const guint8   *request,
                   gsize           len,
                   GSocketAddress *from,
                   guint8         *out)
{
  guint16 type, body;
  GInetAddress *ip;
  gsize ip_len, off;
  const guint8 *ip_bytes;
  guint16 port;
  guint8 family;
  const gsize software_len = strlen (STUN_SOFTWARE_TEXT);

  if (len < RELAY_STUN_HEADER || relay_udp_classify (request, len) != RELAY_UDP_STUN
      || !G_IS_INET_SOCKET_ADDRESS (from))
    return 0;
  type = (request[0] << 8) | request[1];
  body = (request[2] << 8) | request[3];
  /* §6: the length counts the attributes after the header, always a multiple of 4. */
  if (type != STUN_BINDING_REQUEST || body % 4 != 0 || (gsize) body + RELAY_STUN_HEADER != len)
    return 0;
  ip = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from));
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from));
  ip_len = g_inet_address_get_native_size (ip);
  ip_bytes = g_inet_address_to_bytes (ip);
  family = ip_len == 4 ? 0x01 : 0x02;

  if (GUINT32_FROM_BE (*(const guint32 *) (const void *) (request + 4)) != RELAY_STUN_MAGIC_COOKIE)
    {
      /* issue 13 (labs): RFC 3489 §11.2.1 (RFC 5389 §12.2): the address in clear as
       * MAPPED-ADDRESS, IPv4 only, and nothing a classic client does not know. */
      if (ip_len != 4)
        return 0;
      put16 (out, STUN_BINDING_SUCCESS);
      put16 (out + 2, 12);
      memcpy (out + 4, request + 4, 16);
      put16 (out + 20, STUN_MAPPED_ADDRESS);
      put16 (out + 22, 8);
      out[24] = 0;
      out[25] = family;
      put16 (out + 26, port);
      memcpy (out + 28, ip_bytes, 4);
      return 32;
    }

  /* header: Binding success, the request's cookie and transaction id */
  put16 (out, STUN_BINDING_SUCCESS);
  memcpy (out + 4, request + 4, 16);
  off = RELAY_STUN_HEADER;
  /* §15.2: XOR-MAPPED-ADDRESS — port XOR the cookie's top half, address XOR cookie | id */
  put16 (out + off, STUN_XOR_MAPPED);
  put16 (out + off + 2, 4 + ip_len);
  out[off + 4] = 0;
  out[off + 5] = family;
  put16 (out + off + 6, port ^ (RELAY_STUN_MAGIC_COOKIE >> 16));
  for (gsize i = 0; i < ip_len; i++)
    out[off + 8 + i] = ip_bytes[i] ^ request[4 + i];
  off += 8 + ip_len;
  /* §15.10: SOFTWARE, padded to 4 */
  put16 (out + off, STUN_SOFTWARE);
  put16 (out + off + 2, software_len);
  memset (out + off + 4, 0, (software_len + 3) & ~3u);
  memcpy (out + off + 4, STUN_SOFTWARE_TEXT, software_len);
  off += 4 + ((software_len + 3) & ~3u);
  /* §15.5: FINGERPRINT last; its CRC covers the message with the length already counting it */
  put16 (out + 2, off + 8 - RELAY_STUN_HEADER);
  put16 (out + off, STUN_FINGERPRINT);
  put16 (out + off + 2, 4);
  {
    guint32 fp = crc32_v42 (out, off) ^ STUN_FINGERPRINT_XOR;

    out[off + 4] = fp >> 24;
    out[off + 5] = (fp >> 16) & 0xff;
    out[off + 6] = (fp >> 8) & 0xff;
    out[off + 7] = fp & 0xff;
  }
  off += 8;
  return off;
}

static gboolean
readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  RelayUdp *udp = user_data;

  /* A bounded number per wakeup, so a flood cannot starve the main loop. */
  for (int i = 0; i < 64; i++)
    {
      guint8 buf[2048], out[RELAY_STUN_MAX];
      g_autoptr(GSocketAddress) from = NULL;
      gssize n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL);
      RelayUdpKind kind;

      if (n < 0)
        break;
      kind = relay_udp_classify (buf, n);
      udp->counts[kind]++;
      switch (kind)
        {
          case RELAY_UDP_STUN:
            {
              gsize len = relay_stun_answer (buf, n, from, out);

              if (len > 0)
                g_socket_send_to (socket, from, (const char *) out, len, NULL, NULL);
              break;
            }
          case RELAY_UDP_WIREGUARD:
            if (udp->wg_handler != NULL)
              udp->wg_handler (udp, buf, n, from, udp->wg_data);
            break;
          case RELAY_UDP_OTHER:
          default: break;
        }
    }
  return G_SOURCE_CONTINUE;
}

RelayUdp *
relay_udp_new (GInetSocketAddress *address, GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  RelayUdp *udp;

  socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (address)), G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL || !g_socket_bind (socket, G_SOCKET_ADDRESS (address), TRUE, error))
    return NULL;
  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  udp = g_new0 (RelayUdp, 1);
  udp->socket = g_steal_pointer (&socket);
  udp->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  udp->source = g_socket_create_source (udp->socket, G_IO_IN, NULL);
  g_source_set_callback (udp->source, (GSourceFunc) (GCallback) readable_cb, udp, NULL);
  g_source_attach (udp->source, g_main_context_get_thread_default ());
  return udp;
}

void
relay_udp_free (RelayUdp *udp)
{
  if (udp == NULL)
    return;
  g_source_destroy (udp->source);
  g_source_unref (udp->source);
  g_socket_close (udp->socket, NULL);
  g_object_unref (udp->socket);
  g_free (udp);
}

guint16
relay_udp_get_port (RelayUdp *udp)
{
  return udp->port;
}

GSocket *
relay_udp_get_socket (RelayUdp *udp)
{
  return udp->socket;
}

void
relay_udp_set_wg_handler (RelayUdp        *udp,
                          RelayUdpHandler  handler,
                          gpointer         user_data)
{
  udp->wg_handler = handler;
  udp->wg_data = user_data;
}

guint64
relay_udp_get_count (RelayUdp     *udp,
                     RelayUdpKind  kind)
{
  return udp->counts[kind];
}
