/* nfltr-acme-cert.c — the TLS-ALPN-01 challenge certificate, the CSR, chains (GnuTLS) */
#define G_LOG_DOMAIN "nfltr-acme"

#include "nfltr-acme-cert.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>

#include "nfltr-acme-jws.h"
#include "nfltr-error.h"

/* The challenge certificate only lives while the CA validates. */
#define CHALLENGE_VALIDITY_S (7 * 24 * 3600)

char *
nfltr_acme_key_authorization (const char *token, const char *thumbprint)
{
  return g_strconcat (token, ".", thumbprint, NULL);
}

GBytes *
nfltr_acme_identifier_extension (const char *key_authorization)
{
  guint8 der[2 + 32];
  gsize len = 32;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, (const guchar *) key_authorization, strlen (key_authorization));
  /* X.690 §8.7: OCTET STRING, definite short length 32. */
  der[0] = 0x04;
  der[1] = 0x20;
  g_checksum_get_digest (sum, der + 2, &len);
  return g_bytes_new (der, sizeof der);
}

static char *
datum_to_string (gnutls_datum_t *d)
{
  char *s = g_strndup ((const char *) d->data, d->size);

  gnutls_free (d->data);
  d->data = NULL;
  return s;
}

static gboolean
gnutls_failed (int ret, const char *what, GError **error)
{
  if (ret >= 0)
    return FALSE;
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE, "%s: %s", what, gnutls_strerror (ret));
  return TRUE;
}

gboolean
nfltr_acme_challenge_certificate (const char  *name,
                                  const char  *key_authorization,
                                  char       **cert_pem,
                                  char       **key_pem,
                                  GError     **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  g_autoptr(GBytes) ext = nfltr_acme_identifier_extension (key_authorization);
  gnutls_datum_t out = { NULL, 0 };
  guint8 serial[16];
  time_t now = time (NULL);
  gboolean ok = FALSE;
  int ret;

  if (gnutls_failed (gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial), "random", error))
    return FALSE;
  serial[0] &= 0x7f;  /* a positive INTEGER */
  if (gnutls_failed (gnutls_x509_privkey_init (&key), "key", error))
    goto out;
  if (gnutls_failed (gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                                   GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0),
                     "key", error) ||
      gnutls_failed (gnutls_x509_crt_init (&crt), "certificate", error))
    goto out;
  ret = gnutls_x509_crt_set_version (crt, 3);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_serial (crt, serial, sizeof serial);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_activation_time (crt, now - 3600);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_expiration_time (crt, now + CHALLENGE_VALIDITY_S);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, name, strlen (name));
  /* RFC 8737 §3: a subjectAltName extension with exactly one dNSName, the name validated. */
  if (ret >= 0)
    ret = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, name, strlen (name), GNUTLS_FSAN_SET);
  /* RFC 8737 §3: "The acmeIdentifier extension MUST be critical". */
  if (ret >= 0)
    ret = gnutls_x509_crt_set_extension_by_oid (crt, NFLTR_ACME_IDENTIFIER_OID, g_bytes_get_data (ext, NULL),
                                                g_bytes_get_size (ext), 1);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_key (crt, key);
  if (ret >= 0)
    ret = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0);
  if (gnutls_failed (ret, "the challenge certificate", error))
    goto out;
  if (gnutls_failed (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &out), "export", error))
    goto out;
  *cert_pem = datum_to_string (&out);
  if (gnutls_failed (gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &out), "export", error))
    {
      g_clear_pointer (cert_pem, g_free);
      goto out;
    }
  *key_pem = datum_to_string (&out);
  ok = TRUE;
out:
  if (crt != NULL)
    gnutls_x509_crt_deinit (crt);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return ok;
}

char *
nfltr_acme_csr (const char *name, const char *key_pem, GError **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crq_t crq = NULL;
  gnutls_datum_t in = { (unsigned char *) key_pem, strlen (key_pem) };
  gnutls_datum_t der = { NULL, 0 };
  char *csr = NULL;
  int ret;

  ret = gnutls_x509_privkey_init (&key);
  if (ret >= 0)
    ret = gnutls_x509_privkey_import (key, &in, GNUTLS_X509_FMT_PEM);
  if (ret >= 0)
    ret = gnutls_x509_crq_init (&crq);
  if (ret >= 0)
    ret = gnutls_x509_crq_set_version (crq, 1);
  if (ret >= 0)
    ret = gnutls_x509_crq_set_dn_by_oid (crq, GNUTLS_OID_X520_COMMON_NAME, 0, name, strlen (name));
  /* RFC 8555 §7.4: the identifiers are the CSR's subjectAltName. */
  if (ret >= 0)
    ret = gnutls_x509_crq_set_subject_alt_name (crq, GNUTLS_SAN_DNSNAME, name, strlen (name), GNUTLS_FSAN_SET);
  if (ret >= 0)
    ret = gnutls_x509_crq_set_key (crq, key);
  if (ret >= 0)
    ret = gnutls_x509_crq_sign2 (crq, key, GNUTLS_DIG_SHA256, 0);
  if (ret >= 0)
    ret = gnutls_x509_crq_export2 (crq, GNUTLS_X509_FMT_DER, &der);
  if (!gnutls_failed (ret, "the certificate request", error))
    csr = nfltr_acme_base64url (der.data, der.size);
  gnutls_free (der.data);
  if (crq != NULL)
    gnutls_x509_crq_deinit (crq);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return csr;
}

gboolean
nfltr_acme_chain_info (const char  *chain_pem,
                       const char  *key_pem,
                       const char  *name,
                       gint64      *not_before,
                       gint64      *not_after,
                       GError     **error)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_x509_privkey_t key = NULL;
  gnutls_datum_t in = { (unsigned char *) chain_pem, strlen (chain_pem) };
  guint8 crt_id[64], key_id[64];
  size_t crt_id_len = sizeof crt_id, key_id_len = sizeof key_id;
  gboolean ok = FALSE;
  int ret;

  if (gnutls_failed (gnutls_x509_crt_init (&crt), "certificate", error))
    return FALSE;
  /* The first PEM block is the leaf. */
  if (gnutls_failed (gnutls_x509_crt_import (crt, &in, GNUTLS_X509_FMT_PEM), "the issued certificate", error))
    goto out;
  if (not_before != NULL)
    *not_before = gnutls_x509_crt_get_activation_time (crt);
  if (not_after != NULL)
    *not_after = gnutls_x509_crt_get_expiration_time (crt);
  if (name != NULL && !gnutls_x509_crt_check_hostname (crt, name))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE, "the certificate is not for %s", name);
      goto out;
    }
  if (key_pem != NULL)
    {
      gnutls_datum_t kin = { (unsigned char *) key_pem, strlen (key_pem) };

      ret = gnutls_x509_privkey_init (&key);
      if (ret >= 0)
        ret = gnutls_x509_privkey_import (key, &kin, GNUTLS_X509_FMT_PEM);
      if (ret >= 0)
        ret = gnutls_x509_privkey_get_key_id (key, GNUTLS_KEYID_USE_SHA256, key_id, &key_id_len);
      if (ret >= 0)
        ret = gnutls_x509_crt_get_key_id (crt, GNUTLS_KEYID_USE_SHA256, crt_id, &crt_id_len);
      if (gnutls_failed (ret, "the key", error))
        goto out;
      if (crt_id_len != key_id_len || memcmp (crt_id, key_id, key_id_len) != 0)
        {
          g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                               "the certificate is not for the tunnel's key");
          goto out;
        }
    }
  ok = TRUE;
out:
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  gnutls_x509_crt_deinit (crt);
  return ok;
}

gboolean
nfltr_acme_cert_is_self_signed (const char *pem)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t in = { (unsigned char *) pem, strlen (pem) };
  gboolean self_signed = TRUE;

  if (gnutls_x509_crt_init (&crt) < 0)
    return TRUE;
  if (gnutls_x509_crt_import (crt, &in, GNUTLS_X509_FMT_PEM) >= 0)
    self_signed = gnutls_x509_crt_check_issuer (crt, crt) != 0;
  gnutls_x509_crt_deinit (crt);
  return self_signed;
}
