/* relay-server.h — one running relay: configuration, store, certificate, registry, agent
 * directory, pending attaches, the HTTP server on its own name and the public listener. */
#pragma once

#include <libsoup/soup.h>

#include "relay-types.h"

G_BEGIN_DECLS

typedef struct _RelayConnCount RelayConnCount;

/* What an accepted connection turned out to be (docs/relay.md "Fair limits"). Every class but
 * the agent ones counts against its source address (--max-connections-per-source). */
typedef enum {
  RELAY_CONN_FIRST_STAGE,    /* not routed yet (listener/relay-demux.c) */
  RELAY_CONN_OWN_NAME,       /* the relay's own HTTP: API, control channel before HELLO */
  RELAY_CONN_TUNNEL_CLIENT,  /* a public client of a tunnel: takes two places, its own and
                              * its data connection's */
  RELAY_CONN_AGENT_CONTROL,  /* a control channel after WELCOME */
  RELAY_CONN_AGENT_DATA,     /* an agent's data connection, paired */
} RelayConnClass;

struct _RelayServer {
  RelayConfig     config;
  RelayStore     *store;
  RelayIdentity  *identity;
  RelayRegistry  *registry;
  RelayDirectory *directory;    /* agent id → control channel (agents/relay-directory.h) */
  struct _RelayP2p *p2p;        /* P2P offers and the relayed fallback (p2p/relay-p2p.h) */
  struct _RelayA2a *a2a;        /* agent-to-agent messages (a2a/relay-a2a.h) */
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
  guint           sweep_id;       /* idle connections to the relay's own HTTP */
  guint           key_watch_id;   /* polls relay.db for revoked keys */
  gint64          store_version;  /* relay.db's data_version at the last poll */
  struct _RelayWg *wg;            /* the WireGuard track (wg/relay-wg.h) */
  struct _RelayDashboard *dashboard;  /* issue 11: /dashboard (freed with http's handlers) */
  struct _RelayAgentCa   *agent_ca;   /* issue 11: agents' client certificates (auth/) */
  GHashTable             *peer_certs; /* issue 11: peer → client certificate (tls/relay-own-name.c) */
  RelayProof     *proof;          /* checks of verified tunnels, signing key (relay/proof/) */
};

/* Takes ownership of config's contents. Opens the store and the certificate. */
RelayServer *relay_server_new    (RelayConfig *config,
                                  GError     **error);
/* Binds the public port and starts accepting. */
gboolean     relay_server_start  (RelayServer *server,
                                  GError     **error);
void         relay_server_free   (RelayServer *server);

/* Counts of open connections, for the limits. */
guint        relay_server_source_count (RelayServer *server,
                                        const char  *source);
guint        relay_server_class_count  (RelayServer    *server,
                                        RelayConnClass  klass);
/* Moves conn (an accepted connection) to another class. */
void         relay_server_conn_set_class (RelayServer       *server,
                                          GSocketConnection *conn,
                                          RelayConnClass     klass);
/* The same, for the accepted connection whose remote address is peer ("IP:PORT"), for the
 * pieces that see a connection only through libsoup. */
void         relay_server_peer_set_class (RelayServer    *server,
                                          const char     *peer,
                                          RelayConnClass  klass);
/* TRUE when one more public client of a tunnel fits in the public share (its own place and
 * its data connection's). */
gboolean     relay_server_public_room    (RelayServer *server);
/* The number of data connections owed to waiting clients changed: accepting may resume. */
void         relay_server_room_changed   (RelayServer *server);

/* "https://<host>[:port]" with the public port (omitted when 443). */
char        *relay_server_url_for (RelayServer *server,
                                   const char  *host);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayServer, relay_server_free)

G_END_DECLS
