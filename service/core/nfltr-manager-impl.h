/* nfltr-manager-impl.h — xyz.nfltr.Nfltr.Manager: the D-Bus face of the session (login, the
 * relay link) and the tunnel manager (the tunnel set), which do the work. */
#pragma once

#include "nfltr-dbus.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_MANAGER_IMPL (nfltr_manager_impl_get_type ())
G_DECLARE_FINAL_TYPE (NfltrManagerImpl, nfltr_manager_impl, NFLTR, MANAGER_IMPL, NfltrDbusManagerSkeleton)

/* config_dir: $XDG_CONFIG_HOME/nfltr, data_dir: $XDG_DATA_HOME/nfltr. */
NfltrManagerImpl *nfltr_manager_impl_new      (const char  *config_dir,
                                               const char  *data_dir,
                                               GError     **error);
/* Tunnels are exported through object_manager; then the saved relay and tunnels are
 * restored (asynchronously: the key may come from libsecret). */
void              nfltr_manager_impl_start    (NfltrManagerImpl         *self,
                                               GDBusObjectManagerServer *object_manager);
/* The session (relay link) the tracks' own objects follow (service/wg/session/). */
struct _NfltrSession *nfltr_manager_impl_get_session (NfltrManagerImpl *self);
/* Disconnects from the relay and ends every data connection. */
void              nfltr_manager_impl_shutdown (NfltrManagerImpl *self);

G_END_DECLS
