/* test-wg-device.c — two devices in one process, joined by their transmit funcs (no
 * sockets): a handshake and packets both ways, padding on the wire, and the attacks of issue
 * 12 — a replayed data packet, a forged counter, an inner source outside the allowed IPs,
 * a responder under load answering with a cookie. */
#include "nfltr-wg-device.h"

#include <string.h>

typedef struct _Net Net;

typedef struct {
  Net *net;
  NfltrWgDevice *device;
  NfltrWgPeerId peer;      /* the other side */
  GSocketAddress *address; /* what the other side sees as our source */
  GPtrArray *received;     /* GBytes of inner packets */
  GPtrArray *sent;         /* GBytes of outer datagrams we transmitted */
} Side;

struct _Net {
  Side a, b;
  guint8 pub_a[32], pub_b[32];
  guint in_flight;
};

typedef struct {
  Side *to;
  Side *from;
  GBytes *datagram;
} Delivery;

static gboolean
deliver_cb (gpointer user_data)
{
  Delivery *d = user_data;

  nfltr_wg_device_receive_datagram (d->to->device, d->from->address, g_bytes_get_data (d->datagram, NULL),
                                    g_bytes_get_size (d->datagram));
  d->to->net->in_flight--;
  g_bytes_unref (d->datagram);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static gboolean
transmit_cb (NfltrWgDevice *device, NfltrWgPeerId peer, GSocketAddress *endpoint, const guint8 *datagram, gsize len, gpointer user_data)
{
  Side *self = user_data;
  Delivery *d = g_new0 (Delivery, 1);

  /* Delivered from the main loop, as a socket would: never re-entering the sender. */
  d->from = self;
  d->to = self == &self->net->a ? &self->net->b : &self->net->a;
  d->datagram = g_bytes_new (datagram, len);
  g_ptr_array_add (self->sent, g_bytes_ref (d->datagram));
  self->net->in_flight++;
  g_idle_add (deliver_cb, d);
  return TRUE;
}

static void
receive_cb (NfltrWgDevice *device, NfltrWgPeerId peer, const guint8 *packet, gsize len, gpointer user_data)
{
  Side *self = user_data;

  g_assert_cmpuint (peer, ==, self->peer);
  g_ptr_array_add (self->received, g_bytes_new (packet, len));
}

static void
side_init (Net *net, Side *side, guint8 private_key[32], const char *address)
{
  side->net = net;
  side->device = nfltr_wg_device_new (private_key);
  side->address = g_inet_socket_address_new_from_string (address, 51820);
  side->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  side->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  nfltr_wg_device_set_transmit_func (side->device, transmit_cb, side, NULL);
  nfltr_wg_device_set_receive_func (side->device, receive_cb, side, NULL);
}

static void
net_init (Net *net)
{
  guint8 key_a[32], key_b[32], pub_a[32], pub_b[32];
  g_autoptr (GError) error = NULL;

  memset (net, 0, sizeof *net);
  nfltr_wg_generate_private_key (key_a);
  nfltr_wg_generate_private_key (key_b);
  nfltr_wg_public_key (key_a, pub_a);
  nfltr_wg_public_key (key_b, pub_b);
  side_init (net, &net->a, key_a, "192.0.2.1");
  side_init (net, &net->b, key_b, "192.0.2.2");

  net->a.peer = nfltr_wg_device_add_peer (net->a.device, pub_b, NULL, NULL, 0, &error);
  g_assert_no_error (error);
  net->b.peer = nfltr_wg_device_add_peer (net->b.device, pub_a, NULL, NULL, 0, &error);
  g_assert_no_error (error);
  memcpy (net->pub_a, pub_a, 32);
  memcpy (net->pub_b, pub_b, 32);
  g_assert_true (nfltr_wg_device_add_allowed_ip (net->a.device, net->a.peer, "10.0.0.2/32", &error));
  g_assert_true (nfltr_wg_device_add_allowed_ip (net->b.device, net->b.peer, "10.0.0.1/32", &error));
}

static void
side_clear (Side *side)
{
  g_clear_object (&side->device);
  g_clear_object (&side->address);
  g_clear_pointer (&side->received, g_ptr_array_unref);
  g_clear_pointer (&side->sent, g_ptr_array_unref);
}

static void
net_clear (Net *net)
{
  /* Let every queued datagram land before the devices go. */
  while (net->in_flight > 0)
    g_main_context_iteration (NULL, TRUE);
  side_clear (&net->a);
  side_clear (&net->b);
}

static void
pump (Net *net)
{
  while (net->in_flight > 0)
    g_main_context_iteration (NULL, TRUE);
}

/* An IPv4/UDP packet of 28 bytes plus payload from src to dst (last octets of 10.0.0.x). */
static GBytes *
ipv4_packet (guint8 src, guint8 dst, const char *payload)
{
  gsize len = 28 + strlen (payload);
  guint8 *p = g_malloc0 (len);

  p[0] = 0x45;
  p[2] = (guint8) (len >> 8);
  p[3] = (guint8) len;
  p[8] = 64;
  p[9] = 17;
  memcpy (p + 12, (guint8[]) { 10, 0, 0, src }, 4);
  memcpy (p + 16, (guint8[]) { 10, 0, 0, dst }, 4);
  memcpy (p + 28, payload, strlen (payload));
  return g_bytes_new_take (p, len);
}

static gboolean
send_bytes (Side *side, GBytes *packet)
{
  return nfltr_wg_device_send (side->device, side->peer, g_bytes_get_data (packet, NULL), g_bytes_get_size (packet));
}

static GBytes *
last_data_datagram (Side *side)
{
  for (guint i = side->sent->len; i-- > 0;)
    {
      GBytes *d = side->sent->pdata[i];

      if (((const guint8 *) g_bytes_get_data (d, NULL))[0] == 4 && g_bytes_get_size (d) > 32)
        return d;
    }
  return NULL;
}

static void
test_handshake_and_packets (void)
{
  Net net;
  g_autoptr (GBytes) hello = ipv4_packet (1, 2, "hello");
  g_autoptr (GBytes) back = ipv4_packet (2, 1, "and back");
  NfltrWgPeerStats sa, sb;

  net_init (&net);
  /* Queued while the handshake runs, then delivered. */
  g_assert_true (send_bytes (&net.a, hello));
  pump (&net);
  g_assert_cmpuint (net.b.received->len, ==, 1);
  g_assert_true (g_bytes_equal (net.b.received->pdata[0], hello));

  g_assert_true (send_bytes (&net.b, back));
  pump (&net);
  g_assert_cmpuint (net.a.received->len, ==, 1);
  g_assert_true (g_bytes_equal (net.a.received->pdata[0], back));

  /* On the wire: 16 bytes of header, 33 bytes padded to 48, 16 of tag. */
  g_assert_cmpuint (g_bytes_get_size (last_data_datagram (&net.a)), ==, 16 + 48 + 16);
  g_assert_null (memmem (g_bytes_get_data (last_data_datagram (&net.a), NULL), 80, "hello", 5));

  g_assert_true (nfltr_wg_device_get_peer_stats (net.a.device, net.a.peer, &sa));
  g_assert_true (nfltr_wg_device_get_peer_stats (net.b.device, net.b.peer, &sb));
  g_assert_cmpuint (sa.handshakes_completed, ==, 1);
  g_assert_cmpuint (sb.handshakes_completed, ==, 1);
  g_assert_cmpuint (sa.rx_packets, ==, 1);
  g_assert_cmpuint (sb.rx_packets, ==, 1);
  g_assert_cmpint (sa.last_handshake_unix, >, 0);
  net_clear (&net);
}

static void
test_replay_dropped_and_counted (void)
{
  Net net;
  g_autoptr (GBytes) hello = ipv4_packet (1, 2, "hello");
  GBytes *captured;
  NfltrWgPeerStats sb;

  net_init (&net);
  send_bytes (&net.a, hello);
  pump (&net);
  g_assert_cmpuint (net.b.received->len, ==, 1);

  captured = last_data_datagram (&net.a);
  for (guint i = 0; i < 3; i++)
    nfltr_wg_device_receive_datagram (net.b.device, net.a.address, g_bytes_get_data (captured, NULL), g_bytes_get_size (captured));
  g_assert_cmpuint (net.b.received->len, ==, 1);
  nfltr_wg_device_get_peer_stats (net.b.device, net.b.peer, &sb);
  g_assert_cmpuint (sb.dropped_replay, ==, 3);
  net_clear (&net);
}

static void
test_forged_counter_does_not_move_window (void)
{
  Net net;
  g_autoptr (GBytes) one = ipv4_packet (1, 2, "one");
  g_autoptr (GBytes) two = ipv4_packet (1, 2, "two");
  GBytes *real;
  guint8 forged[64];
  NfltrWgDeviceStats stats;
  NfltrWgPeerStats sb;

  net_init (&net);
  send_bytes (&net.a, one);
  pump (&net);

  /* A real datagram's receiver index with a counter far ahead and a broken tag. */
  real = last_data_datagram (&net.a);
  g_assert_cmpuint (g_bytes_get_size (real), ==, sizeof forged); /* "one": 31 bytes padded to 32 */
  memcpy (forged, g_bytes_get_data (real, NULL), sizeof forged);
  memset (forged + 8, 0xff, 4); /* counter ≈ 2^32 */
  forged[40] ^= 1;
  nfltr_wg_device_receive_datagram (net.b.device, net.a.address, forged, sizeof forged);
  nfltr_wg_device_get_stats (net.b.device, &stats);
  g_assert_cmpuint (stats.dropped_invalid, ==, 1);

  /* Had the counter been checked before authentication, "two" (counter 1 or 2) would now
   * be outside the window. */
  send_bytes (&net.a, two);
  pump (&net);
  g_assert_cmpuint (net.b.received->len, ==, 2);
  nfltr_wg_device_get_peer_stats (net.b.device, net.b.peer, &sb);
  g_assert_cmpuint (sb.dropped_replay, ==, 0);
  net_clear (&net);
}

static void
test_inner_source_outside_allowed_ips (void)
{
  Net net;
  g_autoptr (GBytes) spoofed = ipv4_packet (99, 2, "from elsewhere");
  g_autoptr (GBytes) fine = ipv4_packet (1, 2, "fine");
  NfltrWgPeerStats sb;

  net_init (&net);
  send_bytes (&net.a, spoofed);
  send_bytes (&net.a, fine);
  pump (&net);
  g_assert_cmpuint (net.b.received->len, ==, 1);
  g_assert_true (g_bytes_equal (net.b.received->pdata[0], fine));
  nfltr_wg_device_get_peer_stats (net.b.device, net.b.peer, &sb);
  g_assert_cmpuint (sb.dropped_allowed_ips, ==, 1);
  net_clear (&net);
}

static void
test_ipv6_inner_packets (void)
{
  Net net;
  guint8 packet[40 + 8 + 4] = { 0x60, 0, 0, 0, 0, 12, 17, 64 };
  g_autoptr (GError) error = NULL;
  NfltrWgPeerStats sb;

  net_init (&net);
  g_assert_true (nfltr_wg_device_add_allowed_ip (net.a.device, net.a.peer, "fd00::2/128", &error));
  g_assert_true (nfltr_wg_device_add_allowed_ip (net.b.device, net.b.peer, "fd00::1/128", &error));
  packet[8] = 0xfd;
  packet[23] = 1; /* source fd00::1 */
  packet[24] = 0xfd;
  packet[39] = 2; /* destination fd00::2 */
  memcpy (packet + 48, "six!", 4);
  g_assert_true (nfltr_wg_device_send_routed (net.a.device, packet, sizeof packet));
  pump (&net);
  g_assert_cmpuint (net.b.received->len, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (net.b.received->pdata[0], NULL), g_bytes_get_size (net.b.received->pdata[0]), packet,
                   sizeof packet);

  /* From fd00::99: not B's peer's. */
  packet[23] = 0x99;
  g_assert_true (nfltr_wg_device_send (net.a.device, net.a.peer, packet, sizeof packet));
  pump (&net);
  g_assert_cmpuint (net.b.received->len, ==, 1);
  nfltr_wg_device_get_peer_stats (net.b.device, net.b.peer, &sb);
  g_assert_cmpuint (sb.dropped_allowed_ips, ==, 1);
  net_clear (&net);
}

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_under_load_cookie_then_connect (void)
{
  Net net;
  g_autoptr (GBytes) hello = ipv4_packet (1, 2, "hello");
  NfltrWgDeviceStats stats;
  gboolean timed_out = FALSE;
  guint timeout_id;

  net_init (&net);
  nfltr_wg_device_set_force_under_load (net.b.device, TRUE);
  send_bytes (&net.a, hello);
  pump (&net);
  /* The first initiation has no mac2: answered with a cookie, not a handshake. */
  nfltr_wg_device_get_stats (net.b.device, &stats);
  g_assert_cmpuint (stats.cookie_replies_sent, ==, 1);
  g_assert_cmpuint (net.b.received->len, ==, 0);

  /* The retransmission (REKEY_TIMEOUT + jitter later) carries mac2 and gets through. */
  timeout_id = g_timeout_add_seconds (12, timeout_cb, &timed_out);
  while (net.b.received->len == 0 && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (timeout_id);
  g_assert_true (g_bytes_equal (net.b.received->pdata[0], hello));
  nfltr_wg_device_get_stats (net.b.device, &stats);
  g_assert_cmpuint (stats.cookie_replies_sent, ==, 1);
  net_clear (&net);
}

static void
test_routing_and_keys (void)
{
  Net net;
  g_autoptr (GBytes) hello = ipv4_packet (1, 2, "routed");
  g_autoptr (GBytes) nowhere = ipv4_packet (1, 77, "nowhere");
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  guint8 key[32], again[32];

  net_init (&net);
  g_assert_true (nfltr_wg_device_send_routed (net.a.device, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello)));
  g_assert_false (nfltr_wg_device_send_routed (net.a.device, g_bytes_get_data (nowhere, NULL), g_bytes_get_size (nowhere)));
  pump (&net);
  g_assert_cmpuint (net.b.received->len, ==, 1);

  nfltr_wg_generate_private_key (key);
  text = nfltr_wg_key_to_base64 (key);
  g_assert_cmpuint (strlen (text), ==, 44);
  g_assert_true (nfltr_wg_key_from_base64 (text, again, NULL));
  g_assert_cmpmem (key, 32, again, 32);
  g_assert_false (nfltr_wg_key_from_base64 ("c2hvcnQ=", again, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* The same peer twice, or ourselves as a peer, is refused. */
  g_assert_cmpuint (nfltr_wg_device_add_peer (net.a.device, net.pub_b, NULL, NULL, 0, &error), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_cmpuint (nfltr_wg_device_add_peer (net.a.device, net.pub_a, NULL, NULL, 0, &error), ==, 0);
  g_clear_error (&error);
  g_assert_cmpuint (nfltr_wg_device_lookup_peer (net.a.device, net.pub_b), ==, net.a.peer);
  g_assert_cmpuint (nfltr_wg_device_lookup_peer (net.a.device, key), ==, 0);

  /* The endpoint was learnt from the source of the handshake (roaming, §2). */
  {
    g_autoptr (GInetSocketAddress) endpoint = nfltr_wg_device_dup_endpoint (net.a.device, net.a.peer);
    g_autofree char *where = NULL;

    g_assert_nonnull (endpoint);
    where = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (endpoint));
    g_assert_cmpstr (where, ==, "192.0.2.2:51820");
  }
  g_assert_false (nfltr_wg_device_add_allowed_ip (net.a.device, 999, "10.0.0.0/8", &error));
  g_clear_error (&error);
  g_assert_false (nfltr_wg_device_add_allowed_ip (net.a.device, net.a.peer, "10.0.0/8", &error));
  g_clear_error (&error);

  /* A removed peer takes its routes and sessions with it. */
  nfltr_wg_device_remove_peer (net.a.device, net.a.peer);
  g_assert_false (
    nfltr_wg_device_send_routed (net.a.device, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello)));
  net_clear (&net);
}

/* Over real UDP sockets on loopback: the receive callback answers from inside itself, as a
 * netstack does (a SYN answered at once), and the packet it was given must still be intact
 * after that send. */
typedef struct {
  NfltrWgDevice *device;
  guint received;
  gboolean intact;
  GBytes *last;
} EchoSide;

static void
echo_receive_cb (NfltrWgDevice *device, NfltrWgPeerId peer, const guint8 *packet, gsize len, gpointer user_data)
{
  EchoSide *side = user_data;
  g_autofree guint8 *before = g_memdup2 (packet, len);
  g_autofree guint8 *reply = g_memdup2 (packet, len);

  side->received++;
  if (packet[15] == 1) /* from 10.0.0.1: echo it back with the addresses swapped */
    {
      memcpy (reply + 12, packet + 16, 4);
      memcpy (reply + 16, packet + 12, 4);
      g_assert_true (nfltr_wg_device_send (device, peer, reply, len));
      side->intact = memcmp (before, packet, len) == 0;
    }
  g_clear_pointer (&side->last, g_bytes_unref);
  side->last = g_bytes_new (packet, len);
}

static void
test_udp_sockets_and_send_from_receive (void)
{
  guint8 key_a[32], key_b[32], pub_a[32], pub_b[32];
  EchoSide a = { 0 }, b = { 0 };
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GInetSocketAddress) b_endpoint = NULL;
  g_autoptr (GBytes) hello = ipv4_packet (1, 2, "ping over a real socket");
  g_autoptr (GError) error = NULL;
  NfltrWgPeerId a_peer, b_peer;
  gboolean timed_out = FALSE;
  guint timeout_id;

  nfltr_wg_generate_private_key (key_a);
  nfltr_wg_generate_private_key (key_b);
  nfltr_wg_public_key (key_a, pub_a);
  nfltr_wg_public_key (key_b, pub_b);
  a.device = nfltr_wg_device_new (key_a);
  b.device = nfltr_wg_device_new (key_b);
  g_assert_true (nfltr_wg_device_bind (a.device, G_INET_SOCKET_ADDRESS (any), &error));
  g_assert_true (nfltr_wg_device_bind (b.device, G_INET_SOCKET_ADDRESS (any), &error));
  g_assert_cmpuint (nfltr_wg_device_get_port (b.device), !=, 0);
  nfltr_wg_device_set_receive_func (a.device, echo_receive_cb, &a, NULL);
  nfltr_wg_device_set_receive_func (b.device, echo_receive_cb, &b, NULL);

  b_endpoint =
    G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (loopback, nfltr_wg_device_get_port (b.device)));
  a_peer = nfltr_wg_device_add_peer (a.device, pub_b, NULL, b_endpoint, 0, &error);
  b_peer = nfltr_wg_device_add_peer (b.device, pub_a, NULL, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_true (nfltr_wg_device_add_allowed_ip (a.device, a_peer, "10.0.0.2/32", &error));
  g_assert_true (nfltr_wg_device_add_allowed_ip (b.device, b_peer, "10.0.0.1/32", &error));

  g_assert_true (send_bytes (&(Side) { .device = a.device, .peer = a_peer }, hello));
  timeout_id = g_timeout_add_seconds (10, timeout_cb, &timed_out);
  while (a.received == 0 && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (timeout_id);

  /* B got the packet, answered from inside its callback, and its copy was not disturbed;
   * A got the answer: the same bytes with the addresses swapped. */
  g_assert_cmpuint (b.received, ==, 1);
  g_assert_true (b.intact);
  g_assert_true (g_bytes_equal (b.last, hello));
  g_assert_cmpuint (g_bytes_get_size (a.last), ==, g_bytes_get_size (hello));
  g_assert_cmpmem ((const guint8 *) g_bytes_get_data (a.last, NULL) + 28, g_bytes_get_size (hello) - 28,
                   (const guint8 *) g_bytes_get_data (hello, NULL) + 28, g_bytes_get_size (hello) - 28);

  g_clear_pointer (&a.last, g_bytes_unref);
  g_clear_pointer (&b.last, g_bytes_unref);
  g_object_unref (a.device);
  g_object_unref (b.device);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wg/device/handshake-and-packets", test_handshake_and_packets);
  g_test_add_func ("/wg/device/replay-dropped-and-counted", test_replay_dropped_and_counted);
  g_test_add_func ("/wg/device/forged-counter", test_forged_counter_does_not_move_window);
  g_test_add_func ("/wg/device/allowed-ips-on-inner-source", test_inner_source_outside_allowed_ips);
  g_test_add_func ("/wg/device/ipv6-inner-packets", test_ipv6_inner_packets);
  g_test_add_func ("/wg/device/under-load-cookie", test_under_load_cookie_then_connect);
  g_test_add_func ("/wg/device/routing-and-keys", test_routing_and_keys);
  g_test_add_func ("/wg/device/udp-sockets-send-from-receive", test_udp_sockets_and_send_from_receive);
  return g_test_run ();
}
