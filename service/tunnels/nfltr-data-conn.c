/* nfltr-data-conn.c — one data connection (docs/protocol.md §5): the attach to the relay,
 * the TLS handshake, reaching the backend through the tunnel's kind, the copy, and the
 * error answers, as stages of one state machine on an event-loop thread.
 *
 * Every stage is non-blocking and waits through the connection's one GSource on its loop
 * (nfltr-data-conn-loops.c): its tags are the sockets the stage waits on and the group's
 * cancel eventfd, its ready time the stage's deadline. A slow client or local server only
 * ever delays its own connection. The two steps that can only block (connecting to the
 * relay, which may resolve a name, and the kind's connect() hook) run on a helper thread
 * and hand the connection back to its loop; while they run, the loop does not touch it. */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-data-conn-private.h"

#include "nfltr-error.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  GSource source;
  DataConn *conn;
} ConnSource;

static gint live_conns; /* atomic: DataConn objects alive, for nfltr_data_conn_get_live() */

static void step (DataConn *c);

static void
data_conn_free (DataConn *c)
{
  _nfltr_data_conn_pump_free (c);
  if (c->session != NULL)
    gnutls_deinit (c->session);
  if (c->relay_fd >= 0)
    close (c->relay_fd);
  if (c->local_fd >= 0)
    close (c->local_fd);
  if (c->counted)
    _nfltr_tunnel_stats_conn_ended (c->stats);
  _nfltr_data_conn_group_leave (c->group);
  nfltr_tunnel_tls_unref (c->tls);
  nfltr_tunnel_stats_unref (c->stats);
  nfltr_data_conn_group_unref (c->group);
  g_clear_pointer (&c->allow, nfltr_cidr_list_unref);
  g_clear_pointer (&c->deny, nfltr_cidr_list_unref);
  g_object_unref (c->kind);
  g_variant_unref (c->kind_config);
  g_free (c->relay_host);
  g_free (c->public_host);
  g_free (c->client_addr);
  g_free (c->target);
  g_free (c->sni);
  g_free (c->alpn);
  g_clear_error (&c->connect_error);
  g_clear_pointer (&c->answer, g_bytes_unref);
  _nfltr_data_conn_buffer_free (c->cipher, CIPHER_BUFFER_SIZE);
  _nfltr_data_conn_buffer_free (c->pull, PULL_BUFFER_SIZE);
  if (c->loop != NULL)
    _nfltr_data_conn_loop_leave (c->loop);
  g_free (c);
  g_atomic_int_add (&live_conns, -1);
}

/* The end of every connection, on its loop's thread (or before it ever reached one). */
static void
conn_end (DataConn *c)
{
  if (c->source != NULL)
    {
      g_source_destroy (c->source);
      g_clear_pointer (&c->source, g_source_unref);
    }
  data_conn_free (c);
}

static gboolean
conn_source_dispatch (GSource                  *source,
                      G_GNUC_UNUSED GSourceFunc callback,
                      G_GNUC_UNUSED gpointer    user_data)
{
  DataConn *c = ((ConnSource *) source)->conn;

  /* What poll() reported: a drained socket is read again only once it has more. */
  if (c->relay_tag != NULL &&
      (g_source_query_unix_fd (source, c->relay_tag) & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    c->relay_readable = TRUE;
  if (c->local_tag != NULL &&
      (g_source_query_unix_fd (source, c->local_tag) & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    c->local_readable = TRUE;
  step (c);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs conn_source_funcs = {
  .dispatch = conn_source_dispatch,
};

static GIOCondition
poll_to_condition (short events)
{
  return ((events & POLLIN) ? G_IO_IN : 0) | ((events & POLLOUT) ? G_IO_OUT : 0);
}

/* A socket is a tag of the source only while waited on: poll() reports POLLHUP and POLLERR
 * even for no events, and a socket we are not waiting on must not wake us in a loop.
 * Changed only when the events change: every g_source_add/modify/remove_unix_fd() writes
 * the context's wake-up eventfd (12 such writes per request through the tunnel before). */
static void
set_tag (DataConn *c, gpointer *tag, short *current, int fd, short events)
{
  if (events == 0)
    {
      if (*tag != NULL)
        g_source_remove_unix_fd (c->source, *tag);
      *tag = NULL;
    }
  else if (*tag == NULL)
    *tag = g_source_add_unix_fd (c->source, fd, poll_to_condition (events));
  else if (*current != events)
    g_source_modify_unix_fd (c->source, *tag, poll_to_condition (events));
  *current = events;
}

/* Waits for events on the relay and the local socket, the group's cancel, or the deadline
 * (monotonic µs; 0: step again at once; -1: none); then step() runs again. */
static void
conn_wait (DataConn *c, short relay_ev, short local_ev, gint64 deadline)
{
  set_tag (c, &c->relay_tag, &c->relay_tag_ev, c->relay_fd, relay_ev);
  set_tag (c, &c->local_tag, &c->local_tag_ev, c->local_fd, local_ev);
  set_tag (c, &c->cancel_tag, &c->cancel_tag_ev, c->cancel_fd, POLLIN);
  g_source_set_ready_time (c->source, deadline);
}

/* As conn_wait(), for the copy: a ready time already set earlier than the deadline is kept.
 * The idle and page-release deadlines move with every byte, and each new ready time is
 * another eventfd write; waking early costs one step that finds nothing due. */
static void
conn_wait_lazy (DataConn *c, short relay_ev, short local_ev, gint64 deadline)
{
  gint64 armed = g_source_get_ready_time (c->source);

  if (deadline != 0 && armed > 0 && armed > g_get_monotonic_time () &&
      (deadline < 0 || armed <= deadline))
    deadline = armed;
  conn_wait (c, relay_ev, local_ev, deadline);
}

/* Before a helper thread takes the connection: nothing of ours may wake the loop for it. */
static void
conn_park (DataConn *c)
{
  conn_wait (c, 0, 0, -1);
  set_tag (c, &c->cancel_tag, &c->cancel_tag_ev, c->cancel_fd, 0);
}

typedef enum {
  TLS_RETRY,    /* call gnutls again at once */
  TLS_WAITING,  /* conn_wait() was called */
  TLS_FAILED,   /* sending to the relay failed */
} TlsAgain;

/* After GNUTLS_E_AGAIN: sends what is queued and waits for what gnutls needs. */
static TlsAgain
tls_again (DataConn *c)
{
  short events = _nfltr_data_conn_tls_wait_events (c);

  if (!_nfltr_data_conn_cipher_flush (c, NULL))
    return TLS_FAILED;
  if (events == POLLOUT && !_nfltr_data_conn_cipher_pending (c))
    return TLS_RETRY;  /* the queue has room again */
  /* AGAIN also follows a post-handshake message while decrypted data sits in gnutls, which
   * poll() would never report. */
  if (events == POLLIN &&
      (gnutls_record_check_pending (c->session) > 0 || _nfltr_data_conn_pull_retry (c)))
    return TLS_RETRY;
  if (_nfltr_data_conn_cipher_pending (c))
    events |= POLLOUT;
  conn_wait (c, events, 0, c->deadline);
  return TLS_WAITING;
}

/* ---- the answer to the client: the kind's when the backend is down, the filter's after a
 * refused request ---- */

/* Sends c->answer, closes our side cleanly and reads the client's remaining bytes for a
 * moment, so that the close does not turn into a reset that could destroy the answer before
 * the client has read it. */

/* After a GnuTLS call that did not complete: TRUE to call it again now, FALSE to return (the
 * connection waits for its socket, or has ended). */
static gboolean
tls_should_retry (DataConn *c, int ret)
{
  if (ret == GNUTLS_E_INTERRUPTED)
    return TRUE;
  if (ret == GNUTLS_E_AGAIN)
    switch (tls_again (c))
      {
        case TLS_RETRY: return TRUE;
        case TLS_WAITING: return FALSE;
        case TLS_FAILED:
        default: break;
      }
  conn_end (c);
  return FALSE;
}

static void
stage_answer (DataConn *c)
{
  guint8 sink[4096];
  int ret;

  for (;;)
    {
      switch (c->answer_step)
        {
          case ANSWER_SEND:
            {
              gsize len;
              const guint8 *data = g_bytes_get_data (c->answer, &len);

              if (c->answer_off == len)
                {
                  c->answer_step = ANSWER_BYE;
                  break;
                }
              ret = gnutls_record_send (c->session, data + c->answer_off, len - c->answer_off);
              if (ret > 0)
                {
                  c->answer_off += ret;
                  _nfltr_tunnel_stats_add_out (c->stats, ret);
                  continue;
                }
              if (tls_should_retry (c, ret))
                continue;
              return;
            }
          case ANSWER_BYE:
            ret = gnutls_bye (c->session, GNUTLS_SHUT_WR);
            if (ret == GNUTLS_E_SUCCESS)
              {
                c->answer_step = ANSWER_FLUSH;
                break;
              }
            if (tls_should_retry (c, ret))
              continue;
            return;
          case ANSWER_FLUSH:
            if (!_nfltr_data_conn_cipher_flush (c, NULL))
              {
                conn_end (c);
                return;
              }
            if (_nfltr_data_conn_cipher_pending (c))
              {
                conn_wait (c, POLLOUT, 0, c->deadline);
                return;
              }
            shutdown (c->relay_fd, SHUT_WR);
            c->answer_step = ANSWER_DRAIN;
            break;
          case ANSWER_DRAIN:
          default:
            ret = gnutls_record_recv (c->session, sink, sizeof sink);
            if (ret > 0 || ret == GNUTLS_E_INTERRUPTED)
              continue;
            if (ret == GNUTLS_E_AGAIN)
              {
                if (gnutls_record_check_pending (c->session) > 0 || _nfltr_data_conn_pull_retry (c))
                  continue;
                conn_wait (c, POLLIN, 0, c->deadline);
                return;
              }
            if (ret == 0 || gnutls_error_is_fatal (ret) != 0)
              {
                conn_end (c);
                return;
              }
            continue; /* a warning alert */
        }
    }
}

static void
start_answer (DataConn *c, GBytes *answer)
{
  _nfltr_data_conn_pump_free (c);
  c->answer = answer;
  c->answer_off = 0;
  c->answer_step = ANSWER_SEND;
  c->stage = STAGE_ANSWER;
  c->deadline = g_get_monotonic_time () + ERROR_LINGER_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  stage_answer (c);
}

/* ---- the copy ---- */

/* A connection quiet this long gives back the pages its buffers touched (up to 600 KiB after
 * a download): thousands of idle keep-alive connections must not hold what their last burst
 * needed (issue 17). Long enough that a busy connection between two requests keeps them. */
#define RELEASE_AFTER_MS 2000

static gint64
idle_deadline (DataConn *c)
{
  if (c->idle_timeout_s == 0)
    return -1;
  return g_get_monotonic_time () + (gint64) c->idle_timeout_s * G_TIME_SPAN_SECOND;
}

static void
stage_pump (DataConn *c)
{
  short relay_ev = 0, local_ev = 0;
  gboolean more, active;
  gint64 drain_deadline, wake;
  GBytes *response = NULL;

  switch (_nfltr_data_conn_pump_step (c, &relay_ev, &local_ev, &more, &active, &drain_deadline, &response))
    {
      case NFLTR_PUMP_CONTINUE: break;
      case NFLTR_PUMP_DONE:
        g_debug ("conn from %s to %s ended: done", c->client_addr, c->target);
        conn_end (c);
        return;
      case NFLTR_PUMP_REJECTED:
        g_debug ("conn from %s to %s ended: request refused", c->client_addr, c->target);
        start_answer (c, response);
        return;
      case NFLTR_PUMP_ABORTED:
      default:
        g_debug ("conn from %s to %s ended: aborted", c->client_addr, c->target);
        conn_end (c);
        return;
    }

  /* c->deadline is the idle deadline here: moved on by every byte either way. */
  if (active)
    {
      c->deadline = idle_deadline (c);
      c->release_at = g_get_monotonic_time () + RELEASE_AFTER_MS * G_TIME_SPAN_MILLISECOND;
    }
  else if (c->release_at >= 0 && g_get_monotonic_time () >= c->release_at)
    {
      _nfltr_data_conn_pump_release (c);
      c->release_at = -1;
    }
  if (!active && c->deadline >= 0 && g_get_monotonic_time () >= c->deadline)
    {
      g_debug ("conn from %s to %s ended: idle for %u s", c->client_addr, c->target,
               c->idle_timeout_s);
      _nfltr_data_conn_group_count_idle_close (c->group);
      conn_end (c);
      return;
    }
  wake = c->deadline;
  if (drain_deadline >= 0 && (wake < 0 || drain_deadline < wake))
    wake = drain_deadline;
  if (c->release_at >= 0 && (wake < 0 || c->release_at < wake))
    wake = c->release_at;
  conn_wait_lazy (c, relay_ev, local_ev, more ? 0 : wake);
}

/* ---- reaching the backend (helper thread, then back on the loop) ---- */

/* Issue 9 §10: --deny-cidr first, then --allow-cidr. */
static gboolean
client_allowed (DataConn *c)
{
  if (c->deny != NULL && nfltr_cidr_list_contains_text (c->deny, c->client_addr))
    return FALSE;
  return c->allow == NULL || nfltr_cidr_list_contains_text (c->allow, c->client_addr);
}

static gboolean
local_connected_cb (gpointer data)
{
  DataConn *c = data;
  GBytes *response;

  if (c->local_fd < 0)
    {
      gboolean cancelled = g_error_matches (c->connect_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
                           _nfltr_data_conn_group_is_cancelled (c->group);
      /* A visitor turned away by --allow-cidr/--deny-cidr says nothing about the origin. */
      gboolean refused = g_error_matches (c->connect_error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);

      g_debug ("conn from %s: local server: %s", c->client_addr, c->connect_error->message);
      if (!cancelled && !refused && !nfltr_tunnel_kind_reports_origin (c->kind, c->kind_config, &c->kind_conn))
        nfltr_tunnel_stats_origin_result (c->stats, c->connect_error);
      if (!cancelled &&
          (response = nfltr_tunnel_kind_unreachable_response (c->kind, c->kind_config,
                                                               c->connect_error)) != NULL)
        start_answer (c, response);
      else
        conn_end (c);
      return G_SOURCE_REMOVE;
    }
  if (_nfltr_data_conn_group_is_cancelled (c->group))
    {
      conn_end (c);
      return G_SOURCE_REMOVE;
    }
  if (!nfltr_tunnel_kind_reports_origin (c->kind, c->kind_config, &c->kind_conn))
    nfltr_tunnel_stats_origin_result (c->stats, NULL);
  _nfltr_data_conn_pump_start (c);
  c->stage = STAGE_PUMP;
  c->deadline = idle_deadline (c);
  /* The handshake flight touched the record queue; an idle connection gives it back. */
  c->release_at = g_get_monotonic_time () + RELEASE_AFTER_MS * G_TIME_SPAN_MILLISECOND;
  stage_pump (c);
  return G_SOURCE_REMOVE;
}

static void
local_connect_job (gpointer data, G_GNUC_UNUSED gpointer unused)
{
  DataConn *c = data;

  c->local_fd = nfltr_tunnel_kind_connect (c->kind, c->kind_config, &c->kind_conn,
                                           &c->connect_error);
  _nfltr_data_conn_loop_invoke (c->loop, local_connected_cb, c);
}

/* ---- the TLS handshake ---- */

static void
stage_handshake (DataConn *c)
{
  char name[256];
  size_t name_len = sizeof name;
  unsigned int type;
  gnutls_datum_t selected = { NULL, 0 };
  int ret;

  for (;;)
    {
      ret = gnutls_handshake (c->session);
      if (ret == GNUTLS_E_SUCCESS)
        break;
      if (ret == GNUTLS_E_AGAIN)
        {
          switch (tls_again (c))
            {
              case TLS_RETRY: continue;
              case TLS_WAITING: return;
              case TLS_FAILED:
              default: conn_end (c); return;
            }
        }
      if (gnutls_error_is_fatal (ret) != 0)
        {
          /* The alert gnutls queued, if any, for the client to see why. */
          _nfltr_data_conn_cipher_flush (c, NULL);
          g_debug ("TLS handshake with %s failed: %s", c->client_addr, gnutls_strerror (ret));
          conn_end (c);
          return;
        }
    }
  if (!_nfltr_data_conn_cipher_flush (c, NULL))
    {
      conn_end (c);
      return;
    }

  if (gnutls_server_name_get (c->session, name, &name_len, &type, 0) == 0 &&
      type == GNUTLS_NAME_DNS)
    c->sni = g_strndup (name, name_len);
  else
    c->sni = g_strdup (c->public_host);
  if (gnutls_alpn_get_selected_protocol (c->session, &selected) == 0)
    c->alpn = g_strndup ((const char *) selected.data, selected.size);

  c->kind_conn = (NfltrKindConn) {
    .client_addr = c->client_addr,
    .sni = c->sni,
    .alpn = c->alpn,
    .cancel_fd = c->cancel_fd,
    .timeout_ms = NFLTR_DATA_CONN_LOCAL_CONNECT_TIMEOUT_MS,
    .stats = c->stats,
  };
  c->stage = STAGE_LOCAL_CONNECT;
  if (!client_allowed (c))
    {
      c->connect_error = g_error_new (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                      "%s is not allowed to use this tunnel", c->client_addr);
      g_debug ("conn from %s: refused by the tunnel's access control", c->client_addr);
      c->local_fd = nfltr_tunnel_kind_refuse (c->kind, c->kind_config, &c->kind_conn, c->connect_error);
      if (c->local_fd >= 0)
        {
          /* The kind tells the client itself: pump its answer like a backend's. */
          _nfltr_data_conn_pump_start (c);
          c->stage = STAGE_PUMP;
          c->deadline = idle_deadline (c);
          stage_pump (c);
          return;
        }
      local_connected_cb (c);
      return;
    }
  conn_park (c);
  _nfltr_data_conn_blocking_run (local_connect_job, c);
}

static void
start_handshake (DataConn *c)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) alpn = nfltr_tunnel_kind_get_tunnel_alpn (c->kind, c->kind_config);

  if (!_nfltr_tunnel_tls_session_new (c->tls, c->relay_fd, (const char * const *) alpn, &c->session, &error))
    {
      g_debug ("%s", error->message);
      conn_end (c);
      return;
    }
  _nfltr_data_conn_io_init (c);
  c->stage = STAGE_HANDSHAKE;
  c->deadline = g_get_monotonic_time () +
                NFLTR_DATA_CONN_HANDSHAKE_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  stage_handshake (c);
}

/* ---- the attach: TCP to the relay (helper thread), the preamble ---- */

/* A warm-pool slot (§5.1): the relay writes the take header when a visitor takes it. Read
 * exactly the header, never past it: what follows is the visitor's ClientHello. */
static void
stage_pool_wait (DataConn *c)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *client_addr = NULL;
      gsize want = c->take_len < NFLTR_PROTO_TAKE_HEADER_SIZE
                   ? NFLTR_PROTO_TAKE_HEADER_SIZE - c->take_len
                   : NFLTR_PROTO_TAKE_HEADER_SIZE + c->take[7] - c->take_len;
      gssize done;
      ssize_t n = recv (c->relay_fd, c->take + c->take_len, want, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          conn_wait (c, POLLIN, 0, c->deadline);
          return;
        }
      if (n <= 0)
        {
          /* The relay let the slot go (idle, the tunnel unbound, the relay stopping). */
          g_debug ("warm-pool slot to %s:%u closed before a visitor took it", c->relay_host,
                   c->relay_port);
          conn_end (c);
          return;
        }
      c->take_len += n;
      done = nfltr_proto_take_decode (c->take, c->take_len, &client_addr, &error);
      if (done < 0)
        {
          g_debug ("warm-pool slot to %s:%u: %s", c->relay_host, c->relay_port, error->message);
          conn_end (c);
          return;
        }
      if (done == 0)
        continue;
      g_free (c->client_addr);
      c->client_addr = g_steal_pointer (&client_addr);
      /* From here on a visitor's connection like any other. */
      c->counted = TRUE;
      _nfltr_tunnel_stats_conn_started (c->stats);
      start_handshake (c);
      return;
    }
}

static void
stage_preamble (DataConn *c)
{
  guint8 preamble[NFLTR_PROTO_ATTACH_SIZE];

  nfltr_proto_attach_encode (c->conn_id, preamble);
  while (c->preamble_off < sizeof preamble)
    {
      ssize_t n = send (c->relay_fd, preamble + c->preamble_off,
                        sizeof preamble - c->preamble_off, MSG_NOSIGNAL);

      if (n > 0)
        c->preamble_off += n;
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && errno == EAGAIN)
        {
          conn_wait (c, POLLOUT, 0, c->deadline);
          return;
        }
      else
        {
          g_debug ("conn to %s:%u: sending the preamble failed: %s", c->relay_host,
                   c->relay_port, g_strerror (errno));
          conn_end (c);
          return;
        }
    }
  if (c->pooled)
    {
      c->stage = STAGE_POOL_WAIT;
      c->deadline = g_get_monotonic_time () + NFLTR_DATA_CONN_POOL_WAIT_S * G_TIME_SPAN_SECOND;
      stage_pool_wait (c);
      return;
    }
  start_handshake (c);
}

static gboolean
relay_connected_cb (gpointer data)
{
  DataConn *c = data;

  if (c->relay_fd < 0)
    {
      if (c->connect_error != NULL)
        g_debug ("conn from %s: relay: %s", c->client_addr, c->connect_error->message);
      conn_end (c);
      return G_SOURCE_REMOVE;
    }
  _nfltr_net_set_keepalive (c->relay_fd);
  c->source = g_source_new (&conn_source_funcs, sizeof (ConnSource));
  ((ConnSource *) c->source)->conn = c;
  g_source_set_static_name (c->source, "nfltr-data-conn");
  /* Not blocked while it dispatches (step() never iterates the context): GLib would take
   * its descriptors out of the poll set and put them back around every dispatch, each time
   * writing the wake-up eventfd and walking the context's list of descriptors. */
  g_source_set_can_recurse (c->source, TRUE);
  g_source_attach (c->source, _nfltr_data_conn_loop_get_context (c->loop));
  c->stage = STAGE_PREAMBLE;
  c->deadline = g_get_monotonic_time () +
                NFLTR_DATA_CONN_RELAY_CONNECT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  stage_preamble (c);
  return G_SOURCE_REMOVE;
}

static void
relay_connect_job (gpointer data, G_GNUC_UNUSED gpointer unused)
{
  DataConn *c = data;

  if (!_nfltr_data_conn_group_is_cancelled (c->group))
    c->relay_fd = _nfltr_net_connect (c->relay_host, c->relay_port,
                                      NFLTR_DATA_CONN_RELAY_CONNECT_TIMEOUT_MS, c->cancel_fd,
                                      &c->connect_error);
  _nfltr_data_conn_loop_invoke (c->loop, relay_connected_cb, c);
}

/* Every wake-up of the connection's source. */
static void
step (DataConn *c)
{
  if (_nfltr_data_conn_group_is_cancelled (c->group))
    {
      g_debug ("conn from %s: the tunnel stopped", c->client_addr);
      conn_end (c);
      return;
    }
  switch (c->stage)
    {
      case STAGE_PREAMBLE:
      case STAGE_POOL_WAIT:
      case STAGE_HANDSHAKE:
      case STAGE_ANSWER:
        if (g_get_monotonic_time () >= c->deadline)
          {
            g_debug ("conn from %s: %s timed out", c->client_addr,
                     c->stage == STAGE_PREAMBLE    ? "the attach"
                     : c->stage == STAGE_POOL_WAIT ? "the warm-pool slot"
                     : c->stage == STAGE_HANDSHAKE ? "the TLS handshake"
                                                   : "the answer");
            conn_end (c);
            return;
          }
        if (c->stage == STAGE_PREAMBLE)
          stage_preamble (c);
        else if (c->stage == STAGE_POOL_WAIT)
          stage_pool_wait (c);
        else if (c->stage == STAGE_HANDSHAKE)
          stage_handshake (c);
        else
          stage_answer (c);
        break;
      case STAGE_PUMP: stage_pump (c); break;
      case STAGE_RELAY_CONNECT:
      case STAGE_LOCAL_CONNECT:
      default: g_assert_not_reached (); /* parked: nothing of ours can wake it */
    }
}

gboolean
nfltr_data_conn_spawn (const NfltrDataConnParams *params, NfltrTunnelTls *tls, NfltrTunnelStats *stats,
                       NfltrDataConnGroup *group, GError **error)
{
  DataConn *c;
  NfltrDataConnLoop *loop;
  gboolean pooled;

  g_return_val_if_fail (params != NULL && params->relay_host != NULL && params->conn_id != NULL, FALSE);
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (params->kind) && params->kind_config != NULL, FALSE);
  g_return_val_if_fail (params->public_host != NULL, FALSE);
  g_return_val_if_fail (tls != NULL && stats != NULL && group != NULL, FALSE);

  pooled = params->client_addr != NULL && strcmp (params->client_addr, NFLTR_DATA_CONN_POOL_SLOT) == 0;
  /* Issue 8 §4: the cap holds whatever the clients do; the relay closes the public client
   * at once on CONN_REFUSE, so a flood costs us no socket. A warm-pool slot never takes one
   * of the last places under it: those are the visitors'. */
  if (pooled)
    {
      guint max = nfltr_data_conn_group_get_max_connections (group);

      if (!_nfltr_data_conn_group_admit_pool_slot (group, MIN (NFLTR_DATA_CONN_POOL_HEADROOM, max / 4),
                                                   error))
        return FALSE;
    }
  else if (!_nfltr_data_conn_group_admit (group, params->client_addr, error))
    {
      _nfltr_tunnel_stats_conn_refused (stats);
      return FALSE;
    }
  loop = _nfltr_data_conn_loop_enter (error);
  if (loop == NULL)
    {
      _nfltr_data_conn_group_leave (group);
      g_prefix_error (error, "%s: ", NFLTR_DATA_CONN_REFUSE_NO_THREAD);
      _nfltr_tunnel_stats_conn_refused (stats);
      return FALSE;
    }

  c = g_new0 (DataConn, 1);
  g_atomic_int_inc (&live_conns);
  c->loop = loop;
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
  c->allow = params->allow != NULL ? nfltr_cidr_list_ref (params->allow) : NULL;
  c->deny = params->deny != NULL ? nfltr_cidr_list_ref (params->deny) : NULL;
  c->cancel_fd = _nfltr_data_conn_group_cancel_fd (group);
  c->idle_timeout_s = nfltr_data_conn_group_get_idle_timeout (group);
  c->relay_fd = -1;
  c->local_fd = -1;
  c->deadline = -1;
  c->release_at = -1;
  c->stage = STAGE_RELAY_CONNECT;
  c->pooled = pooled;

  /* Counted here, not on the loop, so that a caller sees the connection at once; a warm-pool
   * slot only once a visitor takes it. */
  if (!c->pooled)
    {
      c->counted = TRUE;
      _nfltr_tunnel_stats_conn_started (stats);
    }
  _nfltr_data_conn_blocking_run (relay_connect_job, c);
  return TRUE;
}

guint
nfltr_data_conn_get_live (void)
{
  return g_atomic_int_get (&live_conns);
}
