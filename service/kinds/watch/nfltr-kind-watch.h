/* nfltr-kind-watch.h — the "watch" tunnel kind: a command run every few seconds, its output in
 * the browser with the changes marked */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_WATCH (nfltr_kind_watch_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindWatch, nfltr_kind_watch, NFLTR, KIND_WATCH, NfltrTunnelKind)

G_END_DECLS
