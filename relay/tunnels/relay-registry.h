/* relay-registry.h — who holds which name (docs/protocol.md §6), and the live agents.
 *
 * A binding outlives its place in the registry while connections made through it are still
 * running, so it is reference counted; its counters are what the API reports. */
#pragma once

#include "relay-types.h"
#include "nfltr-proto.h"

G_BEGIN_DECLS

struct _RelayBinding {
  char        *name;          /* DNS label */
  char        *host;          /* <name>.<domain> */
  char        *url;
  NfltrMode    mode;
  guint8       fingerprint[NFLTR_PROTO_FINGERPRINT_SIZE];
  char        *fingerprint_text;  /* "sha256:<hex>" */
  char        *kind;          /* from BIND, may be NULL */
  char        *since;         /* RFC 3339 */
  RelayAgent  *agent;         /* owner; NULL once unbound */
  /* counters, for the API */
  guint64      conns_total;
  guint        conns_active;
  guint64      bytes_to_agent;
  guint64      bytes_to_client;
  /* the relay's own check through the tunnel (relay/proof/relay-proof.h) */
  int          proof_result;      /* RelayProofResult */
  gint64       proof_checked;     /* Unix seconds of the last finished check; 0 = none yet */
  char        *proof_observed;    /* "sha256:<hex>" the agent's TLS server presented, or NULL */
  char        *proof_detail;      /* why the last check did not pass, or NULL */
  gboolean     proof_flagged;     /* some check of this binding saw another certificate */
  gboolean     proof_running;
  guint        proof_checks;      /* checks finished */
};

RelayBinding  *relay_binding_new    (const char *name, const char *domain);
RelayBinding  *relay_binding_ref    (RelayBinding *binding);
void           relay_binding_unref  (RelayBinding *binding);
const char    *relay_binding_mode_to_string (const RelayBinding *binding);

RelayRegistry *relay_registry_new   (void);
void           relay_registry_free  (RelayRegistry *registry);

/* transfer none; NULL when the name is free */
RelayBinding  *relay_registry_lookup (RelayRegistry *registry, const char *name);
/* Takes a reference; replaces whatever held the name. */
void           relay_registry_insert (RelayRegistry *registry, RelayBinding *binding);
/* Removes binding if it is the one registered under its name, and clears its owner. */
void           relay_registry_remove (RelayRegistry *registry, RelayBinding *binding);

/* Called after every insert (a BIND took the name), for relay/proof/'s first check. */
typedef void (*RelayRegistryInsertFunc) (RelayBinding *binding,
                                         gpointer      user_data);
void           relay_registry_set_insert_func (RelayRegistry          *registry,
                                               RelayRegistryInsertFunc func,
                                               gpointer                user_data);
/* The bindings now registered (transfer container; each binding is the registry's). */
GPtrArray     *relay_registry_list   (RelayRegistry *registry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayBinding, relay_binding_unref)

G_END_DECLS
