/* nfltr-inspect-h1.c — HTTP/1.1 requests and responses taken apart for the inspector (see the
 * header). Nothing here changes a byte: a connection it cannot follow is simply no longer
 * recorded. */
#define G_LOG_DOMAIN "nfltr-inspect"

#include "nfltr-inspect-h1.h"

#include "nfltr-inspect-record.h"

#include <string.h>

/* A head longer than this is not followed (the rewriter answers 431 above 64 KiB). */
#define MAX_HEAD (80 * 1024)
/* Requests waiting for their response, at most (pipelining deeper than this is not followed). */
#define MAX_PENDING 64

typedef enum {
  BODY_NONE,
  BODY_LENGTH,
  BODY_CHUNK_SIZE,
  BODY_CHUNK_DATA,
  BODY_CHUNK_CRLF,
  BODY_TRAILER,
  BODY_CLOSE,
} BodyMode;

typedef struct {
  BodyMode mode;
  guint64 remaining;
  GByteArray *line;   /* chunk-size and trailer lines */
} Body;

typedef struct {
  NfltrInspectRecord *rec;
  gboolean is_head;
  gboolean is_connect;
} Pending;

typedef struct {
  gboolean in_body;   /* else reading a head */
  GByteArray *head;
  Body body;
  gboolean lost;
} Direction;

struct _NfltrInspectH1 {
  NfltrInspectStore *store;
  char *client;
  guint64 replay_of;
  guint64 last_id;
  GQueue pending;      /* Pending, oldest first; the head is the one being answered */
  Pending *req_cur;    /* the request whose body is arriving, or NULL */
  Direction req;
  Direction resp;
  gboolean raw;        /* a protocol switch: nothing more is HTTP */
};

static void
pending_free (Pending *p, const char *error, NfltrInspectH1 *self)
{
  guint64 id;

  if (p->rec != NULL)
    {
      id = nfltr_inspect_record_finish (p->rec, error);
      if (self != NULL && id != 0)
        self->last_id = id;
    }
  g_free (p);
}

NfltrInspectH1 *
nfltr_inspect_h1_new (NfltrInspectStore *store, const char *client)
{
  NfltrInspectH1 *self = g_new0 (NfltrInspectH1, 1);

  self->store = store != NULL ? g_object_ref (store) : NULL;
  self->client = g_strdup (client);
  g_queue_init (&self->pending);
  self->req.head = g_byte_array_new ();
  self->resp.head = g_byte_array_new ();
  self->req.body.line = g_byte_array_new ();
  self->resp.body.line = g_byte_array_new ();
  return self;
}

guint64
nfltr_inspect_h1_end (NfltrInspectH1 *self)
{
  Pending *p;
  gboolean first = TRUE;

  while ((p = g_queue_pop_head (&self->pending)) != NULL)
    {
      /* The one being answered to the close is complete; the rest never got an answer. */
      const char *error = NULL;

      if (!(first && self->resp.in_body && self->resp.body.mode == BODY_CLOSE))
        error = first && self->resp.in_body ? "the connection ended in the response"
                                            : "no response: the connection ended";
      if (p == self->req_cur)
        self->req_cur = NULL;
      pending_free (p, error, self);
      first = FALSE;
    }
  self->raw = TRUE;
  return self->last_id;
}

void
nfltr_inspect_h1_free (NfltrInspectH1 *self)
{
  if (self == NULL)
    return;
  nfltr_inspect_h1_end (self);
  g_clear_object (&self->store);
  g_free (self->client);
  g_byte_array_unref (self->req.head);
  g_byte_array_unref (self->resp.head);
  g_byte_array_unref (self->req.body.line);
  g_byte_array_unref (self->resp.body.line);
  g_free (self);
}

void
nfltr_inspect_h1_set_replay_of (NfltrInspectH1 *self, guint64 id)
{
  self->replay_of = id;
}

guint64
nfltr_inspect_h1_get_last_id (NfltrInspectH1 *self)
{
  return self->last_id;
}

/* --- heads ----------------------------------------------------------------------------- */

/* The end of a head in buf (the offset after its blank line), or 0. Bare LF line ends are
 * accepted as RFC 9112 §2.2 allows a recipient to. */
static gsize
head_end (const GByteArray *buf, gsize from)
{
  for (gsize i = from > 0 ? from - 1 : 0; i < buf->len; i++)
    {
      if (buf->data[i] != '\n')
        continue;
      if (i >= 1 && buf->data[i - 1] == '\n')
        return i + 1;
      if (i >= 2 && buf->data[i - 1] == '\r' && buf->data[i - 2] == '\n')
        return i + 1;
    }
  return 0;
}

/* Splits the head into lines without their CR LF; FALSE at a bare CR or NUL. */
static char **
head_lines (const guint8 *data, gsize len)
{
  g_autofree char *text = NULL;
  char **lines;

  if (memchr (data, '\0', len) != NULL)
    return NULL;
  text = g_strndup ((const char *) data, len);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      gsize l = strlen (lines[i]);

      if (l > 0 && lines[i][l - 1] == '\r')
        lines[i][l - 1] = '\0';
    }
  return lines;
}

typedef struct {
  gboolean chunked;
  gboolean has_length;
  guint64 length;
  gboolean bad;
} Framing;

/* One "name: value" field: recorded, and its framing noted (RFC 9112 §6.1, §6.2). */
static gboolean
field (NfltrInspectRecord *rec, gboolean response, const char *line, Framing *f)
{
  const char *colon = strchr (line, ':');
  const char *v, *e;
  gsize name_len;

  if (colon == NULL || colon == line)
    return FALSE;
  name_len = colon - line;
  for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
    ;
  e = v + strlen (v);
  while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  if (response)
    nfltr_inspect_record_response_header (rec, line, name_len, v, e - v);
  else
    nfltr_inspect_record_request_header (rec, line, name_len, v, e - v);
  if (name_len == 17 && g_ascii_strncasecmp (line, "transfer-encoding", 17) == 0)
    {
      g_autofree char *value = g_ascii_strdown (v, e - v);

      /* chunked must be the last coding (§6.1); anything else is read to the close. */
      f->chunked = g_str_has_suffix (value, "chunked");
      if (!f->chunked)
        f->bad = TRUE;
    }
  else if (name_len == 14 && g_ascii_strncasecmp (line, "content-length", 14) == 0)
    {
      g_autofree char *value = g_strndup (v, e - v);
      guint64 n;

      if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64, &n, NULL) ||
          (f->has_length && n != f->length))
        f->bad = TRUE;
      f->has_length = TRUE;
      f->length = n;
    }
  return TRUE;
}

static void
lose (NfltrInspectH1 *self, Direction *d, const char *why)
{
  g_debug ("inspector: no longer following the connection: %s", why);
  d->lost = TRUE;
  self->req.lost = self->resp.lost = TRUE;
}

static void
start_body (Direction *d, const Framing *f, gboolean none, gboolean to_close)
{
  d->body.remaining = 0;
  g_byte_array_set_size (d->body.line, 0);
  if (none)
    d->body.mode = BODY_NONE;
  else if (f->chunked)
    d->body.mode = BODY_CHUNK_SIZE;
  else if (f->has_length)
    {
      d->body.mode = f->length > 0 ? BODY_LENGTH : BODY_NONE;
      d->body.remaining = f->length;
    }
  else
    d->body.mode = to_close ? BODY_CLOSE : BODY_NONE;
  d->in_body = d->body.mode != BODY_NONE;
}

static void
request_head (NfltrInspectH1 *self, const guint8 *data, gsize len)
{
  g_auto(GStrv) lines = head_lines (data, len);
  g_auto(GStrv) parts = NULL;
  Framing f = { 0 };
  Pending *p;

  if (lines == NULL || lines[0] == NULL)
    return lose (self, &self->req, "malformed request head");
  parts = g_strsplit (lines[0], " ", 3);
  if (g_strv_length (parts) != 3 || !g_str_has_prefix (parts[2], "HTTP/1."))
    return lose (self, &self->req, "malformed request line");
  if (self->pending.length >= MAX_PENDING)
    return lose (self, &self->req, "too many requests waiting");

  p = g_new0 (Pending, 1);
  p->rec = nfltr_inspect_record_new (self->store, "1.1", self->client);
  nfltr_inspect_record_request_line (p->rec, parts[0], parts[1]);
  if (self->replay_of != 0)
    nfltr_inspect_record_set_replay_of (p->rec, self->replay_of);
  p->is_head = strcmp (parts[0], "HEAD") == 0;
  p->is_connect = strcmp (parts[0], "CONNECT") == 0;
  for (guint i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
    if (!field (p->rec, FALSE, lines[i], &f))
      {
        pending_free (p, "malformed request field", self);
        return lose (self, &self->req, "malformed request field");
      }
  g_queue_push_tail (&self->pending, p);
  if (f.bad)
    return lose (self, &self->req, "request framing it cannot follow");
  /* A request without Content-Length or chunked has no body (RFC 9112 §6.3 point 6). */
  start_body (&self->req, &f, FALSE, FALSE);
  self->req_cur = self->req.in_body ? p : NULL;
}

static void
response_head (NfltrInspectH1 *self, const guint8 *data, gsize len)
{
  g_auto(GStrv) lines = head_lines (data, len);
  Pending *p = g_queue_peek_head (&self->pending);
  Framing f = { 0 };
  const char *l;
  guint status;

  if (lines == NULL || lines[0] == NULL)
    return lose (self, &self->resp, "malformed response head");
  l = lines[0];
  if (strlen (l) < 12 || strncmp (l, "HTTP/1.", 7) != 0 || l[8] != ' ' || !g_ascii_isdigit (l[9]) ||
      !g_ascii_isdigit (l[10]) || !g_ascii_isdigit (l[11]) || (l[12] != '\0' && l[12] != ' '))
    return lose (self, &self->resp, "malformed status line");
  status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
  if (p == NULL)
    return lose (self, &self->resp, "a response without a request");
  /* Interim responses (RFC 9110 §15.2) other than 101 precede the final one. */
  if (status >= 100 && status < 200 && status != 101)
    return;
  nfltr_inspect_record_response_status (p->rec, status);
  for (guint i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
    if (!field (p->rec, TRUE, lines[i], &f))
      return lose (self, &self->resp, "malformed response field");
  if (status == 101 || (p->is_connect && status >= 200 && status < 300))
    {
      /* The protocol switched: the exchange ends here, the rest is not HTTP. */
      g_queue_pop_head (&self->pending);
      if (p == self->req_cur)
        self->req_cur = NULL;
      pending_free (p, NULL, self);
      self->raw = TRUE;
      return;
    }
  if (f.bad && !f.chunked)
    f.has_length = FALSE;
  /* RFC 9112 §6.3: HEAD, 204 and 304 have no content; without framing, it is read to the close. */
  start_body (&self->resp, &f, p->is_head || status == 204 || status == 304, TRUE);
  if (!self->resp.in_body)
    {
      g_queue_pop_head (&self->pending);
      if (p == self->req_cur)
        {
          /* Answered before its body ended (a 413, say): the rest is not recorded. */
          self->req_cur = NULL;
        }
      pending_free (p, NULL, self);
    }
}

/* --- bodies ---------------------------------------------------------------------------- */

typedef void (*BodyFunc) (NfltrInspectRecord *rec, const guint8 *data, gsize len);

/* Feeds body bytes; returns how many were consumed. Sets *done at the body's end. FALSE in
 * *ok at framing it cannot read. */
static gsize
body_feed (Body *b, NfltrInspectRecord *rec, BodyFunc emit, const guint8 *data, gsize len,
           gboolean *done, gboolean *ok)
{
  gsize pos = 0;

  *done = FALSE;
  *ok = TRUE;
  while (pos < len && !*done)
    {
      switch (b->mode)
        {
          case BODY_NONE: *done = TRUE; break;
          case BODY_CLOSE:
            emit (rec, data + pos, len - pos);
            pos = len;
            break;
          case BODY_LENGTH:
          case BODY_CHUNK_DATA:
            {
              gsize n = (gsize) MIN ((guint64) (len - pos), b->remaining);

              emit (rec, data + pos, n);
              pos += n;
              b->remaining -= n;
              if (b->remaining == 0)
                {
                  if (b->mode == BODY_LENGTH)
                    *done = TRUE;
                  else
                    b->mode = BODY_CHUNK_CRLF;
                }
            }
            break;
          case BODY_CHUNK_CRLF:
          case BODY_CHUNK_SIZE:
          case BODY_TRAILER:
            {
              const guint8 *nl = memchr (data + pos, '\n', len - pos);
              gsize n = nl != NULL ? (gsize) (nl - (data + pos)) + 1 : len - pos;
              const char *line;
              gsize line_len;

              if (b->line->len + n > 4096)
                {
                  *ok = FALSE;
                  return pos;
                }
              g_byte_array_append (b->line, data + pos, n);
              pos += n;
              if (nl == NULL)
                break;
              line = (const char *) b->line->data;
              line_len = b->line->len - 1;
              if (line_len > 0 && line[line_len - 1] == '\r')
                line_len--;
              if (b->mode == BODY_CHUNK_CRLF)
                {
                  if (line_len != 0)
                    *ok = FALSE;
                  b->mode = BODY_CHUNK_SIZE;
                }
              else if (b->mode == BODY_CHUNK_SIZE)
                {
                  guint64 size = 0;
                  gsize i;

                  /* RFC 9112 §7.1: chunk-size [ chunk-ext ]. */
                  for (i = 0; i < line_len && g_ascii_isxdigit (line[i]); i++)
                    {
                      if (size > (G_MAXUINT64 >> 4))
                        {
                          *ok = FALSE;
                          break;
                        }
                      size = (size << 4) | g_ascii_xdigit_value (line[i]);
                    }
                  if (i == 0)
                    *ok = FALSE;
                  b->remaining = size;
                  b->mode = size > 0 ? BODY_CHUNK_DATA : BODY_TRAILER;
                }
              else if (line_len == 0)
                *done = TRUE;
              g_byte_array_set_size (b->line, 0);
              if (!*ok)
                return pos;
            }
            break;
          default: g_assert_not_reached ();
        }
    }
  if (b->mode == BODY_NONE)
    *done = TRUE;
  return pos;
}

/* --- the two streams ------------------------------------------------------------------- */

static void
feed (NfltrInspectH1 *self, gboolean response, const guint8 *data, gsize len)
{
  Direction *d = response ? &self->resp : &self->req;

  while (len > 0 && !d->lost && !self->raw)
    {
      if (d->in_body)
        {
          Pending *p = response ? g_queue_peek_head (&self->pending) : self->req_cur;
          gboolean done, ok;
          gsize used;

          used = body_feed (&d->body, p != NULL ? p->rec : NULL,
                            response ? nfltr_inspect_record_response_body
                                     : nfltr_inspect_record_request_body,
                            data, len, &done, &ok);
          data += used;
          len -= used;
          if (!ok)
            return lose (self, d, "body framing it cannot read");
          if (done)
            {
              d->in_body = FALSE;
              if (response && p != NULL)
                {
                  g_queue_pop_head (&self->pending);
                  if (p == self->req_cur)
                    self->req_cur = NULL;
                  pending_free (p, NULL, self);
                }
              else if (!response)
                self->req_cur = NULL;
            }
          continue;
        }
      else
        {
          gsize before = d->head->len, end;

          g_byte_array_append (d->head, data, len);
          end = head_end (d->head, before);
          if (end == 0)
            {
              if (d->head->len > MAX_HEAD)
                lose (self, d, "head too long");
              return;
            }
          /* What follows the head goes round the loop again. */
          data += end - before;
          len -= end - before;
          if (response)
            response_head (self, d->head->data, end);
          else
            request_head (self, d->head->data, end);
          g_byte_array_set_size (d->head, 0);
        }
    }
}

void
nfltr_inspect_h1_feed_request (NfltrInspectH1 *self, const guint8 *data, gsize len)
{
  if (self->store == NULL)
    return;
  feed (self, FALSE, data, len);
}

void
nfltr_inspect_h1_feed_response (NfltrInspectH1 *self, const guint8 *data, gsize len)
{
  if (self->store == NULL)
    return;
  feed (self, TRUE, data, len);
}
