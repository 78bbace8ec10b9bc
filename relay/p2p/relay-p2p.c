/* relay-p2p.c — P2P offers, signalling and the relayed fallback (docs/protocol.md §9.7).
 *
 * An offer is { lookup id, sender, claimant, runs left, expiry }. OFFER registers it, CLAIM
 * joins it while nobody else holds it, FORWARD carries a pairing message to the other agent,
 * END says how the run went: a failed run spends one of the two, a paired one restores them
 * (so the same code can resume a broken transfer), and when none is left the offer dies.
 * P2P_RELAY frames go between the two agents of a claimed offer only, through a per-agent
 * token bucket with a bounded queue. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-p2p.h"
#include "relay-server.h"
#include "agents/relay-agent.h"
#include "nfltr-messages.h"

#include <gnutls/crypto.h>
#include <string.h>

typedef struct {
  RelayP2p   *p2p;
  char       *id;
  RelayAgent *owner;
  RelayAgent *claimant;
  guint       runs_left;
  gboolean    paired;     /* this run's sender saw the peer's confirmation */
  guint       expire_id;
  guint64     relayed;    /* P2P_RELAY frames owner → claimant in this run (the test hook) */
  guint64     relayed_bytes; /* every P2P_RELAY byte this offer carried, both ways */
  NfltrFrame *held;       /* the test hook's reordered frame */
} RelayOffer;

typedef struct {
  RelayAgent *target;
  NfltrFrame *frame;
  gsize       bytes;
} Queued;

typedef struct {
  double  tokens;
  gint64  last;         /* monotonic µs */
  GQueue  queue;        /* Queued, waiting for tokens */
  gsize   queued_bytes;
  guint   flush_id;
  RelayAgent *agent;
  RelayP2p   *p2p;
} RateState;

struct _RelayP2p {
  GHashTable *offers;  /* id → RelayOffer (owned) */
  GHashTable *rates;   /* RelayAgent* → RateState (owned) */
  guint64     rate;    /* bytes per second per agent */
  /* A test hook, set only by tests (NFLTR_RELAY_TEST_P2P_TAMPER=flip:N|drop:N|inject:N|reorder:N):
   * what the relay does to the Nth relayed frame from sender to receiver. */
  char       *tamper;
  guint64     tamper_at;
};

static void
queued_free (Queued *q)
{
  nfltr_frame_free (q->frame);
  g_free (q);
}

static void
rate_state_free (RateState *rs)
{
  g_clear_handle_id (&rs->flush_id, g_source_remove);
  g_queue_clear_full (&rs->queue, (GDestroyNotify) queued_free);
  g_free (rs);
}

static void
offer_free (RelayOffer *offer)
{
  g_clear_handle_id (&offer->expire_id, g_source_remove);
  g_clear_pointer (&offer->held, nfltr_frame_free);
  g_free (offer->id);
  g_free (offer);
}

RelayP2p *
relay_p2p_new (void)
{
  RelayP2p *p2p = g_new0 (RelayP2p, 1);
  const char *tamper = g_getenv ("NFLTR_RELAY_TEST_P2P_TAMPER");
  const char *rate = g_getenv ("NFLTR_RELAY_P2P_RATE");

  p2p->offers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) offer_free);
  p2p->rates = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) rate_state_free);
  p2p->rate = RELAY_P2P_RATE_BYTES_S;
  if (rate != NULL && g_ascii_strtoull (rate, NULL, 10) > 0)
    p2p->rate = g_ascii_strtoull (rate, NULL, 10);
  if (tamper != NULL && strchr (tamper, ':') != NULL)
    {
      p2p->tamper = g_strndup (tamper, strchr (tamper, ':') - tamper);
      p2p->tamper_at = g_ascii_strtoull (strchr (tamper, ':') + 1, NULL, 10);
      g_message ("P2P test hook active: %s frame %" G_GUINT64_FORMAT, p2p->tamper, p2p->tamper_at);
    }
  return p2p;
}

void
relay_p2p_free (RelayP2p *p2p)
{
  if (p2p == NULL)
    return;
  g_hash_table_unref (p2p->offers);
  g_hash_table_unref (p2p->rates);
  g_free (p2p->tamper);
  g_free (p2p);
}

static RelayP2p *
agent_p2p (RelayAgent *agent)
{
  return relay_agent_get_server (agent)->p2p;
}

static void
send_op (RelayAgent *to, const char *id, NfltrP2pOp op, guint8 arg, const NfltrFrame *about)
{
  g_autoptr(NfltrFrame) frame = nfltr_frame_new (NFLTR_FRAME_P2P_SIGNAL);
  guint32 request_id;

  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, &arg, 1);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_P2P_OP, op);
  if (about != NULL && nfltr_frame_get_u32 (about, NFLTR_ATTR_REQUEST_ID, &request_id))
    nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, request_id);
  relay_agent_send (to, frame);
}

static void
offer_remove (RelayOffer *offer, const char *why)
{
  g_message ("p2p offer %.8s… ends: %s; relayed %" G_GUINT64_FORMAT " bytes", offer->id, why,
             offer->relayed_bytes);
  g_hash_table_remove (offer->p2p->offers, offer->id);
}

static gboolean
offer_expire_cb (gpointer user_data)
{
  RelayOffer *offer = user_data;

  offer->expire_id = 0;
  send_op (offer->owner, offer->id, NFLTR_P2P_OP_GONE, 0, NULL);
  if (offer->claimant != NULL)
    send_op (offer->claimant, offer->id, NFLTR_P2P_OP_END, NFLTR_P2P_END_CLOSED, NULL);
  offer_remove (offer, "expired");
  return G_SOURCE_REMOVE;
}

static guint
expiry_seconds (void)
{
  const char *env = g_getenv ("NFLTR_RELAY_P2P_OFFER_TTL_S");

  if (env != NULL && g_ascii_strtoull (env, NULL, 10) > 0)
    return g_ascii_strtoull (env, NULL, 10);
  return RELAY_P2P_OFFER_TTL_S;
}

/* A lookup id is what an agent derives from the code's number: 32 lowercase hex digits. */
static gboolean
lookup_id_is_valid (const char *id)
{
  if (strlen (id) != 32)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

static guint
offers_of (RelayP2p *p2p, RelayAgent *agent)
{
  GHashTableIter iter;
  RelayOffer *offer;
  guint n = 0;

  g_hash_table_iter_init (&iter, p2p->offers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &offer))
    n += offer->owner == agent;
  return n;
}

static void
handle_offer (RelayAgent *agent, const NfltrFrame *frame, const char *id)
{
  RelayP2p *p2p = agent_p2p (agent);
  RelayOffer *offer = g_hash_table_lookup (p2p->offers, id);

  if (offer != NULL && offer->owner != agent)
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_OFFER_CLAIMED,
                               "another agent holds an offer with that number", NULL);
      return;
    }
  if (offer == NULL)
    {
      if (offers_of (p2p, agent) >= RELAY_P2P_MAX_OFFERS_PER_AGENT)
        {
          relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_LIMIT, "too many open offers", NULL);
          return;
        }
      offer = g_new0 (RelayOffer, 1);
      offer->p2p = p2p;
      offer->id = g_strdup (id);
      offer->owner = agent;
      g_hash_table_insert (p2p->offers, offer->id, offer);
    }
  /* A repeated OFFER (the sender's agent reconnected or restarted) starts afresh. */
  offer->runs_left = RELAY_P2P_RUNS_PER_OFFER;
  g_clear_handle_id (&offer->expire_id, g_source_remove);
  offer->expire_id = g_timeout_add_seconds (expiry_seconds (), offer_expire_cb, offer);
  send_op (agent, id, NFLTR_P2P_OP_OK, 0, frame);
}

static void
handle_claim (RelayAgent *agent, const NfltrFrame *frame, const char *id)
{
  RelayOffer *offer = g_hash_table_lookup (agent_p2p (agent)->offers, id);

  if (offer == NULL || offer->runs_left == 0)
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_NO_OFFER,
                               "no offer with that code: it was never made, expired, or used up its tries",
                               NULL);
      return;
    }
  if (offer->owner == agent)
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_OFFER_CLAIMED,
                               "this agent made that offer itself", NULL);
      return;
    }
  if (offer->claimant != NULL && offer->claimant != agent)
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_OFFER_CLAIMED,
                               "somebody else is already using that code", NULL);
      return;
    }
  offer->claimant = agent;
  offer->paired = FALSE;
  offer->relayed = 0;
  g_clear_pointer (&offer->held, nfltr_frame_free);
  send_op (agent, id, NFLTR_P2P_OP_OK, 0, frame);
  send_op (offer->owner, id, NFLTR_P2P_OP_CLAIMED, 0, NULL);
}

/* How a run ended, from either agent. */
static void
run_ended (RelayOffer *offer, RelayAgent *from, NfltrP2pEnd how)
{
  RelayAgent *other = from == offer->owner ? offer->claimant : offer->owner;

  switch (how)
    {
      case NFLTR_P2P_END_PAIRED:
        /* Only the code's holder vouches for a pairing: it checked the peer's CONFIRM. */
        if (from == offer->owner && offer->claimant != NULL)
          {
            offer->paired = TRUE;
            offer->runs_left = RELAY_P2P_RUNS_PER_OFFER;
          }
        return;
      case NFLTR_P2P_END_FAILED:
      case NFLTR_P2P_END_CLOSED:
      default: break;
    }
  if (offer->claimant == NULL)
    return;
  if (other != NULL)
    send_op (other, offer->id, NFLTR_P2P_OP_END, how, NULL);
  if (!offer->paired && offer->runs_left > 0)
    offer->runs_left--;
  offer->claimant = NULL;
  offer->paired = FALSE;
  if (offer->runs_left == 0)
    {
      send_op (offer->owner, offer->id, NFLTR_P2P_OP_GONE, 0, NULL);
      offer_remove (offer, "no tries left");
    }
}

void
relay_p2p_handle_signal (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayP2p *p2p = agent_p2p (agent);
  const char *id = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  guint8 op = NFLTR_P2P_OP_FORWARD;
  RelayOffer *offer;
  gsize len;
  const guint8 *data = nfltr_frame_get_bytes (frame, NFLTR_ATTR_DATA, &len);

  nfltr_frame_get_u8 (frame, NFLTR_ATTR_P2P_OP, &op);
  if (!lookup_id_is_valid (id))
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_NO_OFFER, "not an offer id", NULL);
      return;
    }
  switch (op)
    {
      case NFLTR_P2P_OP_OFFER: handle_offer (agent, frame, id); return;
      case NFLTR_P2P_OP_CLAIM: handle_claim (agent, frame, id); return;
      default: break;
    }
  offer = g_hash_table_lookup (p2p->offers, id);
  if (offer == NULL || (agent != offer->owner && agent != offer->claimant))
    {
      /* Late frames of a run that already ended are normal: dropped without a word. */
      if (op != NFLTR_P2P_OP_END && op != NFLTR_P2P_OP_WITHDRAW)
        relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_NO_OFFER, "not part of that offer", NULL);
      return;
    }
  switch (op)
    {
      case NFLTR_P2P_OP_FORWARD:
        {
          RelayAgent *other = agent == offer->owner ? offer->claimant : offer->owner;
          g_autoptr (NfltrFrame) out = nfltr_frame_new (NFLTR_FRAME_P2P_SIGNAL);

          if (other == NULL)
            return;
          nfltr_frame_set_string (out, NFLTR_ATTR_PEER_ID, id);
          nfltr_frame_set_bytes (out, NFLTR_ATTR_DATA, data, len);
          relay_agent_send (other, out);
          return;
        }
      case NFLTR_P2P_OP_END: run_ended (offer, agent, len >= 1 ? data[0] : NFLTR_P2P_END_CLOSED); return;
      case NFLTR_P2P_OP_WITHDRAW:
        if (agent != offer->owner)
          return;
        if (offer->claimant != NULL)
          send_op (offer->claimant, id, NFLTR_P2P_OP_END, NFLTR_P2P_END_CLOSED, NULL);
        offer_remove (offer, "withdrawn");
        return;
      default:
        relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_PROTOCOL, "not an operation an agent asks for",
                                 NULL);
        return;
    }
}

/* --- the relayed fallback ------------------------------------------------------------- */

static RateState *
rate_state (RelayP2p *p2p, RelayAgent *agent)
{
  RateState *rs = g_hash_table_lookup (p2p->rates, agent);

  if (rs == NULL)
    {
      rs = g_new0 (RateState, 1);
      rs->agent = agent;
      rs->p2p = p2p;
      rs->tokens = (double) p2p->rate / 4;
      rs->last = g_get_monotonic_time ();
      g_queue_init (&rs->queue);
      g_hash_table_insert (p2p->rates, agent, rs);
    }
  return rs;
}

static void
refill (RateState *rs)
{
  gint64 now = g_get_monotonic_time ();
  double burst = (double) rs->p2p->rate / 4;

  rs->tokens = MIN (burst, rs->tokens + (double) (now - rs->last) * rs->p2p->rate / G_USEC_PER_SEC);
  rs->last = now;
}

static gboolean flush_cb (gpointer user_data);

static void
schedule_flush (RateState *rs)
{
  guint ms;

  if (rs->flush_id != 0 || g_queue_is_empty (&rs->queue))
    return;
  ms = (guint) MAX (1.0, ((Queued *) g_queue_peek_head (&rs->queue))->bytes * 1000.0 / rs->p2p->rate);
  rs->flush_id = g_timeout_add (ms, flush_cb, rs);
}

static gboolean
flush_cb (gpointer user_data)
{
  RateState *rs = user_data;

  rs->flush_id = 0;
  refill (rs);
  while (!g_queue_is_empty (&rs->queue))
    {
      Queued *q = g_queue_peek_head (&rs->queue);

      if (rs->tokens < (double) q->bytes)
        break;
      rs->tokens -= (double) q->bytes;
      rs->queued_bytes -= q->bytes;
      relay_agent_send (q->target, q->frame);
      queued_free (g_queue_pop_head (&rs->queue));
    }
  schedule_flush (rs);
  return G_SOURCE_REMOVE;
}

/* Sends frame to target within agent's rate; FALSE when the queue is full. */
static gboolean
shaped_send (RelayP2p *p2p, RelayAgent *agent, RelayAgent *target, NfltrFrame *frame, gsize bytes)
{
  RateState *rs = rate_state (p2p, agent);

  refill (rs);
  if (g_queue_is_empty (&rs->queue) && rs->tokens >= (double) bytes)
    {
      rs->tokens -= (double) bytes;
      relay_agent_send (target, frame);
      nfltr_frame_free (frame);
      return TRUE;
    }
  if (rs->queued_bytes + bytes > RELAY_P2P_QUEUE_BYTES)
    {
      nfltr_frame_free (frame);
      return FALSE;
    }
  {
    Queued *q = g_new0 (Queued, 1);

    q->target = target;
    q->frame = frame;
    q->bytes = bytes;
    g_queue_push_tail (&rs->queue, q);
    rs->queued_bytes += bytes;
  }
  schedule_flush (rs);
  return TRUE;
}

static NfltrFrame *
relay_frame (const char *id, const guint8 *data, gsize len)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_P2P_RELAY);

  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, data, len);
  return frame;
}

/* The test hook: returns the frames to send in place of frame (maybe none). */
static GPtrArray *
tamper (RelayOffer *offer, const char *id, const guint8 *data, gsize len)
{
  RelayP2p *p2p = offer->p2p;
  GPtrArray *out = g_ptr_array_new ();
  guint64 n = offer->relayed++;

  if (p2p->tamper == NULL || n < p2p->tamper_at || (n > p2p->tamper_at + 1))
    {
      g_ptr_array_add (out, relay_frame (id, data, len));
      return out;
    }
  if (n == p2p->tamper_at + 1)
    {
      g_ptr_array_add (out, relay_frame (id, data, len));
      if (offer->held != NULL)
        g_ptr_array_add (out, g_steal_pointer (&offer->held));
      return out;
    }
  if (g_str_equal (p2p->tamper, "flip") && len > 20)
    {
      g_autofree guint8 *copy = g_memdup2 (data, len);

      copy[len / 2] ^= 0x01;
      g_ptr_array_add (out, relay_frame (id, copy, len));
    }
  else if (g_str_equal (p2p->tamper, "drop"))
    ;
  else if (g_str_equal (p2p->tamper, "inject") && len > 12)
    {
      /* A record of the right shape (this frame's seq and length) that nobody sealed. */
      g_autofree guint8 *forged = g_memdup2 (data, len);

      gnutls_rnd (GNUTLS_RND_NONCE, forged + 12, len - 12);
      g_ptr_array_add (out, relay_frame (id, forged, len));
      g_ptr_array_add (out, relay_frame (id, data, len));
    }
  else if (g_str_equal (p2p->tamper, "reorder"))
    offer->held = relay_frame (id, data, len);
  else
    g_ptr_array_add (out, relay_frame (id, data, len));
  return out;
}

void
relay_p2p_handle_relay (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayP2p *p2p = agent_p2p (agent);
  const char *id = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  RelayOffer *offer = g_hash_table_lookup (p2p->offers, id);
  RelayAgent *other;
  g_autoptr(GPtrArray) frames = NULL;
  gsize len;
  const guint8 *data = nfltr_frame_get_bytes (frame, NFLTR_ATTR_DATA, &len);

  /* Only between the two agents of a claimed offer: the relay is nobody else's pipe. */
  if (offer == NULL || offer->claimant == NULL || (agent != offer->owner && agent != offer->claimant))
    return;
  other = agent == offer->owner ? offer->claimant : offer->owner;
  offer->relayed_bytes += len;
  if (agent == offer->owner)
    frames = tamper (offer, id, data, len);
  else
    {
      frames = g_ptr_array_new ();
      g_ptr_array_add (frames, relay_frame (id, data, len));
    }
  for (guint i = 0; i < frames->len; i++)
    if (!shaped_send (p2p, agent, other, frames->pdata[i], len))
      {
        for (guint j = i + 1; j < frames->len; j++)
          nfltr_frame_free (frames->pdata[j]);
        relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_LIMIT,
                                 "the relayed path is over its rate and its queue is full", NULL);
        return;
      }
}

void
relay_p2p_drop_agent (RelayAgent *agent)
{
  RelayP2p *p2p = agent_p2p (agent);
  GHashTableIter iter;
  RelayOffer *offer;
  g_autoptr(GPtrArray) gone = g_ptr_array_new ();
  g_autoptr(GPtrArray) claimed = g_ptr_array_new ();

  if (p2p == NULL)
    return;
  g_hash_table_iter_init (&iter, p2p->offers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &offer))
    {
      if (offer->owner == agent)
        {
          if (offer->claimant != NULL)
            send_op (offer->claimant, offer->id, NFLTR_P2P_OP_END, NFLTR_P2P_END_CLOSED, NULL);
          g_ptr_array_add (gone, offer);
        }
      else if (offer->claimant == agent)
        g_ptr_array_add (claimed, offer);
    }
  /* Outside the iteration: both may remove offers. */
  for (guint i = 0; i < claimed->len; i++)
    run_ended (claimed->pdata[i], agent, NFLTR_P2P_END_CLOSED);
  for (guint i = 0; i < gone->len; i++)
    offer_remove (gone->pdata[i], "its agent left");
  /* Frames waiting for the rate that were from or to this agent go nowhere now. */
  g_hash_table_remove (p2p->rates, agent);
  g_hash_table_iter_init (&iter, p2p->rates);
  {
    RateState *rs;

    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &rs))
      for (GList *l = rs->queue.head; l != NULL;)
        {
          GList *next = l->next;
          Queued *q = l->data;

          if (q->target == agent)
            {
              rs->queued_bytes -= q->bytes;
              queued_free (q);
              g_queue_delete_link (&rs->queue, l);
            }
          l = next;
        }
  }
}
