/* nfltr-http-rewrite.c — the client→local HTTP/1.1 request-stream rewriter (see the header);
 * the local server's answers are followed in nfltr-http-response.c */
#define G_LOG_DOMAIN "nfltr-http"

#include "nfltr-http-auth.h"
#include "nfltr-http-rewrite-private.h"

#include <string.h>


static const char *
status_phrase (guint status)
{
  switch (status)
    {
      case 400: return "Bad Request";
      case 421: return "Misdirected Request";
      case 431: return "Request Header Fields Too Large";
      case 502: return "Bad Gateway";
      case 505: return "HTTP Version Not Supported";
      default: return "Error";
    }
}

GBytes *
nfltr_http_error_response (guint status, const char *detail)
{
  g_autofree char *body = g_strdup_printf ("%u %s: %s\n", status, status_phrase (status), detail);
  g_autofree char *text = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
                                           "Content-Type: text/plain; charset=utf-8\r\n"
                                           "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                                           "Connection: close\r\n"
                                           "\r\n"
                                           "%s",
                                           status, status_phrase (status), strlen (body), body);
  gsize len = strlen (text);

  return g_bytes_new_take (g_steal_pointer (&text), len);
}

/* RFC 9110 §5.6.2 tchar */
static gboolean
is_tchar (guchar c)
{
  return g_ascii_isalnum (c) || (c != 0 && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

gboolean
_nfltr_http_is_ows (guchar c)
{
  return c == ' ' || c == '\t';
}

static char *
normalize_host (const char *host)
{
  char *lower = g_ascii_strdown (host != NULL ? host : "", -1);
  gsize len = strlen (lower);

  if (len > 0 && lower[len - 1] == '.')
    lower[len - 1] = '\0';
  return lower;
}

NfltrHttpRewriter *
nfltr_http_rewriter_new (const char *public_host, const char *client_ip)
{
  NfltrHttpRewriter *self = g_new0 (NfltrHttpRewriter, 1);
  gboolean ip_ok = client_ip != NULL && *client_ip != '\0';

  /* The address comes from the relay, but it ends up inside a header: never let it
   * carry a line break or anything else that could forge a second header. */
  for (const char *p = client_ip; ip_ok && *p; p++)
    if (!g_ascii_isxdigit (*p) && *p != '.' && *p != ':')
      ip_ok = FALSE;

  self->public_host = normalize_host (public_host);
  self->client_ip = g_strdup (ip_ok ? client_ip : "unknown");
  self->state = STATE_HEAD;
  self->head = g_byte_array_sized_new (4096);
  self->line = g_byte_array_sized_new (128);
  self->xff = g_string_sized_new (64);
  self->resp_line = g_byte_array_sized_new (256);
  return self;
}

void
nfltr_http_rewriter_free (NfltrHttpRewriter *self)
{
  if (self == NULL)
    return;
  g_free (self->public_host);
  g_free (self->client_ip);
  g_free (self->basic_auth);
  g_byte_array_unref (self->head);
  g_byte_array_unref (self->line);
  g_string_free (self->xff, TRUE);
  g_byte_array_unref (self->resp_line);
  g_free (self->reason);
  g_clear_pointer (&self->response, g_bytes_unref);
  g_free (self);
}

gboolean
nfltr_http_rewriter_is_raw (const NfltrHttpRewriter *self)
{
  /* Bytes of a head still held (a client that did not wait for the 101) go out with the
   * next feed(), so the caller must keep feeding until then. */
  return self->state == STATE_RAW && self->head->len == 0;
}

guint64
nfltr_http_rewriter_get_requests (const NfltrHttpRewriter *self)
{
  return self->requests;
}

guint
nfltr_http_rewriter_get_status (const NfltrHttpRewriter *self)
{
  return self->status;
}

const char *
nfltr_http_rewriter_get_reason (const NfltrHttpRewriter *self)
{
  return self->reason;
}

GBytes *
nfltr_http_rewriter_get_response (const NfltrHttpRewriter *self)
{
  return self->response;
}

void
nfltr_http_rewriter_set_basic_auth (NfltrHttpRewriter *self, const char *credentials)
{
  g_free (self->basic_auth);
  self->basic_auth = g_strdup (credentials);
}

/* 401 with a challenge (RFC 7617 §2), so that a browser asks for the password. */
static void
reject_unauthorized (NfltrHttpRewriter *self)
{
  static const char body[] = "401 Unauthorized: this tunnel needs a user name and password\n";
  g_autofree char *challenge = nfltr_http_basic_auth_challenge (self->public_host);
  g_autofree char *text = g_strdup_printf ("HTTP/1.1 401 Unauthorized\r\n"
                                           "WWW-Authenticate: %s\r\n"
                                           "Content-Type: text/plain; charset=utf-8\r\n"
                                           "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                                           "Connection: close\r\n"
                                           "\r\n%s",
                                           challenge, strlen (body), body);
  gsize len = strlen (text);

  g_debug ("rejecting request with 401: no or wrong credentials");
  self->state = STATE_REJECTED;
  self->status = 401;
  self->reason = g_strdup ("this tunnel needs a user name and password");
  self->response = g_bytes_new_take (g_steal_pointer (&text), len);
}

static void
reject (NfltrHttpRewriter *self, guint status, const char *reason)
{
  g_debug ("rejecting request with %u: %s", status, reason);
  self->state = STATE_REJECTED;
  self->status = status;
  self->reason = g_strdup (reason);
  self->response = nfltr_http_error_response (status, reason);
}

/* Compares a Host value or an absolute-form authority (RFC 9110 §7.2, uri-host [":" port])
 * with the public host, ignoring case, the port and a trailing dot. */
gboolean
_nfltr_http_authority_matches (const char *public_host, const char *value, gsize len, gboolean *valid)
{
  gsize host_len;
  const char *port = NULL;

  *valid = TRUE;
  if (len > 0 && value[0] == '[')
    {
      const char *close = memchr (value, ']', len);
      if (close == NULL)
        {
          *valid = FALSE;
          return FALSE;
        }
      host_len = close - value + 1;
    }
  else
    {
      const char *colon = memchr (value, ':', len);
      host_len = colon != NULL ? (gsize) (colon - value) : len;
    }

  if (host_len < len)
    {
      if (value[host_len] != ':')
        {
          *valid = FALSE;
          return FALSE;
        }
      for (port = value + host_len + 1; port < value + len; port++)
        if (!g_ascii_isdigit (*port))
          {
            *valid = FALSE;
            return FALSE;
          }
    }

  if (host_len > 0 && value[host_len - 1] == '.')
    host_len--;
  return host_len == strlen (public_host) &&
         g_ascii_strncasecmp (value, public_host, host_len) == 0;
}

static gboolean
authority_matches (const NfltrHttpRewriter *self, const char *value, gsize len, gboolean *valid)
{
  return _nfltr_http_authority_matches (self->public_host, value, len, valid);
}

/* Case-insensitive: does the comma-separated list value[0..len) hold `token`? */
static gboolean
list_has_token (const char *value, gsize len, const char *token)
{
  gsize tlen = strlen (token);
  const char *p = value, *end = value + len;

  while (p < end)
    {
      const char *comma = memchr (p, ',', end - p);
      const char *e = comma != NULL ? comma : end;
      const char *s = p;

      while (s < e && _nfltr_http_is_ows (*s))
        s++;
      while (e > s && _nfltr_http_is_ows (e[-1]))
        e--;
      if ((gsize) (e - s) == tlen && g_ascii_strncasecmp (s, token, tlen) == 0)
        return TRUE;
      p = comma != NULL ? comma + 1 : end;
    }
  return FALSE;
}


/* RFC 9112 §6.3: several Content-Length values are acceptable only when all equal. */
void
_nfltr_http_parse_content_length (HeadInfo *info, const char *value, gsize len)
{
  const char *p = value, *end = value + len;

  while (p <= end)
    {
      const char *comma = memchr (p, ',', end - p);
      const char *e = comma != NULL ? comma : end;
      const char *s = p;
      guint64 n = 0;
      guint digits = 0;

      while (s < e && _nfltr_http_is_ows (*s))
        s++;
      while (e > s && _nfltr_http_is_ows (e[-1]))
        e--;
      if (s == e)
        {
          info->cl_bad = TRUE;
          return;
        }
      for (; s < e; s++)
        {
          if (!g_ascii_isdigit (*s) || ++digits > MAX_CONTENT_LENGTH_DIGITS)
            {
              info->cl_bad = TRUE;
              return;
            }
          n = n * 10 + (*s - '0');
        }
      if (info->cl_seen && n != info->content_length)
        {
          info->cl_bad = TRUE;
          return;
        }
      info->cl_seen = TRUE;
      info->content_length = n;
      if (comma == NULL)
        break;
      p = comma + 1;
    }
}

void
_nfltr_http_parse_transfer_encoding (HeadInfo *info, const char *value, gsize len)
{
  const char *p = value, *end = value + len;

  info->te_seen = TRUE;
  while (p < end)
    {
      const char *comma = memchr (p, ',', end - p);
      const char *e = comma != NULL ? comma : end;
      const char *s = p;
      const char *semi = memchr (s, ';', e - s);

      if (semi != NULL)
        e = semi;
      while (s < e && _nfltr_http_is_ows (*s))
        s++;
      while (e > s && _nfltr_http_is_ows (e[-1]))
        e--;
      if (s < e)
        {
          gboolean chunked = (e - s) == 7 && g_ascii_strncasecmp (s, "chunked", 7) == 0;
          /* RFC 9112 §6.1: chunked is applied once, and last */
          if (info->te_chunked_last)
            info->te_chunked_twice = TRUE;
          info->te_chunked_last = chunked;
        }
      p = comma != NULL ? comma + 1 : end;
    }
}

static gboolean
header_is (const char *name, gsize len, const char *wanted)
{
  return strlen (wanted) == len && g_ascii_strncasecmp (name, wanted, len) == 0;
}

/* Takes the next line of head[*pos..end), without its CRLF or LF. FALSE on a bare CR. */
gboolean
_nfltr_http_next_line (const guint8 *data, gsize end, gsize *pos, const char **line, gsize *line_len)
{
  const guint8 *start = data + *pos;
  const guint8 *nl = memchr (start, '\n', end - *pos);
  gsize len;

  g_assert (nl != NULL);  /* the head always ends in an empty line */
  len = nl - start;
  *pos += len + 1;
  if (len > 0 && start[len - 1] == '\r')
    len--;
  if (memchr (start, '\r', len) != NULL)
    return FALSE;
  *line = (const char *) start;
  *line_len = len;
  return TRUE;
}

static void
append (GByteArray *out, const char *data, gsize len)
{
  g_byte_array_append (out, (const guint8 *) data, len);
}

static void
append_str (GByteArray *out, const char *s)
{
  append (out, s, strlen (s));
}

/* The head in self->head is complete. Checks it, writes the rewritten head to `out`, and
 * sets the state that reads its body. */
/* The request line's parts process_head() needs after parsing it. */
typedef struct {
  const char *line;
  gsize       line_len;
  const char *target;
  gsize       target_len;
  gboolean    http10;
  gboolean    connect;
} RequestLine;

/* RFC 9112 §3: request-line = method SP request-target SP HTTP-version */
static gboolean
parse_request_line (NfltrHttpRewriter *self, const guint8 *data, gsize end, gsize *pos, RequestLine *rl)
{
  const char *p, *line_end, *version;

  if (!_nfltr_http_next_line (data, end, pos, &rl->line, &rl->line_len))
    {
      reject (self, 400, "bare CR in request line");
      return FALSE;
    }
  line_end = rl->line + rl->line_len;
  for (p = rl->line; p < line_end && is_tchar (*p); p++)
    ;
  if (p == rl->line || p == line_end || *p != ' ')
    {
      reject (self, 400, "malformed request line (method)");
      return FALSE;
    }
  rl->connect = (p - rl->line) == 7 && memcmp (rl->line, "CONNECT", 7) == 0;
  rl->target = ++p;
  for (; p < line_end && (guchar) *p > 0x20 && *p != 0x7f; p++)
    ;
  rl->target_len = p - rl->target;
  if (rl->target_len == 0 || p == line_end || *p != ' ')
    {
      reject (self, 400, "malformed request line (target)");
      return FALSE;
    }
  version = ++p;
  if (line_end - version != 8 || memcmp (version, "HTTP/", 5) != 0 || !g_ascii_isdigit (version[5]) ||
      version[6] != '.' || !g_ascii_isdigit (version[7]))
    {
      reject (self, 400, "malformed request line (version)");
      return FALSE;
    }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
    {
      reject (self, 505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
      return FALSE;
    }
  rl->http10 = version[7] == '0';
  return TRUE;
}

/* RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. Checks one line, notes what
 * the framing and authority checks need in info, and forwards it to out — or drops it when
 * the value is ours to say. */
static gboolean
process_field_line (NfltrHttpRewriter *self, const char *line, gsize line_len, HeadInfo *info, GByteArray *out)
{
  const char *line_end = line + line_len;
  const char *colon, *value, *value_end, *p;

  if (_nfltr_http_is_ows (line[0]))
    {
      reject (self, 400, "obsolete header line folding");
      return FALSE;
    }
  colon = memchr (line, ':', line_len);
  if (colon == NULL || colon == line)
    {
      reject (self, 400, "header line without a name and colon");
      return FALSE;
    }
  for (p = line; p < colon; p++)
    if (!is_tchar (*p))
      {
        /* RFC 9112 §5.1: whitespace before the colon must be rejected */
        reject (self, 400, "invalid character in a header name");
        return FALSE;
      }
  value = colon + 1;
  value_end = line_end;
  while (value < value_end && _nfltr_http_is_ows (*value))
    value++;
  while (value_end > value && _nfltr_http_is_ows (value_end[-1]))
    value_end--;
  for (p = value; p < value_end; p++)
    if ((((guchar) *p < 0x20) && *p != '\t') || *p == 0x7f)
      {
        reject (self, 400, "control character in a header value");
        return FALSE;
      }

#define IS(name) header_is (line, colon - line, name)
  if (IS ("host"))
    {
      info->host_count++;
      info->host = value;
      info->host_len = value_end - value;
    }
  else if (IS ("content-length"))
    _nfltr_http_parse_content_length (info, value, value_end - value);
  else if (IS ("transfer-encoding"))
    _nfltr_http_parse_transfer_encoding (info, value, value_end - value);
  else if (IS ("upgrade"))
    info->upgrade = value < value_end;
  else if (IS ("connection"))
    info->connection_upgrade |= list_has_token (value, value_end - value, "upgrade");
  else if (IS ("authorization") && self->basic_auth != NULL)
    {
      /* The tunnel's own credentials: checked here, never forwarded. */
      info->auth_ok |= nfltr_http_basic_auth_matches (self->basic_auth, value, value_end - value);
      return TRUE;
    }

  if (IS ("x-forwarded-for"))
    {
      /* several XFF lines are one list (RFC 9110 §5.3); merged, our hop goes last */
      if (value < value_end)
        {
          if (self->xff->len > 0)
            g_string_append (self->xff, ", ");
          g_string_append_len (self->xff, value, value_end - value);
        }
      return TRUE;
    }
  /* Ours to say, not the client's: dropped, then set in append_forwarding(). Content-Length
   * is written once there, so "3, 3" or a repeated line cannot reach a server that reads it
   * differently (RFC 9112 §6.3 lets a recipient collapse equal values). Forwarded (RFC 7239)
   * and X-Real-IP would let a client claim any address: we drop them, and X-Forwarded-For is
   * the one place the client's address is said. */
  if (IS ("x-forwarded-proto") || IS ("x-forwarded-host") || IS ("content-length") || IS ("forwarded") ||
      IS ("x-real-ip"))
    return TRUE;
#undef IS

  append (out, line, colon - line);
  append (out, ": ", 2);
  append (out, value, value_end - value);
  append (out, "\r\n", 2);
  return TRUE;
}

static void
reject_other_authority (NfltrHttpRewriter *self)
{
  g_autofree char *why = g_strdup_printf ("this tunnel serves %s only", self->public_host);

  reject (self, 421, why);
}

/* RFC 9112 §3.2: the request must name this tunnel — in Host, in a CONNECT's target, and in
 * an absolute-form target. */
static gboolean
check_authority (NfltrHttpRewriter *self, const RequestLine *rl, const HeadInfo *info)
{
  gboolean valid;

  /* §3.2: a request without Host, or with more than one, is answered 400. */
  if (info->host_count != 1)
    {
      reject (self, 400, info->host_count == 0 ? "missing Host header" : "more than one Host header");
      return FALSE;
    }
  if (!authority_matches (self, info->host, info->host_len, &valid))
    {
      if (!valid)
        reject (self, 400, "invalid Host header");
      else
        reject_other_authority (self);
      return FALSE;
    }
  /* §3.2.3: CONNECT names its destination in the target (authority-form); only this tunnel
   * is one. */
  if (rl->connect && !authority_matches (self, rl->target, rl->target_len, &valid))
    {
      reject_other_authority (self);
      return FALSE;
    }
  /* §3.2.2: with an absolute-form target the server uses its authority, not Host, so it must
   * name this tunnel too. */
  if (rl->target_len > 7 && (g_ascii_strncasecmp (rl->target, "http://", 7) == 0 ||
                             (rl->target_len > 8 && g_ascii_strncasecmp (rl->target, "https://", 8) == 0)))
    {
      const char *auth = rl->target + (rl->target[4] == ':' ? 7 : 8);
      const char *auth_end = auth;
      const char *at;

      while (auth_end < rl->target + rl->target_len && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
        auth_end++;
      at = g_strrstr_len (auth, auth_end - auth, "@");
      if (at != NULL)
        auth = at + 1;
      if (!authority_matches (self, auth, auth_end - auth, &valid))
        {
          reject_other_authority (self);
          return FALSE;
        }
    }
  return TRUE;
}

/* RFC 9112 §6.1–§6.3: framing we cannot be sure of is how request smuggling starts. */
static gboolean
check_framing (NfltrHttpRewriter *self, const RequestLine *rl, const HeadInfo *info)
{
  if (info->cl_bad)
    reject (self, 400, "invalid Content-Length");
  else if (info->te_seen && info->cl_seen)
    reject (self, 400, "both Transfer-Encoding and Content-Length");
  else if (info->te_seen && rl->http10)
    reject (self, 400, "Transfer-Encoding in an HTTP/1.0 request");
  else if (info->te_seen && (!info->te_chunked_last || info->te_chunked_twice))
    reject (self, 400, "Transfer-Encoding does not end in a single chunked");
  else
    return TRUE;
  return FALSE;
}

/* The fields that are ours to say, and the empty line that ends the head. */
static void
append_forwarding (NfltrHttpRewriter *self, const HeadInfo *info, GByteArray *out)
{
  if (info->cl_seen)
    {
      g_autofree char *cl = g_strdup_printf ("Content-Length: %" G_GUINT64_FORMAT "\r\n", info->content_length);

      append_str (out, cl);
    }
  append_str (out, "X-Forwarded-For: ");
  if (self->xff->len > 0)
    {
      append (out, self->xff->str, self->xff->len);
      append (out, ", ", 2);
    }
  append_str (out, self->client_ip);
  append_str (out, "\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: ");
  append (out, info->host, info->host_len);
  append (out, "\r\n\r\n", 4);
}

/* Remembers what the forwarded request's answer may do: the stream goes raw only when the
 * local server accepts the switch (101, or 2xx to a CONNECT), seen by
 * nfltr_http_rewriter_feed_response(). Until then the next bytes are parsed as requests, so a
 * refused Upgrade cannot hide later requests from these checks. An Upgrade header alone is
 * ignored by servers (RFC 9110 §7.8 needs the Connection option too). */
static void
note_outstanding (NfltrHttpRewriter *self, const RequestLine *rl, const HeadInfo *info)
{
  guint8 flags = 0;

  if (self->outstanding_len == MAX_OUTSTANDING)
    {
      /* the ring no longer says which response answers which request */
      self->lost_track = TRUE;
      self->resp_state = RESP_IGNORED;
      return;
    }
  if (rl->line_len >= 5 && memcmp (rl->line, "HEAD ", 5) == 0)
    flags |= REQ_HEAD;
  if (info->upgrade && info->connection_upgrade)
    flags |= REQ_UPGRADE;
  if (rl->connect)
    flags |= REQ_CONNECT;
  self->outstanding[(self->outstanding_first + self->outstanding_len) % MAX_OUTSTANDING] = flags;
  self->outstanding_len++;
}

/* RFC 9112 §6.3: what follows the head, by the framing it declared. */
static void
enter_body (NfltrHttpRewriter *self, const HeadInfo *info)
{
  if (info->te_seen)
    {
      self->state = STATE_CHUNK_SIZE;
      g_byte_array_set_size (self->line, 0);
    }
  else if (info->cl_seen && info->content_length > 0)
    {
      self->state = STATE_BODY_LENGTH;
      self->remaining = info->content_length;
    }
  else
    self->state = STATE_HEAD;
}

/* One complete request head in self->head: checked step by step, rewritten into out. On a
 * refusal nothing of it stays in out. */
static void
process_head (NfltrHttpRewriter *self, GByteArray *out)
{
  const guint8 *data = self->head->data;
  gsize end = self->head->len;
  gsize pos = 0;
  guint out_start = out->len;
  RequestLine rl = { 0 };
  HeadInfo info = { 0 };

  if (!parse_request_line (self, data, end, &pos, &rl))
    return;
  append (out, rl.line, rl.line_len);
  append (out, "\r\n", 2);
  g_string_truncate (self->xff, 0);

  for (;;)
    {
      const char *line;
      gsize line_len;

      if (!_nfltr_http_next_line (data, end, &pos, &line, &line_len))
        {
          reject (self, 400, "bare CR in a header line");
          goto refused;
        }
      if (line_len == 0)
        break;
      if (!process_field_line (self, line, line_len, &info, out))
        goto refused;
    }
  if (!check_authority (self, &rl, &info) || !check_framing (self, &rl, &info))
    goto refused;
  if (self->basic_auth != NULL && !info.auth_ok)
    {
      reject_unauthorized (self);
      goto refused;
    }

  append_forwarding (self, &info, out);
  self->requests++;
  note_outstanding (self, &rl, &info);
  g_byte_array_set_size (self->head, 0);
  self->line_start = 0;
  enter_body (self, &info);
  return;

refused:
  g_byte_array_set_size (out, out_start);
}

static gsize
feed_head (NfltrHttpRewriter *self, const guint8 *data, gsize len, GByteArray *out)
{
  gsize i = 0;

  while (i < len)
    {
      const guint8 *nl = memchr (data + i, '\n', len - i);
      gsize take = nl != NULL ? (gsize) (nl - (data + i)) + 1 : len - i;
      gsize line_len;

      if (self->head->len + take > NFLTR_HTTP_MAX_HEAD)
        {
          reject (self, 431, "request head larger than 64 KiB");
          return i;
        }
      g_byte_array_append (self->head, data + i, take);
      i += take;
      if (nl == NULL)
        break;

      line_len = self->head->len - self->line_start - 1;
      if (line_len > 0 && self->head->data[self->head->len - 2] == '\r')
        line_len--;
      if (line_len == 0)
        {
          /* RFC 9112 §2.2: empty lines before a request line are ignored */
          if (self->line_start == 0)
            {
              g_byte_array_set_size (self->head, 0);
              continue;
            }
          process_head (self, out);
          return i;
        }
      self->line_start = self->head->len;
    }
  return i;
}

/* Accumulates one CRLF-terminated line into self->line. Returns bytes used; *done when the
 * line is whole. Rejects bare-LF endings: these lines go to the server verbatim, and a
 * server that reads them differently is how a smuggled request gets past us. */
static gsize
feed_line (NfltrHttpRewriter *self, const guint8 *data, gsize len, gsize limit,
           guint limit_status, const char *what, gboolean *done)
{
  const guint8 *nl = memchr (data, '\n', len);
  gsize take = nl != NULL ? (gsize) (nl - data) + 1 : len;

  *done = FALSE;
  if (self->line->len + take > limit)
    {
      g_autofree char *why = g_strdup_printf ("%s too long", what);
      reject (self, limit_status, why);
      return 0;
    }
  g_byte_array_append (self->line, data, take);
  if (nl == NULL)
    return take;
  if (self->line->len < 2 || self->line->data[self->line->len - 2] != '\r')
    {
      g_autofree char *why = g_strdup_printf ("%s not ended by CRLF", what);
      reject (self, 400, why);
      return 0;
    }
  *done = TRUE;
  return take;
}

/* RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF */
gboolean
_nfltr_http_parse_chunk_size (const guint8 *line, gsize len, guint64 *size)
{
  gsize i = 0;
  guint64 n = 0;

  len -= 2;  /* CRLF */
  for (; i < len && g_ascii_isxdigit (line[i]); i++)
    {
      if (n >> MAX_CHUNK_SIZE_BITS != 0)
        return FALSE;
      n = n * 16 + g_ascii_xdigit_value (line[i]);
    }
  if (i == 0)
    return FALSE;
  while (i < len && _nfltr_http_is_ows (line[i]))
    i++;
  if (i < len && line[i] != ';')
    return FALSE;
  for (; i < len; i++)
    if ((line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
      return FALSE;
  *size = n;
  return TRUE;
}

static gboolean
trailer_line_is_valid (const guint8 *line, gsize len)
{
  gsize i = 0;

  len -= 2;
  while (i < len && is_tchar (line[i]))
    i++;
  if (i == 0 || i == len || line[i] != ':')
    return FALSE;
  for (i++; i < len; i++)
    if ((line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
      return FALSE;
  return TRUE;
}

NfltrHttpRewriteResult
nfltr_http_rewriter_feed (NfltrHttpRewriter *self,
                          const guint8      *data,
                          gsize              len,
                          GByteArray        *out)
{
  gsize off = 0;

  g_return_val_if_fail (self != NULL, NFLTR_HTTP_REWRITE_REJECT);
  g_return_val_if_fail (data != NULL || len == 0, NFLTR_HTTP_REWRITE_REJECT);

  while (off < len && self->state != STATE_REJECTED)
    {
      const guint8 *p = data + off;
      gsize avail = len - off;
      gboolean done;

      switch (self->state)
        {
          case STATE_HEAD: off += feed_head (self, p, avail, out); break;

          case STATE_BODY_LENGTH:
          case STATE_CHUNK_DATA:
            {
              gsize n = (gsize) MIN ((guint64) avail, self->remaining);

              g_byte_array_append (out, p, n);
              off += n;
              self->remaining -= n;
              if (self->remaining == 0)
                {
                  self->state = self->state == STATE_CHUNK_DATA ? STATE_CHUNK_DATA_CRLF : STATE_HEAD;
                  self->crlf_seen = 0;
                }
            }
            break;

          case STATE_CHUNK_SIZE:
            off += feed_line (self, p, avail, MAX_CHUNK_LINE, 400, "chunk size line", &done);
            if (done)
              {
                guint64 size;

                if (!_nfltr_http_parse_chunk_size (self->line->data, self->line->len, &size))
                  {
                    reject (self, 400, "invalid chunk size line");
                    break;
                  }
                g_byte_array_append (out, self->line->data, self->line->len);
                g_byte_array_set_size (self->line, 0);
                if (size == 0)
                  {
                    self->state = STATE_TRAILER;
                    self->trailer_bytes = 0;
                  }
                else
                  {
                    self->state = STATE_CHUNK_DATA;
                    self->remaining = size;
                  }
              }
            break;

          case STATE_CHUNK_DATA_CRLF:
            if (*p != "\r\n"[self->crlf_seen])
              {
                reject (self, 400, "chunk data not followed by CRLF");
                break;
              }
            g_byte_array_append (out, p, 1);
            off++;
            if (++self->crlf_seen == 2)
              {
                self->state = STATE_CHUNK_SIZE;
                g_byte_array_set_size (self->line, 0);
              }
            break;

          case STATE_TRAILER:
            {
              /* the whole trailer section is held to the head's limit */
              gsize limit = NFLTR_HTTP_MAX_HEAD - (self->trailer_bytes - self->line->len);
              gsize used = feed_line (self, p, avail, limit, 431, "trailer section", &done);
              off += used;
              self->trailer_bytes += used;
              if (!done)
                break;
              if (self->line->len > 2 && !trailer_line_is_valid (self->line->data, self->line->len))
                {
                  reject (self, 400, "invalid trailer field");
                  break;
                }
              g_byte_array_append (out, self->line->data, self->line->len);
              if (self->line->len == 2)
                self->state = STATE_HEAD;
              g_byte_array_set_size (self->line, 0);
            }
            break;

          case STATE_RAW:
            /* a head the client sent before the 101 arrived is no request: it goes as is */
            g_byte_array_append (out, self->head->data, self->head->len);
            g_byte_array_set_size (self->head, 0);
            g_byte_array_append (out, p, avail);
            off = len;
            break;

          case STATE_REJECTED:
          default: g_assert_not_reached ();
        }
    }

  return self->state == STATE_REJECTED ? NFLTR_HTTP_REWRITE_REJECT : NFLTR_HTTP_REWRITE_CONTINUE;
}
