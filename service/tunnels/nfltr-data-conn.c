/* nfltr-data-conn.c — one data connection: relay attach, TLS server, local connect, and
 * the two-way copy (docs/protocol.md §5).
 *
 * One worker thread per connection, non-blocking sockets and one poll() over the relay
 * socket, the local socket and the group's cancel eventfd. Blocking calls would be simpler
 * still, but a TLS session cannot be read in one thread while another writes a record, and
 * a single poll() also gives every stage its deadline and makes cancellation immediate. */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-tunnels-private.h"

#include "nfltr-http-rewrite.h"
#include "nfltr-proto.h"
#include "nfltr-resolve.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Client→local holds up to four TLS records per write(); local→client reads big chunks so
 * a bulk download costs one recv() per eight records. Allocated once per connection. */
#define C2L_BUFFER_SIZE (64 * 1024)
#define L2C_BUFFER_SIZE (256 * 1024)
/* Ciphertext for the relay is batched: gnutls writes one 16 KiB record per call, and
 * sixteen records in one send() cost the kernel far less than sixteen sends. Room for a
 * full plaintext buffer of records plus their headers and tags. */
#define CIPHER_BUFFER_SIZE (L2C_BUFFER_SIZE + 32 * 1024)
/* After a refused pipelined request, how long the local server may take to finish the
 * responses to the requests before it, and how long we linger for the client's close. */
#define REJECT_DRAIN_TIMEOUT_MS 5000
#define ERROR_LINGER_TIMEOUT_MS 2000

typedef struct
{
  char               *relay_host;
  guint16             relay_port;
  guint8              conn_id[NFLTR_PROTO_CONN_ID_SIZE];
  gboolean            http;
  char               *public_host;
  char               *client_addr;
  char               *target_host;
  guint16             target_port;

  NfltrTunnelTls     *tls;
  NfltrTunnelStats   *stats;
  NfltrDataConnGroup *group;
  int                 cancel_fd;

  int                 relay_fd;
  int                 local_fd;
  gnutls_session_t    session;
  char               *sni;          /* the host the client asked for */

  guint8             *cipher;       /* CIPHER_BUFFER_SIZE bytes of TLS records not yet sent */
  gsize               cipher_off;
  gsize               cipher_len;
} DataConn;

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
  g_free (c->relay_host);
  g_free (c->public_host);
  g_free (c->client_addr);
  g_free (c->target_host);
  g_free (c->sni);
  g_free (c->cipher);
  g_free (c);
}

/* gnutls' transport push: queue the records in c->cipher; cipher_flush() sends them. When
 * the queue is full, EAGAIN makes gnutls keep the record and return GNUTLS_E_AGAIN. */
static ssize_t
cipher_push_cb (gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
  DataConn *c = ptr;
  gsize total = 0;

  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  if (c->cipher_len + total > CIPHER_BUFFER_SIZE && c->cipher_off > 0)
    {
      memmove (c->cipher, c->cipher + c->cipher_off, c->cipher_len - c->cipher_off);
      c->cipher_len -= c->cipher_off;
      c->cipher_off = 0;
    }
  if (c->cipher_len + total > CIPHER_BUFFER_SIZE)
    {
      gnutls_transport_set_errno (c->session, EAGAIN);
      return -1;
    }
  for (int i = 0; i < iovcnt; i++)
    {
      memcpy (c->cipher + c->cipher_len, iov[i].iov_base, iov[i].iov_len);
      c->cipher_len += iov[i].iov_len;
    }
  return total;
}

static gboolean
cipher_pending (DataConn *c)
{
  return c->cipher_off < c->cipher_len;
}

/* Sends queued records. FALSE on a socket error; else *would_block tells whether some
 * remain because the relay socket is full. */
static gboolean
cipher_flush (DataConn *c, gboolean *progress)
{
  while (cipher_pending (c))
    {
      ssize_t n = send (c->relay_fd, c->cipher + c->cipher_off, c->cipher_len - c->cipher_off,
                        MSG_NOSIGNAL);
      if (n > 0)
        {
          c->cipher_off += n;
          if (progress != NULL)
            *progress = TRUE;
        }
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && errno == EAGAIN)
        return TRUE;
      else
        {
          g_debug ("conn from %s: sending to the relay failed: %s", c->client_addr,
                   g_strerror (errno));
          return FALSE;
        }
    }
  c->cipher_off = c->cipher_len = 0;
  return TRUE;
}

/* What gnutls waits for after GNUTLS_E_AGAIN: a write that found our queue full waits for
 * the relay socket to take the queue; a read waits for data. */
static short
tls_wait_events (DataConn *c)
{
  return gnutls_record_get_direction (c->session) == 1 ? POLLOUT : POLLIN;
}

/* Outside the pump: sends what is queued (a handshake flight, an alert) and waits for
 * what gnutls needs, until deadline. */
static gboolean
tls_wait (DataConn *c, gint64 deadline)
{
  short events = tls_wait_events (c);

  if (!cipher_flush (c, NULL))
    return FALSE;
  if (events == POLLOUT && !cipher_pending (c))
    return TRUE;  /* the queue has room again */
  if (cipher_pending (c))
    events |= POLLOUT;
  return _nfltr_net_wait (c->relay_fd, events, deadline, c->cancel_fd) == NFLTR_WAIT_READY;
}

/* Flushes the whole queue, waiting up to deadline. */
static gboolean
tls_flush_all (DataConn *c, gint64 deadline)
{
  while (cipher_pending (c))
    {
      if (!cipher_flush (c, NULL))
        return FALSE;
      if (cipher_pending (c) &&
          _nfltr_net_wait (c->relay_fd, POLLOUT, deadline, c->cancel_fd) != NFLTR_WAIT_READY)
        return FALSE;
    }
  return TRUE;
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

  if (!_nfltr_tunnel_tls_session_new (c->tls, c->relay_fd, c->http, &c->session, &error))
    {
      g_debug ("%s", error->message);
      return FALSE;
    }
  c->cipher = g_malloc (CIPHER_BUFFER_SIZE);
  gnutls_transport_set_ptr2 (c->session, GINT_TO_POINTER (c->relay_fd), c);
  gnutls_transport_set_vec_push_function (c->session, cipher_push_cb);
  do
    {
      ret = gnutls_handshake (c->session);
      if (ret == GNUTLS_E_AGAIN && !tls_wait (c, deadline))
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
          if (!tls_wait (c, deadline))
            return;
        }
      else if (ret != GNUTLS_E_INTERRUPTED)
        return;
    }
  while ((ret = gnutls_bye (c->session, GNUTLS_SHUT_WR)) == GNUTLS_E_AGAIN ||
         ret == GNUTLS_E_INTERRUPTED)
    if (!tls_wait (c, deadline))
      return;
  if (!tls_flush_all (c, deadline))
    return;
  shutdown (c->relay_fd, SHUT_WR);
  while (g_get_monotonic_time () < deadline)
    {
      ret = gnutls_record_recv (c->session, sink, sizeof sink);
      if (ret == GNUTLS_E_AGAIN)
        {
          if (!tls_wait (c, deadline))
            return;
        }
      else if (ret == 0 || (ret < 0 && gnutls_error_is_fatal (ret) != 0))
        return;
    }
}

typedef struct
{
  /* client → local */
  guint8            *in_buf;
  const guint8      *c2l_data;     /* bytes waiting for the local socket */
  gsize              c2l_len;
  gboolean           c2l_eof;      /* the client has finished sending */
  gboolean           c2l_shut;     /* and we passed that on: shutdown(local, SHUT_WR) */
  NfltrHttpRewriter *rewriter;     /* http tunnels only */
  GByteArray        *rewritten;
  gboolean           rejected;
  gint64             reject_deadline;

  /* local → client */
  guint8            *out_buf;
  gsize              l2c_off;
  gsize              l2c_len;
  gboolean           l2c_eof;      /* the local server has finished sending */
  gboolean           l2c_bye_queued; /* and we queued our close_notify */
  gboolean           l2c_bye;      /* and sent it, and SHUT_WR */
} Pump;

typedef enum {
  PUMP_DONE,      /* both directions ended cleanly */
  PUMP_REJECTED,  /* the rewriter refused a request: answer it, then close */
  PUMP_ABORTED,   /* error or cancel: just close */
} PumpResult;

/* One step of client→local. Returns TRUE if it made progress; adds the events it
 * waits for to *relay_ev / *local_ev. FALSE in *ok on a fatal error. */
static gboolean
pump_c2l (DataConn *c, Pump *p, short *relay_ev, short *local_ev, gboolean *ok)
{
  gboolean progress = FALSE;
  gsize fill = 0;

  if (p->c2l_len > 0)
    {
      ssize_t n = send (c->local_fd, p->c2l_data, p->c2l_len, MSG_NOSIGNAL);

      if (n > 0)
        {
          p->c2l_data += n;
          p->c2l_len -= n;
          progress = TRUE;
        }
      else if (n < 0 && errno == EAGAIN)
        *local_ev |= POLLOUT;
      else if (n < 0 && errno == EINTR)
        progress = TRUE;
      else
        {
          g_debug ("conn from %s: writing to the local server failed: %s", c->client_addr,
                   g_strerror (errno));
          *ok = FALSE;
          return FALSE;
        }
    }

  if (p->c2l_len == 0 && !p->c2l_eof && !p->rejected)
    {
      /* Several records per local write(): gnutls returns one record per call. */
      while (fill < C2L_BUFFER_SIZE)
        {
          ssize_t r = gnutls_record_recv (c->session, p->in_buf + fill, C2L_BUFFER_SIZE - fill);

          if (r > 0)
            fill += r;
          else if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION)
            {
              /* A TCP close without close_notify is how many clients end; the bytes they
               * sent are complete as far as TLS can tell, so it is an EOF like any other. */
              p->c2l_eof = TRUE;
              progress = TRUE;
              break;
            }
          else if (r == GNUTLS_E_AGAIN)
            {
              /* AGAIN also follows a post-handshake message (KeyUpdate) while decrypted
               * data may already sit in gnutls, which poll() would never report. */
              if (gnutls_record_check_pending (c->session) > 0)
                continue;
              if (fill == 0)
                *relay_ev |= tls_wait_events (c);
              break;
            }
          else if (r == GNUTLS_E_INTERRUPTED)
            continue;
          else if (r == GNUTLS_E_REHANDSHAKE)
            gnutls_alert_send (c->session, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
          else if (gnutls_error_is_fatal (r) != 0)
            {
              g_debug ("conn from %s: TLS receive failed: %s", c->client_addr,
                       gnutls_strerror (r));
              *ok = FALSE;
              return FALSE;
            }
        }
    }

  if (fill > 0)
    {
      progress = TRUE;
      _nfltr_tunnel_stats_add_in (c->stats, fill);
      if (p->rewriter == NULL || nfltr_http_rewriter_is_raw (p->rewriter))
        {
          p->c2l_data = p->in_buf;
          p->c2l_len = fill;
        }
      else
        {
          g_byte_array_set_size (p->rewritten, 0);
          if (nfltr_http_rewriter_feed (p->rewriter, p->in_buf, fill, p->rewritten) ==
              NFLTR_HTTP_REWRITE_REJECT)
            {
              p->rejected = TRUE;
              p->reject_deadline = g_get_monotonic_time () +
                                   REJECT_DRAIN_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
            }
          p->c2l_data = p->rewritten->data;
          p->c2l_len = p->rewritten->len;
        }
    }

  if ((p->c2l_eof || p->rejected) && p->c2l_len == 0 && !p->c2l_shut)
    {
      shutdown (c->local_fd, SHUT_WR);
      p->c2l_shut = TRUE;
      progress = TRUE;
    }
  return progress;
}

/* One step of local→client; same contract as pump_c2l(). */
static gboolean
pump_l2c (DataConn *c, Pump *p, short *relay_ev, short *local_ev, gboolean *ok)
{
  gboolean progress = FALSE;

  /* Encrypts as many records as the queue takes; the caller flushes them in one send(). */
  while (p->l2c_off < p->l2c_len)
    {
      ssize_t r = gnutls_record_send (c->session, p->out_buf + p->l2c_off,
                                      p->l2c_len - p->l2c_off);

      if (r > 0)
        {
          p->l2c_off += r;
          _nfltr_tunnel_stats_add_out (c->stats, r);
          progress = TRUE;
        }
      else if (r == GNUTLS_E_AGAIN)
        {
          *relay_ev |= tls_wait_events (c);
          break;
        }
      else if (r != GNUTLS_E_INTERRUPTED)
        {
          g_debug ("conn from %s: TLS send failed: %s", c->client_addr, gnutls_strerror (r));
          *ok = FALSE;
          return FALSE;
        }
    }

  if (p->l2c_off == p->l2c_len && !p->l2c_eof)
    {
      ssize_t n = recv (c->local_fd, p->out_buf, L2C_BUFFER_SIZE, 0);

      if (n > 0)
        {
          p->l2c_off = 0;
          p->l2c_len = n;
          progress = TRUE;
        }
      else if (n == 0)
        {
          p->l2c_eof = TRUE;
          progress = TRUE;
        }
      else if (errno == EAGAIN)
        *local_ev |= POLLIN;
      else if (errno == EINTR)
        progress = TRUE;
      else
        {
          /* A reset from the local server: the client must see a truncated stream, not
           * a clean close_notify that would make a cut-off response look complete. */
          g_debug ("conn from %s: reading from the local server failed: %s", c->client_addr,
                   g_strerror (errno));
          *ok = FALSE;
          return FALSE;
        }
    }

  /* After a refused request the error response, not close_notify, comes next. */
  if (p->l2c_eof && p->l2c_off == p->l2c_len && !p->l2c_bye_queued && !p->rejected)
    {
      int r = gnutls_bye (c->session, GNUTLS_SHUT_WR);

      if (r == GNUTLS_E_SUCCESS)
        {
          p->l2c_bye_queued = TRUE;
          progress = TRUE;
        }
      else if (r == GNUTLS_E_AGAIN)
        *relay_ev |= tls_wait_events (c);
      else if (r == GNUTLS_E_INTERRUPTED)
        progress = TRUE;
      else
        {
          *ok = FALSE;
          return FALSE;
        }
    }
  /* The FIN goes after the close_notify, so only once the queue is empty. */
  if (p->l2c_bye_queued && !p->l2c_bye && !cipher_pending (c))
    {
      shutdown (c->relay_fd, SHUT_WR);
      p->l2c_bye = TRUE;
      progress = TRUE;
    }
  return progress;
}

static PumpResult
pump (DataConn *c, Pump *p)
{
  for (;;)
    {
      short relay_ev = 0, local_ev = 0;
      gboolean ok = TRUE;
      gboolean progress;
      struct pollfd fds[3];
      int timeout_ms = -1;
      int n;

      progress = pump_c2l (c, p, &relay_ev, &local_ev, &ok);
      if (ok)
        progress |= pump_l2c (c, p, &relay_ev, &local_ev, &ok);
      if (!ok || !cipher_flush (c, &progress))
        return PUMP_ABORTED;
      if (cipher_pending (c))
        relay_ev |= POLLOUT;

      if (p->rejected && p->c2l_shut)
        {
          /* Nothing forwarded before the refused request: nothing to wait for. Else let
           * the local server finish its earlier responses, so ours comes after them. */
          if (nfltr_http_rewriter_get_requests (p->rewriter) == 0 ||
              (p->l2c_eof && p->l2c_off == p->l2c_len))
            return PUMP_REJECTED;
        }
      if (p->c2l_shut && p->l2c_bye)
        return PUMP_DONE;
      if (_nfltr_data_conn_group_is_cancelled (c->group))
        return PUMP_ABORTED;
      if (progress)
        continue;

      if (p->rejected)
        {
          gint64 left = p->reject_deadline - g_get_monotonic_time ();
          if (left <= 0)
            return PUMP_ABORTED;
          timeout_ms = (int) ((left + 999) / 1000);
        }
      if (relay_ev == 0 && local_ev == 0)
        {
          g_debug ("conn from %s: no progress and nothing to wait for", c->client_addr);
          return PUMP_ABORTED;
        }
      /* A negative fd is skipped by poll(): a socket we are not waiting on must not wake
       * us with POLLHUP in a loop. */
      fds[0] = (struct pollfd) { .fd = relay_ev ? c->relay_fd : -1, .events = relay_ev };
      fds[1] = (struct pollfd) { .fd = local_ev ? c->local_fd : -1, .events = local_ev };
      fds[2] = (struct pollfd) { .fd = c->cancel_fd, .events = POLLIN };
      n = poll (fds, 3, timeout_ms);
      if (n < 0 && errno != EINTR)
        {
          g_debug ("poll: %s", g_strerror (errno));
          return PUMP_ABORTED;
        }
      if (n > 0 && fds[2].revents != 0)
        return PUMP_ABORTED;
    }
}

static void
run (DataConn *c)
{
  g_autoptr(GError) error = NULL;
  gint64 deadline;
  Pump p = { 0 };
  PumpResult result;

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

  c->local_fd = _nfltr_net_connect (c->target_host, c->target_port,
                                    NFLTR_DATA_CONN_LOCAL_CONNECT_TIMEOUT_MS, c->cancel_fd, &error);
  if (c->local_fd < 0)
    {
      g_debug ("conn from %s: local server: %s", c->client_addr, error->message);
      if (c->http && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *detail = g_strdup_printf ("the tunnel's local server is unreachable (%s)",
                                                     error->message);
          g_autoptr(GBytes) response = nfltr_http_error_response (502, detail);
          send_error_response (c, response);
        }
      return;
    }

  p.in_buf = g_malloc (C2L_BUFFER_SIZE);
  p.out_buf = g_malloc (L2C_BUFFER_SIZE);
  if (c->http)
    {
      g_autofree char *client_ip = NULL;

      if (!nfltr_parse_host_port (c->client_addr, 0, FALSE, &client_ip, NULL, NULL))
        client_ip = g_strdup (c->client_addr);
      p.rewriter = nfltr_http_rewriter_new (c->sni, client_ip);
      p.rewritten = g_byte_array_sized_new (C2L_BUFFER_SIZE + 1024);
    }

  result = pump (c, &p);
  g_debug ("conn from %s to %s:%u ended: %s", c->client_addr, c->target_host, c->target_port,
           result == PUMP_DONE ? "done" : result == PUMP_REJECTED ? "request refused" : "aborted");
  if (result == PUMP_REJECTED)
    send_error_response (c, nfltr_http_rewriter_get_response (p.rewriter));

  g_free (p.in_buf);
  g_free (p.out_buf);
  g_clear_pointer (&p.rewriter, nfltr_http_rewriter_free);
  g_clear_pointer (&p.rewritten, g_byte_array_unref);
}

static gpointer
worker (gpointer data)
{
  DataConn *c = data;

  if (!_nfltr_data_conn_group_is_cancelled (c->group))
    run (c);
  data_conn_free (c);
  return NULL;
}

void
nfltr_data_conn_spawn (const NfltrDataConnParams *params,
                       NfltrTunnelTls            *tls,
                       NfltrTunnelStats          *stats,
                       NfltrDataConnGroup        *group)
{
  g_autoptr(GError) error = NULL;
  GThread *thread;
  DataConn *c;

  g_return_if_fail (params != NULL && params->relay_host != NULL && params->conn_id != NULL);
  g_return_if_fail (params->target_host != NULL && params->public_host != NULL);
  g_return_if_fail (tls != NULL && stats != NULL && group != NULL);

  c = g_new0 (DataConn, 1);
  c->relay_host = g_strdup (params->relay_host);
  c->relay_port = params->relay_port;
  memcpy (c->conn_id, params->conn_id, NFLTR_PROTO_CONN_ID_SIZE);
  c->http = g_strcmp0 (params->kind, "http") == 0;
  c->public_host = g_strdup (params->public_host);
  c->client_addr = g_strdup (params->client_addr != NULL ? params->client_addr : "unknown");
  c->target_host = g_strdup (params->target_host);
  c->target_port = params->target_port;
  c->tls = nfltr_tunnel_tls_ref (tls);
  c->stats = nfltr_tunnel_stats_ref (stats);
  c->group = nfltr_data_conn_group_ref (group);
  c->cancel_fd = _nfltr_data_conn_group_cancel_fd (group);
  c->relay_fd = -1;
  c->local_fd = -1;

  /* Counted here, not in the thread, so that a caller sees the connection at once. */
  _nfltr_tunnel_stats_conn_started (stats);
  _nfltr_data_conn_group_enter (group);

  thread = g_thread_try_new ("nfltr-data-conn", worker, c, &error);
  if (thread == NULL)
    {
      g_warning ("cannot start a data connection for %s: %s", c->client_addr, error->message);
      data_conn_free (c);
      return;
    }
  g_thread_unref (thread);
}
