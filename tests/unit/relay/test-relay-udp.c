/* test-relay-udp.c — the relay's UDP port: a STUN Binding request gets the sender's own
 * address back (RFC 5389 §15.2, XOR-MAPPED-ADDRESS), WireGuard-shaped and other datagrams get
 * no answer and are counted by kind. */
#include "udp/relay-udp.h"

#include <string.h>

typedef struct {
  RelayUdp *udp;
  GSocket  *client;
  GSocketAddress *server;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GError) error = NULL;

  f->udp = relay_udp_new (G_INET_SOCKET_ADDRESS (any), &error);
  g_assert_no_error (error);
  f->server = g_inet_socket_address_new (lo, relay_udp_get_port (f->udp));
  f->client = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (f->client, any, FALSE, &error));
  g_socket_set_timeout (f->client, 5);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  relay_udp_free (f->udp);
  g_object_unref (f->client);
  g_object_unref (f->server);
}

static void
binding_request (guint8 req[20], guint8 txid_byte)
{
  memset (req, 0, 20);
  req[1] = 0x01; /* Binding */
  req[4] = 0x21;
  req[5] = 0x12;
  req[6] = 0xA4;
  req[7] = 0x42;
  memset (req + 8, txid_byte, 12);
}

/* Runs the relay's side until the client has a datagram or the loop gave up. */
static gssize
receive (Fixture *f, guint8 *buf, gsize size)
{
  for (int i = 0; i < 200; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (g_socket_condition_check (f->client, G_IO_IN) & G_IO_IN)
        return g_socket_receive (f->client, (char *) buf, size, NULL, NULL);
      g_usleep (5000);
    }
  return -1;
}

/* CRC-32 (zlib's), for checking FINGERPRINT (RFC 5389 §15.5) independently of the relay. */
static guint32
crc32_ref (const guint8 *p, gsize n)
{
  guint32 table[256], c = 0xffffffffu;

  for (guint32 i = 0; i < 256; i++)
    {
      guint32 v = i;

      for (int k = 0; k < 8; k++)
        v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
      table[i] = v;
    }
  for (gsize i = 0; i < n; i++)
    c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

static void
test_stun_binding (Fixture *f, gconstpointer data)
{
  guint8 req[20], resp[600];
  g_autoptr(GSocketAddress) mine = g_socket_get_local_address (f->client, NULL);
  guint16 my_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (mine));
  gssize n;
  gsize off = 20;
  gboolean found = FALSE, fingerprint = FALSE;

  binding_request (req, 0x5a);
  g_assert_cmpint (g_socket_send_to (f->client, f->server, (const char *) req, sizeof req, NULL, NULL), ==, 20);
  n = receive (f, resp, sizeof resp);
  g_assert_cmpint (n, >=, 32);
  g_assert_cmpuint ((resp[0] << 8) | resp[1], ==, 0x0101);     /* Binding success */
  g_assert_cmpuint ((resp[2] << 8) | resp[3], ==, n - 20);
  g_assert_cmpmem (resp + 4, 16, req + 4, 16);                 /* cookie and transaction id */
  while (off + 4 <= (gsize) n)
    {
      guint16 type = (resp[off] << 8) | resp[off + 1];
      guint16 len = (resp[off + 2] << 8) | resp[off + 3];

      if (type == 0x0020)
        {
          guint16 port = ((resp[off + 6] << 8) | resp[off + 7]) ^ 0x2112;
          guint8 ip[4];

          for (int i = 0; i < 4; i++)
            ip[i] = resp[off + 8 + i] ^ req[4 + i];
          g_assert_cmpuint (resp[off + 5], ==, 0x01);
          g_assert_cmpuint (port, ==, my_port);
          g_assert_cmpuint (ip[0], ==, 127);
          g_assert_cmpuint (ip[3], ==, 1);
          found = TRUE;
        }
      if (type == 0x8028)
        {
          guint32 want = crc32_ref (resp, off) ^ 0x5354554eu;

          /* issue 13 (labs): FINGERPRINT last, or libnice ignores the answer */
          g_assert_cmpuint (len, ==, 4);
          g_assert_cmpuint (off + 8, ==, (gsize) n);
          g_assert_cmpuint (((guint32) resp[off + 4] << 24) | (resp[off + 5] << 16) | (resp[off + 6] << 8) |
                              resp[off + 7],
                            ==, want);
          fingerprint = TRUE;
        }
      off += 4 + ((len + 3) & ~3u);
    }
  g_assert_true (found);
  g_assert_true (fingerprint);
  g_assert_cmpuint (relay_udp_get_count (f->udp, RELAY_UDP_STUN), ==, 1);
}

/* issue 13 (labs): libnice's server-reflexive discovery sends RFC 3489 requests (no magic
 * cookie, a 16-byte transaction id): answered with MAPPED-ADDRESS in clear. */
static void
test_stun_classic_binding (Fixture *f, gconstpointer data)
{
  guint8 req[20], resp[600];
  g_autoptr(GSocketAddress) mine = g_socket_get_local_address (f->client, NULL);
  guint16 my_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (mine));
  gssize n;

  memset (req, 0, sizeof req);
  req[1] = 0x01;
  memcpy (req + 4, "\x67\x46\x5a\xf3 sixteen-ish", 16);
  g_assert_cmpint (relay_udp_classify (req, sizeof req), ==, RELAY_UDP_STUN);
  g_assert_cmpint (g_socket_send_to (f->client, f->server, (const char *) req, sizeof req, NULL, NULL), ==, 20);
  n = receive (f, resp, sizeof resp);
  g_assert_cmpint (n, ==, 32);
  g_assert_cmpuint ((resp[0] << 8) | resp[1], ==, 0x0101);
  g_assert_cmpuint ((resp[2] << 8) | resp[3], ==, 12);
  g_assert_cmpmem (resp + 4, 16, req + 4, 16);
  g_assert_cmpuint ((resp[20] << 8) | resp[21], ==, 0x0001); /* MAPPED-ADDRESS */
  g_assert_cmpuint ((resp[22] << 8) | resp[23], ==, 8);
  g_assert_cmpuint (resp[25], ==, 0x01);
  g_assert_cmpuint ((resp[26] << 8) | resp[27], ==, my_port);
  g_assert_cmpuint (resp[28], ==, 127);
  g_assert_cmpuint (resp[31], ==, 1);
  /* a classic request whose length field lies is not STUN */
  req[3] = 4;
  g_assert_cmpint (relay_udp_classify (req, sizeof req), ==, RELAY_UDP_OTHER);
}

static void
test_not_answered (Fixture *f, gconstpointer data)
{
  guint8 wg[148] = { 1, 0, 0, 0 }, junk[32] = { 0x16, 3, 1 }, bad[24], resp[600];

  binding_request (bad, 1);
  bad[3] = 4; /* says 4 bytes of attributes, carries 4: but of a request type nobody asked */
  bad[1] = 0x11;
  g_socket_send_to (f->client, f->server, (const char *) wg, sizeof wg, NULL, NULL);
  g_socket_send_to (f->client, f->server, (const char *) junk, sizeof junk, NULL, NULL);
  g_socket_send_to (f->client, f->server, (const char *) bad, sizeof bad, NULL, NULL);
  g_assert_cmpint (receive (f, resp, sizeof resp), ==, -1);
  g_assert_cmpuint (relay_udp_get_count (f->udp, RELAY_UDP_WIREGUARD), ==, 1);
  g_assert_cmpuint (relay_udp_get_count (f->udp, RELAY_UDP_OTHER), ==, 1);
  g_assert_cmpuint (relay_udp_get_count (f->udp, RELAY_UDP_STUN), ==, 1);
}

static void
test_classify (void)
{
  guint8 stun[20], wg[4] = { 4, 0, 0, 0 }, wg_bad[4] = { 5, 0, 0, 0 };
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) from = g_inet_socket_address_new (lo, 1234);
  guint8 out[RELAY_STUN_MAX];

  binding_request (stun, 0);
  g_assert_cmpint (relay_udp_classify (stun, sizeof stun), ==, RELAY_UDP_STUN);
  g_assert_cmpint (relay_udp_classify (stun, 19), ==, RELAY_UDP_OTHER);
  g_assert_cmpint (relay_udp_classify (wg, sizeof wg), ==, RELAY_UDP_WIREGUARD);
  g_assert_cmpint (relay_udp_classify (wg_bad, sizeof wg_bad), ==, RELAY_UDP_OTHER);
  stun[0] = 0x40; /* top bits set: not STUN (RFC 7983 §7 demultiplexing) */
  g_assert_cmpint (relay_udp_classify (stun, sizeof stun), ==, RELAY_UDP_OTHER);
  binding_request (stun, 0);
  stun[3] = 8; /* claims attributes that are not there */
  g_assert_cmpuint (relay_stun_answer (stun, sizeof stun, from, out), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relay/udp/classify", test_classify);
  g_test_add ("/relay/udp/stun-binding", Fixture, NULL, setup, test_stun_binding, teardown);
  g_test_add ("/relay/udp/not-answered", Fixture, NULL, setup, test_not_answered, teardown);
  g_test_add ("/relay/udp/stun-classic-binding", Fixture, NULL, setup, test_stun_classic_binding, teardown);
  return g_test_run ();
}
