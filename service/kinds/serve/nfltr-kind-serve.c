/* nfltr-kind-serve.c — "serve": `nfltr serve DIR`, a folder as a file server over the
 * agent's own TLS (issue 10). Target: the folder's absolute path. Options: "upload" (b),
 * "max-upload" (t, bytes), and the web layer's "basic-auth" and "token". The pages are
 * served by the web layer (service/kinds/web); the handlers are in nfltr-serve-app.c. */
#define G_LOG_DOMAIN "nfltr-serve"

#include "nfltr-kind-serve.h"

#include "nfltr-error.h"
#include "nfltr-web.h"

/* Uploads up to this size unless --max-upload says otherwise. */
#define DEFAULT_MAX_UPLOAD (G_GUINT64_CONSTANT (1) << 30)

struct _NfltrKindServe {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindServe, nfltr_kind_serve, NFLTR_TYPE_TUNNEL_KIND)

static const char *
serve_get_id (NfltrTunnelKind *kind)
{
  return "serve";
}

static const char *
serve_get_label (NfltrTunnelKind *kind)
{
  return "Files";
}

static const char *
serve_get_description (NfltrTunnelKind *kind)
{
  return "A folder as a file server: listing, downloads that resume, optional uploads";
}

static GVariant *
serve_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  gboolean upload = FALSE;
  guint64 max_upload = DEFAULT_MAX_UPLOAD;
  g_autofree char *canonical = NULL;

  if (target == NULL || *target == '\0' || !g_path_is_absolute (target))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "target must be the absolute path of a folder");
      return NULL;
    }
  canonical = g_canonicalize_filename (target, NULL);
  if (!g_file_test (canonical, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "“%s” is not a folder", canonical);
      return NULL;
    }
  g_variant_dict_insert (&dict, "root", "s", canonical);
  if (options != NULL)
    {
      g_variant_lookup (options, "upload", "b", &upload);
      if (g_variant_lookup (options, "max-upload", "t", &max_upload) && max_upload == 0)
        {
          g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                               "--max-upload must be more than 0 bytes");
          return NULL;
        }
    }
  g_variant_dict_insert (&dict, "upload", "b", upload);
  g_variant_dict_insert (&dict, "max-upload", "t", max_upload);
  if (!nfltr_web_parse_auth_options (options, &dict, error))
    return NULL;
  return g_variant_dict_end (&dict);
}

static char *
serve_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  const char *root = NULL;

  g_variant_lookup (config, "root", "&s", &root);
  return g_strdup (root);
}

static gboolean
serve_start (NfltrTunnelKind *kind, GVariant *config, GError **error)
{
  return nfltr_serve_app_start (config, error);
}

static void
nfltr_kind_serve_class_init (NfltrKindServeClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  nfltr_web_kind_class_init (kind_class);
  kind_class->get_id = serve_get_id;
  kind_class->get_label = serve_get_label;
  kind_class->get_description = serve_get_description;
  kind_class->parse = serve_parse;
  kind_class->describe_target = serve_describe_target;
  kind_class->start = serve_start;
}

static void
nfltr_kind_serve_init (NfltrKindServe *self)
{
}
