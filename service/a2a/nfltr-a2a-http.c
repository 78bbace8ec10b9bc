/* nfltr-a2a-http.c — HTTP over a2a messages (nfltr-a2a-http.h, docs/protocol.md §13.5). */
#define G_LOG_DOMAIN "nfltr-a2a"

#include "nfltr-a2a-http.h"
#include "nfltr-a2a-service.h"
#include "nfltr-error.h"
#include "nfltr-resolve.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sodium.h>
#include <string.h>

#define STREAM_ID_BYTES   16
#define CHUNK_BYTES       (64 * 1024)
#define RESPONSE_WAIT_S   60   /* a request nobody answers ends as 504 */

struct _NfltrA2aHttp {
  NfltrA2aService *service;
  GHashTable      *served;     /* name → Served* */
  GHashTable      *connectors; /* Connector* set */
  GHashTable      *streams;    /* stream id hex → Stream* (connect side, waiting for answers) */
  GHashTable      *outgoing;   /* stream id hex → Upstream* (serve side, reading the target) */
  SoupSession     *session;
};

typedef struct {
  NfltrA2aHttp    *http;
  char            *name;
  char            *target;
  GDBusConnection *connection;
  guint            watch_id;
} Served;

typedef struct {
  NfltrA2aHttp     *http;
  char             *peer;
  char             *name;
  GSocketService   *listener;
  SoupServer       *server;
  GDBusConnection  *connection;
  guint             watch_id;
} Connector;

typedef struct {
  NfltrA2aHttp      *http;
  Connector         *connector;
  char              *id_hex;
  guint8             id[STREAM_ID_BYTES];
  SoupServerMessage *msg;
  gboolean           answered;
  guint              timeout_id;
} Stream;

typedef struct {
  NfltrA2aHttp *http;
  char         *peer;
  char         *id_hex;
  guint8        id[STREAM_ID_BYTES];
  SoupMessage  *msg;
  GInputStream *body;
  GCancellable *cancellable;
  guint8        buf[CHUNK_BYTES];
} Upstream;

static char *
to_hex (const guint8 *data, gsize len)
{
  char *out = g_malloc (len * 2 + 1);

  sodium_bin2hex (out, len * 2 + 1, data, len);
  return out;
}

/* stream id | u32 JSON length | JSON | rest */
static GBytes *
pack (const guint8 *id, JsonNode *meta, const guint8 *rest, gsize rest_len)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *json = NULL;
  gsize json_len;
  guint32 len_be;
  GByteArray *out = g_byte_array_new ();

  json_generator_set_root (gen, meta);
  json = json_generator_to_data (gen, &json_len);
  len_be = GUINT32_TO_BE ((guint32) json_len);
  g_byte_array_append (out, id, STREAM_ID_BYTES);
  g_byte_array_append (out, (const guint8 *) &len_be, 4);
  g_byte_array_append (out, (const guint8 *) json, json_len);
  if (rest_len > 0)
    g_byte_array_append (out, rest, rest_len);
  return g_byte_array_free_to_bytes (out);
}

/* The JSON object of an HTTP_REQUEST or HTTP_RESPONSE payload, and what follows it. */
static JsonObject *
unpack (const NfltrA2aInner *inner, const guint8 **rest, gsize *rest_len, JsonParser **parser_out)
{
  guint32 len_be;
  gsize json_len;
  g_autoptr(JsonParser) parser = json_parser_new ();

  memcpy (&len_be, inner->payload + STREAM_ID_BYTES, 4);
  json_len = GUINT32_FROM_BE (len_be);
  if (!json_parser_load_from_data (parser, (const char *) inner->payload + 20, json_len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  *rest = inner->payload + 20 + json_len;
  *rest_len = inner->payload_len - 20 - json_len;
  *parser_out = g_steal_pointer (&parser);
  return json_node_get_object (json_parser_get_root (*parser_out));
}

/* Hop-by-hop headers and the framing stay on their own side of the a2a hop. */
static gboolean
header_is_carried (const char *name)
{
  static const char * const skip[] = { "connection", "keep-alive", "transfer-encoding", "content-length",
                                       "te",         "trailer",    "upgrade",           "proxy-connection",
                                       "host",       NULL };

  for (guint i = 0; skip[i] != NULL; i++)
    if (g_ascii_strcasecmp (name, skip[i]) == 0)
      return FALSE;
  return TRUE;
}

static void
headers_to_json (SoupMessageHeaders *headers, JsonBuilder *b)
{
  SoupMessageHeadersIter iter;
  const char *name, *value;

  json_builder_set_member_name (b, "headers");
  json_builder_begin_array (b);
  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    if (header_is_carried (name))
      {
        json_builder_begin_array (b);
        json_builder_add_string_value (b, name);
        json_builder_add_string_value (b, value);
        json_builder_end_array (b);
      }
  json_builder_end_array (b);
}

static void
headers_from_json (JsonObject *o, SoupMessageHeaders *headers)
{
  JsonArray *list = json_object_get_array_member (o, "headers");

  for (guint i = 0; list != NULL && i < json_array_get_length (list); i++)
    {
      JsonArray *pair = json_array_get_array_element (list, i);
      const char *name, *value;

      if (pair == NULL || json_array_get_length (pair) != 2)
        continue;
      name = json_array_get_string_element (pair, 0);
      value = json_array_get_string_element (pair, 1);
      if (name != NULL && value != NULL && header_is_carried (name))
        soup_message_headers_append (headers, name, value);
    }
}

static void
send_or_log (NfltrA2aHttp *http, const char *peer, guint8 type, GBytes *payload)
{
  g_autoptr(GError) error = NULL;

  if (!nfltr_a2a_service_send_inner (http->service, peer, type, g_bytes_get_data (payload, NULL),
                                     g_bytes_get_size (payload), &error))
    g_message ("a2a http: cannot send to %s: %s", peer, error->message);
}

static void
send_end (NfltrA2aHttp *http, const char *peer, const guint8 *id, const char *why)
{
  GByteArray *out = g_byte_array_new ();
  g_autoptr(GBytes) payload = NULL;

  g_byte_array_append (out, id, STREAM_ID_BYTES);
  if (why != NULL)
    g_byte_array_append (out, (const guint8 *) why, strlen (why));
  payload = g_byte_array_free_to_bytes (out);
  send_or_log (http, peer, NFLTR_A2A_INNER_HTTP_END, payload);
}

/* --- the serve side ----------------------------------------------------------------------- */

static void
upstream_free (Upstream *up)
{
  g_cancellable_cancel (up->cancellable);
  g_clear_object (&up->cancellable);
  g_clear_object (&up->body);
  g_clear_object (&up->msg);
  g_free (up->peer);
  g_free (up->id_hex);
  g_free (up);
}

static void
upstream_done (Upstream *up, const char *why)
{
  send_end (up->http, up->peer, up->id, why);
  g_hash_table_remove (up->http->outgoing, up->id_hex);
}

static void
body_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Upstream *up = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (n < 0)
    {
      upstream_done (up, error->message);
      return;
    }
  if (n == 0)
    {
      upstream_done (up, NULL);
      return;
    }
  {
    GByteArray *out = g_byte_array_sized_new (STREAM_ID_BYTES + n);
    g_autoptr(GBytes) payload = NULL;

    g_byte_array_append (out, up->id, STREAM_ID_BYTES);
    g_byte_array_append (out, up->buf, n);
    payload = g_byte_array_free_to_bytes (out);
    send_or_log (up->http, up->peer, NFLTR_A2A_INNER_HTTP_BODY, payload);
  }
  g_input_stream_read_async (up->body, up->buf, sizeof up->buf, G_PRIORITY_DEFAULT, up->cancellable, body_read_cb, up);
}

static void
target_sent_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Upstream *up = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) meta = NULL;
  g_autoptr(GBytes) payload = NULL;
  GInputStream *body = soup_session_send_finish (SOUP_SESSION (source), result, &error);

  /* Cancelled: up is already freed (the stream ended, or the service is stopping). */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  up->body = body;
  if (up->body == NULL)
    {
      g_autofree char *why = g_strdup_printf ("the served agent's target did not answer: %s", error->message);

      upstream_done (up, why);
      return;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_int_value (b, soup_message_get_status (up->msg));
  json_builder_set_member_name (b, "reason");
  json_builder_add_string_value (b, soup_message_get_reason_phrase (up->msg));
  headers_to_json (soup_message_get_response_headers (up->msg), b);
  json_builder_end_object (b);
  meta = json_builder_get_root (b);
  payload = pack (up->id, meta, NULL, 0);
  send_or_log (up->http, up->peer, NFLTR_A2A_INNER_HTTP_RESPONSE, payload);
  g_input_stream_read_async (up->body, up->buf, sizeof up->buf, G_PRIORITY_DEFAULT, up->cancellable, body_read_cb, up);
}

static void
serve_request (NfltrA2aHttp *http, const char *peer, const NfltrA2aInner *inner)
{
  const guint8 *rest;
  gsize rest_len;
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *o = unpack (inner, &rest, &rest_len, &parser);
  const char *name, *method, *path;
  Served *served;
  g_autofree char *url = NULL;
  Upstream *up;

  if (o == NULL)
    return;
  name = json_object_get_string_member_with_default (o, "name", "");
  method = json_object_get_string_member_with_default (o, "method", "GET");
  path = json_object_get_string_member_with_default (o, "path", "/");
  served = g_hash_table_lookup (http->served, name);
  if (served == NULL || path[0] != '/')
    {
      g_autofree char *why = g_strdup_printf ("this agent does not serve “%s”", name);

      send_end (http, peer, inner->payload, why);
      return;
    }
  url = g_strconcat (served->target, path, NULL);
  up = g_new0 (Upstream, 1);
  up->http = http;
  up->peer = g_strdup (peer);
  memcpy (up->id, inner->payload, STREAM_ID_BYTES);
  up->id_hex = to_hex (up->id, STREAM_ID_BYTES);
  up->cancellable = g_cancellable_new ();
  up->msg = soup_message_new (method, url);
  if (up->msg == NULL)
    {
      send_end (http, peer, up->id, "not a valid request path");
      upstream_free (up);
      return;
    }
  headers_from_json (o, soup_message_get_request_headers (up->msg));
  if (rest_len > 0)
    {
      g_autoptr(GBytes) body = g_bytes_new (rest, rest_len);

      soup_message_set_request_body_from_bytes (up->msg, soup_message_headers_get_content_type (
                                                           soup_message_get_request_headers (up->msg), NULL),
                                                body);
    }
  g_hash_table_replace (http->outgoing, up->id_hex, up);
  g_message ("a2a serve %s: %s %s for agent %.8s…", name, method, path, peer);
  soup_session_send_async (http->session, up->msg, G_PRIORITY_DEFAULT, up->cancellable, target_sent_cb, up);
}

static void
served_free (Served *served)
{
  if (served->watch_id != 0)
    g_bus_unwatch_name (served->watch_id);
  g_clear_object (&served->connection);
  g_free (served->name);
  g_free (served->target);
  g_free (served);
}

static void
served_owner_vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Served *served = user_data;

  g_message ("a2a serve %s: its client left; no longer served", served->name);
  g_hash_table_remove (served->http->served, served->name);
}

gboolean
nfltr_a2a_http_serve (NfltrA2aHttp *http, const char *name, const char *target, GDBusConnection *connection,
                      const char *owner, GError **error)
{
  Served *served = g_new0 (Served, 1);
  g_autofree char *trimmed = g_strdup (target);
  gsize len = strlen (trimmed);

  while (len > 0 && trimmed[len - 1] == '/')
    trimmed[--len] = '\0';
  served->http = http;
  served->name = g_strdup (name);
  served->target = g_steal_pointer (&trimmed);
  g_hash_table_replace (http->served, served->name, served);
  if (connection != NULL && owner != NULL)
    {
      served->connection = g_object_ref (connection);
      served->watch_id = g_bus_watch_name_on_connection (connection, owner, G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                         served_owner_vanished_cb, served, NULL);
    }
  g_message ("a2a: serving %s as “%s”", served->target, name);
  return TRUE;
}

/* --- the connect side --------------------------------------------------------------------- */

static void
stream_free (Stream *st)
{
  g_clear_handle_id (&st->timeout_id, g_source_remove);
  if (st->msg != NULL)
    g_signal_handlers_disconnect_by_data (st->msg, st);
  g_clear_object (&st->msg);
  g_free (st->id_hex);
  g_free (st);
}

static void
stream_fail (Stream *st, guint status, const char *why)
{
  SoupServerMessage *msg = st->msg;

  if (!st->answered)
    {
      soup_server_message_set_status (msg, status, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, why, strlen (why));
    }
  else
    soup_message_body_complete (soup_server_message_get_response_body (msg));
  soup_server_message_unpause (msg);
  g_hash_table_remove (st->http->streams, st->id_hex);
}

static gboolean
stream_timeout_cb (gpointer user_data)
{
  Stream *st = user_data;

  st->timeout_id = 0;
  if (!st->answered)
    stream_fail (st, SOUP_STATUS_GATEWAY_TIMEOUT, "the agent did not answer in time\n");
  return G_SOURCE_REMOVE;
}

static void
stream_finished_cb (SoupServerMessage *msg, gpointer user_data)
{
  Stream *st = user_data;

  /* The client went away before the answer ended: the serving side can stop reading. */
  send_end (st->http, st->connector->peer, st->id, "the client went away");
  g_hash_table_remove (st->http->streams, st->id_hex);
}

static void
connect_request_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                    gpointer user_data)
{
  Connector *conn = user_data;
  NfltrA2aHttp *http = conn->http;
  GUri *uri = soup_server_message_get_uri (msg);
  const char *q = g_uri_get_query (uri);
  g_autofree char *full = q ? g_strconcat (path, "?", q, NULL) : g_strdup (path);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) meta = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessageBody *req_body = soup_server_message_get_request_body (msg);
  Stream *st;

  body = soup_message_body_flatten (req_body);
  if (g_bytes_get_size (body) > NFLTR_A2A_MAX_PAYLOAD - 4096)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL);
      return;
    }
  st = g_new0 (Stream, 1);
  st->http = http;
  st->connector = conn;
  randombytes_buf (st->id, sizeof st->id);
  st->id_hex = to_hex (st->id, sizeof st->id);
  st->msg = g_object_ref (msg);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, conn->name);
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, soup_server_message_get_method (msg));
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, full);
  headers_to_json (soup_server_message_get_request_headers (msg), b);
  json_builder_end_object (b);
  meta = json_builder_get_root (b);
  payload = pack (st->id, meta, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  if (!nfltr_a2a_service_send_inner (http->service, conn->peer, NFLTR_A2A_INNER_HTTP_REQUEST,
                                     g_bytes_get_data (payload, NULL), g_bytes_get_size (payload), &error))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_BAD_GATEWAY, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, error->message, strlen (error->message));
      stream_free (st);
      return;
    }
  g_hash_table_replace (http->streams, st->id_hex, st);
  g_signal_connect (msg, "finished", G_CALLBACK (stream_finished_cb), st);
  st->timeout_id = g_timeout_add_seconds (RESPONSE_WAIT_S, stream_timeout_cb, st);
  soup_server_message_pause (msg);
}

static void
answer (NfltrA2aHttp *http, const char *peer, const NfltrA2aInner *inner)
{
  g_autofree char *id_hex = to_hex (inner->payload, STREAM_ID_BYTES);
  Stream *st = g_hash_table_lookup (http->streams, id_hex);
  SoupMessageBody *body;

  /* Only the agent the request went to answers it. */
  if (st == NULL || g_strcmp0 (st->connector->peer, peer) != 0)
    return;
  body = soup_server_message_get_response_body (st->msg);
  switch ((NfltrA2aInnerType) inner->type)
    {
      case NFLTR_A2A_INNER_HTTP_RESPONSE:
        {
          const guint8 *rest;
          gsize rest_len;
          g_autoptr(JsonParser) parser = NULL;
          JsonObject *o = unpack (inner, &rest, &rest_len, &parser);

          if (o == NULL || st->answered)
            return;
          st->answered = TRUE;
          g_clear_handle_id (&st->timeout_id, g_source_remove);
          soup_server_message_set_status (st->msg, (guint) json_object_get_int_member_with_default (o, "status", 502),
                                          json_object_get_string_member_with_default (o, "reason", NULL));
          headers_from_json (o, soup_server_message_get_response_headers (st->msg));
          soup_message_headers_set_encoding (soup_server_message_get_response_headers (st->msg),
                                             SOUP_ENCODING_CHUNKED);
          soup_server_message_unpause (st->msg);
          return;
        }
      case NFLTR_A2A_INNER_HTTP_BODY:
        if (!st->answered || inner->payload_len <= STREAM_ID_BYTES)
          return;
        soup_message_body_append (body, SOUP_MEMORY_COPY, inner->payload + STREAM_ID_BYTES,
                                  inner->payload_len - STREAM_ID_BYTES);
        soup_server_message_unpause (st->msg);
        return;
      case NFLTR_A2A_INNER_HTTP_END:
        {
          g_autofree char *why = g_strndup ((const char *) inner->payload + STREAM_ID_BYTES,
                                            inner->payload_len - STREAM_ID_BYTES);
          g_autofree char *line = g_strconcat (why, "\n", NULL);

          stream_fail (st, SOUP_STATUS_BAD_GATEWAY, line);
          return;
        }
      case NFLTR_A2A_INNER_TEXT:
      case NFLTR_A2A_INNER_FILE:
      case NFLTR_A2A_INNER_RECEIPT:
      case NFLTR_A2A_INNER_HTTP_REQUEST:
      default: return;
    }
}

static void
connector_free (Connector *conn)
{
  GHashTableIter iter;
  Stream *st;

  g_hash_table_iter_init (&iter, conn->http->streams);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &st))
    if (st->connector == conn)
      g_hash_table_iter_remove (&iter);
  if (conn->watch_id != 0)
    g_bus_unwatch_name (conn->watch_id);
  if (conn->listener != NULL)
    {
      g_socket_service_stop (conn->listener);
      g_socket_listener_close (G_SOCKET_LISTENER (conn->listener));
      g_signal_handlers_disconnect_by_data (conn->listener, conn);
    }
  g_clear_object (&conn->listener);
  if (conn->server != NULL)
    soup_server_disconnect (conn->server);
  g_clear_object (&conn->server);
  g_clear_object (&conn->connection);
  g_free (conn->peer);
  g_free (conn->name);
  g_free (conn);
}

static void
connector_owner_vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Connector *conn = user_data;

  g_message ("a2a connect %s: its client left; listener closed", conn->name);
  g_hash_table_remove (conn->http->connectors, conn);
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  Connector *conn = user_data;
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GError) error = NULL;

  if (!soup_server_accept_iostream (conn->server, G_IO_STREAM (connection), local, remote, &error))
    g_message ("a2a connect %s: %s", conn->name, error->message);
  return TRUE;
}

char *
nfltr_a2a_http_connect (NfltrA2aHttp *http, const char *peer, const char *name, const char *listen,
                        GDBusConnection *connection, const char *owner, GError **error)
{
  Connector *conn;
  g_autofree char *host = NULL;
  guint16 port = 0;
  g_autoptr(GInetAddress) addr = NULL;
  g_autoptr(GSocketAddress) want = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  const char *colon = strrchr (listen, ':');

  if (colon == NULL || colon == listen)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "--listen wants HOST:PORT, not “%s”", listen);
      return NULL;
    }
  host = g_strndup (listen, colon - listen);
  port = (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
  addr = g_inet_address_new_from_string (host);
  /* Only loopback: the endpoint carries whatever arrives to the remote agent. */
  if (addr == NULL || !g_inet_address_get_is_loopback (addr))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "a2a connect listens on a loopback address only (127.0.0.1:PORT), not “%s”", listen);
      return NULL;
    }
  conn = g_new0 (Connector, 1);
  conn->http = http;
  conn->peer = g_strdup (peer);
  conn->name = g_strdup (name);
  conn->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (conn->server, NULL, connect_request_cb, conn, NULL);
  conn->listener = g_socket_service_new ();
  want = g_inet_socket_address_new (addr, port);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (conn->listener), want, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &bound, error))
    {
      connector_free (conn);
      return NULL;
    }
  g_signal_connect (conn->listener, "incoming", G_CALLBACK (incoming_cb), conn);
  g_socket_service_start (conn->listener);
  if (connection != NULL && owner != NULL)
    {
      conn->connection = g_object_ref (connection);
      conn->watch_id = g_bus_watch_name_on_connection (connection, owner, G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                       connector_owner_vanished_cb, conn, NULL);
    }
  g_hash_table_add (http->connectors, conn);
  {
    g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (bound)));
    char *out = g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

    g_message ("a2a: %s reaches “%s” at agent %.8s…", out, name, peer);
    return out;
  }
}

void
nfltr_a2a_http_handle (NfltrA2aHttp *http, const char *peer, const NfltrA2aInner *inner)
{
  if (http == NULL)
    return;
  if (inner->type == NFLTR_A2A_INNER_HTTP_REQUEST)
    serve_request (http, peer, inner);
  else if (inner->type == NFLTR_A2A_INNER_HTTP_END && inner->payload_len >= STREAM_ID_BYTES)
    {
      /* The connecting side gave up (END from it): stop reading the target. */
      g_autofree char *id_hex = to_hex (inner->payload, STREAM_ID_BYTES);
      Upstream *up = g_hash_table_lookup (http->outgoing, id_hex);

      if (up != NULL && g_strcmp0 (up->peer, peer) == 0)
        g_hash_table_remove (http->outgoing, id_hex);
      else
        answer (http, peer, inner);
    }
  else
    answer (http, peer, inner);
}

NfltrA2aHttp *
nfltr_a2a_http_new (NfltrA2aService *service)
{
  NfltrA2aHttp *http = g_new0 (NfltrA2aHttp, 1);

  http->service = service;
  http->served = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) served_free);
  http->connectors = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) connector_free, NULL);
  http->streams = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) stream_free);
  http->outgoing = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) upstream_free);
  http->session = soup_session_new_with_options ("timeout", 0, "idle-timeout", 60, NULL);
  return http;
}

void
nfltr_a2a_http_free (NfltrA2aHttp *http)
{
  if (http == NULL)
    return;
  g_hash_table_unref (http->outgoing);
  g_hash_table_unref (http->connectors);
  g_hash_table_unref (http->streams);
  g_hash_table_unref (http->served);
  soup_session_abort (http->session);
  g_clear_object (&http->session);
  g_free (http);
}
