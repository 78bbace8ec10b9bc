/* nfltr-kind-http.c — "http": a web server on HOST:PORT. TLS offers ALPN h2 and http/1.1.
 * An HTTP/1.1 visitor's request heads go through the rewriter (Host check, X-Forwarded-*);
 * an HTTP/2 visitor is served by the in-process HTTP/2 proxy (nfltr-http2-proxy.h), which
 * checks every request the same way and speaks h2c or HTTP/1.1 to the server (option
 * "origin-h2": auto, yes, no; "origin-tls": TLS to the server instead, ALPN choosing). A server that cannot be reached is answered 502 naming the
 * cause (service/tunnels/README.md). */
#define G_LOG_DOMAIN "nfltr-kinds"

#include "nfltr-kind-http.h"

#include "nfltr-error.h"
#include "nfltr-http-auth.h"
#include "nfltr-http-filter.h"
#include "nfltr-http-rewrite.h"
#include "nfltr-http2-proxy.h"
#include "nfltr-inspect-address.h"  /* inspector (issue 9 §8) */
#include "nfltr-inspect-registry.h" /* inspector (issue 9 §8) */
#include "nfltr-origin-tls.h"
#include "nfltr-resolve.h"

#include <string.h>

/* RFC 7301 §6 registry names; "h2" is HTTP/2 over TLS (RFC 9113 §3.2). */
#define ALPN_H2     "h2"
#define ALPN_HTTP11 "http/1.1"

struct _NfltrKindHttp {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindHttp, nfltr_kind_http, NFLTR_TYPE_TUNNEL_KIND)

static const char *
http_get_id (NfltrTunnelKind *kind)
{
  return "http";
}

static const char *
http_get_label (NfltrTunnelKind *kind)
{
  return "HTTP";
}

static const char *
http_get_description (NfltrTunnelKind *kind)
{
  return "A local web server, published over HTTPS";
}

/* "origin-h2": how HTTP/2 visitors reach the server. auto (the default) probes it with
 * h2c once per visitor connection; yes always speaks h2c; no always translates to HTTP/1.1. */
static GVariant *
http_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  g_autoptr(GVariant) host_port = nfltr_kind_host_port_parse (target, error);
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (host_port);
  const char *origin_h2 = NULL;
  const char *basic_auth = NULL;
  gboolean origin_tls = FALSE;

  if (host_port == NULL)
    return NULL;
  if (options != NULL && g_variant_lookup (options, "origin-h2", "&s", &origin_h2))
    {
      if (g_strcmp0 (origin_h2, "auto") != 0 && g_strcmp0 (origin_h2, "yes") != 0 &&
          g_strcmp0 (origin_h2, "no") != 0)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "origin-h2 must be “auto”, “yes” or “no”, not “%s”", origin_h2);
          return NULL;
        }
      if (strcmp (origin_h2, "auto") != 0)
        g_variant_dict_insert (&dict, "origin-h2", "s", origin_h2);
    }
  if (options != NULL && g_variant_lookup (options, "origin-tls", "b", &origin_tls) && origin_tls)
    g_variant_dict_insert (&dict, "origin-tls", "b", TRUE);
  if (!nfltr_inspect_check_options (options, error)) /* inspector (issue 9 §8) */
    return NULL;
  if (options != NULL && g_variant_lookup (options, "basic-auth", "&s", &basic_auth))
    {
      if (!nfltr_http_basic_auth_valid (basic_auth, error))
        return NULL;
      g_variant_dict_insert (&dict, "basic-auth", "s", basic_auth);
    }
  return g_variant_dict_end (&dict);
}

static NfltrHttp2OriginMode
origin_mode (GVariant *config)
{
  const char *origin_h2 = NULL;

  if (!g_variant_lookup (config, "origin-h2", "&s", &origin_h2))
    return NFLTR_HTTP2_ORIGIN_AUTO;
  return strcmp (origin_h2, "yes") == 0 ? NFLTR_HTTP2_ORIGIN_H2 : NFLTR_HTTP2_ORIGIN_H1;
}

static gboolean
origin_tls (GVariant *config)
{
  gboolean tls = FALSE;

  return g_variant_lookup (config, "origin-tls", "b", &tls) && tls;
}

/* --basic-auth, or NULL. */
static const char *
basic_auth_of (GVariant *config)
{
  const char *credentials = NULL;

  g_variant_lookup (config, "basic-auth", "&s", &credentials);
  return credentials;
}

static gboolean
is_h2 (const NfltrKindConn *conn)
{
  return g_strcmp0 (conn->alpn, ALPN_H2) == 0;
}

static char *
client_ip_of (const NfltrKindConn *conn)
{
  g_autofree char *client_ip = NULL;

  if (!nfltr_parse_host_port (conn->client_addr, 0, FALSE, &client_ip, NULL, NULL))
    return g_strdup (conn->client_addr);
  return g_steal_pointer (&client_ip);
}

static char *
http_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  return nfltr_kind_host_port_describe (config);
}

static const char * const *
http_get_alpn (NfltrTunnelKind *kind)
{
  /* h2 first: RFC 7301 lets the server choose, and GnuTLS takes our order. */
  static const char * const alpn[] = { ALPN_H2, ALPN_HTTP11, NULL };

  return alpn;
}

/* HTTP/2 visitors get the in-process proxy (which reaches the server itself, per stream
 * or per connection, and answers 502 per stream); HTTP/1.1 visitors the server directly. */
static int
http_connect (NfltrTunnelKind *kind, GVariant *config, const NfltrKindConn *conn, GError **error)
{
  g_autofree char *client_ip = NULL;
  NfltrHttp2Proxy *proxy;
  const char *host;
  guint16 port;

  static const char * const alpn_http11[] = { ALPN_HTTP11, NULL };

  g_variant_lookup (config, "host", "&s", &host);
  g_variant_lookup (config, "port", "q", &port);
  if (!is_h2 (conn) && origin_tls (config))
    return nfltr_origin_tls_connect (host, port, alpn_http11, conn->timeout_ms, conn->cancel_fd,
                                     NULL, error);
  if (!is_h2 (conn))
    return nfltr_kind_host_port_connect (config, conn, error);
  client_ip = client_ip_of (conn);
  proxy = nfltr_http2_proxy_new (conn->sni, client_ip, host, port, origin_mode (config),
                                 origin_tls (config), conn->timeout_ms);
  nfltr_http2_proxy_set_stats (proxy, conn->stats);
  nfltr_http2_proxy_set_basic_auth (proxy, basic_auth_of (config));
  nfltr_http2_proxy_set_inspect (proxy, config, conn->client_addr); /* inspector (issue 9 §8) */
  return nfltr_http2_proxy_start (proxy, error);
}

/* The HTTP/2 proxy reaches the local server per request, and says how it went. */
static gboolean
http_reports_origin (NfltrTunnelKind *kind, GVariant *config, const NfltrKindConn *conn)
{
  return is_h2 (conn);
}

static NfltrStreamFilter *
http_new_filter (NfltrTunnelKind *kind, GVariant *config, const NfltrKindConn *conn)
{
  g_autofree char *client_ip = NULL;
  NfltrStreamFilter *filter;

  /* The HTTP/2 proxy checks every request itself; its bytes are frames, not request heads. */
  if (is_h2 (conn))
    return NULL;
  client_ip = client_ip_of (conn);
  filter = nfltr_http_filter_new (conn->sni, client_ip);
  if (basic_auth_of (config) != NULL)
    nfltr_http_filter_set_basic_auth (NFLTR_HTTP_FILTER (filter), basic_auth_of (config));
  {
    /* inspector (issue 9 §8) */
    g_autoptr(NfltrInspectStore) store = nfltr_inspect_registry_lookup (config);

    nfltr_http_filter_set_inspect (NFLTR_HTTP_FILTER (filter), store, conn->client_addr);
  }
  return filter;
}

/* HTTP/2 visitors turned away by the access control hear it in HTTP/2 (issue 9 §10). */
static int
http_refuse (NfltrTunnelKind *kind, GVariant *config, const NfltrKindConn *conn, const GError *error)
{
  g_autoptr (GError) local_error = NULL;
  NfltrHttp2Proxy *proxy;
  int fd;

  if (!is_h2 (conn))
    return -1;
  proxy = nfltr_http2_proxy_new (conn->sni, conn->client_addr, "127.0.0.1", 1, NFLTR_HTTP2_ORIGIN_NONE,
                                 FALSE, conn->timeout_ms);
  nfltr_http2_proxy_set_refusal (proxy, error->message);
  fd = nfltr_http2_proxy_start (proxy, &local_error);
  if (fd < 0)
    g_debug ("h2 refusal: %s", local_error->message);
  return fd;
}

static GBytes *
http_unreachable_response (NfltrTunnelKind *kind, GVariant *config, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    return nfltr_http_error_response (403, error->message);
  g_autofree char *detail = g_strdup_printf ("the tunnel's local server is unreachable (%s)",
                                             error->message);

  return nfltr_http_error_response (502, detail);
}

static void
nfltr_kind_http_class_init (NfltrKindHttpClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  kind_class->get_id = http_get_id;
  kind_class->get_label = http_get_label;
  kind_class->get_description = http_get_description;
  kind_class->parse = http_parse;
  kind_class->describe_target = http_describe_target;
  kind_class->get_alpn = http_get_alpn;
  kind_class->connect = http_connect;
  kind_class->new_filter = http_new_filter;
  kind_class->unreachable_response = http_unreachable_response;
  kind_class->reports_origin = http_reports_origin;
  kind_class->refuse = http_refuse;
}

static void
nfltr_kind_http_init (NfltrKindHttp *self)
{
}
