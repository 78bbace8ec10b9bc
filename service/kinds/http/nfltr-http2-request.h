/* nfltr-http2-request.h — what the HTTP/2 side of an http tunnel checks and adds on each
 * request before it reaches the local server: the same guarantees as the HTTP/1.1 rewriter
 * (docs/security.md, "what the rewriter guarantees"), on decoded header fields.
 *
 * Pure: fields in, fields out, no I/O. nghttp2 has already enforced RFC 9113 §8.2–§8.3
 * (lower-case names, no connection-specific fields, the pseudo-header rules) by the time
 * the fields get here. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Larger header sections are answered 431 (RFC 6585 §5), as for HTTP/1.1. */
#define NFLTR_HTTP2_MAX_HEADER_BYTES (64 * 1024)

typedef struct {
  char *name;   /* lower case (RFC 9113 §8.2.1) */
  gsize name_len;
  char *value;
  gsize value_len;
} NfltrHttp2Field;

/* A GPtrArray of NfltrHttp2Field that frees its elements. */
GPtrArray  *nfltr_http2_fields_new     (void);
void        nfltr_http2_fields_add     (GPtrArray  *fields,
                                        const char *name,
                                        gsize       name_len,
                                        const char *value,
                                        gsize       value_len);
/* The value of the first field called `name`, or NULL (borrowed, NUL-terminated). */
const char *nfltr_http2_fields_get     (GPtrArray  *fields,
                                        const char *name);

/* Checks a request's fields against the tunnel (public_host as the SNI named it) and, when
 * it may pass, returns the fields to send on: the client's, without Forwarded, X-Real-IP,
 * X-Forwarded-Proto and X-Forwarded-Host, with X-Forwarded-For ending in client_ip and
 * X-Forwarded-Proto: https and X-Forwarded-Host set. Otherwise returns NULL with *status
 * (400, 421 or 501) and *reason in words (free it). RFC 9113 §8.3.1: :authority, else Host,
 * names the target; when both are there, both must name this tunnel. */
GPtrArray  *nfltr_http2_check_request  (const char *public_host,
                                        const char *client_ip,
                                        GPtrArray  *fields,
                                        guint      *status,
                                        char      **reason);

G_END_DECLS
