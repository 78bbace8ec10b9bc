/* nfltr-tunnel-tls.c — one tunnel's TLS server credentials (GnuTLS), shared by its
 * connections */
#define G_LOG_DOMAIN "nfltr-tunnels"

#include "nfltr-tunnels-private.h"

#include "nfltr-error.h"
#include "nfltr-tunnel-tls-acme.h"

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
  /* ACME TLS-ALPN-01 hook (issue 11 item 7, service/acme/): the challenge being answered */
  GMutex                           acme_lock;
  char                            *acme_name;
  gnutls_certificate_credentials_t acme_cred;
  GPtrArray                       *acme_retired; /* older challenges' credentials: a session
                                                  * may still point at them */
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
  /* ACME hook */
  if (tls->acme_cred != NULL)
    gnutls_certificate_free_credentials (tls->acme_cred);
  g_clear_pointer (&tls->acme_retired, g_ptr_array_unref);
  g_free (tls->acme_name);
  g_mutex_clear (&tls->acme_lock);
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
  g_mutex_init (&tls->acme_lock);

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

/* ---- ACME TLS-ALPN-01 hook (issue 11 item 7; the ACME client is service/acme/) ----
 *
 * While a challenge is pending, a ClientHello that offers only "acme-tls/1" for the
 * challenge's name gets the challenge certificate (RFC 8737 §3) instead of the tunnel's,
 * through the same passthrough path as any visitor: the relay only splices. In TLS 1.3 the
 * connection ends once the validator has our Finished and never reaches the kind's backend
 * (acme_finished_cb). */

/* After the client's Finished in TLS 1.3 (ours went before it, so the validator has seen the
 * whole handshake): end the connection here rather than hand it to the backend. In TLS 1.2
 * our Finished comes last; the validator closes (RFC 8737 §3) and the backend sees an empty
 * connection. */
static int
acme_finished_cb (gnutls_session_t session, unsigned int htype, unsigned when, unsigned int incoming,
                  const gnutls_datum_t *msg)
{
  if (incoming && gnutls_protocol_get_version (session) == GNUTLS_TLS1_3)
    return GNUTLS_E_APPLICATION_ERROR_MIN;
  return 0;
}

static int
acme_client_hello_cb (gnutls_session_t session)
{
  NfltrTunnelTls *tls = gnutls_session_get_ptr (session);
  gnutls_datum_t selected = { NULL, 0 };
  char name[256];
  size_t name_len = sizeof name - 1;
  unsigned int type;
  int ret = 0;

  if (gnutls_alpn_get_selected_protocol (session, &selected) < 0 ||
      selected.size != strlen (NFLTR_ACME_TLS_ALPN) ||
      memcmp (selected.data, NFLTR_ACME_TLS_ALPN, selected.size) != 0)
    return 0;
  if (gnutls_server_name_get (session, name, &name_len, &type, 0) < 0 || type != GNUTLS_NAME_DNS)
    name_len = 0;
  name[name_len] = '\0';
  g_mutex_lock (&tls->acme_lock);
  if (tls->acme_cred != NULL && tls->acme_name != NULL && g_ascii_strcasecmp (name, tls->acme_name) == 0)
    {
      ret = gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE, tls->acme_cred);
      gnutls_handshake_set_hook_function (session, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST,
                                          acme_finished_cb);
      g_debug ("TLS-ALPN-01: serving the challenge certificate for %s", name);
    }
  else
    ret = GNUTLS_E_NO_APPLICATION_PROTOCOL;  /* acme-tls/1 for a name we are not validating */
  g_mutex_unlock (&tls->acme_lock);
  return ret;
}

gboolean
nfltr_tunnel_tls_set_acme_challenge (NfltrTunnelTls *tls,
                                     const char     *name,
                                     const char     *cert_pem,
                                     const char     *key_pem,
                                     GError        **error)
{
  gnutls_certificate_credentials_t cred = NULL;
  gnutls_datum_t cert = { (unsigned char *) cert_pem, strlen (cert_pem) };
  gnutls_datum_t key = { (unsigned char *) key_pem, strlen (key_pem) };
  int ret;

  if ((ret = gnutls_certificate_allocate_credentials (&cred)) < 0 ||
      (ret = gnutls_certificate_set_x509_key_mem2 (cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "the ACME challenge certificate is unusable: %s", gnutls_strerror (ret));
      if (cred != NULL)
        gnutls_certificate_free_credentials (cred);
      return FALSE;
    }
  g_mutex_lock (&tls->acme_lock);
  if (tls->acme_cred != NULL)
    {
      if (tls->acme_retired == NULL)
        tls->acme_retired = g_ptr_array_new_with_free_func ((GDestroyNotify) gnutls_certificate_free_credentials);
      g_ptr_array_add (tls->acme_retired, tls->acme_cred);
    }
  tls->acme_cred = cred;
  g_free (tls->acme_name);
  tls->acme_name = g_strdup (name);
  g_mutex_unlock (&tls->acme_lock);
  return TRUE;
}

void
nfltr_tunnel_tls_clear_acme_challenge (NfltrTunnelTls *tls)
{
  g_mutex_lock (&tls->acme_lock);
  if (tls->acme_cred != NULL)
    {
      if (tls->acme_retired == NULL)
        tls->acme_retired = g_ptr_array_new_with_free_func ((GDestroyNotify) gnutls_certificate_free_credentials);
      g_ptr_array_add (tls->acme_retired, g_steal_pointer (&tls->acme_cred));
    }
  g_clear_pointer (&tls->acme_name, g_free);
  g_mutex_unlock (&tls->acme_lock);
}

/* ---- end of the ACME hook ---- */

gboolean
_nfltr_tunnel_tls_session_new (NfltrTunnelTls     *tls,
                               int                 fd,
                               const char * const *alpn,
                               gnutls_session_t   *session_out,
                               GError            **error)
{
  gnutls_datum_t protocols[9];
  guint n_protocols = 0;
  gnutls_session_t session = NULL;
  gboolean acme;
  int ret;

  for (; alpn != NULL && alpn[n_protocols] != NULL; n_protocols++)
    {
      g_return_val_if_fail (n_protocols < G_N_ELEMENTS (protocols) - 1, FALSE);
      protocols[n_protocols].data = (unsigned char *) alpn[n_protocols];
      protocols[n_protocols].size = strlen (alpn[n_protocols]);
    }
  /* ACME hook: "acme-tls/1" is offered only while a challenge is pending (RFC 8737 §3). */
  g_mutex_lock (&tls->acme_lock);
  acme = tls->acme_cred != NULL;
  g_mutex_unlock (&tls->acme_lock);
  if (acme)
    {
      protocols[n_protocols].data = (unsigned char *) NFLTR_ACME_TLS_ALPN;
      protocols[n_protocols].size = strlen (NFLTR_ACME_TLS_ALPN);
      n_protocols++;
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
  if (acme)
    {
      /* ACME hook: the tls outlives the session (each connection holds a reference). */
      gnutls_session_set_ptr (session, tls);
      gnutls_handshake_set_post_client_hello_function (session, acme_client_hello_cb);
    }
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
