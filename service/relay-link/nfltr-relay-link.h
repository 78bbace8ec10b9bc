/* nfltr-relay-link.h — the agent's control channel to the relay (docs/protocol.md §3–§4).
 *
 * A link keeps one WebSocket to wss://HOST:PORT/agent/v1/control open: it pins the relay's
 * certificate, says HELLO, answers PING, sends its own PING every 20 s, and reconnects with
 * exponential backoff after any drop. It knows nothing of tunnels: once WELCOME has arrived,
 * every frame goes through its router to the handlers registered for the frame's type, or to
 * the request that carries the same request-id. Tunnels are bound by NfltrTunnelBinder
 * (nfltr-tunnel-binder.h); later tracks (WireGuard, P2P, a2a) register their own handlers. */
#pragma once

#include <gio/gio.h>

#include "nfltr-proto.h"

G_BEGIN_DECLS

typedef enum {
  NFLTR_RELAY_LINK_STOPPED,
  NFLTR_RELAY_LINK_CONNECTING,
  NFLTR_RELAY_LINK_CONNECTED,
  NFLTR_RELAY_LINK_UNREACHABLE,          /* retrying with backoff */
  NFLTR_RELAY_LINK_AUTH_FAILED,          /* not retrying: the key needs a new Login */
  NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH, /* not retrying: the relay is not the pinned one */
} NfltrRelayLinkState;

#define NFLTR_TYPE_RELAY_LINK (nfltr_relay_link_get_type ())
G_DECLARE_FINAL_TYPE (NfltrRelayLink, nfltr_relay_link, NFLTR, RELAY_LINK, GObject)

/* fingerprint is the pinned "sha256:<hex>" of the relay's certificate. */
NfltrRelayLink     *nfltr_relay_link_new              (const char *host,
                                                       guint16     port,
                                                       const char *fingerprint,
                                                       const char *api_key,
                                                       const char *agent_id);
/* issue 11, mTLS: the client certificate (with its key) the TLS handshake presents; the
 * api_key is then NFLTR_PROTO_MTLS_MARKER. Before start. */
void                nfltr_relay_link_set_client_certificate (NfltrRelayLink  *self,
                                                             GTlsCertificate *cert);
void                nfltr_relay_link_start            (NfltrRelayLink *self);
/* Also fails every request still waiting for its reply. */
void                nfltr_relay_link_stop             (NfltrRelayLink *self);
/* Waiting to reconnect (unreachable, backoff): try now, and start the backoff over. Nothing
 * otherwise (connected, connecting, refused, stopped). */
void                nfltr_relay_link_retry_now        (NfltrRelayLink *self);
/* issue 9 §9: the last PING → PONG round trip on the control channel in ms (0: none yet);
 * "rtt-changed" tells when it changes. */
guint               nfltr_relay_link_get_rtt_ms       (NfltrRelayLink *self);

NfltrRelayLinkState nfltr_relay_link_get_state        (NfltrRelayLink *self);
/* The D-Bus RelayState string: "connecting", "connected", "unreachable", … */
const char         *nfltr_relay_link_state_to_string  (NfltrRelayLinkState state);
/* Why the last attempt failed, NULL when none (NFLTR_ERROR domain). */
const GError       *nfltr_relay_link_get_error        (NfltrRelayLink *self);
const char         *nfltr_relay_link_get_host         (NfltrRelayLink *self);
guint16             nfltr_relay_link_get_port         (NfltrRelayLink *self);
/* The feature tokens HELLO announces (docs/protocol.md §8.2), space-separated; set by a
 * track before nfltr_relay_link_start() or before the next connection. NULL: none. */
void                nfltr_relay_link_set_features     (NfltrRelayLink *self,
                                                       const char     *features);
/* TRUE when the current session agreed on token (offered by us, listed in WELCOME). */
gboolean            nfltr_relay_link_has_feature      (NfltrRelayLink *self,
                                                       const char     *token);
/* The domain announced in WELCOME, NULL before the first one. */
const char         *nfltr_relay_link_get_domain       (NfltrRelayLink *self);
/* issue 11: the proof signing key WELCOME named ("ed25519:<base64>", NULL if none), and the
 * key the relay must name (NULL: any); another one stops the link in FINGERPRINT_MISMATCH. */
const char         *nfltr_relay_link_get_signing_key  (NfltrRelayLink *self);
void                nfltr_relay_link_pin_signing_key  (NfltrRelayLink *self,
                                                       const char     *signing_key);
/* issue 11: GET path on the relay's own name (its JSON API), over TLS pinned like the link;
 * the body of a 200, else NFLTR_ERROR_NOT_FOUND / _FAILED / _FINGERPRINT_MISMATCH. */
void                nfltr_relay_link_fetch_async      (NfltrRelayLink      *self,
                                                       const char          *path,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
GBytes             *nfltr_relay_link_fetch_finish     (NfltrRelayLink      *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);

/* --- the frame router ------------------------------------------------------------------ */

/* Called for a frame of the type it was registered for that answers no waiting request
 * (before WELCOME, only WELCOME and ERROR get this far, and the link's own handlers take
 * them). Returns TRUE when it handled the frame; FALSE passes it to the next handler for the
 * type. A frame nobody handles is answered ERROR(unsupported-frame), except an ERROR (logged)
 * and a reply whose request is no longer waiting (dropped). */
typedef gboolean  (*NfltrFrameHandler)                (NfltrRelayLink   *link,
                                                       const NfltrFrame *frame,
                                                       gpointer          user_data);

/* Handlers run in the order they were added. Returns an id for _remove_frame_handler. */
guint               nfltr_relay_link_add_frame_handler    (NfltrRelayLink    *self,
                                                           NfltrFrameType     type,
                                                           NfltrFrameHandler  handler,
                                                           gpointer           user_data);
void                nfltr_relay_link_remove_frame_handler (NfltrRelayLink *self,
                                                           guint           handler_id);

/* Sends frame on the current connection. FALSE (nothing sent) when there is none. */
gboolean            nfltr_relay_link_send             (NfltrRelayLink   *self,
                                                       const NfltrFrame *frame);

/* Sets a fresh request-id on frame, sends it, and completes with the first frame from the
 * relay that carries the same request-id: the reply, or an ERROR. Fails at once when the
 * link is not connected, and when the connection ends before the reply (request-ids do not
 * outlive their connection). */
void                nfltr_relay_link_request_async    (NfltrRelayLink      *self,
                                                       NfltrFrame          *frame,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
/* The reply frame (check its type: it may be an ERROR), or NULL with error set. */
NfltrFrame         *nfltr_relay_link_request_finish   (NfltrRelayLink  *self,
                                                       GAsyncResult    *result,
                                                       GError         **error);

/* --- without a link -------------------------------------------------------------------- */

/* TLS-connects to the relay's own name without credentials and reports the certificate it
 * presents: fingerprint "sha256:<hex>" and subject DN. */
void                nfltr_relay_probe_async           (const char          *host,
                                                       guint16              port,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean            nfltr_relay_probe_finish          (GAsyncResult  *result,
                                                       char         **fingerprint,
                                                       char         **subject,
                                                       GError       **error);

/* "cannot reach relay HOST:PORT: <reason>" from a connect error. */
GError             *nfltr_relay_unreachable_error     (const char   *host,
                                                       guint16       port,
                                                       const GError *cause);

G_END_DECLS
