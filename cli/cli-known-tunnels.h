/* cli-known-tunnels.h — the certificates `nfltr ssh` has seen, pinned on first use.
 *
 * $XDG_CONFIG_HOME/nfltr/known_tunnels holds one line per public name, "HOST sha256:HEX"
 * (the fingerprint format used everywhere, libshared/nfltr-cert.h), like OpenSSH's
 * known_hosts: '#' starts a comment, a line that is not a pin is ignored (and kept). The
 * parsing is pure so it can be fuzzed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CLI_PIN_UNKNOWN,   /* no line for the host */
  CLI_PIN_MATCH,     /* a line for the host with this fingerprint */
  CLI_PIN_MISMATCH,  /* a line for the host with another fingerprint (*pinned says which) */
} CliPinResult;

/* host: lower-case; fingerprint: "sha256:<64 hex>". *pinned (optional) gets the pinned one
 * when the answer is MATCH or MISMATCH. */
CliPinResult cli_known_tunnels_check      (const char  *contents,
                                           gsize        len,
                                           const char  *host,
                                           const char  *fingerprint,
                                           char       **pinned);
/* The file's new contents with "host fingerprint" appended. */
char        *cli_known_tunnels_add        (const char  *contents,
                                           gsize        len,
                                           const char  *host,
                                           const char  *fingerprint);
/* "[USER@]HOST" of `nfltr ssh`: TRUE when HOST is a DNS name (letters, digits, '-', dots;
 * labels of 1–63, 253 in all); *host (optional) gets it in lower case. */
gboolean     cli_ssh_parse_destination    (const char  *destination,
                                           char       **host);

G_END_DECLS
