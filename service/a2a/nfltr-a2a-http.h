/* nfltr-a2a-http.h — `nfltr a2a serve` and `nfltr a2a connect` (docs/protocol.md §13.5):
 * HTTP requests and their (streamed) responses carried as a2a messages.
 *
 * connect: a SoupServer on 127.0.0.1 (fed by our own GSocketService with
 * soup_server_accept_iostream); each request becomes HTTP_REQUEST to the serving agent, and
 * its HTTP_RESPONSE, HTTP_BODY chunks and HTTP_END become the answer, chunk by chunk as they
 * arrive (so text/event-stream works). serve: each HTTP_REQUEST for a served name goes to the
 * target with a SoupSession, and the response body is forwarded as it is read. */
#pragma once

#include <gio/gio.h>

#include "nfltr-a2a-proto.h"

G_BEGIN_DECLS

typedef struct _NfltrA2aService NfltrA2aService;
typedef struct _NfltrA2aHttp NfltrA2aHttp;

NfltrA2aHttp *nfltr_a2a_http_new     (NfltrA2aService *service);
void          nfltr_a2a_http_free    (NfltrA2aHttp *http);

/* Serves name from target (http://127.0.0.1:PORT) until owner leaves connection's bus. */
gboolean      nfltr_a2a_http_serve   (NfltrA2aHttp    *http,
                                      const char      *name,
                                      const char      *target,
                                      GDBusConnection *connection,
                                      const char      *owner,
                                      GError         **error);
/* Listens on listen ("127.0.0.1:PORT") for requests to peer's name, until owner leaves.
 * Returns the address bound. */
char         *nfltr_a2a_http_connect (NfltrA2aHttp    *http,
                                      const char      *peer,
                                      const char      *name,
                                      const char      *listen,
                                      GDBusConnection *connection,
                                      const char      *owner,
                                      GError         **error);
/* An HTTP_* inner message from peer. */
void          nfltr_a2a_http_handle  (NfltrA2aHttp        *http,
                                      const char          *peer,
                                      const NfltrA2aInner *inner);

G_END_DECLS
