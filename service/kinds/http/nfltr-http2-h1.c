/* nfltr-http2-h1.c — an HTTP/2 stream translated to HTTP/1.1 for a local server that does
 * not speak HTTP/2: one origin connection per stream, the request written with
 * "Connection: close" (RFC 9112 §9.6), the response read by its framing (RFC 9112 §6.3)
 * and handed to the visitor's session as HEADERS and DATA. */
#define G_LOG_DOMAIN "nfltr-http"

#include "nfltr-http2-private.h"

#include "nfltr-http-rewrite-private.h"

#include <string.h>
#include <unistd.h>

/* Fields that describe one HTTP/1.1 connection, not the message (RFC 9110 §7.6.1,
 * RFC 9113 §8.2.2): never copied from one side to the other. */
static gboolean
is_hop_by_hop (const char *name, gsize len)
{
  static const char * const names[] = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
    "http2-settings", "host",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (len == strlen (names[i]) && g_ascii_strncasecmp (name, names[i], len) == 0)
      return TRUE;
  return FALSE;
}

/* RFC 9110 §5.6.2 token */
static gboolean
is_token (const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isalnum (*s) && strchr ("!#$%&'*+-.^_`|~", *s) == NULL)
      return FALSE;
  return TRUE;
}

/* A request-target we can put on a request line: no space or control character could make
 * it two (nghttp2 already refused CR, LF and NUL). */
static gboolean
is_request_target (const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    if ((guchar) *s <= ' ' || *s == 0x7f)
      return FALSE;
  return TRUE;
}

gboolean
_nfltr_http2_h1_start (Http2Stream *s, GError **error)
{
  static const char * const alpn_http11[] = { "http/1.1", NULL };
  NfltrHttp2Proxy *proxy = s->proxy;
  const char *method = nfltr_http2_fields_get (s->fwd_fields, ":method");
  const char *path = nfltr_http2_fields_get (s->fwd_fields, ":path");
  const char *authority = nfltr_http2_fields_get (s->fwd_fields, ":authority");
  g_autoptr(GString) head = g_string_new (NULL);
  g_autoptr(GString) cookies = g_string_new (NULL);
  gboolean has_length = nfltr_http2_fields_get (s->fwd_fields, "content-length") != NULL;

  if (authority == NULL)
    authority = nfltr_http2_fields_get (s->fwd_fields, "host");
  if (method == NULL || path == NULL || !is_token (method) || !is_request_target (path))
    {
      /* Answered, not failed: the caller's 502 is for an unreachable server only. */
      _nfltr_http2_stream_respond_error (s, 400, "a request HTTP/1.1 cannot carry");
      return TRUE;
    }
  g_string_append_printf (head, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, authority);
  for (guint i = 0; i < s->fwd_fields->len; i++)
    {
      NfltrHttp2Field *f = g_ptr_array_index (s->fwd_fields, i);

      if (f->name[0] == ':' || is_hop_by_hop (f->name, f->name_len))
        continue;
      if (strcmp (f->name, "cookie") == 0)
        {
          /* RFC 9113 §8.2.3: split cookies are joined again for HTTP/1.1. */
          if (cookies->len > 0)
            g_string_append (cookies, "; ");
          g_string_append_len (cookies, f->value, f->value_len);
          continue;
        }
      g_string_append_printf (head, "%s: %s\r\n", f->name, f->value);
    }
  if (cookies->len > 0)
    g_string_append_printf (head, "cookie: %s\r\n", cookies->str);
  /* Without a length, a body that may still come is sent chunked (RFC 9112 §7.1). */
  s->h1_chunked = !has_length && !(s->req_eof && _nfltr_http2_buf_len (&s->req_body) == 0);
  if (s->h1_chunked)
    g_string_append (head, "Transfer-Encoding: chunked\r\n");
  g_string_append (head, "Connection: close\r\n\r\n");

  s->h1_fd = _nfltr_http2_origin_connect (proxy, alpn_http11, NULL, error);
  if (s->h1_fd < 0)
    return FALSE;
  _nfltr_http2_buf_append (&s->h1_out, head->str, head->len);
  s->h1_state = H1_RESP_HEAD;
  _nfltr_http2_h1_pump_request (s);
  return TRUE;
}

void
_nfltr_http2_h1_pump_request (Http2Stream *s)
{
  gsize n;

  if (s->h1_fd < 0 || s->h1_req_done)
    return;
  n = MIN (_nfltr_http2_buf_len (&s->req_body),
           HTTP2_OUT_HIGH_WATER - MIN (HTTP2_OUT_HIGH_WATER, _nfltr_http2_buf_len (&s->h1_out)));
  if (n > 0)
    {
      if (s->h1_chunked)
        {
          g_autofree char *size = g_strdup_printf ("%" G_GSIZE_MODIFIER "x\r\n", n);

          _nfltr_http2_buf_append (&s->h1_out, size, strlen (size));
        }
      _nfltr_http2_buf_append (&s->h1_out, _nfltr_http2_buf_peek (&s->req_body), n);
      if (s->h1_chunked)
        _nfltr_http2_buf_append (&s->h1_out, "\r\n", 2);
      _nfltr_http2_buf_skip (&s->req_body, n);
      nghttp2_session_consume (s->proxy->server, s->vid, n);
    }
  if (s->req_eof && _nfltr_http2_buf_len (&s->req_body) == 0)
    {
      /* Request trailers are dropped: HTTP/1.1 servers rarely read them. */
      if (s->h1_chunked)
        _nfltr_http2_buf_append (&s->h1_out, "0\r\n\r\n", 5);
      s->h1_req_done = TRUE;
    }
}

void
_nfltr_http2_h1_close (Http2Stream *s)
{
  if (s->h1_fd >= 0)
    close (s->h1_fd);
  s->h1_fd = -1;
}

static gboolean
fail (Http2Stream *s, const char *why)
{
  g_debug ("h2: stream %d: local HTTP/1.1 server: %s", s->vid, why);
  if (!s->resp_started)
    _nfltr_http2_stream_respond_error (s, 502, why);
  else
    _nfltr_http2_stream_reset (s, NGHTTP2_INTERNAL_ERROR);
  _nfltr_http2_h1_close (s);
  return FALSE;
}

static gboolean
finish (Http2Stream *s)
{
  s->h1_state = H1_RESP_DONE;
  _nfltr_http2_stream_response_end (s);
  _nfltr_http2_h1_close (s);
  return FALSE;
}

static void
lower_field (GPtrArray *fields, const char *name, gsize name_len, const char *value, gsize value_len)
{
  g_autofree char *lower = g_ascii_strdown (name, name_len);

  nfltr_http2_fields_add (fields, lower, name_len, value, value_len);
}

/* RFC 9112 §4 and §5: the status line and field lines of head[0..len) (without the empty
 * line). FALSE if it is not a response head we can pass on. */
static gboolean
parse_head (Http2Stream *s, const char *head, gsize len)
{
  g_autoptr(GPtrArray) fields = nfltr_http2_fields_new ();
  HeadInfo info = { 0 };
  gsize pos = 0;
  const char *line;
  gsize line_len;
  guint status;
  char status_str[4];

  if (!_nfltr_http_next_line ((const guint8 *) head, len + 2, &pos, &line, &line_len) ||
      line_len < 12 || memcmp (line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
      !g_ascii_isdigit (line[9]) || !g_ascii_isdigit (line[10]) || !g_ascii_isdigit (line[11]))
    return fail (s, "not an HTTP/1.1 response");
  status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status < 100)
    return fail (s, "not an HTTP/1.1 response");
  memcpy (status_str, line + 9, 3);
  status_str[3] = '\0';
  if (status == 101)
    return fail (s, "the local server switched protocols, which HTTP/2 cannot");

  nfltr_http2_fields_add (fields, ":status", 7, status_str, 3);
  while (pos < len)
    {
      const char *colon, *value, *end;

      if (!_nfltr_http_next_line ((const guint8 *) head, len + 2, &pos, &line, &line_len))
        return fail (s, "malformed response head");
      colon = memchr (line, ':', line_len);
      /* RFC 9112 §5.2: obs-fold is refused rather than guessed at. */
      if (colon == NULL || colon == line || _nfltr_http_is_ows (line[0]))
        return fail (s, "malformed response field");
      value = colon + 1;
      end = line + line_len;
      while (value < end && _nfltr_http_is_ows (*value))
        value++;
      while (end > value && _nfltr_http_is_ows (end[-1]))
        end--;
      if (colon - line == 14 && g_ascii_strncasecmp (line, "content-length", 14) == 0)
        _nfltr_http_parse_content_length (&info, value, end - value);
      else if (colon - line == 17 && g_ascii_strncasecmp (line, "transfer-encoding", 17) == 0)
        _nfltr_http_parse_transfer_encoding (&info, value, end - value);
      if (is_hop_by_hop (line, colon - line) || colon - line == 0)
        continue;
      if (colon - line == 14 && g_ascii_strncasecmp (line, "content-length", 14) == 0 && info.te_seen)
        continue;
      lower_field (fields, line, colon - line, value, end - value);
    }

  if (status < 200)
    {
      /* An interim answer goes on as one (RFC 9110 §15.2): a visitor that sent
       * "expect: 100-continue" waits for it before its body. */
      g_autoptr(GPtrArray) interim = nfltr_http2_fields_new ();

      nfltr_http2_fields_add (interim, ":status", 7, status_str, 3);
      _nfltr_http2_stream_submit_interim (s, interim);
      return TRUE;
    }
  if (info.cl_bad || (info.te_seen && !info.te_chunked_last))
    return fail (s, "the response's framing is ambiguous");
  /* Drop a Content-Length that came along with chunked: the body's real length is what
   * the chunks say (RFC 9112 §6.3). */
  if (info.te_seen)
    for (guint i = 0; i < fields->len; i++)
      if (strcmp (((NfltrHttp2Field *) g_ptr_array_index (fields, i))->name, "content-length") == 0)
        g_ptr_array_remove_index (fields, i--);

  if (s->is_head || status == 204 || status == 304)
    {
      _nfltr_http2_stream_submit_response (s, fields, TRUE);
      return finish (s);
    }
  if (info.te_seen)
    s->h1_state = H1_RESP_CHUNK_SIZE;
  else if (info.cl_seen)
    {
      s->h1_state = H1_RESP_LENGTH;
      s->h1_remaining = info.content_length;
    }
  else
    s->h1_state = H1_RESP_CLOSE;
  if (s->h1_state == H1_RESP_LENGTH && s->h1_remaining == 0)
    {
      _nfltr_http2_stream_submit_response (s, fields, TRUE);
      return finish (s);
    }
  _nfltr_http2_stream_submit_response (s, fields, FALSE);
  return TRUE;
}

/* The next CRLF-terminated line of h1_in, without its CRLF, or FALSE if none yet. */
static gboolean
take_line (Http2Stream *s, char **line)
{
  const guint8 *data = _nfltr_http2_buf_peek (&s->h1_in);
  gsize len = _nfltr_http2_buf_len (&s->h1_in);
  const guint8 *lf = memchr (data, '\n', len);

  if (lf == NULL || lf == data || lf[-1] != '\r')
    return FALSE;
  *line = g_strndup ((const char *) data, lf - data - 1);
  _nfltr_http2_buf_skip (&s->h1_in, lf - data + 1);
  return TRUE;
}

gboolean
_nfltr_http2_h1_recv (Http2Stream *s, const guint8 *data, gsize len)
{
  gboolean eof = len == 0;

  if (s->h1_state == H1_RESP_DONE)
    return FALSE;
  _nfltr_http2_buf_append (&s->h1_in, data, len);
  for (;;)
    {
      gsize avail = _nfltr_http2_buf_len (&s->h1_in);
      const guint8 *in = _nfltr_http2_buf_peek (&s->h1_in);

      switch (s->h1_state)
        {
          case H1_RESP_HEAD:
            {
              const guint8 *end = avail >= 4 ? memmem (in, avail, "\r\n\r\n", 4) : NULL;
              gsize head_len;

              if (end == NULL)
                {
                  if (avail > NFLTR_HTTP_MAX_HEAD)
                    return fail (s, "the response head is too large");
                  if (eof)
                    return fail (s, "the local server closed the connection without an answer");
                  return TRUE;
                }
              head_len = end - in;
              if (!parse_head (s, (const char *) in, head_len))
                return FALSE;
              _nfltr_http2_buf_skip (&s->h1_in, head_len + 4);
              if (s->h1_state == H1_RESP_DONE)
                return FALSE;
              break;
            }
          case H1_RESP_LENGTH:
            {
              gsize n = (gsize) MIN ((guint64) avail, s->h1_remaining);

              _nfltr_http2_stream_response_data (s, in, n);
              _nfltr_http2_buf_skip (&s->h1_in, n);
              s->h1_remaining -= n;
              if (s->h1_remaining == 0)
                return finish (s);
              if (eof)
                return fail (s, "the response was cut short");
              return TRUE;
            }
          case H1_RESP_CLOSE:
            _nfltr_http2_stream_response_data (s, in, avail);
            _nfltr_http2_buf_skip (&s->h1_in, avail);
            if (eof)
              return finish (s);
            return TRUE;
          case H1_RESP_CHUNK_SIZE:
            {
              g_autofree char *line = NULL;
              guint64 size;

              if (!take_line (s, &line))
                {
                  if (avail > MAX_CHUNK_LINE || eof)
                    return fail (s, "malformed chunked response");
                  return TRUE;
                }
              if (!_nfltr_http_parse_chunk_size ((const guint8 *) line, strlen (line), &size))
                return fail (s, "malformed chunk size");
              s->h1_remaining = size;
              s->h1_state = size == 0 ? H1_RESP_TRAILER : H1_RESP_CHUNK_DATA;
              break;
            }
          case H1_RESP_CHUNK_DATA:
            {
              gsize n = (gsize) MIN ((guint64) avail, s->h1_remaining);

              _nfltr_http2_stream_response_data (s, in, n);
              _nfltr_http2_buf_skip (&s->h1_in, n);
              s->h1_remaining -= n;
              if (s->h1_remaining > 0)
                {
                  if (eof)
                    return fail (s, "the response was cut short");
                  return TRUE;
                }
              s->h1_state = H1_RESP_CHUNK_CRLF;
              break;
            }
          case H1_RESP_CHUNK_CRLF:
            if (avail < 2)
              {
                if (eof)
                  return fail (s, "the response was cut short");
                return TRUE;
              }
            if (in[0] != '\r' || in[1] != '\n')
              return fail (s, "malformed chunked response");
            _nfltr_http2_buf_skip (&s->h1_in, 2);
            s->h1_state = H1_RESP_CHUNK_SIZE;
            break;
          case H1_RESP_TRAILER:
            {
              g_autofree char *line = NULL;

              /* Trailer fields are not passed on: an HTTP/1.1 server's are advisory. */
              if (!take_line (s, &line))
                {
                  if (avail > NFLTR_HTTP_MAX_HEAD || eof)
                    return fail (s, "malformed chunked trailer");
                  return TRUE;
                }
              if (*line == '\0')
                return finish (s);
              break;
            }
          case H1_RESP_DONE: return FALSE;
        }
    }
}
