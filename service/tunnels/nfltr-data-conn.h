/* nfltr-data-conn.h — the agent's data path (docs/protocol.md §5).
 *
 * For each CONN_OPEN the engine calls nfltr_data_conn_spawn(). One of a bounded set of
 * event-loop threads then opens a TCP connection to the relay, writes the 40-byte preamble,
 * runs a TLS server with the tunnel's certificate, reaches the backend and moves bytes both
 * ways until both sides are done (or the connection has been idle too long). Everything that depends on the tunnel's kind (ALPN, how the backend is reached, the
 * filter on the client's bytes, the answer when the backend is down) is asked of its
 * NfltrTunnelKind (service/kinds/). Nothing here touches the main loop: the engine reads the
 * counters (atomics) whenever it likes and stops a tunnel's connections with its group. */
#pragma once

#include <glib.h>

#include "nfltr-cidr.h"
#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

/* Deadlines per stage (the brief's data-path limits). */
#define NFLTR_DATA_CONN_RELAY_CONNECT_TIMEOUT_MS  10000
#define NFLTR_DATA_CONN_HANDSHAKE_TIMEOUT_MS      10000
#define NFLTR_DATA_CONN_LOCAL_CONNECT_TIMEOUT_MS   5000

/* Why nfltr_data_conn_spawn() refused: the first word of its error message, which the
 * engine sends as CONN_REFUSE's message (docs/protocol.md §5). */
#define NFLTR_DATA_CONN_REFUSE_TOO_MANY  "too-many-connections"  /* the tunnel's cap */
#define NFLTR_DATA_CONN_REFUSE_NO_THREAD "no-thread"             /* no event loop could start */
/* A warm-pool slot refused because the tunnel is near its cap: the places left are kept for
 * visitors (NFLTR_DATA_CONN_POOL_HEADROOM of them, or a quarter of the cap if less). */
#define NFLTR_DATA_CONN_REFUSE_POOL_FULL "pool-full"
#define NFLTR_DATA_CONN_POOL_HEADROOM    16

/* CONN_OPEN's client_addr for a warm-pool slot (docs/protocol.md §5.1): the connection is
 * opened and attached at once, then waits (up to NFLTR_DATA_CONN_POOL_WAIT_S) for the relay's
 * take header, which names the client; only then is it a visitor's connection (counted in
 * the stats) and does the TLS handshake start. It counts against the tunnel's cap while it
 * waits. */
#define NFLTR_DATA_CONN_POOL_SLOT ""
#define NFLTR_DATA_CONN_POOL_WAIT_S 300

/* ---- per-tunnel counters: refcounted, atomics, readable from any thread ---- */
typedef struct _NfltrTunnelStats NfltrTunnelStats;

NfltrTunnelStats *nfltr_tunnel_stats_new               (void);
NfltrTunnelStats *nfltr_tunnel_stats_ref               (NfltrTunnelStats *stats);
void              nfltr_tunnel_stats_unref             (NfltrTunnelStats *stats);
/* Connections whose worker is still running. */
guint             nfltr_tunnel_stats_get_active        (NfltrTunnelStats *stats);
/* Every connection ever spawned for the tunnel. */
guint64           nfltr_tunnel_stats_get_total         (NfltrTunnelStats *stats);
/* Application bytes (TLS plaintext) received from public clients / sent to them. */
guint64           nfltr_tunnel_stats_get_bytes_in      (NfltrTunnelStats *stats);
guint64           nfltr_tunnel_stats_get_bytes_out     (NfltrTunnelStats *stats);
/* Connections refused because the tunnel was at its cap (nfltr_data_conn_spawn()). */
guint64           nfltr_tunnel_stats_get_refused       (NfltrTunnelStats *stats);

/* The local server as the last visitor met it (issue 9 §2). */
typedef enum {
  NFLTR_ORIGIN_UNKNOWN, /* no visitor yet */
  NFLTR_ORIGIN_UP,      /* the last connect to it worked */
  NFLTR_ORIGIN_DOWN,    /* the last connect to it failed */
} NfltrOriginState;

/* A connect to the local server worked (error NULL) or failed: the data path reports its
 * connect(), a kind whose backend reaches the local server itself reports each attempt
 * (nfltr_tunnel_kind_reports_origin()). Any thread. */
void              nfltr_tunnel_stats_origin_result     (NfltrTunnelStats *stats,
                                                        const GError     *error);
/* The state, the number of failed connects so far, and (if last_error is not NULL) a copy
 * of the last failure's message, or NULL when there was none. */
NfltrOriginState  nfltr_tunnel_stats_get_origin        (NfltrTunnelStats *stats,
                                                        guint64          *failures,
                                                        char            **last_error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrTunnelStats, nfltr_tunnel_stats_unref)

/* ---- per-tunnel TLS server credentials: refcounted, shared by its connections ---- */
typedef struct _NfltrTunnelTls NfltrTunnelTls;

/* cert_pem/key_pem: the tunnel's certificate (chain) and private key. Fails with
 * NFLTR_ERROR_CERTIFICATE when either does not parse or the key does not match. */
NfltrTunnelTls   *nfltr_tunnel_tls_new                 (const char  *cert_pem,
                                                        const char  *key_pem,
                                                        GError     **error);
NfltrTunnelTls   *nfltr_tunnel_tls_ref                 (NfltrTunnelTls *tls);
void              nfltr_tunnel_tls_unref               (NfltrTunnelTls *tls);
/* --client-ca (issue 9 §10): from now on every visitor must present a certificate issued by
 * a CA in ca_file (PEM), or the handshake fails. Call before the first connection.
 * NFLTR_ERROR_CERTIFICATE naming the file when it holds no usable CA certificate. */
gboolean          nfltr_tunnel_tls_require_client_ca   (NfltrTunnelTls *tls,
                                                        const char     *ca_file,
                                                        GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrTunnelTls, nfltr_tunnel_tls_unref)

/* ---- a set of connections stopped together (one per tunnel) ---- */
typedef struct _NfltrDataConnGroup NfltrDataConnGroup;

NfltrDataConnGroup *nfltr_data_conn_group_new          (void);
NfltrDataConnGroup *nfltr_data_conn_group_ref          (NfltrDataConnGroup *group);
/* Open connections hold their own reference, so unref never waits and never frees under them. */
void              nfltr_data_conn_group_unref          (NfltrDataConnGroup *group);
/* Wakes every connection of the group and makes it close both its sockets. Connections
 * spawned into a cancelled group end at once. Returns immediately; safe from any thread. */
void              nfltr_data_conn_group_cancel_all     (NfltrDataConnGroup *group);
/* Connections of the group still open. */
guint             nfltr_data_conn_group_get_active     (NfltrDataConnGroup *group);
/* The cap on open connections (0: none); a spawn beyond it is refused. Default 1,024, or
 * $NFLTR_TUNNEL_MAX_CONNECTIONS when the group is created. */
void              nfltr_data_conn_group_set_max_connections (NfltrDataConnGroup *group,
                                                             guint               max_connections);
guint             nfltr_data_conn_group_get_max_connections (NfltrDataConnGroup *group);
/* A connection that moves no byte either way for this long is closed (0: never). Default
 * 900 s, or $NFLTR_DATA_CONN_IDLE_TIMEOUT (seconds) when the group is created; applies to
 * connections spawned after the call. */
void              nfltr_data_conn_group_set_idle_timeout (NfltrDataConnGroup *group,
                                                          guint               seconds);
guint             nfltr_data_conn_group_get_idle_timeout (NfltrDataConnGroup *group);
/* Connections of the group closed for being idle. */
guint64           nfltr_data_conn_group_get_idle_closed  (NfltrDataConnGroup *group);
/* Blocks until no connection of the group is open, at most timeout_ms. TRUE if none is.
 * For tests and for service shutdown; never call it from the main loop with a long timeout. */
gboolean          nfltr_data_conn_group_wait_idle      (NfltrDataConnGroup *group,
                                                        guint               timeout_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrDataConnGroup, nfltr_data_conn_group_unref)

/* ---- one data connection ---- */
typedef struct {
  const char   *relay_host;    /* the relay's public address; *.localhost is 127.0.0.1 */
  guint16       relay_port;
  const guint8 *conn_id;       /* NFLTR_PROTO_CONN_ID_SIZE bytes from CONN_OPEN */
  NfltrTunnelKind *kind;       /* the tunnel's kind */
  GVariant     *kind_config;   /* what the kind's parse() made of the tunnel's target */
  const char   *public_host;   /* the tunnel's host; used when the client sent no SNI */
  const char   *client_addr;   /* "IP:PORT" of the public client, from CONN_OPEN; or
                                * NFLTR_DATA_CONN_POOL_SLOT */
  /* The tunnel's access control by visitor address (issue 9 §10), or NULL: a client in deny
   * is refused; with allow set, so is every client outside it. Refused after the TLS
   * handshake, so that the kind can say why (the http kind's 403). */
  NfltrCidrList *allow;
  NfltrCidrList *deny;
} NfltrDataConnParams;

/* Copies params, takes its own references on the kind, its config, tls, stats and group,
 * hands the connection to an event loop and returns immediately. Later failures (relay
 * unreachable, handshake, backend down) end the connection with a g_debug() line, after the
 * kind's unreachable answer (the http kind's 502) when the backend cannot be reached.
 * FALSE when the connection is refused at once (the group's cap: NFLTR_ERROR_LIMIT, message
 * starting with NFLTR_DATA_CONN_REFUSE_TOO_MANY, counted in stats and logged): the caller
 * answers CONN_REFUSE with the error's message. */
gboolean          nfltr_data_conn_spawn                (const NfltrDataConnParams *params,
                                                        NfltrTunnelTls            *tls,
                                                        NfltrTunnelStats          *stats,
                                                        NfltrDataConnGroup        *group,
                                                        GError                   **error);

/* Data connections alive in the process (spawned, not yet freed): for tests that check
 * nothing is left behind. */
guint             nfltr_data_conn_get_live             (void);
/* Event-loop threads running now (each holds the eventfd of its GMainContext); they exit
 * 10 s after their last connection. */
guint             nfltr_data_conn_get_loops            (void);

/* For kinds whose backend is a TCP server: resolves host (*.localhost is loopback) and
 * connects within timeout_ms, giving up when cancel_fd becomes readable. Blocking: for a
 * kind's connect() hook, which the data path runs on a helper thread. Returns a non-blocking socket or -1 and an error naming
 * the host and the cause. */
int               nfltr_data_conn_connect_tcp          (const char  *host,
                                                        guint16      port,
                                                        guint        timeout_ms,
                                                        int          cancel_fd,
                                                        GError     **error);

G_END_DECLS
