/* relay-inspect.h — inspectable mode (BIND mode=2, `--e2ee=false` on the agent).
 *
 * The relay terminates the public client's TLS with its wildcard certificate, opens TLS as a
 * client over the agent's data connection, accepts only the certificate whose SHA-256 is the
 * fingerprint from BIND, and copies plaintext between the two (docs/protocol.md §1, §5). */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

typedef struct _RelayInspect RelayInspect;

typedef void (*RelayInspectDoneFunc) (RelayInspect *inspect,
                                      const char   *error,  /* NULL on a clean end */
                                      gpointer      user_data);

/* Takes references on client and data; both TLS handshakes are bounded by
 * --handshake-timeout. done runs once, after which the session frees itself. */
RelayInspect *relay_inspect_start (RelayServer          *server,
                                   RelayBinding         *binding,
                                   GSocketConnection    *client,
                                   GBytes               *hello,
                                   GSocketConnection    *data,
                                   const char           *peer,
                                   RelayInspectDoneFunc  done,
                                   gpointer              user_data);

/* The plaintext bytes copied so far each way (what done reports them with). */
void          relay_inspect_get_bytes (RelayInspect *inspect,
                                       guint64      *to_agent,
                                       guint64      *to_client);

/* Stops at once without calling done (relay shutdown). */
void          relay_inspect_abort (RelayInspect *inspect);

G_END_DECLS
