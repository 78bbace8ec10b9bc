/* relay-own-name.h — TLS clients for the relay's own name: the relay terminates TLS with its
 * certificate (ALPN http/1.1) and hands the plaintext stream to its SoupServer. */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

/* hello: the bytes already read from client, replayed into the TLS server. */
void relay_own_name_accept (RelayServer       *server,
                            GSocketConnection *client,
                            GBytes            *hello,
                            const char        *peer);

/* issue 11, mTLS: the client certificate the connection from peer ("IP:PORT") presented in
 * its handshake, if any (transfer full; each is taken once). */
GTlsCertificate *relay_own_name_take_peer_certificate (RelayServer *server,
                                                       const char  *peer);

G_END_DECLS
