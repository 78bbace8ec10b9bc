/* nfltr-cert-trust.h — would a visitor's browser accept this certificate without asking?
 *
 * A tunnel's certificate is the agent's own (end to end), so nobody but the agent can say
 * whether visitors will be warned. The answer is the system's trust store's (the one curl and
 * most non-browser clients use), checked for the tunnel's public host name; browsers ship
 * their own stores, which rarely differ for a public CA. Issue 9 §1. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The words the D-Bus Tunnel.Certificate property, `--json` and the app use. */
#define NFLTR_CERT_TRUST_SELF_SIGNED "self-signed" /* the agent made it: every client warns */
#define NFLTR_CERT_TRUST_TRUSTED     "trusted"     /* the user's, and the trust store accepts it */
#define NFLTR_CERT_TRUST_UNTRUSTED   "untrusted"   /* the user's, but clients will warn */
#define NFLTR_CERT_TRUST_RELAY       "relay"       /* inspectable: visitors see the relay's */

/* Checks the chain in cert_pem (leaf first, intermediates after) for host against the CA
 * certificates in ca_file, or the system's trust store when ca_file is NULL. TRUE when a
 * client would accept it; FALSE with *reason (if not NULL) saying why in a few words
 * ("not signed by a trusted authority", "not valid for HOST", "expired", …). */
gboolean nfltr_cert_chain_trusted (const char  *cert_pem,
                                   const char  *host,
                                   const char  *ca_file,
                                   char       **reason);

G_END_DECLS
