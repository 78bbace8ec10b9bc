/* nfltr-web.h — the web layer every HTTPS app kind (serve, share, command, terminal, tail, …)
 * serves its pages through.
 *
 * How a kind serves pages through it:
 *
 *   parse ():   nfltr_web_parse_auth_options (options, &dict, error) copies and checks the
 *               generic "basic-auth" (USER:PASS) and "token" options into the kind's config.
 *   start ():   web = nfltr_web_server_new (config, "Files");
 *               nfltr_web_server_add_handler (web, "/", my_handler, my_state, my_state_free);
 *               (optionally nfltr_web_server_set_early_handler () to see a request before its
 *               body is read: uploads, size limits)
 *               return nfltr_web_server_run (web, error);   — the layer keeps it, keyed by config
 *   connect (): return nfltr_web_connect (config, conn, error);
 *   stop ():    nfltr_web_server_stop (config);
 *
 * One SoupServer per running tunnel, each on its own thread and GMainContext: a kind that
 * blocks a moment (reading a file, a child's pipe) slows its own tunnel only, and stop() ends
 * the thread (joined) and frees everything, so nothing runs after the tunnel stopped. The
 * data path's connect() gets one end of a socketpair; the other end is handed to
 * soup_server_accept_iostream () on that thread.
 *
 * The layer itself, before any handler runs: the security headers on every answer (CSP
 * without inline script, nosniff, Referrer-Policy no-referrer so a token in a URL never leaks
 * to another site), authentication (basic auth or ?token=… which becomes a cookie, compared in
 * constant time, a clear 401 page), the shared assets under /.nfltr/ (GResource
 * /xyz/nfltr/Nfltr/web/: style.css, nfltr.js, icon.svg), and one access-log line per request
 * at debug level (path only: the query may hold a token).
 *
 * Handlers run on the server's thread. Pages use the shell: nfltr_web_page_begin () writes the
 * header with the verified badge and the tunnel's certificate fingerprint ("sha256:…", as
 * nfltr list and the app print it), the kind appends its body, nfltr_web_page_finish () sends
 * it. Large bodies are streamed with nfltr_web_send_stream (). */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

/* Where the shared assets are served (no authentication: they are static and the 401 page
 * needs its style). */
#define NFLTR_WEB_ASSETS_PREFIX "/.nfltr/"
/* The cookie a valid ?token= becomes. */
#define NFLTR_WEB_COOKIE "nfltr-auth"

typedef struct _NfltrWebServer NfltrWebServer;

/* path is the request's decoded path (soup's, never NULL); query is the decoded query
 * (nfltr_web_query_parse: key → value, both UTF-8-unchecked strings without NUL), never NULL. */
typedef void (*NfltrWebHandler) (NfltrWebServer    *web,
                                 SoupServerMessage *msg,
                                 const char        *path,
                                 GHashTable        *query,
                                 gpointer           user_data);

/* ---- configuration (parse) ---- */

/* Copies the options "basic-auth" (s, "USER:PASS") and "token" (s) into config after
 * checking them; FALSE with NFLTR_ERROR_INVALID_ARGUMENT for the user otherwise. Also copies
 * "inspectable" (b): the kind hooks are not told the tunnel's mode, so a client that creates
 * a --e2ee=false tunnel says it here, and the badge then says the relay can read the page. */
gboolean            nfltr_web_parse_auth_options    (GVariant          *options,
                                                     GVariantDict      *config,
                                                     GError           **error);

/* ---- one server per running tunnel (start, connect, stop) ---- */

NfltrWebServer     *nfltr_web_server_new            (GVariant          *config,
                                                     const char        *app_title);
/* Requests whose path starts with prefix ("/" for all; the longest prefix wins).
 * Before nfltr_web_server_run () only. */
void                nfltr_web_server_add_handler    (NfltrWebServer    *web,
                                                     const char        *prefix,
                                                     NfltrWebHandler    handler,
                                                     gpointer           user_data,
                                                     GDestroyNotify     destroy);
/* Called after the headers of an authenticated request, before its body is read: it may
 * answer (set a status) to refuse the body, or stream the body itself. Before run () only. */
void                nfltr_web_server_set_early_handler (NfltrWebServer *web,
                                                        NfltrWebHandler handler,
                                                        gpointer        user_data);
/* Data the kind keeps for the server's life; destroy runs on the server's thread after the
 * last request, before the thread ends. */
void                nfltr_web_server_set_app_data   (NfltrWebServer    *web,
                                                     gpointer           data,
                                                     GDestroyNotify     destroy);
gpointer            nfltr_web_server_get_app_data   (NfltrWebServer    *web);
/* Starts the thread and registers the server under its config; takes the caller's
 * reference (freed on failure). */
gboolean            nfltr_web_server_run            (NfltrWebServer    *web,
                                                     GError           **error);
/* Unregisters, ends and joins the thread, frees the server. Nothing if none runs. */
void                nfltr_web_server_stop           (GVariant          *config);
/* The kind's connect(): a socketpair end whose other end the config's server serves. */
/* What every web app kind does the same way: ALPN "http/1.1" only, stop and connect through
 * this layer. A kind's class_init calls it, then sets its own id, parse and start. */
void                nfltr_web_kind_class_init       (NfltrTunnelKindClass *kind_class);
int                 nfltr_web_connect               (GVariant          *config,
                                                     const NfltrKindConn *conn,
                                                     GError           **error);

GVariant           *nfltr_web_server_get_config     (NfltrWebServer    *web);
GMainContext       *nfltr_web_server_get_context    (NfltrWebServer    *web);
/* "sha256:…" of the tunnel's certificate, or NULL before the first connection told us. */
char               *nfltr_web_server_dup_fingerprint (NfltrWebServer   *web);
/* Issue 11: the tunnel's certificate is now this one (at start, after an ACME renewal): the
 * badge of config's server shows it from the next page on. Nothing when no server runs
 * under config. Any thread. */
void                nfltr_web_certificate_changed   (GVariant          *config,
                                                     const char        *fingerprint);

/* ---- answers (server thread) ---- */

/* The page shell up to the start of <main>; title is escaped here. */
GString            *nfltr_web_page_begin            (NfltrWebServer    *web,
                                                     const char        *title);
/* Closes the shell and sends it as text/html with status. Takes page. */
void                nfltr_web_page_finish           (NfltrWebServer    *web,
                                                     SoupServerMessage *msg,
                                                     guint              status,
                                                     GString           *page);
/* An error answer: the page shell for browsers, one line of text for curl and scripts. */
void                nfltr_web_respond_error         (NfltrWebServer    *web,
                                                     SoupServerMessage *msg,
                                                     guint              status,
                                                     const char        *message);
/* Sends bytes with a content type. */
void                nfltr_web_respond_bytes         (SoupServerMessage *msg,
                                                     guint              status,
                                                     const char        *content_type,
                                                     GBytes            *bytes);
/* Streams in as the response body (status and headers already set by the caller): with
 * Content-Length length, or chunked when length < 0. Reads happen as the client takes the
 * bytes, so memory stays at one buffer. Takes a reference to in and closes it at the end.
 * done (optional) is called on the server thread once with TRUE when every byte was
 * written, FALSE when the client went away or the stream failed. */
void                nfltr_web_send_stream           (SoupServerMessage *msg,
                                                     GInputStream      *in,
                                                     goffset            length,
                                                     void             (*done) (gboolean complete,
                                                                               gpointer user_data),
                                                     gpointer           user_data);
/* For an early handler that answered: the request body (if any) is read and dropped, not
 * kept, and the connection closes after the answer. */
void                nfltr_web_refuse_body           (SoupServerMessage *msg);
/* The shared assets: TRUE when path was one of them (answered). */
gboolean            nfltr_web_serve_asset           (SoupServerMessage *msg,
                                                     const char        *path);
/* A kind's own asset: answers NAME from RESOURCE at DIR (ending in '/') when NAME is one of
 * NAMES (NULL-terminated), typed by its suffix (.js, .css, .svg) and cacheable for an hour.
 * TRUE when answered. */
gboolean            nfltr_web_respond_resource      (SoupServerMessage  *msg,
                                                     GResource          *resource,
                                                     const char         *dir,
                                                     const char * const *names,
                                                     const char         *name);

/* ---- small pieces, pure (fuzzed: fuzz/fuzz-web-query.c) ---- */

/* application/x-www-form-urlencoded (as in a URL's query): '+' is a space, %XX decoded.
 * Pairs whose key or value would decode to a NUL or bad escape are dropped; at most 64
 * pairs are kept; the first of a repeated key wins. Never NULL. */
GHashTable         *nfltr_web_query_parse           (const char        *query,
                                                     gsize              len);
/* Compares two secrets in time that depends on neither's content. */
gboolean            nfltr_web_secret_equal          (const char        *a,
                                                     const char        *b);
/* TRUE when the client prefers HTML (a browser): Accept names text/html. */
gboolean            nfltr_web_wants_html            (SoupServerMessage *msg);
/* HTML-escaped text, appended. */
void                nfltr_web_append_escaped        (GString           *out,
                                                     const char        *text);

G_END_DECLS
