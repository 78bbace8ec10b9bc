/* nfltr-http-rewrite-private.h — the rewriter's state and the parsing helpers its two halves
 * share: nfltr-http-rewrite.c (the client's requests) and nfltr-http-response.c (the local
 * server's answers, read only to learn whether it switched protocols). */
#pragma once

#include "nfltr-http-rewrite.h"

G_BEGIN_DECLS

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

struct _NfltrHttpRewriter {
  char       *public_host;  /* lower case, no trailing dot */
  char       *client_ip;
  char       *basic_auth;   /* USER:PASS every request must carry, or NULL */

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

/* What a request or response head says of its framing and authority. */
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
  gboolean auth_ok;         /* an Authorization field carried the tunnel's basic-auth */
} HeadInfo;

/* RFC 9110 §7.2: does a Host value or authority (uri-host [":" port]) name public_host
 * (lower case, no trailing dot), ignoring case, the port and a trailing dot? *valid is FALSE
 * when the value is not an authority at all. Shared with the HTTP/2 request check. */
gboolean _nfltr_http_authority_matches       (const char *public_host, const char *value,
                                              gsize len, gboolean *valid);
/* RFC 9112 §2.2: the next CRLF-terminated line of data[*pos..end); FALSE on a bare CR. */
gboolean _nfltr_http_next_line               (const guint8 *data, gsize end, gsize *pos,
                                              const char **line, gsize *line_len);
/* RFC 9110 §5.6.3: optional whitespace */
gboolean _nfltr_http_is_ows                  (guchar c);
/* RFC 9112 §7.1: a chunk-size line, extensions allowed; FALSE if malformed or too large. */
gboolean _nfltr_http_parse_chunk_size        (const guint8 *line, gsize len, guint64 *size);
/* RFC 9112 §6.2–§6.3: Content-Length and Transfer-Encoding values into info. */
void     _nfltr_http_parse_content_length    (HeadInfo *info, const char *value, gsize len);
void     _nfltr_http_parse_transfer_encoding (HeadInfo *info, const char *value, gsize len);

G_END_DECLS
