/* nfltr-http2-stream.c — the HTTP/2 proxy's byte queues and streams: one visitor stream's
 * state, and its response as nghttp2 sends it (see nfltr-http2-private.h) */
#define G_LOG_DOMAIN "nfltr-http"

#include "nfltr-http-auth.h"
#include "nfltr-http2-private.h"

#include "nfltr-http-rewrite.h"

#include <string.h>

/* ---- byte queues ---------------------------------------------------------------------- */

void
_nfltr_http2_buf_init (Http2Buf *buf)
{
  buf->data = g_byte_array_new ();
  buf->off = 0;
}

void
_nfltr_http2_buf_clear (Http2Buf *buf)
{
  g_clear_pointer (&buf->data, g_byte_array_unref);
  buf->off = 0;
}

gsize
_nfltr_http2_buf_len (const Http2Buf *buf)
{
  return buf->data != NULL ? buf->data->len - buf->off : 0;
}

const guint8 *
_nfltr_http2_buf_peek (const Http2Buf *buf)
{
  return buf->data->data + buf->off;
}

void
_nfltr_http2_buf_append (Http2Buf *buf, const void *data, gsize len)
{
  g_byte_array_append (buf->data, data, len);
}

void
_nfltr_http2_buf_skip (Http2Buf *buf, gsize len)
{
  buf->off += len;
  /* Move the rest down only once the consumed part dominates: reads stay linear. */
  if (buf->off == buf->data->len)
    {
      g_byte_array_set_size (buf->data, 0);
      buf->off = 0;
    }
  else if (buf->off > 64 * 1024 && buf->off > buf->data->len / 2)
    {
      g_byte_array_remove_range (buf->data, 0, buf->off);
      buf->off = 0;
    }
}

/* ---- streams -------------------------------------------------------------------------- */

Http2Stream *
_nfltr_http2_stream_new (NfltrHttp2Proxy *proxy, int32_t vid)
{
  Http2Stream *s = g_new0 (Http2Stream, 1);

  s->proxy = proxy;
  s->vid = vid;
  s->oid = -1;
  s->h1_fd = -1;
  s->req_fields = nfltr_http2_fields_new ();
  _nfltr_http2_buf_init (&s->req_body);
  _nfltr_http2_buf_init (&s->resp_body);
  _nfltr_http2_buf_init (&s->h1_out);
  _nfltr_http2_buf_init (&s->h1_in);
  return s;
}

void
_nfltr_http2_stream_free (gpointer data)
{
  Http2Stream *s = data;
  NfltrHttp2Proxy *proxy = s->proxy;

  if (s->queued)
    g_queue_remove (&proxy->pending, s);
  if (s->oid > 0 && proxy->client != NULL)
    {
      /* The visitor is gone: the origin's stream has nobody to answer. */
      nghttp2_session_set_stream_user_data (proxy->client, s->oid, NULL);
      nghttp2_submit_rst_stream (proxy->client, NGHTTP2_FLAG_NONE, s->oid, NGHTTP2_CANCEL);
    }
  _nfltr_http2_h1_close (s);
  /* inspector (issue 9 §8): the stream is over, whole or not. */
  nfltr_inspect_record_finish (g_steal_pointer (&s->inspect),
                               !s->resp_started ? "no response" : !s->resp_eof || _nfltr_http2_buf_len (&s->resp_body) > 0 ? "the response was cut" : NULL);
  g_clear_pointer (&s->req_fields, g_ptr_array_unref);
  g_clear_pointer (&s->fwd_fields, g_ptr_array_unref);
  g_clear_pointer (&s->req_trailers, g_ptr_array_unref);
  g_clear_pointer (&s->resp_fields, g_ptr_array_unref);
  g_clear_pointer (&s->resp_trailers, g_ptr_array_unref);
  _nfltr_http2_buf_clear (&s->req_body);
  _nfltr_http2_buf_clear (&s->resp_body);
  _nfltr_http2_buf_clear (&s->h1_out);
  _nfltr_http2_buf_clear (&s->h1_in);
  g_free (s);
}

nghttp2_nv *
_nfltr_http2_fields_to_nv (GPtrArray *fields)
{
  nghttp2_nv *nv = g_new0 (nghttp2_nv, MAX (fields->len, 1));

  for (guint i = 0; i < fields->len; i++)
    {
      NfltrHttp2Field *f = g_ptr_array_index (fields, i);

      nv[i].name = (uint8_t *) f->name;
      nv[i].namelen = f->name_len;
      nv[i].value = (uint8_t *) f->value;
      nv[i].valuelen = f->value_len;
      nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
  return nv;
}

/* The visitor's response body: what the origin sent, as the visitor's window allows. */
static ssize_t
response_read_cb (nghttp2_session     *session,
                  int32_t              stream_id,
                  uint8_t             *buf,
                  size_t               length,
                  uint32_t            *data_flags,
                  nghttp2_data_source *source,
                  void                *user_data)
{
  Http2Stream *s = source->ptr;
  gsize n = MIN (length, _nfltr_http2_buf_len (&s->resp_body));

  if (n > 0)
    {
      memcpy (buf, _nfltr_http2_buf_peek (&s->resp_body), n);
      nfltr_inspect_record_response_body (s->inspect, buf, n); /* inspector (issue 9 §8) */
      _nfltr_http2_buf_skip (&s->resp_body, n);
      /* Only now may the origin send more on this stream. */
      if (s->oid > 0 && s->proxy->client != NULL)
        nghttp2_session_consume (s->proxy->client, s->oid, n);
    }
  if (_nfltr_http2_buf_len (&s->resp_body) == 0 && s->resp_eof)
    {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (s->resp_trailers != NULL && s->resp_trailers->len > 0)
        {
          g_autofree nghttp2_nv *nv = _nfltr_http2_fields_to_nv (s->resp_trailers);

          /* gRPC's grpc-status travels here (RFC 9113 §8.1). */
          if (nghttp2_submit_trailer (session, stream_id, nv, s->resp_trailers->len) == 0)
            *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      return n;
    }
  if (n == 0)
    return NGHTTP2_ERR_DEFERRED;
  return n;
}

void
_nfltr_http2_stream_submit_response (Http2Stream *s, GPtrArray *fields, gboolean end_stream)
{
  NfltrHttp2Proxy *proxy = s->proxy;
  g_autofree nghttp2_nv *nv = _nfltr_http2_fields_to_nv (fields);
  nghttp2_data_provider dp = { .source.ptr = s, .read_callback = response_read_cb };
  int rv;

  s->resp_started = TRUE;
  for (guint i = 0; s->inspect != NULL && i < fields->len; i++) /* inspector (issue 9 §8) */
    {
      NfltrHttp2Field *f = g_ptr_array_index (fields, i);

      nfltr_inspect_record_response_header (s->inspect, f->name, f->name_len, f->value, f->value_len);
    }
  if (end_stream)
    s->resp_eof = TRUE;
  rv = nghttp2_submit_response (proxy->server, s->vid, nv, fields->len, end_stream ? NULL : &dp);
  if (rv != 0)
    {
      g_debug ("h2: stream %d: response not submitted: %s", s->vid, nghttp2_strerror (rv));
      nghttp2_submit_rst_stream (proxy->server, NGHTTP2_FLAG_NONE, s->vid, NGHTTP2_INTERNAL_ERROR);
    }
}

void
_nfltr_http2_stream_submit_interim (Http2Stream *s, GPtrArray *fields)
{
  g_autofree nghttp2_nv *nv = _nfltr_http2_fields_to_nv (fields);

  nghttp2_submit_headers (s->proxy->server, NGHTTP2_FLAG_NONE, s->vid, NULL, nv, fields->len, NULL);
}

void
_nfltr_http2_stream_response_data (Http2Stream *s, const guint8 *data, gsize len)
{
  _nfltr_http2_buf_append (&s->resp_body, data, len);
  if (s->resp_started)
    nghttp2_session_resume_data (s->proxy->server, s->vid);
}

void
_nfltr_http2_stream_response_end (Http2Stream *s)
{
  s->resp_eof = TRUE;
  if (s->resp_started)
    nghttp2_session_resume_data (s->proxy->server, s->vid);
}

void
_nfltr_http2_stream_reset (Http2Stream *s, uint32_t error_code)
{
  nghttp2_submit_rst_stream (s->proxy->server, NGHTTP2_FLAG_NONE, s->vid, error_code);
}

/* The same text answer as HTTP/1.1 gets (nfltr_http_error_response()), as an HTTP/2
 * response on this stream only: the visitor's other streams go on. */
void
_nfltr_http2_stream_respond_error (Http2Stream *s, guint status, const char *detail)
{
  g_autoptr(GBytes) h1 = nfltr_http_error_response (status, detail);
  g_autoptr(GPtrArray) fields = nfltr_http2_fields_new ();
  g_autofree char *status_str = g_strdup_printf ("%u", status);
  g_autofree char *length = NULL;
  gsize h1_len;
  const char *h1_text = g_bytes_get_data (h1, &h1_len);
  const char *body = g_strstr_len (h1_text, h1_len, "\r\n\r\n");
  gsize body_len;

  g_assert (body != NULL);
  body += 4;
  body_len = h1_text + h1_len - body;
  length = g_strdup_printf ("%" G_GSIZE_FORMAT, body_len);
  if (s->resp_started)
    {
      /* Too late for a status: the visitor learns from a reset that the answer is cut. */
      _nfltr_http2_stream_reset (s, NGHTTP2_INTERNAL_ERROR);
      return;
    }
  s->refused = TRUE;
  _nfltr_http2_h1_close (s);
  nfltr_http2_fields_add (fields, ":status", 7, status_str, strlen (status_str));
  nfltr_http2_fields_add (fields, "content-type", 12, "text/plain; charset=utf-8", 25);
  nfltr_http2_fields_add (fields, "content-length", 14, length, strlen (length));
  if (status == 401)
    {
      g_autofree char *challenge = nfltr_http_basic_auth_challenge (s->proxy->public_host);

      nfltr_http2_fields_add (fields, "www-authenticate", 16, challenge, strlen (challenge));
    }
  _nfltr_http2_buf_append (&s->resp_body, body, s->is_head ? 0 : body_len);
  s->resp_eof = TRUE;
  _nfltr_http2_stream_submit_response (s, fields, FALSE);
}
