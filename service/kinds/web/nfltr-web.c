/* nfltr-web.c — the web layer's servers: one SoupServer per running tunnel on its own thread,
 * fed with the data path's decrypted streams (see nfltr-web.h) */
#define G_LOG_DOMAIN "nfltr-web"

#include "nfltr-web-private.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nfltr-cert.h"
#include "nfltr-error.h"

typedef struct {
  char *prefix;
  NfltrWebHandler handler;
  gpointer user_data;
  GDestroyNotify destroy;
} Route;

struct _NfltrWebServer {
  GVariant *config;     /* the registry's key: the tunnel passes the same pointer to every hook */
  char *app_title;
  NfltrWebAuth *auth;
  GPtrArray *routes;    /* Route*, longest prefix first once running */
  NfltrWebHandler early_handler;
  gpointer early_data;
  gpointer app_data;
  GDestroyNotify app_destroy;

  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  SoupServer *server;   /* the thread's own */

  GMutex lock;          /* fingerprint */
  char *fingerprint;
  gboolean fingerprint_looked_up;
  gboolean inspectable;  /* --e2ee=false: the relay terminates the visitor's TLS */
};

/* config → NfltrWebServer*, for connect() on the data path's threads. */
G_LOCK_DEFINE_STATIC (registry);
static GHashTable *registry;

static void
route_free (gpointer data)
{
  Route *r = data;

  if (r->destroy != NULL)
    r->destroy (r->user_data);
  g_free (r->prefix);
  g_free (r);
}

NfltrWebServer *
nfltr_web_server_new (GVariant *config, const char *app_title)
{
  NfltrWebServer *web = g_new0 (NfltrWebServer, 1);

  web->config = g_variant_ref (config);
  web->app_title = g_strdup (app_title);
  web->auth = nfltr_web_auth_new (config);
  g_variant_lookup (config, "inspectable", "b", &web->inspectable);
  web->routes = g_ptr_array_new_with_free_func (route_free);
  web->context = g_main_context_new ();
  web->loop = g_main_loop_new (web->context, FALSE);
  g_mutex_init (&web->lock);
  return web;
}

static void
web_server_free (NfltrWebServer *web)
{
  /* Only when the thread never ran (run() failed): the thread frees it otherwise. */
  if (web->app_destroy != NULL && web->app_data != NULL)
    g_clear_pointer (&web->app_data, web->app_destroy);
  g_clear_pointer (&web->routes, g_ptr_array_unref);
  g_clear_pointer (&web->auth, nfltr_web_auth_free);
  g_clear_pointer (&web->loop, g_main_loop_unref);
  /* Sources still attached (accepts that came after the loop ended) go with the context,
   * closing their sockets. */
  g_clear_pointer (&web->context, g_main_context_unref);
  g_clear_pointer (&web->config, g_variant_unref);
  g_free (web->app_title);
  g_free (web->fingerprint);
  g_mutex_clear (&web->lock);
  g_free (web);
}

void
nfltr_web_server_add_handler (NfltrWebServer  *web,
                              const char      *prefix,
                              NfltrWebHandler  handler,
                              gpointer         user_data,
                              GDestroyNotify   destroy)
{
  Route *r = g_new0 (Route, 1);

  g_return_if_fail (web->thread == NULL);
  r->prefix = g_strdup (prefix);
  r->handler = handler;
  r->user_data = user_data;
  r->destroy = destroy;
  g_ptr_array_add (web->routes, r);
}

void
nfltr_web_server_set_early_handler (NfltrWebServer *web,
                                    NfltrWebHandler handler,
                                    gpointer        user_data)
{
  g_return_if_fail (web->thread == NULL);
  web->early_handler = handler;
  web->early_data = user_data;
}

void
nfltr_web_server_set_app_data (NfltrWebServer *web, gpointer data, GDestroyNotify destroy)
{
  web->app_data = data;
  web->app_destroy = destroy;
}

gpointer
nfltr_web_server_get_app_data (NfltrWebServer *web)
{
  return web->app_data;
}

GVariant *
nfltr_web_server_get_config (NfltrWebServer *web)
{
  return web->config;
}

GMainContext *
nfltr_web_server_get_context (NfltrWebServer *web)
{
  return web->context;
}

char *
nfltr_web_server_dup_fingerprint (NfltrWebServer *web)
{
  char *fp;

  g_mutex_lock (&web->lock);
  fp = g_strdup (web->fingerprint);
  g_mutex_unlock (&web->lock);
  return fp;
}

gboolean
_nfltr_web_server_is_inspectable (NfltrWebServer *web)
{
  return web->inspectable;
}

const char *
_nfltr_web_server_get_title (NfltrWebServer *web)
{
  return web->app_title;
}

void
nfltr_web_certificate_changed (GVariant *config, const char *fingerprint)
{
  NfltrWebServer *web;

  G_LOCK (registry);
  web = registry != NULL ? g_hash_table_lookup (registry, config) : NULL;
  if (web != NULL)
    {
      g_mutex_lock (&web->lock);
      g_free (web->fingerprint);
      web->fingerprint = g_strdup (fingerprint);
      /* The tunnel's word beats the file on disk (an ACME or --e2ee-cert certificate). */
      web->fingerprint_looked_up = TRUE;
      g_mutex_unlock (&web->lock);
    }
  G_UNLOCK (registry);
}

/* Only when the tunnel has not told us its certificate (nfltr_web_certificate_changed; a
 * server run without a tunnel, as in unit tests): the tunnel's name is the first label of the
 * host the client asked for, and the service keeps the generated certificate as
 * $XDG_DATA_HOME/nfltr/certs/NAME.crt (service/core/nfltr-tunnel-impl.c). Worker thread:
 * file I/O is fine. */
static void
learn_fingerprint (NfltrWebServer *web, const char *sni)
{
  const char *data_home = g_getenv ("XDG_DATA_HOME");
  g_autofree char *home_data = NULL;
  g_autofree char *name = NULL;
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  g_autofree char *pem = NULL;
  gsize len;
  guint8 digest[NFLTR_FINGERPRINT_LEN];
  const char *dot;

  g_mutex_lock (&web->lock);
  if (web->fingerprint_looked_up || sni == NULL || *sni == '\0')
    {
      g_mutex_unlock (&web->lock);
      return;
    }
  web->fingerprint_looked_up = TRUE;
  g_mutex_unlock (&web->lock);

  dot = strchr (sni, '.');
  name = dot != NULL ? g_strndup (sni, dot - sni) : g_strdup (sni);
  if (*name == '\0' || strchr (name, '/') != NULL || name[0] == '.')
    return;
  if (data_home == NULL || !g_path_is_absolute (data_home))
    data_home = home_data = g_build_filename (g_get_home_dir (), ".local", "share", NULL);
  file = g_strdup_printf ("%s.crt", name);
  path = g_build_filename (data_home, "nfltr", "certs", file, NULL);
  if (!g_file_get_contents (path, &pem, &len, NULL) ||
      !nfltr_fingerprint_of_pem (pem, len, digest, NULL))
    {
      g_debug ("no certificate at %s: pages show no fingerprint", path);
      return;
    }
  g_mutex_lock (&web->lock);
  web->fingerprint = nfltr_fingerprint_format (digest);
  g_mutex_unlock (&web->lock);
}

/* ---- requests ---- */

static Route *
find_route (NfltrWebServer *web, const char *path)
{
  for (guint i = 0; i < web->routes->len; i++)
    {
      Route *r = g_ptr_array_index (web->routes, i);

      if (g_str_has_prefix (path, r->prefix))
        return r;
    }
  return NULL;
}

static GHashTable *
message_query (SoupServerMessage *msg)
{
  const char *q = g_uri_get_query (soup_server_message_get_uri (msg));

  return nfltr_web_query_parse (q, q ? strlen (q) : 0);
}

static void
early_cb (SoupServer        *server,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *unused,
          gpointer           user_data)
{
  NfltrWebServer *web = user_data;
  g_autoptr(GHashTable) query = NULL;

  nfltr_web_add_security_headers (msg);
  if (g_str_has_prefix (path, NFLTR_WEB_ASSETS_PREFIX))
    return;
  query = message_query (msg);
  /* Refused before the body is read: a client that sent "Expect: 100-continue" never
   * sends it; one that did not has it read and dropped, never kept. */
  if (!nfltr_web_auth_check (web->auth, web, msg, path, query))
    {
      nfltr_web_refuse_body (msg);
      return;
    }
  /* Checked once per request: a second check would add a second Set-Cookie. */
  g_object_set_data (G_OBJECT (msg), "nfltr-web-authenticated", GINT_TO_POINTER (1));
  if (web->early_handler != NULL)
    web->early_handler (web, msg, path, query, web->early_data);
}

static void
request_cb (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *unused,
            gpointer           user_data)
{
  NfltrWebServer *web = user_data;
  g_autoptr(GHashTable) query = NULL;
  Route *route;

  /* An early handler that answered already (401, 413) has its status set. */
  if (soup_server_message_get_status (msg) != 0)
    return;
  if (g_str_has_prefix (path, NFLTR_WEB_ASSETS_PREFIX) && nfltr_web_serve_asset (msg, path))
    return;
  query = message_query (msg);
  if (g_object_get_data (G_OBJECT (msg), "nfltr-web-authenticated") == NULL &&
      !nfltr_web_auth_check (web->auth, web, msg, path, query))
    return;
  route = find_route (web, path);
  if (route == NULL)
    {
      nfltr_web_respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "Nothing here.");
      return;
    }
  route->handler (web, msg, path, query, route->user_data);
}

static void
request_finished_cb (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  GUri *uri = soup_server_message_get_uri (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);

  /* The path only: a query may carry the token. */
  g_debug ("%s \"%s %s\" %u %" G_GINT64_FORMAT,
           soup_server_message_get_remote_host (msg) ? soup_server_message_get_remote_host (msg) : "-",
           soup_server_message_get_method (msg), uri ? g_uri_get_path (uri) : "-",
           soup_server_message_get_status (msg), body ? (gint64) body->length : (gint64) -1);
}

static gint
route_compare (gconstpointer a, gconstpointer b)
{
  const Route *ra = *(Route **) a;
  const Route *rb = *(Route **) b;

  return (int) strlen (rb->prefix) - (int) strlen (ra->prefix);
}

static gpointer
server_thread (gpointer data)
{
  NfltrWebServer *web = data;

  g_main_context_push_thread_default (web->context);
  web->server = soup_server_new ("server-header", "nfltr", NULL);
  soup_server_add_early_handler (web->server, NULL, early_cb, web, NULL);
  soup_server_add_handler (web->server, NULL, request_cb, web, NULL);
  g_signal_connect (web->server, "request-finished", G_CALLBACK (request_finished_cb), web);
  g_signal_connect (web->server, "request-aborted", G_CALLBACK (request_finished_cb), web);

  g_main_loop_run (web->loop);

  soup_server_disconnect (web->server);
  g_clear_object (&web->server);
  if (web->app_destroy != NULL)
    g_clear_pointer (&web->app_data, web->app_destroy);
  /* What the closing connections and the kind's state still had queued (bounded: a source
   * that keeps re-arming must not hold the stop up). */
  for (guint i = 0; i < 1000 && g_main_context_iteration (web->context, FALSE); i++)
    ;
  g_main_context_pop_thread_default (web->context);
  return NULL;
}

gboolean
nfltr_web_server_run (NfltrWebServer *web, GError **error)
{
  g_ptr_array_sort (web->routes, route_compare);

  G_LOCK (registry);
  if (registry == NULL)
    registry = g_hash_table_new (NULL, NULL);
  if (g_hash_table_contains (registry, web->config))
    {
      G_UNLOCK (registry);
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "the web server is already running");
      web_server_free (web);
      return FALSE;
    }
  web->thread = g_thread_try_new ("nfltr-web", server_thread, web, error);
  if (web->thread == NULL)
    {
      G_UNLOCK (registry);
      web_server_free (web);
      return FALSE;
    }
  g_hash_table_insert (registry, web->config, web);
  G_UNLOCK (registry);
  return TRUE;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
nfltr_web_server_stop (GVariant *config)
{
  NfltrWebServer *web = NULL;
  GSource *source;

  G_LOCK (registry);
  if (registry != NULL && g_hash_table_steal_extended (registry, config, NULL, (gpointer *) &web) &&
      g_hash_table_size (registry) == 0)
    g_clear_pointer (&registry, g_hash_table_unref);
  G_UNLOCK (registry);
  if (web == NULL)
    return;

  /* Low priority: accepts already queued run first and are then disconnected with the rest. */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_LOW);
  g_source_set_callback (source, quit_cb, web->loop, NULL);
  g_source_attach (source, web->context);
  g_source_unref (source);
  g_thread_join (web->thread);
  web->thread = NULL;
  web_server_free (web);
}

/* ---- connections from the data path ---- */

typedef struct {
  NfltrWebServer *web;  /* valid while this source is attached: the server frees its context
                         * (and so this source) only after its thread ended */
  GIOStream *stream;
  GSocketAddress *remote;
} Accept;

static void
accept_free (gpointer data)
{
  Accept *a = data;

  g_clear_object (&a->stream);
  g_clear_object (&a->remote);
  g_free (a);
}

static gboolean
accept_cb (gpointer data)
{
  Accept *a = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new_from_string ("127.0.0.1", 443);

  if (a->web->server == NULL ||
      !soup_server_accept_iostream (a->web->server, a->stream, local, a->remote, &error))
    g_debug ("could not take a connection: %s", error ? error->message : "server stopped");
  return G_SOURCE_REMOVE;
}

/* "IP:PORT" or "[v6]:PORT" as the data path writes the client's address. */
static GSocketAddress *
parse_client_addr (const char *text)
{
  g_autofree char *host = NULL;
  const char *colon;
  guint64 port = 0;

  if (text == NULL)
    return NULL;
  colon = strrchr (text, ':');
  if (colon == NULL)
    return NULL;
  if (text[0] == '[' && colon > text + 1 && colon[-1] == ']')
    host = g_strndup (text + 1, colon - text - 2);
  else
    host = g_strndup (text, colon - text);
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 0, G_MAXUINT16, &port, NULL))
    return NULL;
  return g_inet_socket_address_new_from_string (host, (guint) port);
}

int
nfltr_web_connect (GVariant *config, const NfltrKindConn *conn, GError **error)
{
  NfltrWebServer *web;
  int fds[2];
  g_autoptr(GSocket) socket = NULL;
  Accept *a;
  GSource *source;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s",
                   g_strerror (saved));
      return -1;
    }
  socket = g_socket_new_from_fd (fds[0], error);
  if (socket == NULL)
    {
      close (fds[0]);
      close (fds[1]);
      return -1;
    }

  /* Under the lock: stop() cannot free the server while its context gets the source. The
   * certificate is read once per server, under it too (a small file). */
  G_LOCK (registry);
  web = registry != NULL ? g_hash_table_lookup (registry, config) : NULL;
  if (web == NULL)
    {
      G_UNLOCK (registry);
      close (fds[1]);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "the app is not running");
      return -1;
    }
  learn_fingerprint (web, conn->sni);
  a = g_new0 (Accept, 1);
  a->web = web;
  a->stream = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
  a->remote = parse_client_addr (conn->client_addr);
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, accept_cb, a, accept_free);
  g_source_attach (source, web->context);
  g_source_unref (source);
  G_UNLOCK (registry);
  return fds[1];
}

static const char * const *
web_kind_get_alpn (NfltrTunnelKind *kind)
{
  static const char * const alpn[] = { "http/1.1", NULL };

  return alpn;
}

static void
web_kind_stop (NfltrTunnelKind *kind, GVariant *config)
{
  nfltr_web_server_stop (config);
}

static int
web_kind_connect (NfltrTunnelKind *kind, GVariant *config, const NfltrKindConn *conn, GError **error)
{
  return nfltr_web_connect (config, conn, error);
}

void
nfltr_web_kind_class_init (NfltrTunnelKindClass *kind_class)
{
  kind_class->get_alpn = web_kind_get_alpn;
  kind_class->stop = web_kind_stop;
  kind_class->connect = web_kind_connect;
}
