/* relay-agent-ca.h — client certificates for agents (issue 11 item 6, docs/security.md
 * "mTLS"): the relay's own small CA (agent-ca.crt, agent-ca.key 0600 next to relay.key) issues
 * them at enrolment; an operator's CA (`serve --agent-ca FILE`) may issue them too. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _RelayAgentCa RelayAgentCa;

/* Loads the relay's CA from data_dir, creating it the first time, and the operator's CA
 * certificates from operator_file (PEM, one or more; NULL: none). */
RelayAgentCa *relay_agent_ca_load    (const char  *data_dir,
                                      const char  *operator_file,
                                      GError     **error);
void          relay_agent_ca_free    (RelayAgentCa *ca);

/* A client certificate for public_key_pem (SubjectPublicKeyInfo PEM), CN = agent_id, for
 * `days` days; *serial is its serial number as lower-case hex. */
char         *relay_agent_ca_issue   (RelayAgentCa  *ca,
                                      const char    *public_key_pem,
                                      const char    *agent_id,
                                      guint          days,
                                      char         **serial,
                                      GError       **error);

typedef enum {
  RELAY_AGENT_CA_ISSUER_RELAY,     /* issued by this relay's own CA */
  RELAY_AGENT_CA_ISSUER_OPERATOR,  /* issued by the operator's --agent-ca */
} RelayAgentCaIssuer;

/* Checks a presented client certificate against both CAs (signature, validity period, client
 * use). TRUE with its serial (hex), CN and issuer; FALSE with a reason otherwise. */
gboolean      relay_agent_ca_verify  (RelayAgentCa        *ca,
                                      GTlsCertificate     *cert,
                                      char               **serial,
                                      char               **common_name,
                                      RelayAgentCaIssuer  *issuer,
                                      GError             **error);

/* The serial of a certificate as this relay writes it ("01ab…", lower-case hex, no
 * separators): also how `certs revoke` takes it, with ':' allowed. NULL if not hex. */
char         *relay_agent_ca_normalize_serial (const char *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayAgentCa, relay_agent_ca_free)

G_END_DECLS
