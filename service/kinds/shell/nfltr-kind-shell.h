/* nfltr-kind-shell.h — the "shell" tunnel kind: an SSH server inside the agent's TLS */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_SHELL (nfltr_kind_shell_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindShell, nfltr_kind_shell, NFLTR, KIND_SHELL, NfltrTunnelKind)

G_END_DECLS
