/* nfltr-relay-link.h — the agent's control channel to the relay (docs/protocol.md §3–§4).
 *
 * A link keeps one WebSocket to wss://HOST:PORT/agent/v1/control open: it pins the relay's
 * certificate, says HELLO, answers PING, sends its own PING every 20 s, and reconnects with
 * exponential backoff after any drop. It remembers every name it was asked to BIND and binds
 * them all again after a reconnect, so tunnels come back by themselves. */
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
void                nfltr_relay_link_start            (NfltrRelayLink *self);
void                nfltr_relay_link_stop             (NfltrRelayLink *self);

NfltrRelayLinkState nfltr_relay_link_get_state        (NfltrRelayLink *self);
/* The D-Bus RelayState string: "connecting", "connected", "unreachable", … */
const char         *nfltr_relay_link_state_to_string  (NfltrRelayLinkState state);
/* Why the last attempt failed, NULL when none (NFLTR_ERROR domain). */
const GError       *nfltr_relay_link_get_error        (NfltrRelayLink *self);
const char         *nfltr_relay_link_get_host         (NfltrRelayLink *self);
guint16             nfltr_relay_link_get_port         (NfltrRelayLink *self);
/* The domain announced in WELCOME, NULL before the first one. */
const char         *nfltr_relay_link_get_domain       (NfltrRelayLink *self);

/* Asks the relay for name and keeps asking after every reconnect until unbind. Completes
 * on BOUND (url out) or the relay's ERROR for it (the name is then forgotten), or with the
 * link's error when the link cannot connect. */
void                nfltr_relay_link_bind_async       (NfltrRelayLink      *self,
                                                       const char          *name,
                                                       NfltrMode            mode,
                                                       const guint8         fingerprint[NFLTR_PROTO_FINGERPRINT_SIZE],
                                                       const char          *kind,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean            nfltr_relay_link_bind_finish      (NfltrRelayLink  *self,
                                                       GAsyncResult    *result,
                                                       char           **url,
                                                       GError         **error);
void                nfltr_relay_link_unbind           (NfltrRelayLink *self,
                                                       const char     *name);
void                nfltr_relay_link_refuse           (NfltrRelayLink *self,
                                                       GBytes         *conn_id,
                                                       const char     *message);

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
