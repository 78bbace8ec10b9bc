/* nfltr-data-conn.c — one data connection (docs/protocol.md §5): its worker thread, the
 * attach to the relay, the TLS handshake, reaching the backend through the tunnel's kind,
 * and the error answers.
 *
 * One worker thread per connection, so a slow client or local server never holds up any
 * other; the copy itself is nfltr-data-conn-pump.c. */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-data-conn-private.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
data_conn_free (DataConn *c)
{
  if (c->session != NULL)
    gnutls_deinit (c->session);
  if (c->relay_fd >= 0)
    close (c->relay_fd);
  if (c->local_fd >= 0)
    close (c->local_fd);
  _nfltr_tunnel_stats_conn_ended (c->stats);
  _nfltr_data_conn_group_leave (c->group);
  nfltr_tunnel_tls_unref (c->tls);
  nfltr_tunnel_stats_unref (c->stats);
  nfltr_data_conn_group_unref (c->group);
  g_object_unref (c->kind);
  g_variant_unref (c->kind_config);
  g_free (c->relay_host);
  g_free (c->public_host);
  g_free (c->client_addr);
  g_free (c->target);
  g_free (c->sni);
  _nfltr_data_conn_buffer_free (c->cipher, CIPHER_BUFFER_SIZE);
  g_free (c);
}

static gboolean
send_preamble (DataConn *c, gint64 deadline)
{
  guint8 preamble[NFLTR_PROTO_ATTACH_SIZE];
  gsize off = 0;

  nfltr_proto_attach_encode (c->conn_id, preamble);
  while (off < sizeof preamble)
    {
      ssize_t n = send (c->relay_fd, preamble + off, sizeof preamble - off, MSG_NOSIGNAL);

      if (n > 0)
        off += n;
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && errno == EAGAIN)
        {
          if (_nfltr_net_wait (c->relay_fd, POLLOUT, deadline, c->cancel_fd) != NFLTR_WAIT_READY)
            return FALSE;
        }
      else
        {
          g_debug ("conn to %s:%u: sending the preamble failed: %s", c->relay_host,
                   c->relay_port, g_strerror (errno));
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
handshake (DataConn *c)
{
  gint64 deadline = g_get_monotonic_time () +
                    NFLTR_DATA_CONN_HANDSHAKE_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  g_autoptr(GError) error = NULL;
  char name[256];
  size_t name_len = sizeof name;
  unsigned int type;
  int ret;

  if (!_nfltr_tunnel_tls_session_new (c->tls, c->relay_fd, nfltr_tunnel_kind_get_alpn (c->kind),
                                      &c->session, &error))
    {
      g_debug ("%s", error->message);
      return FALSE;
    }
  _nfltr_data_conn_io_init (c);
  do
    {
      ret = gnutls_handshake (c->session);
      if (ret == GNUTLS_E_AGAIN && !_nfltr_data_conn_tls_wait (c, deadline))
        {
          g_debug ("TLS handshake with %s %s", c->client_addr,
                   _nfltr_data_conn_group_is_cancelled (c->group) ? "cancelled" : "timed out");
          return FALSE;
        }
    }
  while (ret < 0 && gnutls_error_is_fatal (ret) == 0);
  if (ret < 0)
    {
      g_debug ("TLS handshake with %s failed: %s", c->client_addr, gnutls_strerror (ret));
      return FALSE;
    }

  if (gnutls_server_name_get (c->session, name, &name_len, &type, 0) == 0 &&
      type == GNUTLS_NAME_DNS)
    c->sni = g_strndup (name, name_len);
  else
    c->sni = g_strdup (c->public_host);
  return TRUE;
}

/* Sends `response` to the client, closes our side cleanly and reads the client's
 * remaining bytes for a moment, so that the close does not turn into a reset that
 * could destroy the response before the client has read it. */
static void
send_error_response (DataConn *c, GBytes *response)
{
  gint64 deadline = g_get_monotonic_time () + ERROR_LINGER_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  gsize len;
  const guint8 *data = g_bytes_get_data (response, &len);
  gsize off = 0;
  guint8 sink[4096];
  int ret;

  while (off < len)
    {
      ret = gnutls_record_send (c->session, data + off, len - off);
      if (ret > 0)
        {
          off += ret;
          _nfltr_tunnel_stats_add_out (c->stats, ret);
        }
      else if (ret == GNUTLS_E_AGAIN)
        {
          if (!_nfltr_data_conn_tls_wait (c, deadline))
            return;
        }
      else if (ret != GNUTLS_E_INTERRUPTED)
        return;
    }
  while ((ret = gnutls_bye (c->session, GNUTLS_SHUT_WR)) == GNUTLS_E_AGAIN ||
         ret == GNUTLS_E_INTERRUPTED)
    if (!_nfltr_data_conn_tls_wait (c, deadline))
      return;
  if (!_nfltr_data_conn_tls_flush_all (c, deadline))
    return;
  shutdown (c->relay_fd, SHUT_WR);
  while (g_get_monotonic_time () < deadline)
    {
      ret = gnutls_record_recv (c->session, sink, sizeof sink);
      if (ret == GNUTLS_E_AGAIN)
        {
          if (!_nfltr_data_conn_tls_wait (c, deadline))
            return;
        }
      else if (ret == 0 || (ret < 0 && gnutls_error_is_fatal (ret) != 0))
        return;
    }
}

static void
run (DataConn *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) response = NULL;
  NfltrKindConn conn;
  gint64 deadline;
  NfltrPumpResult result;

  c->relay_fd = _nfltr_net_connect (c->relay_host, c->relay_port,
                                    NFLTR_DATA_CONN_RELAY_CONNECT_TIMEOUT_MS, c->cancel_fd, &error);
  if (c->relay_fd < 0)
    {
      g_debug ("conn from %s: relay: %s", c->client_addr, error->message);
      return;
    }
  _nfltr_net_set_keepalive (c->relay_fd);
  deadline = g_get_monotonic_time () +
             NFLTR_DATA_CONN_RELAY_CONNECT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  if (!send_preamble (c, deadline) || !handshake (c))
    return;

  conn = (NfltrKindConn) {
    .client_addr = c->client_addr,
    .sni = c->sni,
    .cancel_fd = c->cancel_fd,
    .timeout_ms = NFLTR_DATA_CONN_LOCAL_CONNECT_TIMEOUT_MS,
  };
  c->local_fd = nfltr_tunnel_kind_connect (c->kind, c->kind_config, &conn, &error);
  if (c->local_fd < 0)
    {
      g_debug ("conn from %s: local server: %s", c->client_addr, error->message);
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          (response = nfltr_tunnel_kind_unreachable_response (c->kind, c->kind_config, error)) != NULL)
        send_error_response (c, response);
      return;
    }

  result = _nfltr_data_conn_pump (c, &conn, &response);
  g_debug ("conn from %s to %s ended: %s", c->client_addr, c->target,
           result == NFLTR_PUMP_DONE       ? "done"
           : result == NFLTR_PUMP_REJECTED ? "request refused"
                                           : "aborted");
  if (result == NFLTR_PUMP_REJECTED)
    send_error_response (c, response);
}

static void
worker (gpointer data, G_GNUC_UNUSED gpointer unused)
{
  DataConn *c = data;

  if (!_nfltr_data_conn_group_is_cancelled (c->group))
    run (c);
  data_conn_free (c);
}

void
nfltr_data_conn_spawn (const NfltrDataConnParams *params,
                       NfltrTunnelTls            *tls,
                       NfltrTunnelStats          *stats,
                       NfltrDataConnGroup        *group)
{
  g_autoptr(GError) error = NULL;
  DataConn *c;

  g_return_if_fail (params != NULL && params->relay_host != NULL && params->conn_id != NULL);
  g_return_if_fail (NFLTR_IS_TUNNEL_KIND (params->kind) && params->kind_config != NULL);
  g_return_if_fail (params->public_host != NULL);
  g_return_if_fail (tls != NULL && stats != NULL && group != NULL);

  c = g_new0 (DataConn, 1);
  c->relay_host = g_strdup (params->relay_host);
  c->relay_port = params->relay_port;
  memcpy (c->conn_id, params->conn_id, NFLTR_PROTO_CONN_ID_SIZE);
  c->kind = g_object_ref (params->kind);
  c->kind_config = g_variant_ref (params->kind_config);
  c->target = nfltr_tunnel_kind_describe_target (params->kind, params->kind_config);
  c->public_host = g_strdup (params->public_host);
  c->client_addr = g_strdup (params->client_addr != NULL ? params->client_addr : "unknown");
  c->tls = nfltr_tunnel_tls_ref (tls);
  c->stats = nfltr_tunnel_stats_ref (stats);
  c->group = nfltr_data_conn_group_ref (group);
  c->cancel_fd = _nfltr_data_conn_group_cancel_fd (group);
  c->relay_fd = -1;
  c->local_fd = -1;

  /* Counted here, not in the thread, so that a caller sees the connection at once. */
  _nfltr_tunnel_stats_conn_started (stats);
  _nfltr_data_conn_group_enter (group);

  /* A thread of its own, reused from an ended connection when one is idle (issue 17). */
  if (!_nfltr_data_conn_workers_run (worker, c, &error))
    {
      g_warning ("cannot start a data connection for %s: %s", c->client_addr, error->message);
      data_conn_free (c);
    }
}
