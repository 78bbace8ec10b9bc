/* relay-demux.h — sorts a freshly accepted public connection by its first bytes and hands it
 * on (docs/protocol.md §1). */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

/* reserve_only: the connection was taken in a place owed to a data connection; anything
 * else is refused at its first byte (reason max-connections). */
void     relay_demux_accept       (RelayServer       *server,
                                   GSocketConnection *conn,
                                   gboolean           reserve_only);
/* At the connection or descriptor limit: drops the oldest connection still in the first
 * stage (it has not even sent its whole ClientHello), logging `reason`. FALSE if none. */
gboolean relay_demux_evict_oldest (RelayServer       *server,
                                   const char        *reason);
/* Relay shutdown. */
void     relay_demux_close_all    (RelayServer       *server);

G_END_DECLS
