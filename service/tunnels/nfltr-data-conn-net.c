/* nfltr-data-conn-net.c — sockets with deadlines for the data-connection workers.
 * Plain blocking-free POSIX calls: each worker has its own thread and needs neither a
 * main context nor GIO objects per connection. */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-tunnels-private.h"

#include "nfltr-error.h"
#include "nfltr-resolve.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A relay that vanished without a FIN (host down, NAT state lost) would otherwise leave an
 * idle worker waiting forever: probe after a minute of silence, give up after two more. */
#define KEEPALIVE_IDLE_S     60
#define KEEPALIVE_INTERVAL_S 20
#define KEEPALIVE_COUNT      6

NfltrWaitResult
_nfltr_net_wait (int fd, short events, gint64 deadline_us, int cancel_fd)
{
  for (;;)
    {
      struct pollfd fds[2] = {
        { .fd = fd, .events = events },
        { .fd = cancel_fd, .events = POLLIN },
      };
      int timeout_ms = -1;
      int n;

      if (deadline_us >= 0)
        {
          gint64 left = deadline_us - g_get_monotonic_time ();
          if (left <= 0)
            return NFLTR_WAIT_TIMEOUT;
          timeout_ms = (int) MIN ((left + 999) / 1000, G_MAXINT);
        }
      n = poll (fds, 2, timeout_ms);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return NFLTR_WAIT_READY;  /* let the next I/O call report the error */
      if (fds[1].revents != 0)
        return NFLTR_WAIT_CANCELLED;
      if (fds[0].revents != 0)
        return NFLTR_WAIT_READY;
    }
}

static int
connect_one (const struct sockaddr *addr, socklen_t addr_len, gint64 deadline_us,
             int cancel_fd, int *err)
{
  int fd = socket (addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  socklen_t len = sizeof *err;

  if (fd < 0)
    {
      *err = errno;
      return -1;
    }
  if (connect (fd, addr, addr_len) < 0)
    {
      if (errno != EINPROGRESS)
        {
          *err = errno;
          close (fd);
          return -1;
        }
      switch (_nfltr_net_wait (fd, POLLOUT, deadline_us, cancel_fd))
        {
        case NFLTR_WAIT_TIMEOUT:
          *err = ETIMEDOUT;
          close (fd);
          return -1;
        case NFLTR_WAIT_CANCELLED:
          *err = ECANCELED;
          close (fd);
          return -1;
        case NFLTR_WAIT_READY:
        default:
          break;
        }
      if (getsockopt (fd, SOL_SOCKET, SO_ERROR, err, &len) < 0)
        *err = errno;
      if (*err != 0)
        {
          close (fd);
          return -1;
        }
    }
  /* Interactive traffic (a shell, a WebSocket) must not wait for Nagle; bulk transfers
   * write large buffers and lose nothing. */
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void
_nfltr_net_set_keepalive (int fd)
{
  int on = 1, idle = KEEPALIVE_IDLE_S, interval = KEEPALIVE_INTERVAL_S, count = KEEPALIVE_COUNT;

  setsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

int
_nfltr_net_connect (const char  *host,
                    guint16      port,
                    guint        timeout_ms,
                    int          cancel_fd,
                    GError     **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  int err = 0;
  int fd = -1;

  if (nfltr_host_is_localhost (host))
    {
      /* RFC 6761 §6.3: without relying on the system resolver. IPv4 first, as our relay
       * listens there; ::1 for local servers that bind only it (Node's "localhost"). */
      struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_port = htons (port),
                                .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
      struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = htons (port),
                                 .sin6_addr = IN6ADDR_LOOPBACK_INIT };

      fd = connect_one ((struct sockaddr *) &v4, sizeof v4, deadline, cancel_fd, &err);
      if (fd < 0 && err != ECANCELED && err != ETIMEDOUT)
        fd = connect_one ((struct sockaddr *) &v6, sizeof v6, deadline, cancel_fd, &err);
    }
  else
    {
      struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
      struct addrinfo *res = NULL;
      char service[8];
      int gai;

      g_snprintf (service, sizeof service, "%u", port);
      gai = getaddrinfo (host, service, &hints, &res);
      if (gai != 0)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                       "cannot resolve %s: %s", host, gai_strerror (gai));
          return -1;
        }
      err = EADDRNOTAVAIL;
      for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        {
          fd = connect_one (ai->ai_addr, ai->ai_addrlen, deadline, cancel_fd, &err);
          if (err == ECANCELED || err == ETIMEDOUT)
            break;
        }
      freeaddrinfo (res);
    }

  if (fd < 0)
    {
      if (err == ECANCELED)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "connecting to %s:%u was cancelled",
                     host, port);
      else
        g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "cannot connect to %s:%u: %s",
                     host, port, g_strerror (err));
    }
  return fd;
}

int
nfltr_data_conn_connect_tcp (const char  *host,
                             guint16      port,
                             guint        timeout_ms,
                             int          cancel_fd,
                             GError     **error)
{
  return _nfltr_net_connect (host, port, timeout_ms, cancel_fd, error);
}
