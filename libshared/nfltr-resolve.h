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

/* TRUE for "localhost" and any name ending in ".localhost" (case-insensitive, optional
 * trailing dot). */
gboolean nfltr_host_is_localhost (const char *host);

/* A connectable for host:port: loopback 127.0.0.1 for *.localhost, else a
 * GNetworkAddress (normal DNS). */
GSocketConnectable *nfltr_resolve_connectable (const char *host, guint16 port);

G_END_DECLS
