/* nfltr-new-tunnel-dialog.h — kind, local target, name and certificate → Manager.CreateTunnel. */
#pragma once

#include <adwaita.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

typedef struct _NfltrWindow NfltrWindow;

#define NFLTR_TYPE_NEW_TUNNEL_DIALOG (nfltr_new_tunnel_dialog_get_type ())
G_DECLARE_FINAL_TYPE (NfltrNewTunnelDialog, nfltr_new_tunnel_dialog, NFLTR, NEW_TUNNEL_DIALOG, AdwWindow)

NfltrNewTunnelDialog *nfltr_new_tunnel_dialog_new      (NfltrWindow          *window,
                                                        NfltrClient          *client,
                                                        GSettings            *settings);
void                  nfltr_new_tunnel_dialog_fill     (NfltrNewTunnelDialog *self,
                                                        GVariant             *fields);
GVariant             *nfltr_new_tunnel_dialog_describe (NfltrNewTunnelDialog *self);

G_END_DECLS
