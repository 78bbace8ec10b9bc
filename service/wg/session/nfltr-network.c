/* nfltr-network.c — one WireGuard network: device + netstack + forwarder or SOCKS5 front,
 * joined through the relay (nfltr-network.h, docs/wireguard.md "Sessions").
 *
 * The relay gives this peer its address (WG_JOINED) and tells it whom to talk to (WG_PEER:
 * the serve side hears of every member, a peer of the serve side only). Every WireGuard
 * datagram goes to the relay, which routes it by its outer header: over UDP to the relay's
 * WireGuard port (the TLS port's number), or inside WG_PACKET frames on the control channel
 * where UDP does not pass (transmit_cb says how it decides). */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-network.h"

#include "nfltr-error.h"
#include "nfltr-forwarder.h"
#include "nfltr-netstack-wg.h"
#include "nfltr-socks5-server.h"
#include "nfltr-wg-device.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define UDP_SILENCE_US (3 * G_USEC_PER_SEC)
#define UDP_PROBE_US (5 * G_USEC_PER_SEC)
#define UDP_RETRY_US (30 * G_USEC_PER_SEC)
/* A peer behind NAT keeps its mapping at the relay alive (wg-quick's usual 25 s). */
#define PERSISTENT_KEEPALIVE_S 25
#define MAX_DATAGRAM 65535

typedef enum {
  TRANSPORT_UDP,     /* UDP answered recently */
  TRANSPORT_PROBING, /* both ways */
  TRANSPORT_WS,      /* WG_PACKET only */
} Transport;

typedef struct {
  char *public_key; /* base64 */
  guint8 key[NFLTR_WG_KEY_LEN];
  char *kind;
  char *label;
  char *address;    /* "100.64.0.2" */
  NfltrWgPeerId id; /* 0 until the device has it */
} NetworkPeer;

struct _NfltrNetwork {
  NfltrDbusNetworkSkeleton parent_instance;

  NfltrSession *session;
  NfltrNetworkConfig *config;
  guint8 private_key[NFLTR_WG_KEY_LEN];
  guint8 public_key[NFLTR_WG_KEY_LEN];

  NfltrRelayLink *link;
  guint handler_ids[3];
  GCancellable *cancellable; /* the join in flight, the resolve */
  gboolean joining;
  gboolean failed;
  gboolean shut_down;

  char *address; /* "100.64.0.1" */
  guint prefix;
  GInetSocketAddress *relay_udp;

  NfltrWgDevice *device;
  NfltrNetstackWg *netstack;
  NfltrForwarder *forwarder;
  NfltrSocks5Server *socks5;
  GSocket *udp;
  GSource *udp_source;
  guint8 *buffer;
  Transport transport;
  gint64 transport_since;
  gint64 udp_unanswered_since;

  GHashTable *peers; /* base64 key → NetworkPeer* */
  guint stats_id;
  guint handshake_watch_id;
  guint64 handshakes_at_join;
};

enum {
  SIGNAL_JOINED,
  SIGNAL_FAILED,
  SIGNAL_LEAVE,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void network_iface_init (NfltrDbusNetworkIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrNetwork, nfltr_network, NFLTR_DBUS_TYPE_NETWORK_SKELETON,
                               G_IMPLEMENT_INTERFACE (NFLTR_DBUS_TYPE_NETWORK, network_iface_init))

static void join (NfltrNetwork *self);

void
nfltr_network_config_free (NfltrNetworkConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->id);
  g_free (config->name);
  g_free (config->role);
  g_free (config->private_key);
  g_free (config->allow);
  g_free (config->listen);
  g_free (config->username);
  g_free (config->password);
  g_free (config);
}

static NfltrNetworkConfig *
config_copy (const NfltrNetworkConfig *c)
{
  NfltrNetworkConfig *copy = g_new0 (NfltrNetworkConfig, 1);

  copy->id = g_strdup (c->id);
  copy->name = g_strdup (c->name);
  copy->role = g_strdup (c->role);
  copy->private_key = g_strdup (c->private_key);
  copy->allow = g_strdup (c->allow);
  copy->listen = g_strdup (c->listen);
  copy->username = g_strdup (c->username);
  copy->password = g_strdup (c->password);
  return copy;
}

static void
peer_free (NetworkPeer *peer)
{
  g_free (peer->public_key);
  g_free (peer->kind);
  g_free (peer->label);
  g_free (peer->address);
  g_free (peer);
}

static gboolean
is_serve (NfltrNetwork *self)
{
  return g_str_equal (self->config->role, NFLTR_NETWORK_ROLE_SERVE);
}

static void
set_state (NfltrNetwork *self, const char *state, const char *error)
{
  NfltrDbusNetwork *dbus = NFLTR_DBUS_NETWORK (self);

  nfltr_dbus_network_set_state (dbus, state);
  if (error != NULL)
    nfltr_dbus_network_set_last_error (dbus, error);
}

/* ---- the transport to the relay ---------------------------------------------------------- */

static gboolean
send_ws (NfltrNetwork *self, const guint8 *datagram, gsize len)
{
  g_autoptr(NfltrFrame) frame = NULL;

  if (self->link == NULL)
    return FALSE;
  frame = nfltr_frame_new (NFLTR_FRAME_WG_PACKET);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->config->name);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, datagram, len);
  return nfltr_relay_link_send (self->link, frame);
}

static gboolean
send_udp (NfltrNetwork *self, const guint8 *datagram, gsize len)
{
  g_autoptr(GError) error = NULL;

  if (self->udp == NULL || self->relay_udp == NULL)
    return FALSE;
  return g_socket_send_to (self->udp, G_SOCKET_ADDRESS (self->relay_udp), (const char *) datagram, len, NULL,
                           &error) == (gssize) len;
}

static const char *
transport_name (Transport transport)
{
  switch (transport)
    {
      case TRANSPORT_UDP: return "udp";
      case TRANSPORT_WS: return "websocket";
      case TRANSPORT_PROBING: return "probing";
      default: g_assert_not_reached ();
    }
}

static void
set_transport (NfltrNetwork *self, Transport transport)
{
  self->udp_unanswered_since = 0;
  if (self->transport == transport)
    return;
  self->transport = transport;
  self->transport_since = g_get_monotonic_time ();
  nfltr_dbus_network_set_transport (NFLTR_DBUS_NETWORK (self), transport_name (transport));
  g_message ("network %s: WireGuard datagrams go %s", self->config->name,
             transport == TRANSPORT_UDP  ? "over UDP"
             : transport == TRANSPORT_WS ? "over the control channel (nothing came back over UDP)"
                                         : "both ways until UDP answers");
}

/* UDP while it answers; when it stays silent while we send, both ways (the receiver drops the
 * second copy: data by its replay window, handshake messages by their own checks) until UDP
 * answers or UDP_PROBE_US passed; then the control channel alone, probing again every
 * UDP_RETRY_US. */
static gboolean
transmit_cb (NfltrWgDevice *device, NfltrWgPeerId peer, GSocketAddress *endpoint, const guint8 *datagram,
             gsize len, gpointer user_data)
{
  NfltrNetwork *self = user_data;
  gint64 now = g_get_monotonic_time ();

  switch (self->transport)
    {
      case TRANSPORT_UDP:
        if (self->udp_unanswered_since == 0)
          self->udp_unanswered_since = now;
        else if (now - self->udp_unanswered_since > UDP_SILENCE_US)
          {
            set_transport (self, TRANSPORT_PROBING);
            send_ws (self, datagram, len);
          }
        return send_udp (self, datagram, len);
      case TRANSPORT_PROBING:
        if (now - self->transport_since > UDP_PROBE_US)
          {
            set_transport (self, TRANSPORT_WS);
            return send_ws (self, datagram, len);
          }
        send_udp (self, datagram, len);
        return send_ws (self, datagram, len);
      case TRANSPORT_WS:
        if (now - self->transport_since > UDP_RETRY_US)
          {
            set_transport (self, TRANSPORT_PROBING);
            send_udp (self, datagram, len);
          }
        return send_ws (self, datagram, len);
      default: g_assert_not_reached ();
    }
}

static gboolean
udp_read_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  NfltrNetwork *self = user_data;

  for (guint i = 0; i < 64 && self->device != NULL; i++)
    {
      gssize n = g_socket_receive_with_blocking (socket, (char *) self->buffer, MAX_DATAGRAM, FALSE, NULL, NULL);

      if (n < 0)
        break;
      set_transport (self, TRANSPORT_UDP);
      nfltr_wg_device_receive_datagram (self->device, G_SOCKET_ADDRESS (self->relay_udp), self->buffer, n);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- peers ------------------------------------------------------------------------------- */

static void
sync_peer (NfltrNetwork *self, NetworkPeer *peer)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cidr = NULL;
  gboolean peer_is_serve = g_str_equal (peer->kind, "serve");

  if (self->device == NULL || peer->id != 0)
    return;
  /* The network is a star: a peer talks to the serve side only, the serve side to everyone. */
  if (!is_serve (self) && !peer_is_serve)
    return;
  peer->id = nfltr_wg_device_add_peer (self->device, peer->key, NULL, self->relay_udp,
                                       is_serve (self) ? 0 : PERSISTENT_KEEPALIVE_S, &error);
  if (peer->id == 0)
    {
      g_warning ("network %s: peer %s: %s", self->config->name, peer->public_key, error->message);
      return;
    }
  /* A peer sends everything to the serve side, which is the exit; the serve side admits from
   * each peer only its own address (cryptokey routing, paper §3). */
  cidr = is_serve (self) ? g_strdup_printf ("%s/32", peer->address) : g_strdup ("0.0.0.0/0");
  if (!nfltr_wg_device_add_allowed_ip (self->device, peer->id, cidr, &error))
    g_warning ("network %s: %s: %s", self->config->name, cidr, error->message);
  if (!is_serve (self) && self->netstack != NULL)
    {
      guint32 dns = 0;
      g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (peer->address);

      /* Names are resolved on the serve side (docs/wireguard.md "SOCKS5 front"). */
      if (inet != NULL)
        memcpy (&dns, g_inet_address_to_bytes (inet), 4);
      nfltr_netstack_set_dns_server (nfltr_netstack_wg_get_netstack (self->netstack), dns);
    }
}

static void
update_peers (NfltrNetwork *self)
{
  GVariantBuilder b;
  GHashTableIter iter;
  NetworkPeer *peer;
  g_autoptr(GVariant) value = NULL;
  GVariant *current;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sssssxtt)"));
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
    {
      NfltrWgPeerStats stats = { 0 };
      g_autoptr(GInetSocketAddress) endpoint = NULL;
      g_autofree char *endpoint_text = NULL;

      if (self->device != NULL && peer->id != 0)
        {
          nfltr_wg_device_get_peer_stats (self->device, peer->id, &stats);
          endpoint = nfltr_wg_device_dup_endpoint (self->device, peer->id);
        }
      if (endpoint != NULL)
        {
          g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (endpoint));

          endpoint_text = g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (endpoint));
        }
      g_variant_builder_add (&b, "(sssssxtt)", peer->public_key, peer->label, peer->kind, peer->address,
                             endpoint_text ? endpoint_text : "", stats.last_handshake_unix, stats.rx_bytes,
                             stats.tx_bytes);
    }
  value = g_variant_ref_sink (g_variant_builder_end (&b));
  current = nfltr_dbus_network_get_peers (NFLTR_DBUS_NETWORK (self));
  if (current == NULL || !g_variant_equal (current, value))
    nfltr_dbus_network_set_peers (NFLTR_DBUS_NETWORK (self), value);
}

static gboolean
stats_cb (gpointer user_data)
{
  NfltrNetwork *self = user_data;

  /* A probe that UDP did not answer ends even when nothing is being sent. */
  if (self->transport == TRANSPORT_PROBING && g_get_monotonic_time () - self->transport_since > UDP_PROBE_US)
    set_transport (self, TRANSPORT_WS);
  update_peers (self);
  return G_SOURCE_CONTINUE;
}

/* ---- the runtime: device, netstack, forwarder or SOCKS5 ---------------------------------- */

static void
runtime_stop (NfltrNetwork *self)
{
  GHashTableIter iter;
  NetworkPeer *peer;

  g_clear_pointer (&self->socks5, nfltr_socks5_server_free);
  g_clear_pointer (&self->forwarder, nfltr_forwarder_free);
  g_clear_pointer (&self->netstack, nfltr_netstack_wg_free);
  if (self->udp_source != NULL)
    {
      g_source_destroy (self->udp_source);
      g_clear_pointer (&self->udp_source, g_source_unref);
    }
  if (self->udp != NULL)
    g_socket_close (self->udp, NULL);
  g_clear_object (&self->udp);
  g_clear_object (&self->device);
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
    peer->id = 0;
}

static gboolean
parse_listen (const char *listen, GSocketAddress **address, GError **error)
{
  const char *colon = listen ? strrchr (listen, ':') : NULL;
  g_autofree char *host = NULL;
  guint64 port;

  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "--listen: “%s” is not IP:PORT",
                   listen ? listen : "");
      return FALSE;
    }
  host = g_strndup (listen, colon - listen);
  if (host[0] == '[' && g_str_has_suffix (host, "]"))
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);

      g_free (host);
      host = inner;
    }
  *address = g_inet_socket_address_new_from_string (host, (guint) port);
  if (*address == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "--listen: “%s” is not an IP address",
                   host);
      return FALSE;
    }
  return TRUE;
}

static gboolean
runtime_start (NfltrNetwork *self, GError **error)
{
  g_autoptr(GSocketAddress) any = NULL;
  g_autoptr(GInetAddress) any_inet = NULL;
  GHashTableIter iter;
  NetworkPeer *peer;

  self->device = nfltr_wg_device_new (self->private_key);
  nfltr_wg_device_set_transmit_func (self->device, transmit_cb, self, NULL);

  self->udp = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (self->relay_udp)),
                            G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (self->udp == NULL)
    return FALSE;
  g_socket_set_blocking (self->udp, FALSE);
  /* room for a window's worth of datagrams between two turns of the main loop (best effort:
   * the kernel caps it at net.core.[rw]mem_max) */
  g_socket_set_option (self->udp, SOL_SOCKET, SO_RCVBUF, 4 * 1024 * 1024, NULL);
  g_socket_set_option (self->udp, SOL_SOCKET, SO_SNDBUF, 4 * 1024 * 1024, NULL);
  any_inet = g_inet_address_new_any (g_socket_address_get_family (G_SOCKET_ADDRESS (self->relay_udp)));
  any = g_inet_socket_address_new (any_inet, 0);
  if (!g_socket_bind (self->udp, any, FALSE, error))
    return FALSE;
  self->udp_source = g_socket_create_source (self->udp, G_IO_IN, NULL);
  g_source_set_callback (self->udp_source, G_SOURCE_FUNC (udp_read_cb), self, NULL);
  g_source_attach (self->udp_source, NULL);
  /* Both ways until UDP proves itself: the first handshake completes whichever passes. */
  self->transport = TRANSPORT_UDP;
  set_transport (self, TRANSPORT_PROBING);

  self->netstack = nfltr_netstack_wg_new (self->device, self->address, self->prefix, error);
  if (self->netstack == NULL)
    return FALSE;
  if (is_serve (self))
    {
      NfltrAllowList *allow = nfltr_allow_list_parse (self->config->allow ? self->config->allow
                                                                          : NFLTR_FORWARDER_DEFAULT_ALLOW,
                                                      error);

      if (allow == NULL)
        return FALSE;
      self->forwarder = nfltr_forwarder_new (nfltr_netstack_wg_get_netstack (self->netstack), allow, error);
      if (self->forwarder == NULL)
        return FALSE;
    }
  else
    {
      g_autoptr(GSocketAddress) listen = NULL;

      if (!parse_listen (self->config->listen, &listen, error))
        return FALSE;
      self->socks5 = nfltr_socks5_server_new (nfltr_netstack_wg_get_netstack (self->netstack),
                                              self->config->username, self->config->password);
      if (nfltr_socks5_server_listen (self->socks5, listen, error) == 0)
        return FALSE;
    }
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
    sync_peer (self, peer);
  return TRUE;
}

/* ---- joining ----------------------------------------------------------------------------- */

static void
fail (NfltrNetwork *self, const char *message)
{
  self->failed = TRUE;
  set_state (self, "failed", message);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, message);
}

static NetworkPeer *
serve_peer (NfltrNetwork *self)
{
  GHashTableIter iter;
  NetworkPeer *peer;

  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &peer))
    if (peer->id != 0 && g_str_equal (peer->kind, "serve"))
      return peer;
  return NULL;
}

static guint64
serve_handshakes (NfltrNetwork *self)
{
  NetworkPeer *peer = serve_peer (self);
  NfltrWgPeerStats stats = { 0 };

  if (peer != NULL && self->device != NULL)
    nfltr_wg_device_get_peer_stats (self->device, peer->id, &stats);
  return stats.handshakes_completed;
}

static void handshake_with (NfltrNetwork *self, NetworkPeer *peer);

static gboolean
handshake_watch_cb (gpointer user_data)
{
  NfltrNetwork *self = user_data;

  if (serve_handshakes (self) <= self->handshakes_at_join)
    {
      NetworkPeer *serve = serve_peer (self);

      /* The device sends at most one initiation per REKEY_TIMEOUT (paper §6.4) and ignores
       * the rest; one lost to a restarting relay is sent again here once that has passed. */
      if (serve != NULL)
        handshake_with (self, serve);
      return G_SOURCE_CONTINUE;
    }
  self->handshake_watch_id = 0;
  set_state (self, "online", "");
  g_signal_emit (self, signals[SIGNAL_JOINED], 0);
  return G_SOURCE_REMOVE;
}

/* The serve side is online once the relay gave it its address. A peer is online once it has
 * handshaken with the serve side since it (re)joined: only then does a SOCKS5 client get
 * through at once (a relay that restarted has lost the sessions). */
static void
online_when_usable (NfltrNetwork *self)
{
  if (is_serve (self))
    {
      set_state (self, "online", "");
      g_signal_emit (self, signals[SIGNAL_JOINED], 0);
      return;
    }
  self->handshakes_at_join = serve_handshakes (self);
  set_state (self, "connecting", "waiting for the serve side's handshake");
  if (self->handshake_watch_id == 0)
    self->handshake_watch_id = g_timeout_add (100, handshake_watch_cb, self);
}

static void
joined_with_udp (NfltrNetwork *self, const char *address, guint prefix)
{
  g_autoptr(GError) error = NULL;

  /* The relay keeps a member's address; a different one (a reset relay.db) rebuilds. */
  if (self->device != NULL && g_strcmp0 (self->address, address) == 0 && self->prefix == prefix)
    {
      online_when_usable (self);
      return;
    }
  runtime_stop (self);
  g_free (self->address);
  self->address = g_strdup (address);
  self->prefix = prefix;
  if (!runtime_start (self, &error))
    {
      runtime_stop (self);
      fail (self, error->message);
      return;
    }
  {
    g_autofree char *text = g_strdup_printf ("%s/%u", address, prefix);

    nfltr_dbus_network_set_address (NFLTR_DBUS_NETWORK (self), text);
  }
  g_message ("network %s: joined as %s/%u (%s)", self->config->name, address, prefix, self->config->role);
  online_when_usable (self);
}

typedef struct {
  NfltrNetwork *self;
  char         *address;
  guint         prefix;
  guint16       port;
} Resolving;

static void
resolve_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Resolving *r = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);

  if (addresses != NULL && !g_cancellable_is_cancelled (r->self->cancellable))
    {
      g_clear_object (&r->self->relay_udp);
      r->self->relay_udp = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (addresses->data, r->port));
      joined_with_udp (r->self, r->address, r->prefix);
    }
  else if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    set_state (r->self, "connecting", error->message);
  g_resolver_free_addresses (addresses);
  g_object_unref (r->self);
  g_free (r->address);
  g_free (r);
}

static void
joined (NfltrNetwork *self, const char *cidr, guint16 port)
{
  const char *slash = strchr (cidr, '/');
  g_autofree char *address = slash ? g_strndup (cidr, slash - cidr) : g_strdup (cidr);
  guint prefix = slash ? (guint) atoi (slash + 1) : 32;
  const char *host = nfltr_relay_link_get_host (self->link);
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (host);
  Resolving *r;

  if (inet == NULL && (g_ascii_strcasecmp (host, "localhost") == 0 || g_str_has_suffix (host, ".localhost")))
    inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  if (inet != NULL)
    {
      g_clear_object (&self->relay_udp);
      self->relay_udp = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (inet, port));
      joined_with_udp (self, address, prefix);
      return;
    }
  r = g_new0 (Resolving, 1);
  r->self = g_object_ref (self);
  r->address = g_steal_pointer (&address);
  r->prefix = prefix;
  r->port = port;
  g_resolver_lookup_by_name_async (g_resolver_get_default (), host, self->cancellable, resolve_cb, r);
  g_object_unref (g_resolver_get_default ());
}

/* An ERROR frame (or a failed request) as a GError of our domain. */
static GError *
error_from_reply (const NfltrFrame *reply)
{
  const char *message = nfltr_frame_get_string (reply, NFLTR_ATTR_MESSAGE);
  guint16 code = 0;

  nfltr_frame_get_u16 (reply, NFLTR_ATTR_CODE, &code);
  switch (code)
    {
      case NFLTR_PROTO_ERR_NAME_TAKEN:
        return g_error_new_literal (NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN, message);
      case NFLTR_PROTO_ERR_BAD_NAME: return g_error_new_literal (NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND, message);
      case NFLTR_PROTO_ERR_LIMIT: return g_error_new_literal (NFLTR_ERROR, NFLTR_ERROR_LIMIT, message);
      case NFLTR_PROTO_ERR_UNSUPPORTED_FRAME:
        return g_error_new_literal (NFLTR_ERROR, NFLTR_ERROR_FAILED,
                                    "the relay does not offer WireGuard networks");
      default: return g_error_new (NFLTR_ERROR, NFLTR_ERROR_FAILED, "relay: %s", message ? message : "error");
    }
}

static void
join_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (NfltrNetwork) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);
  guint16 port = 0;

  self->joining = FALSE;
  if (self->shut_down)
    return;
  if (reply == NULL)
    {
      set_state (self, "connecting", error->message);
      return;
    }
  if (nfltr_frame_get_type (reply) != NFLTR_FRAME_WG_JOINED)
    {
      g_autoptr(GError) refusal = error_from_reply (reply);

      /* A refusal about the name is for good; anything else is tried at the next connect. */
      if (g_error_matches (refusal, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN) ||
          g_error_matches (refusal, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND) ||
          g_error_matches (refusal, NFLTR_ERROR, NFLTR_ERROR_FAILED))
        fail (self, refusal->message);
      else
        set_state (self, "connecting", refusal->message);
      return;
    }
  nfltr_frame_get_u16 (reply, NFLTR_ATTR_WG_PORT, &port);
  joined (self, nfltr_frame_get_string (reply, NFLTR_ATTR_WG_ADDRESS), port);
}

static void
join (NfltrNetwork *self)
{
  g_autoptr(NfltrFrame) frame = NULL;
  g_autofree char *key = NULL;

  if (self->link == NULL || self->joining || self->failed || self->shut_down ||
      nfltr_relay_link_get_state (self->link) != NFLTR_RELAY_LINK_CONNECTED)
    return;
  key = nfltr_wg_key_to_base64 (self->public_key);
  frame = nfltr_frame_new (NFLTR_FRAME_WG_JOIN);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, self->config->name);
  nfltr_frame_set_string (frame, NFLTR_ATTR_KIND, is_serve (self) ? "serve" : "peer");
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, key);
  self->joining = TRUE;
  nfltr_relay_link_request_async (self->link, frame, self->cancellable, join_cb, g_object_ref (self));
}

/* ---- frames from the relay --------------------------------------------------------------- */

static gboolean
is_ours (NfltrNetwork *self, const NfltrFrame *frame, NfltrAttrType attr)
{
  return g_strcmp0 (nfltr_frame_get_string (frame, attr), self->config->name) == 0;
}

static gboolean
packet_cb (NfltrRelayLink *link, const NfltrFrame *frame, gpointer user_data)
{
  NfltrNetwork *self = user_data;
  const guint8 *data;
  gsize len;

  if (!is_ours (self, frame, NFLTR_ATTR_PEER_ID))
    return FALSE;
  data = nfltr_frame_get_bytes (frame, NFLTR_ATTR_DATA, &len);
  if (self->device != NULL && self->relay_udp != NULL)
    nfltr_wg_device_receive_datagram (self->device, G_SOCKET_ADDRESS (self->relay_udp), data, len);
  return TRUE;
}

/* The relay announces a peer when it joins or rejoins — also after the relay restarted and
 * forgot every session's indices: a handshake now teaches it the new ones at once, instead of
 * after REKEY_TIMEOUT + KEEPALIVE_TIMEOUT of silence (paper §6.2). Only the peer initiates,
 * towards the serve side: two initiations crossing would each overwrite the other side's
 * handshake, and only the retransmit timer's jitter would break the tie, seconds later. */
static void
handshake_with (NfltrNetwork *self, NetworkPeer *peer)
{
  if (self->device != NULL && peer->id != 0 && !is_serve (self) && g_str_equal (peer->kind, "serve"))
    nfltr_wg_device_initiate_handshake (self->device, peer->id);
}

static gboolean
peer_cb (NfltrRelayLink *link, const NfltrFrame *frame, gpointer user_data)
{
  NfltrNetwork *self = user_data;
  const char *key_b64 = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  const char *label = nfltr_frame_get_string (frame, NFLTR_ATTR_WG_LABEL);
  NetworkPeer *peer;
  guint8 key[NFLTR_WG_KEY_LEN];

  if (!is_ours (self, frame, NFLTR_ATTR_NAME))
    return FALSE;
  if (!nfltr_wg_key_from_base64 (key_b64, key, NULL) || memcmp (key, self->public_key, sizeof key) == 0)
    return TRUE;
  peer = g_hash_table_lookup (self->peers, key_b64);
  if (peer != NULL && g_strcmp0 (peer->address, nfltr_frame_get_string (frame, NFLTR_ATTR_WG_ADDRESS)) == 0)
    {
      handshake_with (self, peer);
      return TRUE;
    }
  if (peer != NULL)
    {
      if (self->device != NULL && peer->id != 0)
        nfltr_wg_device_remove_peer (self->device, peer->id);
      g_hash_table_remove (self->peers, key_b64);
    }
  peer = g_new0 (NetworkPeer, 1);
  peer->public_key = g_strdup (key_b64);
  memcpy (peer->key, key, sizeof key);
  peer->kind = g_strdup (nfltr_frame_get_string (frame, NFLTR_ATTR_KIND));
  peer->label = g_strdup (label ? label : "");
  peer->address = g_strdup (nfltr_frame_get_string (frame, NFLTR_ATTR_WG_ADDRESS));
  g_hash_table_insert (self->peers, peer->public_key, peer);
  g_debug ("network %s: peer %s at %s (%s)", self->config->name, key_b64, peer->address, peer->kind);
  sync_peer (self, peer);
  handshake_with (self, peer);
  update_peers (self);
  return TRUE;
}

static gboolean
peer_gone_cb (NfltrRelayLink *link, const NfltrFrame *frame, gpointer user_data)
{
  NfltrNetwork *self = user_data;
  const char *key_b64 = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  NetworkPeer *peer;

  if (!is_ours (self, frame, NFLTR_ATTR_NAME))
    return FALSE;
  peer = g_hash_table_lookup (self->peers, key_b64);
  if (peer != NULL)
    {
      if (self->device != NULL && peer->id != 0)
        nfltr_wg_device_remove_peer (self->device, peer->id);
      g_hash_table_remove (self->peers, key_b64);
      update_peers (self);
    }
  return TRUE;
}

/* ---- following the session's link -------------------------------------------------------- */

static void
detach_link (NfltrNetwork *self)
{
  if (self->link == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (self->handler_ids); i++)
    if (self->handler_ids[i] != 0)
      nfltr_relay_link_remove_frame_handler (self->link, self->handler_ids[i]);
  memset (self->handler_ids, 0, sizeof self->handler_ids);
  g_clear_object (&self->link);
}

static void
attach_link (NfltrNetwork *self)
{
  NfltrRelayLink *link = nfltr_session_get_link (self->session);

  if (link == self->link)
    return;
  detach_link (self);
  if (link == NULL)
    return;
  self->link = g_object_ref (link);
  self->handler_ids[0] = nfltr_relay_link_add_frame_handler (link, NFLTR_FRAME_WG_PACKET, packet_cb, self);
  self->handler_ids[1] = nfltr_relay_link_add_frame_handler (link, NFLTR_FRAME_WG_PEER, peer_cb, self);
  self->handler_ids[2] = nfltr_relay_link_add_frame_handler (link, NFLTR_FRAME_WG_PEER_GONE, peer_gone_cb, self);
}

static void
link_adopted_cb (NfltrSession *session, NfltrNetwork *self)
{
  attach_link (self);
  join (self);
}

static void
link_state_changed_cb (NfltrSession *session, NfltrNetwork *self)
{
  attach_link (self);
  if (self->link != NULL && nfltr_relay_link_get_state (self->link) == NFLTR_RELAY_LINK_CONNECTED)
    join (self);
  else if (!self->failed)
    {
      g_clear_handle_id (&self->handshake_watch_id, g_source_remove);
      set_state (self, "connecting", NULL);
    }
}

void
nfltr_network_start (NfltrNetwork *self)
{
  g_signal_connect_object (self->session, "link-adopted", G_CALLBACK (link_adopted_cb), self, 0);
  g_signal_connect_object (self->session, "link-state-changed", G_CALLBACK (link_state_changed_cb), self, 0);
  self->stats_id = g_timeout_add_seconds (1, stats_cb, self);
  attach_link (self);
  join (self);
}

void
nfltr_network_shutdown (NfltrNetwork *self)
{
  self->shut_down = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_handle_id (&self->stats_id, g_source_remove);
  g_clear_handle_id (&self->handshake_watch_id, g_source_remove);
  detach_link (self);
  runtime_stop (self);
}

/* ---- D-Bus methods ----------------------------------------------------------------------- */

typedef struct {
  NfltrNetwork          *self;
  GDBusMethodInvocation *invocation;
  char                  *private_key;
  char                  *endpoint;
} Export;

static void
export_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Export *e = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);

  if (reply != NULL && nfltr_frame_get_type (reply) != NFLTR_FRAME_WG_JOINED)
    error = error_from_reply (reply);
  if (error != NULL)
    g_dbus_method_invocation_return_gerror (e->invocation, error);
  else
    {
      const char *cidr = nfltr_frame_get_string (reply, NFLTR_ATTR_WG_ADDRESS);
      const char *slash = strchr (cidr, '/');
      g_autofree char *address = slash ? g_strndup (cidr, slash - cidr) : g_strdup (cidr);
      g_autofree char *serve_key = nfltr_wg_key_to_base64 (e->self->public_key);
      g_autofree char *network = NULL;
      g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
      GString *config = g_string_new (NULL);
      guint32 a = 0;
      guint prefix = slash ? (guint) atoi (slash + 1) : 32;
      guint16 port = 0;

      nfltr_frame_get_u16 (reply, NFLTR_ATTR_WG_PORT, &port);
      if (inet != NULL)
        {
          memcpy (&a, g_inet_address_to_bytes (inet), 4);
          a = g_ntohl (a) & (prefix ? ~0u << (32 - prefix) : 0);
        }
      network =
        g_strdup_printf ("%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff, prefix);
      g_string_append_printf (
        config,
        "# nfltr wg export %s: a stock WireGuard peer of network “%s”, reached through\n"
        "# the relay (wg-quick up ./FILE, or `wg setconf` without Address).\n"
        "[Interface]\n"
        "PrivateKey = %s\n"
        "Address = %s/32\n"
        "\n"
        "[Peer]\n"
        "# the serve side of %s (%s)\n"
        "PublicKey = %s\n",
        e->self->config->name, e->self->config->name, e->private_key, address, e->self->config->name,
        nfltr_dbus_network_get_address (NFLTR_DBUS_NETWORK (e->self)), serve_key);
      if (e->endpoint != NULL && e->endpoint[0] != '\0')
        g_string_append_printf (config, "Endpoint = %s\n", e->endpoint);
      else
        g_string_append_printf (config, "Endpoint = %s:%u\n", nfltr_relay_link_get_host (e->self->link),
                                port);
      {
        /* The network's range, and what the serve side lets peers reach beyond it; wg-quick
         * writes ", " between CIDRs where --allow has bare commas. */
        g_auto (GStrv) allow = g_strsplit (
          e->self->config->allow ? e->self->config->allow : NFLTR_FORWARDER_DEFAULT_ALLOW, ",", -1);
        g_autofree char *allowed = g_strjoinv (", ", allow);
        g_autofree char *text = NULL;

        g_string_append_printf (config, "AllowedIPs = %s, %s\nPersistentKeepalive = %u\n", network, allowed,
                                PERSISTENT_KEEPALIVE_S);
        text = g_string_free (config, FALSE);
        g_dbus_method_invocation_return_value (e->invocation, g_variant_new ("(s)", text));
      }
    }
  memset (e->private_key, 0, strlen (e->private_key));
  g_free (e->private_key);
  g_free (e->endpoint);
  g_object_unref (e->self);
  g_free (e);
}

static gboolean
handle_export_peer (NfltrDbusNetwork      *dbus,
                    GDBusMethodInvocation *invocation,
                    const char            *peer_name,
                    const char            *endpoint)
{
  NfltrNetwork *self = NFLTR_NETWORK (dbus);
  guint8 private_key[NFLTR_WG_KEY_LEN], public_key[NFLTR_WG_KEY_LEN];
  g_autofree char *public_b64 = NULL;
  g_autoptr(NfltrFrame) frame = NULL;
  Export *e;

  if (!is_serve (self))
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "only the serve side of “%s” exports stock peers", self->config->name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (!nfltr_proto_name_is_valid (peer_name))
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "--peer: “%s” is not a name (a-z, 0-9, '-')", peer_name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (self->link == NULL || nfltr_relay_link_get_state (self->link) != NFLTR_RELAY_LINK_CONNECTED ||
      self->address == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                             "network “%s” is not online", self->config->name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  nfltr_wg_generate_private_key (private_key);
  nfltr_wg_public_key (private_key, public_key);
  public_b64 = nfltr_wg_key_to_base64 (public_key);
  e = g_new0 (Export, 1);
  e->self = g_object_ref (self);
  e->invocation = invocation;
  e->private_key = nfltr_wg_key_to_base64 (private_key);
  e->endpoint = g_strdup (endpoint);
  memset (private_key, 0, sizeof private_key);

  frame = nfltr_frame_new (NFLTR_FRAME_WG_JOIN);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, self->config->name);
  nfltr_frame_set_string (frame, NFLTR_ATTR_KIND, "stock");
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, public_b64);
  nfltr_frame_set_string (frame, NFLTR_ATTR_WG_LABEL, peer_name);
  nfltr_relay_link_request_async (self->link, frame, NULL, export_cb, e);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
leave_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GDBusMethodInvocation *invocation = user_data;
  g_autoptr(NfltrNetwork) self = g_object_steal_data (G_OBJECT (invocation), "nfltr-network");
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);

  if (reply != NULL && nfltr_frame_get_type (reply) != NFLTR_FRAME_WG_LEFT)
    error = error_from_reply (reply);
  /* Not a member any more (the relay forgot it) is as good as having left. */
  if (error != NULL && !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  nfltr_dbus_network_complete_leave (NFLTR_DBUS_NETWORK (self), invocation);
  g_signal_emit (self, signals[SIGNAL_LEAVE], 0);
}

static gboolean
handle_leave (NfltrDbusNetwork *dbus, GDBusMethodInvocation *invocation)
{
  NfltrNetwork *self = NFLTR_NETWORK (dbus);
  g_autoptr(NfltrFrame) frame = NULL;
  g_autofree char *key = nfltr_wg_key_to_base64 (self->public_key);

  if (self->failed || self->address == NULL)
    {
      /* Never joined: nothing to give back to the relay. */
      nfltr_dbus_network_complete_leave (dbus, invocation);
      g_signal_emit (self, signals[SIGNAL_LEAVE], 0);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (self->link == NULL || nfltr_relay_link_get_state (self->link) != NFLTR_RELAY_LINK_CONNECTED)
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                             "cannot leave “%s” while the relay is away: it keeps the "
                                             "address until told",
                                             self->config->name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  frame = nfltr_frame_new (NFLTR_FRAME_WG_LEAVE);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, self->config->name);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, key);
  g_object_set_data (G_OBJECT (invocation), "nfltr-network", g_object_ref (self));
  nfltr_relay_link_request_async (self->link, frame, NULL, leave_cb, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
network_iface_init (NfltrDbusNetworkIface *iface)
{
  iface->handle_export_peer = handle_export_peer;
  iface->handle_leave = handle_leave;
}

/* ---- life -------------------------------------------------------------------------------- */

const NfltrNetworkConfig *
nfltr_network_get_config (NfltrNetwork *self)
{
  return self->config;
}

NfltrNetwork *
nfltr_network_new (NfltrSession *session, const NfltrNetworkConfig *config, GError **error)
{
  g_autoptr(NfltrNetwork) self = g_object_new (NFLTR_TYPE_NETWORK, NULL);
  NfltrDbusNetwork *dbus = NFLTR_DBUS_NETWORK (self);
  g_autofree char *public_b64 = NULL;

  if (!nfltr_proto_name_is_valid (config->name))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a network name (one DNS label: a-z, 0-9, '-', at most 63)", config->name);
      return NULL;
    }
  if (g_strcmp0 (config->role, NFLTR_NETWORK_ROLE_SERVE) != 0 && g_strcmp0 (config->role, NFLTR_NETWORK_ROLE_SOCKS5) != 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "role is “serve” or “socks5”");
      return NULL;
    }
  self->session = g_object_ref (session);
  self->config = config_copy (config);
  if (g_str_equal (config->role, NFLTR_NETWORK_ROLE_SERVE))
    {
      g_autoptr(NfltrAllowList) allow = nfltr_allow_list_parse (config->allow ? config->allow
                                                                               : NFLTR_FORWARDER_DEFAULT_ALLOW,
                                                                 error);

      if (allow == NULL)
        {
          g_prefix_error (error, "--allow: ");
          return NULL;
        }
      g_clear_pointer (&self->config->listen, g_free);
    }
  else
    {
      g_autoptr(GSocketAddress) listen = NULL;

      if (self->config->listen == NULL)
        self->config->listen = g_strdup (NFLTR_NETWORK_DEFAULT_LISTEN);
      if (!parse_listen (self->config->listen, &listen, error))
        return NULL;
      if ((config->username == NULL) != (config->password == NULL))
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "a SOCKS5 username needs a password, and the other way round");
          return NULL;
        }
      g_clear_pointer (&self->config->allow, g_free);
    }
  if (self->config->private_key != NULL)
    {
      if (!nfltr_wg_key_from_base64 (self->config->private_key, self->private_key, error))
        return NULL;
    }
  else
    {
      nfltr_wg_generate_private_key (self->private_key);
      self->config->private_key = nfltr_wg_key_to_base64 (self->private_key);
    }
  nfltr_wg_public_key (self->private_key, self->public_key);
  public_b64 = nfltr_wg_key_to_base64 (self->public_key);

  nfltr_dbus_network_set_id (dbus, config->id);
  nfltr_dbus_network_set_name (dbus, config->name);
  nfltr_dbus_network_set_role (dbus, config->role);
  nfltr_dbus_network_set_state (dbus, "connecting");
  nfltr_dbus_network_set_last_error (dbus, "");
  nfltr_dbus_network_set_address (dbus, "");
  nfltr_dbus_network_set_public_key (dbus, public_b64);
  nfltr_dbus_network_set_transport (dbus, "udp");
  nfltr_dbus_network_set_listen (dbus, self->config->listen ? self->config->listen : "");
  nfltr_dbus_network_set_allow (dbus, is_serve (self) ? (self->config->allow ? self->config->allow
                                                                               : NFLTR_FORWARDER_DEFAULT_ALLOW)
                                                      : "");
  update_peers (self);
  return g_steal_pointer (&self);
}

static void
nfltr_network_dispose (GObject *object)
{
  NfltrNetwork *self = NFLTR_NETWORK (object);

  if (self->session != NULL)
    nfltr_network_shutdown (self);
  g_clear_object (&self->session);
  g_clear_object (&self->relay_udp);
  G_OBJECT_CLASS (nfltr_network_parent_class)->dispose (object);
}

static void
nfltr_network_finalize (GObject *object)
{
  NfltrNetwork *self = NFLTR_NETWORK (object);

  memset (self->private_key, 0, sizeof self->private_key);
  g_clear_pointer (&self->config, nfltr_network_config_free);
  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_clear_object (&self->cancellable);
  g_free (self->address);
  g_free (self->buffer);
  G_OBJECT_CLASS (nfltr_network_parent_class)->finalize (object);
}

static void
nfltr_network_class_init (NfltrNetworkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_network_dispose;
  object_class->finalize = nfltr_network_finalize;
  signals[SIGNAL_JOINED] = g_signal_new ("joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                         NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                         NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_LEAVE] = g_signal_new ("leave", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                        NULL, G_TYPE_NONE, 0);
}

static void
nfltr_network_init (NfltrNetwork *self)
{
  self->cancellable = g_cancellable_new ();
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) peer_free);
  self->buffer = g_malloc (MAX_DATAGRAM);
}
