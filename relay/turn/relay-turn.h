/* relay-turn.h — TURN credentials for the agents' calls (issue 14, docs/protocol.md §14.4).
 * The relay does not relay media itself: an operator runs a TURN server next to it (coturn
 * with use-auth-secret) and gives the relay its URL and shared secret (--turn, --turn-secret-file);
 * the relay hands each agent that asks short-lived credentials (the TURN REST API scheme:
 * username = expiry:agent, password = base64 (HMAC-SHA1 (secret, username))). */
#pragma once

#include "relay-types.h"
#include "nfltr-proto.h"

G_BEGIN_DECLS

/* How long minted credentials stay valid, in seconds: longer than a call's setup, short enough
 * that a leaked one is soon useless. A running allocation is refreshed with the same ones. */
#define RELAY_TURN_TTL_S (12 * 3600)

/* TURN_REQUEST (the track table's row): answers TURN_CREDENTIALS, or ERROR(unsupported) when
 * this relay has no TURN server. */
void  relay_turn_handle_request (RelayAgent       *agent,
                                 const NfltrFrame *frame);
/* The password for username under secret (base64 of HMAC-SHA1, as coturn checks it). */
char *relay_turn_password       (const char *secret,
                                 const char *username);

G_END_DECLS
