/* nfltr-tunnel-tls.c — one tunnel's TLS server credentials (GnuTLS), shared by its
 * connections */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-tunnels-private.h"

#include "nfltr-error.h"

#include <string.h>

/* TLS 1.2 and 1.3 only, ECDHE with AEAD suites only (no CBC: issue 8 §5), the same as the
 * relay's (RELAY_TLS_PRIORITIES); our preference order, since we know our certificate is
 * ECDSA P-256 and the client's list is often longest-first. */
#define TUNNEL_PRIORITIES                                                                 \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"   \
  "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

struct _NfltrTunnelTls
{
  gatomicrefcount                  ref;
  gnutls_certificate_credentials_t cred;
  gnutls_priority_t                priority;
  gnutls_datum_t                   ticket_key;  /* session resumption for returning clients */
  gboolean                         require_client_cert; /* --client-ca (issue 9 §10) */
};

static void
tunnel_tls_free (NfltrTunnelTls *tls)
{
  if (tls->cred != NULL)
    gnutls_certificate_free_credentials (tls->cred);
  if (tls->priority != NULL)
    gnutls_priority_deinit (tls->priority);
  if (tls->ticket_key.data != NULL)
    {
      gnutls_memset (tls->ticket_key.data, 0, tls->ticket_key.size);
      gnutls_free (tls->ticket_key.data);
    }
  g_free (tls);
}

NfltrTunnelTls *
nfltr_tunnel_tls_new (const char *cert_pem, const char *key_pem, GError **error)
{
  NfltrTunnelTls *tls;
  gnutls_datum_t cert, key;
  int ret;

  g_return_val_if_fail (cert_pem != NULL, NULL);
  g_return_val_if_fail (key_pem != NULL, NULL);

  tls = g_new0 (NfltrTunnelTls, 1);
  g_atomic_ref_count_init (&tls->ref);

  cert.data = (unsigned char *) cert_pem;
  cert.size = strlen (cert_pem);
  key.data = (unsigned char *) key_pem;
  key.size = strlen (key_pem);

  if ((ret = gnutls_certificate_allocate_credentials (&tls->cred)) < 0 ||
      (ret = gnutls_priority_init2 (&tls->priority, TUNNEL_PRIORITIES, NULL, 0)) < 0 ||
      (ret = gnutls_session_ticket_key_generate (&tls->ticket_key)) < 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                   "could not set up TLS for the tunnel: %s", gnutls_strerror (ret));
      tunnel_tls_free (tls);
      return NULL;
    }
  /* Also checks that the key belongs to the certificate. */
  ret = gnutls_certificate_set_x509_key_mem2 (tls->cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
  if (ret < 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "the tunnel's certificate or key is unusable: %s", gnutls_strerror (ret));
      tunnel_tls_free (tls);
      return NULL;
    }
  return tls;
}

NfltrTunnelTls *
nfltr_tunnel_tls_ref (NfltrTunnelTls *tls)
{
  g_return_val_if_fail (tls != NULL, NULL);
  g_atomic_ref_count_inc (&tls->ref);
  return tls;
}

void
nfltr_tunnel_tls_unref (NfltrTunnelTls *tls)
{
  g_return_if_fail (tls != NULL);
  if (g_atomic_ref_count_dec (&tls->ref))
    tunnel_tls_free (tls);
}

gboolean
_nfltr_tunnel_tls_session_new (NfltrTunnelTls     *tls,
                               int                 fd,
                               const char * const *alpn,
                               gnutls_session_t   *session_out,
                               GError            **error)
{
  gnutls_datum_t protocols[8];
  guint n_protocols = 0;
  gnutls_session_t session = NULL;
  int ret;

  for (; alpn != NULL && alpn[n_protocols] != NULL; n_protocols++)
    {
      g_return_val_if_fail (n_protocols < G_N_ELEMENTS (protocols), FALSE);
      protocols[n_protocols].data = (unsigned char *) alpn[n_protocols];
      protocols[n_protocols].size = strlen (alpn[n_protocols]);
    }

  /* NO_SIGNAL: a client that went away must be an EPIPE, not a SIGPIPE for the service. */
  /* No resumption with client certificates: every visitor shows theirs on every connection. */
  if ((ret = gnutls_init (&session, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL)) < 0 ||
      (ret = gnutls_priority_set (session, tls->priority)) < 0 ||
      (ret = gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE, tls->cred)) < 0 ||
      (!tls->require_client_cert &&
       (ret = gnutls_session_ticket_enable_server (session, &tls->ticket_key)) < 0) ||
      (n_protocols > 0 && (ret = gnutls_alpn_set_protocols (session, protocols, n_protocols, 0)) < 0))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                   "could not start a TLS session: %s", gnutls_strerror (ret));
      if (session != NULL)
        gnutls_deinit (session);
      return FALSE;
    }
  if (tls->require_client_cert)
    {
      /* The handshake fails unless the visitor presents a certificate the CA file vouches
       * for; GnuTLS checks it against the credentials' trust list. */
      gnutls_certificate_server_set_request (session, GNUTLS_CERT_REQUIRE);
      gnutls_session_set_verify_cert (session, NULL, 0);
    }
  else
    gnutls_certificate_server_set_request (session, GNUTLS_CERT_IGNORE);
  gnutls_transport_set_int (session, fd);
  *session_out = session;
  return TRUE;
}

gboolean
nfltr_tunnel_tls_require_client_ca (NfltrTunnelTls *tls, const char *ca_file, GError **error)
{
  int ret = gnutls_certificate_set_x509_trust_file (tls->cred, ca_file, GNUTLS_X509_FMT_PEM);

  if (ret <= 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "client-ca: no CA certificate could be read from %s%s%s", ca_file,
                   ret < 0 ? ": " : "", ret < 0 ? gnutls_strerror (ret) : "");
      return FALSE;
    }
  tls->require_client_cert = TRUE;
  return TRUE;
}
