/* nfltr-kind-tcp.h — the "tcp" tunnel kind */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_TCP (nfltr_kind_tcp_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindTcp, nfltr_kind_tcp, NFLTR, KIND_TCP, NfltrTunnelKind)

G_END_DECLS
