/* nfltr-loopback-address.h — a GSocketConnectable that keeps a *.localhost name for TLS.
 *
 * It connects to 127.0.0.1 for *.localhost (RFC 6761 §6.3), as nfltr_resolve_connectable()
 * does, but stays a GNetworkAddress with the original name: libsoup uses a session's
 * remote-connectable as the TLS server identity too, so a bare GInetSocketAddress would lose
 * the SNI the relay routes by. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NFLTR_TYPE_LOOPBACK_ADDRESS (nfltr_loopback_address_get_type ())
G_DECLARE_FINAL_TYPE (NfltrLoopbackAddress, nfltr_loopback_address, NFLTR, LOOPBACK_ADDRESS, GNetworkAddress)

/* host should be under .localhost; it is what TLS sends as SNI and checks. */
GSocketConnectable *nfltr_loopback_address_new (const char *host,
                                                guint16     port);

/* host:port for TLS: a loopback address for *.localhost, else a plain GNetworkAddress. */
GSocketConnectable *nfltr_tls_connectable_new  (const char *host,
                                                guint16     port);

G_END_DECLS
