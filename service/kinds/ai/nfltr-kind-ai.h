/* nfltr-kind-ai.h — the "ai" tunnel kind (nfltr-term-app.h) */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_AI (nfltr_kind_ai_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindAi, nfltr_kind_ai, NFLTR, KIND_AI, NfltrTunnelKind)

G_END_DECLS
