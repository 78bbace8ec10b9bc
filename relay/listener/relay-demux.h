/* relay-demux.h — sorts a freshly accepted public connection by its first bytes and hands it
 * on (docs/protocol.md §1). */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

void     relay_demux_accept       (RelayServer       *server,
                                   GSocketConnection *conn);
/* At the connection or descriptor limit: drops the oldest connection still in the first
 * stage (it has not even sent its whole ClientHello), logging `reason`. FALSE if none. */
gboolean relay_demux_evict_oldest (RelayServer       *server,
                                   const char        *reason);
/* Relay shutdown. */
void     relay_demux_close_all    (RelayServer       *server);

G_END_DECLS
