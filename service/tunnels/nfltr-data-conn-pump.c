/* nfltr-data-conn-pump.c — the two-way copy of one data connection.
 *
 * Non-blocking sockets, stepped by the connection's event loop whenever the relay socket or
 * the local socket is ready for what the last step waited for. Each direction takes a step
 * when it can; a direction that has
 * finished passes its end on (shutdown(SHUT_WR) to the local server, close_notify and
 * SHUT_WR to the client) and the connection ends when both have. The client's bytes go
 * through the kind's stream filter when it has one (the http kind's request rewriter). */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-data-conn-private.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

struct _Pump {
  /* client → local */
  guint8            *in_buf;
  const guint8      *c2l_data;     /* bytes waiting for the local socket */
  gsize              c2l_len;
  gboolean           c2l_eof;      /* the client has finished sending */
  gboolean           c2l_shut;     /* and we passed that on: shutdown(local, SHUT_WR) */
  NfltrStreamFilter *filter;       /* the kind's, or NULL */
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
};

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
              if (gnutls_record_check_pending (c->session) > 0 || _nfltr_data_conn_pull_retry (c))
                continue;
              if (fill == 0)
                *relay_ev |= _nfltr_data_conn_tls_wait_events (c);
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
      if (p->filter == NULL || nfltr_stream_filter_is_passthrough (p->filter))
        {
          p->c2l_data = p->in_buf;
          p->c2l_len = fill;
        }
      else
        {
          g_byte_array_set_size (p->rewritten, 0);
          if (nfltr_stream_filter_feed (p->filter, p->in_buf, fill, p->rewritten) ==
              NFLTR_STREAM_FILTER_REFUSE)
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
          *relay_ev |= _nfltr_data_conn_tls_wait_events (c);
          break;
        }
      else if (r != GNUTLS_E_INTERRUPTED)
        {
          g_debug ("conn from %s: TLS send failed: %s", c->client_addr, gnutls_strerror (r));
          *ok = FALSE;
          return FALSE;
        }
    }

  if (p->l2c_off == p->l2c_len && !p->l2c_eof && !c->local_readable)
    *local_ev |= POLLIN;  /* drained by the last read: poll() says when more comes */
  else if (p->l2c_off == p->l2c_len && !p->l2c_eof)
    {
      ssize_t n = recv (c->local_fd, p->out_buf, L2C_BUFFER_SIZE, 0);

      if (n > 0)
        {
          p->l2c_off = 0;
          p->l2c_len = n;
          progress = TRUE;
          if (n < L2C_BUFFER_SIZE)
            c->local_readable = FALSE;
          /* Seen before the client can act on it: the http filter goes raw on a 101. */
          if (p->filter != NULL && !nfltr_stream_filter_is_passthrough (p->filter))
            nfltr_stream_filter_observe_response (p->filter, p->out_buf, n);
        }
      else if (n == 0)
        {
          p->l2c_eof = TRUE;
          progress = TRUE;
        }
      else if (errno == EAGAIN)
        {
          c->local_readable = FALSE;
          *local_ev |= POLLIN;
        }
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
        *relay_ev |= _nfltr_data_conn_tls_wait_events (c);
      else if (r == GNUTLS_E_INTERRUPTED)
        progress = TRUE;
      else
        {
          *ok = FALSE;
          return FALSE;
        }
    }
  /* The FIN goes after the close_notify, so only once the queue is empty. */
  if (p->l2c_bye_queued && !p->l2c_bye && !_nfltr_data_conn_cipher_pending (c))
    {
      shutdown (c->relay_fd, SHUT_WR);
      p->l2c_bye = TRUE;
      progress = TRUE;
    }
  return progress;
}

/* Rounds of both directions per wake-up before the loop's other connections get their turn:
 * up to MAX_ROUNDS × 256 KiB of a download, then the others. */
#define MAX_ROUNDS 8

NfltrPumpResult
_nfltr_data_conn_pump_step (DataConn  *c,
                            short     *relay_ev_out,
                            short     *local_ev_out,
                            gboolean  *more,
                            gboolean  *active,
                            gint64    *deadline,
                            GBytes   **response)
{
  Pump *p = c->pump;

  *more = FALSE;
  *active = FALSE;
  *deadline = -1;
  for (guint round = 0;; round++)
    {
      short relay_ev = 0, local_ev = 0;
      gboolean ok = TRUE;
      gboolean progress;

      progress = pump_c2l (c, p, &relay_ev, &local_ev, &ok);
      if (ok)
        progress |= pump_l2c (c, p, &relay_ev, &local_ev, &ok);
      if (!ok || !_nfltr_data_conn_cipher_flush (c, &progress))
        return NFLTR_PUMP_ABORTED;
      if (_nfltr_data_conn_cipher_pending (c))
        relay_ev |= POLLOUT;
      *active |= progress;

      if (p->rejected && p->c2l_shut)
        {
          /* Nothing forwarded before the refused request: nothing to wait for. Else let
           * the local server finish its earlier responses, so ours comes after them. */
          if (!nfltr_stream_filter_has_forwarded (p->filter) ||
              (p->l2c_eof && p->l2c_off == p->l2c_len))
            {
              *response = nfltr_stream_filter_get_refusal (p->filter);
              return NFLTR_PUMP_REJECTED;
            }
        }
      if (p->c2l_shut && p->l2c_bye)
        return NFLTR_PUMP_DONE;
      if (progress && round + 1 < MAX_ROUNDS)
        continue;

      if (p->rejected)
        {
          if (g_get_monotonic_time () >= p->reject_deadline)
            return NFLTR_PUMP_ABORTED;
          *deadline = p->reject_deadline;
        }
      if (progress)
        *more = TRUE;
      else if (relay_ev == 0 && local_ev == 0)
        {
          g_debug ("conn from %s: no progress and nothing to wait for", c->client_addr);
          return NFLTR_PUMP_ABORTED;
        }
      *relay_ev_out = relay_ev;
      *local_ev_out = local_ev;
      return NFLTR_PUMP_CONTINUE;
    }
}

void
_nfltr_data_conn_pump_start (DataConn *c)
{
  Pump *p = g_new0 (Pump, 1);

  p->in_buf = _nfltr_data_conn_buffer_new (C2L_BUFFER_SIZE);
  p->out_buf = _nfltr_data_conn_buffer_new (L2C_BUFFER_SIZE);
  p->filter = nfltr_tunnel_kind_new_filter (c->kind, c->kind_config, &c->kind_conn);
  c->local_readable = TRUE;
  /* Grows with what one read brings (a request head: a few hundred bytes; a body chunk: up
   * to C2L_BUFFER_SIZE). Sized for the worst case up front it was a 128 KiB malloc block per
   * connection (GArray rounds to a power of two), from the heaps whose pages stay resident
   * after free (issue 17). */
  if (p->filter != NULL)
    p->rewritten = g_byte_array_sized_new (4096);
  c->pump = p;
}

void
_nfltr_data_conn_pump_release (DataConn *c)
{
  Pump *p = c->pump;

  if (p->c2l_len > 0 || p->l2c_off < p->l2c_len || _nfltr_data_conn_cipher_pending (c))
    return;
  _nfltr_data_conn_buffer_release (p->in_buf, C2L_BUFFER_SIZE);
  _nfltr_data_conn_buffer_release (p->out_buf, L2C_BUFFER_SIZE);
  _nfltr_data_conn_buffer_release (c->cipher, CIPHER_BUFFER_SIZE);
  if (!_nfltr_data_conn_pull_pending (c))
    _nfltr_data_conn_buffer_release (c->pull, PULL_BUFFER_SIZE);
}

void
_nfltr_data_conn_pump_free (DataConn *c)
{
  Pump *p = c->pump;

  if (p == NULL)
    return;
  _nfltr_data_conn_buffer_free (p->in_buf, C2L_BUFFER_SIZE);
  _nfltr_data_conn_buffer_free (p->out_buf, L2C_BUFFER_SIZE);
  g_clear_object (&p->filter);
  g_clear_pointer (&p->rewritten, g_byte_array_unref);
  g_free (p);
  c->pump = NULL;
}
