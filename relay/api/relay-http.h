/* relay-http.h — HTTP on the relay's own name (docs/protocol.md §7): the agent control
 * endpoint and the JSON API. Connections arrive already decrypted (tls/relay-own-name.c). */
#pragma once

#include <libsoup/soup.h>

#include "relay-types.h"

G_BEGIN_DECLS

SoupServer *relay_http_new (RelayServer *server);

G_END_DECLS
