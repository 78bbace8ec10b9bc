/* relay-demux.h — sorts a freshly accepted public connection by its first bytes and hands it
 * on (docs/protocol.md §1). */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

void relay_demux_accept (RelayServer       *server,
                         GSocketConnection *conn);

G_END_DECLS
