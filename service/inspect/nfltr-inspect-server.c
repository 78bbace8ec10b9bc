/* nfltr-inspect-server.c — the inspector's loopback web page (see the header) */
#define G_LOG_DOMAIN "nfltr-inspect"

#include "nfltr-inspect-server.h"

#include "nfltr-error.h"
#include "nfltr-inspect-address.h"
#include "nfltr-inspect-resources.h"
#include "nfltr-main-context.h"

#include <libsoup/soup.h>
#include <string.h>

#define RESOURCE_PREFIX "/xyz/nfltr/Nfltr/inspect/"
#define TOKEN_COOKIE    "nfltr_inspect"
/* Token bytes: 128 bits from the CSPRNG, as hex. */
#define TOKEN_BYTES 16
/* A comment line on open event streams, so a dead page is noticed and proxies keep them. */
#define EVENTS_KEEPALIVE_S 15

struct _NfltrInspectServer {
  NfltrInspectStore *store;
  NfltrDbusTunnel *tunnel; /* not owned: the tunnel outlives its inspector */
  NfltrInspectReplayFunc replay;
  NfltrInspectReplayFinishFunc replay_finish;
  gpointer replay_data;

  SoupServer *server;
  char *host;        /* the loopback address it listens on */
  guint16 port;
  char *token;
  char *url;
  GSocketService *service; /* accepts; each connection goes to the server by accept_iostream */
  GPtrArray *events; /* SoupServerMessage, the open event streams */
  gulong added_id;
  GSource *keepalive; /* on the thread-default context: the engine may run in a CLI thread */
};

static const struct {
  const char *path;
  const char *resource;
  const char *type;
} assets[] = {
  { "/inspect.js", "inspect.js", "text/javascript; charset=utf-8" },
  { "/inspect.css", "inspect.css", "text/css; charset=utf-8" },
};

static char *
new_token (void)
{
  guint8 bytes[TOKEN_BYTES];
  GString *hex = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) urandom = g_file_new_for_path ("/dev/urandom");
  g_autoptr(GFileInputStream) in = g_file_read (urandom, NULL, &error);
  gsize got = 0;

  if (in == NULL || !g_input_stream_read_all (G_INPUT_STREAM (in), bytes, sizeof bytes, &got, NULL, NULL) ||
      got != sizeof bytes)
    g_error ("no random bytes for the inspector's token");
  for (guint i = 0; i < sizeof bytes; i++)
    g_string_append_printf (hex, "%02x", bytes[i]);
  return g_string_free (hex, FALSE);
}

static gboolean
token_equal (const char *given, const char *token)
{
  gsize len = strlen (token);
  guint8 diff = 0;

  if (given == NULL || strlen (given) != len)
    return FALSE;
  /* Constant time: how much of a guess was right must not show in the timing. */
  for (gsize i = 0; i < len; i++)
    diff |= (guint8) (given[i] ^ token[i]);
  return diff == 0;
}

static void
security_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (h, "Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; form-action 'none'; "
                                "frame-ancestors 'none'; base-uri 'none'");
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (h, "X-Frame-Options", "DENY");
  soup_message_headers_replace (h, "Cache-Control", "no-store");
}

static void
respond (SoupServerMessage *msg, guint status, const char *type, const char *body, gsize len)
{
  security_headers (msg);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, body, len);
}

static void
respond_text (SoupServerMessage *msg, guint status, const char *text)
{
  g_autofree char *line = g_strdup_printf ("%u %s: %s\n", status, soup_status_get_phrase (status), text);

  respond (msg, status, "text/plain; charset=utf-8", line, strlen (line));
}

static void
respond_json (SoupServerMessage *msg, guint status, const char *json)
{
  respond (msg, status, "application/json", json, strlen (json));
}

static void
respond_error_json (SoupServerMessage *msg, guint status, const char *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  respond_json (msg, status, json);
}

static char *
cookie_token (SoupServerMessage *msg)
{
  const char *header = soup_message_headers_get_list (soup_server_message_get_request_headers (msg), "Cookie");
  g_auto (GStrv) parts = NULL;

  if (header == NULL)
    return NULL;
  parts = g_strsplit (header, ";", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *p = parts[i];

      while (*p == ' ')
        p++;
      if (g_str_has_prefix (p, TOKEN_COOKIE "="))
        return g_strdup (p + strlen (TOKEN_COOKIE "="));
    }
  return NULL;
}

/* The Host and token checks every request passes first; FALSE when answered. */
static gboolean
allowed (NfltrInspectServer *self, SoupServerMessage *msg, GHashTable *query, gboolean *from_query)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  const char *host = soup_message_headers_get_one (req, "Host");
  const char *given = query != NULL ? g_hash_table_lookup (query, "token") : NULL;
  g_autofree char *cookie = cookie_token (msg);

  *from_query = FALSE;
  if (!nfltr_inspect_host_allowed (host, self->host, self->port))
    {
      /* A name rebound to 127.0.0.1 arrives here with its own Host. */
      respond_text (msg, SOUP_STATUS_FORBIDDEN,
                    "the inspector answers only requests for its own loopback address "
                    "(a page elsewhere may not read it through DNS rebinding)");
      return FALSE;
    }
  if (given != NULL && token_equal (given, self->token))
    {
      *from_query = TRUE;
      return TRUE;
    }
  if (token_equal (cookie, self->token))
    return TRUE;
  respond_text (msg, SOUP_STATUS_UNAUTHORIZED,
                "open the inspector with the address nfltr printed (it holds this run's token)");
  return FALSE;
}

/* POSTs must also prove they come from the page: its token in a field a cross-site form
 * cannot set, and the page's own Origin if the browser names one. */
static gboolean
same_origin (NfltrInspectServer *self, SoupServerMessage *msg)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (req, "Origin");
  const char *host = soup_message_headers_get_one (req, "Host");
  g_autofree char *expected = g_strdup_printf ("http://%s", host ? host : "");

  if (!token_equal (soup_message_headers_get_one (req, "X-Nfltr-Token"), self->token) ||
      (origin != NULL && strcmp (origin, expected) != 0))
    {
      respond_text (msg, SOUP_STATUS_FORBIDDEN, "a replay may only be asked for by the inspector's own page");
      return FALSE;
    }
  return TRUE;
}

static void
serve_resource (SoupServerMessage *msg, const char *name, const char *type, const char *token)
{
  g_autofree char *path = g_strconcat (RESOURCE_PREFIX, name, NULL);
  /* Looked up in our own resource: naming it also keeps it in the link. */
  g_autoptr(GBytes) bytes = g_resource_lookup_data (nfltr_inspect_get_resource (), path,
                                                    G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  gsize len;
  const char *data;

  if (bytes == NULL)
    {
      respond_text (msg, SOUP_STATUS_NOT_FOUND, "no such page");
      return;
    }
  data = g_bytes_get_data (bytes, &len);
  if (token != NULL)
    {
      /* The page reads its token from a meta field for the replay's X-Nfltr-Token. */
      g_autofree char *text = g_strndup (data, len);
      g_auto(GStrv) parts = g_strsplit (text, "@TOKEN@", -1);
      g_autofree char *page = g_strjoinv (token, parts);

      respond (msg, SOUP_STATUS_OK, type, page, strlen (page));
      return;
    }
  respond (msg, SOUP_STATUS_OK, type, data, len);
}

/* --- replay ---------------------------------------------------------------------------- */

typedef struct {
  NfltrInspectReplayFinishFunc finish;
  SoupServerMessage *msg;
} ReplayRequest;

static void
replay_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReplayRequest *rr = user_data;
  g_autoptr(GError) error = NULL;
  guint64 id = rr->finish (result, &error);

  if (error != NULL)
    respond_error_json (rr->msg, g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT)
                                   ? SOUP_STATUS_BAD_REQUEST
                                   : g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND)
                                     ? SOUP_STATUS_NOT_FOUND
                                     : SOUP_STATUS_BAD_GATEWAY,
                        error->message);
  else
    {
      g_autofree char *json = g_strdup_printf ("{\"id\": %" G_GUINT64_FORMAT "}", id);

      respond_json (rr->msg, SOUP_STATUS_OK, json);
    }
  soup_server_message_unpause (rr->msg);
  g_object_unref (rr->msg);
  g_free (rr);
}

/* --- events ---------------------------------------------------------------------------- */

static void
event_finished_cb (SoupServerMessage *msg, NfltrInspectServer *self)
{
  g_ptr_array_remove (self->events, msg);
}

static void
send_event (SoupServerMessage *msg, const char *text)
{
  soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_COPY, text,
                            strlen (text));
  soup_server_message_unpause (msg);
}

static void
exchange_added_cb (NfltrInspectStore *store, NfltrInspectExchange *ex, NfltrInspectServer *self)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *json = NULL;
  g_autofree char *event = NULL;

  if (self->events->len == 0)
    return;
  node = nfltr_inspect_exchange_to_json (ex, FALSE);
  json = json_to_string (node, FALSE);
  event = g_strdup_printf ("event: exchange\ndata: %s\n\n", json);
  for (guint i = 0; i < self->events->len; i++)
    send_event (g_ptr_array_index (self->events, i), event);
}

static gboolean
keepalive_cb (gpointer user_data)
{
  NfltrInspectServer *self = user_data;

  for (guint i = 0; i < self->events->len; i++)
    send_event (g_ptr_array_index (self->events, i), ": keep-alive\n\n");
  return G_SOURCE_CONTINUE;
}

static void
open_events (NfltrInspectServer *self, SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  security_headers (msg);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (h, "text/event-stream", NULL);
  soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
  g_ptr_array_add (self->events, msg);
  g_signal_connect (msg, "finished", G_CALLBACK (event_finished_cb), self);
  soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_STATIC,
                            ": open\n\n", 8);
}

/* --- routes ---------------------------------------------------------------------------- */

/* The page's header: which tunnel this is, and where replays go. */
static char *
info_json (NfltrInspectServer *self)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  struct {
    const char *name;
    const char *value;
  } fields[] = {
    { "tunnel", nfltr_dbus_tunnel_get_name (self->tunnel) },
    { "url", nfltr_dbus_tunnel_get_public_url (self->tunnel) },
    { "target", nfltr_dbus_tunnel_get_target (self->tunnel) },
    { "mode", nfltr_dbus_tunnel_get_mode (self->tunnel) },
    { "fingerprint", nfltr_dbus_tunnel_get_fingerprint (self->tunnel) },
    { "state", nfltr_dbus_tunnel_get_state (self->tunnel) },
  };

  json_builder_begin_object (b);
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      json_builder_set_member_name (b, fields[i].name);
      json_builder_add_string_value (b, fields[i].value ? fields[i].value : "");
    }
  json_builder_set_member_name (b, "body_cap");
  json_builder_add_int_value (b, (gint64) nfltr_inspect_store_get_body_cap (self->store));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static gboolean
parse_id (const char *text, guint64 *id, const char **rest)
{
  char *end = NULL;

  if (!g_ascii_isdigit (*text))
    return FALSE;
  *id = g_ascii_strtoull (text, &end, 10);
  *rest = end;
  return TRUE;
}

static void
handler_cb (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  NfltrInspectServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  gboolean from_query = FALSE;
  guint64 id = 0;
  const char *rest = NULL;

  if (!allowed (self, msg, query, &from_query))
    return;
  if (from_query)
    {
      /* The token moves from the URL into a cookie the browser sends only to this page. */
      g_autofree char *cookie = g_strdup_printf (TOKEN_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict",
                                                 self->token);

      soup_message_headers_append (soup_server_message_get_response_headers (msg), "Set-Cookie", cookie);
    }

  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0 && strcmp (method, "POST") != 0)
    {
      respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET or POST");
      return;
    }
  if (strcmp (method, "POST") == 0)
    {
      SoupMessageBody *body = soup_server_message_get_request_body (msg);
      ReplayRequest *rr;

      if (!g_str_has_prefix (path, "/api/exchanges/") ||
          !parse_id (path + strlen ("/api/exchanges/"), &id, &rest) || strcmp (rest, "/replay") != 0)
        {
          respond_text (msg, SOUP_STATUS_NOT_FOUND, "no such page");
          return;
        }
      if (!same_origin (self, msg))
        return;
      rr = g_new0 (ReplayRequest, 1);
      rr->finish = self->replay_finish;
      rr->msg = g_object_ref (msg);
      soup_server_message_pause (msg);
      self->replay (self->replay_data, id, body->data, body->length, replay_done_cb, rr);
      return;
    }

  if (strcmp (path, "/") == 0 || strcmp (path, "/index.html") == 0)
    serve_resource (msg, "index.html", "text/html; charset=utf-8", self->token);
  else if (strcmp (path, "/api/info") == 0)
    {
      g_autofree char *json = info_json (self);

      respond_json (msg, SOUP_STATUS_OK, json);
    }
  else if (strcmp (path, "/api/exchanges") == 0)
    {
      const char *since = query != NULL ? g_hash_table_lookup (query, "since") : NULL;
      g_autofree char *json = nfltr_inspect_store_list_json (self->store, since ? g_ascii_strtoull (since, NULL, 10) : 0);

      respond_json (msg, SOUP_STATUS_OK, json);
    }
  else if (g_str_has_prefix (path, "/api/exchanges/") &&
           parse_id (path + strlen ("/api/exchanges/"), &id, &rest) && *rest == '\0')
    {
      g_autoptr(NfltrInspectExchange) ex = nfltr_inspect_store_get (self->store, id);
      g_autoptr(JsonNode) node = NULL;
      g_autofree char *json = NULL;

      if (ex == NULL)
        {
          respond_error_json (msg, SOUP_STATUS_NOT_FOUND, "this exchange is no longer kept");
          return;
        }
      node = nfltr_inspect_exchange_to_json (ex, TRUE);
      json = json_to_string (node, FALSE);
      respond_json (msg, SOUP_STATUS_OK, json);
    }
  else if (strcmp (path, "/api/har") == 0)
    {
      g_autofree char *har = nfltr_inspect_store_to_har (self->store);

      respond (msg, SOUP_STATUS_OK, "application/json", har, strlen (har));
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Disposition",
                                    "attachment; filename=\"nfltr-inspect.har\"");
    }
  else if (strcmp (path, "/api/events") == 0)
    open_events (self, msg);
  else
    {
      for (guint i = 0; i < G_N_ELEMENTS (assets); i++)
        if (strcmp (path, assets[i].path) == 0)
          {
            serve_resource (msg, assets[i].resource, assets[i].type, NULL);
            return;
          }
      respond_text (msg, SOUP_STATUS_NOT_FOUND, "no such page");
    }
}

NfltrInspectServer *
nfltr_inspect_server_new (NfltrInspectStore            *store,
                          NfltrDbusTunnel              *tunnel,
                          NfltrInspectReplayFunc        replay,
                          NfltrInspectReplayFinishFunc  replay_finish,
                          gpointer                      replay_data)
{
  NfltrInspectServer *self = g_new0 (NfltrInspectServer, 1);

  self->store = g_object_ref (store);
  self->tunnel = tunnel;
  self->replay = replay;
  self->replay_finish = replay_finish;
  self->replay_data = replay_data;
  self->token = new_token ();
  self->events = g_ptr_array_new ();
  self->server = soup_server_new ("server-header", "nfltr-inspect", NULL);
  soup_server_add_handler (self->server, NULL, handler_cb, self, NULL);
  self->added_id = g_signal_connect (store, "exchange-added", G_CALLBACK (exchange_added_cb), self);
  self->keepalive = nfltr_timeout_source_add_seconds (EVENTS_KEEPALIVE_S, keepalive_cb, self);
  return self;
}

static GSocket *
bind_socket (const char *host, guint16 port, GError **error)
{
  g_autoptr(GInetAddress) addr = g_inet_address_new_from_string (host);
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (addr, port);
  g_autoptr(GSocket) socket = g_socket_new (g_inet_address_get_family (addr), G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL || !g_socket_bind (socket, sa, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  NfltrInspectServer *self = user_data;
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GError) error = NULL;

  if (!soup_server_accept_iostream (self->server, G_IO_STREAM (connection), local, remote, &error))
    g_message ("inspector: a connection was refused: %s", error->message);
  return TRUE;
}

gboolean
nfltr_inspect_server_listen (NfltrInspectServer *self, const char *host, guint16 port, GError **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GError) first_error = NULL;
  g_autoptr(GInetAddress) addr = g_inet_address_new_from_string (host);
  g_autofree char *url_host = NULL;
  guint tries = port == 0 ? 1 : NFLTR_INSPECT_PORT_TRIES;

  for (guint i = 0; i < tries && socket == NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;

      if ((guint) port + i > 65535)
        break;
      socket = bind_socket (host, port + i, &local_error);
      if (socket == NULL && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "the inspector cannot listen on %s port %u: ", host, port + i);
          return FALSE;
        }
      if (socket == NULL)
        g_message ("inspector: port %u on %s is taken, trying the next", port + i, host);
      if (first_error == NULL && local_error != NULL)
        first_error = g_steal_pointer (&local_error);
    }
  if (socket == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                   "the inspector cannot listen on %s: ports %u to %u are taken", host, port,
                   MIN (port + tries - 1, 65535));
      return FALSE;
    }
  /* Our own listener: libsoup 3.2's soup_server_listen_socket() leaves the sockets it accepted
   * behind after soup_server_disconnect() (LeakSanitizer); handing each connection over with
   * soup_server_accept_iostream() gives them back. */
  if (self->service == NULL)
    {
      self->service = g_socket_service_new ();
      g_signal_connect (self->service, "incoming", G_CALLBACK (incoming_cb), self);
    }
  if (!g_socket_listener_add_socket (G_SOCKET_LISTENER (self->service), socket, NULL, error))
    return FALSE;
  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return FALSE;
  g_free (self->host);
  self->host = g_strdup (host);
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  url_host = g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6 ? g_strdup_printf ("[%s]", host)
                                                                      : g_strdup (host);
  g_free (self->url);
  self->url = g_strdup_printf ("http://%s:%u/?token=%s", url_host, self->port, self->token);
  return TRUE;
}

const char *
nfltr_inspect_server_get_url (NfltrInspectServer *self)
{
  return self->url;
}

void
nfltr_inspect_server_free (NfltrInspectServer *self)
{
  if (self == NULL)
    return;
  g_clear_signal_handler (&self->added_id, self->store);
  nfltr_clear_source (&self->keepalive);
  for (guint i = 0; i < self->events->len; i++)
    {
      SoupServerMessage *msg = g_ptr_array_index (self->events, i);

      g_signal_handlers_disconnect_by_data (msg, self);
      /* An event stream is a response that never ends: end it, so the connection is not left
       * holding a paused message when the server lets go of it (it would never be freed). */
      soup_message_body_complete (soup_server_message_get_response_body (msg));
      soup_server_message_unpause (msg);
    }
  g_ptr_array_unref (self->events);
  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
      g_signal_handlers_disconnect_by_data (self->service, self);
      g_clear_object (&self->service);
    }
  soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  g_clear_object (&self->store);
  g_free (self->host);
  g_free (self->token);
  g_free (self->url);
  g_free (self);
}
