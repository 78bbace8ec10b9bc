/* relay-identity.c — load or create the relay certificate */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-identity.h"
#include "nfltr-cert.h"
#include "nfltr-error.h"

#include <stdlib.h>
#include <string.h>

void
relay_tls_use_strict_priorities (void)
{
  /* setenv, not g_setenv: nothing else runs yet, and an operator's own
   * G_TLS_GNUTLS_PRIORITY must not weaken what the relay promises. */
  setenv ("G_TLS_GNUTLS_PRIORITY", RELAY_TLS_PRIORITIES, 1);
}

/* The certificate must name the domain we serve, or every agent's pin check and every
 * inspectable client would fail later with a far less obvious error. */
static gboolean
check_names (GTlsCertificate *cert, const char *domain, const char *path, GError **error)
{
  g_autoptr(GPtrArray) names = g_tls_certificate_get_dns_names (cert);

  for (guint i = 0; names != NULL && i < names->len; i++)
    {
      gsize len;
      const char *name = g_bytes_get_data (names->pdata[i], &len);
      if (len == strlen (domain) && g_ascii_strncasecmp (name, domain, len) == 0)
        return TRUE;
    }
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
               "certificate %s does not name %s (it was made for another --domain); "
               "use that domain, or another --data-dir", path, domain);
  return FALSE;
}

RelayIdentity *
relay_identity_load (const char *data_dir, const char *domain, GError **error)
{
  g_autoptr(RelayIdentity) identity = g_new0 (RelayIdentity, 1);
  g_autofree char *key_path = g_build_filename (data_dir, "relay.key", NULL);
  g_autofree char *wildcard = g_strconcat ("*.", domain, NULL);
  const char *names[] = { domain, wildcard, NULL };
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  g_autofree char *both = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];

  identity->cert_path = g_build_filename (data_dir, "relay.crt", NULL);
  if (!nfltr_cert_load_or_create (identity->cert_path, key_path, names, &cert_pem, &key_pem, error))
    return NULL;
  if (!nfltr_fingerprint_of_pem (cert_pem, strlen (cert_pem), digest, error))
    return NULL;
  both = g_strconcat (cert_pem, "\n", key_pem, NULL);
  identity->certificate = g_tls_certificate_new_from_pem (both, -1, error);
  if (identity->certificate == NULL)
    {
      g_prefix_error (error, "%s: ", identity->cert_path);
      return NULL;
    }
  if (!check_names (identity->certificate, domain, identity->cert_path, error))
    return NULL;
  identity->fingerprint = nfltr_fingerprint_format (digest);
  return g_steal_pointer (&identity);
}

void
relay_identity_free (RelayIdentity *identity)
{
  if (identity == NULL)
    return;
  g_clear_object (&identity->certificate);
  g_free (identity->fingerprint);
  g_free (identity->cert_path);
  g_free (identity);
}

GIOStream *
relay_identity_new_server (RelayIdentity *identity, GIOStream *base, const char * const *alpn,
                           GError **error)
{
  /* No CA database: the relay asks no client for a certificate, and a connection given the
   * default database loads the system's whole CA list into its own credentials, megabytes
   * per connection. */
  GIOStream *tls = g_initable_new (g_tls_backend_get_server_connection_type (g_tls_backend_get_default ()),
                                   NULL, error,
                                   "base-io-stream", base,
                                   "certificate", identity->certificate,
                                   "database", NULL,
                                   NULL);

  if (tls == NULL)
    return NULL;
  /* A peer that vanishes without close_notify is not an attack on a relay that only serves
   * HTTP with explicit lengths and WebSocket frames; don't turn it into errors. */
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);
  if (alpn != NULL)
    g_tls_connection_set_advertised_protocols (G_TLS_CONNECTION (tls), alpn);
  return tls;
}
