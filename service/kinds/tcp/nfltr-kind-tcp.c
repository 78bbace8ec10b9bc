/* nfltr-kind-tcp.c — "tcp": any TCP server on HOST:PORT. The decrypted bytes pass
 * unchanged, TLS negotiates no ALPN, and a server that cannot be reached closes the
 * connection without a word (a byte stream has no place for an error page). */
#define G_LOG_DOMAIN "nfltr-kinds"

#include "nfltr-kind-tcp.h"

struct _NfltrKindTcp {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindTcp, nfltr_kind_tcp, NFLTR_TYPE_TUNNEL_KIND)

static const char *
tcp_get_id (NfltrTunnelKind *kind)
{
  return "tcp";
}

static const char *
tcp_get_label (NfltrTunnelKind *kind)
{
  return "TCP";
}

static const char *
tcp_get_description (NfltrTunnelKind *kind)
{
  return "Any local TCP service (SSH, databases, …), published over TLS";
}

static GVariant *
tcp_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  return nfltr_kind_host_port_parse (target, error);
}

static char *
tcp_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  return nfltr_kind_host_port_describe (config);
}

static int
tcp_connect (NfltrTunnelKind *kind, GVariant *config, const NfltrKindConn *conn, GError **error)
{
  return nfltr_kind_host_port_connect (config, conn, error);
}

static void
nfltr_kind_tcp_class_init (NfltrKindTcpClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  kind_class->get_id = tcp_get_id;
  kind_class->get_label = tcp_get_label;
  kind_class->get_description = tcp_get_description;
  kind_class->parse = tcp_parse;
  kind_class->describe_target = tcp_describe_target;
  kind_class->connect = tcp_connect;
}

static void
nfltr_kind_tcp_init (NfltrKindTcp *self)
{
}
