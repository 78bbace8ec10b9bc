/* nfltr-kind-terminal.h — the "terminal" tunnel kind (nfltr-term-app.h) */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_TERMINAL (nfltr_kind_terminal_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindTerminal, nfltr_kind_terminal, NFLTR, KIND_TERMINAL, NfltrTunnelKind)

G_END_DECLS
