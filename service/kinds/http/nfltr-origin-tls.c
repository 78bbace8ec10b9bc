/* nfltr-origin-tls.c — a TLS client to the local server, bridged to a socketpair (see the
 * header) */
#define G_LOG_DOMAIN "nfltr-http"

#include "nfltr-origin-tls.h"

#include "nfltr-data-conn.h"

#include <errno.h>
#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BRIDGE_CHUNK (16 * 1024)

typedef struct {
  gnutls_session_t session;
  gnutls_certificate_credentials_t creds;
  int tcp_fd;
  int pair_fd;
} Bridge;

static void
bridge_free (Bridge *b)
{
  if (b->session != NULL)
    gnutls_deinit (b->session);
  if (b->creds != NULL)
    gnutls_certificate_free_credentials (b->creds);
  if (b->tcp_fd >= 0)
    close (b->tcp_fd);
  if (b->pair_fd >= 0)
    close (b->pair_fd);
  g_free (b);
}

/* Waits until fd is ready for what the last GnuTLS call needs, or the deadline. */
static gboolean
wait_tls (Bridge *b, gint64 deadline, int cancel_fd)
{
  struct pollfd fds[2] = {
    { .fd = b->tcp_fd, .events = gnutls_record_get_direction (b->session) ? POLLOUT : POLLIN },
    { .fd = cancel_fd, .events = POLLIN },
  };
  gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

  if (left <= 0)
    return FALSE;
  if (poll (fds, 2, (int) MIN (left, G_MAXINT)) <= 0)
    return FALSE;
  return fds[1].revents == 0;
}

/* Copies both ways until both have ended: plaintext from the pair goes out as records, the
 * server's records come back as plaintext. An EOF is passed on as close_notify or
 * SHUT_WR. */
static gpointer
bridge_thread (gpointer data)
{
  Bridge *b = data;
  g_autofree guint8 *up = g_malloc (BRIDGE_CHUNK);
  g_autofree guint8 *down = g_malloc (BRIDGE_CHUNK);
  gsize up_off = 0, up_len = 0, down_off = 0, down_len = 0;
  gboolean up_eof = FALSE, up_done = FALSE, down_eof = FALSE;

  while (!(up_done && down_eof && down_len == 0))
    {
      struct pollfd fds[2] = { { .fd = b->pair_fd }, { .fd = b->tcp_fd } };
      ssize_t n;

      /* pair → TLS */
      if (up_len > 0)
        {
          n = gnutls_record_send (b->session, up + up_off, up_len);
          if (n > 0)
            {
              up_off += n;
              up_len -= n;
              continue;
            }
          if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
            break;
          fds[1].events |= gnutls_record_get_direction (b->session) ? POLLOUT : POLLIN;
        }
      else if (up_eof && !up_done)
        {
          int r = gnutls_bye (b->session, GNUTLS_SHUT_WR);

          if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            fds[1].events |= POLLOUT;
          else
            up_done = TRUE;
          continue;
        }
      else if (!up_eof)
        fds[0].events |= POLLIN;

      /* TLS → pair */
      if (down_len > 0)
        {
          n = send (b->pair_fd, down + down_off, down_len, MSG_NOSIGNAL);
          if (n > 0)
            {
              down_off += n;
              down_len -= n;
              continue;
            }
          if (n < 0 && errno != EAGAIN && errno != EINTR)
            break;
          fds[0].events |= POLLOUT;
        }
      else if (!down_eof)
        {
          n = gnutls_record_recv (b->session, down, BRIDGE_CHUNK);
          if (n > 0)
            {
              down_off = 0;
              down_len = n;
              continue;
            }
          if (n == 0 || (n < 0 && gnutls_error_is_fatal ((int) n)))
            {
              down_eof = TRUE;
              shutdown (b->pair_fd, SHUT_WR);
              if (n < 0)
                break;  /* a cut, not an end: the reader must not take it for complete */
              continue;
            }
          fds[1].events |= POLLIN;
        }

      if (up_len == 0 && !up_eof && (fds[0].events & POLLIN))
        {
          n = recv (b->pair_fd, up, BRIDGE_CHUNK, 0);
          if (n > 0)
            {
              up_off = 0;
              up_len = n;
              continue;
            }
          if (n == 0 || (errno != EAGAIN && errno != EINTR))
            {
              up_eof = TRUE;
              continue;
            }
        }
      if (poll (fds, 2, -1) < 0 && errno != EINTR)
        break;
    }
  g_debug ("origin TLS bridge ended");
  bridge_free (b);
  return NULL;
}

int
nfltr_origin_tls_connect (const char          *host,
                          guint16              port,
                          const char * const  *alpn,
                          guint                timeout_ms,
                          int                  cancel_fd,
                          char               **selected_alpn,
                          GError             **error)
{
  Bridge *b = g_new0 (Bridge, 1);
  g_autoptr(GThread) thread = NULL;
  gnutls_datum_t protocols[8];
  gnutls_datum_t selected;
  guint n_protocols = 0;
  gint64 deadline;
  int sv[2];
  int ret;

  b->tcp_fd = b->pair_fd = -1;
  if (selected_alpn != NULL)
    *selected_alpn = NULL;
  b->tcp_fd = nfltr_data_conn_connect_tcp (host, port, timeout_ms, cancel_fd, error);
  if (b->tcp_fd < 0)
    {
      bridge_free (b);
      return -1;
    }
  for (; alpn != NULL && alpn[n_protocols] != NULL && n_protocols < G_N_ELEMENTS (protocols); n_protocols++)
    {
      protocols[n_protocols].data = (unsigned char *) alpn[n_protocols];
      protocols[n_protocols].size = strlen (alpn[n_protocols]);
    }
  if ((ret = gnutls_certificate_allocate_credentials (&b->creds)) < 0 ||
      (ret = gnutls_init (&b->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0 ||
      (ret = gnutls_set_default_priority (b->session)) < 0 ||
      (ret = gnutls_credentials_set (b->session, GNUTLS_CRD_CERTIFICATE, b->creds)) < 0 ||
      (n_protocols > 0 && (ret = gnutls_alpn_set_protocols (b->session, protocols, n_protocols, 0)) < 0))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS to %s:%u: %s", host, port,
                   gnutls_strerror (ret));
      bridge_free (b);
      return -1;
    }
  /* SNI only for a name (RFC 6066 §3: not for an address literal). */
  if (!g_hostname_is_ip_address (host))
    gnutls_server_name_set (b->session, GNUTLS_NAME_DNS, host, strlen (host));
  gnutls_transport_set_int (b->session, b->tcp_fd);
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  do
    {
      ret = gnutls_handshake (b->session);
      if (ret == GNUTLS_E_AGAIN && !wait_tls (b, deadline, cancel_fd))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "TLS handshake with %s:%u timed out", host, port);
          bridge_free (b);
          return -1;
        }
    }
  while (ret < 0 && gnutls_error_is_fatal (ret) == 0);
  if (ret < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS handshake with %s:%u failed: %s",
                   host, port, gnutls_strerror (ret));
      bridge_free (b);
      return -1;
    }
  if (selected_alpn != NULL && gnutls_alpn_get_selected_protocol (b->session, &selected) == 0)
    *selected_alpn = g_strndup ((const char *) selected.data, selected.size);

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s",
                   g_strerror (saved));
      bridge_free (b);
      return -1;
    }
  b->pair_fd = sv[1];
  thread = g_thread_try_new ("nfltr-origin-tls", bridge_thread, b, error);
  if (thread == NULL)
    {
      close (sv[0]);
      bridge_free (b);
      if (selected_alpn != NULL)
        g_clear_pointer (selected_alpn, g_free);
      return -1;
    }
  return sv[0];
}
