/* nfltr-tunnel-manager.h — the agent's tunnels: create, restore, list, start/stop/remove.
 *
 * Owns the NfltrTunnelImpl objects (exported under /xyz/nfltr/Nfltr/tunnels/), tunnels.json,
 * the watches on the bus names that own transient tunnels, and the random names. It binds
 * through the session's tunnel binder and follows the session's link. */
#pragma once

#include "nfltr-dbus.h"
#include "nfltr-session.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_TUNNEL_MANAGER (nfltr_tunnel_manager_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTunnelManager, nfltr_tunnel_manager, NFLTR, TUNNEL_MANAGER, GObject)

/* Signals:
 *   tunnel-failed (object path, message)   a tunnel went to "failed"
 */
NfltrTunnelManager *nfltr_tunnel_manager_new     (NfltrSession *session,
                                                  const char   *config_dir,
                                                  const char   *certs_dir);
/* Loads tunnels.json and exports each tunnel through object_manager. Tunnels that should be
 * up start when the session adopts a link. */
void                nfltr_tunnel_manager_restore (NfltrTunnelManager       *self,
                                                  GDBusObjectManagerServer *object_manager);
/* Stops every tunnel (UNBIND when unbind) but keeps whether it should be up, so the next
 * Login or service start brings it back. */
void                nfltr_tunnel_manager_stop_all (NfltrTunnelManager *self,
                                                   gboolean            unbind);
/* stop_all without UNBIND, and forgets the owner watches. */
void                nfltr_tunnel_manager_shutdown (NfltrTunnelManager *self);
/* Object paths, in creation order. */
char              **nfltr_tunnel_manager_list_paths (NfltrTunnelManager *self);

/* Manager.CreateTunnel: answers invocation (completing it on manager). */
gboolean            nfltr_tunnel_manager_handle_create_tunnel (NfltrTunnelManager    *self,
                                                               NfltrDbusManager      *manager,
                                                               GDBusMethodInvocation *invocation,
                                                               GVariant              *options);
/* Manager.ReleaseName: answers invocation (completing it on manager). */
gboolean            nfltr_tunnel_manager_handle_release_name  (NfltrTunnelManager    *self,
                                                               NfltrDbusManager      *manager,
                                                               GDBusMethodInvocation *invocation,
                                                               const char            *name);

G_END_DECLS
