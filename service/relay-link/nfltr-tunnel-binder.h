/* nfltr-tunnel-binder.h — tunnel names on a relay link (docs/protocol.md §4–§6).
 *
 * The binder asks the relay for names (BIND → BOUND or ERROR, matched by request-id), gives
 * them back (UNBIND), hears of public connections (CONN_OPEN) and refuses the ones it cannot
 * serve (CONN_REFUSE). It remembers every name it was asked to bind and binds them all again
 * after each WELCOME, so tunnels come back by themselves after a reconnect. It lives on one
 * NfltrRelayLink: the frames it handles are registered with the link's router. */
#pragma once

#include <gio/gio.h>

#include "nfltr-proto.h"
#include "nfltr-relay-link.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_TUNNEL_BINDER (nfltr_tunnel_binder_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTunnelBinder, nfltr_tunnel_binder, NFLTR, TUNNEL_BINDER, GObject)

/* Signals:
 *   bound (name, host, url)                 BOUND for a wanted name, after its waiters
 *   bind-failed (name, GError)              the relay refused the name; it is no longer wanted
 *   conn-open (name, GBytes conn-id, addr)  CONN_OPEN: a public client waits for a data connection
 */
NfltrTunnelBinder *nfltr_tunnel_binder_new          (NfltrRelayLink *link);
NfltrRelayLink    *nfltr_tunnel_binder_get_link     (NfltrTunnelBinder *self);

/* Asks the relay for name and keeps asking after every reconnect until unbind. Completes
 * on BOUND (url out) or the relay's ERROR for it (the name is then forgotten), or with the
 * link's error when the link cannot connect. */
void               nfltr_tunnel_binder_bind_async   (NfltrTunnelBinder   *self,
                                                     const char          *name,
                                                     NfltrMode            mode,
                                                     const guint8         fingerprint[NFLTR_PROTO_FINGERPRINT_SIZE],
                                                     const char          *kind,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
gboolean           nfltr_tunnel_binder_bind_finish  (NfltrTunnelBinder  *self,
                                                     GAsyncResult       *result,
                                                     char              **url,
                                                     GError            **error);
void               nfltr_tunnel_binder_unbind       (NfltrTunnelBinder *self,
                                                     const char        *name);
void               nfltr_tunnel_binder_refuse       (NfltrTunnelBinder *self,
                                                     GBytes            *conn_id,
                                                     const char        *message);

/* docs/protocol.md §6: ends this credential's reservation of name on the relay (RELEASE →
 * RELEASED). NFLTR_ERROR_NAME_TAKEN with the relay's reason when the name is bound or another
 * credential's; the link's error when it is not connected. */
void               nfltr_tunnel_binder_release_async  (NfltrTunnelBinder   *self,
                                                       const char          *name,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean           nfltr_tunnel_binder_release_finish (NfltrTunnelBinder  *self,
                                                       GAsyncResult       *result,
                                                       GError            **error);

G_END_DECLS
