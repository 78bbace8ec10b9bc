/* nfltr-network-manager.h — xyz.nfltr.Nfltr.Networks on /xyz/nfltr/Nfltr: joins networks,
 * exports each as /xyz/nfltr/Nfltr/networks/<id>, and keeps them in networks.json (0600: it
 * holds the networks' WireGuard private keys) so they come back after a restart. */
#pragma once

#include "nfltr-session.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_NETWORK_MANAGER (nfltr_network_manager_get_type ())
G_DECLARE_FINAL_TYPE (NfltrNetworkManager, nfltr_network_manager, NFLTR, NETWORK_MANAGER, GObject)

/* Reads networks.json, starts every network it lists, and exports the Networks interface on
 * connection and each network through object_manager. */
NfltrNetworkManager *nfltr_network_manager_new      (NfltrSession              *session,
                                                     const char                *config_dir,
                                                     GDBusConnection           *connection,
                                                     GDBusObjectManagerServer  *object_manager,
                                                     GError                   **error);
void                 nfltr_network_manager_shutdown (NfltrNetworkManager *self);

G_END_DECLS
