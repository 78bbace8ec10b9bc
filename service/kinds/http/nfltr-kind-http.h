/* nfltr-kind-http.h — the "http" tunnel kind */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_HTTP (nfltr_kind_http_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindHttp, nfltr_kind_http, NFLTR, KIND_HTTP, NfltrTunnelKind)

G_END_DECLS
