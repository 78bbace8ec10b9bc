/* nfltr-forwarder.c — see the header. */
#define G_LOG_DOMAIN "nfltr-forward"

#include "nfltr-forwarder.h"

#include <string.h>

#include "nfltr-flow-bridge.h"

/* How long the real destination has to answer before the peer hears "host unreachable". */
#define FORWARD_CONNECT_TIMEOUT_S 10
/* A UDP flow with no datagram either way for this long is forgotten (RFC 4787 REQ-5: ≥ 2 min). */
#define UDP_FLOW_IDLE_S 120
/* A peer cannot make the serve side hold more dials or UDP sockets than this at once. */
#define FORWARD_MAX_DIALS 1024
#define FORWARD_MAX_UDP_FLOWS 1024
/* A dialled connection whose peer never finished its handshake is dropped after this. */
#define FORWARD_DIAL_STALE_S 30
#define DNS_PORT 53
#define DNS_TTL 60

typedef struct {
  guint32 network; /* network byte order */
  guint32 mask;
} AllowEntry;

struct _NfltrAllowList {
  GArray *entries;
};

typedef struct {
  NfltrForwarder *forwarder;
  NfltrFlowId id;
  GCancellable *cancellable;
  GSocketConnection *connection; /* dialled, waiting for the netstack's handshake */
  gint64 since;
} Dial;

typedef struct {
  NfltrForwarder *forwarder;
  NfltrFlowId id;
  GSocket *socket;
  GSource *source;
  gint64 last_used;
} UdpFlow;

struct _NfltrForwarder {
  NfltrNetstack *netstack;
  NfltrAllowList *allow;
  GSocketClient *client;
  GHashTable *dials;     /* NfltrFlowId* → Dial* */
  GHashTable *bridges;   /* NfltrFlowBridge* set */
  GHashTable *udp_flows; /* NfltrFlowId* → UdpFlow* */
  GCancellable *cancellable;
  GSource *udp_sweep;
  guint refused;
};

/* ---- --allow ---- */

NfltrAllowList *
nfltr_allow_list_parse (const char *spec,
                        GError **error)
{
  g_autoptr (NfltrAllowList) list = g_new0 (NfltrAllowList, 1);
  g_auto (GStrv) items = g_strsplit (spec, ",", -1);

  list->entries = g_array_new (FALSE, FALSE, sizeof (AllowEntry));
  for (guint i = 0; items[i] != NULL; i++)
    {
      g_autoptr (GInetAddressMask) mask = NULL;
      g_autoptr (GError) local_error = NULL;
      const char *item = g_strstrip (items[i]);
      AllowEntry entry;
      guint len;
      guint32 net;

      if (*item == '\0')
        continue;
      mask = g_inet_address_mask_new_from_string (item, &local_error);
      if (mask == NULL || g_inet_address_mask_get_family (mask) != G_SOCKET_FAMILY_IPV4)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "--allow: “%s” is not an IPv4 address or CIDR block", item);
          return NULL;
        }
      len = g_inet_address_mask_get_length (mask);
      memcpy (&net, g_inet_address_to_bytes (g_inet_address_mask_get_address (mask)), 4);
      entry.mask = g_htonl (len == 0 ? 0 : ~(0xffffffffu >> len) & 0xffffffffu);
      if (len == 32)
        entry.mask = 0xffffffffu;
      entry.network = net & entry.mask;
      g_array_append_val (list->entries, entry);
    }
  return g_steal_pointer (&list);
}

gboolean
nfltr_allow_list_contains (const NfltrAllowList *list,
                           guint32 address)
{
  for (guint i = 0; i < list->entries->len; i++)
    {
      const AllowEntry *e = &g_array_index (list->entries, AllowEntry, i);

      if ((address & e->mask) == e->network)
        return TRUE;
    }
  return FALSE;
}

void
nfltr_allow_list_free (NfltrAllowList *list)
{
  if (list == NULL)
    return;
  g_clear_pointer (&list->entries, g_array_unref);
  g_free (list);
}

static GInetAddress *
inet_address_from_u32 (guint32 address)
{
  return g_inet_address_new_from_bytes ((const guint8 *) &address, G_SOCKET_FAMILY_IPV4);
}

/* ---- TCP ---- */

static void
dial_free (gpointer data)
{
  Dial *dial = data;

  g_cancellable_cancel (dial->cancellable);
  g_clear_object (&dial->cancellable);
  g_clear_object (&dial->connection);
  g_free (dial);
}

static NfltrNetstackRefusal
refusal_for (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    return NFLTR_NETSTACK_REFUSE_RESET;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE))
    return NFLTR_NETSTACK_REFUSE_NET_UNREACHABLE;
  return NFLTR_NETSTACK_REFUSE_HOST_UNREACHABLE;
}

static void
dial_cb (GObject *source,
         GAsyncResult *result,
         gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  Dial *dial = user_data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* the forwarder or the dial went away; dial is freed already */
  if (connection == NULL)
    {
      NfltrForwarder *self = dial->forwarder;
      NfltrFlowId id = dial->id;

      g_debug ("dial failed: %s", error->message);
      g_hash_table_remove (self->dials, &id);
      nfltr_netstack_tcp_syn_refuse (self->netstack, &id, refusal_for (error));
      return;
    }
  dial->connection = g_steal_pointer (&connection);
  nfltr_netstack_tcp_syn_accept (dial->forwarder->netstack, &dial->id);
}

static void
serve_tcp_syn (NfltrNetstack *netstack,
               const NfltrFlowId *id,
               gpointer user_data)
{
  NfltrForwarder *self = user_data;
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GSocketAddress) target = NULL;
  Dial *dial;

  if (!nfltr_allow_list_contains (self->allow, id->dst_addr))
    {
      self->refused++;
      nfltr_netstack_tcp_syn_refuse (netstack, id, NFLTR_NETSTACK_REFUSE_PROHIBITED);
      return;
    }
  if (g_hash_table_size (self->dials) >= FORWARD_MAX_DIALS)
    {
      GHashTableIter iter;
      gpointer value;
      gint64 now = g_get_monotonic_time ();

      g_hash_table_iter_init (&iter, self->dials);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (((Dial *) value)->connection != NULL && now - ((Dial *) value)->since > FORWARD_DIAL_STALE_S * G_USEC_PER_SEC)
          g_hash_table_iter_remove (&iter);
      if (g_hash_table_size (self->dials) >= FORWARD_MAX_DIALS)
        {
          self->refused++;
          nfltr_netstack_tcp_syn_refuse (netstack, id, NFLTR_NETSTACK_REFUSE_HOST_UNREACHABLE);
          return;
        }
    }
  dial = g_new0 (Dial, 1);
  dial->since = g_get_monotonic_time ();
  dial->forwarder = self;
  dial->id = *id;
  dial->cancellable = g_cancellable_new ();
  g_hash_table_insert (self->dials, &dial->id, dial);
  address = inet_address_from_u32 (id->dst_addr);
  target = g_inet_socket_address_new (address, id->dst_port);
  g_socket_client_connect_async (self->client, G_SOCKET_CONNECTABLE (target), dial->cancellable, dial_cb, dial);
}

static void
bridge_done (NfltrFlowBridge *bridge,
             const GError *error,
             gpointer user_data)
{
  NfltrForwarder *self = user_data;

  if (error != NULL)
    g_debug ("forwarded flow ended: %s", error->message);
  g_hash_table_remove (self->bridges, bridge);
}

static void
serve_accepted (NfltrNetstack *netstack,
                NfltrTcpFlow *flow,
                gpointer user_data)
{
  NfltrForwarder *self = user_data;
  Dial *dial = g_hash_table_lookup (self->dials, nfltr_tcp_flow_get_id (flow));
  NfltrFlowBridge *bridge;

  if (dial == NULL || dial->connection == NULL)
    {
      nfltr_tcp_flow_abort (flow);
      return;
    }
  bridge = nfltr_flow_bridge_new (dial->connection, flow, NULL, 0, bridge_done, self);
  g_hash_table_add (self->bridges, bridge);
  g_hash_table_remove (self->dials, nfltr_tcp_flow_get_id (flow));
}

/* ---- UDP ---- */

static void
udp_flow_free (gpointer data)
{
  UdpFlow *flow = data;

  if (flow->source != NULL)
    g_source_destroy (flow->source);
  g_clear_pointer (&flow->source, g_source_unref);
  g_clear_object (&flow->socket);
  g_free (flow);
}

static gboolean
udp_reply_cb (GSocket *socket,
              GIOCondition condition,
              gpointer user_data)
{
  UdpFlow *flow = user_data;
  guint8 buf[65536];
  gssize n;

  while ((n = g_socket_receive (socket, (char *) buf, sizeof buf, NULL, NULL)) >= 0)
    {
      flow->last_used = g_get_monotonic_time ();
      nfltr_netstack_udp_reply (flow->forwarder->netstack, &flow->id, buf, (gsize) n);
    }
  return G_SOURCE_CONTINUE;
}

static void
serve_udp (NfltrNetstack *netstack,
           const NfltrFlowId *id,
           const guint8 *data,
           gsize len,
           gpointer user_data)
{
  NfltrForwarder *self = user_data;
  UdpFlow *flow = g_hash_table_lookup (self->udp_flows, id);

  if (!nfltr_allow_list_contains (self->allow, id->dst_addr))
    {
      self->refused++;
      return;
    }
  if (flow == NULL && g_hash_table_size (self->udp_flows) >= FORWARD_MAX_UDP_FLOWS)
    return; /* until the sweep forgets idle ones */
  if (flow == NULL)
    {
      g_autoptr (GInetAddress) address = inet_address_from_u32 (id->dst_addr);
      g_autoptr (GSocketAddress) target = g_inet_socket_address_new (address, id->dst_port);
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                                 G_SOCKET_PROTOCOL_UDP, &error);

      if (socket == NULL || !g_socket_connect (socket, target, NULL, &error))
        {
          g_debug ("UDP flow: %s", error->message);
          return;
        }
      g_socket_set_blocking (socket, FALSE);
      flow = g_new0 (UdpFlow, 1);
      flow->forwarder = self;
      flow->id = *id;
      flow->socket = g_steal_pointer (&socket);
      flow->source = g_socket_create_source (flow->socket, G_IO_IN, NULL);
      g_source_set_callback (flow->source, G_SOURCE_FUNC (udp_reply_cb), flow, NULL);
      g_source_attach (flow->source, g_main_context_get_thread_default ());
      g_hash_table_insert (self->udp_flows, &flow->id, flow);
    }
  flow->last_used = g_get_monotonic_time ();
  g_socket_send (flow->socket, (const char *) data, len, NULL, NULL);
}

static gboolean
udp_sweep_cb (gpointer user_data)
{
  NfltrForwarder *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->udp_flows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (now - ((UdpFlow *) value)->last_used > UDP_FLOW_IDLE_S * G_USEC_PER_SEC)
      g_hash_table_iter_remove (&iter);
  return G_SOURCE_CONTINUE;
}

/* ---- DNS on our own address (RFC 1035 §4.1) ---- */

char *
nfltr_dns_parse_query (const guint8 *data,
                       gsize len,
                       guint16 *qtype,
                       gsize *question_end)
{
  g_autoptr (GString) name = g_string_new (NULL);
  gsize pos = 12;

  /* header: QR clear, opcode 0 (QUERY), exactly one question */
  if (len < 12 || (data[2] & 0x80) != 0 || (data[2] & 0x78) != 0 || data[4] != 0 || data[5] != 1)
    return NULL;
  for (;;)
    {
      guint8 label;

      if (pos >= len)
        return NULL;
      label = data[pos++];
      if (label == 0)
        break;
      if (label > 63 || pos + label > len || name->len + label + 1 > 253)
        return NULL; /* no compression in a question; RFC 1035 §2.3.4 limits */
      if (name->len > 0)
        g_string_append_c (name, '.');
      for (guint i = 0; i < label; i++)
        {
          char c = (char) data[pos + i];

          if (!g_ascii_isalnum (c) && c != '-' && c != '_')
            return NULL;
          g_string_append_c (name, g_ascii_tolower (c));
        }
      pos += label;
    }
  if (name->len == 0 || pos + 4 > len)
    return NULL;
  *qtype = (guint16) (data[pos] << 8 | data[pos + 1]);
  if (data[pos + 2] != 0 || data[pos + 3] != 1) /* class IN */
    return NULL;
  *question_end = pos + 4;
  return g_string_free (g_steal_pointer (&name), FALSE);
}

typedef struct {
  NfltrForwarder *forwarder;
  NfltrFlowId id;
  GByteArray *query; /* header and question, copied into the answer */
} DnsQuery;

static void
dns_query_free (DnsQuery *q)
{
  g_byte_array_unref (q->query);
  g_free (q);
}

static void
dns_answer (DnsQuery *q,
            guint8 rcode,
            GList *addresses)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint16 count = 0;

  g_byte_array_append (out, q->query->data, q->query->len);
  for (GList *l = addresses; l != NULL && count < 16; l = l->next)
    {
      GInetAddress *a = l->data;
      const guint8 rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, DNS_TTL, 0, 4 };

      if (g_inet_address_get_family (a) != G_SOCKET_FAMILY_IPV4)
        continue;
      g_byte_array_append (out, rr, sizeof rr);
      g_byte_array_append (out, g_inet_address_to_bytes (a), 4);
      count++;
    }
  out->data[2] = 0x80 | (q->query->data[2] & 0x01); /* QR, RD copied */
  out->data[3] = 0x80 | rcode;                      /* RA */
  out->data[6] = (guint8) (count >> 8);
  out->data[7] = (guint8) count;
  out->data[8] = out->data[9] = out->data[10] = out->data[11] = 0;
  nfltr_netstack_udp_reply (q->forwarder->netstack, &q->id, out->data, out->len);
}

static void
dns_resolved_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  DnsQuery *q = user_data;
  g_autoptr (GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_with_flags_finish (G_RESOLVER (source), result, &error);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    dns_answer (q, addresses != NULL ? 0 : g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND) ? 3 : 2,
                addresses);
  g_resolver_free_addresses (addresses);
  dns_query_free (q);
}

static void
dns_udp (NfltrNetstack *netstack,
         const NfltrFlowId *id,
         const guint8 *data,
         gsize len,
         gpointer user_data)
{
  NfltrForwarder *self = user_data;
  g_autofree char *name = NULL;
  guint16 qtype = 0;
  gsize end = 0;
  DnsQuery *q;

  name = nfltr_dns_parse_query (data, len, &qtype, &end);
  if (name == NULL)
    return;
  q = g_new0 (DnsQuery, 1);
  q->forwarder = self;
  q->id = *id;
  q->query = g_byte_array_new ();
  g_byte_array_append (q->query, data, (guint) end);
  if (qtype != 1) /* only A: the network is IPv4 (AAAA gets an empty answer, NOERROR) */
    {
      dns_answer (q, 0, NULL);
      dns_query_free (q);
      return;
    }
  g_resolver_lookup_by_name_with_flags_async (g_resolver_get_default (), name,
                                              G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY,
                                              self->cancellable, dns_resolved_cb, q);
}

/* ---- the forwarder ---- */

static const NfltrNetstackServeFuncs serve_funcs = {
  .tcp_syn = serve_tcp_syn,
  .accepted = serve_accepted,
  .udp = serve_udp,
};

NfltrForwarder *
nfltr_forwarder_new (NfltrNetstack *netstack,
                     NfltrAllowList *allow,
                     GError **error)
{
  g_autoptr (NfltrForwarder) self = g_new0 (NfltrForwarder, 1);

  self->netstack = netstack;
  self->allow = allow;
  self->client = g_socket_client_new ();
  g_socket_client_set_timeout (self->client, FORWARD_CONNECT_TIMEOUT_S);
  self->cancellable = g_cancellable_new ();
  self->dials = g_hash_table_new_full (nfltr_flow_id_hash, nfltr_flow_id_equal, NULL, dial_free);
  self->bridges = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) nfltr_flow_bridge_free, NULL);
  self->udp_flows = g_hash_table_new_full (nfltr_flow_id_hash, nfltr_flow_id_equal, NULL, udp_flow_free);
  if (!nfltr_netstack_udp_bind (netstack, DNS_PORT, dns_udp, self, error))
    return NULL;
  self->udp_sweep = g_timeout_source_new_seconds (30);
  g_source_set_callback (self->udp_sweep, udp_sweep_cb, self, NULL);
  g_source_attach (self->udp_sweep, g_main_context_get_thread_default ());
  nfltr_netstack_set_serve (netstack, &serve_funcs, self);
  return g_steal_pointer (&self);
}

void
nfltr_forwarder_free (NfltrForwarder *self)
{
  if (self == NULL)
    return;
  if (self->netstack != NULL)
    nfltr_netstack_set_serve (self->netstack, NULL, NULL);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->udp_sweep != NULL)
    g_source_destroy (self->udp_sweep);
  g_clear_pointer (&self->udp_sweep, g_source_unref);
  g_clear_pointer (&self->dials, g_hash_table_unref);
  g_clear_pointer (&self->bridges, g_hash_table_unref);
  g_clear_pointer (&self->udp_flows, g_hash_table_unref);
  g_clear_object (&self->client);
  g_clear_object (&self->cancellable);
  nfltr_allow_list_free (self->allow);
  g_free (self);
}

guint
nfltr_forwarder_get_refused (NfltrForwarder *self)
{
  return self->refused;
}
