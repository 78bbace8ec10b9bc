/* cli-tunnel-pins.h — the fingerprints of tunnels this user connected to, pinned on first use
 * (`nfltr connect`; issue 9 §3), like OpenSSH's known_hosts.
 *
 * The same file `nfltr ssh` pins in, $XDG_CONFIG_HOME/nfltr/known_tunnels, a line per tunnel
 * host: "NAME.DOMAIN sha256:<64 hex>" (cli-known-tunnels.h). Written atomically; lines it does
 * not understand are kept. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The fingerprint pinned for host ("sha256:…"), or NULL when none. */
char     *cli_tunnel_pin_lookup (const char  *host);
/* Pins fingerprint for host, replacing any earlier pin. */
gboolean  cli_tunnel_pin_store  (const char  *host,
                                 const char  *fingerprint,
                                 GError     **error);
/* The file's path (for messages). */
char     *cli_tunnel_pin_path   (void);

G_END_DECLS
