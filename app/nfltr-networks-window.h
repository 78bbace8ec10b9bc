/* nfltr-networks-window.h — the WireGuard networks this agent is in (`nfltr wg`): each with its
 * role, state and address, and its peers with their addresses, latest handshake and bytes. */
#pragma once

#include <adwaita.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

typedef struct _NfltrWindow NfltrWindow;

#define NFLTR_TYPE_NETWORKS_WINDOW (nfltr_networks_window_get_type ())
G_DECLARE_FINAL_TYPE (NfltrNetworksWindow, nfltr_networks_window, NFLTR, NETWORKS_WINDOW, AdwWindow)

NfltrNetworksWindow *nfltr_networks_window_new      (NfltrWindow *window,
                                                     NfltrClient *client);
/* What it shows, for app.test-state: page, and per network its title, subtitle and peers. */
GVariant            *nfltr_networks_window_describe (NfltrNetworksWindow *self);

G_END_DECLS
