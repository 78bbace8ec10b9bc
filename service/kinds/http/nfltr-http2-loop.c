/* nfltr-http2-loop.c — the HTTP/2 proxy's thread: one poll() over the visitor's socketpair
 * end, the HTTP/2 origin and the streams' HTTP/1.1 origins, until the visitor is gone. */
#define G_LOG_DOMAIN "nfltr-http"

#include "nfltr-http2-private.h"

#include <gio/gio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)

/* Writes what is queued for fd. FALSE when the peer is gone. */
static gboolean
flush (int fd, Http2Buf *buf)
{
  while (_nfltr_http2_buf_len (buf) > 0)
    {
      ssize_t n = send (fd, _nfltr_http2_buf_peek (buf), _nfltr_http2_buf_len (buf), MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n < 0)
        return FALSE;
      _nfltr_http2_buf_skip (buf, n);
    }
  return TRUE;
}

/* Reads what fd has into buf[0..READ_CHUNK): >0 bytes, 0 at EOF or error, -1 when none yet. */
static ssize_t
read_some (int fd, guint8 *buf)
{
  for (;;)
    {
      ssize_t n = recv (fd, buf, READ_CHUNK, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return -1;
      return MAX (n, 0);
    }
}

static void
run (NfltrHttp2Proxy *self)
{
  g_autofree guint8 *buf = g_malloc (READ_CHUNK);
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));
  /* The visitor stream of each polled HTTP/1.1 origin (0 for the others): by id, since the
   * visitor's input may free a stream before its descriptor's turn comes. */
  g_autoptr(GArray) fd_streams = g_array_new (FALSE, FALSE, sizeof (int32_t));
  int32_t none = 0;
  gboolean visitor_eof = FALSE;
  gboolean visitor_gone = FALSE;

  for (;;)
    {
      GHashTableIter iter;
      gpointer value;
      struct pollfd pfd;
      int n;

      _nfltr_http2_dispatch (self);
      g_hash_table_iter_init (&iter, self->streams);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        _nfltr_http2_h1_pump_request (value);
      /* Until a socket is full or the sessions have nothing more: a queue that drained
       * completely would otherwise leave frames unproduced with nothing to poll for. */
      do
        {
          if (!flush (self->vis_fd, &self->vis_out))
            {
              visitor_gone = TRUE;
              break;
            }
          if (self->client != NULL && !flush (self->origin_fd, &self->origin_out))
            _nfltr_http2_origin_lost (self, "the local server closed the connection");
        }
      while (_nfltr_http2_produce (self));
      if (visitor_gone)
        break;
      if (_nfltr_http2_visitor_done (self) && _nfltr_http2_buf_len (&self->vis_out) == 0)
        break;
      if (visitor_eof)
        break;

      g_array_set_size (fds, 0);
      g_array_set_size (fd_streams, 0);
      pfd = (struct pollfd) { .fd = self->vis_fd, .events = POLLIN };
      if (_nfltr_http2_buf_len (&self->vis_out) > 0)
        pfd.events |= POLLOUT;
      g_array_append_val (fds, pfd);
      g_array_append_val (fd_streams, none);
      if (self->client != NULL)
        {
          pfd = (struct pollfd) { .fd = self->origin_fd, .events = POLLIN };
          if (_nfltr_http2_buf_len (&self->origin_out) > 0)
            pfd.events |= POLLOUT;
          g_array_append_val (fds, pfd);
          g_array_append_val (fd_streams, none);
        }
      g_hash_table_iter_init (&iter, self->streams);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Http2Stream *s = value;

          if (s->h1_fd < 0)
            continue;
          pfd = (struct pollfd) { .fd = s->h1_fd, .events = 0 };
          /* The response waits in the origin's socket while the visitor is slow. */
          if (_nfltr_http2_buf_len (&s->resp_body) < HTTP2_OUT_HIGH_WATER)
            pfd.events |= POLLIN;
          if (_nfltr_http2_buf_len (&s->h1_out) > 0)
            pfd.events |= POLLOUT;
          g_array_append_val (fds, pfd);
          g_array_append_val (fd_streams, s->vid);
        }

      n = poll ((struct pollfd *) fds->data, fds->len, -1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;

      for (guint i = 0; i < fds->len; i++)
        {
          struct pollfd *p = &g_array_index (fds, struct pollfd, i);
          int32_t vid = g_array_index (fd_streams, int32_t, i);
          Http2Stream *s = vid != 0 ? g_hash_table_lookup (self->streams, GINT_TO_POINTER (vid)) : NULL;
          ssize_t got;

          if (p->revents == 0)
            continue;
          if (p->fd == self->vis_fd)
            {
              if ((p->revents & (POLLIN | POLLHUP | POLLERR)) == 0)
                continue;
              got = read_some (self->vis_fd, buf);
              if (got == 0)
                visitor_eof = TRUE;
              else if (got > 0)
                nfltr_http2_proxy_feed (self, buf, got);
            }
          else if (vid == 0)
            {
              if (p->fd != self->origin_fd || self->client == NULL ||
                  (p->revents & (POLLIN | POLLHUP | POLLERR)) == 0)
                continue;
              got = read_some (self->origin_fd, buf);
              if (got == 0)
                _nfltr_http2_origin_lost (self, "the local server closed the connection");
              else if (got > 0)
                _nfltr_http2_origin_recv (self, buf, got);
            }
          else if (s != NULL && s->h1_fd == p->fd)
            {
              if ((p->revents & POLLOUT) != 0 && !flush (s->h1_fd, &s->h1_out))
                {
                  _nfltr_http2_h1_recv (s, NULL, 0);
                  continue;
                }
              if ((p->revents & (POLLIN | POLLHUP | POLLERR)) == 0)
                continue;
              got = read_some (s->h1_fd, buf);
              if (got >= 0)
                _nfltr_http2_h1_recv (s, buf, got);
            }
        }
    }
}

static gpointer
proxy_thread (gpointer data)
{
  NfltrHttp2Proxy *self = data;

  run (self);
  g_debug ("h2: visitor session over");
  nfltr_http2_proxy_free (self);
  return NULL;
}

int
nfltr_http2_proxy_start (NfltrHttp2Proxy *self, GError **error)
{
  g_autoptr(GThread) thread = NULL;
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s",
                   g_strerror (saved));
      nfltr_http2_proxy_free (self);
      return -1;
    }
  self->vis_fd = sv[1];
  thread = g_thread_try_new ("nfltr-h2", proxy_thread, self, error);
  if (thread == NULL)
    {
      close (sv[0]);
      nfltr_http2_proxy_free (self);
      return -1;
    }
  return sv[0];
}
