/* relay-wg.c — networks, members and the forwarding of WireGuard datagrams (relay-wg.h).
 *
 * Everything runs on the relay's main thread. The UDP socket is read in batches; each
 * datagram is classified (relay-wg-classify.c), checked against its source's rates, then
 * routed:
 *
 *   type 1 (initiation)  to the member whose key its mac1 names; its sender index is
 *                        remembered with where it came from and which member it went to;
 *   type 2 (response)    by its receiver index; its own sender index is remembered too, both
 *                        indices are tied as one session, and the member who answered is
 *                        now known to be reachable where the response came from;
 *   type 3 (cookie)      by its receiver index;
 *   type 4 (data)        by its receiver index; the other index of the session follows the
 *                        sender's source address (roaming, paper §2).
 *
 * A source is either a UDP address or a member's control channel (WG_PACKET); a datagram
 * goes back the same way. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-wg.h"

#include "udp/relay-udp.h"
#include "relay-wg-classify.h"
#include "relay-wg-store.h"
#include "relay-server.h"
#include "agents/relay-agent.h"
#include "agents/relay-directory.h"
#include "store/relay-store.h"
#include "nfltr-error.h"
#include "nfltr-wg-device.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

/* Index entries live as long as a session may (3 × REJECT_AFTER_TIME, paper §6.1). */
#define INDEX_LIFETIME_US   (540 * G_USEC_PER_SEC)
#define INDEX_MAX           65536
#define SWEEP_INTERVAL_S    30
/* Datagrams read per wake-up: other sources get their turn in between. */
#define READ_BATCH          64
#define MAX_DATAGRAM        65535
/* The per-source rates' defaults are RELAY_WG_DEFAULT_* (relay-wg.h, `--wg-packet-rate`,
 * `--wg-handshake-rate`). Sources tracked at once: bounds the table under a spoofed flood. */
#define DEFAULT_PACKETS_PER_S    RELAY_WG_DEFAULT_PACKETS_PER_S
#define DEFAULT_HANDSHAKES_PER_S RELAY_WG_DEFAULT_HANDSHAKES_PER_S
#define SOURCES_MAX              4096
/* An agent that probes sends every datagram over UDP and on its control channel: the UDP
 * source is kept until it has been silent this long. */
#define UDP_STALE_US             (5 * G_USEC_PER_SEC)
/* Room for bursts between two reads of the main loop. */
#define UDP_BUFFER_BYTES         (4 * 1024 * 1024)

typedef struct _RelayWgNetwork RelayWgNetwork;

typedef struct {
  struct sockaddr_storage addr;   /* addr_len 0: not UDP */
  socklen_t               addr_len;
  char                   *agent_id;  /* not NULL: that agent's control channel */
} Endpoint;

typedef struct {
  RelayWgNetwork *network;
  guint8          public_key[RELAY_WG_KEY_LEN];
  char           *public_key_b64;
  guint8          mac1_key[RELAY_WG_KEY_LEN];
  char           *kind;
  char           *label;
  guint32         address;
  char           *agent_id;   /* the agent that joined it; NULL for a stock peer */
  Endpoint        udp;        /* where it answered from over UDP, once seen */
  gint64          udp_seen;
} Member;

struct _RelayWgNetwork {
  char       *name;
  GHashTable *members;   /* base64 key → Member* */
};

typedef struct {
  guint32         index;
  RelayWgNetwork *network;
  Endpoint        endpoint;      /* where the index's owner is */
  gint64          udp_seen;      /* when endpoint, a UDP one, last sent something */
  char           *delivered_to;  /* type 1: the key of the member it went to */
  guint32         peer_index;    /* the other end's index of the session, 0 = unknown */
  gint64          last_used;
} IndexEntry;

typedef struct {
  double  packets;      /* tokens */
  double  handshakes;
  gint64  updated;
} SourceRate;

struct _RelayWg {
  RelayServer  *server;
  RelayWgStore *store;
  GHashTable   *networks;   /* name → RelayWgNetwork* */
  GHashTable   *indices;    /* guint32 → IndexEntry* */
  GHashTable   *sources;    /* IP bytes (GBytes) → SourceRate* */
  GSocket      *socket;
  GSource      *read_source;
  guint         sweep_id;
  guint         packets_per_s;
  guint         handshakes_per_s;
  RelayWgStats  stats;
  RelayWgStats  logged;     /* the counts the log last showed */
  guint8       *buffer;
};

/* ---- endpoints --------------------------------------------------------------------------- */

static void
endpoint_clear (Endpoint *ep)
{
  g_clear_pointer (&ep->agent_id, g_free);
  ep->addr_len = 0;
}

static void
endpoint_copy (Endpoint *to, const Endpoint *from)
{
  if (to == from)
    return;
  endpoint_clear (to);
  memcpy (&to->addr, &from->addr, from->addr_len);
  to->addr_len = from->addr_len;
  to->agent_id = g_strdup (from->agent_id);
}

static gboolean
endpoint_equal (const Endpoint *a, const Endpoint *b)
{
  if (a->addr_len != b->addr_len || g_strcmp0 (a->agent_id, b->agent_id) != 0)
    return FALSE;
  return memcmp (&a->addr, &b->addr, a->addr_len) == 0;
}

/* UDP is preferred: a control-channel source replaces a UDP endpoint only once that has been
 * silent for UDP_STALE_US. */
static void
endpoint_learn (Endpoint *to, gint64 *udp_seen, const Endpoint *from)
{
  gint64 now = g_get_monotonic_time ();

  if (from->addr_len > 0)
    {
      if (!endpoint_equal (to, from))
        endpoint_copy (to, from);
      *udp_seen = now;
      return;
    }
  if (to->addr_len > 0 && now - *udp_seen < UDP_STALE_US)
    return;
  endpoint_copy (to, from);
}

/* ---- networks and members ---------------------------------------------------------------- */

static void
member_free (Member *m)
{
  g_free (m->public_key_b64);
  g_free (m->kind);
  g_free (m->label);
  g_free (m->agent_id);
  endpoint_clear (&m->udp);
  g_free (m);
}

static void
network_free (RelayWgNetwork *n)
{
  g_hash_table_unref (n->members);
  g_free (n->name);
  g_free (n);
}

static RelayWgNetwork *
network_get (RelayWg *wg, const char *name)
{
  RelayWgNetwork *n = g_hash_table_lookup (wg->networks, name);

  if (n == NULL)
    {
      n = g_new0 (RelayWgNetwork, 1);
      n->name = g_strdup (name);
      n->members = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) member_free);
      g_hash_table_insert (wg->networks, n->name, n);
    }
  return n;
}

static Member *
member_put (RelayWg *wg, const char *network, const guint8 key[RELAY_WG_KEY_LEN], const char *kind,
            const char *label, guint32 address)
{
  RelayWgNetwork *n = network_get (wg, network);
  g_autofree char *b64 = nfltr_wg_key_to_base64 (key);
  Member *m = g_hash_table_lookup (n->members, b64);

  if (m == NULL)
    {
      m = g_new0 (Member, 1);
      m->network = n;
      memcpy (m->public_key, key, RELAY_WG_KEY_LEN);
      m->public_key_b64 = g_steal_pointer (&b64);
      relay_wg_mac1_key (key, m->mac1_key);
      g_hash_table_insert (n->members, m->public_key_b64, m);
    }
  g_free (m->kind);
  m->kind = g_strdup (kind);
  g_free (m->label);
  m->label = g_strdup (label ? label : "");
  m->address = address;
  return m;
}

/* ---- indices ----------------------------------------------------------------------------- */

static void
index_free (IndexEntry *e)
{
  endpoint_clear (&e->endpoint);
  g_free (e->delivered_to);
  g_free (e);
}

static IndexEntry *
index_put (RelayWg *wg, guint32 index, RelayWgNetwork *network, const Endpoint *from)
{
  IndexEntry *e = g_hash_table_lookup (wg->indices, GUINT_TO_POINTER (index));

  if (e == NULL)
    {
      if (g_hash_table_size (wg->indices) >= INDEX_MAX)
        return NULL;
      e = g_new0 (IndexEntry, 1);
      e->index = index;
      g_hash_table_insert (wg->indices, GUINT_TO_POINTER (index), e);
    }
  /* Indices are random 32-bit numbers chosen by the peers: a collision replaces the older
   * entry, as a new session replaces the old one at the peer. */
  e->network = network;
  endpoint_learn (&e->endpoint, &e->udp_seen, from);
  g_clear_pointer (&e->delivered_to, g_free);
  e->peer_index = 0;
  e->last_used = g_get_monotonic_time ();
  return e;
}

static IndexEntry *
index_lookup (RelayWg *wg, guint32 index)
{
  IndexEntry *e = g_hash_table_lookup (wg->indices, GUINT_TO_POINTER (index));

  if (e != NULL)
    e->last_used = g_get_monotonic_time ();
  return e;
}

/* The UDP side's counts in the log: at each sweep when they moved (an operator sees a
 * flood being dropped), and once at the end. */
static void
log_stats (RelayWg *wg, gboolean final)
{
  if (!final && memcmp (&wg->stats, &wg->logged, sizeof wg->stats) == 0)
    return;
  wg->logged = wg->stats;
  g_message ("wg udp%s: forwarded %" G_GUINT64_FORMAT ", initiations %" G_GUINT64_FORMAT
             ", dropped invalid %" G_GUINT64_FORMAT ", unrouted %" G_GUINT64_FORMAT
             ", rate %" G_GUINT64_FORMAT ", other %" G_GUINT64_FORMAT "; sources %u",
             final ? " (final)" : "", wg->stats.forwarded, wg->stats.initiations, wg->stats.dropped_invalid,
             wg->stats.dropped_unrouted, wg->stats.dropped_rate, wg->stats.dropped_other,
             wg->sources ? g_hash_table_size (wg->sources) : 0);
}

static gboolean
sweep_cb (gpointer user_data)
{
  RelayWg *wg = user_data;
  GHashTableIter iter;
  IndexEntry *e;
  SourceRate *rate;
  gint64 now = g_get_monotonic_time ();

  g_hash_table_iter_init (&iter, wg->indices);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &e))
    if (now - e->last_used > INDEX_LIFETIME_US)
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, wg->sources);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &rate))
    if (now - rate->updated > 10 * G_USEC_PER_SEC)
      g_hash_table_iter_remove (&iter);
  log_stats (wg, FALSE);
  return G_SOURCE_CONTINUE;
}

/* ---- sending ----------------------------------------------------------------------------- */

static gboolean
send_to (RelayWg *wg, RelayWgNetwork *network, const Endpoint *to, const guint8 *data, gsize len)
{
  if (to->agent_id != NULL)
    {
      RelayAgent *agent = relay_directory_lookup (wg->server->directory, to->agent_id);
      g_autoptr(NfltrFrame) frame = NULL;

      if (agent == NULL || relay_agent_get_state (agent) != RELAY_AGENT_READY)
        return FALSE;
      frame = nfltr_frame_new (NFLTR_FRAME_WG_PACKET);
      nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, network->name);
      nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, data, len);
      relay_agent_send (agent, frame);
      return TRUE;
    }
  if (to->addr_len > 0 && wg->socket != NULL)
    {
      ssize_t n = sendto (g_socket_get_fd (wg->socket), data, len, MSG_DONTWAIT,
                          (const struct sockaddr *) &to->addr, to->addr_len);

      /* A full send buffer drops the datagram, as a router's queue would. */
      return n == (ssize_t) len;
    }
  return FALSE;
}

/* An initiation goes both ways an agent's member may be reached — where it last answered
 * over UDP and its control channel — since either may have stopped passing since; the second
 * copy fails the responder's timestamp check (paper §5.1). Initiations are rare. */
static gboolean
send_to_member (RelayWg *wg, Member *m, const guint8 *data, gsize len)
{
  Endpoint agent = { .agent_id = m->agent_id };
  gboolean sent = FALSE;

  if (m->udp.addr_len > 0)
    sent = send_to (wg, m->network, &m->udp, data, len);
  if (m->agent_id != NULL)
    sent = send_to (wg, m->network, &agent, data, len) || sent;
  return sent;
}

/* ---- routing ----------------------------------------------------------------------------- */

static Member *
find_addressee (RelayWg *wg, RelayWgNetwork *only, const guint8 *data, gsize len)
{
  GHashTableIter niter;
  RelayWgNetwork *n;

  g_hash_table_iter_init (&niter, wg->networks);
  while (g_hash_table_iter_next (&niter, NULL, (gpointer *) &n))
    {
      GHashTableIter miter;
      Member *m;

      if (only != NULL && n != only)
        continue;
      g_hash_table_iter_init (&miter, n->members);
      while (g_hash_table_iter_next (&miter, NULL, (gpointer *) &m))
        if (relay_wg_mac1_matches (data, len, m->mac1_key))
          return m;
    }
  return NULL;
}

/* only: the network a WG_PACKET named (an agent's datagrams stay inside its networks). */
static void
route (RelayWg *wg, RelayWgNetwork *only, const guint8 *data, gsize len, const Endpoint *from)
{
  RelayWgHeader h;
  IndexEntry *e;
  gboolean sent = FALSE;

  if (!relay_wg_classify (data, len, &h))
    {
      wg->stats.dropped_invalid++;
      return;
    }
  switch (h.type)
    {
      case 1:
        {
          Member *to = find_addressee (wg, only, data, len);

          if (to == NULL)
            break;
          e = index_put (wg, h.sender, to->network, from);
          if (e != NULL)
            e->delivered_to = g_strdup (to->public_key_b64);
          sent = send_to_member (wg, to, data, len);
          if (sent)
            wg->stats.initiations++;
          break;
        }
      case 2:
        {
          IndexEntry *initiator = index_lookup (wg, h.receiver);
          IndexEntry *responder;
          Member *answered;

          if (initiator == NULL || (only != NULL && initiator->network != only))
            break;
          /* The member the initiation went to answered from here: later initiations to it go
         * here too (over UDP; its control channel is known anyway). */
          answered = initiator->delivered_to
                       ? g_hash_table_lookup (initiator->network->members, initiator->delivered_to)
                       : NULL;
          if (answered != NULL)
            {
              endpoint_learn (&answered->udp, &answered->udp_seen, from);
              /* the member's own channel is its other way: no need to keep it twice */
              if (answered->udp.agent_id != NULL)
                endpoint_clear (&answered->udp);
            }
          initiator->peer_index = h.sender;
          responder = index_put (wg, h.sender, initiator->network, from);
          if (responder != NULL)
            responder->peer_index = h.receiver;
          sent = send_to (wg, initiator->network, &initiator->endpoint, data, len);
          break;
        }
      case 3:
      case 4:
        e = index_lookup (wg, h.receiver);
        if (e == NULL || (only != NULL && e->network != only))
          break;
        if (h.type == 4 && e->peer_index != 0)
          {
            /* Roaming: the sender of this data owns the session's other index; its replies
           * follow its newest source. */
            IndexEntry *sender = g_hash_table_lookup (wg->indices, GUINT_TO_POINTER (e->peer_index));

            if (sender != NULL && sender->peer_index == h.receiver)
              endpoint_learn (&sender->endpoint, &sender->udp_seen, from);
          }
        sent = send_to (wg, e->network, &e->endpoint, data, len);
        break;
      default: g_assert_not_reached ();
    }
  if (sent)
    wg->stats.forwarded++;
  else
    {
      wg->stats.dropped_unrouted++;
      g_debug ("wg: type %u (sender %08x, receiver %08x, %zu bytes) from %s: no route", h.type, h.sender,
               h.receiver, len, from->agent_id ? "a control channel" : "UDP");
    }
}

/* ---- UDP --------------------------------------------------------------------------------- */

static gboolean
rate_admits (RelayWg *wg, const struct sockaddr_storage *addr, gboolean handshake)
{
  const void *ip;
  gsize ip_len;
  g_autoptr(GBytes) key = NULL;
  SourceRate *rate;
  gint64 now = g_get_monotonic_time ();
  double elapsed;

  if (addr->ss_family == AF_INET)
    {
      ip = &((const struct sockaddr_in *) addr)->sin_addr;
      ip_len = 4;
    }
  else
    {
      ip = &((const struct sockaddr_in6 *) addr)->sin6_addr;
      ip_len = 16;
    }
  key = g_bytes_new (ip, ip_len);
  rate = g_hash_table_lookup (wg->sources, key);
  if (rate == NULL)
    {
      if (g_hash_table_size (wg->sources) >= SOURCES_MAX)
        sweep_cb (wg);
      if (g_hash_table_size (wg->sources) >= SOURCES_MAX)
        return FALSE;
      rate = g_new0 (SourceRate, 1);
      rate->packets = wg->packets_per_s / 10.0;
      rate->handshakes = wg->handshakes_per_s;
      rate->updated = now;
      g_hash_table_insert (wg->sources, g_steal_pointer (&key), rate);
    }
  /* Token buckets: a tenth of a second of packets, a second of handshakes as burst. */
  elapsed = (now - rate->updated) / (double) G_USEC_PER_SEC;
  rate->updated = now;
  rate->packets = MIN (wg->packets_per_s / 10.0, rate->packets + elapsed * wg->packets_per_s);
  rate->handshakes = MIN ((double) wg->handshakes_per_s, rate->handshakes + elapsed * wg->handshakes_per_s);
  if (rate->packets < 1)
    return FALSE;
  if (handshake && rate->handshakes < 1)
    return FALSE;
  rate->packets -= 1;
  if (handshake)
    rate->handshakes -= 1;
  return TRUE;
}

static void
answer_stun (int fd, const guint8 *request, gsize len, const Endpoint *from)
{
  g_autoptr (GSocketAddress) address = g_socket_address_new_from_native ((gpointer) &from->addr, from->addr_len);
  guint8 answer[RELAY_STUN_MAX];
  gsize answer_len;

  if (address == NULL)
    return;
  answer_len = relay_stun_answer (request, len, address, answer);
  if (answer_len > 0)
    (void) sendto (fd, answer, answer_len, MSG_DONTWAIT, (const struct sockaddr *) &from->addr, from->addr_len);
}

static gboolean
udp_read_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  RelayWg *wg = user_data;
  int fd = g_socket_get_fd (socket);

  for (guint i = 0; i < READ_BATCH; i++)
    {
      Endpoint from = { 0 };
      ssize_t n;

      from.addr_len = sizeof from.addr;
      n =
        recvfrom (fd, wg->buffer, MAX_DATAGRAM, MSG_DONTWAIT, (struct sockaddr *) &from.addr, &from.addr_len);
      if (n < 0)
        break;
      /* One UDP port for two tracks (relay/udp): STUN Binding for the P2P track's reflexive
       * candidates is answered here; what is neither STUN nor WireGuard-shaped is dropped. */
      switch (relay_udp_classify (wg->buffer, (gsize) n))
        {
          case RELAY_UDP_STUN: answer_stun (fd, wg->buffer, (gsize) n, &from); continue;
          case RELAY_UDP_OTHER: wg->stats.dropped_other++; continue;
          case RELAY_UDP_WIREGUARD:
          default: break;
        }
      if (!rate_admits (wg, &from.addr, n > 0 && wg->buffer[0] == 1))
        {
          wg->stats.dropped_rate++;
          continue;
        }
      route (wg, NULL, wg->buffer, (gsize) n, &from);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- the track's frames ------------------------------------------------------------------ */

static char *
owner_id_of (RelayAgent *agent)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, relay_agent_get_key_id (agent));
}

static void
send_peer (RelayWg *wg, const char *agent_id, Member *about, gboolean gone)
{
  RelayAgent *agent = agent_id ? relay_directory_lookup (wg->server->directory, agent_id) : NULL;
  g_autoptr(NfltrFrame) frame = NULL;

  if (agent == NULL || relay_agent_get_state (agent) != RELAY_AGENT_READY)
    return;
  frame = nfltr_frame_new (gone ? NFLTR_FRAME_WG_PEER_GONE : NFLTR_FRAME_WG_PEER);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, about->network->name);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, about->public_key_b64);
  if (!gone)
    {
      g_autofree char *address = relay_wg_format_address (about->address);

      nfltr_frame_set_string (frame, NFLTR_ATTR_WG_ADDRESS, address);
      nfltr_frame_set_string (frame, NFLTR_ATTR_KIND, about->kind);
      if (about->label != NULL && about->label[0] != '\0')
        nfltr_frame_set_string (frame, NFLTR_ATTR_WG_LABEL, about->label);
    }
  relay_agent_send (agent, frame);
}

static gboolean
member_is_online (RelayWg *wg, Member *m)
{
  RelayAgent *agent;

  if (m->agent_id == NULL)
    return g_strcmp0 (m->kind, "stock") == 0;
  agent = relay_directory_lookup (wg->server->directory, m->agent_id);
  return agent != NULL && relay_agent_get_state (agent) == RELAY_AGENT_READY;
}

/* Who hears of whom: the network is a star around its serve side. The serve side hears of
 * every member; every other member hears of the serve side only — and only of members that
 * can be reached now (an agent's member after its agent joined; stock peers always), so that
 * an announcement means "handshake now". */
static void
announce (RelayWg *wg, Member *m, gboolean gone)
{
  GHashTableIter iter;
  Member *other;
  gboolean serve = g_strcmp0 (m->kind, "serve") == 0;

  g_hash_table_iter_init (&iter, m->network->members);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &other))
    {
      gboolean other_serve = g_strcmp0 (other->kind, "serve") == 0;

      if (other == m || (!serve && !other_serve))
        continue;
      send_peer (wg, other->agent_id, m, gone);
      if (!gone && member_is_online (wg, other))
        send_peer (wg, m->agent_id, other, FALSE);
    }
}

static NfltrProtoErrorCode
error_code_for (const GError *error)
{
  if (g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN))
    return NFLTR_PROTO_ERR_NAME_TAKEN;
  if (g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND) ||
      g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT))
    return NFLTR_PROTO_ERR_BAD_NAME;
  if (g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT))
    return NFLTR_PROTO_ERR_LIMIT;
  return NFLTR_PROTO_ERR_INTERNAL;
}

void
relay_wg_handle_join (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayServer *server = relay_agent_get_server (agent);
  RelayWg *wg = server->wg;
  const char *name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  const char *kind = nfltr_frame_get_string (frame, NFLTR_ATTR_KIND);
  const char *key_b64 = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  const char *label = nfltr_frame_get_string (frame, NFLTR_ATTR_WG_LABEL);
  g_autofree char *owner_id = owner_id_of (agent);
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = NULL;
  g_autofree char *address_text = NULL;
  guint8 key[RELAY_WG_KEY_LEN];
  guint32 subnet, address;
  guint32 request_id = 0;
  Member *m;

  nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &request_id);
  if (wg == NULL)
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME, "WireGuard is off", name);
      return;
    }
  /* §11: the session must include the track (§8.2), so an agent that cannot follow the
   * network's frames is told so at once rather than joined and left silent. */
  if (!nfltr_proto_features_has (relay_agent_get_features (agent), "wg"))
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME,
                               "WG_JOIN needs the feature “wg”, which this agent's HELLO did not announce", name);
      return;
    }
  if (!nfltr_proto_name_is_valid (name))
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_BAD_NAME,
                               "a network name is one DNS label (a-z, 0-9, '-', at most 63)", name);
      return;
    }
  if (!g_str_equal (kind, "serve") && !g_str_equal (kind, "peer") && !g_str_equal (kind, "stock"))
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_PROTOCOL, "kind is serve, peer or stock", name);
      return;
    }
  if (!nfltr_wg_key_from_base64 (key_b64, key, NULL))
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_PROTOCOL, "peer-id is not a WireGuard public key",
                               name);
      return;
    }
  /* The serve side creates the network and owns it with its credential; everyone else joins
   * one their credential owns (docs/protocol.md §11, as names in §6). */
  if (!relay_wg_store_network (wg->store, name, RELAY_OWNER_KIND_KEY, owner_id, g_str_equal (kind, "serve"),
                               &subnet, &error) ||
      !relay_wg_store_join (wg->store, name, key_b64, kind, label, &address, &error))
    {
      relay_log_refusal (relay_agent_get_peer (agent), "wg-join", "agent=%s network=%s: %s",
                         relay_agent_get_log_id (agent), name, error->message);
      relay_agent_reply_error (agent, frame, error_code_for (error), error->message, name);
      return;
    }

  m = member_put (wg, name, key, kind, label, address);
  /* A stock peer has no channel: it is reached where it sends from. */
  g_free (m->agent_id);
  m->agent_id = g_str_equal (kind, "stock") ? NULL : g_strdup (relay_agent_get_id (agent));

  address_text = g_strdup_printf ("%u.%u.%u.%u/%u", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff,
                                  address & 0xff, RELAY_WG_SUBNET_PREFIX);
  reply = nfltr_frame_new (NFLTR_FRAME_WG_JOINED);
  nfltr_frame_set_u32 (reply, NFLTR_ATTR_REQUEST_ID, request_id);
  nfltr_frame_set_string (reply, NFLTR_ATTR_NAME, name);
  nfltr_frame_set_string (reply, NFLTR_ATTR_PEER_ID, m->public_key_b64);
  nfltr_frame_set_string (reply, NFLTR_ATTR_WG_ADDRESS, address_text);
  nfltr_frame_set_u16 (reply, NFLTR_ATTR_WG_PORT, server->port);
  relay_agent_send (agent, reply);
  g_message ("wg: agent=%s %s %s joined network %s as %s", relay_agent_get_log_id (agent), kind,
             m->public_key_b64, name, address_text);
  announce (wg, m, FALSE);
}

void
relay_wg_handle_leave (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayServer *server = relay_agent_get_server (agent);
  RelayWg *wg = server->wg;
  const char *name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  const char *key_b64 = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  g_autofree char *owner_id = owner_id_of (agent);
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = NULL;
  RelayWgNetwork *network;
  Member *m;
  guint32 subnet;
  guint32 request_id = 0;

  nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &request_id);
  if (wg == NULL)
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME, "WireGuard is off", name);
      return;
    }
  /* §11: the session must include the track (§8.2), so an agent that cannot follow the
   * network's frames is told so at once rather than joined and left silent. */
  if (!nfltr_proto_features_has (relay_agent_get_features (agent), "wg"))
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME,
                               "WG_JOIN needs the feature “wg”, which this agent's HELLO did not announce", name);
      return;
    }
  if (!relay_wg_store_network (wg->store, name, RELAY_OWNER_KIND_KEY, owner_id, FALSE, &subnet, &error) ||
      !relay_wg_store_leave (wg->store, name, key_b64, &error))
    {
      relay_agent_reply_error (agent, frame, error_code_for (error), error->message, name);
      return;
    }
  network = g_hash_table_lookup (wg->networks, name);
  m = network ? g_hash_table_lookup (network->members, key_b64) : NULL;
  if (m != NULL)
    {
      announce (wg, m, TRUE);
      g_hash_table_remove (network->members, key_b64);
    }
  reply = nfltr_frame_new (NFLTR_FRAME_WG_LEFT);
  nfltr_frame_set_u32 (reply, NFLTR_ATTR_REQUEST_ID, request_id);
  nfltr_frame_set_string (reply, NFLTR_ATTR_NAME, name);
  nfltr_frame_set_string (reply, NFLTR_ATTR_PEER_ID, key_b64);
  relay_agent_send (agent, reply);
  g_message ("wg: agent=%s %s left network %s", relay_agent_get_log_id (agent), key_b64, name);
}

void
relay_wg_handle_packet (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayWg *wg = relay_agent_get_server (agent)->wg;
  const char *name = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  RelayWgNetwork *network;
  GHashTableIter iter;
  Member *m;
  gboolean member = FALSE;
  const guint8 *data;
  gsize len;
  Endpoint from = { 0 };

  if (wg == NULL || name == NULL || (network = g_hash_table_lookup (wg->networks, name)) == NULL)
    return;
  /* Only a channel with a member in the network may send into it. */
  g_hash_table_iter_init (&iter, network->members);
  while (!member && g_hash_table_iter_next (&iter, NULL, (gpointer *) &m))
    member = g_strcmp0 (m->agent_id, relay_agent_get_id (agent)) == 0;
  if (!member)
    {
      wg->stats.dropped_unrouted++;
      return;
    }
  data = nfltr_frame_get_bytes (frame, NFLTR_ATTR_DATA, &len);
  from.agent_id = (char *) relay_agent_get_id (agent);
  route (wg, network, data, len, &from);
}

/* ---- life -------------------------------------------------------------------------------- */

RelayWg *
relay_wg_new (RelayServer *server, GError **error)
{
  g_autoptr(RelayWg) wg = g_new0 (RelayWg, 1);
  g_autoptr(GPtrArray) rows = NULL;

  wg->server = server;
  wg->networks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) network_free);
  wg->indices = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) index_free);
  wg->sources = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify) g_bytes_unref, g_free);
  wg->packets_per_s = DEFAULT_PACKETS_PER_S;
  wg->handshakes_per_s = DEFAULT_HANDSHAKES_PER_S;
  wg->store = relay_wg_store_open (server->config.data_dir, error);
  if (wg->store == NULL)
    return NULL;
  rows = relay_wg_store_members (wg->store, error);
  if (rows == NULL)
    return NULL;
  /* Members come back with their addresses; agents are reached again once they rejoin, stock
   * peers once they send. */
  for (guint i = 0; i < rows->len; i++)
    {
      RelayWgMemberRow *row = rows->pdata[i];
      guint8 key[RELAY_WG_KEY_LEN];

      if (nfltr_wg_key_from_base64 (row->public_key, key, NULL))
        member_put (wg, row->network, key, row->kind, row->label, row->address);
    }
  return g_steal_pointer (&wg);
}

gboolean
relay_wg_start (RelayWg *wg, GSocketAddress *address, GError **error)
{
  GSocketFamily family = g_socket_address_get_family (address);

  wg->socket = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (wg->socket == NULL)
    return FALSE;
  g_socket_set_blocking (wg->socket, FALSE);
  /* best effort: the kernel caps it at net.core.[rw]mem_max */
  g_socket_set_option (wg->socket, SOL_SOCKET, SO_RCVBUF, UDP_BUFFER_BYTES, NULL);
  g_socket_set_option (wg->socket, SOL_SOCKET, SO_SNDBUF, UDP_BUFFER_BYTES, NULL);
  if (!g_socket_bind (wg->socket, address, TRUE, error))
    {
      g_prefix_error (error, "WireGuard UDP: ");
      return FALSE;
    }
  wg->buffer = g_malloc (MAX_DATAGRAM);
  wg->read_source = g_socket_create_source (wg->socket, G_IO_IN, NULL);
  g_source_set_callback (wg->read_source, G_SOURCE_FUNC (udp_read_cb), wg, NULL);
  g_source_attach (wg->read_source, NULL);
  wg->sweep_id = g_timeout_add_seconds (SWEEP_INTERVAL_S, sweep_cb, wg);
  return TRUE;
}

void
relay_wg_set_rates (RelayWg *wg, guint packets_per_s, guint handshakes_per_s)
{
  wg->packets_per_s = packets_per_s ? packets_per_s : DEFAULT_PACKETS_PER_S;
  wg->handshakes_per_s = handshakes_per_s ? handshakes_per_s : DEFAULT_HANDSHAKES_PER_S;
}

void
relay_wg_get_stats (RelayWg *wg, RelayWgStats *stats)
{
  *stats = wg->stats;
}

void
relay_wg_free (RelayWg *wg)
{
  if (wg == NULL)
    return;
  if (wg->read_source != NULL)
    {
      g_source_destroy (wg->read_source);
      g_source_unref (wg->read_source);
    }
  g_clear_handle_id (&wg->sweep_id, g_source_remove);
  if (wg->socket != NULL)
    log_stats (wg, TRUE);
  if (wg->socket != NULL)
    g_socket_close (wg->socket, NULL);
  g_clear_object (&wg->socket);
  g_clear_pointer (&wg->indices, g_hash_table_unref);
  g_clear_pointer (&wg->networks, g_hash_table_unref);
  g_clear_pointer (&wg->sources, g_hash_table_unref);
  g_clear_pointer (&wg->store, relay_wg_store_free);
  g_free (wg->buffer);
  g_free (wg);
}
