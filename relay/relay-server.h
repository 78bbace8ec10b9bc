/* relay-server.h — one running relay: configuration, store, certificate, registry, agent
 * directory, pending attaches, the HTTP server on its own name and the public listener. */
#pragma once

#include <libsoup/soup.h>

#include "relay-types.h"

G_BEGIN_DECLS

typedef struct _RelayConnCount RelayConnCount;

struct _RelayServer {
  RelayConfig     config;
  RelayStore     *store;
  RelayIdentity  *identity;
  RelayRegistry  *registry;
  RelayDirectory *directory;    /* agent id → control channel (agents/relay-directory.h) */
  char           *features;     /* what this relay offers in WELCOME (docs/protocol.md §8.2) */
  RelayAttach    *attach;
  SoupServer     *http;
  GSocket        *listen_socket;
  GSource        *accept_source;  /* NULL while accepting is paused */
  guint           accept_retry_id;
  gint64          fd_limit_logged;
  GHashTable     *agents;       /* RelayAgent* set: every open control channel */
  char           *listen_text;  /* the address actually bound, "IP:PORT" */
  guint16         port;         /* the port actually bound */
  RelayConnCount *conn_count;   /* accepted connections still open */
  gboolean        accept_paused;
  GQueue          first_stage;  /* connections not yet routed (listener/relay-demux.c), oldest first */
  GHashTable     *first_stage_sources;  /* source address → how many of them */
  guint           key_watch_id;   /* polls relay.db for revoked keys */
  gint64          store_version;  /* relay.db's data_version at the last poll */
};

/* Takes ownership of config's contents. Opens the store and the certificate. */
RelayServer *relay_server_new    (RelayConfig *config,
                                  GError     **error);
/* Binds the public port and starts accepting. */
gboolean     relay_server_start  (RelayServer *server,
                                  GError     **error);
void         relay_server_free   (RelayServer *server);

/* "https://<host>[:port]" with the public port (omitted when 443). */
char        *relay_server_url_for (RelayServer *server,
                                   const char  *host);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayServer, relay_server_free)

G_END_DECLS
