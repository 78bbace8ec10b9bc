/* nfltr-wg-probe — drives our WireGuard device against a stock peer (wireguard-go) for
 * tests/integration/test_wg_interop.py: it handshakes, sends ICMP echo requests and UDP
 * datagrams as inner IPv4 packets, answers echo requests to its own address, and can roam,
 * rekey early, replay a captured data packet or force "under load". It prints one JSON
 * object with what it saw and exits 0 (the test judges the numbers). */
#define G_LOG_DOMAIN "nfltr-wg-probe"

#include "nfltr-wg-device.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define ICMP_ECHO_REQUEST 8
#define ICMP_ECHO_REPLY 0
#define PROBE_ICMP_ID 0x4e46
#define UDP_PAYLOAD "nfltr-wg-probe udp %u"

typedef struct {
  GMainLoop *loop;
  NfltrWgDevice *device;
  NfltrWgPeerId peer;
  guint32 address;     /* ours, network order */
  guint32 ping_target; /* network order, 0 = no pings */
  guint32 udp_target;
  guint16 udp_port;
  guint interval_ms;
  guint duration_s;
  char *roam_to;
  guint replay;
  gboolean own_transport;

  /* own transport: our socket, and the last data datagram that came in */
  GSocket *socket;
  GSource *socket_source;
  GBytes *last_data;
  GSocketAddress *last_from;

  gint64 start_us;
  gboolean roamed;
  guint sequence;
  guint pings_sent, pings_received;
  guint udp_sent, udp_received;
  guint echo_answered;
  guint replay_rx_before, replay_rx_after;
  guint64 replay_dropped_before, replay_dropped_after;
  gboolean replayed;
} Probe;

static guint16
checksum (const guint8 *data, gsize len)
{
  guint32 sum = 0;

  for (gsize i = 0; i + 1 < len; i += 2)
    sum += ((guint32) data[i] << 8) | data[i + 1];
  if (len & 1)
    sum += (guint32) data[len - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint16) ~sum;
}

static gsize
ipv4_header (guint8 *p, guint8 protocol, guint32 source, guint32 destination, gsize payload_len)
{
  gsize total = 20 + payload_len;
  guint16 sum;

  memset (p, 0, 20);
  p[0] = 0x45;
  p[2] = (guint8) (total >> 8);
  p[3] = (guint8) total;
  p[8] = 64;
  p[9] = protocol;
  memcpy (p + 12, &source, 4);
  memcpy (p + 16, &destination, 4);
  sum = checksum (p, 20);
  p[10] = (guint8) (sum >> 8);
  p[11] = (guint8) sum;
  return total;
}

static void
send_ping (Probe *probe)
{
  guint8 packet[20 + 8 + 32];
  guint8 *icmp = packet + 20;
  guint16 sum;

  memset (icmp, 0, 8 + 32);
  icmp[0] = ICMP_ECHO_REQUEST;
  icmp[4] = PROBE_ICMP_ID >> 8;
  icmp[5] = PROBE_ICMP_ID & 0xff;
  icmp[6] = (guint8) (probe->sequence >> 8);
  icmp[7] = (guint8) probe->sequence;
  memcpy (icmp + 8, "nfltr-wg-probe ping payload.....", 32);
  sum = checksum (icmp, 8 + 32);
  icmp[2] = (guint8) (sum >> 8);
  icmp[3] = (guint8) sum;
  ipv4_header (packet, 1, probe->address, probe->ping_target, 8 + 32);
  if (nfltr_wg_device_send (probe->device, probe->peer, packet, sizeof packet))
    probe->pings_sent++;
}

static void
send_udp (Probe *probe)
{
  g_autofree char *payload = g_strdup_printf (UDP_PAYLOAD, probe->sequence);
  gsize len = strlen (payload);
  g_autofree guint8 *packet = g_malloc0 (20 + 8 + len);
  guint8 *udp = packet + 20;

  udp[0] = 0xc3;
  udp[1] = 0x50; /* source port 50000 */
  udp[2] = (guint8) (probe->udp_port >> 8);
  udp[3] = (guint8) probe->udp_port;
  udp[4] = (guint8) ((8 + len) >> 8);
  udp[5] = (guint8) (8 + len);
  /* A zero UDP checksum means "none" over IPv4 (RFC 768). */
  memcpy (udp + 8, payload, len);
  ipv4_header (packet, 17, probe->address, probe->udp_target, 8 + len);
  if (nfltr_wg_device_send (probe->device, probe->peer, packet, 20 + 8 + len))
    probe->udp_sent++;
}

static void
receive_cb (NfltrWgDevice *device, NfltrWgPeerId peer, const guint8 *packet, gsize len, gpointer user_data)
{
  Probe *probe = user_data;
  gsize header_len;

  if (len < 20 || (packet[0] >> 4) != 4)
    return;
  header_len = (gsize) (packet[0] & 0x0f) * 4;
  if (len < header_len + 8 || memcmp (packet + 16, &probe->address, 4) != 0)
    return;

  if (packet[9] == 1 && packet[header_len] == ICMP_ECHO_REPLY &&
      ((packet[header_len + 4] << 8) | packet[header_len + 5]) == PROBE_ICMP_ID)
    probe->pings_received++;
  else if (packet[9] == 1 && packet[header_len] == ICMP_ECHO_REQUEST)
    {
      /* Answer an echo request to our address: swap the addresses, turn the type round. */
      g_autofree guint8 *reply = g_memdup2 (packet, len);
      guint16 sum;

      memcpy (reply + 12, packet + 16, 4);
      memcpy (reply + 16, packet + 12, 4);
      reply[10] = reply[11] = 0;
      sum = checksum (reply, header_len);
      reply[10] = (guint8) (sum >> 8);
      reply[11] = (guint8) sum;
      reply[header_len] = ICMP_ECHO_REPLY;
      reply[header_len + 2] = reply[header_len + 3] = 0;
      sum = checksum (reply + header_len, len - header_len);
      reply[header_len + 2] = (guint8) (sum >> 8);
      reply[header_len + 3] = (guint8) sum;
      if (nfltr_wg_device_send (device, peer, reply, len))
        probe->echo_answered++;
    }
  else if (packet[9] == 17 && len > header_len + 8 &&
           g_str_has_prefix ((const char *) packet + header_len + 8, "nfltr-wg-probe udp"))
    probe->udp_received++;
}

/* ---- our own transport: the device's transmit func and receive_datagram () --------------- */

static gboolean
transmit_cb (NfltrWgDevice *device, NfltrWgPeerId peer, GSocketAddress *endpoint, const guint8 *datagram, gsize len, gpointer user_data)
{
  Probe *probe = user_data;

  if (endpoint == NULL)
    return FALSE;
  return g_socket_send_to (probe->socket, endpoint, (const gchar *) datagram, len, NULL, NULL) >= 0;
}

static gboolean
own_socket_readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Probe *probe = user_data;
  guint8 buffer[65536];
  g_autoptr (GSocketAddress) from = NULL;
  gssize n = g_socket_receive_from (socket, &from, (gchar *) buffer, sizeof buffer, NULL, NULL);

  if (n <= 0)
    return G_SOURCE_CONTINUE;
  /* Keep a copy of the last data packet that carried something (a keepalive is 32 bytes). */
  if (buffer[0] == 4 && n > 32)
    {
      g_clear_pointer (&probe->last_data, g_bytes_unref);
      probe->last_data = g_bytes_new (buffer, n);
      g_set_object (&probe->last_from, from);
    }
  nfltr_wg_device_receive_datagram (probe->device, from, buffer, (gsize) n);
  return G_SOURCE_CONTINUE;
}

static gboolean
open_socket (Probe *probe, const char *listen, GError **error)
{
  g_autoptr (GInetSocketAddress) address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string (listen, 0));
  g_autoptr (GInetSocketAddress) with_port = NULL;

  if (address == NULL)
    {
      /* "IP:PORT" */
      g_autofree char *host = NULL;
      guint16 port = 0;
      GSocketConnectable *c = g_network_address_parse (listen, 0, error);

      if (c == NULL)
        return FALSE;
      host = g_strdup (g_network_address_get_hostname (G_NETWORK_ADDRESS (c)));
      port = g_network_address_get_port (G_NETWORK_ADDRESS (c));
      g_object_unref (c);
      with_port = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string (host, port));
      if (with_port == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad address %s", listen);
          return FALSE;
        }
      address = g_steal_pointer (&with_port);
    }

  if (!probe->own_transport)
    return nfltr_wg_device_bind (probe->device, address, error);

  if (probe->socket_source != NULL)
    {
      g_source_destroy (probe->socket_source);
      g_clear_pointer (&probe->socket_source, g_source_unref);
    }
  g_clear_object (&probe->socket);
  probe->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (probe->socket == NULL)
    return FALSE;
  g_socket_set_blocking (probe->socket, FALSE);
  if (!g_socket_bind (probe->socket, G_SOCKET_ADDRESS (address), FALSE, error))
    return FALSE;
  probe->socket_source = g_socket_create_source (probe->socket, G_IO_IN, NULL);
  g_source_set_callback (probe->socket_source, G_SOURCE_FUNC (own_socket_readable_cb), probe, NULL);
  g_source_attach (probe->socket_source, NULL);
  return TRUE;
}

static gboolean
tick_cb (gpointer user_data)
{
  Probe *probe = user_data;
  gint64 elapsed_ms = (g_get_monotonic_time () - probe->start_us) / 1000;
  NfltrWgPeerStats stats;

  if (probe->roam_to != NULL && !probe->roamed && elapsed_ms >= probe->duration_s * 500)
    {
      g_autoptr (GError) error = NULL;

      probe->roamed = TRUE;
      if (!open_socket (probe, probe->roam_to, &error))
        g_printerr ("roam: %s\n", error->message);
    }

  /* Traffic stops a second before the end so the last answers can arrive. */
  if (elapsed_ms + 1000 < probe->duration_s * 1000)
    {
      probe->sequence++;
      if (probe->ping_target != 0)
        send_ping (probe);
      if (probe->udp_target != 0)
        send_udp (probe);
    }
  else if (probe->replay > 0 && !probe->replayed)
    {
      probe->replayed = TRUE;
      nfltr_wg_device_get_peer_stats (probe->device, probe->peer, &stats);
      probe->replay_rx_before = stats.rx_packets;
      probe->replay_dropped_before = stats.dropped_replay;
      if (probe->last_data != NULL)
        for (guint i = 0; i < probe->replay; i++)
          nfltr_wg_device_receive_datagram (probe->device, probe->last_from, g_bytes_get_data (probe->last_data, NULL),
                                            g_bytes_get_size (probe->last_data));
      nfltr_wg_device_get_peer_stats (probe->device, probe->peer, &stats);
      probe->replay_rx_after = stats.rx_packets;
      probe->replay_dropped_after = stats.dropped_replay;
    }

  if (elapsed_ms >= probe->duration_s * 1000)
    {
      g_main_loop_quit (probe->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
parse_ipv4 (const char *text, guint32 *out)
{
  struct in_addr a;

  if (text == NULL || inet_pton (AF_INET, text, &a) != 1)
    return FALSE;
  *out = a.s_addr;
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *private_b64 = NULL, *peer_b64 = NULL, *endpoint = NULL, *listen = NULL;
  g_autofree char *address = NULL, *ping = NULL, *udp = NULL, *roam_to = NULL;
  g_auto (GStrv) allowed = NULL;
  int interval_ms = 200, duration_s = 5, rekey_after = 0, keepalive = 0, replay = 0;
  gboolean force_under_load = FALSE, own_transport = FALSE, initiate = FALSE;
  GOptionEntry entries[] = {
    { "private-key", 0, 0, G_OPTION_ARG_STRING, &private_b64, "our private key (base64)", "KEY" },
    { "peer", 0, 0, G_OPTION_ARG_STRING, &peer_b64, "the peer's public key (base64)", "KEY" },
    { "endpoint", 0, 0, G_OPTION_ARG_STRING, &endpoint, "the peer's IP:PORT", "ADDR" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "our IP:PORT", "ADDR" },
    { "address", 0, 0, G_OPTION_ARG_STRING, &address, "our inner IPv4 address", "IP" },
    { "allowed-ip", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed, "the peer's allowed IPs", "CIDR" },
    { "ping", 0, 0, G_OPTION_ARG_STRING, &ping, "send echo requests to IP", "IP" },
    { "udp", 0, 0, G_OPTION_ARG_STRING, &udp, "send UDP datagrams to IP:PORT (an echo server)", "ADDR" },
    { "interval", 0, 0, G_OPTION_ARG_INT, &interval_ms, "ms between probes", "MS" },
    { "duration", 0, 0, G_OPTION_ARG_INT, &duration_s, "seconds to run", "S" },
    { "rekey-after", 0, 0, G_OPTION_ARG_INT, &rekey_after, "REKEY_AFTER_TIME override", "S" },
    { "keepalive", 0, 0, G_OPTION_ARG_INT, &keepalive, "persistent keepalive", "S" },
    { "roam-to", 0, 0, G_OPTION_ARG_STRING, &roam_to, "move to IP:PORT half way", "ADDR" },
    { "replay", 0, 0, G_OPTION_ARG_INT, &replay, "at the end, replay the last data packet N times (own transport)", "N" },
    { "own-transport", 0, 0, G_OPTION_ARG_NONE, &own_transport, "our socket, the device's transmit func", NULL },
    { "force-under-load", 0, 0, G_OPTION_ARG_NONE, &force_under_load, "answer every handshake without mac2 with a cookie", NULL },
    { "initiate", 0, 0, G_OPTION_ARG_NONE, &initiate, "handshake at start", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— WireGuard interop probe");
  g_autoptr (GError) error = NULL;
  guint8 private_key[NFLTR_WG_KEY_LEN], peer_key[NFLTR_WG_KEY_LEN];
  Probe probe = { 0 };
  NfltrWgPeerStats stats;
  NfltrWgDeviceStats dstats;
  g_autoptr (GInetSocketAddress) peer_endpoint = NULL;
  g_autoptr (GInetSocketAddress) final_endpoint = NULL;
  g_autofree char *final_endpoint_text = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    goto fail;
  if (!nfltr_wg_key_from_base64 (private_b64, private_key, &error) || !nfltr_wg_key_from_base64 (peer_b64, peer_key, &error))
    goto fail;
  if (listen == NULL || !parse_ipv4 (address, &probe.address))
    {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "--listen and --address are required");
      goto fail;
    }

  probe.loop = g_main_loop_new (NULL, FALSE);
  probe.device = nfltr_wg_device_new (private_key);
  probe.own_transport = own_transport;
  probe.interval_ms = (guint) interval_ms;
  probe.duration_s = (guint) duration_s;
  probe.replay = (guint) replay;
  probe.roam_to = roam_to;
  if (ping != NULL && !parse_ipv4 (ping, &probe.ping_target))
    goto bad_arg;
  if (udp != NULL)
    {
      g_autofree char *host = g_strdup (udp);
      char *colon = strrchr (host, ':');

      if (colon == NULL)
        goto bad_arg;
      *colon = '\0';
      probe.udp_port = (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
      if (!parse_ipv4 (host, &probe.udp_target))
        goto bad_arg;
    }

  nfltr_wg_device_set_receive_func (probe.device, receive_cb, &probe, NULL);
  if (own_transport)
    nfltr_wg_device_set_transmit_func (probe.device, transmit_cb, &probe, NULL);
  nfltr_wg_device_set_force_under_load (probe.device, force_under_load);
  if (rekey_after > 0)
    nfltr_wg_device_set_rekey_after_time (probe.device, (guint) rekey_after);
  if (!open_socket (&probe, listen, &error))
    goto fail;

  if (endpoint != NULL)
    {
      g_autofree char *host = g_strdup (endpoint);
      char *colon = strrchr (host, ':');

      if (colon == NULL)
        goto bad_arg;
      *colon = '\0';
      peer_endpoint = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string (host, (guint) g_ascii_strtoull (colon + 1, NULL, 10)));
      if (peer_endpoint == NULL)
        goto bad_arg;
    }
  probe.peer = nfltr_wg_device_add_peer (probe.device, peer_key, NULL, peer_endpoint, (guint) keepalive, &error);
  if (probe.peer == 0)
    goto fail;
  for (guint i = 0; allowed != NULL && allowed[i] != NULL; i++)
    if (!nfltr_wg_device_add_allowed_ip (probe.device, probe.peer, allowed[i], &error))
      goto fail;
  /* The test waits for this line before it makes the stock peer talk to us. */
  printf ("{\"ready\": true}\n");
  fflush (stdout);
  if (initiate)
    nfltr_wg_device_initiate_handshake (probe.device, probe.peer);

  probe.start_us = g_get_monotonic_time ();
  g_timeout_add (probe.interval_ms, tick_cb, &probe);
  g_main_loop_run (probe.loop);

  nfltr_wg_device_get_peer_stats (probe.device, probe.peer, &stats);
  nfltr_wg_device_get_stats (probe.device, &dstats);
  final_endpoint = nfltr_wg_device_dup_endpoint (probe.device, probe.peer);
  if (final_endpoint != NULL)
    final_endpoint_text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (final_endpoint));
  printf (
    "{\"pings_sent\": %u, \"pings_received\": %u, \"udp_sent\": %u, \"udp_received\": %u, "
    "\"echo_answered\": %u, \"handshakes\": %" G_GUINT64_FORMAT ", \"rx_packets\": %" G_GUINT64_FORMAT ", "
    "\"tx_packets\": %" G_GUINT64_FORMAT ", \"dropped_replay\": %" G_GUINT64_FORMAT ", "
    "\"dropped_allowed_ips\": %" G_GUINT64_FORMAT ", \"dropped_invalid\": %" G_GUINT64_FORMAT ", "
    "\"cookie_replies_sent\": %" G_GUINT64_FORMAT ", \"handshakes_rejected\": %" G_GUINT64_FORMAT ", "
    "\"replay_captured\": %s, \"replay_rx_before\": %u, \"replay_rx_after\": %u, "
    "\"replay_dropped_before\": %" G_GUINT64_FORMAT ", \"replay_dropped_after\": %" G_GUINT64_FORMAT ", "
    "\"endpoint\": \"%s\", \"port\": %u}\n",
    probe.pings_sent, probe.pings_received, probe.udp_sent, probe.udp_received, probe.echo_answered,
    stats.handshakes_completed, stats.rx_packets, stats.tx_packets, stats.dropped_replay,
    stats.dropped_allowed_ips, dstats.dropped_invalid, dstats.cookie_replies_sent, dstats.handshakes_rejected,
    probe.last_data != NULL ? "true" : "false", probe.replay_rx_before, probe.replay_rx_after,
    probe.replay_dropped_before, probe.replay_dropped_after,
    final_endpoint_text != NULL ? final_endpoint_text : "", nfltr_wg_device_get_port (probe.device));

  if (probe.socket_source != NULL)
    {
      g_source_destroy (probe.socket_source);
      g_source_unref (probe.socket_source);
    }
  g_clear_object (&probe.socket);
  g_clear_pointer (&probe.last_data, g_bytes_unref);
  g_clear_object (&probe.last_from);
  g_object_unref (probe.device);
  g_main_loop_unref (probe.loop);
  roam_to = NULL; /* owned by probe.roam_to, same string */
  g_free (probe.roam_to);
  return 0;

bad_arg:
  g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad address argument");
fail:
  g_printerr ("nfltr-wg-probe: %s\n", error->message);
  return 2;
}
