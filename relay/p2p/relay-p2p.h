/* relay-p2p.h — the P2P track at the relay (docs/protocol.md §9.7): offers, the signalling
 * between the two agents of an offer (P2P_SIGNAL) and the relayed fallback (P2P_RELAY).
 *
 * The relay keeps, per offer, only the lookup id the sender's agent derived from the code's
 * number (never the words), the sender's channel, the one claimant's channel, how many runs
 * are left and when the offer expires. It forwards between exactly those two channels and
 * reads nothing it forwards. */
#pragma once

#include "relay-types.h"
#include "nfltr-proto.h"

G_BEGIN_DECLS

typedef struct _RelayP2p RelayP2p;

/* An offer allows the first run and one more (§9.1: a guesser wins with 2/2^24). */
#define RELAY_P2P_RUNS_PER_OFFER   2
#define RELAY_P2P_OFFER_TTL_S      (60 * 60)
#define RELAY_P2P_MAX_OFFERS_PER_AGENT 64
/* The relayed fallback: per agent, bytes per second and what may wait for the rate. */
/* 1 GiB/s: a guard against one agent taking the relay's whole bandwidth, not the speed of
 * a transfer (64 MiB/s was a quarter of what wormhole's transit relay moves on loopback). */
#define RELAY_P2P_RATE_BYTES_S     (1024 * 1024 * 1024)
#define RELAY_P2P_QUEUE_BYTES      (8 * 1024 * 1024)

RelayP2p *relay_p2p_new  (void);
void      relay_p2p_free (RelayP2p *p2p);

/* The track table's handlers (agents/relay-agent.c). */
void      relay_p2p_handle_signal (RelayAgent       *agent,
                                   const NfltrFrame *frame);
void      relay_p2p_handle_relay  (RelayAgent       *agent,
                                   const NfltrFrame *frame);
/* The agent's channel closed: its offers die, its claims end. */
void      relay_p2p_drop_agent    (RelayAgent *agent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayP2p, relay_p2p_free)

G_END_DECLS
