/* nfltr-web-socket.c — WebSockets for the app kinds' pages, and the feed tail and watch push */
#define G_LOG_DOMAIN "nfltr-web"

#include "nfltr-web-socket.h"

#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "nfltr-term-message.h"

/* How often a page whose socket is backed up is looked at again. */
#define FEED_RETRY_MS 100

/* ---- the upgrade ---- */

typedef struct {
  NfltrWebServer *web;
  NfltrWebSocketReady ready;
  gpointer user_data;
  GDestroyNotify destroy;
} Upgrade;

static void
upgrade_free (gpointer data, GClosure *closure)
{
  Upgrade *up = data;

  if (up->destroy != NULL)
    up->destroy (up->user_data);
  g_free (up);
}

/* The 101 went out: the connection is the WebSocket's now (as libsoup's own websocket
 * handlers do it). */
static void
upgraded_cb (SoupServerMessage *msg, gpointer user_data)
{
  Upgrade *up = user_data;
  g_autoptr(GIOStream) stream = soup_server_message_steal_connection (msg);
  const char *origin = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Origin");
  g_autoptr(SoupWebsocketConnection) ws =
    soup_websocket_connection_new (stream, soup_server_message_get_uri (msg),
                                   SOUP_WEBSOCKET_CONNECTION_SERVER, origin, NULL, NULL);

  /* Pages send small messages; the terminal's paste is the biggest. */
  soup_websocket_connection_set_max_incoming_payload_size (ws, NFLTR_TERM_MESSAGE_MAX + 1);
  up->ready (up->web, ws, up->user_data);
}

/* The page's own origin only (or no Origin: not a browser, so no cookie rode along that the
 * client did not send itself). */
static gboolean
same_origin (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (h, "Origin");
  const char *host = soup_message_headers_get_one (h, "Host");
  g_autofree char *expected = NULL;

  if (origin == NULL)
    return TRUE;
  if (host == NULL)
    return FALSE;
  expected = g_strdup_printf ("https://%s", host);
  return g_ascii_strcasecmp (origin, expected) == 0;
}

void
nfltr_web_socket_upgrade (NfltrWebServer      *web,
                          SoupServerMessage   *msg,
                          NfltrWebSocketReady  ready,
                          gpointer             user_data,
                          GDestroyNotify       destroy)
{
  Upgrade *up;

  if (!same_origin (msg))
    {
      nfltr_web_respond_error (web, msg, SOUP_STATUS_FORBIDDEN,
                               "Another site's page may not open this one's connection.");
      if (destroy != NULL)
        destroy (user_data);
      return;
    }
  if (!soup_websocket_server_process_handshake (msg, NULL, NULL, NULL, NULL))
    {
      /* Answered: 400 with the reason. */
      if (destroy != NULL)
        destroy (user_data);
      return;
    }
  up = g_new0 (Upgrade, 1);
  up->web = web;
  up->ready = ready;
  up->user_data = user_data;
  up->destroy = destroy;
  g_signal_connect_data (msg, "wrote-informational", G_CALLBACK (upgraded_cb), up, upgrade_free, 0);
}

gboolean
nfltr_web_socket_is_backed_up (SoupWebsocketConnection *ws)
{
  GIOStream *stream = soup_websocket_connection_get_io_stream (ws);
  GSocket *socket;
  int queued = 0, sndbuf = 0;

  if (!G_IS_SOCKET_CONNECTION (stream))
    return FALSE;
  socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));
  /* SIOCOUTQ: bytes written and not yet taken by the other end (unix(7), tcp(7)). Half the
   * send buffer still queued: the other end is not reading; libsoup would queue the rest. */
  if (ioctl (g_socket_get_fd (socket), SIOCOUTQ, &queued) < 0 ||
      !g_socket_get_option (socket, SOL_SOCKET, SO_SNDBUF, &sndbuf, NULL) || sndbuf <= 0)
    return FALSE;
  return queued >= sndbuf / 2;
}

/* ---- the feed ---- */

typedef struct {
  guint64 seq;
  GBytes *json;
} Entry;

typedef struct {
  NfltrWebFeed            *feed;
  SoupWebsocketConnection *ws;
  guint64                  next;       /* the next seq to send */
  guint64                  sent;       /* messages sent over this connection */
  guint64                  acked;
  GQueue                   sizes;      /* of the unacknowledged messages, oldest first */
  gsize                    inflight;   /* their bytes */
  GSource                 *retry;      /* while the socket is backed up */
} FeedPage;

struct _NfltrWebFeed {
  GQueue     entries;  /* Entry*, oldest first */
  guint64    next_seq;
  gsize      bytes;
  guint      max_messages;
  gsize      max_bytes;
  GPtrArray *pages;
};

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_bytes_unref (e->json);
  g_free (e);
}

static void
feed_page_free (gpointer data)
{
  FeedPage *page = data;

  if (page->retry != NULL)
    {
      g_source_destroy (page->retry);
      g_source_unref (page->retry);
    }
  g_signal_handlers_disconnect_by_data (page->ws, page);
  if (soup_websocket_connection_get_state (page->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (page->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_object_unref (page->ws);
  g_queue_clear (&page->sizes);
  g_free (page);
}

NfltrWebFeed *
nfltr_web_feed_new (guint max_messages, gsize max_bytes)
{
  NfltrWebFeed *feed = g_new0 (NfltrWebFeed, 1);

  g_queue_init (&feed->entries);
  feed->max_messages = MAX (max_messages, 1);
  feed->max_bytes = max_bytes;
  feed->pages = g_ptr_array_new_with_free_func (feed_page_free);
  return feed;
}

void
nfltr_web_feed_free (NfltrWebFeed *feed)
{
  if (feed == NULL)
    return;
  g_ptr_array_unref (feed->pages);
  g_queue_clear_full (&feed->entries, entry_free);
  g_free (feed);
}

static guint64
oldest_seq (NfltrWebFeed *feed)
{
  Entry *e = g_queue_peek_head (&feed->entries);

  return e != NULL ? e->seq : feed->next_seq;
}

static void
send_to (FeedPage *page, GBytes *json)
{
  gsize len = g_bytes_get_size (json);

  soup_websocket_connection_send_message (page->ws, SOUP_WEBSOCKET_DATA_TEXT, json);
  page->sent++;
  page->inflight += len;
  g_queue_push_tail (&page->sizes, GSIZE_TO_POINTER (len));
}

static void pump (NfltrWebFeed *feed, FeedPage *page);

static gboolean
feed_retry_cb (gpointer user_data)
{
  FeedPage *page = user_data;

  g_clear_pointer (&page->retry, g_source_unref);
  pump (page->feed, page);
  return G_SOURCE_REMOVE;
}

static void
pump (NfltrWebFeed *feed, FeedPage *page)
{
  guint64 oldest = oldest_seq (feed);

  /* A full page is sent nothing, not even the note of what it missed: that comes once it
   * has room again, however much it missed by then. */
  if (soup_websocket_connection_get_state (page->ws) != SOUP_WEBSOCKET_STATE_OPEN ||
      page->inflight >= NFLTR_WEB_FEED_WINDOW)
    return;
  if (nfltr_web_socket_is_backed_up (page->ws))
    {
      /* Acknowledged but not read (nfltr_web_socket_is_backed_up): look again later. */
      if (page->retry == NULL)
        {
          page->retry = g_timeout_source_new (FEED_RETRY_MS);
          g_source_set_callback (page->retry, feed_retry_cb, page, NULL);
          g_source_attach (page->retry, g_main_context_get_thread_default ());
        }
      return;
    }
  if (page->next < oldest)
    {
      g_autofree char *text = g_strdup_printf ("{\"t\":\"skipped\",\"count\":%" G_GUINT64_FORMAT "}",
                                               oldest - page->next);
      g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));

      send_to (page, bytes);
      page->next = oldest;
    }
  /* The queue is short (bounded by max_messages); walking it from the start is fine. */
  for (GList *l = feed->entries.head; l != NULL && page->inflight < NFLTR_WEB_FEED_WINDOW; l = l->next)
    {
      Entry *e = l->data;

      if (e->seq < page->next)
        continue;
      send_to (page, e->json);
      page->next = e->seq + 1;
    }
}

void
nfltr_web_feed_append (NfltrWebFeed *feed, const char *json)
{
  Entry *e = g_new0 (Entry, 1);

  e->seq = feed->next_seq++;
  e->json = g_bytes_new (json, strlen (json));
  feed->bytes += g_bytes_get_size (e->json);
  g_queue_push_tail (&feed->entries, e);
  while (feed->entries.length > 1 &&
         (feed->entries.length > feed->max_messages || feed->bytes > feed->max_bytes))
    {
      Entry *old = g_queue_pop_head (&feed->entries);

      feed->bytes -= g_bytes_get_size (old->json);
      entry_free (old);
    }
  for (guint i = 0; i < feed->pages->len; i++)
    pump (feed, g_ptr_array_index (feed->pages, i));
}

static void
feed_message_cb (SoupWebsocketConnection *ws, int type, GBytes *message, gpointer user_data)
{
  FeedPage *page = user_data;
  NfltrWebFeed *feed = page->feed;
  g_autoptr(GError) error = NULL;
  NfltrTermMessage m;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (!nfltr_term_message_parse (data, len, &m, &error) || m.type != NFLTR_TERM_MESSAGE_ACK ||
      m.count < page->acked || m.count > page->sent)
    {
      g_debug ("feed page dropped: %s", error != NULL ? error->message : "not an ack of what was sent");
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR, NULL);
      g_ptr_array_remove (feed->pages, page);
      return;
    }
  while (page->acked < m.count)
    {
      page->inflight -= GPOINTER_TO_SIZE (g_queue_pop_head (&page->sizes));
      page->acked++;
    }
  pump (feed, page);
}

static void
feed_closed_cb (SoupWebsocketConnection *ws, gpointer user_data)
{
  FeedPage *page = user_data;

  g_ptr_array_remove (page->feed->pages, page);
}

void
nfltr_web_feed_attach (NfltrWebFeed *feed, SoupWebsocketConnection *ws, const char *hello)
{
  FeedPage *page = g_new0 (FeedPage, 1);

  page->feed = feed;
  page->ws = g_object_ref (ws);
  page->next = oldest_seq (feed);
  g_queue_init (&page->sizes);
  g_signal_connect (ws, "message", G_CALLBACK (feed_message_cb), page);
  g_signal_connect (ws, "closed", G_CALLBACK (feed_closed_cb), page);
  g_ptr_array_add (feed->pages, page);
  if (hello != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (hello, strlen (hello));

      send_to (page, bytes);
    }
  pump (feed, page);
}

guint
nfltr_web_feed_get_n_pages (NfltrWebFeed *feed)
{
  return feed->pages->len;
}

GPtrArray *
nfltr_web_feed_list (NfltrWebFeed *feed)
{
  GPtrArray *out = g_ptr_array_new ();

  for (GList *l = feed->entries.head; l != NULL; l = l->next)
    g_ptr_array_add (out, ((Entry *) l->data)->json);
  return out;
}
