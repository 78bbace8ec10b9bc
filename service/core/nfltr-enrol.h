/* nfltr-enrol.h — a fleet token exchanged for this agent's own credential (POST /api/v1/enrol,
 * docs/protocol.md §9), over TLS pinned to the relay's certificate. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What a fleet token looks like (the relay's RELAY_FLEET_TOKEN_PREFIX). */
#define NFLTR_FLEET_TOKEN_PREFIX "nfltr_ft_"

gboolean nfltr_enrol_is_fleet_token (const char *secret);

/* POSTs token and agent_id to https://host:port/api/v1/enrol, trusting only the certificate
 * whose fingerprint is pinned. Completes with the agent's credential, or NFLTR_ERROR_AUTH_FAILED
 * with the relay's reason (used up, expired, revoked, unknown). */
void     nfltr_enrol_async          (const char          *host,
                                     guint16              port,
                                     const char          *pinned,
                                     const char          *token,
                                     const char          *agent_id,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
char    *nfltr_enrol_finish         (GAsyncResult  *result,
                                     GError       **error);

G_END_DECLS
