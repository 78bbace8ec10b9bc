/* relay-proof-http.h — the proof's HTTP faces on the relay's own name (relay/api/relay-http.c
 * routes to them): the page /proof/<name>, the JSON /api/v1/proof/<name> and the bundle
 * /api/v1/proof/<name>/bundle (docs/protocol.md §10). */
#pragma once

#include <libsoup/soup.h>

#include "relay-types.h"

G_BEGIN_DECLS

#define RELAY_PROOF_PAGE_PREFIX "/proof/"
#define RELAY_PROOF_API_PREFIX  "/api/v1/proof/"

void  relay_proof_page_cb (SoupServer        *soup,
                           SoupServerMessage *msg,
                           const char        *path,
                           GHashTable        *query,
                           gpointer           user_data);  /* RelayServer */
void  relay_proof_api_cb  (SoupServer        *soup,
                           SoupServerMessage *msg,
                           const char        *path,
                           GHashTable        *query,
                           gpointer           user_data);  /* RelayServer */

/* The QR code of text as an inline SVG element (for the page; unit-tested). */
char *relay_proof_qr_svg  (const char *text);

G_END_DECLS
