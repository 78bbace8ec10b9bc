/* nfltr-inspect-registry.h — which tunnel's inspector a connection records into.
 *
 * The data path hands the http kind the tunnel's kind configuration (an immutable GVariant,
 * one per tunnel); the tunnel's inspector registers its store under that pointer, so the
 * kind finds it without the data path knowing about inspection. Any thread. */
#pragma once

#include "nfltr-inspect-store.h"

G_BEGIN_DECLS

void               nfltr_inspect_registry_add    (GVariant          *kind_config,
                                                  NfltrInspectStore *store);
void               nfltr_inspect_registry_remove (GVariant          *kind_config);
/* A new reference, or NULL when the tunnel is not inspected. */
NfltrInspectStore *nfltr_inspect_registry_lookup (GVariant          *kind_config);

G_END_DECLS
