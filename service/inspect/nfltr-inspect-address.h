/* nfltr-inspect-address.h — where the inspector's web page listens, and who may ask it.
 *
 * The page shows what visitors sent in clear, so it listens on loopback only: a non-loopback
 * address is refused, never quietly narrowed. A web page elsewhere could still reach
 * 127.0.0.1 through a browser, by a DNS name rebound to 127.0.0.1 (its Host then names that
 * site) or by a cross-site form; the server refuses any Host but the loopback address and
 * port it listens on, and asks for a per-run token (see nfltr-inspect-server.c). Pure. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* ngrok's habit: the next ports are tried when this one is taken. */
#define NFLTR_INSPECT_DEFAULT_PORT 4040
#define NFLTR_INSPECT_PORT_TRIES   10

/* "127.0.0.1:4040", "[::1]:4040", "localhost:4040" (→ 127.0.0.1), a bare port "4040"
 * (127.0.0.1) or "" (127.0.0.1:4040). Port 0 picks a free one. Anything that is not a
 * loopback address is refused with NFLTR_ERROR_INVALID_ARGUMENT naming it. */
gboolean nfltr_inspect_parse_listen_address (const char  *text,
                                             char       **host,
                                             guint16     *port,
                                             GError     **error);

/* TRUE when a request's Host field names the page itself: the loopback address it listens
 * on (bound_host: "127.0.0.1" or "::1") or "localhost", with its port. */
gboolean nfltr_inspect_host_allowed (const char *host_field,
                                     const char *bound_host,
                                     guint16     port);

/* The inspector's CreateTunnel options, checked when an http tunnel is created:
 * "inspect-addr" (s, as above) and "inspect-bodies" (t, at most NFLTR_INSPECT_MAX_BODY_CAP).
 * options may be NULL. */
#define NFLTR_INSPECT_MAX_BODY_CAP (16 * 1024 * 1024)
gboolean nfltr_inspect_check_options (GVariant  *options,
                                      GError   **error);

G_END_DECLS
