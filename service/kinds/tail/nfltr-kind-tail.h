/* nfltr-kind-tail.h — the "tail" tunnel kind: a live view of log files in the browser */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_TAIL (nfltr_kind_tail_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindTail, nfltr_kind_tail, NFLTR, KIND_TAIL, NfltrTunnelKind)

G_END_DECLS
