/* nfltr-kind-serve.h — the "serve" tunnel kind: a folder as a file server */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_KIND_SERVE (nfltr_kind_serve_get_type ())
G_DECLARE_FINAL_TYPE (NfltrKindServe, nfltr_kind_serve, NFLTR, KIND_SERVE, NfltrTunnelKind)

/* service/kinds/serve/nfltr-serve-app.c: the handlers, on the web layer's server */
gboolean nfltr_serve_app_start (GVariant *config, GError **error);

G_END_DECLS
