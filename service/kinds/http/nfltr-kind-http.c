/* nfltr-kind-http.c — "http": an HTTP/1.1 server on HOST:PORT. TLS offers ALPN http/1.1
 * only, every request head goes through the rewriter (Host check, X-Forwarded-*), and a
 * server that cannot be reached is answered 502 naming the cause (service/tunnels/README.md). */
#define G_LOG_DOMAIN "nfltr-kinds"

#include "nfltr-kind-http.h"

#include "nfltr-http-filter.h"
#include "nfltr-http-rewrite.h"
#include "nfltr-resolve.h"

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

static GVariant *
http_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  return nfltr_kind_host_port_parse (target, error);
}

static char *
http_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  return nfltr_kind_host_port_describe (config);
}

static const char * const *
http_get_alpn (NfltrTunnelKind *kind)
{
  /* Only what the rewriter understands: a client must not pick h2 past it. */
  static const char * const alpn[] = { "http/1.1", NULL };

  return alpn;
}

static int
http_connect (NfltrTunnelKind *kind, GVariant *config, const NfltrKindConn *conn, GError **error)
{
  return nfltr_kind_host_port_connect (config, conn, error);
}

static NfltrStreamFilter *
http_new_filter (NfltrTunnelKind *kind, GVariant *config, const NfltrKindConn *conn)
{
  g_autofree char *client_ip = NULL;

  if (!nfltr_parse_host_port (conn->client_addr, 0, FALSE, &client_ip, NULL, NULL))
    client_ip = g_strdup (conn->client_addr);
  return nfltr_http_filter_new (conn->sni, client_ip);
}

static GBytes *
http_unreachable_response (NfltrTunnelKind *kind, GVariant *config, const GError *error)
{
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
}

static void
nfltr_kind_http_init (NfltrKindHttp *self)
{
}
