/* nfltr-tunnel-impl.h — one tunnel: xyz.nfltr.Nfltr.Tunnel on /xyz/nfltr/Nfltr/tunnels/<id>.
 *
 * Owns the tunnel's certificate, its TLS credentials, its counters and its data connections.
 * The tunnel manager drives it from the binder's and the link's events; D-Bus Start/Stop/Remove
 * arrive as the skeleton's handle-* signals, which the tunnel manager handles because they
 * need the binder. */
#pragma once

#include "nfltr-dbus.h"
#include "nfltr-tunnel-binder.h"
#include "nfltr-state.h"

G_BEGIN_DECLS

/* docs/service.md, Tunnels: the D-Bus State property is this, as a string. */
typedef enum {
  NFLTR_TUNNEL_STOPPED,
  NFLTR_TUNNEL_STARTING,
  NFLTR_TUNNEL_CONNECTING,     /* never online yet: waiting for the relay (issue 8 §8) */
  NFLTR_TUNNEL_ONLINE,
  NFLTR_TUNNEL_RECONNECTING,   /* the relay is away; the name is bound again when it is back */
  NFLTR_TUNNEL_FAILED,         /* needs the user: LastError says why */
} NfltrTunnelState;

/* "stopped", "starting", "connecting", "online", "reconnecting", "failed" */
const char              *nfltr_tunnel_state_to_string   (NfltrTunnelState state);

#define NFLTR_TYPE_TUNNEL_IMPL (nfltr_tunnel_impl_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTunnelImpl, nfltr_tunnel_impl, NFLTR, TUNNEL_IMPL, NfltrDbusTunnelSkeleton)

/* The tunnel's certificate: config's cert-file/key-file (checked), else the one kept under
 * certs_dir for <name>.<domain>, created on first use. Blocking (file I/O, key generation);
 * any thread. Errors name the file and the fault. */
gboolean                 nfltr_tunnel_load_certificate  (const NfltrTunnelConfig *config,
                                                         const char              *domain,
                                                         const char              *certs_dir,
                                                         char                   **cert_pem,
                                                         char                   **key_pem,
                                                         GError                 **error);
/* The same on a worker thread. */
void                     nfltr_tunnel_load_certificate_async  (const NfltrTunnelConfig *config,
                                                               const char              *domain,
                                                               const char              *certs_dir,
                                                               GCancellable            *cancellable,
                                                               GAsyncReadyCallback      callback,
                                                               gpointer                 user_data);
gboolean                 nfltr_tunnel_load_certificate_finish (GAsyncResult  *result,
                                                               char         **cert_pem,
                                                               char         **key_pem,
                                                               GError       **error);

/* Errors are user-facing: a bad target, a certificate GnuTLS refuses. Call on the engine's
 * thread (the skeleton emits its signals on the thread-default main context). */
NfltrTunnelImpl         *nfltr_tunnel_impl_new          (const NfltrTunnelConfig *config,
                                                         gboolean                 transient,
                                                         const char              *domain,
                                                         const char              *cert_pem,
                                                         const char              *key_pem,
                                                         GError                 **error);
const NfltrTunnelConfig *nfltr_tunnel_impl_get_config   (NfltrTunnelImpl *self);
const char              *nfltr_tunnel_impl_get_name     (NfltrTunnelImpl *self);
/* The kind's parse() of the target (immutable, lives as long as the tunnel); issue 9 §8. */
GVariant                *nfltr_tunnel_impl_get_kind_config (NfltrTunnelImpl *self);
NfltrTunnelState         nfltr_tunnel_impl_get_state    (NfltrTunnelImpl *self);
/* The unique bus name that owns a transient tunnel, NULL otherwise. */
const char              *nfltr_tunnel_impl_get_owner    (NfltrTunnelImpl *self);
void                     nfltr_tunnel_impl_set_owner    (NfltrTunnelImpl *self,
                                                         const char      *owner);

/* Asks the relay for the name; completes once BOUND (online) or refused. */
void                     nfltr_tunnel_impl_start_async  (NfltrTunnelImpl     *self,
                                                         NfltrTunnelBinder   *binder,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);
gboolean                 nfltr_tunnel_impl_start_finish (NfltrTunnelImpl  *self,
                                                         GAsyncResult     *result,
                                                         GError          **error);
/* UNBIND (when binder is not NULL) and end every data connection. */
void                     nfltr_tunnel_impl_stop         (NfltrTunnelImpl   *self,
                                                         NfltrTunnelBinder *binder);
/* Marks the tunnel wanted/not wanted without talking to the relay (restored, logout). */
void                     nfltr_tunnel_impl_set_enabled  (NfltrTunnelImpl *self,
                                                         gboolean         enabled);

/* Events from the binder and the relay link. */
void                     nfltr_tunnel_impl_bound        (NfltrTunnelImpl *self,
                                                         const char      *host,
                                                         const char      *url);
void                     nfltr_tunnel_impl_failed       (NfltrTunnelImpl *self,
                                                         const GError    *error);
void                     nfltr_tunnel_impl_link_changed (NfltrTunnelImpl *self,
                                                         NfltrRelayLink  *link);
/* Issue 11 item 7: a tunnel created with acme-domain gets and renews its certificate from
 * the CA (service/acme/), keeping the ACME files under certs_dir. Nothing for others. */
void                     nfltr_tunnel_impl_use_acme     (NfltrTunnelImpl   *self,
                                                         const char        *certs_dir);
/* CONN_OPEN: spawns the data connection, or refuses it when the tunnel is not online. */
void                     nfltr_tunnel_impl_open_conn    (NfltrTunnelImpl   *self,
                                                         NfltrTunnelBinder *binder,
                                                         GBytes            *conn_id,
                                                         const char        *client_addr);

G_END_DECLS
