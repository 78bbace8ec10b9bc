/* test-wg-net.c — the SOCKS5 front, two netstacks and the serve side's forwarder in one process.
 *
 * A raw SOCKS5 client (on its own thread, blocking sockets) → the SOCKS5 server → netstack A
 * (100.64.0.2) ↔ an in-process link (packets queued and delivered from the main loop) ↔
 * netstack B (100.64.0.1, serve side) → the forwarder → servers on 127.0.0.1. What is asserted
 * is what a SOCKS5 client sees: reply codes, the bytes that arrive and their SHA-256.
 */
#define G_LOG_DOMAIN "test-wg-net"

#include <gio/gio.h>
#include <string.h>

#include "nfltr-forwarder.h"
#include "nfltr-netstack.h"
#include "nfltr-socks5-proto.h"
#include "nfltr-socks5-server.h"

#define DOWNLOAD_SIZE (8 * 1024 * 1024)

typedef struct {
  GQueue queue; /* GBytes* */
  NfltrNetstack *to;
  guint64 packets;
  gboolean drop_all;
  GArray *syn_isns; /* guint32: the sequence number of every SYN (without ACK) that left */
} LinkSide;

typedef struct {
  LinkSide a_to_b;
  LinkSide b_to_a;
  GSource *pump;
  NfltrNetstack *a;
  NfltrNetstack *b;
  NfltrForwarder *forwarder;
  NfltrSocks5Server *socks;
  guint16 socks_port;
  GSocketService *download;
  guint16 download_port;
  GBytes *payload;
  GSocket *udp_echo;
  GSource *udp_echo_source;
  guint16 udp_echo_port;
  NfltrSocks5Server *auth_socks; /* RFC 1929: user "alice", password "s3cret" */
  guint16 auth_port;
} Fixture;

/* ---- the in-process link ---- */

static void
link_output (const guint8 *packet,
             gsize len,
             gpointer user_data)
{
  LinkSide *side = user_data;

  if (side->drop_all)
    return;
  if (side->syn_isns != NULL && len >= 40 && packet[9] == 6)
    {
      gsize ihl = (gsize) (packet[0] & 0x0f) * 4;

      if (len >= ihl + 20 && (packet[ihl + 13] & 0x12) == 0x02)
        {
          guint32 isn = (guint32) packet[ihl + 4] << 24 | (guint32) packet[ihl + 5] << 16 |
                        (guint32) packet[ihl + 6] << 8 | packet[ihl + 7];

          g_array_append_val (side->syn_isns, isn);
        }
    }
  g_queue_push_tail (&side->queue, g_bytes_new (packet, len));
}

static gboolean
pump_cb (gpointer user_data)
{
  Fixture *f = user_data;

  /* one side at a time, a batch each, so neither starves */
  for (guint round = 0; round < 64; round++)
    {
      LinkSide *sides[] = { &f->a_to_b, &f->b_to_a };
      gboolean any = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (sides); i++)
        {
          GBytes *packet = g_queue_pop_head (&sides[i]->queue);

          if (packet == NULL)
            continue;
          any = TRUE;
          sides[i]->packets++;
          nfltr_netstack_input (sides[i]->to, g_bytes_get_data (packet, NULL), g_bytes_get_size (packet));
          g_bytes_unref (packet);
        }
      if (!any)
        break;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- the servers on loopback ---- */

static void
download_written_cb (GObject *source,
                     GAsyncResult *result,
                     gpointer user_data)
{
  g_autoptr (GSocketConnection) connection = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
}

static gboolean
download_incoming_cb (GSocketService *service,
                      GSocketConnection *connection,
                      GObject *source_object,
                      gpointer user_data)
{
  Fixture *f = user_data;

  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                   g_bytes_get_data (f->payload, NULL), g_bytes_get_size (f->payload),
                                   G_PRIORITY_DEFAULT, NULL, download_written_cb, g_object_ref (connection));
  return TRUE;
}

static gboolean
udp_echo_cb (GSocket *socket,
             GIOCondition condition,
             gpointer user_data)
{
  char buf[2048];
  GSocketAddress *from = NULL;
  gssize n = g_socket_receive_from (socket, &from, buf, sizeof buf, NULL, NULL);

  if (n > 0)
    g_socket_send_to (socket, from, buf, (gsize) n, NULL, NULL);
  g_clear_object (&from);
  return G_SOURCE_CONTINUE;
}

static guint16
local_port (GSocket *socket)
{
  g_autoptr (GSocketAddress) address = g_socket_get_local_address (socket, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

static void
fixture_set_up (Fixture *f,
                gconstpointer data)
{
  const char *allow = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) effective = NULL;
  guint8 *payload = g_malloc (DOWNLOAD_SIZE);
  GRand *rand = g_rand_new_with_seed (12);

  for (gsize i = 0; i < DOWNLOAD_SIZE; i += 4)
    {
      guint32 v = g_rand_int (rand);

      memcpy (payload + i, &v, 4);
    }
  g_rand_free (rand);
  f->payload = g_bytes_new_take (payload, DOWNLOAD_SIZE);

  f->a = nfltr_netstack_new ("100.64.0.2", 10, 1420, link_output, &f->a_to_b, &error);
  g_assert_no_error (error);
  f->b = nfltr_netstack_new ("100.64.0.1", 10, 1420, link_output, &f->b_to_a, &error);
  g_assert_no_error (error);
  f->a_to_b.to = f->b;
  f->b_to_a.to = f->a;
  g_queue_init (&f->a_to_b.queue);
  f->a_to_b.syn_isns = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_queue_init (&f->b_to_a.queue);
  f->pump = g_idle_source_new ();
  g_source_set_callback (f->pump, pump_cb, f, NULL);
  g_source_attach (f->pump, NULL);

  f->forwarder = nfltr_forwarder_new (f->b, nfltr_allow_list_parse (allow, &error), &error);
  g_assert_no_error (error);
  nfltr_netstack_set_dns_server (f->a, nfltr_netstack_get_address (f->b));

  f->socks = nfltr_socks5_server_new (f->a, NULL, NULL);
  f->socks_port = nfltr_socks5_server_listen (f->socks, any_port, &error);
  g_assert_no_error (error);

  f->auth_socks = nfltr_socks5_server_new (f->a, "alice", "s3cret");
  f->auth_port = nfltr_socks5_server_listen (f->auth_socks, any_port, &error);
  g_assert_no_error (error);

  f->download = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (f->download), any_port, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  f->download_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (f->download, "incoming", G_CALLBACK (download_incoming_cb), f);
  g_socket_service_start (f->download);

  f->udp_echo = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_bind (f->udp_echo, any_port, FALSE, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (f->udp_echo, FALSE);
  f->udp_echo_port = local_port (f->udp_echo);
  f->udp_echo_source = g_socket_create_source (f->udp_echo, G_IO_IN, NULL);
  g_source_set_callback (f->udp_echo_source, G_SOURCE_FUNC (udp_echo_cb), f, NULL);
  g_source_attach (f->udp_echo_source, NULL);
}

static void
fixture_tear_down (Fixture *f,
                   gconstpointer data)
{
  g_clear_pointer (&f->socks, nfltr_socks5_server_free);
  g_clear_pointer (&f->auth_socks, nfltr_socks5_server_free);
  g_clear_pointer (&f->forwarder, nfltr_forwarder_free);
  g_clear_pointer (&f->a, nfltr_netstack_free);
  g_clear_pointer (&f->b, nfltr_netstack_free);
  g_source_destroy (f->pump);
  g_source_unref (f->pump);
  g_queue_clear_full (&f->a_to_b.queue, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&f->b_to_a.queue, (GDestroyNotify) g_bytes_unref);
  g_socket_service_stop (f->download);
  g_socket_listener_close (G_SOCKET_LISTENER (f->download));
  g_clear_object (&f->download);
  g_source_destroy (f->udp_echo_source);
  g_source_unref (f->udp_echo_source);
  g_clear_object (&f->udp_echo);
  g_bytes_unref (f->payload);
  g_array_unref (f->a_to_b.syn_isns);
  /* let closed sockets' sources go */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- a blocking SOCKS5 client on its own thread; the main thread runs the stack ---- */

typedef struct {
  Fixture *f;
  GThreadFunc func;
  gpointer result;
  gint done;
} ClientRun;

static gpointer
client_thread (gpointer data)
{
  ClientRun *run = data;

  run->result = run->func (run);
  g_atomic_int_set (&run->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

static gpointer
run_client (Fixture *f,
            GThreadFunc func)
{
  ClientRun run = { f, func, NULL, 0 };
  GThread *thread = g_thread_new ("socks5 client", client_thread, &run);

  while (!g_atomic_int_get (&run.done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  return run.result;
}

static GSocket *
socks_socket (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, f->socks_port);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_set_timeout (socket, 20);
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  return socket;
}

static gsize
recv_all (GSocket *socket,
          guint8 *buf,
          gsize len)
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

static void
send_all (GSocket *socket,
          const guint8 *buf,
          gsize len)
{
  g_autoptr (GError) error = NULL;

  while (len > 0)
    {
      gssize n = g_socket_send (socket, (const char *) buf, len, NULL, &error);

      g_assert_no_error (error);
      buf += n;
      len -= (gsize) n;
    }
}

/* Greeting with no-auth, then a request; returns the socket with *reply set (-1: closed). */
static GSocket *
socks_request_full (Fixture *f,
                    const guint8 *request,
                    gsize len,
                    int *reply,
                    guint8 *bound)
{
  GSocket *socket = socks_socket (f);
  const guint8 greeting[] = { 5, 1, 0 };
  guint8 answer[10];

  send_all (socket, greeting, sizeof greeting);
  g_assert_cmpuint (recv_all (socket, answer, 2), ==, 2);
  g_assert_cmpuint (answer[0], ==, 5);
  g_assert_cmpuint (answer[1], ==, 0);
  send_all (socket, request, len);
  *reply = recv_all (socket, answer, 10) == 10 ? answer[1] : -1;
  if (bound != NULL)
    memcpy (bound, answer, 10);
  return socket;
}

static GSocket *
socks_request (Fixture *f,
               const guint8 *request,
               gsize len,
               int *reply)
{
  return socks_request_full (f, request, len, reply, NULL);
}

static GSocket *
socks_connect_ipv4 (Fixture *f,
                    const guint8 address[4],
                    guint16 port,
                    int *reply)
{
  guint8 request[10] = { 5, 1, 0, 1 };

  memcpy (request + 4, address, 4);
  request[8] = (guint8) (port >> 8);
  request[9] = (guint8) port;
  return socks_request (f, request, sizeof request, reply);
}

static char *
download_sha256 (GSocket *socket,
                 gsize *total)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 buf[65536];
  gssize n;

  *total = 0;
  while ((n = g_socket_receive (socket, (char *) buf, sizeof buf, NULL, NULL)) > 0)
    {
      g_checksum_update (checksum, buf, n);
      *total += (gsize) n;
    }
  return g_strdup (g_checksum_get_string (checksum));
}

static const guint8 loopback4[4] = { 127, 0, 0, 1 };

static gpointer
download_by_address (gpointer data)
{
  ClientRun *run = data;
  int reply;
  g_autoptr (GSocket) socket = socks_connect_ipv4 (run->f, loopback4, run->f->download_port, &reply);
  gsize total;
  char *sha;

  g_assert_cmpint (reply, ==, 0);
  sha = download_sha256 (socket, &total);
  g_assert_cmpuint (total, ==, DOWNLOAD_SIZE);
  return sha;
}

static void
test_connect_download (Fixture *f,
                       gconstpointer data)
{
  g_autofree char *expected = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, f->payload);
  gint64 start = g_get_monotonic_time ();
  g_autofree char *sha = run_client (f, download_by_address);
  double seconds = (g_get_monotonic_time () - start) / 1e6;

  g_assert_cmpstr (sha, ==, expected);
  g_test_message ("8 MiB through SOCKS5 → netstack → netstack → forwarder in %.2f s (%.1f MB/s, "
                  "%" G_GUINT64_FORMAT " packets A→B, %" G_GUINT64_FORMAT " B→A)",
                  seconds, DOWNLOAD_SIZE / seconds / 1e6, f->a_to_b.packets, f->b_to_a.packets);
}

static gpointer
download_by_name (gpointer data)
{
  ClientRun *run = data;
  const char *name = "localhost";
  guint8 request[4 + 1 + 255 + 2] = { 5, 1, 0, 3 };
  gsize len = 4;
  int reply;
  g_autoptr (GSocket) socket = NULL;
  gsize total;
  char *sha;

  request[len++] = (guint8) strlen (name);
  memcpy (request + len, name, strlen (name));
  len += strlen (name);
  request[len++] = (guint8) (run->f->download_port >> 8);
  request[len++] = (guint8) run->f->download_port;
  socket = socks_request (run->f, request, len, &reply);
  g_assert_cmpint (reply, ==, 0);
  sha = download_sha256 (socket, &total);
  g_assert_cmpuint (total, ==, DOWNLOAD_SIZE);
  return sha;
}

static void
test_connect_by_name (Fixture *f,
                      gconstpointer data)
{
  g_autofree char *expected = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, f->payload);
  g_autofree char *sha = run_client (f, download_by_name);

  /* "localhost" went to the serve side's DNS through the netstack and resolved there */
  g_assert_cmpstr (sha, ==, expected);
}

static gpointer
connect_closed_port (gpointer data)
{
  ClientRun *run = data;
  g_autoptr (GSocket) probe = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  guint16 port;
  int reply;
  g_autoptr (GSocket) socket = NULL;

  /* a port that was just free: bound, never listened on */
  g_socket_bind (probe, any_port, FALSE, NULL);
  port = local_port (probe);
  socket = socks_connect_ipv4 (run->f, loopback4, port, &reply);
  return GINT_TO_POINTER (reply + 1);
}

static void
test_connect_refused (Fixture *f,
                      gconstpointer data)
{
  int reply = GPOINTER_TO_INT (run_client (f, connect_closed_port)) - 1;

  g_assert_cmpint (reply, ==, NFLTR_SOCKS5_REP_CONNECTION_REFUSED);
}

static gpointer
connect_not_allowed (gpointer data)
{
  ClientRun *run = data;
  int reply;
  g_autoptr (GSocket) socket = socks_connect_ipv4 (run->f, loopback4, run->f->download_port, &reply);

  return GINT_TO_POINTER (reply + 1);
}

static void
test_allow_excludes (Fixture *f,
                     gconstpointer data)
{
  int reply = GPOINTER_TO_INT (run_client (f, connect_not_allowed)) - 1;

  /* --allow 10.0.0.0/8: loopback is outside, the serve side says "prohibited" (ICMP 3/13) */
  g_assert_cmpint (reply, ==, NFLTR_SOCKS5_REP_NOT_ALLOWED);
  g_assert_cmpuint (nfltr_forwarder_get_refused (f->forwarder), ==, 1);
}

static gpointer
connect_own_address (gpointer data)
{
  ClientRun *run = data;
  const guint8 own[4] = { 100, 64, 0, 2 };
  int reply;
  g_autoptr (GSocket) socket = socks_connect_ipv4 (run->f, own, 80, &reply);

  return GINT_TO_POINTER (reply + 1);
}

static void
test_own_address (Fixture *f,
                  gconstpointer data)
{
  /* Debian's threaded liblwip aborted on a mailbox when a flow went to its own address */
  int reply = GPOINTER_TO_INT (run_client (f, connect_own_address)) - 1;

  g_assert_cmpint (reply, ==, NFLTR_SOCKS5_REP_CONNECTION_REFUSED);
}

typedef struct {
  const char *name;
  guint8 bytes[12];
  gsize len;
  int reply; /* -1: closed without a reply */
} BadRequest;

static const BadRequest bad_requests[] = {
  { "BIND", { 5, 2, 0, 1, 127, 0, 0, 1, 0, 80 }, 10, NFLTR_SOCKS5_REP_COMMAND_NOT_SUPPORTED },
  { "unknown command", { 5, 9, 0, 1, 127, 0, 0, 1, 0, 80 }, 10, NFLTR_SOCKS5_REP_COMMAND_NOT_SUPPORTED },
  { "address type 9", { 5, 1, 0, 9, 127, 0, 0, 1, 0, 80 }, 10, NFLTR_SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED },
  { "empty name", { 5, 1, 0, 3, 0, 0, 80 }, 7, NFLTR_SOCKS5_REP_HOST_UNREACHABLE },
  { "version 4 request", { 4, 1, 0, 1, 127, 0, 0, 1, 0, 80 }, 10, -1 },
};

static gpointer
send_bad_requests (gpointer data)
{
  ClientRun *run = data;

  for (guint i = 0; i < G_N_ELEMENTS (bad_requests); i++)
    {
      int reply;
      g_autoptr (GSocket) socket = socks_request (run->f, bad_requests[i].bytes, bad_requests[i].len, &reply);
      guint8 more;

      g_test_message ("%s: reply %d", bad_requests[i].name, reply);
      g_assert_cmpint (reply, ==, bad_requests[i].reply);
      /* and the server closed the connection */
      g_assert_cmpint (g_socket_receive (socket, (char *) &more, 1, NULL, NULL), ==, 0);
    }
  {
    /* a SOCKS4 greeting: closed without a word */
    g_autoptr (GSocket) socket = socks_socket (run->f);
    const guint8 greeting[] = { 4, 1, 0, 80, 127, 0, 0, 1, 0 };
    guint8 answer[8];

    send_all (socket, greeting, sizeof greeting);
    g_assert_cmpint (g_socket_receive (socket, (char *) answer, sizeof answer, NULL, NULL), ==, 0);
  }
  {
    /* username/password offered only: not configured, "no acceptable methods" */
    g_autoptr (GSocket) socket = socks_socket (run->f);
    const guint8 greeting[] = { 5, 1, 2 };
    guint8 answer[2];

    send_all (socket, greeting, sizeof greeting);
    g_assert_cmpuint (recv_all (socket, answer, 2), ==, 2);
    g_assert_cmpuint (answer[1], ==, 0xff);
  }
  return NULL;
}

static void
test_bad_requests (Fixture *f,
                   gconstpointer data)
{
  run_client (f, send_bad_requests);
}

static gpointer
udp_associate_echo (gpointer data)
{
  ClientRun *run = data;
  const guint8 request[10] = { 5, 3, 0, 1, 0, 0, 0, 0, 0, 0 };
  guint8 bound[10];
  int reply;
  g_autoptr (GSocket) control = socks_request_full (run->f, request, sizeof request, &reply, bound);
  g_autoptr (GSocket) udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GInetAddress) relay_ip = NULL;
  g_autoptr (GSocketAddress) relay = NULL;
  guint8 datagram[64] = { 0, 0, 0, 1, 127, 0, 0, 1 };
  guint8 back[128];
  const char *marker = "nfltr-udp-echo";
  gssize n = -1;
  gsize len;

  g_assert_cmpint (reply, ==, 0);
  g_assert_cmpuint (bound[3], ==, NFLTR_SOCKS5_ATYP_IPV4);
  /* the relay listens where we asked, on 127.0.0.1, on the port the reply names */
  relay_ip = g_inet_address_new_from_bytes (bound + 4, G_SOCKET_FAMILY_IPV4);
  g_assert_true (g_inet_address_get_is_loopback (relay_ip));
  relay = g_inet_socket_address_new (relay_ip, (guint16) (bound[8] << 8 | bound[9]));
  g_socket_bind (udp, any_port, FALSE, NULL);
  g_socket_set_timeout (udp, 2);
  datagram[8] = (guint8) (run->f->udp_echo_port >> 8);
  datagram[9] = (guint8) run->f->udp_echo_port;
  len = 10 + strlen (marker);
  memcpy (datagram + 10, marker, strlen (marker));
  /* UDP may lose a datagram: a few tries */
  for (guint attempt = 0; attempt < 5 && n < 0; attempt++)
    {
      g_socket_send_to (udp, relay, (const char *) datagram, len, NULL, NULL);
      n = g_socket_receive (udp, (char *) back, sizeof back, NULL, NULL);
    }
  g_assert_cmpint (n, ==, (gssize) len);
  /* RFC 1928 §7: the header names the source, the echo server */
  g_assert_cmpmem (back, 10, datagram, 10);
  g_assert_cmpmem (back + 10, strlen (marker), marker, strlen (marker));
  return NULL;
}

static void
test_udp_associate (Fixture *f,
                    gconstpointer data)
{
  run_client (f, udp_associate_echo);
}

/* RFC 1929 login on the server that requires it; returns the status byte, -1 if cut short. */
static int
socks_login (GSocket *socket, const char *user, const char *pass)
{
  const guint8 greeting[] = { 5, 2, 0, 2 }; /* offers no-auth too: the server must pick 2 */
  guint8 msg[600];
  guint8 answer[2];
  gsize len = 0;

  send_all (socket, greeting, sizeof greeting);
  if (recv_all (socket, answer, 2) != 2 || answer[1] != 2)
    return -1;
  msg[len++] = 1;
  msg[len++] = (guint8) strlen (user);
  memcpy (msg + len, user, strlen (user));
  len += strlen (user);
  msg[len++] = (guint8) strlen (pass);
  memcpy (msg + len, pass, strlen (pass));
  len += strlen (pass);
  send_all (socket, msg, len);
  return recv_all (socket, answer, 2) == 2 ? answer[1] : -1;
}

static GSocket *
auth_socket (Fixture *f)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (lo, f->auth_port);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);

  g_socket_set_timeout (socket, 20);
  g_assert_true (g_socket_connect (socket, address, NULL, NULL));
  return socket;
}

static gpointer
login_and_download (gpointer data)
{
  ClientRun *run = data;
  guint8 request[10] = { 5, 1, 0, 1, 127, 0, 0, 1 };
  guint8 answer[10];
  guint8 byte;
  gsize total;
  char *sha;

  {
    /* a wrong password: status 1 and the connection closed (RFC 1929 §2) */
    g_autoptr (GSocket) socket = auth_socket (run->f);

    g_assert_cmpint (socks_login (socket, "alice", "guess"), ==, 1);
    g_assert_cmpint (g_socket_receive (socket, (char *) &byte, 1, NULL, NULL), ==, 0);
  }
  {
    /* no-auth only: "no acceptable methods" */
    g_autoptr (GSocket) socket = auth_socket (run->f);
    const guint8 greeting[] = { 5, 1, 0 };

    send_all (socket, greeting, sizeof greeting);
    g_assert_cmpuint (recv_all (socket, answer, 2), ==, 2);
    g_assert_cmpuint (answer[1], ==, 0xff);
  }
  {
    g_autoptr (GSocket) socket = auth_socket (run->f);

    g_assert_cmpint (socks_login (socket, "alice", "s3cret"), ==, 0);
    request[8] = (guint8) (run->f->download_port >> 8);
    request[9] = (guint8) run->f->download_port;
    send_all (socket, request, sizeof request);
    g_assert_cmpuint (recv_all (socket, answer, 10), ==, 10);
    g_assert_cmpuint (answer[1], ==, 0);
    sha = download_sha256 (socket, &total);
    g_assert_cmpuint (total, ==, DOWNLOAD_SIZE);
  }
  return sha;
}

static void
test_username_password (Fixture *f, gconstpointer data)
{
  g_autofree char *expected = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, f->payload);
  g_autofree char *sha = run_client (f, login_and_download);

  g_assert_cmpstr (sha, ==, expected);
}

/* ---- the serve side under a SYN flood ---- */

static guint16
checksum_add (guint32 sum, const guint8 *data, gsize len)
{
  for (gsize i = 0; i + 1 < len; i += 2)
    sum += (guint32) (data[i] << 8 | data[i + 1]);
  if (len & 1)
    sum += (guint32) data[len - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint16) sum;
}

/* An IPv4 TCP SYN from 100.64.0.2:sport to 127.0.0.1:80, checksums right unless corrupt. */
static void
make_syn (guint8 packet[40], guint16 sport, gboolean corrupt)
{
  guint8 pseudo[12] = { 100, 64, 0, 2, 127, 0, 0, 1, 0, 6, 0, 20 };
  guint16 sum;

  memset (packet, 0, 40);
  packet[0] = 0x45;
  packet[3] = 40;
  packet[8] = 64;
  packet[9] = 6;
  memcpy (packet + 12, pseudo, 8);
  sum = ~checksum_add (0, packet, 20);
  packet[10] = (guint8) (sum >> 8);
  packet[11] = (guint8) sum;
  packet[20] = (guint8) (sport >> 8);
  packet[21] = (guint8) sport;
  packet[23] = 80;
  packet[24] = 0x12; /* any sequence number */
  packet[32] = 0x50; /* data offset 5 */
  packet[33] = 0x02; /* SYN */
  packet[34] = 0xff;
  packet[35] = 0xff;
  sum = ~checksum_add (checksum_add (0, pseudo, sizeof pseudo), packet + 20, 20);
  packet[36] = (guint8) (sum >> 8);
  packet[37] = (guint8) (sum ^ (corrupt ? 1 : 0));
}

static void
count_syn (NfltrNetstack *netstack, const NfltrFlowId *id, gpointer user_data)
{
  (*(guint *) user_data)++;
}

static const NfltrNetstackServeFuncs count_funcs = { .tcp_syn = count_syn };

static void
test_syn_flood_bounded (Fixture *f, gconstpointer data)
{
  guint8 packet[40];
  guint seen = 0;

  /* a serve side that never decides: every SYN stays pending */
  nfltr_netstack_set_serve (f->b, &count_funcs, &seen);
  make_syn (packet, 1000, TRUE);
  nfltr_netstack_input (f->b, packet, sizeof packet);
  g_assert_cmpuint (seen, ==, 0); /* a bad TCP checksum dials nothing */
  for (guint i = 0; i < 3000; i++)
    {
      make_syn (packet, (guint16) (1000 + i), FALSE);
      nfltr_netstack_input (f->b, packet, sizeof packet);
    }
  /* 1024 undecided at most (MAX_PENDING_SYNS); the rest dropped, the peer retransmits */
  g_assert_cmpuint (seen, ==, 1024);
  /* a retransmission of a pending one is not a new flow */
  make_syn (packet, 1000, FALSE);
  nfltr_netstack_input (f->b, packet, sizeof packet);
  g_assert_cmpuint (seen, ==, 1024);
  nfltr_netstack_set_serve (f->b, NULL, NULL);
}

static const NfltrTcpFlowFuncs ignore_funcs = { NULL };

static void
test_isn_unpredictable (Fixture *f,
                        gconstpointer data)
{
  guint small = 0;

  /* four connects in a row from the same peer to the same destination */
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr (GError) error = NULL;
      NfltrTcpFlow *flow = nfltr_netstack_tcp_connect (f->a, g_htonl (0x7f000001), f->download_port,
                                                       &ignore_funcs, NULL, &error);

      g_assert_no_error (error);
      nfltr_tcp_flow_abort (flow);
    }
  g_assert_cmpuint (f->a_to_b.syn_isns->len, ==, 4);
  /* RFC 6528: lwIP's own ISN grows by its tick count, so the next one is a few steps from the
   * last; a keyed hash of the 4-tuple is as good as random: all three steps below 2^24 happen
   * once in 2^24 runs */
  for (guint i = 1; i < 4; i++)
    {
      guint32 step = g_array_index (f->a_to_b.syn_isns, guint32, i) - g_array_index (f->a_to_b.syn_isns, guint32, i - 1);

      g_test_message ("ISN step %u: %u", i, step);
      if (step < (1u << 24))
        small++;
    }
  g_assert_cmpuint (small, <, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/wg-net/connect/download", Fixture, "127.0.0.0/8", fixture_set_up, test_connect_download,
              fixture_tear_down);
  g_test_add ("/wg-net/connect/by-name", Fixture, "127.0.0.0/8", fixture_set_up, test_connect_by_name,
              fixture_tear_down);
  g_test_add ("/wg-net/connect/refused", Fixture, "127.0.0.0/8", fixture_set_up, test_connect_refused,
              fixture_tear_down);
  g_test_add ("/wg-net/connect/own-address", Fixture, "127.0.0.0/8", fixture_set_up, test_own_address,
              fixture_tear_down);
  g_test_add ("/wg-net/tcp/isn", Fixture, "127.0.0.0/8", fixture_set_up, test_isn_unpredictable,
              fixture_tear_down);
  g_test_add ("/wg-net/serve/syn-flood-bounded", Fixture, "127.0.0.0/8", fixture_set_up, test_syn_flood_bounded,
              fixture_tear_down);
  g_test_add ("/wg-net/allow/excludes", Fixture, "10.0.0.0/8", fixture_set_up, test_allow_excludes,
              fixture_tear_down);
  g_test_add ("/wg-net/socks5/bad-requests", Fixture, "127.0.0.0/8", fixture_set_up, test_bad_requests,
              fixture_tear_down);
  g_test_add ("/wg-net/socks5/username-password", Fixture, "127.0.0.0/8", fixture_set_up,
              test_username_password, fixture_tear_down);
  g_test_add ("/wg-net/socks5/udp-associate", Fixture, "127.0.0.0/8", fixture_set_up, test_udp_associate,
              fixture_tear_down);
  return g_test_run ();
}
