/* nfltr-tunnels-private.h — internals shared by the files of libnfltr-tunnels */
#pragma once

#include "nfltr-data-conn.h"

#include <gio/gio.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

/* nfltr-tunnel-stats.c: the data path's side of the counters */
void     _nfltr_tunnel_stats_conn_started (NfltrTunnelStats *stats);
void     _nfltr_tunnel_stats_conn_ended   (NfltrTunnelStats *stats);
void     _nfltr_tunnel_stats_conn_refused (NfltrTunnelStats *stats);
void     _nfltr_tunnel_stats_add_in       (NfltrTunnelStats *stats, guint64 bytes);
void     _nfltr_tunnel_stats_add_out      (NfltrTunnelStats *stats, guint64 bytes);

/* nfltr-tunnel-tls.c: a server session on `fd` with the tunnel's credentials; ALPN offers
 * `alpn` (NULL-terminated; NULL or empty: no ALPN). */
gboolean _nfltr_tunnel_tls_session_new    (NfltrTunnelTls     *tls,
                                           int                 fd,
                                           const char * const *alpn,
                                           gnutls_session_t  *session,
                                           GError           **error);

/* nfltr-data-conn-group.c: a connection enters its group when it is spawned — FALSE, with
 * the refusal logged and in the error, when the group is at its cap — and leaves it when it
 * has closed its sockets. */
gboolean _nfltr_data_conn_group_admit     (NfltrDataConnGroup  *group,
                                           const char          *client_addr,
                                           GError             **error);
/* A warm-pool slot (§5.1) is admitted only while headroom places stay free for visitors
 * under the cap; refused quietly (NFLTR_DATA_CONN_REFUSE_POOL_FULL) otherwise. */
gboolean _nfltr_data_conn_group_admit_pool_slot (NfltrDataConnGroup  *group,
                                                 guint                headroom,
                                                 GError             **error);
void     _nfltr_data_conn_group_leave     (NfltrDataConnGroup *group);
void     _nfltr_data_conn_group_count_idle_close (NfltrDataConnGroup *group);
/* An eventfd that becomes readable, and stays readable, once the group is cancelled: every
 * connection waits on it, which is what wakes a connection that waits for anything else. */
int      _nfltr_data_conn_group_cancel_fd (NfltrDataConnGroup *group);
gboolean _nfltr_data_conn_group_is_cancelled (NfltrDataConnGroup *group);

/* nfltr-data-conn-net.c: sockets with deadlines */
typedef enum {
  NFLTR_WAIT_READY,
  NFLTR_WAIT_TIMEOUT,
  NFLTR_WAIT_CANCELLED,
} NfltrWaitResult;

/* Waits for `events` (POLLIN/POLLOUT) on fd until deadline_us (g_get_monotonic_time()
 * clock; -1 for none) or until cancel_fd is readable. */
NfltrWaitResult _nfltr_net_wait           (int fd, short events, gint64 deadline_us, int cancel_fd);
/* Resolves host (*.localhost is loopback, RFC 6761 §6.3) and connects, trying each address
 * in turn, all within timeout_ms. Returns a connected non-blocking socket with TCP_NODELAY,
 * or -1 and an error that names the host and the cause. */
int      _nfltr_net_connect               (const char  *host,
                                           guint16      port,
                                           guint        timeout_ms,
                                           int          cancel_fd,
                                           GError     **error);

/* TCP keep-alive probes, so a dead peer ends an idle connection. */
void     _nfltr_net_set_keepalive         (int fd);

G_END_DECLS
