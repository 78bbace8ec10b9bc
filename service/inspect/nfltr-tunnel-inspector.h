/* nfltr-tunnel-inspector.h — the request inspector of one http tunnel on D-Bus (issue 9 §8):
 * xyz.nfltr.Nfltr.Inspector beside the Tunnel interface on its object, the store the http
 * kind records into (registered under the tunnel's kind configuration), and the loopback web
 * page when CreateTunnel asked for one ("inspect-addr"). Main thread. */
#pragma once

#include "nfltr-dbus.h"
#include "nfltr-tunnel-impl.h"

G_BEGIN_DECLS

/* CreateTunnel options (kind_options): "inspect-addr" (s) the web page's loopback address
 * (nfltr-inspect-address.h), "inspect-bodies" (t) bytes of each body to keep (0: none). */
#define NFLTR_INSPECT_OPTION_ADDR   "inspect-addr"
#define NFLTR_INSPECT_OPTION_BODIES "inspect-bodies"

/* For http tunnels: records from now on, exports the Inspector on object, and lives as long
 * as tunnel. Other kinds are left alone. */
void nfltr_tunnel_inspector_attach (NfltrTunnelImpl         *tunnel,
                                    NfltrDbusObjectSkeleton *object);

G_END_DECLS
