/* nfltr-http2-proxy.c — the visitor's HTTP/2 session, the requests' checks and the HTTP/2
 * origin (see nfltr-http2-proxy.h); streams and byte queues are in nfltr-http2-stream.c */
#define G_LOG_DOMAIN "nfltr-http"

#include "nfltr-http-auth.h"
#include "nfltr-http2-private.h"
#include "nfltr-inspect-registry.h" /* inspector (issue 9 §8) */

#include <gio/gio.h>

#include "nfltr-data-conn.h"
#include "nfltr-http-rewrite.h"
#include "nfltr-origin-tls.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the visitor's session ------------------------------------------------------------ */

static Http2Stream *
visitor_stream (NfltrHttp2Proxy *self, int32_t stream_id)
{
  return nghttp2_session_get_stream_user_data (self->server, stream_id);
}

static int
server_begin_headers_cb (nghttp2_session     *session,
                         const nghttp2_frame *frame,
                         void                *user_data)
{
  NfltrHttp2Proxy *self = user_data;
  Http2Stream *s;

  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  s = _nfltr_http2_stream_new (self, frame->hd.stream_id);
  g_hash_table_insert (self->streams, GINT_TO_POINTER (s->vid), s);
  nghttp2_session_set_stream_user_data (session, s->vid, s);
  return 0;
}

static int
server_header_cb (nghttp2_session     *session,
                  const nghttp2_frame *frame,
                  const uint8_t       *name,
                  size_t               namelen,
                  const uint8_t       *value,
                  size_t               valuelen,
                  uint8_t              flags,
                  void                *user_data)
{
  Http2Stream *s = visitor_stream (user_data, frame->hd.stream_id);
  GPtrArray *into;

  if (s == NULL || frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  s->req_field_bytes += namelen + valuelen + 32;  /* RFC 9113 §6.5.2: 32 per field */
  if (s->req_field_bytes > NFLTR_HTTP2_MAX_HEADER_BYTES)
    return 0;  /* answered 431 once the frame is complete */
  if (!s->req_headers_done)
    into = s->req_fields;
  else
    {
      if (s->req_trailers == NULL)
        s->req_trailers = nfltr_http2_fields_new ();
      into = s->req_trailers;
    }
  nfltr_http2_fields_add (into, (const char *) name, namelen, (const char *) value, valuelen);
  return 0;
}

/* --basic-auth (issue 9 §10): any authorization field with the tunnel's credentials. */
static gboolean
authorized (NfltrHttp2Proxy *self, GPtrArray *fields)
{
  gboolean ok = FALSE;

  for (guint i = 0; i < fields->len; i++)
    {
      NfltrHttp2Field *f = fields->pdata[i];

      if (f->name_len == 13 && memcmp (f->name, "authorization", 13) == 0)
        ok |= nfltr_http_basic_auth_matches (self->basic_auth, f->value, f->value_len);
    }
  return ok;
}

/* The tunnel's credentials are the agent's business, not the local server's. */
static void
drop_authorization (GPtrArray *fields)
{
  for (guint i = fields->len; i > 0; i--)
    {
      NfltrHttp2Field *f = fields->pdata[i - 1];

      if (f->name_len == 13 && memcmp (f->name, "authorization", 13) == 0)
        g_ptr_array_remove_index (fields, i - 1);
    }
}

static void
request_headers_done (NfltrHttp2Proxy *self, Http2Stream *s)
{
  g_autofree char *reason = NULL;
  const char *method = nfltr_http2_fields_get (s->req_fields, ":method");
  guint status = 0;

  s->req_headers_done = TRUE;
  s->is_head = method != NULL && strcmp (method, "HEAD") == 0;
  s->inspect = nfltr_inspect_record_new (self->inspect, "2", self->inspect_client); /* inspector (issue 9 §8) */
  for (guint i = 0; s->inspect != NULL && i < s->req_fields->len; i++)
    {
      NfltrHttp2Field *f = g_ptr_array_index (s->req_fields, i);

      /* The tunnel's own password is not the local server's business, nor the inspector's. */
      if (self->basic_auth == NULL || g_ascii_strcasecmp (f->name, "authorization") != 0)
        nfltr_inspect_record_request_header (s->inspect, f->name, f->name_len, f->value, f->value_len);
    }
  if (s->req_field_bytes > NFLTR_HTTP2_MAX_HEADER_BYTES)
    {
      _nfltr_http2_stream_respond_error (s, 431, "request header fields too large");
      return;
    }
  if (self->basic_auth != NULL && !authorized (self, s->req_fields))
    {
      _nfltr_http2_stream_respond_error (s, 401, "this tunnel needs a user name and password");
      return;
    }
  s->fwd_fields = nfltr_http2_check_request (self->public_host, self->client_ip, s->req_fields,
                                             &status, &reason);
  if (s->fwd_fields == NULL)
    {
      _nfltr_http2_stream_respond_error (s, status, reason);
      return;
    }
  if (self->basic_auth != NULL)
    drop_authorization (s->fwd_fields);
  s->queued = TRUE;
  g_queue_push_tail (&self->pending, s);
}

static void
request_body_more (Http2Stream *s)
{
  NfltrHttp2Proxy *self = s->proxy;

  if (s->oid > 0 && self->client != NULL)
    nghttp2_session_resume_data (self->client, s->oid);
  else if (s->h1_fd >= 0)
    _nfltr_http2_h1_pump_request (s);
}

static int
server_frame_recv_cb (nghttp2_session     *session,
                      const nghttp2_frame *frame,
                      void                *user_data)
{
  NfltrHttp2Proxy *self = user_data;
  Http2Stream *s;

  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  s = visitor_stream (self, frame->hd.stream_id);
  if (s == NULL)
    return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && !s->req_headers_done)
    request_headers_done (self, s);
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0)
    {
      s->req_eof = TRUE;
      request_body_more (s);
    }
  return 0;
}

static int
server_data_chunk_cb (nghttp2_session *session,
                      uint8_t          flags,
                      int32_t          stream_id,
                      const uint8_t   *data,
                      size_t           len,
                      void            *user_data)
{
  Http2Stream *s = visitor_stream (user_data, stream_id);

  if (s == NULL || s->refused)
    {
      /* Nobody reads it: acknowledge at once so the connection's window stays open. */
      nghttp2_session_consume (session, stream_id, len);
      return 0;
    }
  _nfltr_http2_buf_append (&s->req_body, data, len);
  nfltr_inspect_record_request_body (s->inspect, data, len); /* inspector (issue 9 §8) */
  request_body_more (s);
  return 0;
}

static int
server_stream_close_cb (nghttp2_session *session,
                        int32_t          stream_id,
                        uint32_t         error_code,
                        void            *user_data)
{
  NfltrHttp2Proxy *self = user_data;

  g_hash_table_remove (self->streams, GINT_TO_POINTER (stream_id));
  return 0;
}

/* ---- the HTTP/2 origin ---------------------------------------------------------------- */

static Http2Stream *
origin_stream (NfltrHttp2Proxy *self, int32_t stream_id)
{
  return nghttp2_session_get_stream_user_data (self->client, stream_id);
}

/* The request body towards the origin: what the visitor sent, as the origin's window allows. */
static ssize_t
request_read_cb (nghttp2_session     *session,
                 int32_t              stream_id,
                 uint8_t             *buf,
                 size_t               length,
                 uint32_t            *data_flags,
                 nghttp2_data_source *source,
                 void                *user_data)
{
  NfltrHttp2Proxy *self = user_data;
  Http2Stream *s = nghttp2_session_get_stream_user_data (session, stream_id);
  gsize n;

  if (s == NULL)
    {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
  n = MIN (length, _nfltr_http2_buf_len (&s->req_body));
  s->req_sent = s->req_sent || n > 0 || s->req_eof;
  if (n > 0)
    {
      memcpy (buf, _nfltr_http2_buf_peek (&s->req_body), n);
      _nfltr_http2_buf_skip (&s->req_body, n);
      nghttp2_session_consume (self->server, s->vid, n);
    }
  if (_nfltr_http2_buf_len (&s->req_body) == 0 && s->req_eof)
    {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (s->req_trailers != NULL && s->req_trailers->len > 0)
        {
          g_autofree nghttp2_nv *nv = _nfltr_http2_fields_to_nv (s->req_trailers);

          if (nghttp2_submit_trailer (session, stream_id, nv, s->req_trailers->len) == 0)
            *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      return n;
    }
  if (n == 0)
    return NGHTTP2_ERR_DEFERRED;
  return n;
}

static int
client_begin_headers_cb (nghttp2_session     *session,
                         const nghttp2_frame *frame,
                         void                *user_data)
{
  Http2Stream *s = origin_stream (user_data, frame->hd.stream_id);

  if (s == NULL || frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  if (!s->resp_started)
    {
      g_clear_pointer (&s->resp_fields, g_ptr_array_unref);
      s->resp_fields = nfltr_http2_fields_new ();
    }
  else
    {
      g_clear_pointer (&s->resp_trailers, g_ptr_array_unref);
      s->resp_trailers = nfltr_http2_fields_new ();
    }
  return 0;
}

static int
client_header_cb (nghttp2_session     *session,
                  const nghttp2_frame *frame,
                  const uint8_t       *name,
                  size_t               namelen,
                  const uint8_t       *value,
                  size_t               valuelen,
                  uint8_t              flags,
                  void                *user_data)
{
  Http2Stream *s = origin_stream (user_data, frame->hd.stream_id);
  GPtrArray *into;

  if (s == NULL || frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  into = s->resp_started ? s->resp_trailers : s->resp_fields;
  if (into != NULL)
    nfltr_http2_fields_add (into, (const char *) name, namelen, (const char *) value, valuelen);
  return 0;
}

static int
client_frame_recv_cb (nghttp2_session     *session,
                      const nghttp2_frame *frame,
                      void                *user_data)
{
  NfltrHttp2Proxy *self = user_data;
  gboolean end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  Http2Stream *s;

  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  s = origin_stream (self, frame->hd.stream_id);
  if (s == NULL)
    return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && !s->resp_started && s->resp_fields != NULL)
    {
      const char *status = nfltr_http2_fields_get (s->resp_fields, ":status");

      if (status != NULL && status[0] == '1')
        {
          /* An interim response (103 Early Hints, 100 Continue) goes on as one. */
          _nfltr_http2_stream_submit_interim (s, s->resp_fields);
          g_clear_pointer (&s->resp_fields, g_ptr_array_unref);
          return 0;
        }
      _nfltr_http2_stream_submit_response (s, s->resp_fields, end_stream);
      return 0;
    }
  if (end_stream)
    _nfltr_http2_stream_response_end (s);
  return 0;
}

static int
client_data_chunk_cb (nghttp2_session *session,
                      uint8_t          flags,
                      int32_t          stream_id,
                      const uint8_t   *data,
                      size_t           len,
                      void            *user_data)
{
  Http2Stream *s = origin_stream (user_data, stream_id);

  if (s == NULL)
    {
      nghttp2_session_consume (session, stream_id, len);
      return 0;
    }
  _nfltr_http2_stream_response_data (s, data, len);
  return 0;
}

static int
client_stream_close_cb (nghttp2_session *session,
                        int32_t          stream_id,
                        uint32_t         error_code,
                        void            *user_data)
{
  Http2Stream *s = origin_stream (user_data, stream_id);

  if (s == NULL)
    return 0;
  s->oid = -1;
  if (error_code == NGHTTP2_REFUSED_STREAM && !s->resp_started && !s->req_sent)
    {
      /* RFC 9113 §8.7: not processed (typically beyond the last stream of the origin's
       * GOAWAY, as nginx sends after 1000 requests), and we still hold all of it: send it
       * again on the next origin connection. */
      nghttp2_session_set_stream_user_data (session, stream_id, NULL);
      s->queued = TRUE;
      g_queue_push_tail (&s->proxy->pending, s);
    }
  else if (error_code == NGHTTP2_REFUSED_STREAM && !s->resp_started)
    /* Not processed, but part of its body is gone: the visitor may retry it. */
    _nfltr_http2_stream_reset (s, NGHTTP2_REFUSED_STREAM);
  else if (error_code != NGHTTP2_NO_ERROR)
    {
      if (!s->resp_started)
        _nfltr_http2_stream_respond_error (s, 502, "the tunnel's local server reset the request");
      else
        _nfltr_http2_stream_reset (s, error_code);
    }
  else if (!s->resp_eof)
    _nfltr_http2_stream_response_end (s);
  return 0;
}

static nghttp2_session *
session_new (NfltrHttp2Proxy *self, gboolean server)
{
  g_autoptr(GError) error = NULL;
  nghttp2_session_callbacks *cbs;
  nghttp2_option *opt;
  nghttp2_session *session = NULL;
  nghttp2_settings_entry settings[] = {
    { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, NFLTR_HTTP2_MAX_STREAMS },
    { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, NFLTR_HTTP2_STREAM_WINDOW },
    { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, NFLTR_HTTP2_MAX_HEADER_BYTES },
    { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
  };

  nghttp2_session_callbacks_new (&cbs);
  nghttp2_option_new (&opt);
  /* Flow control is ours: a window opens only when the other side took the bytes. */
  nghttp2_option_set_no_auto_window_update (opt, 1);
  if (server)
    {
      nghttp2_session_callbacks_set_on_begin_headers_callback (cbs, server_begin_headers_cb);
      nghttp2_session_callbacks_set_on_header_callback (cbs, server_header_cb);
      nghttp2_session_callbacks_set_on_frame_recv_callback (cbs, server_frame_recv_cb);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback (cbs, server_data_chunk_cb);
      nghttp2_session_callbacks_set_on_stream_close_callback (cbs, server_stream_close_cb);
      nghttp2_session_server_new2 (&session, cbs, self, opt);
    }
  else
    {
      nghttp2_session_callbacks_set_on_begin_headers_callback (cbs, client_begin_headers_cb);
      nghttp2_session_callbacks_set_on_header_callback (cbs, client_header_cb);
      nghttp2_session_callbacks_set_on_frame_recv_callback (cbs, client_frame_recv_cb);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback (cbs, client_data_chunk_cb);
      nghttp2_session_callbacks_set_on_stream_close_callback (cbs, client_stream_close_cb);
      nghttp2_session_client_new2 (&session, cbs, self, opt);
    }
  nghttp2_option_del (opt);
  nghttp2_session_callbacks_del (cbs);
  /* The origin is told the same limits, except that it must not push (§8.4) — a client's
   * MAX_CONCURRENT_STREAMS only limits pushes. */
  nghttp2_submit_settings (session, NGHTTP2_FLAG_NONE, server ? settings : settings + 1,
                           server ? G_N_ELEMENTS (settings) : G_N_ELEMENTS (settings) - 1);
  nghttp2_session_set_local_window_size (session, NGHTTP2_FLAG_NONE, 0, NFLTR_HTTP2_CONN_WINDOW);
  return session;
}

/* Sends everything the origin's session has, waiting briefly: used only for the first
 * bytes (preface and SETTINGS), which fit any socket buffer. */
static gboolean
origin_send_now (NfltrHttp2Proxy *self)
{
  const uint8_t *data;
  ssize_t n;

  while ((n = nghttp2_session_mem_send (self->client, &data)) > 0)
    _nfltr_http2_buf_append (&self->origin_out, data, n);
  while (_nfltr_http2_buf_len (&self->origin_out) > 0)
    {
      ssize_t w = send (self->origin_fd, _nfltr_http2_buf_peek (&self->origin_out),
                        _nfltr_http2_buf_len (&self->origin_out), MSG_NOSIGNAL);
      if (w < 0 && (errno == EAGAIN || errno == EINTR))
        {
          struct pollfd pfd = { .fd = self->origin_fd, .events = POLLOUT };
          if (poll (&pfd, 1, NFLTR_HTTP2_PROBE_TIMEOUT_MS) <= 0)
            return FALSE;
          continue;
        }
      if (w < 0)
        return FALSE;
      _nfltr_http2_buf_skip (&self->origin_out, w);
    }
  return TRUE;
}

static void
origin_close (NfltrHttp2Proxy *self)
{
  g_clear_pointer (&self->client, nghttp2_session_del);
  if (self->origin_fd >= 0)
    close (self->origin_fd);
  self->origin_fd = -1;
  g_byte_array_set_size (self->origin_out.data, 0);
  self->origin_out.off = 0;
}

/* RFC 9113 §3.4: an HTTP/2 server's first frame is SETTINGS on stream 0. Anything else
 * (an HTTP/1.1 "400 Bad Request", a close) means the server does not speak h2c. */
static gboolean
probe_is_h2 (const guint8 *head)
{
  guint32 stream_id = ((guint32) (head[5] & 0x7f) << 24) | (head[6] << 16) | (head[7] << 8) | head[8];

  return head[3] == NGHTTP2_SETTINGS && (head[4] & NGHTTP2_FLAG_ACK) == 0 && stream_id == 0;
}

int
_nfltr_http2_origin_connect (NfltrHttp2Proxy *self, const char * const *alpn,
                             char **selected_alpn, GError **error)
{
  GError *local_error = NULL;
  int fd;

  if (selected_alpn != NULL)
    *selected_alpn = NULL;
  if (self->origin_tls)
    fd = nfltr_origin_tls_connect (self->origin_host, self->origin_port, alpn,
                                   self->connect_timeout_ms, -1, selected_alpn, &local_error);
  else
    fd = nfltr_data_conn_connect_tcp (self->origin_host, self->origin_port,
                                      self->connect_timeout_ms, -1, &local_error);
  if (self->stats != NULL)
    nfltr_tunnel_stats_origin_result (self->stats, local_error);
  if (local_error != NULL)
    g_propagate_error (error, local_error);
  return fd;
}

/* Connects the HTTP/2 origin (and, in AUTO, learns whether there is one). FALSE with an
 * error when the local server cannot be reached. */
static gboolean
origin_open (NfltrHttp2Proxy *self, GError **error)
{
  /* RFC 7301: with TLS the server says which it speaks; h2 only when it must be h2. */
  static const char * const alpn_auto[] = { "h2", "http/1.1", NULL };
  static const char * const alpn_h2[] = { "h2", NULL };
  g_autofree char *selected = NULL;
  guint8 head[9];
  gsize got = 0;
  gint64 deadline;

  self->origin_fd = _nfltr_http2_origin_connect (self, self->mode == NFLTR_HTTP2_ORIGIN_AUTO
                                                         ? alpn_auto
                                                         : alpn_h2,
                                                 &selected, error);
  if (self->origin_fd < 0)
    return FALSE;
  if (self->origin_tls && self->mode == NFLTR_HTTP2_ORIGIN_AUTO && g_strcmp0 (selected, "h2") != 0)
    {
      g_debug ("h2: %s:%u did not select h2 over TLS: translating to HTTP/1.1",
               self->origin_host, self->origin_port);
      close (self->origin_fd);
      self->origin_fd = -1;
      self->mode = NFLTR_HTTP2_ORIGIN_H1;
      return TRUE;
    }
  if (self->origin_tls && self->mode == NFLTR_HTTP2_ORIGIN_AUTO)
    self->mode = NFLTR_HTTP2_ORIGIN_H2;
  self->client = session_new (self, FALSE);
  if (!origin_send_now (self))
    {
      origin_close (self);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   "%s:%u closed the connection", self->origin_host, self->origin_port);
      return FALSE;
    }
  if (self->mode != NFLTR_HTTP2_ORIGIN_AUTO)
    return TRUE;

  deadline = g_get_monotonic_time () + NFLTR_HTTP2_PROBE_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  while (got < sizeof head)
    {
      struct pollfd pfd = { .fd = self->origin_fd, .events = POLLIN };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      ssize_t n;

      if (left <= 0 || poll (&pfd, 1, left) <= 0)
        break;
      n = recv (self->origin_fd, head + got, sizeof head - got, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (n <= 0)
        break;
      got += n;
    }
  if (got == sizeof head && probe_is_h2 (head) && _nfltr_http2_origin_recv (self, head, got))
    {
      g_debug ("h2: %s:%u speaks HTTP/2 (h2c)", self->origin_host, self->origin_port);
      self->mode = NFLTR_HTTP2_ORIGIN_H2;
      return TRUE;
    }
  g_debug ("h2: %s:%u does not speak h2c: translating to HTTP/1.1", self->origin_host,
           self->origin_port);
  origin_close (self);
  self->mode = NFLTR_HTTP2_ORIGIN_H1;
  return TRUE;
}

gboolean
_nfltr_http2_origin_recv (NfltrHttp2Proxy *self, const guint8 *data, gsize len)
{
  ssize_t rv = nghttp2_session_mem_recv (self->client, data, len);

  if (rv < 0)
    {
      g_autofree char *why = g_strdup_printf ("HTTP/2 error from the local server: %s",
                                              nghttp2_strerror ((int) rv));
      _nfltr_http2_origin_lost (self, why);
      return FALSE;
    }
  return TRUE;
}

/* The HTTP/2 origin's connection ended: its streams are answered 502 (or cut), the next
 * request opens a new one. */
void
_nfltr_http2_origin_lost (NfltrHttp2Proxy *self, const char *why)
{
  GHashTableIter iter;
  gpointer value;

  g_debug ("h2: origin connection lost: %s", why);
  g_hash_table_iter_init (&iter, self->streams);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Http2Stream *s = value;

      if (s->oid <= 0)
        continue;
      nghttp2_session_set_stream_user_data (self->client, s->oid, NULL);
      s->oid = -1;
      if (!s->resp_started)
        _nfltr_http2_stream_respond_error (s, 502, why);
      else if (!s->resp_eof)
        _nfltr_http2_stream_reset (s, NGHTTP2_INTERNAL_ERROR);
    }
  origin_close (self);
}

static void
send_to_h2_origin (NfltrHttp2Proxy *self, Http2Stream *s)
{
  g_autofree nghttp2_nv *nv = _nfltr_http2_fields_to_nv (s->fwd_fields);
  nghttp2_data_provider dp = { .source.ptr = s, .read_callback = request_read_cb };
  gboolean has_body = !s->req_eof || _nfltr_http2_buf_len (&s->req_body) > 0 ||
                      s->req_trailers != NULL;
  int32_t oid;

  oid = nghttp2_submit_request (self->client, NULL, nv, s->fwd_fields->len, has_body ? &dp : NULL, s);
  if (oid < 0)
    {
      _nfltr_http2_stream_respond_error (s, 502, nghttp2_strerror (oid));
      return;
    }
  s->oid = oid;
}

/* Sends on every checked request that waits, opening or probing the origin first. */
void
_nfltr_http2_dispatch (NfltrHttp2Proxy *self)
{
  Http2Stream *s;

  while ((s = g_queue_pop_head (&self->pending)) != NULL)
    {
      g_autoptr(GError) error = NULL;

      s->queued = FALSE;
      if (self->refusal != NULL)
        {
          _nfltr_http2_stream_respond_error (s, 403, self->refusal);
          continue;
        }
      if (self->mode == NFLTR_HTTP2_ORIGIN_NONE)
        {
          _nfltr_http2_stream_respond_error (s, 502, "the tunnel has no local server");
          continue;
        }
      if (self->mode == NFLTR_HTTP2_ORIGIN_H2 && self->client != NULL &&
          !nghttp2_session_check_request_allowed (self->client))
        {
          /* The origin sent GOAWAY: once its last streams are done, a new connection. */
          if (nghttp2_session_want_read (self->client) || nghttp2_session_want_write (self->client))
            {
              s->queued = TRUE;
              g_queue_push_head (&self->pending, s);
              return;
            }
          origin_close (self);
        }
      if ((self->mode == NFLTR_HTTP2_ORIGIN_H2 || self->mode == NFLTR_HTTP2_ORIGIN_AUTO) &&
          self->client == NULL && !origin_open (self, &error))
        {
          g_autofree char *why = g_strdup_printf ("the tunnel's local server is unreachable (%s)",
                                                  error->message);

          _nfltr_http2_stream_respond_error (s, 502, why);
          continue;
        }
      if (self->mode == NFLTR_HTTP2_ORIGIN_H2)
        send_to_h2_origin (self, s);
      else if (!_nfltr_http2_h1_start (s, &error))
        {
          g_autofree char *why = g_strdup_printf ("the tunnel's local server is unreachable (%s)",
                                                  error->message);

          _nfltr_http2_stream_respond_error (s, 502, why);
        }
    }
}

/* Moves what the sessions have to send into the output queues, as far as they have room.
 * TRUE if it added anything. */
gboolean
_nfltr_http2_produce (NfltrHttp2Proxy *self)
{
  const uint8_t *data;
  gboolean produced = FALSE;
  ssize_t n;

  while (_nfltr_http2_buf_len (&self->vis_out) < HTTP2_OUT_HIGH_WATER &&
         (n = nghttp2_session_mem_send (self->server, &data)) > 0)
    {
      _nfltr_http2_buf_append (&self->vis_out, data, n);
      produced = TRUE;
    }
  while (self->client != NULL && _nfltr_http2_buf_len (&self->origin_out) < HTTP2_OUT_HIGH_WATER &&
         (n = nghttp2_session_mem_send (self->client, &data)) > 0)
    {
      _nfltr_http2_buf_append (&self->origin_out, data, n);
      produced = TRUE;
    }
  return produced;
}

gboolean
_nfltr_http2_visitor_done (NfltrHttp2Proxy *self)
{
  return !nghttp2_session_want_read (self->server) && !nghttp2_session_want_write (self->server);
}

/* ---- the pure half -------------------------------------------------------------------- */

NfltrHttp2Proxy *
nfltr_http2_proxy_new (const char           *public_host,
                       const char           *client_ip,
                       const char           *origin_host,
                       guint16               origin_port,
                       NfltrHttp2OriginMode  mode,
                       gboolean              origin_tls,
                       guint                 connect_timeout_ms)
{
  NfltrHttp2Proxy *self = g_new0 (NfltrHttp2Proxy, 1);

  self->public_host = g_strdup (public_host);
  self->client_ip = g_strdup (client_ip);
  self->origin_host = g_strdup (origin_host);
  self->origin_port = origin_port;
  self->mode = mode;
  self->origin_tls = origin_tls;
  self->connect_timeout_ms = connect_timeout_ms;
  self->vis_fd = -1;
  self->origin_fd = -1;
  _nfltr_http2_buf_init (&self->vis_out);
  _nfltr_http2_buf_init (&self->origin_out);
  g_queue_init (&self->pending);
  self->streams = g_hash_table_new_full (NULL, NULL, NULL, _nfltr_http2_stream_free);
  self->server = session_new (self, TRUE);
  return self;
}

void
nfltr_http2_proxy_free (NfltrHttp2Proxy *self)
{
  if (self == NULL)
    return;
  /* Streams first: freeing one may reset its origin stream. */
  g_hash_table_remove_all (self->streams);
  origin_close (self);
  g_clear_pointer (&self->server, nghttp2_session_del);
  g_clear_pointer (&self->streams, g_hash_table_unref);
  g_queue_clear (&self->pending);
  _nfltr_http2_buf_clear (&self->vis_out);
  _nfltr_http2_buf_clear (&self->origin_out);
  if (self->vis_fd >= 0)
    close (self->vis_fd);
  g_free (self->public_host);
  g_free (self->client_ip);
  g_free (self->origin_host);
  g_clear_pointer (&self->stats, nfltr_tunnel_stats_unref);
  g_free (self->refusal);
  g_free (self->basic_auth);
  g_clear_object (&self->inspect);       /* inspector (issue 9 §8) */
  g_free (self->inspect_client);
  g_free (self);
}

void
nfltr_http2_proxy_set_basic_auth (NfltrHttp2Proxy *self, const char *credentials)
{
  g_free (self->basic_auth);
  self->basic_auth = g_strdup (credentials);
}

void
nfltr_http2_proxy_set_refusal (NfltrHttp2Proxy *self, const char *reason)
{
  g_free (self->refusal);
  self->refusal = g_strdup (reason);
}

void
nfltr_http2_proxy_set_stats (NfltrHttp2Proxy *self, NfltrTunnelStats *stats)
{
  g_clear_pointer (&self->stats, nfltr_tunnel_stats_unref);
  self->stats = stats != NULL ? nfltr_tunnel_stats_ref (stats) : NULL;
}

gboolean
nfltr_http2_proxy_feed (NfltrHttp2Proxy *self, const guint8 *data, gsize len)
{
  ssize_t rv = nghttp2_session_mem_recv (self->server, data, len);

  if (rv < 0)
    {
      /* Not HTTP/2, or a connection error nghttp2 could not answer itself (§5.4.1). */
      g_debug ("h2: visitor: %s", nghttp2_strerror ((int) rv));
      nghttp2_session_terminate_session (self->server, rv == NGHTTP2_ERR_FLOODED
                                                         ? NGHTTP2_ENHANCE_YOUR_CALM
                                                         : NGHTTP2_PROTOCOL_ERROR);
    }
  _nfltr_http2_dispatch (self);
  return rv >= 0 && nghttp2_session_want_read (self->server);
}

void
nfltr_http2_proxy_take_output (NfltrHttp2Proxy *self, GByteArray *out)
{
  for (;;)
    {
      gsize n;

      _nfltr_http2_produce (self);
      n = _nfltr_http2_buf_len (&self->vis_out);
      if (n == 0)
        break;
      g_byte_array_append (out, _nfltr_http2_buf_peek (&self->vis_out), n);
      _nfltr_http2_buf_skip (&self->vis_out, n);
    }
}

/* inspector (issue 9 §8) */
void
nfltr_http2_proxy_set_inspect (NfltrHttp2Proxy *self, GVariant *kind_config, const char *client)
{
  g_clear_object (&self->inspect);
  self->inspect = nfltr_inspect_registry_lookup (kind_config);
  g_free (self->inspect_client);
  self->inspect_client = g_strdup (client);
}
