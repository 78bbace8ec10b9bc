/* relay-enrol.h — POST /api/v1/enrol: a fleet token exchanged for an agent's own credential
 * (docs/protocol.md §9, docs/security.md "Fleet tokens"). */
#pragma once

#include <libsoup/soup.h>

#include "relay-types.h"

G_BEGIN_DECLS

/* An enrolment request body is a small JSON object; more than this is refused unread. */
#define RELAY_ENROL_MAX_BODY 4096

typedef struct {
  char *token;       /* a fleet token, or NULL */
  char *api_key;     /* an API key (only with public_key: mTLS), or NULL */
  char *agent_id;    /* 32 hex, lower-cased */
  char *public_key;  /* SubjectPublicKeyInfo PEM: issue a client certificate (mTLS), or NULL */
} RelayEnrolRequest;

void     relay_enrol_request_clear (RelayEnrolRequest *request);

/* Parses an enrolment request body (docs/protocol.md §12): {"token": "nfltr_ft_…" | "api_key":
 * "nfltr_…" (with public_key only), "agent_id": "<32 hex>", "public_key": "<PEM>"?}. FALSE with
 * a message fit for the client otherwise. */
gboolean relay_enrol_request_parse (const char         *body,
                                    gsize               len,
                                    RelayEnrolRequest  *request,
                                    GError            **error);

/* The SoupServer handler of /api/v1/enrol (user_data: the RelayServer). */
void     relay_enrol_handle        (SoupServer        *soup,
                                    SoupServerMessage *msg,
                                    const char        *path,
                                    GHashTable        *query,
                                    gpointer           user_data);

/* Its early handler: refuses a body over RELAY_ENROL_MAX_BODY before it is read. */
void     relay_enrol_early_cb      (SoupServer        *soup,
                                    SoupServerMessage *msg,
                                    const char        *path,
                                    GHashTable        *query,
                                    gpointer           user_data);

G_END_DECLS
