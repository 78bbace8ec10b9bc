/* nfltr-cert-trust.c — see nfltr-cert-trust.h. */
#define G_LOG_DOMAIN "nfltr"

#include "nfltr-cert-trust.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

/* A few words for the first fault GnuTLS found, in the order a user can act on them. */
static char *
describe_status (unsigned int status, const char *host)
{
  if (status & GNUTLS_CERT_EXPIRED)
    return g_strdup ("expired");
  if (status & GNUTLS_CERT_NOT_ACTIVATED)
    return g_strdup ("not valid yet");
  if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
    return g_strdup_printf ("not valid for %s", host);
  if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
    return g_strdup ("not signed by an authority clients trust");
  if (status & GNUTLS_CERT_REVOKED)
    return g_strdup ("revoked");
  if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
    return g_strdup ("signed with an insecure algorithm");
  return g_strdup ("rejected by the trust store");
}

gboolean
nfltr_cert_chain_trusted (const char *cert_pem, const char *host, const char *ca_file,
                          char **reason)
{
  gnutls_x509_trust_list_t list = NULL;
  gnutls_x509_crt_t *chain = NULL;
  unsigned int chain_len = 0, status = 0;
  gnutls_datum_t pem = { (unsigned char *) cert_pem, (unsigned int) strlen (cert_pem) };
  gnutls_typed_vdata_st vdata = { GNUTLS_DT_DNS_HOSTNAME, (unsigned char *) host, 0 };
  gboolean trusted = FALSE;
  int loaded, ret;

  g_return_val_if_fail (cert_pem != NULL && host != NULL, FALSE);

  if (gnutls_x509_crt_list_import2 (&chain, &chain_len, &pem, GNUTLS_X509_FMT_PEM, 0) < 0 ||
      chain_len == 0)
    {
      if (reason != NULL)
        *reason = g_strdup ("not a PEM certificate");
      return FALSE;
    }
  if (gnutls_x509_trust_list_init (&list, 0) < 0)
    goto out;
  loaded = ca_file != NULL
             ? gnutls_x509_trust_list_add_trust_file (list, ca_file, NULL, GNUTLS_X509_FMT_PEM, 0, 0)
             : gnutls_x509_trust_list_add_system_trust (list, 0, 0);
  if (loaded <= 0)
    {
      if (reason != NULL)
        *reason = g_strdup ("no trust store to check against");
      goto out;
    }
  ret = gnutls_x509_trust_list_verify_crt2 (list, chain, chain_len, &vdata, 1, 0, &status, NULL);
  if (ret < 0)
    {
      if (reason != NULL)
        *reason = g_strdup (gnutls_strerror (ret));
      goto out;
    }
  trusted = status == 0;
  if (!trusted && reason != NULL)
    *reason = describe_status (status, host);

out:
  if (list != NULL)
    gnutls_x509_trust_list_deinit (list, 1);
  for (unsigned int i = 0; i < chain_len; i++)
    gnutls_x509_crt_deinit (chain[i]);
  gnutls_free (chain);
  return trusted;
}
