/* relay-demux.h — sorts a freshly accepted public connection by its first bytes and hands it
 * on (docs/protocol.md §1). */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

void     relay_demux_accept       (RelayServer       *server,
                                   GSocketConnection *conn);
/* Out of descriptors: drops the oldest connection still in the first stage (it has not even
 * sent its whole ClientHello) and logs reason=fd-limit. FALSE if there is none. */
gboolean relay_demux_evict_oldest (RelayServer       *server);
/* Relay shutdown. */
void     relay_demux_close_all    (RelayServer       *server);

G_END_DECLS
