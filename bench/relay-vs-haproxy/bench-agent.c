/* bench-agent.c — a minimal NFLTR agent for the relay-vs-haproxy benchmark.
 *
 * It speaks the real agent–relay protocol (docs/protocol.md): TLS to the relay's own name,
 * WebSocket /agent/v1/control with subprotocol nfltr.v1, HELLO with an API key, BIND of one
 * name in verified mode with the backend certificate's fingerprint. On every CONN_OPEN it
 * opens a data connection (§5 preamble) and splices it to a local TLS backend without
 * decrypting, so the public TLS session ends at the same backend as haproxy's passthrough.
 *
 * The control channel runs on the GLib main loop (libsoup's WebSocket); the data path runs
 * in one epoll thread with splice(2) through pipes taken from a pool only while bytes are in
 * flight, so an idle connection costs the agent two sockets and a small struct — the agent
 * must not be what the benchmark measures.
 *
 *   bench-agent --relay 127.0.0.1:PORT --relay-name nfltr.localhost --key KEY
 *               --name bench --backend 127.0.0.1:PORT --backend-cert cert.pem
 */
#define G_LOG_DOMAIN "nfltr-bench-agent"

#include "nfltr-cert.h"
#include "nfltr-proto.h"

#include <errno.h>
#include <fcntl.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- data path (epoll thread) */

#define PIPE_POOL_MAX 256
#define SPLICE_CHUNK  (1 << 20)

typedef struct {
  int    fd;
  int    pipe_rd, pipe_wr;  /* bytes read from fd on their way to the other side; -1 if none */
  size_t in_pipe;
  bool   connected;
  bool   eof;               /* read EOF from fd */
  bool   shut;              /* other side's write half shut after draining */
} Side;

typedef struct {
  Side    s[2];             /* 0: data connection to the relay, 1: backend */
  guint8  preamble[NFLTR_PROTO_ATTACH_SIZE];
  bool    pooled;           /* a warm-pool slot (§5.1): the backend is dialled once taken */
  guint8  take[NFLTR_PROTO_TAKE_MAX_SIZE];
  size_t  take_len;
  bool    splicing;
  bool    dead;             /* closed; freed after the current epoll batch */
  void   *next_dead;
} Conn;

static int epfd = -1;
static int queue_rd = -1, queue_wr = -1;   /* conn-ids (+ a pool flag) from the control channel */
#define QUEUE_ITEM (NFLTR_PROTO_CONN_ID_SIZE + 1)
static struct sockaddr_in relay_addr, backend_addr;
static int pool[PIPE_POOL_MAX][2];
static int pool_len;
static int pipe_size;                       /* F_SETPIPE_SZ for new pipes, 0 = default */
static long n_open, n_live, n_failed, n_pool_taken;

static bool
pipe_get (Side *side)
{
  int p[2];

  if (pool_len > 0)
    {
      pool_len--;
      p[0] = pool[pool_len][0];
      p[1] = pool[pool_len][1];
    }
  else
    {
      if (pipe2 (p, O_NONBLOCK | O_CLOEXEC) < 0)
        return false;
      if (pipe_size > 0)
        fcntl (p[1], F_SETPIPE_SZ, pipe_size);
    }
  side->pipe_rd = p[0];
  side->pipe_wr = p[1];
  return true;
}

static void
pipe_put (Side *side)
{
  if (side->pipe_rd < 0)
    return;
  /* Only empty pipes go back to the pool. */
  if (side->in_pipe == 0 && pool_len < PIPE_POOL_MAX)
    {
      pool[pool_len][0] = side->pipe_rd;
      pool[pool_len][1] = side->pipe_wr;
      pool_len++;
    }
  else
    {
      close (side->pipe_rd);
      close (side->pipe_wr);
    }
  side->pipe_rd = side->pipe_wr = -1;
  side->in_pipe = 0;
}

static Conn *graveyard;

/* Closes both sockets now; the struct is freed after the epoll batch, because the batch may
 * still hold an event for the other socket of the same connection. */
static void
conn_free (Conn *c)
{
  if (c->dead)
    return;
  for (int i = 0; i < 2; i++)
    {
      pipe_put (&c->s[i]);
      if (c->s[i].fd >= 0)
        close (c->s[i].fd);   /* close() also removes it from the epoll set */
      c->s[i].fd = -1;
    }
  c->dead = true;
  c->next_dead = graveyard;
  graveyard = c;
  n_live--;
}

/* Moves bytes from a to b. Returns -1 on a fatal error. */
static int
pump (Side *a, Side *b)
{
  for (;;)
    {
      if (a->in_pipe > 0)
        {
          ssize_t n = splice (a->pipe_rd, NULL, b->fd, NULL, a->in_pipe,
                              SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          if (n < 0)
            {
              if (errno == EAGAIN)
                return 0;            /* wait for EPOLLOUT on b */
              if (errno == EINTR)
                continue;
              return -1;
            }
          a->in_pipe -= n;
          continue;
        }
      if (a->eof)
        {
          if (!a->shut)
            {
              shutdown (b->fd, SHUT_WR);
              a->shut = true;
            }
          pipe_put (a);
          return 0;
        }
      if (a->pipe_rd < 0 && !pipe_get (a))
        return -1;
      ssize_t n = splice (a->fd, NULL, a->pipe_wr, NULL, SPLICE_CHUNK,
                          SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0)
        {
          if (errno == EAGAIN)
            {
              /* Drained: an idle connection holds no pipe. */
              pipe_put (a);
              return 0;
            }
          if (errno == EINTR)
            continue;
          return -1;
        }
      if (n == 0)
        a->eof = true;
      else
        a->in_pipe += n;
    }
}

static int
connect_nb (const struct sockaddr_in *addr)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;

  if (fd < 0)
    return -1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (fd, (const struct sockaddr *) addr, sizeof *addr) < 0 && errno != EINPROGRESS)
    {
      close (fd);
      return -1;
    }
  return fd;
}

static bool
side_connect (Conn *c, int i)
{
  struct epoll_event ev = {
    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
    .data.u64 = (guint64) (guintptr) c | (guint64) i,
  };

  c->s[i].fd = connect_nb (i == 0 ? &relay_addr : &backend_addr);
  if (c->s[i].fd < 0)
    return false;
  epoll_ctl (epfd, EPOLL_CTL_ADD, c->s[i].fd, &ev);
  return true;
}

static void
conn_start (const guint8 item[QUEUE_ITEM])
{
  Conn *c = g_new0 (Conn, 1);

  n_open++;
  n_live++;
  nfltr_proto_attach_encode (item, c->preamble);
  c->pooled = item[NFLTR_PROTO_CONN_ID_SIZE] != 0;
  for (int i = 0; i < 2; i++)
    {
      c->s[i].pipe_rd = c->s[i].pipe_wr = -1;
      c->s[i].fd = -1;
    }
  /* A pool slot dials the backend when a visitor takes it, as the real agent does. */
  if (!side_connect (c, 0) || (!c->pooled && !side_connect (c, 1)))
    {
      g_printerr ("bench-agent: connect: %s\n", g_strerror (errno));
      n_failed++;
      conn_free (c);
      return;
    }
}

/* §5.1: reads the take header, exactly, from a pooled slot; then dials the backend.
 * Returns false when the slot is gone. */
static bool
pool_take (Conn *c)
{
  for (;;)
    {
      g_autofree char *client = NULL;
      size_t want = c->take_len < NFLTR_PROTO_TAKE_HEADER_SIZE
                      ? NFLTR_PROTO_TAKE_HEADER_SIZE - c->take_len
                      : NFLTR_PROTO_TAKE_HEADER_SIZE + c->take[7] - c->take_len;
      ssize_t n = recv (c->s[0].fd, c->take + c->take_len, want, 0);
      gssize done;

      if (n < 0 && errno == EAGAIN)
        return true;
      if (n <= 0)
        return false;
      c->take_len += n;
      done = nfltr_proto_take_decode (c->take, c->take_len, &client, NULL);
      if (done < 0)
        return false;
      if (done == 0)
        continue;
      c->pooled = false;
      n_pool_taken++;
      return side_connect (c, 1);
    }
}

static void
conn_event (Conn *c, int i, guint32 events)
{
  Side *side = &c->s[i];

  if (!side->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
    {
      int err = 0;
      socklen_t len = sizeof err;

      getsockopt (side->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0)
        {
          g_printerr ("bench-agent: connect to %s: %s\n", i == 0 ? "relay" : "backend",
                      g_strerror (err));
          n_failed++;
          conn_free (c);
          return;
        }
      side->connected = true;
      /* §5: the preamble is all the agent says; the relay then sends the ClientHello. */
      if (i == 0 && write (side->fd, c->preamble, sizeof c->preamble) != sizeof c->preamble)
        {
          n_failed++;
          conn_free (c);
          return;
        }
    }
  if (c->pooled && i == 0 && c->s[0].connected && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
    {
      if (!pool_take (c))
        {
          conn_free (c);
          return;
        }
    }
  if (!c->s[0].connected || c->s[1].fd < 0 || !c->s[1].connected)
    return;
  c->splicing = true;
  if (pump (&c->s[0], &c->s[1]) < 0 || pump (&c->s[1], &c->s[0]) < 0)
    {
      conn_free (c);
      return;
    }
  if (c->s[0].shut && c->s[1].shut)
    conn_free (c);
}

static gpointer
data_thread (gpointer user_data)
{
  struct epoll_event evs[256];

  for (;;)
    {
      int n = epoll_wait (epfd, evs, G_N_ELEMENTS (evs), -1);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("epoll_wait: %s", g_strerror (errno));
        }
      for (int k = 0; k < n; k++)
        {
          if (evs[k].data.u64 == 0)
            {
              guint8 item[QUEUE_ITEM];
              while (read (queue_rd, item, sizeof item) == sizeof item)
                conn_start (item);
              continue;
            }
          Conn *c = (Conn *) (guintptr) (evs[k].data.u64 & ~(guint64) 1);
          int i = (int) (evs[k].data.u64 & 1);
          if (!c->dead)
            conn_event (c, i, evs[k].events);
        }
      while (graveyard != NULL)
        {
          Conn *c = graveyard;
          graveyard = c->next_dead;
          g_free (c);
        }
    }
  return NULL;
}

/* ---------------------------------------------------------------- control channel (GLib) */

typedef struct {
  GMainLoop               *loop;
  SoupWebsocketConnection *ws;
  char                    *key;
  char                    *name;
  guint8                   fingerprint[NFLTR_PROTO_FINGERPRINT_SIZE];
  char                    *agent_id;
  guint64                  ping_seq;
  guint16                  pool_max;
  bool                     bound;
} Agent;

static void
send_frame (Agent *a, NfltrFrame *frame)
{
  g_autoptr (GBytes) bytes = nfltr_frame_encode (frame);
  soup_websocket_connection_send_message (a->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
  Agent *a = user_data;
  g_autoptr (GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);
  g_autoptr (NfltrFrame) frame = NULL;

  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    g_error ("text message on the control channel");
  frame = nfltr_frame_decode (data, len, &error);
  if (frame == NULL)
    g_error ("bad frame from relay: %s", error->message);

  switch (nfltr_frame_get_type (frame))
    {
    case NFLTR_FRAME_WELCOME:
      {
        g_autoptr (NfltrFrame) bind = nfltr_frame_new (NFLTR_FRAME_BIND);
        g_print ("welcome domain=%s session=%s\n",
                 nfltr_frame_get_string (frame, NFLTR_ATTR_DOMAIN),
                 nfltr_frame_get_string (frame, NFLTR_ATTR_SESSION_ID));
        nfltr_frame_set_u32 (bind, NFLTR_ATTR_REQUEST_ID, 1);
        nfltr_frame_set_string (bind, NFLTR_ATTR_NAME, a->name);
        nfltr_frame_set_u8 (bind, NFLTR_ATTR_MODE, NFLTR_MODE_VERIFIED);
        nfltr_frame_set_bytes (bind, NFLTR_ATTR_FINGERPRINT, a->fingerprint, sizeof a->fingerprint);
        nfltr_frame_set_string (bind, NFLTR_ATTR_KIND, "tcp");
        /* §5.1, as nfltr-service asks (0: BENCH_AGENT_POOL_MAX=0, no warm pool). */
        if (a->pool_max > 0 &&
            nfltr_proto_features_has (nfltr_frame_get_string (frame, NFLTR_ATTR_FEATURES),
                                      NFLTR_PROTO_FEATURE_WARM_POOL))
          nfltr_frame_set_u16 (bind, NFLTR_ATTR_POOL_MAX, a->pool_max);
        send_frame (a, bind);
        break;
      }
    case NFLTR_FRAME_BOUND:
      a->bound = true;
      g_print ("bound %s %s\n", nfltr_frame_get_string (frame, NFLTR_ATTR_HOST),
               nfltr_frame_get_string (frame, NFLTR_ATTR_URL));
      break;
    case NFLTR_FRAME_ERROR:
      {
        guint16 code = 0;
        nfltr_frame_get_u16 (frame, NFLTR_ATTR_CODE, &code);
        g_printerr ("bench-agent: relay error %s: %s\n", nfltr_proto_error_code_to_string (code),
                    nfltr_frame_get_string (frame, NFLTR_ATTR_MESSAGE));
        if (!a->bound)
          exit (1);
        break;
      }
    case NFLTR_FRAME_PING:
      {
        g_autoptr (NfltrFrame) pong = nfltr_frame_new_pong_for (frame);

        send_frame (a, pong);
        break;
      }
    case NFLTR_FRAME_PONG:
      break;
    case NFLTR_FRAME_CONN_OPEN:
      {
        gsize id_len = 0;
        const guint8 *id = nfltr_frame_get_bytes (frame, NFLTR_ATTR_CONN_ID, &id_len);
        guint8 item[QUEUE_ITEM], pool = 0;

        nfltr_frame_get_u8 (frame, NFLTR_ATTR_POOL, &pool);
        if (id == NULL || id_len != NFLTR_PROTO_CONN_ID_SIZE)
          break;
        memcpy (item, id, id_len);
        item[NFLTR_PROTO_CONN_ID_SIZE] = pool;
        /* ≤ PIPE_BUF, so the write is atomic; the data thread does the connects. */
        if (write (queue_wr, item, sizeof item) != (ssize_t) sizeof item)
          g_printerr ("bench-agent: queue: %s\n", g_strerror (errno));
        break;
      }
    default:
      {
        g_autoptr (NfltrFrame) err = nfltr_frame_new_error (NFLTR_PROTO_ERR_UNSUPPORTED_FRAME,
                                                            "bench agent");
        send_frame (a, err);
        break;
      }
    }
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  g_printerr ("bench-agent: control channel closed (code %u)\n",
              soup_websocket_connection_get_close_code (ws));
  exit (2);
}

static gboolean
ping_cb (gpointer user_data)
{
  Agent *a = user_data;
  g_autoptr (NfltrFrame) ping = nfltr_frame_new (NFLTR_FRAME_PING);

  nfltr_frame_set_u64 (ping, NFLTR_ATTR_SEQ, ++a->ping_seq);
  send_frame (a, ping);
  return G_SOURCE_CONTINUE;
}

static gboolean
stats_cb (gpointer user_data)
{
  g_print ("stats opened=%ld live=%ld failed=%ld pool_taken=%ld\n", n_open, n_live, n_failed,
           n_pool_taken);
  return G_SOURCE_CONTINUE;
}

static gboolean
accept_relay_cert_cb (GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors,
                      gpointer user_data)
{
  /* The benchmark does not test pinning; it prints the relay fingerprint for the log. */
  g_autoptr (GByteArray) der = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];
  g_autofree char *fp = NULL;

  g_object_get (cert, "certificate", &der, NULL);
  nfltr_fingerprint_of_der (der->data, der->len, digest);
  fp = nfltr_fingerprint_format (digest);
  g_print ("relay certificate %s\n", fp);
  return TRUE;
}

/* RFC 6455 §4.1–4.2: the opening handshake, done by hand because the relay's name
 * (*.localhost) must be sent as SNI while we connect to an address. */
static GIOStream *
control_connect (const char *host, guint16 port, const char *relay_name, GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) tcp = NULL;
  g_autoptr (GSocketConnectable) identity = NULL;
  g_autoptr (GIOStream) tls = NULL;
  guint8 nonce[16];
  g_autofree char *key = NULL, *request = NULL, *accept_src = NULL, *accept = NULL;
  GString *resp = g_string_new (NULL);
  g_autofree char *resp_str = NULL;
  GInputStream *in;

  tcp = g_socket_client_connect_to_host (client, host, port, NULL, error);
  if (tcp == NULL)
    return NULL;
  identity = g_network_address_new (relay_name, port);
  tls = g_tls_client_connection_new (G_IO_STREAM (tcp), identity, error);
  if (tls == NULL)
    return NULL;
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_relay_cert_cb), NULL);
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, error))
    return NULL;

  for (guint i = 0; i < sizeof nonce; i++)
    nonce[i] = g_random_int_range (0, 256);
  key = g_base64_encode (nonce, sizeof nonce);
  request = g_strdup_printf ("GET %s HTTP/1.1\r\n"
                             "Host: %s:%u\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\n"
                             "Sec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Protocol: %s\r\n"
                             "\r\n",
                             NFLTR_PROTO_CONTROL_PATH, relay_name, port, key,
                             NFLTR_PROTO_WS_SUBPROTOCOL);
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (tls), request, strlen (request),
                                  NULL, NULL, error))
    return NULL;

  /* Byte by byte: nothing after the headers may be consumed here. */
  in = g_io_stream_get_input_stream (tls);
  while (!g_str_has_suffix (resp->str, "\r\n\r\n"))
    {
      char ch;
      gssize n = g_input_stream_read (in, &ch, 1, NULL, error);
      if (n <= 0 || resp->len > 16384)
        {
          if (n == 0)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                         "relay closed during the WebSocket handshake");
          g_string_free (resp, TRUE);
          return NULL;
        }
      g_string_append_c (resp, ch);
    }
  resp_str = g_string_free (resp, FALSE);
  accept_src = g_strconcat (key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", NULL);
  {
    guint8 sha1[20];
    gsize sha1_len = sizeof sha1;
    GChecksum *ck = g_checksum_new (G_CHECKSUM_SHA1);
    g_checksum_update (ck, (const guchar *) accept_src, strlen (accept_src));
    g_checksum_get_digest (ck, sha1, &sha1_len);
    g_checksum_free (ck);
    accept = g_base64_encode (sha1, sha1_len);
  }
  if (!g_str_has_prefix (resp_str, "HTTP/1.1 101")
      || strstr (resp_str, accept) == NULL
      || strstr (resp_str, NFLTR_PROTO_WS_SUBPROTOCOL) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "WebSocket upgrade refused:\n%s", resp_str);
      return NULL;
    }
  return g_steal_pointer (&tls);
}

static bool
parse_addr (const char *text, struct sockaddr_in *out, char **host, guint16 *port)
{
  const char *colon = strrchr (text, ':');

  if (colon == NULL)
    return false;
  *host = g_strndup (text, colon - text);
  *port = (guint16) atoi (colon + 1);
  memset (out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_port = htons (*port);
  return inet_pton (AF_INET, *host, &out->sin_addr) == 1;
}

int
main (int argc, char **argv)
{
  g_autofree char *relay = NULL, *relay_name = NULL, *backend = NULL, *backend_cert = NULL;
  g_autofree char *key = NULL, *name = NULL;
  g_autofree char *relay_host = NULL, *backend_host = NULL;
  guint16 relay_port = 0, backend_port = 0;
  int psize = 0;
  GOptionEntry entries[] = {
    { "relay", 0, 0, G_OPTION_ARG_STRING, &relay, "relay address", "IP:PORT" },
    { "relay-name", 0, 0, G_OPTION_ARG_STRING, &relay_name, "relay's own name (SNI)", "NAME" },
    { "key", 0, 0, G_OPTION_ARG_STRING, &key, "API key", "KEY" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "tunnel name", "LABEL" },
    { "backend", 0, 0, G_OPTION_ARG_STRING, &backend, "TLS backend address", "IP:PORT" },
    { "backend-cert", 0, 0, G_OPTION_ARG_FILENAME, &backend_cert, "backend certificate (PEM)", "FILE" },
    { "pipe-size", 0, 0, G_OPTION_ARG_INT, &psize, "splice pipe size in bytes (0: kernel default)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- NFLTR benchmark agent");
  g_autoptr (GError) error = NULL;
  g_autofree char *pem = NULL;
  gsize pem_len;
  g_autoptr (GIOStream) tls = NULL;
  g_autoptr (GUri) uri = NULL;
  Agent a = { 0 };
  int q[2];
  struct rlimit rl;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    g_error ("%s", error->message);
  if (!relay || !key || !backend || !backend_cert)
    g_error ("--relay, --key, --backend and --backend-cert are required");
  if (!relay_name)
    relay_name = g_strdup ("nfltr.localhost");
  if (!name)
    name = g_strdup ("bench");
  if (!parse_addr (relay, &relay_addr, &relay_host, &relay_port)
      || !parse_addr (backend, &backend_addr, &backend_host, &backend_port))
    g_error ("addresses are IPv4 IP:PORT");
  pipe_size = psize;

  /* 10,000 spliced connections need 20,000 descriptors here. */
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
  signal (SIGPIPE, SIG_IGN);

  if (!g_file_get_contents (backend_cert, &pem, &pem_len, &error)
      || !nfltr_fingerprint_of_pem (pem, pem_len, a.fingerprint, &error))
    g_error ("backend certificate: %s", error->message);

  epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (pipe2 (q, O_NONBLOCK | O_CLOEXEC) < 0)
    g_error ("pipe: %s", g_strerror (errno));
  queue_rd = q[0];
  queue_wr = q[1];
  fcntl (queue_wr, F_SETFL, 0);   /* the writer blocks rather than drop a conn-id */
  {
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
    epoll_ctl (epfd, EPOLL_CTL_ADD, queue_rd, &ev);
  }
  g_thread_new ("data", data_thread, NULL);

  tls = control_connect (relay_host, relay_port, relay_name, &error);
  if (tls == NULL)
    g_error ("control channel: %s", error->message);

  a.loop = g_main_loop_new (NULL, FALSE);
  a.key = key;
  a.name = name;
  a.pool_max = g_getenv ("BENCH_AGENT_POOL_MAX") ? atoi (g_getenv ("BENCH_AGENT_POOL_MAX")) : 8;
  {
    guint8 raw[16];
    for (guint i = 0; i < sizeof raw; i++)
      raw[i] = g_random_int_range (0, 256);
    a.agent_id = g_malloc (33);
    for (guint i = 0; i < sizeof raw; i++)
      g_snprintf (a.agent_id + 2 * i, 3, "%02x", raw[i]);
  }
  uri = g_uri_build (G_URI_FLAGS_NONE, "wss", NULL, relay_name, relay_port,
                     NFLTR_PROTO_CONTROL_PATH, NULL, NULL);
  a.ws = soup_websocket_connection_new (tls, uri, SOUP_WEBSOCKET_CONNECTION_CLIENT, NULL,
                                        NFLTR_PROTO_WS_SUBPROTOCOL, NULL);
  soup_websocket_connection_set_max_incoming_payload_size (a.ws, NFLTR_PROTO_MAX_PAYLOAD + 64);
  g_signal_connect (a.ws, "message", G_CALLBACK (on_message), &a);
  g_signal_connect (a.ws, "closed", G_CALLBACK (on_closed), &a);

  {
    g_autoptr (NfltrFrame) hello = nfltr_frame_new (NFLTR_FRAME_HELLO);
    nfltr_frame_set_u16 (hello, NFLTR_ATTR_PROTO_VERSION, NFLTR_PROTO_VERSION);
    nfltr_frame_set_string (hello, NFLTR_ATTR_API_KEY, a.key);
    nfltr_frame_set_string (hello, NFLTR_ATTR_AGENT_ID, a.agent_id);
    nfltr_frame_set_string (hello, NFLTR_ATTR_AGENT_VERSION, "bench-agent");
    nfltr_frame_set_string (hello, NFLTR_ATTR_FEATURES, NFLTR_PROTO_FEATURE_WARM_POOL);
    send_frame (&a, hello);
  }
  g_timeout_add_seconds (20, ping_cb, &a);   /* §3 keep-alive */
  if (g_getenv ("BENCH_AGENT_STATS"))
    g_timeout_add_seconds (5, stats_cb, &a);
  g_main_loop_run (a.loop);
  return 0;
}
