/* nfltr-resolve.h — HOST:PORT parsing and RFC 6761 *.localhost resolution.
 *
 * RFC 6761 §6.3: names under "localhost." resolve to loopback. curl and Chromium do
 * this themselves; glibc without nss-myhostname does not, so our own clients do. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Splits "HOST:PORT", "[V6]:PORT", "HOST" (default_port) or "PORT" (host "127.0.0.1"
 * when allow_bare_port). Errors name the bad part ("port 70000 is out of range 1–65535"). */
gboolean nfltr_parse_host_port (const char  *text,
                                guint16      default_port,
                                gboolean     allow_bare_port,
                                char       **host,
                                guint16     *port,
                                GError     **error);

/* What a URL's scheme means where an address is asked for. */
typedef enum {
  NFLTR_ADDRESS_TARGET, /* a local server a tunnel forwards to: plain http://, tcp://, ssh://… */
  NFLTR_ADDRESS_RELAY,  /* a relay: https:// (it speaks TLS) */
} NfltrAddressRole;

/* nfltr_parse_host_port, and also a URL as a user pastes it: "http://localhost:8080/",
 * "https://relay.example.com". A URL without a port gets its scheme's (http 80, https 443,
 * ssh 22, …); a path, query or user name is refused naming what to drop, and a scheme
 * that cannot work in @role is refused saying why ("https://" for a target: the agent
 * forwards plain HTTP). */
gboolean nfltr_parse_address (const char        *text,
                              NfltrAddressRole   role,
                              guint16            default_port,
                              gboolean           allow_bare_port,
                              char             **host,
                              guint16           *port,
                              GError           **error);

/* TRUE for "localhost" and any name ending in ".localhost" (case-insensitive, optional
 * trailing dot). */
gboolean nfltr_host_is_localhost (const char *host);

/* A connectable for host:port: loopback 127.0.0.1 for *.localhost, else a
 * GNetworkAddress (normal DNS). */
GSocketConnectable *nfltr_resolve_connectable (const char *host, guint16 port);

G_END_DECLS
