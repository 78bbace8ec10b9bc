/* nfltr-kind-tcp.c — "tcp": any TCP server on HOST:PORT. The decrypted bytes pass
 * unchanged, TLS negotiates no ALPN unless the user listed protocols (option "alpn",
 * `nfltr tcp --alpn h2,http/1.1`: a gRPC client insists on h2), and a server that cannot be
 * reached closes the connection without a word (a byte stream has no place for an error
 * page). */
#define G_LOG_DOMAIN "nfltr-kinds"

#include "nfltr-kind-tcp.h"

#include "nfltr-error.h"

/* RFC 7301 §3.1: a protocol name is 1–255 bytes; a list is at most 2^16−1 bytes on the wire.
 * A handful is all any client sends; more is a mistake. */
#define MAX_ALPN_NAME      255
#define MAX_ALPN_PROTOCOLS 16

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

/* "h2,http/1.1" into its names; FALSE with an error for the user if one is not a name. */
static gboolean
parse_alpn (const char *list, GPtrArray *names, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (list, ",", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *name = g_strstrip (parts[i]);
      gsize len = strlen (name);
      gboolean printable = TRUE;

      for (gsize j = 0; j < len; j++)
        printable = printable && g_ascii_isgraph (name[j]);
      if (len == 0 || len > MAX_ALPN_NAME || !printable)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "--alpn: “%s” is not a protocol name (1 to %u printable characters, "
                       "comma-separated: h2,http/1.1)", name, MAX_ALPN_NAME);
          return FALSE;
        }
      if (names->len == MAX_ALPN_PROTOCOLS)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "--alpn: at most %u protocols", MAX_ALPN_PROTOCOLS);
          return FALSE;
        }
      g_ptr_array_add (names, g_strdup (name));
    }
  return TRUE;
}

static GVariant *
tcp_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  g_autoptr(GVariant) host_port = nfltr_kind_host_port_parse (target, error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (host_port);
  const char *alpn = NULL;

  if (host_port == NULL)
    return NULL;
  if (options != NULL && g_variant_lookup (options, "alpn", "&s", &alpn) &&
      !parse_alpn (alpn, names, error))
    return NULL;
  if (names->len > 0)
    {
      g_ptr_array_add (names, NULL);
      g_variant_dict_insert (&dict, "alpn", "^as", (char **) names->pdata);
    }
  return g_variant_dict_end (&dict);
}

static char **
tcp_get_tunnel_alpn (NfltrTunnelKind *kind, GVariant *config)
{
  char **alpn = NULL;

  if (config != NULL && g_variant_lookup (config, "alpn", "^as", &alpn))
    return alpn;
  return NULL;
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

/* Issue 9 §3: not a website — tls://NAME.DOMAIN:PORT, for `nfltr connect` or any TLS client. */
static const char *
tcp_get_url_scheme (NfltrTunnelKind *kind)
{
  return "tls";
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
  kind_class->get_tunnel_alpn = tcp_get_tunnel_alpn;
  kind_class->connect = tcp_connect;
  kind_class->get_url_scheme = tcp_get_url_scheme;
}

static void
nfltr_kind_tcp_init (NfltrKindTcp *self)
{
}
