/* test-data-conn.c — a data connection end to end in one process.
 *
 * The test thread plays the relay and the public client: it accepts the worker's TCP
 * connection on 127.0.0.1:0, checks the 40-byte preamble, then speaks TLS as a client
 * (SNI t1.nfltr.localhost) and checks the certificate it gets is the tunnel's. A local
 * server thread (echo, download, HTTP) stands in for the user's localhost:3000. */
#include "nfltr-cert.h"
#include "nfltr-data-conn.h"
#include "nfltr-error.h"
#include "nfltr-proto.h"

#include <dirent.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Every recv(2) in this process comes here (the executable's own definition is found before
 * libc's): the ones the data path's event-loop threads make are counted, and those that
 * found nothing. */
static gint loop_recvs, loop_recvs_empty;

ssize_t
recv (int fd, void *buf, size_t len, int flags)
{
  long n = syscall (SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
  int saved = errno;
  char name[16] = "";

  prctl (PR_GET_NAME, name, 0, 0, 0);
  if (g_str_has_prefix (name, "nfltr-data-loop"))
    {
      g_atomic_int_inc (&loop_recvs);
      if (n < 0 && saved == EAGAIN)
        g_atomic_int_inc (&loop_recvs_empty);
    }
  errno = saved;
  return n;
}

#define PUBLIC_HOST "t1.nfltr.localhost"
#define CLIENT_IP   "203.0.113.7"
#define IO_TIMEOUT_MS 10000

static char *cert_pem, *key_pem;
static guint8 cert_fp[NFLTR_FINGERPRINT_LEN];

/* ---- sockets ---- */

static int
listen_loopback (guint16 *port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (fd, 16), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  *port = ntohs (addr.sin_port);
  return fd;
}

static void
set_timeouts (int fd)
{
  struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000 };

  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* -1 when nothing connects in time */
static int
accept_within (int listen_fd, int timeout_ms)
{
  struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
  int fd;

  if (poll (&pfd, 1, timeout_ms) != 1)
    return -1;
  fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  set_timeouts (fd);
  return fd;
}

static gboolean
read_exact (int fd, void *buf, gsize len)
{
  gsize off = 0;

  while (off < len)
    {
      ssize_t n = recv (fd, (guint8 *) buf + off, len - off, 0);
      if (n <= 0)
        return FALSE;
      off += n;
    }
  return TRUE;
}

static void
write_all (int fd, const void *buf, gsize len)
{
  gsize off = 0;

  while (off < len)
    {
      ssize_t n = send (fd, (const guint8 *) buf + off, len - off, MSG_NOSIGNAL);
      if (n <= 0)
        return;
      off += n;
    }
}

static guint
count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  guint n = 0;

  g_assert_nonnull (dir);
  while (readdir (dir) != NULL)
    n++;
  closedir (dir);
  return n;
}

/* The data path's event-loop threads hold one eventfd each (their GMainContext's) and
 * outlive a test by 10 s; everything else must be back to its count. */
static guint
count_fds_but_loops (void)
{
  return count_fds () - nfltr_data_conn_get_loops ();
}

/* ---- local servers (threads) ---- */

typedef enum { LOCAL_ECHO, LOCAL_DOWNLOAD, LOCAL_HTTP } LocalMode;

typedef struct {
  LocalMode mode;
  int       listen_fd;
  guint16   port;
  gsize     download_size;
  GThread  *thread;
  /* results */
  gboolean  accepted;
  guint64   bytes_received;
  GString  *http_head;
} LocalServer;

static guint8
pattern_byte (guint64 i)
{
  return (guint8) ((i * 2654435761u) >> 13);
}

static gpointer
local_server_thread (gpointer data)
{
  LocalServer *s = data;
  int fd = accept_within (s->listen_fd, IO_TIMEOUT_MS);
  g_autofree guint8 *buf = g_malloc (65536);

  if (fd < 0)
    return NULL;
  s->accepted = TRUE;

  switch (s->mode)
    {
    case LOCAL_ECHO:
      for (;;)
        {
          ssize_t n = recv (fd, buf, 65536, 0);
          if (n <= 0)
            break;
          s->bytes_received += n;
          write_all (fd, buf, n);
        }
      break;

    case LOCAL_DOWNLOAD:
      for (guint64 off = 0; off < s->download_size;)
        {
          gsize n = MIN (65536, s->download_size - off);
          for (gsize i = 0; i < n; i++)
            buf[i] = pattern_byte (off + i);
          write_all (fd, buf, n);
          off += n;
        }
      break;

    case LOCAL_HTTP:
      {
        static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                                       "Connection: close\r\n\r\nhello";
        while (strstr (s->http_head->str, "\r\n\r\n") == NULL)
          {
            ssize_t n = recv (fd, buf, 65536, 0);
            if (n <= 0)
              break;
            s->bytes_received += n;
            g_string_append_len (s->http_head, (char *) buf, n);
          }
        if (s->http_head->len > 0)
          write_all (fd, response, sizeof response - 1);
      }
      break;

    default:
      g_assert_not_reached ();
    }
  close (fd);
  return NULL;
}

static LocalServer *
local_server_start (LocalMode mode)
{
  LocalServer *s = g_new0 (LocalServer, 1);

  s->mode = mode;
  s->listen_fd = listen_loopback (&s->port);
  s->http_head = g_string_new (NULL);
  s->thread = g_thread_new ("local-server", local_server_thread, s);
  return s;
}

static void
local_server_finish (LocalServer *s)
{
  if (s->thread != NULL)
    g_thread_join (s->thread);
  close (s->listen_fd);
  g_string_free (s->http_head, TRUE);
  g_free (s);
}

/* ---- the fixture: tunnel state, the fake relay, and the public client ---- */

typedef struct {
  NfltrTunnelTls     *tls;
  NfltrTunnelStats   *stats;
  NfltrDataConnGroup *group;
  int                 relay_listen_fd;
  guint16             relay_port;
  guint               fds_before;
  const char         *client_priority;  /* NULL: GnuTLS defaults (TLS 1.3) */
} Fixture;

typedef struct {
  int                              fd;
  gnutls_session_t                 session;
  gnutls_certificate_credentials_t cred;
} Client;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->fds_before = count_fds_but_loops ();
  f->client_priority = data;
  f->tls = nfltr_tunnel_tls_new (cert_pem, key_pem, &error);
  g_assert_no_error (error);
  f->stats = nfltr_tunnel_stats_new ();
  f->group = nfltr_data_conn_group_new ();
  f->relay_listen_fd = listen_loopback (&f->relay_port);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  /* whatever the test did, every worker must be gone and every socket closed */
  nfltr_data_conn_group_cancel_all (f->group);
  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 5000));
  g_assert_cmpuint (nfltr_tunnel_stats_get_active (f->stats), ==, 0);
  close (f->relay_listen_fd);
  nfltr_data_conn_group_unref (f->group);
  nfltr_tunnel_stats_unref (f->stats);
  nfltr_tunnel_tls_unref (f->tls);
  /* A worker drops its group reference (the group's eventfd) just after it is counted
   * out, so give the last one a moment. */
  for (guint i = 0; i < 100 && (count_fds_but_loops () != f->fds_before || nfltr_data_conn_get_live () != 0);
       i++)
    g_usleep (10000); /* polling: a descriptor closing has no event to wait on */
  if (count_fds_but_loops () != f->fds_before)
    {
      g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
          g_autofree char *target = g_file_read_link (path, NULL);
          g_test_message ("fd %s -> %s", name, target);
        }
    }
  g_assert_cmpuint (count_fds_but_loops (), ==, f->fds_before);
  g_assert_cmpuint (nfltr_data_conn_get_live (), ==, 0);
}

static void
spawn_as (Fixture *f, const char *kind, const guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE],
          guint16 target_port, const char *client_addr)
{
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", target_port);
  NfltrTunnelKind *tunnel_kind = nfltr_tunnel_kind_lookup (kind);
  g_autoptr(GVariant) config = NULL;
  g_autoptr(GError) error = NULL;
  NfltrDataConnParams params = {
    .relay_host = "nfltr.localhost",  /* resolved to loopback by the worker itself */
    .relay_port = f->relay_port,
    .conn_id = conn_id,
    .public_host = PUBLIC_HOST,
    .client_addr = client_addr,
  };

  g_assert_nonnull (tunnel_kind);
  config = nfltr_tunnel_kind_parse (tunnel_kind, target, NULL, &error);
  g_assert_no_error (error);
  params.kind = tunnel_kind;
  params.kind_config = config;
  g_assert_true (nfltr_data_conn_spawn (&params, f->tls, f->stats, f->group, &error));
  g_assert_no_error (error);
}

static void
spawn (Fixture *f, const char *kind, const guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE],
       guint16 target_port)
{
  spawn_as (f, kind, conn_id, target_port, CLIENT_IP ":50123");
}

static void client_handshake (Fixture *f, Client *c, const char *kind);

/* The relay's side of the attach: one TCP connection, then the preamble of
 * docs/protocol.md §5 with conn_id. */
static void
relay_accept (Fixture *f, Client *c, const guint8 *conn_id)
{
  guint8 preamble[NFLTR_PROTO_ATTACH_SIZE];
  guint8 got_id[NFLTR_PROTO_CONN_ID_SIZE];
  g_autoptr(GError) error = NULL;

  c->fd = accept_within (f->relay_listen_fd, IO_TIMEOUT_MS);
  g_assert_cmpint (c->fd, >=, 0);
  g_assert_true (read_exact (c->fd, preamble, sizeof preamble));
  g_assert_true (nfltr_proto_attach_decode (preamble, sizeof preamble, got_id, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (got_id, sizeof got_id, conn_id, NFLTR_PROTO_CONN_ID_SIZE);
}

/* Spawns a worker and completes the relay and client side: preamble, TLS handshake,
 * fingerprint. */
static void
client_open (Fixture *f, Client *c, const char *kind, guint16 target_port)
{
  guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE];
  guint8 preamble[NFLTR_PROTO_ATTACH_SIZE];
  guint8 got_id[NFLTR_PROTO_CONN_ID_SIZE];
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < sizeof conn_id; i++)
    conn_id[i] = g_random_int_range (0, 256);
  spawn (f, kind, conn_id, target_port);

  /* the relay: one TCP connection, then the preamble of docs/protocol.md §5 */
  c->fd = accept_within (f->relay_listen_fd, IO_TIMEOUT_MS);
  g_assert_cmpint (c->fd, >=, 0);
  g_assert_true (read_exact (c->fd, preamble, sizeof preamble));
  g_assert_cmpmem (preamble, 6, "NFLTRD", 6);
  g_assert_true (nfltr_proto_attach_decode (preamble, sizeof preamble, got_id, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (got_id, sizeof got_id, conn_id, sizeof conn_id);
  for (gsize i = 24; i < sizeof preamble; i++)
    g_assert_cmpuint (preamble[i], ==, 0);
  client_handshake (f, c, kind);
}

/* The public client's TLS handshake on c->fd, and what it sees of the agent. */
static void
client_handshake (Fixture *f, Client *c, const char *kind)
{
  static const gnutls_datum_t http11 = { (unsigned char *) "http/1.1", 8 };
  guint8 fp[NFLTR_FINGERPRINT_LEN];
  const gnutls_datum_t *certs;
  unsigned int n_certs;
  gnutls_datum_t alpn;
  int ret;

  /* the public client */
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&c->cred), ==, 0);
  g_assert_cmpint (gnutls_init (&c->session, GNUTLS_CLIENT), ==, 0);
  if (f->client_priority != NULL)
    g_assert_cmpint (gnutls_priority_set_direct (c->session, f->client_priority, NULL), ==, 0);
  else
    g_assert_cmpint (gnutls_set_default_priority (c->session), ==, 0);
  g_assert_cmpint (gnutls_credentials_set (c->session, GNUTLS_CRD_CERTIFICATE, c->cred), ==, 0);
  g_assert_cmpint (gnutls_server_name_set (c->session, GNUTLS_NAME_DNS, PUBLIC_HOST,
                                           strlen (PUBLIC_HOST)), ==, 0);
  /* an HTTP/1.1 client: an http tunnel offers h2 too, and then serves HTTP/2 itself
   * (tests/integration/test_http2.py) */
  {
    gnutls_datum_t protos[1] = { http11 };
    g_assert_cmpint (gnutls_alpn_set_protocols (c->session, protos, 1, 0), ==, 0);
  }
  gnutls_transport_set_int (c->session, c->fd);
  gnutls_handshake_set_timeout (c->session, IO_TIMEOUT_MS);
  do
    ret = gnutls_handshake (c->session);
  while (ret < 0 && gnutls_error_is_fatal (ret) == 0);
  if (ret < 0)
    g_error ("client handshake: %s", gnutls_strerror (ret));

  g_assert_cmpint (gnutls_protocol_get_version (c->session), ==,
                   f->client_priority != NULL ? GNUTLS_TLS1_2 : GNUTLS_TLS1_3);
  certs = gnutls_certificate_get_peers (c->session, &n_certs);
  g_assert_cmpuint (n_certs, >=, 1);
  nfltr_fingerprint_of_der (certs[0].data, certs[0].size, fp);
  g_assert_cmpmem (fp, sizeof fp, cert_fp, sizeof cert_fp);

  if (g_str_equal (kind, "http"))
    {
      g_assert_cmpint (gnutls_alpn_get_selected_protocol (c->session, &alpn), ==, 0);
      g_assert_cmpmem (alpn.data, alpn.size, "http/1.1", 8);
    }
  else
    g_assert_cmpint (gnutls_alpn_get_selected_protocol (c->session, &alpn), <, 0);
}

static void
client_close (Client *c)
{
  gnutls_deinit (c->session);
  gnutls_certificate_free_credentials (c->cred);
  close (c->fd);
}

static void
client_send (Client *c, const void *data, gsize len)
{
  gsize off = 0;

  while (off < len)
    {
      ssize_t n = gnutls_record_send (c->session, (const guint8 *) data + off, len - off);
      if (n < 0)
        g_error ("client send: %s", gnutls_strerror (n));
      off += n;
    }
}

/* gnutls_record_recv() answers AGAIN after handling a post-handshake message (a TLS 1.3
 * session ticket) as well as on our SO_RCVTIMEO; only the latter is a failure. */
static ssize_t
client_recv (Client *c, void *buf, gsize len)
{
  gint64 deadline = g_get_monotonic_time () + IO_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  ssize_t n;

  do
    n = gnutls_record_recv (c->session, buf, len);
  while ((n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) &&
         g_get_monotonic_time () < deadline);
  return n;
}

/* Reads until the peer's close_notify; FALSE if the stream ended any other way. */
static gboolean
client_read_to_end (Client *c, GByteArray *into)
{
  guint8 buf[16384];

  for (;;)
    {
      ssize_t n = client_recv (c, buf, sizeof buf);
      if (n == 0)
        return TRUE;
      if (n < 0)
        {
          g_test_message ("client recv: %s", gnutls_strerror (n));
          return FALSE;
        }
      if (into != NULL)
        g_byte_array_append (into, buf, n);
    }
}

/* ---- tests ---- */

static void
test_tcp_echo (Fixture *f, gconstpointer data)
{
  LocalServer *local = local_server_start (LOCAL_ECHO);
  const gsize chunk = 65536, rounds = 20;  /* 1.25 MiB, in both directions */
  g_autofree guint8 *out = g_malloc (chunk);
  g_autofree guint8 *back = g_malloc (chunk);
  gint64 start;
  Client c;

  client_open (f, &c, "tcp", local->port);
  g_assert_cmpuint (nfltr_tunnel_stats_get_total (f->stats), ==, 1);
  for (gsize r = 0; r < rounds; r++)
    {
      gsize got = 0;

      for (gsize i = 0; i < chunk; i++)
        out[i] = g_random_int ();
      client_send (&c, out, chunk);
      while (got < chunk)
        {
          ssize_t n = client_recv (&c, back + got, chunk - got);
          if (n <= 0)
            g_error ("echo read: %s", gnutls_strerror (n));
          got += n;
        }
      g_assert_cmpmem (back, chunk, out, chunk);
    }

  /* Half-close: our close_notify reaches the local server as EOF, it closes, and that
   * comes back to us as the worker's close_notify. */
  start = g_get_monotonic_time ();
  g_assert_cmpint (gnutls_bye (c.session, GNUTLS_SHUT_WR), ==, 0);
  g_assert_true (client_read_to_end (&c, NULL));
  /* at once, not when some socket timeout gives up */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  client_close (&c);
  local_server_finish (local);

  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 5000));
  g_assert_cmpuint (nfltr_tunnel_stats_get_active (f->stats), ==, 0);
  g_assert_cmpuint (nfltr_tunnel_stats_get_total (f->stats), ==, 1);
  g_assert_cmpuint (nfltr_tunnel_stats_get_bytes_in (f->stats), ==, chunk * rounds);
  g_assert_cmpuint (nfltr_tunnel_stats_get_bytes_out (f->stats), ==, chunk * rounds);
}

/* write(2)-like system calls (syscw in /proc/…/io) made so far by the data path's event-loop
 * threads. Their sends to sockets are sendto(2), not counted there: what is counted is
 * GLib waking its own context through the eventfd, which moves no byte for anyone. */
static guint64
loop_threads_syscw (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  guint64 total = 0;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *comm_path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *io_path = g_strdup_printf ("/proc/self/task/%s/io", tid);
      g_autofree char *comm = NULL;
      g_autofree char *io = NULL;
      const char *line;

      if (!g_file_get_contents (comm_path, &comm, NULL, NULL) ||
          !g_str_has_prefix (comm, "nfltr-data-loop") ||
          !g_file_get_contents (io_path, &io, NULL, NULL))
        continue;
      line = strstr (io, "syscw: ");
      g_assert_nonnull (line);
      total += g_ascii_strtoull (line + strlen ("syscw: "), NULL, 10);
    }
  return total;
}

/* Request and answer, turn by turn on one connection (what a keep-alive HTTP client does):
 * the bytes come back, and the loop does not write its own wake-up eventfd to do it. Each
 * change to the source's descriptors or ready time wrote it once; that was ~12 writes per
 * request through a real tunnel (docs/benchmarks.md "Where the time goes"). Nor does it
 * read a socket to find it empty: gnutls read each record in two recv() calls and a third
 * to learn there was no more, the local socket once more after each answer (~9 of 12 recv
 * calls per request found nothing). */
static void
test_tcp_turns_few_wakeups (Fixture *f, gconstpointer data)
{
  LocalServer *local = local_server_start (LOCAL_ECHO);
  enum {
    TURNS = 200,
    SIZE = 100
  };
  guint8 out[SIZE], back[SIZE];
  guint64 before, writes;
  Client c;

  client_open (f, &c, "tcp", local->port);
  memset (out, 'q', sizeof out);
  before = loop_threads_syscw ();
  for (guint t = 0; t <= TURNS; t++)
    {
      gsize got = 0;

      /* Counted from the second turn: the connection is then past its set-up. */
      if (t == 1)
        {
          before = loop_threads_syscw ();
          g_atomic_int_set (&loop_recvs, 0);
          g_atomic_int_set (&loop_recvs_empty, 0);
        }

      out[0] = t;
      client_send (&c, out, SIZE);
      while (got < SIZE)
        {
          ssize_t n = client_recv (&c, back + got, SIZE - got);
          if (n <= 0)
            g_error ("echo read: %s", gnutls_strerror (n));
          got += n;
        }
      g_assert_cmpmem (back, SIZE, out, SIZE);
    }
  writes = loop_threads_syscw () - before;
  g_test_message ("event-loop write(2) calls: %" G_GUINT64_FORMAT " for %d turns", writes, TURNS);
  g_assert_cmpuint (writes, <, TURNS / 4);
  /* Two reads per turn carry bytes: the record from the client, the echo from the local
   * server. */
  g_test_message ("event-loop recv(2) calls: %d, %d of them found nothing, for %d turns",
                  g_atomic_int_get (&loop_recvs), g_atomic_int_get (&loop_recvs_empty), TURNS);
  g_assert_cmpint (g_atomic_int_get (&loop_recvs_empty), <, TURNS / 4);
  g_assert_cmpint (g_atomic_int_get (&loop_recvs), <, 2 * TURNS + TURNS / 4);

  g_assert_cmpint (gnutls_bye (c.session, GNUTLS_SHUT_WR), ==, 0);
  g_assert_true (client_read_to_end (&c, NULL));
  client_close (&c);
  local_server_finish (local);
  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 5000));
}

static void
test_tcp_download (Fixture *f, gconstpointer data)
{
  LocalServer *local = local_server_start (LOCAL_DOWNLOAD);
  g_autoptr(GByteArray) got = g_byte_array_new ();
  Client c;

  local->download_size = 24 * 1024 * 1024 + 123;
  client_open (f, &c, "tcp", local->port);
  /* the local server closes after the last byte: the client must see a clean end */
  g_assert_true (client_read_to_end (&c, got));
  g_assert_cmpuint (got->len, ==, local->download_size);
  for (gsize i = 0; i < got->len; i++)
    if (got->data[i] != pattern_byte (i))
      g_error ("byte %" G_GSIZE_FORMAT " differs", i);
  client_close (&c);
  local_server_finish (local);

  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 5000));
  g_assert_cmpuint (nfltr_tunnel_stats_get_bytes_out (f->stats), ==, got->len);
  g_assert_cmpuint (nfltr_tunnel_stats_get_bytes_in (f->stats), ==, 0);
}

/* One HTTP exchange through an http tunnel to port: sends request, reads the answer to
 * its end and closes. The answer comes back NUL-terminated, to be searched as a string. */
static GByteArray *
client_exchange (Fixture *f, guint16 port, const char *request)
{
  GByteArray *got = g_byte_array_new ();
  Client c;

  client_open (f, &c, "http", port);
  client_send (&c, request, strlen (request));
  g_assert_true (client_read_to_end (&c, got));
  g_byte_array_append (got, (const guint8 *) "", 1);
  client_close (&c);
  return got;
}

static void
test_http_forwarded_headers (Fixture *f, gconstpointer data)
{
  LocalServer *local = local_server_start (LOCAL_HTTP);
  static const char request[] = "GET /hello HTTP/1.1\r\nHost: t1.nfltr.localhost:8443\r\n"
                                "X-Forwarded-For: 10.1.1.1\r\n\r\n";
  g_autoptr(GByteArray) got = client_exchange (f, local->port, request);

  g_assert_true (g_str_has_prefix ((char *) got->data, "HTTP/1.1 200 OK\r\n"));
  g_assert_true (g_str_has_suffix ((char *) got->data, "\r\n\r\nhello"));
  g_thread_join (g_steal_pointer (&local->thread));

  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 5000));
  /* what the local server saw */
  g_assert_nonnull (strstr (local->http_head->str, "GET /hello HTTP/1.1\r\n"));
  g_assert_nonnull (strstr (local->http_head->str, "\r\nHost: t1.nfltr.localhost:8443\r\n"));
  g_assert_nonnull (strstr (local->http_head->str, "\r\nX-Forwarded-For: 10.1.1.1, " CLIENT_IP "\r\n"));
  g_assert_nonnull (strstr (local->http_head->str, "\r\nX-Forwarded-Proto: https\r\n"));
  g_assert_nonnull (strstr (local->http_head->str, "\r\nX-Forwarded-Host: t1.nfltr.localhost:8443\r\n"));
  g_assert_cmpuint (nfltr_tunnel_stats_get_bytes_in (f->stats), ==, sizeof request - 1);
  g_assert_cmpuint (nfltr_tunnel_stats_get_bytes_out (f->stats), ==, got->len - 1);
  local_server_finish (local);
}

static void
test_http_misdirected (Fixture *f, gconstpointer data)
{
  LocalServer *local = local_server_start (LOCAL_HTTP);
  static const char request[] = "GET / HTTP/1.1\r\nHost: other.nfltr.localhost\r\n\r\n";
  g_autoptr(GByteArray) got = client_exchange (f, local->port, request);

  g_assert_true (g_str_has_prefix ((char *) got->data, "HTTP/1.1 421 Misdirected Request\r\n"));
  g_assert_nonnull (strstr ((char *) got->data, "this tunnel serves " PUBLIC_HOST " only"));
  g_thread_join (g_steal_pointer (&local->thread));
  /* the local server got a connection but not one byte of the request */
  g_assert_true (local->accepted);
  g_assert_cmpuint (local->bytes_received, ==, 0);
  local_server_finish (local);
}

/* A refused request behind a good one on the same connection: the good one is answered
 * by the local server first, then the client gets our 421, in that order. */
static void
test_http_pipelined_refusal (Fixture *f, gconstpointer data)
{
  LocalServer *local = local_server_start (LOCAL_HTTP);
  static const char requests[] = "GET /first HTTP/1.1\r\nHost: t1.nfltr.localhost\r\n\r\n"
                                 "GET /second HTTP/1.1\r\nHost: evil.example\r\n\r\n";
  g_autoptr(GByteArray) got = client_exchange (f, local->port, requests);
  const char *second;

  g_assert_true (g_str_has_prefix ((char *) got->data, "HTTP/1.1 200 OK\r\n"));
  second = strstr ((char *) got->data, "\r\n\r\nhello");
  g_assert_nonnull (second);
  g_assert_true (g_str_has_prefix (second + 9, "HTTP/1.1 421 Misdirected Request\r\n"));
  g_thread_join (g_steal_pointer (&local->thread));
  g_assert_nonnull (strstr (local->http_head->str, "GET /first "));
  g_assert_null (strstr (local->http_head->str, "/second"));
  local_server_finish (local);
}

static void
test_http_local_down (Fixture *f, gconstpointer data)
{
  static const char request[] = "GET / HTTP/1.1\r\nHost: t1.nfltr.localhost\r\n\r\n";
  g_autoptr(GByteArray) got = NULL;
  guint16 dead_port;

  close (listen_loopback (&dead_port));  /* a port nobody listens on */
  got = client_exchange (f, dead_port, request);
  g_assert_true (g_str_has_prefix ((char *) got->data, "HTTP/1.1 502 Bad Gateway\r\n"));
  g_assert_nonnull (strstr ((char *) got->data, "local server is unreachable"));
  g_assert_nonnull (strstr ((char *) got->data, "Connection refused"));
}

static void
test_group_cancel (Fixture *f, gconstpointer data)
{
  LocalServer *locals[3];
  Client clients[3];
  gint64 start;

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      guint8 buf[5];

      locals[i] = local_server_start (LOCAL_ECHO);
      client_open (f, &clients[i], "tcp", locals[i]->port);
      client_send (&clients[i], "ping!", 5);
      g_assert_cmpint (client_recv (&clients[i], buf, 5), ==, 5);
    }
  g_assert_cmpuint (nfltr_data_conn_group_get_active (f->group), ==, 3);
  g_assert_cmpuint (nfltr_tunnel_stats_get_active (f->stats), ==, 3);

  /* idle connections, every worker blocked in poll(): cancel must wake and end them all */
  start = g_get_monotonic_time ();
  nfltr_data_conn_group_cancel_all (f->group);
  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 2000));
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  g_assert_cmpuint (nfltr_tunnel_stats_get_active (f->stats), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      guint8 buf[16];
      /* the client's stream ends (no close_notify: it was cut, not finished) */
      g_assert_cmpint (client_recv (&clients[i], buf, sizeof buf), <=, 0);
      client_close (&clients[i]);
      local_server_finish (locals[i]);  /* its connection was closed too: echo loop ended */
    }

  /* a connection spawned into a cancelled group never reaches the relay */
  {
    guint8 id[NFLTR_PROTO_CONN_ID_SIZE] = { 0 };
    spawn (f, "tcp", id, 9);
    g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 2000));
    g_assert_cmpint (accept_within (f->relay_listen_fd, 100), <, 0);
    g_assert_cmpuint (nfltr_tunnel_stats_get_total (f->stats), ==, 4);
  }
}

/* Many connections of one tunnel at once: each gets its own bytes back, and the
 * counters add up across workers. */
static void
test_many_connections (Fixture *f, gconstpointer data)
{
  enum { N = 24, SIZE = 20000 };
  LocalServer *locals[N];
  Client clients[N];
  guint8 out[SIZE], back[SIZE];

  for (guint i = 0; i < N; i++)
    {
      locals[i] = local_server_start (LOCAL_ECHO);
      client_open (f, &clients[i], "tcp", locals[i]->port);
    }
  g_assert_cmpuint (nfltr_tunnel_stats_get_active (f->stats), ==, N);
  for (guint i = 0; i < N; i++)
    {
      memset (out, 'a' + i, sizeof out);
      client_send (&clients[i], out, sizeof out);
    }
  for (guint i = 0; i < N; i++)
    {
      gsize got = 0;

      memset (out, 'a' + i, sizeof out);
      while (got < SIZE)
        {
          ssize_t n = client_recv (&clients[i], back + got, SIZE - got);
          g_assert_cmpint (n, >, 0);
          got += n;
        }
      g_assert_cmpmem (back, SIZE, out, SIZE);
      g_assert_cmpint (gnutls_bye (clients[i].session, GNUTLS_SHUT_WR), ==, 0);
      g_assert_true (client_read_to_end (&clients[i], NULL));
      client_close (&clients[i]);
      local_server_finish (locals[i]);
    }
  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 5000));
  g_assert_cmpuint (nfltr_tunnel_stats_get_total (f->stats), ==, N);
  g_assert_cmpuint (nfltr_tunnel_stats_get_bytes_in (f->stats), ==, N * SIZE);
  g_assert_cmpuint (nfltr_tunnel_stats_get_bytes_out (f->stats), ==, N * SIZE);
}

/* Issue 8 §4: at the tunnel's cap a new connection is refused at once — no relay connect,
 * counted, logged with its reason, and the error's message is what CONN_REFUSE carries —
 * and a connection that ends frees its slot. */
static void
test_connection_cap (Fixture *f, gconstpointer data)
{
  enum {
    CAP = 3
  };
  LocalServer *locals[CAP + 1];
  Client clients[CAP + 1];
  guint8 id[NFLTR_PROTO_CONN_ID_SIZE] = { 9 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) config = NULL;
  NfltrTunnelKind *tcp = nfltr_tunnel_kind_lookup ("tcp");
  NfltrDataConnParams params = {
    .relay_host = "nfltr.localhost",
    .relay_port = f->relay_port,
    .conn_id = id,
    .kind = tcp,
    .public_host = PUBLIC_HOST,
    .client_addr = CLIENT_IP ":50124",
  };

  nfltr_data_conn_group_set_max_connections (f->group, CAP);
  g_assert_cmpuint (nfltr_data_conn_group_get_max_connections (f->group), ==, CAP);
  for (guint i = 0; i < CAP; i++)
    {
      locals[i] = local_server_start (LOCAL_ECHO);
      client_open (f, &clients[i], "tcp", locals[i]->port);
    }

  config = nfltr_tunnel_kind_parse (tcp, "127.0.0.1:9", NULL, &error);
  g_assert_no_error (error);
  params.kind_config = config;
  g_test_expect_message ("nfltr-tunnels", G_LOG_LEVEL_MESSAGE,
                         "*" CLIENT_IP ":50124 refused: too-many-connections*");
  g_assert_false (nfltr_data_conn_spawn (&params, f->tls, f->stats, f->group, &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT);
  g_assert_true (g_str_has_prefix (error->message, NFLTR_DATA_CONN_REFUSE_TOO_MANY));
  g_clear_error (&error);
  /* a second refusal within the log interval is counted but not logged again (a flood
   * must not flood the log; G_DEBUG=fatal-warnings does not cover messages, so the count
   * is what shows it) */
  g_assert_false (nfltr_data_conn_spawn (&params, f->tls, f->stats, f->group, &error));
  g_clear_error (&error);
  g_assert_cmpuint (nfltr_tunnel_stats_get_refused (f->stats), ==, 2);
  g_assert_cmpuint (nfltr_tunnel_stats_get_total (f->stats), ==, CAP);
  g_assert_cmpuint (nfltr_data_conn_group_get_active (f->group), ==, CAP);
  g_assert_cmpint (accept_within (f->relay_listen_fd, 200), <, 0);

  /* one ends: its slot is free again */
  g_assert_cmpint (gnutls_bye (clients[0].session, GNUTLS_SHUT_WR), ==, 0);
  g_assert_true (client_read_to_end (&clients[0], NULL));
  client_close (&clients[0]);
  local_server_finish (locals[0]);
  for (guint i = 0; i < 500 && nfltr_data_conn_group_get_active (f->group) == CAP; i++)
    g_usleep (10000); /* polling: the group count changes on a loop thread, no signal here */
  locals[CAP] = local_server_start (LOCAL_ECHO);
  client_open (f, &clients[CAP], "tcp", locals[CAP]->port);
  for (guint i = 1; i <= CAP; i++)
    {
      client_close (&clients[i]);
      local_server_finish (locals[i]);
    }
}

/* Issue 8 §4: a connection that moves no byte for the idle timeout is closed by the agent;
 * one that keeps talking is not. */
static void
test_idle_timeout (Fixture *f, gconstpointer data)
{
  LocalServer *local = local_server_start (LOCAL_ECHO);
  guint8 buf[16];
  gint64 start;
  Client c;

  nfltr_data_conn_group_set_idle_timeout (f->group, 1);
  client_open (f, &c, "tcp", local->port);
  /* talking every 0.4 s for 2 s: never idle for a whole second */
  for (guint i = 0; i < 5; i++)
    {
      client_send (&c, "ping!", 5);
      g_assert_cmpint (client_recv (&c, buf, 5), ==, 5);
      g_usleep (400 * 1000);  /* the client's think time: the point of the test */
    }
  g_assert_cmpuint (nfltr_data_conn_group_get_idle_closed (f->group), ==, 0);

  /* then silent: closed about a second later, and the client sees its stream end */
  start = g_get_monotonic_time ();
  g_assert_cmpint (client_recv (&c, buf, sizeof buf), <=, 0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 2000));
  g_assert_cmpuint (nfltr_data_conn_group_get_idle_closed (f->group), ==, 1);
  client_close (&c);
  local_server_finish (local);  /* the local side was closed too */
}

/* A warm-pool slot (docs/protocol.md §5.1): attached at once, not a visitor (not in the
 * stats) until the relay's take header names one; then the visitor's connection, with the
 * header's address as the client's (X-Forwarded-For). A slot the relay closes just ends. */
static void
test_pool_slot (Fixture *f, gconstpointer data)
{
  LocalServer *local = local_server_start (LOCAL_HTTP);
  static const char request[] = "GET /hello HTTP/1.1\r\nHost: t1.nfltr.localhost\r\n\r\n";
  guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE] = { 7 }, idle_id[NFLTR_PROTO_CONN_ID_SIZE] = { 8 };
  guint8 take[NFLTR_PROTO_TAKE_MAX_SIZE];
  g_autoptr(GByteArray) got = g_byte_array_new ();
  Client c = { -1 }, idle = { -1 };
  gsize len;

  spawn_as (f, "http", conn_id, local->port, NFLTR_DATA_CONN_POOL_SLOT);
  relay_accept (f, &c, conn_id);
  spawn_as (f, "http", idle_id, local->port, NFLTR_DATA_CONN_POOL_SLOT);
  relay_accept (f, &idle, idle_id);
  g_usleep (100 * 1000);
  g_assert_cmpuint (nfltr_tunnel_stats_get_total (f->stats), ==, 0);
  g_assert_cmpuint (nfltr_tunnel_stats_get_active (f->stats), ==, 0);
  g_assert_cmpuint (nfltr_data_conn_group_get_active (f->group), ==, 2);

  /* The relay lets one slot go before anyone takes it. */
  close (idle.fd);

  len = nfltr_proto_take_encode ("203.0.113.9:4242", take);
  write_all (c.fd, take, len);
  client_handshake (f, &c, "http");
  g_assert_cmpuint (nfltr_tunnel_stats_get_total (f->stats), ==, 1);
  client_send (&c, request, sizeof request - 1);
  {
    guint8 buf[4096];
    ssize_t n;

    while (got->len < 4 || strstr ((char *) got->data, "hello") == NULL)
      {
        n = client_recv (&c, buf, sizeof buf - 1);
        g_assert_cmpint (n, >, 0);
        g_byte_array_append (got, buf, n);
        g_byte_array_append (got, (guint8 *) "", 1);
        g_byte_array_set_size (got, got->len - 1);
      }
  }
  g_assert_true (g_str_has_prefix ((char *) got->data, "HTTP/1.1 200 OK\r\n"));
  client_close (&c);
  g_thread_join (g_steal_pointer (&local->thread));
  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, 5000));
  g_assert_nonnull (strstr (local->http_head->str, "\r\nX-Forwarded-For: 203.0.113.9\r\n"));
  g_assert_cmpuint (nfltr_tunnel_stats_get_total (f->stats), ==, 1);
  local_server_finish (local);
}

static guint
data_path_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "nfltr-data"))
        n++;
    }
  return n;
}

/* Issue 8 §4: no thread per connection. 64 connections open at once run on at most one
 * event-loop thread per core (8 at most) and 4 helper threads. */
static void
test_threads_bounded (Fixture *f, gconstpointer data)
{
  enum {
    N = 64
  };
  LocalServer *locals[N];
  Client clients[N];
  guint8 buf[5];
  guint bound = CLAMP (g_get_num_processors (), 1, 8) + 4;

  for (guint i = 0; i < N; i++)
    {
      locals[i] = local_server_start (LOCAL_ECHO);
      client_open (f, &clients[i], "tcp", locals[i]->port);
    }
  for (guint i = 0; i < N; i++)
    {
      client_send (&clients[i], "ping!", 5);
      g_assert_cmpint (client_recv (&clients[i], buf, 5), ==, 5);
    }
  g_assert_cmpuint (nfltr_tunnel_stats_get_active (f->stats), ==, N);
  g_assert_cmpuint (nfltr_data_conn_get_live (), ==, N);
  g_assert_cmpuint (data_path_threads (), <=, bound);
  g_assert_cmpuint (nfltr_data_conn_get_loops (), <=, bound - 4);
  for (guint i = 0; i < N; i++)
    {
      client_close (&clients[i]);
      local_server_finish (locals[i]);
    }
}

/* A peer that attaches but never says ClientHello is dropped at the handshake deadline. */
static void
test_handshake_timeout (Fixture *f, gconstpointer data)
{
  guint8 id[NFLTR_PROTO_CONN_ID_SIZE] = { 7 };
  guint8 preamble[NFLTR_PROTO_ATTACH_SIZE];
  guint8 byte;
  gint64 start, elapsed;
  int fd;

  spawn (f, "tcp", id, 9);
  fd = accept_within (f->relay_listen_fd, IO_TIMEOUT_MS);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (read_exact (fd, preamble, sizeof preamble));
  start = g_get_monotonic_time ();
  g_assert_true (nfltr_data_conn_group_wait_idle (f->group, NFLTR_DATA_CONN_HANDSHAKE_TIMEOUT_MS + 3000));
  elapsed = (g_get_monotonic_time () - start) / 1000;
  g_assert_cmpint (elapsed, >=, NFLTR_DATA_CONN_HANDSHAKE_TIMEOUT_MS - 500);
  /* and its socket is closed: the relay reads EOF */
  g_assert_cmpint (recv (fd, &byte, 1, 0), ==, 0);
  close (fd);
}

static void
test_tls_bad_pair (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *other_cert = NULL, *other_key = NULL;
  const char *names[] = { "other.nfltr.localhost", NULL };
  NfltrTunnelTls *tls;

  g_assert_true (nfltr_cert_generate (names, 1, &other_cert, &other_key, &error));
  tls = nfltr_tunnel_tls_new (cert_pem, other_key, &error);
  g_assert_null (tls);
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE);
  g_clear_error (&error);
  tls = nfltr_tunnel_tls_new ("not a certificate", key_pem, &error);
  g_assert_null (tls);
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE);
}

int
main (int argc, char *argv[])
{
  const char *names[] = { PUBLIC_HOST, NULL };
  g_autoptr(GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  if (!nfltr_cert_generate (names, 1, &cert_pem, &key_pem, &error) ||
      !nfltr_fingerprint_of_pem (cert_pem, strlen (cert_pem), cert_fp, &error))
    g_error ("test certificate: %s", error->message);
  /* The global-default main context (its eventfd) exists in the service from the start; here
   * the first loop thread would create it inside the first test's descriptor count. */
  g_main_context_default ();

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/data-conn/tcp-echo", test_tcp_echo);
  /* TLS 1.2 has no half-close of its own: close_notify then more data from the client */
  g_test_add ("/data-conn/tcp-echo-tls12", Fixture, "NORMAL:-VERS-ALL:+VERS-TLS1.2",
              fixture_setup, test_tcp_echo, fixture_teardown);
  ADD ("/data-conn/tcp-download", test_tcp_download);
  ADD ("/data-conn/tcp-turns-few-wakeups", test_tcp_turns_few_wakeups);
  ADD ("/data-conn/http-forwarded-headers", test_http_forwarded_headers);
  ADD ("/data-conn/http-misdirected", test_http_misdirected);
  ADD ("/data-conn/http-pipelined-refusal", test_http_pipelined_refusal);
  ADD ("/data-conn/http-local-down", test_http_local_down);
  ADD ("/data-conn/group-cancel", test_group_cancel);
  ADD ("/data-conn/many-connections", test_many_connections);
  ADD ("/data-conn/connection-cap", test_connection_cap);
  ADD ("/data-conn/idle-timeout", test_idle_timeout);
  ADD ("/data-conn/threads-bounded", test_threads_bounded);
  ADD ("/data-conn/handshake-timeout", test_handshake_timeout);
  ADD ("/data-conn/pool-slot", test_pool_slot);
#undef ADD
  g_test_add_func ("/data-conn/tls-bad-pair", test_tls_bad_pair);
  return g_test_run ();
}
