/* nfltr-http-rewrite.c — the client→local HTTP/1.1 request-stream rewriter (see the header) */
#define G_LOG_DOMAIN "nfltr-http"

#include "nfltr-http-rewrite.h"

#include <string.h>

/* A chunk-size line with its extensions is short in practice; a long one is an attack
 * on our buffer, not a request (RFC 9112 §7.1.1 lets a recipient limit it). */
#define MAX_CHUNK_LINE 4096
/* Chunk sizes stay below 2^60, so the hex accumulator never overflows a guint64. */
#define MAX_CHUNK_SIZE_BITS 56
/* 18 decimal digits always fit in a guint64. */
#define MAX_CONTENT_LENGTH_DIGITS 18
/* Requests forwarded whose responses have not begun yet. A client that pipelines more has
 * its later Upgrade ignored (we lose track of which response answers it, so never go raw). */
#define MAX_OUTSTANDING 64

/* What the response tracker must know of each forwarded request, oldest first. */
enum {
  REQ_HEAD = 1 << 0,    /* RFC 9110 §9.3.2: its response has no content */
  REQ_UPGRADE = 1 << 1, /* Upgrade + Connection: upgrade: a 101 switches (RFC 9110 §7.8) */
  REQ_CONNECT = 1 << 2, /* a 2xx makes a tunnel (RFC 9110 §9.3.6) */
};

typedef enum {
  RESP_HEAD,       /* accumulating a response head */
  RESP_BODY_LENGTH,
  RESP_CHUNK_SIZE,
  RESP_CHUNK_DATA,
  RESP_CHUNK_DATA_CRLF,
  RESP_TRAILER,
  RESP_IGNORED,    /* close-delimited body, raw, or out of step: no more responses to read */
} RespState;

typedef enum {
  STATE_HEAD,            /* accumulating a request head */
  STATE_BODY_LENGTH,     /* Content-Length body: `remaining` bytes to copy */
  STATE_CHUNK_SIZE,      /* accumulating a chunk-size line */
  STATE_CHUNK_DATA,      /* copying `remaining` bytes of chunk data */
  STATE_CHUNK_DATA_CRLF, /* the CRLF that ends chunk data */
  STATE_TRAILER,         /* trailer field lines up to the empty line */
  STATE_RAW,             /* the origin accepted an Upgrade/CONNECT: no more HTTP here */
  STATE_REJECTED,
} State;

struct _NfltrHttpRewriter
{
  char       *public_host;  /* lower case, no trailing dot */
  char       *client_ip;

  State       state;
  GByteArray *head;         /* the head being accumulated, at most NFLTR_HTTP_MAX_HEAD */
  gsize       line_start;   /* offset in head of the line being accumulated */
  GByteArray *line;         /* a chunk-size or trailer line being accumulated */
  gsize       trailer_bytes;
  guint64     remaining;
  guint       crlf_seen;
  GString    *xff;          /* scratch for the X-Forwarded-For value */
  guint64     requests;

  /* The local server's responses, read only to learn whether it switched protocols. */
  RespState   resp_state;
  GByteArray *resp_line;    /* a response head, chunk-size or trailer line */
  gsize       resp_line_start;
  guint64     resp_remaining;
  guint       resp_crlf_seen;
  guint8      outstanding[MAX_OUTSTANDING];  /* REQ_* of forwarded requests, a ring */
  guint       outstanding_first;
  guint       outstanding_len;
  gboolean    lost_track;   /* never go raw again */

  guint       status;
  char       *reason;
  GBytes     *response;
};

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
    default:  return "Error";
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

static gboolean
is_ows (guchar c)
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
static gboolean
authority_matches (const NfltrHttpRewriter *self, const char *value, gsize len, gboolean *valid)
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
  return host_len == strlen (self->public_host) &&
         g_ascii_strncasecmp (value, self->public_host, host_len) == 0;
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

      while (s < e && is_ows (*s))
        s++;
      while (e > s && is_ows (e[-1]))
        e--;
      if ((gsize) (e - s) == tlen && g_ascii_strncasecmp (s, token, tlen) == 0)
        return TRUE;
      p = comma != NULL ? comma + 1 : end;
    }
  return FALSE;
}

typedef struct {
  gboolean te_seen;
  gboolean te_chunked_last;
  gboolean te_chunked_twice;
  gboolean cl_seen;
  gboolean cl_bad;
  guint64  content_length;
  guint    host_count;
  const char *host;
  gsize    host_len;
  gboolean upgrade;
  gboolean connection_upgrade;
} HeadInfo;

/* RFC 9112 §6.3: several Content-Length values are acceptable only when all equal. */
static void
parse_content_length (HeadInfo *info, const char *value, gsize len)
{
  const char *p = value, *end = value + len;

  while (p <= end)
    {
      const char *comma = memchr (p, ',', end - p);
      const char *e = comma != NULL ? comma : end;
      const char *s = p;
      guint64 n = 0;
      guint digits = 0;

      while (s < e && is_ows (*s))
        s++;
      while (e > s && is_ows (e[-1]))
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

static void
parse_transfer_encoding (HeadInfo *info, const char *value, gsize len)
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
      while (s < e && is_ows (*s))
        s++;
      while (e > s && is_ows (e[-1]))
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
static gboolean
next_line (const guint8 *data, gsize end, gsize *pos, const char **line, gsize *line_len)
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

  if (!next_line (data, end, pos, &rl->line, &rl->line_len))
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

  if (is_ows (line[0]))
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
  while (value < value_end && is_ows (*value))
    value++;
  while (value_end > value && is_ows (value_end[-1]))
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
    parse_content_length (info, value, value_end - value);
  else if (IS ("transfer-encoding"))
    parse_transfer_encoding (info, value, value_end - value);
  else if (IS ("upgrade"))
    info->upgrade = value < value_end;
  else if (IS ("connection"))
    info->connection_upgrade |= list_has_token (value, value_end - value, "upgrade");

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

      if (!next_line (data, end, &pos, &line, &line_len))
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
static gboolean
parse_chunk_size (const guint8 *line, gsize len, guint64 *size)
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
  while (i < len && is_ows (line[i]))
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
        case STATE_HEAD:
          off += feed_head (self, p, avail, out);
          break;

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

              if (!parse_chunk_size (self->line->data, self->line->len, &size))
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
        default:
          g_assert_not_reached ();
        }
    }

  return self->state == STATE_REJECTED ? NFLTR_HTTP_REWRITE_REJECT : NFLTR_HTTP_REWRITE_CONTINUE;
}

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
  for (v = line + n + 1; v < e && is_ows (*v); v++)
    ;
  while (e > v && is_ows (e[-1]))
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

  if (!next_line (self->resp_line->data, end, &pos, &line, &len) || len < 12 ||
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

      if (!next_line (self->resp_line->data, end, &pos, &line, &len))
        {
          lose_track (self, "bare CR in a response header");
          return;
        }
      if (len == 0)
        break;
      if (resp_header_is (line, len, "content-length", &value, &value_len))
        parse_content_length (&info, value, value_len);
      else if (resp_header_is (line, len, "transfer-encoding", &value, &value_len))
        {
          parse_transfer_encoding (&info, value, value_len);
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
                    !parse_chunk_size (self->resp_line->data, self->resp_line->len, &size))
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
