/* nfltr-http-response.c — the local server's answers, as the HTTP rewriter follows them: only
 * to learn whether it switched protocols (101, or 2xx to a CONNECT), which is when the
 * client's stream may go raw (docs/security.md, "The HTTP rewriter"). */
#define G_LOG_DOMAIN "nfltr-http"

#include "nfltr-http-rewrite-private.h"

#include <string.h>

/* The local server switched protocols: from now on the client's bytes pass unchanged. */
static void
go_raw (NfltrHttpRewriter *self)
{
  self->resp_state = RESP_IGNORED;
  if (self->state == STATE_REJECTED)
    return;
  g_debug ("the local server switched protocols after request %" G_GUINT64_FORMAT,
           self->requests);
  self->state = STATE_RAW;
}

/* Stops reading responses; the request stream stays parsed to its end. */
static void
lose_track (NfltrHttpRewriter *self, const char *why)
{
  g_debug ("no longer following the local server's responses: %s", why);
  self->resp_state = RESP_IGNORED;
  self->lost_track = TRUE;
}

static gboolean
resp_header_is (const char *line, gsize len, const char *name, const char **value, gsize *value_len)
{
  gsize n = strlen (name);
  const char *v, *e = line + len;

  if (len <= n || line[n] != ':' || g_ascii_strncasecmp (line, name, n) != 0)
    return FALSE;
  for (v = line + n + 1; v < e && _nfltr_http_is_ows (*v); v++)
    ;
  while (e > v && _nfltr_http_is_ows (e[-1]))
    e--;
  *value = v;
  *value_len = e - v;
  return TRUE;
}

/* A whole response head is in resp_line: RFC 9112 §4 status-line, then §6.3 for the length
 * of its content. */
static void
process_response_head (NfltrHttpRewriter *self)
{
  gsize end = self->resp_line->len, pos = 0, len;
  const char *line;
  guint status;
  guint8 flags;
  HeadInfo info = { 0 };
  gboolean te_seen = FALSE;

  if (!_nfltr_http_next_line (self->resp_line->data, end, &pos, &line, &len) || len < 12 ||
      memcmp (line, "HTTP/1.", 7) != 0 || !g_ascii_isdigit (line[7]) || line[8] != ' ' ||
      !g_ascii_isdigit (line[9]) || !g_ascii_isdigit (line[10]) || !g_ascii_isdigit (line[11]) ||
      (len > 12 && line[12] != ' '))
    {
      lose_track (self, "malformed status line");
      return;
    }
  status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');

  for (;;)
    {
      const char *value;
      gsize value_len;

      if (!_nfltr_http_next_line (self->resp_line->data, end, &pos, &line, &len))
        {
          lose_track (self, "bare CR in a response header");
          return;
        }
      if (len == 0)
        break;
      if (resp_header_is (line, len, "content-length", &value, &value_len))
        _nfltr_http_parse_content_length (&info, value, value_len);
      else if (resp_header_is (line, len, "transfer-encoding", &value, &value_len))
        {
          _nfltr_http_parse_transfer_encoding (&info, value, value_len);
          te_seen = TRUE;
        }
    }
  g_byte_array_set_size (self->resp_line, 0);
  self->resp_line_start = 0;

  if (status >= 100 && status < 200)
    {
      /* RFC 9110 §15.2: interim responses come before the final one and have no content */
      if (status != 101)
        return;
      if (self->outstanding_len > 0 && !self->lost_track &&
          (self->outstanding[self->outstanding_first] & REQ_UPGRADE) != 0)
        go_raw (self);
      else
        lose_track (self, "101 to a request that did not ask for it");
      return;
    }

  if (self->outstanding_len == 0)
    {
      lose_track (self, "a response to no request");
      return;
    }
  flags = self->outstanding[self->outstanding_first];
  self->outstanding_first = (self->outstanding_first + 1) % MAX_OUTSTANDING;
  self->outstanding_len--;

  if ((flags & REQ_CONNECT) != 0 && status >= 200 && status < 300)
    {
      if (self->lost_track)
        self->resp_state = RESP_IGNORED;
      else
        go_raw (self);
      return;
    }
  /* RFC 9112 §6.3 rules 1–2: these responses end with their head */
  if ((flags & REQ_HEAD) != 0 || status == 204 || status == 304)
    self->resp_state = RESP_HEAD;
  else if (te_seen && info.te_chunked_last && !info.te_chunked_twice)
    {
      self->resp_state = RESP_CHUNK_SIZE;
      self->resp_line_start = 0;
    }
  else if (te_seen || info.cl_bad)
    lose_track (self, "response framed by connection close or invalid Content-Length");
  else if (info.cl_seen)
    {
      self->resp_state = info.content_length > 0 ? RESP_BODY_LENGTH : RESP_HEAD;
      self->resp_remaining = info.content_length;
    }
  else
    /* RFC 9112 §6.3 rule 8: the content runs to the close; nothing follows it */
    self->resp_state = RESP_IGNORED;
}

/* Appends up to the next LF to resp_line. Returns the bytes used; *done when the line is
 * whole. A line over the head limit loses track (the server's problem, not ours). */
static gsize
resp_take_line (NfltrHttpRewriter *self, const guint8 *data, gsize len, gboolean *done)
{
  const guint8 *nl = memchr (data, '\n', len);
  gsize take = nl != NULL ? (gsize) (nl - data) + 1 : len;

  *done = FALSE;
  if (self->resp_line->len + take > NFLTR_HTTP_MAX_HEAD)
    {
      lose_track (self, "response head or chunk line too long");
      return len;
    }
  g_byte_array_append (self->resp_line, data, take);
  *done = nl != NULL;
  return take;
}

void
nfltr_http_rewriter_feed_response (NfltrHttpRewriter *self,
                                   const guint8      *data,
                                   gsize              len)
{
  gsize off = 0;

  g_return_if_fail (self != NULL);
  g_return_if_fail (data != NULL || len == 0);

  while (off < len && self->resp_state != RESP_IGNORED)
    {
      const guint8 *p = data + off;
      gsize avail = len - off;
      gboolean done;

      switch (self->resp_state)
        {
          case RESP_HEAD:
            off += resp_take_line (self, p, avail, &done);
            if (done)
              {
                gsize l = self->resp_line->len - self->resp_line_start;
                const guint8 *ls = self->resp_line->data + self->resp_line_start;

                if (l == 1 || (l == 2 && ls[0] == '\r'))
                  {
                    if (self->resp_line_start == 0)
                      g_byte_array_set_size (self->resp_line, 0);
                    else
                      process_response_head (self);
                  }
                else
                  self->resp_line_start = self->resp_line->len;
              }
            break;

          case RESP_BODY_LENGTH:
          case RESP_CHUNK_DATA:
            {
              gsize n = (gsize) MIN ((guint64) avail, self->resp_remaining);

              off += n;
              self->resp_remaining -= n;
              if (self->resp_remaining == 0)
                {
                  self->resp_state = self->resp_state == RESP_CHUNK_DATA ? RESP_CHUNK_DATA_CRLF : RESP_HEAD;
                  self->resp_crlf_seen = 0;
                }
            }
            break;

          case RESP_CHUNK_SIZE:
            off += resp_take_line (self, p, avail, &done);
            if (done)
              {
                guint64 size;

                if (self->resp_line->len < 2 || self->resp_line->data[self->resp_line->len - 2] != '\r' ||
                    !_nfltr_http_parse_chunk_size (self->resp_line->data, self->resp_line->len, &size))
                  {
                    lose_track (self, "invalid chunk size line");
                    break;
                  }
                g_byte_array_set_size (self->resp_line, 0);
                self->resp_state = size == 0 ? RESP_TRAILER : RESP_CHUNK_DATA;
                self->resp_remaining = size;
              }
            break;

          case RESP_CHUNK_DATA_CRLF:
            if (*p != "\r\n"[self->resp_crlf_seen])
              {
                lose_track (self, "chunk data not followed by CRLF");
                break;
              }
            off++;
            if (++self->resp_crlf_seen == 2)
              self->resp_state = RESP_CHUNK_SIZE;
            break;

          case RESP_TRAILER:
            off += resp_take_line (self, p, avail, &done);
            if (done)
              {
                gboolean empty = self->resp_line->len <= 2;

                g_byte_array_set_size (self->resp_line, 0);
                if (empty)
                  {
                    self->resp_state = RESP_HEAD;
                    self->resp_line_start = 0;
                  }
              }
            break;

          case RESP_IGNORED:
          default: g_assert_not_reached ();
        }
    }
}
