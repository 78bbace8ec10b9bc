/* relay-types.h — the relay's pieces, and the limits every connection stage runs under.
 *
 * relay-server     owns everything below and the main loop's lifetime
 * listener/        accepts, sorts by first byte, reads the ClientHello or the data preamble
 * passthrough/     conn-id pairing, then splice(2) between the two sockets
 * inspect/         inspectable mode: TLS server to the public, pinned TLS client to the agent
 * tls/             the relay's certificate, its own-name TLS termination, the replay streams
 * agents/          control channels (WebSocket): handshake, track table, agent-id directory
 * tunnels/         the tunnel track: BIND/UNBIND/CONN_OPEN/CONN_REFUSE and the name registry
 * api/             the SoupServer: JSON API and the control-channel endpoint
 * store/           SQLite: API keys, tunnels seen
 * commands/        serve, keys, fingerprint */
#pragma once

#include <gio/gio.h>

#include "nfltr-clienthello.h"

G_BEGIN_DECLS

typedef struct _RelayServer   RelayServer;
typedef struct _RelayStore    RelayStore;
typedef struct _RelayIdentity RelayIdentity;
typedef struct _RelayRegistry RelayRegistry;
typedef struct _RelayBinding  RelayBinding;
typedef struct _RelayAgent    RelayAgent;
typedef struct _RelayDirectory RelayDirectory;
typedef struct _RelayAttach   RelayAttach;
typedef struct _RelayProof    RelayProof;

/* Limits and settings of `nfltr-relay serve` (docs/relay.md). Every stage a connection goes
 * through has its own bound, as in haproxy's `timeout client-hello` / `tune.bufsize`. */
typedef struct {
  char  *listen;                 /* HOST:PORT */
  char  *domain;                 /* the relay's own name; tunnels are <label>.<domain> */
  char  *data_dir;               /* relay.db, relay.crt, relay.key */
  guint  hello_max_bytes;        /* docs/protocol.md §2 */
  guint  handshake_timeout_s;    /* accept → whole ClientHello / preamble; also TLS handshakes */
  guint  attach_timeout_s;       /* CONN_OPEN → data connection (§5) */
  guint  agent_idle_timeout_s;   /* §3: drop agents silent this long */
  guint  hello_timeout_s;        /* WebSocket open → HELLO */
  guint  max_tunnels_per_agent;
  guint  max_connections;        /* accepted and still open; 0 = only the descriptor limit */
  guint  max_per_source;         /* connections from one address, every stage; 0 = a quarter of
                                  * the public share, at most RELAY_DEFAULT_MAX_PER_SOURCE */
  guint  agent_reserve;          /* of max_connections, kept for agents; 0 = a quarter */
  guint  idle_timeout_s;         /* a running passthrough with no byte either way this long */
  guint  http_idle_timeout_s;    /* a connection to the relay's own HTTP with no byte this long */
  guint  max_per_agent;          /* public connections waiting for or through one agent */
  guint  public_port;            /* port shown in URLs; 0 = the listening port */
  gint64 name_expiry_s;          /* §6: an unused name stays its owner's this long; 0 = forever */
  guint  log_interval_s;         /* refusal lines: one count per reason and source this often */
  char  *agent_ca_file;          /* issue 11: the operator's CA for agents' client certificates */
  guint  proof_interval_s;       /* relay/proof/: each verified tunnel checked again this often */
  guint  wg_packets_per_s;       /* issue 12 (labs): relay/wg/'s per-source UDP rates; 0 = */
  guint  wg_handshakes_per_s;    /* RELAY_WG_DEFAULT_* */
  char  *turn_url;               /* issue 14: "turn:HOST:PORT" of the TURN server for calls, or NULL */
  char  *turn_secret_file;       /* issue 14: its use-auth-secret shared secret */
} RelayConfig;

#define RELAY_DEFAULT_HELLO_MAX_BYTES      NFLTR_HELLO_DEFAULT_MAX
#define RELAY_DEFAULT_HANDSHAKE_TIMEOUT_S  10
#define RELAY_DEFAULT_ATTACH_TIMEOUT_S     10
#define RELAY_DEFAULT_AGENT_IDLE_TIMEOUT_S 90
#define RELAY_DEFAULT_MAX_TUNNELS_PER_AGENT 64
#define RELAY_DEFAULT_MAX_PER_SOURCE       512
/* haproxy's `timeout client` is commonly 30–60 s for HTTP; a tunnel may carry SSH or a
 * WebSocket that is quiet for minutes, so the passthrough default is generous. */
#define RELAY_DEFAULT_IDLE_TIMEOUT_S       600
#define RELAY_DEFAULT_HTTP_IDLE_TIMEOUT_S  30
#define RELAY_DEFAULT_MAX_PER_AGENT        1024  /* the agent caps each tunnel at 1,024 (issue 8 §4) */
#define RELAY_DEFAULT_NAME_EXPIRY_DAYS     30
#define RELAY_DEFAULT_LOG_INTERVAL_S       10
#define RELAY_DEFAULT_PROOF_INTERVAL_S     600
/* Refusal lines written one by one per reason and source in an interval before counting. */
#define RELAY_LOG_REFUSALS_PER_INTERVAL    10

void relay_config_init  (RelayConfig *config);
/* The limits derived from max_connections (which must be set): places kept for agents, the
 * public share (the rest) and the per-source cap (docs/relay.md "Fair limits"). */
guint relay_config_agent_reserve (const RelayConfig *config);
guint relay_config_public_share  (const RelayConfig *config);
guint relay_config_per_source    (const RelayConfig *config);
void relay_config_clear (RelayConfig *config);

/* Refusals are logged at message level with a machine-readable reason (docs/relay.md), at
 * most RELAY_LOG_REFUSALS_PER_INTERVAL lines per reason and source address per interval; the
 * rest are counted into one `count=N` line at the interval's end. */
void relay_log_refusal  (const char *peer,
                         const char *reason,
                         const char *format,
                         ...) G_GNUC_PRINTF (3, 4);
void relay_log_refusal_set_interval (guint seconds);
/* Writes the counts still pending and forgets them (the relay stopping). */
void relay_log_refusal_flush        (void);
/* Called with every refusal line written (the dashboard keeps the recent ones); NULL: none. */
typedef void (*RelayRefusalObserver) (const char *peer, const char *reason, const char *detail);
void relay_log_refusal_set_observer (RelayRefusalObserver observer);

/* "IP:PORT" or "[v6]:PORT" → the address alone (the source, for per-source counts). */
char *relay_peer_source (const char *peer);

/* "IP:PORT" ("[v6]:PORT") of a socket address, for logs and client-addr. */
char *relay_format_address (GSocketAddress *address);

G_END_DECLS
