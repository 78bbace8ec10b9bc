/* nfltr-tunnel-row.h — one tunnel in the list: state, URL, badge, traffic, switch, details. */
#pragma once

#include <gtk/gtk.h>

#include "nfltr-dbus.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_TUNNEL_ROW (nfltr_tunnel_row_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTunnelRow, nfltr_tunnel_row, NFLTR, TUNNEL_ROW, GtkListBoxRow)

GtkWidget       *nfltr_tunnel_row_new          (NfltrDbusTunnel *tunnel);
NfltrDbusTunnel *nfltr_tunnel_row_get_tunnel   (NfltrTunnelRow  *self);
void             nfltr_tunnel_row_set_expanded (NfltrTunnelRow  *self,
                                                gboolean         expanded);
void             nfltr_tunnel_row_request_active (NfltrTunnelRow *self,
                                                  gboolean        active);

GVariant        *nfltr_tunnel_row_describe     (NfltrTunnelRow  *self);

G_END_DECLS
