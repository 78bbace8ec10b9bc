/* nfltr-http-filter.h — the http kind's stream filter: service/tunnels/nfltr-http-rewrite
 * (the pure HTTP/1.1 request rewriter) behind NfltrStreamFilter. */
#pragma once

#include "nfltr-stream-filter.h"
#include "nfltr-inspect-store.h" /* inspector (issue 9 §8) */

G_BEGIN_DECLS

#define NFLTR_TYPE_HTTP_FILTER (nfltr_http_filter_get_type ())
G_DECLARE_FINAL_TYPE (NfltrHttpFilter, nfltr_http_filter, NFLTR, HTTP_FILTER, GObject)

/* public_host: the host the client asked for (SNI); client_ip: for X-Forwarded-For. */
NfltrStreamFilter *nfltr_http_filter_new (const char *public_host,
                                          const char *client_ip);
/* --basic-auth: see nfltr_http_rewriter_set_basic_auth(). */
void               nfltr_http_filter_set_basic_auth (NfltrHttpFilter *self,
                                                     const char      *credentials);

/* inspector (issue 9 §8): record this connection's exchanges into store (NULL: none). */
void               nfltr_http_filter_set_inspect (NfltrHttpFilter   *self,
                                                  NfltrInspectStore *store,
                                                  const char        *client);

G_END_DECLS
