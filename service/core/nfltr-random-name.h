/* nfltr-random-name.h — the names a tunnel gets when the user gives none */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "<adjective>-<noun>-<10 base32 letters>": 50 bits from the CSPRNG (docs/protocol.md §6: the
 * relay reserves a name for whoever bound it, so it must not be guessable); a valid DNS label.
 * Aborts if the system has no random bytes to give. */
char *nfltr_random_tunnel_name (void);

G_END_DECLS
