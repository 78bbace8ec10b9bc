/* nfltr-enrol.h — a fleet token exchanged for this agent's own credential (POST /api/v1/enrol,
 * docs/protocol.md §9), over TLS pinned to the relay's certificate. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What a fleet token looks like (the relay's RELAY_FLEET_TOKEN_PREFIX). */
#define NFLTR_FLEET_TOKEN_PREFIX "nfltr_ft_"

/* What Login's api_key starts with when the agent is to log in with a client certificate
 * (`nfltr login --mtls`): "mtls:" and the API key or fleet token that authorises its issue. */
#define NFLTR_MTLS_LOGIN_PREFIX "mtls:"
/* …or "mtls-pem:" and a client certificate with its key (PEM, one text) that another CA — the
 * relay operator's `--agent-ca` — issued (`nfltr login --client-cert FILE --client-key FILE`). */
#define NFLTR_MTLS_PEM_PREFIX "mtls-pem:"

gboolean nfltr_enrol_is_fleet_token (const char *secret);

/* POSTs secret (a fleet token, or an API key when public_key_pem is given) and agent_id to
 * https://host:port/api/v1/enrol, trusting only the certificate whose fingerprint is pinned.
 * Completes with the agent's credential — or, with public_key_pem (mTLS), with the client
 * certificate (PEM) the relay issued for it — or NFLTR_ERROR_AUTH_FAILED with the relay's
 * reason (used up, expired, revoked, unknown). */
void     nfltr_enrol_async          (const char          *host,
                                     guint16              port,
                                     const char          *pinned,
                                     const char          *secret,
                                     const char          *agent_id,
                                     const char          *public_key_pem,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
char    *nfltr_enrol_finish         (GAsyncResult  *result,
                                     GError       **error);

/* issue 11, mTLS: the agent's client key (ECDSA P-256) and certificate live in
 * config_dir/client.key (0600) and client.crt (0600; either may hold both, as GIO reads the
 * certificate from one and the key from the other). */
gboolean         nfltr_client_key_generate (char   **key_pem,
                                            char   **public_key_pem,
                                            GError **error);
gboolean         nfltr_client_cert_save    (const char  *config_dir,
                                            const char  *key_pem,
                                            const char  *cert_pem,
                                            GError     **error);
GTlsCertificate *nfltr_client_cert_load    (const char  *config_dir,
                                            GError     **error);

G_END_DECLS
