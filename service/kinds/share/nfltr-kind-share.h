/* nfltr-kind-share.h — the "share" tunnel kind: one file, folder, text or standard input at
 * an unguessable URL, for a while or a number of downloads */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_SHARE (nfltr_kind_share_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindShare, nfltr_kind_share, NFLTR, KIND_SHARE, NfltrTunnelKind)

G_END_DECLS
