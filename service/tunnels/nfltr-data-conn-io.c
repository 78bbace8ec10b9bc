/* nfltr-data-conn-io.c — the queue of TLS records on their way to the relay.
 *
 * gnutls writes one record (at most 16 KiB of plaintext) per gnutls_record_send() and
 * pushes each to the socket on its own. Sixteen records in one send() cost the kernel far
 * less than sixteen sends, so the push function only queues, and the connection flushes
 * the queue when it has encrypted what it had. */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-data-conn-private.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* Why not g_malloc: glibc serves a block above its mmap threshold (128 KiB at start) with a
 * mapping of its own, but raises that threshold to the size of any such block freed, so after
 * the first connection ended every later 256 KiB and 288 KiB buffer came from a malloc heap
 * (the main one or a per-thread arena). Freed there they stay resident: glibc gives a heap's
 * memory back only from its top, and whatever pages a connection touched (a handshake flight,
 * a response) stayed in RSS after it closed. With hundreds of connections at a time the agent
 * grew by tens of MiB and kept it, with or without MALLOC_ARENA_MAX (issue 17, docs/
 * benchmarks.md "Agent memory under sustained load"). A mapping per buffer costs one mmap()
 * and one munmap() per connection and hands every page back when the connection ends. */
guint8 *
_nfltr_data_conn_buffer_new (gsize size)
{
  void *p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  if (p == MAP_FAILED)
    g_error ("%s: failed to map %" G_GSIZE_FORMAT " bytes: %s", G_STRLOC, size,
             g_strerror (errno));  /* what g_malloc() does when out of memory */
  return p;
}

/* Hands a buffer's pages back while keeping the mapping: the next write faults in zeroed
 * pages. For a connection gone quiet, whose pages a burst touched (issue 17). */
void
_nfltr_data_conn_buffer_release (guint8 *buffer, gsize size)
{
  if (buffer != NULL)
    madvise (buffer, size, MADV_DONTNEED);
}

void
_nfltr_data_conn_buffer_free (guint8 *buffer, gsize size)
{
  if (buffer != NULL)
    munmap (buffer, size);
}

/* gnutls' transport push: queues the records. When the queue is full, EAGAIN makes gnutls
 * keep the record and return GNUTLS_E_AGAIN; the caller flushes and calls again. */
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

gboolean
_nfltr_data_conn_cipher_pending (DataConn *c)
{
  return c->cipher_off < c->cipher_len;
}

gboolean
_nfltr_data_conn_cipher_flush (DataConn *c, gboolean *progress)
{
  while (_nfltr_data_conn_cipher_pending (c))
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

/* gnutls' transport pull: serves it from what one recv() brought, and does not ask the
 * socket again once it has been drained, until poll() says more has come. */
static ssize_t
relay_pull_cb (gnutls_transport_ptr_t ptr, void *data, size_t size)
{
  DataConn *c = ptr;
  gsize n;

  if (c->pull_off == c->pull_len)
    {
      ssize_t got;

      if (!c->relay_readable)
        {
          gnutls_transport_set_errno (c->session, EAGAIN);
          return -1;
        }
      got = recv (c->relay_fd, c->pull, PULL_BUFFER_SIZE, 0);
      if (got < 0)
        {
          if (errno == EAGAIN)
            c->relay_readable = FALSE;
          gnutls_transport_set_errno (c->session, errno);
          return -1;
        }
      if (got == 0)
        return 0;
      if (got < PULL_BUFFER_SIZE)
        c->relay_readable = FALSE;
      c->pull_off = 0;
      c->pull_len = got;
    }
  n = MIN (size, c->pull_len - c->pull_off);
  memcpy (data, c->pull + c->pull_off, n);
  c->pull_off += n;
  c->pull_taken += n;
  return n;
}

/* gnutls asks this before a read when it runs a timeout of its own (a handshake message that
 * spans records, with the handshake's default deadline): with a pull function of ours it must
 * be ours too (gnutls fails with GNUTLS_E_PULL_ERROR otherwise). Never waits — the loop does
 * the waiting — and never says "nothing yet", which gnutls would take as a timeout: the read
 * that follows returns EAGAIN and the connection waits for POLLIN as after any other read. */
static int
relay_pull_timeout_cb (gnutls_transport_ptr_t ptr, G_GNUC_UNUSED unsigned int ms)
{
  DataConn *c = ptr;
  struct pollfd pfd = { .fd = c->relay_fd, .events = POLLIN };

  if (c->pull_off == c->pull_len && poll (&pfd, 1, 0) > 0)
    c->relay_readable = TRUE;
  return 1;
}

gboolean
_nfltr_data_conn_pull_pending (DataConn *c)
{
  return c->pull_off < c->pull_len;
}

gboolean
_nfltr_data_conn_pull_retry (DataConn *c)
{
  gboolean retry = _nfltr_data_conn_pull_pending (c) && c->pull_taken != c->pull_taken_at_again;

  c->pull_taken_at_again = c->pull_taken;
  return retry;
}

/* What gnutls waits for after GNUTLS_E_AGAIN: a write that found our queue full waits for
 * the relay socket to take the queue; a read waits for data. */
short
_nfltr_data_conn_tls_wait_events (DataConn *c)
{
  return gnutls_record_get_direction (c->session) == 1 ? POLLOUT : POLLIN;
}

void
_nfltr_data_conn_io_init (DataConn *c)
{
  c->cipher = _nfltr_data_conn_buffer_new (CIPHER_BUFFER_SIZE);
  c->pull = _nfltr_data_conn_buffer_new (PULL_BUFFER_SIZE);
  c->relay_readable = TRUE;
  /* reads through the read-ahead buffer; writes go through the queue */
  gnutls_transport_set_ptr (c->session, c);
  gnutls_transport_set_pull_function (c->session, relay_pull_cb);
  gnutls_transport_set_pull_timeout_function (c->session, relay_pull_timeout_cb);
  gnutls_transport_set_vec_push_function (c->session, cipher_push_cb);
}
