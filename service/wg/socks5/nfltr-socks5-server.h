/* nfltr-socks5-server.h — the SOCKS5 front of `nfltr wg socks5` (RFC 1928: CONNECT and UDP
 * ASSOCIATE; no authentication or RFC 1929 username/password). Each CONNECT becomes one TCP
 * flow of the netstack; names are resolved on the serve side, through its DNS. */
#pragma once

#include "nfltr-netstack.h"

G_BEGIN_DECLS

typedef struct _NfltrSocks5Server NfltrSocks5Server;

/* With username non-NULL every client must authenticate (RFC 1929) with these credentials;
 * otherwise only "no authentication" is offered — listen on loopback then. */
NfltrSocks5Server *nfltr_socks5_server_new (NfltrNetstack *netstack,
                                            const char *username,
                                            const char *password);
/* Listens on address (port 0: any); returns the port, 0 with error set. */
guint16 nfltr_socks5_server_listen (NfltrSocks5Server *self,
                                    GSocketAddress *address,
                                    GError **error);
void nfltr_socks5_server_free (NfltrSocks5Server *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrSocks5Server, nfltr_socks5_server_free)

G_END_DECLS
