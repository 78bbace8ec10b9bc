/* nfltr-tunnel-kind.c — the tunnel-kind base class, the table of kinds, and the helpers of
 * kinds whose backend is a TCP server */
#define G_LOG_DOMAIN "nfltr-kinds"

#include "nfltr-tunnel-kind.h"

#include <fcntl.h>
#include <string.h>
#include <glib-unix.h>
#include <unistd.h>

#include "nfltr-data-conn.h"
#include "nfltr-error.h"
#include "nfltr-resolve.h"
#include "nfltr-web.h"

#include "nfltr-kind-http.h"
#include "nfltr-kind-tcp.h"
#include "nfltr-kind-serve.h"
#include "nfltr-kind-share.h"
#include "nfltr-kind-command.h"
#include "nfltr-kind-terminal.h"
#include "nfltr-kind-ai.h"
#include "nfltr-kind-tail.h"
#include "nfltr-kind-watch.h"
#include "nfltr-kind-shell.h"

typedef GType (*NfltrKindTypeFunc) (void);

/* Every kind the service offers, in the order clients list them. Adding a kind is its folder
 * (service/kinds/<id>/ with its meson.build), its subdir() in service/kinds/meson.build, and
 * one line here (plus its #include above). */
static NfltrKindTypeFunc kinds[] = {
  nfltr_kind_http_get_type,
  nfltr_kind_tcp_get_type,
  nfltr_kind_serve_get_type,
  nfltr_kind_share_get_type,
  nfltr_kind_command_get_type,
  nfltr_kind_terminal_get_type,
  nfltr_kind_ai_get_type,
  nfltr_kind_tail_get_type,
  nfltr_kind_watch_get_type,
  nfltr_kind_shell_get_type,
};

G_DEFINE_ABSTRACT_TYPE (NfltrTunnelKind, nfltr_tunnel_kind, G_TYPE_OBJECT)

static const char * const *
real_get_alpn (NfltrTunnelKind *self)
{
  return NULL;
}

static char **
real_get_tunnel_alpn (NfltrTunnelKind *self, GVariant *config)
{
  return g_strdupv ((char **) nfltr_tunnel_kind_get_alpn (self));
}

static gboolean
real_start (NfltrTunnelKind *self, GVariant *config, GError **error)
{
  return TRUE;
}

static void
real_stop (NfltrTunnelKind *self, GVariant *config)
{
}

static const char *
real_get_url_scheme (NfltrTunnelKind *self)
{
  return "https";
}

static int
real_refuse (NfltrTunnelKind *self, GVariant *config, const NfltrKindConn *conn, const GError *error)
{
  return -1;
}

static gboolean
real_reports_origin (NfltrTunnelKind *self, GVariant *config, const NfltrKindConn *conn)
{
  return FALSE;
}

static NfltrStreamFilter *
real_new_filter (NfltrTunnelKind *self, GVariant *config, const NfltrKindConn *conn)
{
  return NULL;
}

static GBytes *
real_unreachable_response (NfltrTunnelKind *self, GVariant *config, const GError *error)
{
  return NULL;
}

/* Issue 11: the web layer's badge shows the tunnel's real certificate. */
static void
real_certificate_changed (NfltrTunnelKind *self, GVariant *config, const char *cert_pem, const char *fingerprint)
{
  nfltr_web_certificate_changed (config, fingerprint);
}

static void
nfltr_tunnel_kind_class_init (NfltrTunnelKindClass *klass)
{
  klass->get_alpn = real_get_alpn;
  klass->get_tunnel_alpn = real_get_tunnel_alpn;
  klass->start = real_start;
  klass->stop = real_stop;
  klass->new_filter = real_new_filter;
  klass->unreachable_response = real_unreachable_response;
  klass->reports_origin = real_reports_origin;
  klass->get_url_scheme = real_get_url_scheme;
  klass->refuse = real_refuse;
  klass->certificate_changed = real_certificate_changed;
}

static void
nfltr_tunnel_kind_init (NfltrTunnelKind *self)
{
}

const char *
nfltr_tunnel_kind_get_id (NfltrTunnelKind *self)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), NULL);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->get_id (self);
}

const char *
nfltr_tunnel_kind_get_label (NfltrTunnelKind *self)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), NULL);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->get_label (self);
}

const char *
nfltr_tunnel_kind_get_description (NfltrTunnelKind *self)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), NULL);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->get_description (self);
}

GVariant *
nfltr_tunnel_kind_parse (NfltrTunnelKind  *self,
                         const char       *target,
                         GVariant         *options,
                         GError          **error)
{
  GVariant *config;

  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), NULL);
  g_return_val_if_fail (options == NULL || g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT), NULL);

  config = NFLTR_TUNNEL_KIND_GET_CLASS (self)->parse (self, target, options, error);
  g_return_val_if_fail (config == NULL || g_variant_is_of_type (config, G_VARIANT_TYPE_VARDICT), NULL);
  return config != NULL ? g_variant_ref_sink (config) : NULL;
}

char *
nfltr_tunnel_kind_describe_target (NfltrTunnelKind *self,
                                   GVariant        *config)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), NULL);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->describe_target (self, config);
}

const char * const *
nfltr_tunnel_kind_get_alpn (NfltrTunnelKind *self)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), NULL);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->get_alpn (self);
}

char **
nfltr_tunnel_kind_get_tunnel_alpn (NfltrTunnelKind *self,
                                   GVariant        *config)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), NULL);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->get_tunnel_alpn (self, config);
}

gboolean
nfltr_tunnel_kind_start (NfltrTunnelKind  *self,
                         GVariant         *config,
                         GError          **error)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), FALSE);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->start (self, config, error);
}

void
nfltr_tunnel_kind_stop (NfltrTunnelKind *self,
                        GVariant        *config)
{
  g_return_if_fail (NFLTR_IS_TUNNEL_KIND (self));
  NFLTR_TUNNEL_KIND_GET_CLASS (self)->stop (self, config);
}

/* The pump polls and never blocks; a kind handing over a plain socketpair end must not be
 * able to stall the worker, nor leak the socket into a child. */
static int
prepare_fd (int fd, GError **error)
{
  if (fd < 0)
    return -1;
  if (!g_unix_set_fd_nonblocking (fd, TRUE, error))
    {
      close (fd);
      return -1;
    }
  fcntl (fd, F_SETFD, fcntl (fd, F_GETFD) | FD_CLOEXEC);
  return fd;
}

int
nfltr_tunnel_kind_connect (NfltrTunnelKind      *self,
                           GVariant             *config,
                           const NfltrKindConn  *conn,
                           GError              **error)
{
  int fd;

  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), -1);

  fd = NFLTR_TUNNEL_KIND_GET_CLASS (self)->connect (self, config, conn, error);
  return prepare_fd (fd, error);
}

int
nfltr_tunnel_kind_refuse (NfltrTunnelKind *self, GVariant *config, const NfltrKindConn *conn,
                          const GError *error)
{
  g_autoptr (GError) local_error = NULL;
  int fd;

  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), -1);
  fd = prepare_fd (NFLTR_TUNNEL_KIND_GET_CLASS (self)->refuse (self, config, conn, error), &local_error);
  if (fd < 0 && local_error != NULL)
    g_debug ("refusal stream: %s", local_error->message);
  return fd;
}

NfltrStreamFilter *
nfltr_tunnel_kind_new_filter (NfltrTunnelKind      *self,
                              GVariant             *config,
                              const NfltrKindConn  *conn)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), NULL);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->new_filter (self, config, conn);
}

const char *
nfltr_tunnel_kind_get_url_scheme (NfltrTunnelKind *self)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), "https");
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->get_url_scheme (self);
}

char *
nfltr_tunnel_kind_public_url (NfltrTunnelKind *self, const char *relay_url)
{
  const char *scheme = nfltr_tunnel_kind_get_url_scheme (self);
  const char *rest;

  if (relay_url == NULL || *relay_url == '\0')
    return g_strdup ("");
  rest = strstr (relay_url, "://");
  if (rest == NULL || g_str_has_prefix (relay_url, scheme))
    return g_strdup (relay_url);
  /* The relay names no path for a tunnel, so host and port are the whole URL. */
  return g_strdup_printf ("%s%s", scheme, rest);
}

gboolean
nfltr_tunnel_kind_reports_origin (NfltrTunnelKind *self, GVariant *config, const NfltrKindConn *conn)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), FALSE);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->reports_origin (self, config, conn);
}

GBytes *
nfltr_tunnel_kind_unreachable_response (NfltrTunnelKind *self,
                                        GVariant        *config,
                                        const GError    *error)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_KIND (self), NULL);
  return NFLTR_TUNNEL_KIND_GET_CLASS (self)->unreachable_response (self, config, error);
}

/* --- the registry ------------------------------------------------------------------------ */

static NfltrTunnelKind **
instances (void)
{
  static NfltrTunnelKind **list;

  /* Created once, on whichever thread asks first, and kept for the life of the process:
   * worker threads hold plain pointers to them. */
  if (g_once_init_enter (&list))
    {
      NfltrTunnelKind **l = g_new0 (NfltrTunnelKind *, G_N_ELEMENTS (kinds) + 1);

      for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
        {
          l[i] = g_object_new (kinds[i](), NULL);
          g_assert (NFLTR_IS_TUNNEL_KIND (l[i]));
        }
      g_once_init_leave (&list, l);
    }
  return list;
}

NfltrTunnelKind *
nfltr_tunnel_kind_lookup (const char *id)
{
  if (id == NULL)
    return NULL;
  for (NfltrTunnelKind **k = instances (); *k != NULL; k++)
    if (g_str_equal (nfltr_tunnel_kind_get_id (*k), id))
      return *k;
  return NULL;
}

NfltrTunnelKind **
nfltr_tunnel_kind_list (guint *n_kinds)
{
  if (n_kinds != NULL)
    *n_kinds = G_N_ELEMENTS (kinds);
  return instances ();
}

GVariant *
nfltr_tunnel_kind_list_to_variant (void)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sss)"));
  for (NfltrTunnelKind **k = instances (); *k != NULL; k++)
    g_variant_builder_add (&b, "(sss)", nfltr_tunnel_kind_get_id (*k),
                           nfltr_tunnel_kind_get_label (*k),
                           nfltr_tunnel_kind_get_description (*k));
  return g_variant_builder_end (&b);
}

void
nfltr_tunnel_kind_set_unknown_error (GError **error, const char *id)
{
  g_autoptr(GString) known = g_string_new (NULL);
  guint n;
  NfltrTunnelKind **list = nfltr_tunnel_kind_list (&n);

  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append (known, i + 1 == n ? " or " : ", ");
      g_string_append_printf (known, "“%s”", nfltr_tunnel_kind_get_id (list[i]));
    }
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "kind must be %s, not “%s”",
               known->str, id ? id : "");
}

/* --- kinds whose backend is a TCP server ------------------------------------------------- */

GVariant *
nfltr_kind_host_port_parse (const char *target, GError **error)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *host = NULL;
  guint16 port;

  if (target == NULL || *target == '\0')
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "target is missing (PORT or HOST:PORT)");
      return NULL;
    }
  if (!nfltr_parse_address (target, NFLTR_ADDRESS_TARGET, 0, TRUE, &host, &port, error))
    return NULL;
  g_variant_dict_insert (&dict, "host", "s", host);
  g_variant_dict_insert (&dict, "port", "q", port);
  return g_variant_dict_end (&dict);
}

static gboolean
lookup_host_port (GVariant *config, const char **host, guint16 *port)
{
  return config != NULL &&
         g_variant_lookup (config, "host", "&s", host) &&
         g_variant_lookup (config, "port", "q", port);
}

char *
nfltr_kind_host_port_describe (GVariant *config)
{
  const char *host;
  guint16 port;

  g_return_val_if_fail (lookup_host_port (config, &host, &port), NULL);
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", host, port);
  return g_strdup_printf ("%s:%u", host, port);
}

int
nfltr_kind_host_port_connect (GVariant             *config,
                              const NfltrKindConn  *conn,
                              GError              **error)
{
  const char *host;
  guint16 port;

  g_return_val_if_fail (lookup_host_port (config, &host, &port), -1);
  return nfltr_data_conn_connect_tcp (host, port, conn->timeout_ms, conn->cancel_fd, error);
}

void
nfltr_tunnel_kind_certificate_changed (NfltrTunnelKind *self, GVariant *config, const char *cert_pem,
                                       const char *fingerprint)
{
  g_return_if_fail (NFLTR_IS_TUNNEL_KIND (self));

  NFLTR_TUNNEL_KIND_GET_CLASS (self)->certificate_changed (self, config, cert_pem, fingerprint);
}
