/* nfltr-web-socket.h — WebSockets for the app kinds' pages (terminal, ai, tail, watch) on the
 * web layer, and the feed that tail and watch push to their pages.
 *
 * nfltr_web_socket_upgrade () answers a request for a WebSocket from a handler of the web
 * layer (which has authenticated it): it refuses another site's page (cross-site WebSocket
 * hijacking: the cookie would ride along), completes the RFC 6455 handshake and, once the 101
 * is out, hands the connection to ready() on the web server's thread.
 *
 * A feed (NfltrWebFeed) is a bounded list of JSON messages, each with a sequence number, sent
 * to every attached page in order. A page has at most NFLTR_WEB_FEED_WINDOW bytes sent and not
 * acknowledged ("aCOUNT": the page has handled COUNT messages of this connection); a page that
 * falls behind further than the feed keeps is told {"t":"skipped","count":N} and goes on from
 * the oldest message kept. Nothing is queued without a bound. */
#pragma once

#include <libsoup/soup.h>

#include "nfltr-web.h"

G_BEGIN_DECLS

#define NFLTR_WEB_FEED_WINDOW (512 * 1024)

typedef void (*NfltrWebSocketReady) (NfltrWebServer          *web,
                                     SoupWebsocketConnection *ws,
                                     gpointer                 user_data);

/* user_data is freed with destroy (on the web thread) whether or not ready() ran. */
void nfltr_web_socket_upgrade (NfltrWebServer      *web,
                               SoupServerMessage   *msg,
                               NfltrWebSocketReady  ready,
                               gpointer             user_data,
                               GDestroyNotify       destroy);

/* TRUE when the connection's socket has half its send buffer still unsent: the peer
 * is not reading, whatever it acknowledges. Acknowledgements say what a page has handled; a
 * client that acknowledges without reading would otherwise make libsoup queue without end. */
gboolean nfltr_web_socket_is_backed_up (SoupWebsocketConnection *ws);

typedef struct _NfltrWebFeed NfltrWebFeed;

/* Keeps the newest max_messages messages, at most max_bytes together. */
NfltrWebFeed *nfltr_web_feed_new     (guint          max_messages,
                                      gsize          max_bytes);
void          nfltr_web_feed_free    (NfltrWebFeed  *feed);
/* Appends one JSON text and sends it to the pages that have room. */
void          nfltr_web_feed_append  (NfltrWebFeed  *feed,
                                      const char    *json);
/* Sends hello (JSON, may be NULL) first, then the feed from its oldest message kept. Takes a
 * reference on ws. */
void          nfltr_web_feed_attach  (NfltrWebFeed            *feed,
                                      SoupWebsocketConnection *ws,
                                      const char              *hello);
guint         nfltr_web_feed_get_n_pages (NfltrWebFeed *feed);
/* Every message kept, oldest first (for a text view). Transfer container. */
GPtrArray    *nfltr_web_feed_list    (NfltrWebFeed  *feed);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrWebFeed, nfltr_web_feed_free)

G_END_DECLS
