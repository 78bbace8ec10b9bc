/* test-wg-net-device.c — the netstacks over real WireGuard devices (service/wg/device): a raw
 * SOCKS5 client → the SOCKS5 server → netstack 100.64.0.2 → device A ⇄ UDP on loopback,
 * encrypted ⇄ device B → netstack 100.64.0.1 → forwarder → a server on 127.0.0.1. The bytes
 * that arrive, their SHA-256 and the devices' counters are what is asserted. */
#define G_LOG_DOMAIN "test-wg-net-device"

#include <gio/gio.h>
#include <string.h>

#include "nfltr-forwarder.h"
#include "nfltr-netstack-wg.h"
#include "nfltr-socks5-server.h"

#define DOWNLOAD_SIZE (4 * 1024 * 1024)

typedef struct {
  NfltrWgDevice *dev_socks;
  NfltrWgDevice *dev_serve;
  NfltrWgPeerId serve_peer; /* the serve side, as device A knows it */
  NfltrNetstackWg *socks_ns;
  NfltrNetstackWg *serve_ns;
  NfltrForwarder *forwarder;
  NfltrSocks5Server *socks;
  guint16 socks_port;
  GSocketService *download;
  guint16 download_port;
  GBytes *payload;
  gint done;
  char *sha;
  gsize total;
} Fixture;

static GInetSocketAddress *
loopback (guint16 port)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);

  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (lo, port));
}

static void
written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GSocketConnection) connection = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  Fixture *f = user_data;

  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                   g_bytes_get_data (f->payload, NULL), g_bytes_get_size (f->payload),
                                   G_PRIORITY_DEFAULT, NULL, written_cb, g_object_ref (connection));
  return TRUE;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetSocketAddress) any = loopback (0);
  g_autoptr (GInetSocketAddress) ep_socks = NULL;
  g_autoptr (GInetSocketAddress) ep_serve = NULL;
  g_autoptr (GSocketAddress) effective = NULL;
  guint8 key_socks[NFLTR_WG_KEY_LEN], key_serve[NFLTR_WG_KEY_LEN];
  guint8 pub_socks[NFLTR_WG_KEY_LEN], pub_serve[NFLTR_WG_KEY_LEN];
  NfltrWgPeerId socks_peer;
  guint8 *payload = g_malloc (DOWNLOAD_SIZE);

  for (gsize i = 0; i < DOWNLOAD_SIZE; i++)
    payload[i] = (guint8) (i * 2654435761u >> 13);
  f->payload = g_bytes_new_take (payload, DOWNLOAD_SIZE);

  nfltr_wg_generate_private_key (key_socks);
  nfltr_wg_generate_private_key (key_serve);
  nfltr_wg_public_key (key_socks, pub_socks);
  nfltr_wg_public_key (key_serve, pub_serve);
  f->dev_socks = nfltr_wg_device_new (key_socks);
  f->dev_serve = nfltr_wg_device_new (key_serve);
  g_assert_true (nfltr_wg_device_bind (f->dev_socks, any, &error));
  g_assert_true (nfltr_wg_device_bind (f->dev_serve, any, &error));
  ep_socks = loopback (nfltr_wg_device_get_port (f->dev_socks));
  ep_serve = loopback (nfltr_wg_device_get_port (f->dev_serve));
  /* the SOCKS5 side reaches everything through the serve side; the serve side admits only the
   * SOCKS5 side's own address as an inner source */
  f->serve_peer = nfltr_wg_device_add_peer (f->dev_socks, pub_serve, NULL, ep_serve, 0, &error);
  g_assert_no_error (error);
  g_assert_true (nfltr_wg_device_add_allowed_ip (f->dev_socks, f->serve_peer, "0.0.0.0/0", &error));
  socks_peer = nfltr_wg_device_add_peer (f->dev_serve, pub_socks, NULL, ep_socks, 0, &error);
  g_assert_no_error (error);
  g_assert_true (nfltr_wg_device_add_allowed_ip (f->dev_serve, socks_peer, "100.64.0.2/32", &error));

  f->socks_ns = nfltr_netstack_wg_new (f->dev_socks, "100.64.0.2", 10, &error);
  g_assert_no_error (error);
  f->serve_ns = nfltr_netstack_wg_new (f->dev_serve, "100.64.0.1", 10, &error);
  g_assert_no_error (error);
  f->forwarder = nfltr_forwarder_new (nfltr_netstack_wg_get_netstack (f->serve_ns),
                                      nfltr_allow_list_parse ("127.0.0.0/8", NULL), &error);
  g_assert_no_error (error);
  nfltr_netstack_set_dns_server (nfltr_netstack_wg_get_netstack (f->socks_ns), g_htonl (0x64400001));
  f->socks = nfltr_socks5_server_new (nfltr_netstack_wg_get_netstack (f->socks_ns), NULL, NULL);
  f->socks_port = nfltr_socks5_server_listen (f->socks, G_SOCKET_ADDRESS (any), &error);
  g_assert_no_error (error);

  f->download = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (f->download), G_SOCKET_ADDRESS (any), G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  f->download_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (f->download, "incoming", G_CALLBACK (incoming_cb), f);
  g_socket_service_start (f->download);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->socks, nfltr_socks5_server_free);
  g_clear_pointer (&f->forwarder, nfltr_forwarder_free);
  g_clear_pointer (&f->socks_ns, nfltr_netstack_wg_free);
  g_clear_pointer (&f->serve_ns, nfltr_netstack_wg_free);
  g_clear_object (&f->dev_socks);
  g_clear_object (&f->dev_serve);
  g_socket_service_stop (f->download);
  g_socket_listener_close (G_SOCKET_LISTENER (f->download));
  g_clear_object (&f->download);
  g_bytes_unref (f->payload);
  g_free (f->sha);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gsize
recv_exact (GSocket *socket, guint8 *buf, gsize len)
{
  gsize got = 0;

  while (got < len)
    {
      gssize n = g_socket_receive (socket, (char *) buf + got, len - got, NULL, NULL);

      if (n <= 0)
        break;
      got += (gsize) n;
    }
  return got;
}

/* A blocking SOCKS5 client on its own thread: the main thread runs devices and netstacks. */
static gpointer
client_thread (gpointer data)
{
  Fixture *f = data;
  g_autoptr (GInetSocketAddress) proxy = loopback (f->socks_port);
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  const char *name = "localhost";
  guint8 request[64] = { 5, 1, 0, 3 };
  guint8 answer[10];
  guint8 buf[65536];
  gsize len = 4;
  gssize n;

  g_socket_set_timeout (socket, 30);
  if (g_socket_connect (socket, G_SOCKET_ADDRESS (proxy), NULL, NULL))
    {
      g_socket_send (socket, "\x05\x01\x00", 3, NULL, NULL);
      request[len++] = (guint8) strlen (name);
      memcpy (request + len, name, strlen (name));
      len += strlen (name);
      request[len++] = (guint8) (f->download_port >> 8);
      request[len++] = (guint8) f->download_port;
      g_socket_send (socket, (const char *) request, len, NULL, NULL);
      if (recv_exact (socket, answer, 2) == 2 && recv_exact (socket, answer, 10) == 10 && answer[1] == 0)
        while ((n = g_socket_receive (socket, (char *) buf, sizeof buf, NULL, NULL)) > 0)
          {
            g_checksum_update (checksum, buf, n);
            f->total += (gsize) n;
          }
    }
  f->sha = g_strdup (g_checksum_get_string (checksum));
  g_atomic_int_set (&f->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

static void
test_download_through_devices (Fixture *f, gconstpointer data)
{
  g_autofree char *expected = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, f->payload);
  GThread *thread = g_thread_new ("socks5 client", client_thread, f);
  NfltrWgPeerStats stats;

  while (!g_atomic_int_get (&f->done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  g_assert_cmpuint (f->total, ==, DOWNLOAD_SIZE);
  g_assert_cmpstr (f->sha, ==, expected);
  /* it really went through WireGuard: a handshake, and more outer bytes than the payload */
  g_assert_true (nfltr_wg_device_get_peer_stats (f->dev_socks, f->serve_peer, &stats));
  g_assert_cmpuint (stats.handshakes_completed, >=, 1);
  g_assert_cmpuint (stats.rx_bytes, >, DOWNLOAD_SIZE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/wg-net/device/socks5-download", Fixture, NULL, fixture_set_up, test_download_through_devices,
              fixture_tear_down);
  return g_test_run ();
}
