/* wg-net-lab.c — one end of a two-process WireGuard-less lab for the netstack, until the
 * WireGuard device (service/wg/device) carries the packets: each UDP datagram on loopback is one
 * inner IPv4 packet. Used by tests/integration/test_wg_socks5.py and bench/wg-socks5/.
 *
 *   wg-net-lab serve  --address 100.64.0.1 --link-listen 127.0.0.1:PORT [--allow CIDR,...]
 *   wg-net-lab socks5 --address 100.64.0.2 --link-peer 127.0.0.1:PORT --dns 100.64.0.1
 *                     [--listen 127.0.0.1:0] [--username U --password P]
 *
 * --link-delay-ms N holds every packet this end sends for N ms (a delay line in the link
 * itself, for machines without netem: give each end half the round trip).
 *
 * Each prints one JSON line when ready ({"event":"ready", "address":…, "link-port"|"socks-port":…})
 * and runs until SIGTERM or SIGINT.
 */
#define G_LOG_DOMAIN "wg-net-lab"

#include <gio/gio.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nfltr-forwarder.h"
#include "nfltr-netstack.h"
#include "nfltr-socks5-server.h"

#define LAB_MTU 1420

typedef struct {
  GSocket *link;
  GSocketAddress *peer; /* the serve side learns it from the first datagram */
  NfltrNetstack *netstack;
  gboolean learn_peer;
  gint64 delay_us;
  GQueue delayed; /* DelayedPacket*, in sending order */
  GSource *delay_source;
} Lab;

typedef struct {
  gint64 due;
  GBytes *packet;
} DelayedPacket;

static gboolean
delay_dispatch_cb (gpointer user_data)
{
  Lab *lab = user_data;
  gint64 now = g_get_monotonic_time ();
  DelayedPacket *d;

  while ((d = g_queue_peek_head (&lab->delayed)) != NULL && d->due <= now)
    {
      g_queue_pop_head (&lab->delayed);
      if (lab->peer != NULL)
        g_socket_send_to (lab->link, lab->peer, g_bytes_get_data (d->packet, NULL),
                          g_bytes_get_size (d->packet), NULL, NULL);
      g_bytes_unref (d->packet);
      g_free (d);
    }
  g_source_set_ready_time (lab->delay_source, d != NULL ? d->due : -1);
  return G_SOURCE_CONTINUE;
}

static void
link_output (const guint8 *packet,
             gsize len,
             gpointer user_data)
{
  Lab *lab = user_data;

  if (lab->delay_us > 0)
    {
      DelayedPacket *d = g_new0 (DelayedPacket, 1);

      d->due = g_get_monotonic_time () + lab->delay_us;
      d->packet = g_bytes_new (packet, len);
      g_queue_push_tail (&lab->delayed, d);
      if (g_source_get_ready_time (lab->delay_source) < 0)
        g_source_set_ready_time (lab->delay_source, d->due);
      return;
    }
  if (lab->peer != NULL)
    g_socket_send_to (lab->link, lab->peer, (const char *) packet, len, NULL, NULL);
}

/* A source that fires at its ready time and nothing else. */
static gboolean
delay_source_dispatch (GSource *source,
                       GSourceFunc callback,
                       gpointer user_data)
{
  return callback (user_data);
}

static GSourceFuncs delay_source_funcs = {
  .dispatch = delay_source_dispatch,
};

static gboolean
link_input_cb (GSocket *socket,
               GIOCondition condition,
               gpointer user_data)
{
  Lab *lab = user_data;
  guint8 buf[65536];
  GSocketAddress *from = NULL;
  gssize n;

  while ((n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL)) > 0)
    {
      if (lab->learn_peer && lab->peer == NULL)
        lab->peer = g_object_ref (from);
      g_clear_object (&from);
      nfltr_netstack_input (lab->netstack, buf, (gsize) n);
    }
  g_clear_object (&from);
  return G_SOURCE_CONTINUE;
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static GSocketAddress *
parse_address (const char *text,
               GError **error)
{
  g_autoptr (GSocketConnectable) c = g_network_address_parse (text, 0, error);
  g_autoptr (GInetAddress) ip = NULL;

  if (c == NULL)
    return NULL;
  ip = g_inet_address_new_from_string (g_network_address_get_hostname (G_NETWORK_ADDRESS (c)));
  if (ip == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: not an IP address", text);
      return NULL;
    }
  return g_inet_socket_address_new (ip, g_network_address_get_port (G_NETWORK_ADDRESS (c)));
}

int
main (int argc,
      char **argv)
{
  g_autofree char *address = NULL;
  g_autofree char *link_listen = NULL;
  g_autofree char *link_peer = NULL;
  g_autofree char *dns = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *allow = NULL;
  g_autofree char *username = NULL;
  g_autofree char *password = NULL;
  gint delay_ms = 0;
  GOptionEntry entries[] = {
    { "address", 0, 0, G_OPTION_ARG_STRING, &address, "this peer's address", "IPv4" },
    { "link-listen", 0, 0, G_OPTION_ARG_STRING, &link_listen, "UDP address of the link", "IP:PORT" },
    { "link-peer", 0, 0, G_OPTION_ARG_STRING, &link_peer, "UDP address of the other end", "IP:PORT" },
    { "dns", 0, 0, G_OPTION_ARG_STRING, &dns, "the serve side's address", "IPv4" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "SOCKS5 listen address", "IP:PORT" },
    { "allow", 0, 0, G_OPTION_ARG_STRING, &allow, "what peers may reach", "CIDR,..." },
    { "username", 0, 0, G_OPTION_ARG_STRING, &username, "RFC 1929 user", "NAME" },
    { "password", 0, 0, G_OPTION_ARG_STRING, &password, "RFC 1929 password", "SECRET" },
    { "link-delay-ms", 0, 0, G_OPTION_ARG_INT, &delay_ms, "hold each sent packet this long", "MS" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("serve|socks5");
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GSocketAddress) bind_addr = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (NfltrForwarder) forwarder = NULL;
  g_autoptr (NfltrSocks5Server) socks = NULL;
  g_autoptr (NfltrNetstack) netstack = NULL;
  GSource *source;
  gboolean serve;
  Lab lab = { 0 };
  guint16 socks_port = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || address == NULL)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "usage: wg-net-lab serve|socks5 --address IPv4 …");
      return 2;
    }
  serve = g_str_equal (argv[1], "serve");

  lab.link = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  /* the dialling end sends from whatever address routes to its peer */
  bind_addr = parse_address (link_listen != NULL ? link_listen : link_peer != NULL ? "0.0.0.0:0" : "127.0.0.1:0", &error);
  if (lab.link == NULL || bind_addr == NULL || !g_socket_bind (lab.link, bind_addr, FALSE, &error))
    {
      g_printerr ("link: %s\n", error->message);
      return 1;
    }
  g_socket_set_blocking (lab.link, FALSE);
  /* bulk flows: room for a window's worth of datagrams either way */
  g_socket_set_option (lab.link, SOL_SOCKET, SO_RCVBUF, 8 << 20, NULL);
  g_socket_set_option (lab.link, SOL_SOCKET, SO_SNDBUF, 8 << 20, NULL);
  lab.learn_peer = serve;
  if (link_peer != NULL && (lab.peer = parse_address (link_peer, &error)) == NULL)
    {
      g_printerr ("--link-peer: %s\n", error->message);
      return 2;
    }
  netstack = nfltr_netstack_new (address, 10, LAB_MTU, link_output, &lab, &error);
  if (netstack == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  lab.netstack = netstack;
  g_queue_init (&lab.delayed);
  lab.delay_us = (gint64) MAX (delay_ms, 0) * 1000;
  lab.delay_source = g_source_new (&delay_source_funcs, sizeof (GSource));
  g_source_set_callback (lab.delay_source, delay_dispatch_cb, &lab, NULL);
  g_source_attach (lab.delay_source, NULL);
  source = g_socket_create_source (lab.link, G_IO_IN, NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (link_input_cb), &lab, NULL);
  g_source_attach (source, NULL);

  if (serve)
    {
      NfltrAllowList *list = nfltr_allow_list_parse (allow != NULL ? allow : NFLTR_FORWARDER_DEFAULT_ALLOW, &error);

      if (list == NULL || (forwarder = nfltr_forwarder_new (netstack, list, &error)) == NULL)
        {
          g_printerr ("%s\n", error->message);
          return 2;
        }
    }
  else
    {
      g_autoptr (GInetAddress) dns_ip = g_inet_address_new_from_string (dns != NULL ? dns : "100.64.0.1");
      g_autoptr (GSocketAddress) socks_addr = parse_address (listen != NULL ? listen : "127.0.0.1:0", &error);
      guint32 dns_u32;

      if (dns_ip == NULL || socks_addr == NULL)
        {
          g_printerr ("bad --dns or --listen\n");
          return 2;
        }
      memcpy (&dns_u32, g_inet_address_to_bytes (dns_ip), 4);
      nfltr_netstack_set_dns_server (netstack, dns_u32);
      socks = nfltr_socks5_server_new (netstack, username, password);
      socks_port = nfltr_socks5_server_listen (socks, socks_addr, &error);
      if (socks_port == 0)
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
    }

  local = g_socket_get_local_address (lab.link, NULL);
  if (serve)
    g_print ("{\"event\":\"ready\",\"address\":\"%s\",\"link-port\":%u}\n", address,
             g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  else
    g_print ("{\"event\":\"ready\",\"address\":\"%s\",\"socks-port\":%u}\n", address, socks_port);
  fflush (stdout);

  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_main_loop_run (loop);

  g_clear_pointer (&socks, nfltr_socks5_server_free);
  g_clear_pointer (&forwarder, nfltr_forwarder_free);
  g_clear_pointer (&netstack, nfltr_netstack_free);
  g_source_destroy (source);
  g_source_unref (source);
  g_source_destroy (lab.delay_source);
  g_source_unref (lab.delay_source);
  while (!g_queue_is_empty (&lab.delayed))
    {
      DelayedPacket *d = g_queue_pop_head (&lab.delayed);

      g_bytes_unref (d->packet);
      g_free (d);
    }
  g_clear_object (&lab.peer);
  g_clear_object (&lab.link);
  return 0;
}
