/* nfltr-kind-command.h — the "command" tunnel kind: a command run per request, no shell */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_COMMAND (nfltr_kind_command_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindCommand, nfltr_kind_command, NFLTR, KIND_COMMAND, NfltrTunnelKind)

G_END_DECLS
