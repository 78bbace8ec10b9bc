/* nfltr-netstack.c — lwIP (NO_SYS=1, raw API) driven from a GMainContext.
 *
 * lwIP keeps its state in globals: one stack per process, one netif per NfltrNetstack. Every
 * entry into lwIP happens on the context of the first netstack (its timers are one GSource whose
 * ready time follows sys_timeouts_sleeptime()). User callbacks run only inside
 * nfltr_netstack_input() and the timer; anything that would re-enter lwIP from there (freeing a
 * flow, re-injecting an accepted SYN) is queued and done when the outermost entry returns.
 */
#define G_LOG_DOMAIN "nfltr-netstack"

#include "nfltr-netstack.h"

#include <sodium.h>
#include <string.h>

#include "lwip/dns.h"
#include "lwip/icmp.h"
#include "lwip/init.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/ip4_frag.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/tcp.h"
#include "lwip/prot/udp.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

G_DEFINE_QUARK (nfltr-netstack-error-quark, nfltr_netstack_error)

#define ICMP_HLEN 8 /* RFC 792: type, code, checksum, 4 bytes that depend on the type */

typedef enum {
  SYN_WAITING,  /* the serve side is deciding (dialling the real destination) */
  SYN_ACCEPTED, /* the saved SYN went (or goes) to the listener */
} SynState;

typedef struct {
  NfltrFlowId id;
  SynState state;
  GBytes *packet; /* the SYN as it came, re-injected once accepted */
  gint64 since;
} PendingSyn;

/* A peer's SYN flood must not grow without bound: past this many undecided or half-open flows
 * new SYNs are dropped (the peer retransmits), after purging handshakes stuck for a while. */
#define MAX_PENDING_SYNS 1024
#define PENDING_SYN_STALE_US (30 * G_USEC_PER_SEC)

struct _NfltrNetstack {
  struct netif netif;
  guint32 address;
  guint32 netmask;
  NfltrNetstackOutputFunc output;
  gpointer output_data;

  const NfltrNetstackServeFuncs *serve;
  gpointer serve_data;
  GHashTable *pending_syns; /* NfltrFlowId* → PendingSyn* */
  GHashTable *listeners;    /* port → struct tcp_pcb * (listen) */
  GHashTable *udp_ports;    /* port → struct udp_pcb * */
  GHashTable *flows;        /* NfltrTcpFlow* set: live flows, aborted when we go */
  guint8 *out_buf;          /* a chained pbuf flattened for the link */
};

struct _NfltrTcpFlow {
  NfltrNetstack *netstack;
  struct tcp_pcb *pcb;
  NfltrFlowId id;
  const NfltrTcpFlowFuncs *funcs;
  gpointer user_data;
  gboolean connecting;
  gboolean dead; /* freed by its owner, closing when lwIP is left */
  gboolean abort_on_close;
};

/* Process-wide: lwIP's globals are. */
static GMainContext *lwip_context;
static GSource *lwip_timer;
static GList *netstacks;
static guint lwip_depth;           /* > 0 while inside lwIP on behalf of a packet or a timer */
static GPtrArray *deferred_closes; /* NfltrTcpFlow*: freed inside a callback */
static GPtrArray *deferred_injects; /* (NfltrNetstack*, GBytes*) pairs of accepted SYNs */
static struct netif *route_override;
static guint8 isn_key[crypto_shorthash_KEYBYTES];

static void flow_close_now (NfltrTcpFlow *flow);

unsigned int
nfltr_lwip_rand (void)
{
  return randombytes_random ();
}

u32_t
sys_now (void)
{
  return (u32_t) (g_get_monotonic_time () / 1000);
}

/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs
 * timer and F a keyed hash (SipHash-2-4, libsodium's crypto_shorthash). */
u32_t
nfltr_lwip_hook_tcp_isn (const ip_addr_t *local_ip,
                         u16_t local_port,
                         const ip_addr_t *remote_ip,
                         u16_t remote_port)
{
  guint8 tuple[12];
  guint8 hash[crypto_shorthash_BYTES];
  guint32 l = ip4_addr_get_u32 (ip_2_ip4 (local_ip));
  guint32 r = ip4_addr_get_u32 (ip_2_ip4 (remote_ip));
  guint32 f;

  memcpy (tuple, &l, 4);
  memcpy (tuple + 4, &r, 4);
  memcpy (tuple + 8, &local_port, 2);
  memcpy (tuple + 10, &remote_port, 2);
  crypto_shorthash (hash, tuple, sizeof tuple, isn_key);
  memcpy (&f, hash, 4);
  return (u32_t) (g_get_monotonic_time () / 4) + f;
}

/* ---- entry and exit ---- */

static void
timer_reschedule (void)
{
  u32_t sleep_ms = sys_timeouts_sleeptime ();
  gint64 ready;

  if (lwip_timer == NULL)
    return;
  if (sleep_ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE)
    sleep_ms = 1000;
  ready = g_get_monotonic_time () + (gint64) sleep_ms * 1000;
  if (g_source_get_ready_time (lwip_timer) < 0 || ready < g_source_get_ready_time (lwip_timer))
    g_source_set_ready_time (lwip_timer, ready);
}

static void
lwip_enter (void)
{
  lwip_depth++;
}

static void inject_now (NfltrNetstack *self, GBytes *packet);

static void
lwip_leave (void)
{
  g_assert (lwip_depth > 0);
  if (lwip_depth > 1)
    {
      lwip_depth--;
      return;
    }
  /* Still "inside" while the queues drain, so that what they trigger queues behind them. */
  while (deferred_injects->len > 0 || deferred_closes->len > 0)
    {
      if (deferred_injects->len > 0)
        {
          NfltrNetstack *ns = g_ptr_array_index (deferred_injects, 0);
          GBytes *packet = g_ptr_array_index (deferred_injects, 1);

          g_ptr_array_remove_range (deferred_injects, 0, 2);
          inject_now (ns, packet);
          g_bytes_unref (packet);
          continue;
        }
      flow_close_now (g_ptr_array_steal_index (deferred_closes, 0));
    }
  lwip_depth--;
  timer_reschedule ();
}

static gboolean
lwip_timer_dispatch (GSource *source,
                     GSourceFunc callback,
                     gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  lwip_enter ();
  sys_check_timeouts ();
  lwip_leave ();
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs lwip_timer_funcs = {
  .dispatch = lwip_timer_dispatch,
};

static void
lwip_global_init (void)
{
  static gboolean initialized;

  if (!initialized)
    {
      if (sodium_init () < 0)
        g_error ("libsodium failed to initialize");
      randombytes_buf (isn_key, sizeof isn_key);
      lwip_init ();
      initialized = TRUE;
    }
  if (lwip_timer == NULL)
    {
      lwip_context = g_main_context_ref_thread_default ();
      deferred_closes = g_ptr_array_new ();
      deferred_injects = g_ptr_array_new ();
      lwip_timer = g_source_new (&lwip_timer_funcs, sizeof (GSource));
      g_source_set_name (lwip_timer, "nfltr lwIP timers");
      g_source_attach (lwip_timer, lwip_context);
      timer_reschedule ();
    }
}

static void
lwip_global_release (void)
{
  if (netstacks != NULL)
    return;
  g_source_destroy (lwip_timer);
  g_clear_pointer (&lwip_timer, g_source_unref);
  g_clear_pointer (&lwip_context, g_main_context_unref);
  g_clear_pointer (&deferred_closes, g_ptr_array_unref);
  g_clear_pointer (&deferred_injects, g_ptr_array_unref);
}

/* ---- flow ids ---- */

guint
nfltr_flow_id_hash (gconstpointer key)
{
  const NfltrFlowId *id = key;

  return id->src_addr ^ (id->dst_addr * 31) ^ ((guint) id->src_port << 16) ^ id->dst_port;
}

gboolean
nfltr_flow_id_equal (gconstpointer a,
               gconstpointer b)
{
  const NfltrFlowId *x = a, *y = b;

  return x->src_addr == y->src_addr && x->dst_addr == y->dst_addr
         && x->src_port == y->src_port && x->dst_port == y->dst_port;
}

static void
pending_syn_free (gpointer data)
{
  PendingSyn *pending = data;

  g_bytes_unref (pending->packet);
  g_free (pending);
}

/* ---- routing ---- */

static NfltrNetstack *
netstack_for_netif (struct netif *netif)
{
  for (GList *l = netstacks; l != NULL; l = l->next)
    if (&((NfltrNetstack *) l->data)->netif == netif)
      return l->data;
  return NULL;
}

/* A packet goes out of the netif it answers (while input is handled), the netif owning its
 * source address, or the netif whose network holds the destination — never one whose own
 * address is the destination: a netstack does not talk to itself through lwIP (no loopback,
 * so no mailbox to abort on as with Debian's threaded build). */
struct netif *
nfltr_lwip_hook_ip4_route_src (const ip4_addr_t *src,
                               const ip4_addr_t *dest)
{
  if (route_override != NULL)
    return route_override;
  if (ip_current_input_netif () != NULL)
    return ip_current_input_netif ();
  for (GList *l = netstacks; l != NULL && src != NULL; l = l->next)
    {
      NfltrNetstack *ns = l->data;

      if (ip4_addr_get_u32 (src) == ns->address)
        return &ns->netif;
    }
  for (GList *l = netstacks; l != NULL; l = l->next)
    {
      NfltrNetstack *ns = l->data;
      guint32 d = ip4_addr_get_u32 (dest);

      if (d != ns->address && (d & ns->netmask) == (ns->address & ns->netmask))
        return &ns->netif;
    }
  return NULL;
}

static err_t
netif_output_cb (struct netif *netif,
                 struct pbuf *p,
                 const ip4_addr_t *ipaddr)
{
  NfltrNetstack *self = netif->state;

  if (p->next == NULL)
    {
      self->output (p->payload, p->len, self->output_data);
      return ERR_OK;
    }
  if (p->tot_len > self->netif.mtu)
    return ERR_BUF;
  pbuf_copy_partial (p, self->out_buf, p->tot_len, 0);
  self->output (self->out_buf, p->tot_len, self->output_data);
  return ERR_OK;
}

static err_t
netif_init_cb (struct netif *netif)
{
  netif->name[0] = 'w';
  netif->name[1] = 'g';
  netif->output = netif_output_cb;
  netif->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

/* ---- the serve side's input: every destination is ours ---- */

static struct tcp_pcb *
find_active_pcb (const NfltrFlowId *id)
{
  for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next)
    if (pcb->remote_port == id->src_port && pcb->local_port == id->dst_port
        && ip4_addr_get_u32 (ip_2_ip4 (&pcb->remote_ip)) == id->src_addr
        && ip4_addr_get_u32 (ip_2_ip4 (&pcb->local_ip)) == id->dst_addr)
      return pcb;
  return NULL;
}

static void
serve_tcp_input (NfltrNetstack *self,
                 struct pbuf *p,
                 const NfltrFlowId *id_in)
{
  const struct tcp_hdr *tcphdr = p->payload;
  guint8 flags = TCPH_FLAGS (tcphdr);
  NfltrFlowId id = *id_in;
  PendingSyn *pending;

  id.src_port = lwip_ntohs (tcphdr->src);
  id.dst_port = lwip_ntohs (tcphdr->dest);
  if ((flags & (TCP_SYN | TCP_ACK)) != TCP_SYN || find_active_pcb (&id) != NULL)
    {
      tcp_input (p, &self->netif);
      return;
    }
  /* nothing is dialled for a corrupted SYN (tcp_input checks the others itself) */
  if (ip_chksum_pseudo (p, IP_PROTO_TCP, p->tot_len, ip_current_src_addr (), ip_current_dest_addr ()) != 0)
    {
      pbuf_free (p);
      return;
    }
  pending = g_hash_table_lookup (self->pending_syns, &id);
  if (pending != NULL && pending->state == SYN_ACCEPTED)
    {
      tcp_input (p, &self->netif);
      return;
    }
  if (pending != NULL || self->serve == NULL)
    {
      /* a retransmission while the serve side still dials: the saved one is answered */
      pbuf_free (p);
      return;
    }
  if (g_hash_table_size (self->pending_syns) >= MAX_PENDING_SYNS)
    {
      GHashTableIter iter;
      gpointer value;
      gint64 now = g_get_monotonic_time ();

      /* only accepted ones: an undecided one still waits for its serve_funcs answer */
      g_hash_table_iter_init (&iter, self->pending_syns);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (((PendingSyn *) value)->state == SYN_ACCEPTED && now - ((PendingSyn *) value)->since > PENDING_SYN_STALE_US)
          g_hash_table_iter_remove (&iter);
      if (g_hash_table_size (self->pending_syns) >= MAX_PENDING_SYNS)
        {
          pbuf_free (p);
          return;
        }
    }
  pending = g_new0 (PendingSyn, 1);
  pending->id = id;
  pending->state = SYN_WAITING;
  pending->since = g_get_monotonic_time ();
  {
    /* keep the whole IP packet: the header is just before the payload */
    guint16 hlen = ip_current_header_tot_len ();
    g_autofree guint8 *copy = g_malloc (p->tot_len + hlen);

    memcpy (copy, ip4_current_header (), hlen);
    pbuf_copy_partial (p, copy + hlen, p->tot_len, 0);
    pending->packet = g_bytes_new_take (g_steal_pointer (&copy), p->tot_len + hlen);
  }
  g_hash_table_insert (self->pending_syns, &pending->id, pending);
  pbuf_free (p);
  self->serve->tcp_syn (self, &pending->id, self->serve_data);
}

static void
serve_udp_input (NfltrNetstack *self,
                 struct pbuf *p,
                 const NfltrFlowId *id_in)
{
  const struct udp_hdr *udphdr;
  NfltrFlowId id = *id_in;
  guint16 len;
  g_autofree guint8 *data = NULL;

  if (p->len < UDP_HLEN || self->serve == NULL)
    goto out;
  udphdr = p->payload;
  len = lwip_ntohs (udphdr->len);
  if (len < UDP_HLEN || len > p->tot_len)
    goto out;
  if (udphdr->chksum != 0
      && ip_chksum_pseudo (p, IP_PROTO_UDP, p->tot_len, ip_current_src_addr (), ip_current_dest_addr ()) != 0)
    goto out;
  id.src_port = lwip_ntohs (udphdr->src);
  id.dst_port = lwip_ntohs (udphdr->dest);
  data = g_malloc (len - UDP_HLEN + 1);
  pbuf_copy_partial (p, data, len - UDP_HLEN, UDP_HLEN);
  self->serve->udp (self, &id, data, len - UDP_HLEN, self->serve_data);
out:
  pbuf_free (p);
}

/* The part of ip4_input() a packet for another address needs before its transport. */
static void
serve_ip4_input (NfltrNetstack *self,
                 struct pbuf *p)
{
  struct ip_hdr *iphdr = p->payload;
  guint16 hlen = IPH_HL_BYTES (iphdr);
  guint16 len = lwip_ntohs (IPH_LEN (iphdr));
  NfltrFlowId id = { 0 };

  if (len < p->tot_len)
    pbuf_realloc (p, len);
  if (hlen < IP_HLEN || hlen > p->len || len > p->tot_len || inet_chksum (iphdr, hlen) != 0)
    {
      pbuf_free (p);
      return;
    }
  if ((IPH_OFFSET (iphdr) & PP_HTONS (IP_OFFMASK | IP_MF)) != 0)
    {
      p = ip4_reass (p);
      if (p == NULL)
        return;
      iphdr = p->payload;
      hlen = IPH_HL_BYTES (iphdr);
    }
  ip_data.current_netif = &self->netif;
  ip_data.current_input_netif = &self->netif;
  ip_data.current_ip4_header = iphdr;
  ip_data.current_ip_header_tot_len = hlen;
  ip_addr_copy_from_ip4 (ip_data.current_iphdr_dest, iphdr->dest);
  ip_addr_copy_from_ip4 (ip_data.current_iphdr_src, iphdr->src);
  id.src_addr = ip4_addr_get_u32 (&iphdr->src);
  id.dst_addr = ip4_addr_get_u32 (&iphdr->dest);
  pbuf_remove_header (p, hlen);
  switch (IPH_PROTO (iphdr))
    {
      case IP_PROTO_TCP:
        if (p->len >= TCP_HLEN)
          serve_tcp_input (self, p, &id);
        else
          pbuf_free (p);
        break;
      case IP_PROTO_UDP: serve_udp_input (self, p, &id); break;
      default:
        /* ICMP to other hosts is not forwarded yet (issue 12: unprivileged ICMP sockets) */
        pbuf_free (p);
        break;
    }
  ip_data.current_netif = NULL;
  ip_data.current_input_netif = NULL;
  ip_data.current_ip4_header = NULL;
  ip_data.current_ip_header_tot_len = 0;
  ip4_addr_set_any (ip4_current_src_addr ());
  ip4_addr_set_any (ip4_current_dest_addr ());
}

/* RFC 792 destination unreachable for a SYN we sent: the connect ends with its reason. RFC 5927
 * §4.1: only a connection still in SYN-SENT is aborted by an ICMP error. */
static void
client_icmp_input (NfltrNetstack *self,
                   struct pbuf *p)
{
  guint8 buf[IP_HLEN + 60 + 8 + ICMP_HLEN];
  guint16 hlen = IPH_HL_BYTES ((struct ip_hdr *) p->payload);
  guint16 n = pbuf_copy_partial (p, buf, sizeof buf, hlen);
  const struct ip_hdr *inner;
  guint16 inner_hlen;
  NfltrFlowId id = { 0 };
  NfltrNetstackError code;
  GHashTableIter iter;
  gpointer key;

  if (n < ICMP_HLEN + IP_HLEN + 4 || buf[0] != ICMP_DUR)
    return;
  inner = (const struct ip_hdr *) (buf + ICMP_HLEN);
  inner_hlen = IPH_HL_BYTES (inner);
  if (IPH_PROTO (inner) != IP_PROTO_TCP || inner_hlen < IP_HLEN || n < ICMP_HLEN + inner_hlen + 4)
    return;
  switch (buf[1])
    {
      case ICMP_DUR_NET: code = NFLTR_NETSTACK_ERROR_NET_UNREACHABLE; break;
      case ICMP_DUR_HOST: code = NFLTR_NETSTACK_ERROR_HOST_UNREACHABLE; break;
      case 13: code = NFLTR_NETSTACK_ERROR_PROHIBITED; break;
      default: return;
    }
  id.src_addr = ip4_addr_get_u32 (&inner->src);
  id.dst_addr = ip4_addr_get_u32 (&inner->dest);
  id.src_port = (guint16) (buf[ICMP_HLEN + inner_hlen] << 8 | buf[ICMP_HLEN + inner_hlen + 1]);
  id.dst_port = (guint16) (buf[ICMP_HLEN + inner_hlen + 2] << 8 | buf[ICMP_HLEN + inner_hlen + 3]);
  g_hash_table_iter_init (&iter, self->flows);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      NfltrTcpFlow *flow = key;
      g_autoptr (GError) error = NULL;

      if (!flow->connecting || flow->pcb == NULL || flow->pcb->state != SYN_SENT
          || !nfltr_flow_id_equal (&flow->id, &id))
        continue;
      tcp_arg (flow->pcb, NULL);
      tcp_err (flow->pcb, NULL);
      tcp_abort (flow->pcb);
      flow->pcb = NULL;
      flow->connecting = FALSE;
      error = g_error_new (NFLTR_NETSTACK_ERROR, code, "destination unreachable (ICMP 3/%u)", buf[1]);
      if (!flow->dead && flow->funcs->connected != NULL)
        flow->funcs->connected (flow, error, flow->user_data);
      return;
    }
}

int
nfltr_lwip_hook_ip4_input (struct pbuf *p,
                           struct netif *input_netif)
{
  NfltrNetstack *self = netstack_for_netif (input_netif);
  const struct ip_hdr *iphdr = p->payload;

  if (self == NULL || p->len < IP_HLEN)
    {
      pbuf_free (p);
      return 1;
    }
  if (ip4_addr_get_u32 (&iphdr->dest) == self->address)
    {
      if (IPH_PROTO (iphdr) == IP_PROTO_ICMP)
        client_icmp_input (self, p);
      return 0; /* lwIP's own path: our flows, bound UDP ports, echo for our address */
    }
  /* Never another netstack's address: networks of one process stay apart. */
  if (self->serve != NULL)
    serve_ip4_input (self, p);
  else
    pbuf_free (p);
  return 1;
}

/* ---- the netstack ---- */

NfltrNetstack *
nfltr_netstack_new (const char *address,
                    guint prefix_len,
                    guint mtu,
                    NfltrNetstackOutputFunc output,
                    gpointer user_data,
                    GError **error)
{
  g_autoptr (NfltrNetstack) self = NULL;
  ip4_addr_t addr, mask, gw;

  g_return_val_if_fail (output != NULL, NULL);
  if (!ip4addr_aton (address, &addr) || prefix_len == 0 || prefix_len > 32 || mtu < 576 || mtu > 65535)
    {
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED,
                   "not an IPv4 interface: %s/%u mtu %u", address, prefix_len, mtu);
      return NULL;
    }
  for (GList *l = netstacks; l != NULL; l = l->next)
    if (((NfltrNetstack *) l->data)->address == ip4_addr_get_u32 (&addr))
      {
        g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED,
                     "%s is already the address of a netstack in this process", address);
        return NULL;
      }
  lwip_global_init ();

  self = g_new0 (NfltrNetstack, 1);
  self->address = ip4_addr_get_u32 (&addr);
  self->netmask = lwip_htonl (prefix_len == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len));
  self->output = output;
  self->output_data = user_data;
  self->out_buf = g_malloc (mtu);
  self->pending_syns = g_hash_table_new_full (nfltr_flow_id_hash, nfltr_flow_id_equal, NULL, pending_syn_free);
  self->listeners = g_hash_table_new (NULL, NULL);
  self->udp_ports = g_hash_table_new (NULL, NULL);
  self->flows = g_hash_table_new (NULL, NULL);
  ip4_addr_set_u32 (&mask, self->netmask);
  ip4_addr_set_zero (&gw);
  netstacks = g_list_prepend (netstacks, self);
  if (netif_add (&self->netif, &addr, &mask, &gw, self, netif_init_cb, ip4_input) == NULL)
    {
      netstacks = g_list_remove (netstacks, self);
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED, "lwIP refused the interface");
      return NULL;
    }
  self->netif.mtu = mtu;
  netif_set_up (&self->netif);
  netif_set_link_up (&self->netif);
  return g_steal_pointer (&self);
}

void
nfltr_netstack_free (NfltrNetstack *self)
{
  GHashTableIter iter;
  gpointer key, value;

  if (self == NULL)
    return;
  if (g_list_find (netstacks, self) != NULL)
    {
      g_hash_table_iter_init (&iter, self->flows);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          NfltrTcpFlow *flow = key;

          if (flow->pcb != NULL)
            {
              tcp_arg (flow->pcb, NULL);
              tcp_err (flow->pcb, NULL);
              tcp_abort (flow->pcb);
              flow->pcb = NULL;
            }
          flow->netstack = NULL;
        }
      g_hash_table_iter_init (&iter, self->listeners);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        tcp_close (value);
      g_hash_table_iter_init (&iter, self->udp_ports);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          g_free (((struct udp_pcb *) value)->recv_arg);
          udp_remove (value);
        }
      /* Deferred work for this netstack is moot now. */
      for (guint i = 0; deferred_injects != NULL && i < deferred_injects->len;)
        if (g_ptr_array_index (deferred_injects, i) == self)
          {
            g_bytes_unref (g_ptr_array_index (deferred_injects, i + 1));
            g_ptr_array_remove_range (deferred_injects, i, 2);
          }
        else
          i += 2;
      netif_remove (&self->netif);
      netstacks = g_list_remove (netstacks, self);
      lwip_global_release ();
    }
  g_clear_pointer (&self->pending_syns, g_hash_table_unref);
  g_clear_pointer (&self->listeners, g_hash_table_unref);
  g_clear_pointer (&self->udp_ports, g_hash_table_unref);
  g_clear_pointer (&self->flows, g_hash_table_unref);
  g_free (self->out_buf);
  g_free (self);
}

guint32
nfltr_netstack_get_address (NfltrNetstack *self)
{
  return self->address;
}

void
nfltr_netstack_input (NfltrNetstack *self,
                      const guint8 *packet,
                      gsize len)
{
  struct pbuf *p;

  if (len < IP_HLEN || len > 65535)
    return;
  p = pbuf_alloc (PBUF_RAW, (u16_t) len, PBUF_RAM);
  if (p == NULL)
    return;
  memcpy (p->payload, packet, len);
  lwip_enter ();
  if (self->netif.input (p, &self->netif) != ERR_OK)
    pbuf_free (p);
  lwip_leave ();
}

void
nfltr_netstack_set_dns_server (NfltrNetstack *self,
                               guint32 address)
{
  ip_addr_t server;

  /* lwIP's resolver has one server list per process: the last netstack to set it wins. */
  ip_addr_set_ip4_u32 (&server, address);
  dns_setserver (0, &server);
}

/* ---- TCP flows ---- */

static err_t
flow_recv_cb (void *arg,
              struct tcp_pcb *pcb,
              struct pbuf *p,
              err_t err)
{
  NfltrTcpFlow *flow = arg;

  if (flow == NULL || flow->dead)
    {
      if (p != NULL)
        {
          tcp_recved (pcb, p->tot_len);
          pbuf_free (p);
        }
      return ERR_OK;
    }
  if (flow->funcs == NULL)
    return ERR_MEM; /* lwIP keeps it and offers it again */
  if (p == NULL)
    {
      flow->funcs->received (flow, NULL, 0, flow->user_data);
      return ERR_OK;
    }
  for (struct pbuf *q = p; q != NULL && !flow->dead; q = q->next)
    flow->funcs->received (flow, q->payload, q->len, flow->user_data);
  pbuf_free (p);
  return ERR_OK;
}

static err_t
flow_sent_cb (void *arg,
              struct tcp_pcb *pcb,
              u16_t len)
{
  NfltrTcpFlow *flow = arg;

  if (flow != NULL && !flow->dead && flow->funcs != NULL && flow->funcs->writable != NULL)
    flow->funcs->writable (flow, flow->user_data);
  return ERR_OK;
}

static void
flow_err_cb (void *arg,
             err_t err)
{
  NfltrTcpFlow *flow = arg;
  g_autoptr (GError) error = NULL;
  gboolean connecting;

  if (flow == NULL)
    return;
  flow->pcb = NULL; /* lwIP freed it */
  connecting = flow->connecting;
  flow->connecting = FALSE;
  if (flow->dead || flow->funcs == NULL)
    return;
  if (err == ERR_RST)
    error = g_error_new_literal (NFLTR_NETSTACK_ERROR,
                                 connecting ? NFLTR_NETSTACK_ERROR_REFUSED : NFLTR_NETSTACK_ERROR_RESET,
                                 connecting ? "connection refused" : "connection reset by peer");
  else if (err == ERR_ABRT && connecting)
    error = g_error_new_literal (NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_HOST_UNREACHABLE,
                                 "no answer from the destination");
  else
    error = g_error_new (NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED, "%s", lwip_strerr (err));
  if (connecting)
    {
      if (flow->funcs->connected != NULL)
        flow->funcs->connected (flow, error, flow->user_data);
    }
  else if (flow->funcs->failed != NULL)
    flow->funcs->failed (flow, error, flow->user_data);
}

static NfltrTcpFlow *
flow_wrap (NfltrNetstack *self,
           struct tcp_pcb *pcb)
{
  NfltrTcpFlow *flow = g_new0 (NfltrTcpFlow, 1);

  flow->netstack = self;
  flow->pcb = pcb;
  tcp_arg (pcb, flow);
  tcp_recv (pcb, flow_recv_cb);
  tcp_sent (pcb, flow_sent_cb);
  tcp_err (pcb, flow_err_cb);
  tcp_nagle_disable (pcb);
  g_hash_table_add (self->flows, flow);
  return flow;
}

static err_t
flow_connected_cb (void *arg,
                   struct tcp_pcb *pcb,
                   err_t err)
{
  NfltrTcpFlow *flow = arg;

  flow->connecting = FALSE;
  if (!flow->dead && flow->funcs->connected != NULL)
    flow->funcs->connected (flow, NULL, flow->user_data);
  return ERR_OK;
}

NfltrTcpFlow *
nfltr_netstack_tcp_connect (NfltrNetstack *self,
                            guint32 dst_addr,
                            guint16 dst_port,
                            const NfltrTcpFlowFuncs *funcs,
                            gpointer user_data,
                            GError **error)
{
  struct tcp_pcb *pcb;
  NfltrTcpFlow *flow;
  ip_addr_t dst, src;
  err_t err;

  if (dst_addr == self->address)
    {
      /* lwIP would loop it; the netstack holds no services of its own on TCP */
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_REFUSED,
                   "connection refused (this peer's own address)");
      return NULL;
    }
  pcb = tcp_new_ip_type (IPADDR_TYPE_V4);
  if (pcb == NULL)
    {
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED, "out of memory");
      return NULL;
    }
  tcp_bind_netif (pcb, &self->netif);
  ip_addr_set_ip4_u32 (&src, self->address);
  lwip_enter ();
  err = tcp_bind (pcb, &src, 0);
  if (err != ERR_OK)
    {
      tcp_abort (pcb);
      lwip_leave ();
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED, "bind: %s", lwip_strerr (err));
      return NULL;
    }
  flow = flow_wrap (self, pcb);
  flow->funcs = funcs;
  flow->user_data = user_data;
  flow->connecting = TRUE;
  flow->id.src_addr = self->address;
  flow->id.src_port = pcb->local_port;
  flow->id.dst_addr = dst_addr;
  flow->id.dst_port = dst_port;
  ip_addr_set_ip4_u32 (&dst, dst_addr);
  err = tcp_connect (pcb, &dst, dst_port, flow_connected_cb);
  if (err != ERR_OK)
    {
      tcp_arg (pcb, NULL);
      tcp_abort (pcb);
      flow->pcb = NULL;
      g_hash_table_remove (self->flows, flow);
      g_free (flow);
      lwip_leave ();
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED, "connect: %s", lwip_strerr (err));
      return NULL;
    }
  lwip_leave ();
  return flow;
}

void
nfltr_tcp_flow_set_funcs (NfltrTcpFlow *flow,
                          const NfltrTcpFlowFuncs *funcs,
                          gpointer user_data)
{
  flow->funcs = funcs;
  flow->user_data = user_data;
}

const NfltrFlowId *
nfltr_tcp_flow_get_id (NfltrTcpFlow *flow)
{
  return &flow->id;
}

gsize
nfltr_tcp_flow_get_write_space (NfltrTcpFlow *flow)
{
  if (flow->pcb == NULL || flow->dead)
    return 0;
  if (flow->pcb->snd_queuelen >= TCP_SND_QUEUELEN - 4)
    return 0;
  return tcp_sndbuf (flow->pcb);
}

gsize
nfltr_tcp_flow_write (NfltrTcpFlow *flow,
                      const guint8 *data,
                      gsize len)
{
  gsize n = MIN (len, nfltr_tcp_flow_get_write_space (flow));
  gsize done = 0;

  lwip_enter ();
  /* tcp_write takes a u16_t length */
  while (done < n)
    {
      u16_t chunk = (u16_t) MIN (n - done, 0xffff);

      if (tcp_write (flow->pcb, data + done, chunk, TCP_WRITE_FLAG_COPY) != ERR_OK)
        break;
      done += chunk;
    }
  if (done > 0)
    tcp_output (flow->pcb);
  lwip_leave ();
  return done;
}

void
nfltr_tcp_flow_consumed (NfltrTcpFlow *flow,
                         gsize len)
{
  if (flow->pcb == NULL || flow->dead)
    return;
  lwip_enter ();
  while (len > 0)
    {
      u16_t chunk = (u16_t) MIN (len, 0xffff);

      tcp_recved (flow->pcb, chunk);
      len -= chunk;
    }
  lwip_leave ();
}

void
nfltr_tcp_flow_shutdown_write (NfltrTcpFlow *flow)
{
  if (flow->pcb == NULL || flow->dead)
    return;
  lwip_enter ();
  tcp_shutdown (flow->pcb, 0, 1);
  lwip_leave ();
}

static void
flow_close_now (NfltrTcpFlow *flow)
{
  if (flow->pcb != NULL)
    {
      struct tcp_pcb *pcb = flow->pcb;

      flow->pcb = NULL;
      tcp_arg (pcb, NULL);
      tcp_recv (pcb, NULL);
      tcp_sent (pcb, NULL);
      tcp_err (pcb, NULL);
      if (flow->abort_on_close || tcp_close (pcb) != ERR_OK)
        tcp_abort (pcb);
    }
  if (flow->netstack != NULL)
    g_hash_table_remove (flow->netstack->flows, flow);
  g_free (flow);
}

void
nfltr_tcp_flow_free (NfltrTcpFlow *flow)
{
  if (flow == NULL)
    return;
  g_return_if_fail (!flow->dead);
  flow->dead = TRUE;
  if (lwip_depth > 0)
    {
      g_ptr_array_add (deferred_closes, flow);
      return;
    }
  lwip_enter ();
  flow_close_now (flow);
  lwip_leave ();
}

void
nfltr_tcp_flow_abort (NfltrTcpFlow *flow)
{
  if (flow == NULL)
    return;
  flow->abort_on_close = TRUE;
  nfltr_tcp_flow_free (flow);
}

/* ---- the serve side ---- */

void
nfltr_netstack_set_serve (NfltrNetstack *self,
                          const NfltrNetstackServeFuncs *funcs,
                          gpointer user_data)
{
  self->serve = funcs;
  self->serve_data = user_data;
}

static err_t
listener_accept_cb (void *arg,
                    struct tcp_pcb *newpcb,
                    err_t err)
{
  NfltrNetstack *self = arg;
  NfltrFlowId id = { 0 };
  NfltrTcpFlow *flow;

  if (err != ERR_OK || newpcb == NULL)
    return ERR_VAL;
  id.src_addr = ip4_addr_get_u32 (ip_2_ip4 (&newpcb->remote_ip));
  id.src_port = newpcb->remote_port;
  id.dst_addr = ip4_addr_get_u32 (ip_2_ip4 (&newpcb->local_ip));
  id.dst_port = newpcb->local_port;
  if (!g_hash_table_remove (self->pending_syns, &id) || self->serve == NULL)
    {
      tcp_abort (newpcb);
      return ERR_ABRT;
    }
  flow = flow_wrap (self, newpcb);
  flow->id = id;
  self->serve->accepted (self, flow, self->serve_data);
  return ERR_OK;
}

static gboolean
ensure_listener (NfltrNetstack *self,
                 guint16 port)
{
  struct tcp_pcb *pcb, *lpcb;

  if (g_hash_table_contains (self->listeners, GUINT_TO_POINTER (port)))
    return TRUE;
  pcb = tcp_new_ip_type (IPADDR_TYPE_V4);
  if (pcb == NULL)
    return FALSE;
  ip_set_option (pcb, SOF_REUSEADDR);
  tcp_bind_netif (pcb, &self->netif);
  if (tcp_bind (pcb, IP4_ADDR_ANY, port) != ERR_OK)
    {
      tcp_abort (pcb);
      return FALSE;
    }
  lpcb = tcp_listen (pcb);
  if (lpcb == NULL)
    {
      tcp_abort (pcb);
      return FALSE;
    }
  tcp_arg (lpcb, self);
  tcp_accept (lpcb, listener_accept_cb);
  g_hash_table_insert (self->listeners, GUINT_TO_POINTER (port), lpcb);
  return TRUE;
}

static void
inject_now (NfltrNetstack *self,
            GBytes *packet)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (packet, &len);
  struct pbuf *p = pbuf_alloc (PBUF_RAW, (u16_t) len, PBUF_RAM);

  if (p == NULL)
    return;
  memcpy (p->payload, data, len);
  lwip_enter ();
  if (self->netif.input (p, &self->netif) != ERR_OK)
    pbuf_free (p);
  lwip_leave ();
}

void
nfltr_netstack_tcp_syn_accept (NfltrNetstack *self,
                               const NfltrFlowId *id)
{
  PendingSyn *pending = g_hash_table_lookup (self->pending_syns, id);

  g_return_if_fail (pending != NULL && pending->state == SYN_WAITING);
  lwip_enter ();
  if (!ensure_listener (self, pending->id.dst_port))
    {
      lwip_leave ();
      nfltr_netstack_tcp_syn_refuse (self, id, NFLTR_NETSTACK_REFUSE_RESET);
      return;
    }
  pending->state = SYN_ACCEPTED;
  /* Answered now rather than at the peer's next retransmission (seconds away). */
  g_ptr_array_add (deferred_injects, self);
  g_ptr_array_add (deferred_injects, g_bytes_ref (pending->packet));
  lwip_leave ();
}

void
nfltr_netstack_tcp_syn_refuse (NfltrNetstack *self,
                               const NfltrFlowId *id,
                               NfltrNetstackRefusal refusal)
{
  PendingSyn *pending = g_hash_table_lookup (self->pending_syns, id);
  gsize len;
  const guint8 *data;
  ip_addr_t local, remote;

  g_return_if_fail (pending != NULL);
  data = g_bytes_get_data (pending->packet, &len);
  lwip_enter ();
  route_override = &self->netif;
  switch (refusal)
    {
      case NFLTR_NETSTACK_REFUSE_RESET:
        {
          const struct ip_hdr *iphdr = (const struct ip_hdr *) data;
          const struct tcp_hdr *tcphdr = (const struct tcp_hdr *) (data + IPH_HL_BYTES (iphdr));

          ip_addr_set_ip4_u32 (&local, id->dst_addr);
          ip_addr_set_ip4_u32 (&remote, id->src_addr);
          /* RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, a SYN counting one */
          tcp_rst (NULL, 0, lwip_ntohl (tcphdr->seqno) + 1, &local, &remote, id->dst_port, id->src_port);
          break;
        }
      case NFLTR_NETSTACK_REFUSE_NET_UNREACHABLE:
      case NFLTR_NETSTACK_REFUSE_HOST_UNREACHABLE:
      case NFLTR_NETSTACK_REFUSE_PROHIBITED:
        {
          struct pbuf *p = pbuf_alloc (PBUF_IP, (u16_t) len, PBUF_RAM);
          int code = refusal == NFLTR_NETSTACK_REFUSE_NET_UNREACHABLE    ? ICMP_DUR_NET
                     : refusal == NFLTR_NETSTACK_REFUSE_HOST_UNREACHABLE ? ICMP_DUR_HOST
                                                                         : 13;

          if (p != NULL)
            {
              memcpy (p->payload, data, len);
              icmp_dest_unreach (p, (enum icmp_dur_type) code);
              pbuf_free (p);
            }
          break;
        }
      default: g_assert_not_reached ();
    }
  route_override = NULL;
  g_hash_table_remove (self->pending_syns, id);
  lwip_leave ();
}

gboolean
nfltr_netstack_udp_reply (NfltrNetstack *self,
                          const NfltrFlowId *id,
                          const guint8 *data,
                          gsize len)
{
  struct pbuf *p;
  struct udp_hdr *udphdr;
  ip_addr_t src, dst;
  err_t err;

  if (len > self->netif.mtu - IP_HLEN - UDP_HLEN)
    return FALSE;
  p = pbuf_alloc (PBUF_IP, (u16_t) (UDP_HLEN + len), PBUF_RAM);
  if (p == NULL)
    return FALSE;
  udphdr = p->payload;
  udphdr->src = lwip_htons (id->dst_port);
  udphdr->dest = lwip_htons (id->src_port);
  udphdr->len = lwip_htons ((u16_t) (UDP_HLEN + len));
  udphdr->chksum = 0;
  memcpy ((guint8 *) p->payload + UDP_HLEN, data, len);
  ip_addr_set_ip4_u32 (&src, id->dst_addr);
  ip_addr_set_ip4_u32 (&dst, id->src_addr);
  udphdr->chksum = ip_chksum_pseudo (p, IP_PROTO_UDP, p->tot_len, &src, &dst);
  if (udphdr->chksum == 0)
    udphdr->chksum = 0xffff;
  lwip_enter ();
  err = ip4_output_if (p, ip_2_ip4 (&src), ip_2_ip4 (&dst), IP_DEFAULT_TTL, 0, IP_PROTO_UDP, &self->netif);
  lwip_leave ();
  pbuf_free (p);
  return err == ERR_OK;
}

typedef struct {
  NfltrNetstack *netstack;
  NfltrNetstackUdpFunc func;
  gpointer user_data;
} UdpBinding;

static void
udp_port_recv_cb (void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
  UdpBinding *binding = arg;
  NfltrFlowId id = { 0 };
  g_autofree guint8 *data = g_malloc (p->tot_len + 1);

  id.src_addr = ip4_addr_get_u32 (ip_2_ip4 (addr));
  id.src_port = port;
  id.dst_addr = binding->netstack->address;
  id.dst_port = pcb->local_port;
  pbuf_copy_partial (p, data, p->tot_len, 0);
  binding->func (binding->netstack, &id, data, p->tot_len, binding->user_data);
  pbuf_free (p);
}

gboolean
nfltr_netstack_udp_bind (NfltrNetstack *self,
                         guint16 port,
                         NfltrNetstackUdpFunc func,
                         gpointer user_data,
                         GError **error)
{
  struct udp_pcb *pcb = udp_new_ip_type (IPADDR_TYPE_V4);
  ip_addr_t addr;
  UdpBinding *binding;

  if (pcb == NULL)
    {
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED, "out of memory");
      return FALSE;
    }
  ip_addr_set_ip4_u32 (&addr, self->address);
  udp_bind_netif (pcb, &self->netif);
  if (udp_bind (pcb, &addr, port) != ERR_OK)
    {
      udp_remove (pcb);
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED, "UDP port %u is taken", port);
      return FALSE;
    }
  /* The binding lives as long as the netstack: freed with it through the pcb's arg. */
  binding = g_new0 (UdpBinding, 1);
  binding->netstack = self;
  binding->func = func;
  binding->user_data = user_data;
  udp_recv (pcb, udp_port_recv_cb, binding);
  g_hash_table_insert (self->udp_ports, GUINT_TO_POINTER (port), pcb);
  return TRUE;
}

struct _NfltrUdpSocket {
  NfltrNetstack *netstack;
  struct udp_pcb *pcb;
  NfltrNetstackUdpFunc func;
  gpointer user_data;
};

static void
udp_socket_recv_cb (void *arg,
                    struct udp_pcb *pcb,
                    struct pbuf *p,
                    const ip_addr_t *addr,
                    u16_t port)
{
  NfltrUdpSocket *socket = arg;
  NfltrFlowId id = { 0 };
  g_autofree guint8 *data = g_malloc (p->tot_len + 1);
  gsize len = pbuf_copy_partial (p, data, p->tot_len, 0);

  id.src_addr = ip4_addr_get_u32 (ip_2_ip4 (addr));
  id.src_port = port;
  id.dst_addr = socket->netstack->address;
  id.dst_port = pcb->local_port;
  pbuf_free (p);
  socket->func (socket->netstack, &id, data, len, socket->user_data);
}

NfltrUdpSocket *
nfltr_netstack_udp_open (NfltrNetstack *self,
                         NfltrNetstackUdpFunc func,
                         gpointer user_data,
                         GError **error)
{
  struct udp_pcb *pcb = udp_new_ip_type (IPADDR_TYPE_V4);
  NfltrUdpSocket *socket;
  ip_addr_t addr;

  if (pcb == NULL)
    {
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED, "out of memory");
      return NULL;
    }
  ip_addr_set_ip4_u32 (&addr, self->address);
  udp_bind_netif (pcb, &self->netif);
  if (udp_bind (pcb, &addr, 0) != ERR_OK)
    {
      udp_remove (pcb);
      g_set_error (error, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_FAILED, "no free UDP port");
      return NULL;
    }
  socket = g_new0 (NfltrUdpSocket, 1);
  socket->netstack = self;
  socket->pcb = pcb;
  socket->func = func;
  socket->user_data = user_data;
  udp_recv (pcb, udp_socket_recv_cb, socket);
  return socket;
}

gboolean
nfltr_udp_socket_send_to (NfltrUdpSocket *socket,
                          guint32 dst_addr,
                          guint16 dst_port,
                          const guint8 *data,
                          gsize len)
{
  struct pbuf *p;
  ip_addr_t dst;
  err_t err;

  if (len > 65507)
    return FALSE;
  p = pbuf_alloc (PBUF_TRANSPORT, (u16_t) len, PBUF_RAM);
  if (p == NULL)
    return FALSE;
  memcpy (p->payload, data, len);
  ip_addr_set_ip4_u32 (&dst, dst_addr);
  lwip_enter ();
  err = udp_sendto (socket->pcb, p, &dst, dst_port);
  lwip_leave ();
  pbuf_free (p);
  return err == ERR_OK;
}

void
nfltr_udp_socket_free (NfltrUdpSocket *socket)
{
  if (socket == NULL)
    return;
  udp_remove (socket->pcb);
  g_free (socket);
}

/* ---- names, through lwIP's resolver and the serve side's DNS (nfltr-forwarder.c) ---- */

static void
dns_found_cb (const char *name,
              const ip_addr_t *ipaddr,
              void *arg)
{
  g_autoptr (GTask) task = arg;

  if (ipaddr == NULL)
    g_task_return_new_error (task, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_NOT_FOUND,
                             "%s: name not found", name);
  else
    g_task_return_int (task, ip4_addr_get_u32 (ip_2_ip4 (ipaddr)));
}

void
nfltr_netstack_resolve_async (NfltrNetstack *self,
                              const char *name,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  ip_addr_t addr;
  err_t err;

  g_task_set_source_tag (task, nfltr_netstack_resolve_async);
  lwip_enter ();
  err = dns_gethostbyname (name, &addr, dns_found_cb, g_object_ref (task));
  lwip_leave ();
  if (err == ERR_INPROGRESS)
    return;
  g_object_unref (task); /* the callback's reference: it will not be called */
  if (err == ERR_OK)
    g_task_return_int (task, ip4_addr_get_u32 (ip_2_ip4 (&addr)));
  else
    g_task_return_new_error (task, NFLTR_NETSTACK_ERROR, NFLTR_NETSTACK_ERROR_NOT_FOUND,
                             "%s: cannot resolve (%s)", name, lwip_strerr (err));
}

guint32
nfltr_netstack_resolve_finish (NfltrNetstack *self,
                               GAsyncResult *result,
                               GError **error)
{
  gssize v = g_task_propagate_int (G_TASK (result), error);

  return v < 0 ? 0 : (guint32) v;
}
