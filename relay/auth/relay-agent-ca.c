/* relay-agent-ca.c — the relay's agent CA: ECDSA P-256, made once, key 0600; it signs only
 * client certificates (extended key usage clientAuth, not a CA) for agents' public keys. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-agent-ca.h"
#include "nfltr-error.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <glib/gstdio.h>
#include <string.h>

#define CA_DAYS      (10 * 365)
#define SERIAL_BYTES 16

struct _RelayAgentCa {
  gnutls_x509_crt_t      cert;
  gnutls_x509_privkey_t  key;
  gnutls_x509_crt_t     *operator_cas;
  unsigned int           n_operator_cas;
};

static gboolean
tls_fail (GError **error, const char *what, int rc)
{
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE, "%s: %s", what, gnutls_strerror (rc));
  return FALSE;
}

void
relay_agent_ca_free (RelayAgentCa *ca)
{
  if (ca == NULL)
    return;
  if (ca->cert)
    gnutls_x509_crt_deinit (ca->cert);
  if (ca->key)
    gnutls_x509_privkey_deinit (ca->key);
  for (unsigned int i = 0; i < ca->n_operator_cas; i++)
    gnutls_x509_crt_deinit (ca->operator_cas[i]);
  gnutls_free (ca->operator_cas);
  g_free (ca);
}

static char *
export_pem (int (*export) (void *, gnutls_x509_crt_fmt_t, gnutls_datum_t *), void *object)
{
  gnutls_datum_t out = { NULL, 0 };
  char *pem;

  if (export(object, GNUTLS_X509_FMT_PEM, &out) < 0)
    return NULL;
  pem = g_strndup ((const char *) out.data, out.size);
  gnutls_free (out.data);
  return pem;
}

static gboolean
random_serial (guint8 serial[SERIAL_BYTES])
{
  if (gnutls_rnd (GNUTLS_RND_NONCE, serial, SERIAL_BYTES) != 0)
    return FALSE;
  /* RFC 5280 §4.1.2.2: positive, and not zero. */
  serial[0] = (serial[0] & 0x7f) | 0x01;
  return TRUE;
}

static gboolean
ca_create (RelayAgentCa *ca, const char *cert_path, const char *key_path, GError **error)
{
  guint8 serial[SERIAL_BYTES];
  time_t now = time (NULL);
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  int rc;

  if ((rc = gnutls_x509_privkey_init (&ca->key)) < 0 ||
      (rc = gnutls_x509_privkey_generate (ca->key, GNUTLS_PK_ECDSA,
                                          GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
      (rc = gnutls_x509_crt_init (&ca->cert)) < 0)
    return tls_fail (error, "agent CA key", rc);
  if (!random_serial (serial))
    return tls_fail (error, "agent CA serial", GNUTLS_E_RANDOM_FAILED);
  if ((rc = gnutls_x509_crt_set_version (ca->cert, 3)) < 0 ||
      (rc = gnutls_x509_crt_set_serial (ca->cert, serial, sizeof serial)) < 0 ||
      (rc = gnutls_x509_crt_set_dn_by_oid (ca->cert, GNUTLS_OID_X520_COMMON_NAME, 0,
                                           "NFLTR relay agent CA", strlen ("NFLTR relay agent CA"))) < 0 ||
      (rc = gnutls_x509_crt_set_activation_time (ca->cert, now - 3600)) < 0 ||
      (rc = gnutls_x509_crt_set_expiration_time (ca->cert, now + (time_t) CA_DAYS * 86400)) < 0 ||
      (rc = gnutls_x509_crt_set_basic_constraints (ca->cert, 1, 0)) < 0 ||
      (rc = gnutls_x509_crt_set_key_usage (ca->cert, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0 ||
      (rc = gnutls_x509_crt_set_key (ca->cert, ca->key)) < 0 ||
      (rc = gnutls_x509_crt_sign2 (ca->cert, ca->cert, ca->key, GNUTLS_DIG_SHA256, 0)) < 0)
    return tls_fail (error, "agent CA certificate", rc);
  cert_pem = export_pem ((gpointer) gnutls_x509_crt_export2, ca->cert);
  key_pem = export_pem ((gpointer) gnutls_x509_privkey_export2, ca->key);
  if (cert_pem == NULL || key_pem == NULL)
    return tls_fail (error, "agent CA export", GNUTLS_E_INTERNAL_ERROR);
  /* The key first, 0600 from its first byte; the certificate names it. */
  if (!g_file_set_contents_full (key_path, key_pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) ||
      !g_file_set_contents_full (cert_path, cert_pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error))
    return FALSE;
  return TRUE;
}

static gboolean
ca_read (RelayAgentCa *ca, const char *cert_path, const char *key_path, GError **error)
{
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  gsize cert_len, key_len;
  gnutls_datum_t d;
  int rc;

  if (!g_file_get_contents (cert_path, &cert_pem, &cert_len, error) ||
      !g_file_get_contents (key_path, &key_pem, &key_len, error))
    return FALSE;
  if ((rc = gnutls_x509_crt_init (&ca->cert)) < 0 || (rc = gnutls_x509_privkey_init (&ca->key)) < 0)
    return tls_fail (error, "agent CA", rc);
  d.data = (unsigned char *) cert_pem;
  d.size = cert_len;
  if ((rc = gnutls_x509_crt_import (ca->cert, &d, GNUTLS_X509_FMT_PEM)) < 0)
    return tls_fail (error, cert_path, rc);
  d.data = (unsigned char *) key_pem;
  d.size = key_len;
  if ((rc = gnutls_x509_privkey_import (ca->key, &d, GNUTLS_X509_FMT_PEM)) < 0)
    return tls_fail (error, key_path, rc);
  return TRUE;
}

RelayAgentCa *
relay_agent_ca_load (const char *data_dir, const char *operator_file, GError **error)
{
  g_autoptr(RelayAgentCa) ca = g_new0 (RelayAgentCa, 1);
  g_autofree char *cert_path = g_build_filename (data_dir, "agent-ca.crt", NULL);
  g_autofree char *key_path = g_build_filename (data_dir, "agent-ca.key", NULL);

  if (!g_file_test (cert_path, G_FILE_TEST_EXISTS) || !g_file_test (key_path, G_FILE_TEST_EXISTS))
    {
      g_autoptr(RelayAgentCa) made = g_new0 (RelayAgentCa, 1);

      if (!ca_create (made, cert_path, key_path, error))
        return NULL;
    }
  /* Always from the files: a certificate built in memory lacks the raw names GnuTLS matches
   * an issuer by, so verifying against it fails until it is read back. */
  if (!ca_read (ca, cert_path, key_path, error))
    return NULL;

  if (operator_file != NULL)
    {
      g_autofree char *pem = NULL;
      gsize len;
      gnutls_datum_t d;
      int rc;

      if (!g_file_get_contents (operator_file, &pem, &len, error))
        {
          g_prefix_error (error, "--agent-ca: ");
          return NULL;
        }
      d.data = (unsigned char *) pem;
      d.size = len;
      rc = gnutls_x509_crt_list_import2 (&ca->operator_cas, &ca->n_operator_cas, &d,
                                         GNUTLS_X509_FMT_PEM, 0);
      if (rc < 0 || ca->n_operator_cas == 0)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                       "--agent-ca %s: no PEM certificate in it (%s)", operator_file,
                       rc < 0 ? gnutls_strerror (rc) : "empty");
          return NULL;
        }
    }
  return g_steal_pointer (&ca);
}

static char *
serial_hex (gnutls_x509_crt_t cert)
{
  guint8 serial[64];
  size_t len = sizeof serial;
  GString *out;

  if (gnutls_x509_crt_get_serial (cert, serial, &len) < 0)
    return NULL;
  out = g_string_new (NULL);
  for (size_t i = 0; i < len; i++)
    g_string_append_printf (out, "%02x", serial[i]);
  return g_string_free (out, FALSE);
}

char *
relay_agent_ca_normalize_serial (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p; p++)
    {
      if (*p == ':')
        continue;
      if (!g_ascii_isxdigit (*p))
        {
          g_string_free (out, TRUE);
          return NULL;
        }
      g_string_append_c (out, g_ascii_tolower (*p));
    }
  /* Leading zero bytes are not part of an integer's value (DER may add one for the sign). */
  while (out->len > 2 && out->str[0] == '0' && out->str[1] == '0')
    g_string_erase (out, 0, 2);
  if (out->len == 0 || out->len > 128)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

char *
relay_agent_ca_issue (RelayAgentCa *ca, const char *public_key_pem, const char *agent_id, guint days,
                      char **serial, GError **error)
{
  gnutls_pubkey_t pubkey = NULL;
  gnutls_x509_crt_t cert = NULL;
  guint8 serial_bytes[SERIAL_BYTES];
  gnutls_datum_t d = { (unsigned char *) public_key_pem, strlen (public_key_pem) };
  time_t now = time (NULL);
  char *pem = NULL;
  int rc;

  if (!random_serial (serial_bytes))
    {
      tls_fail (error, "serial", GNUTLS_E_RANDOM_FAILED);
      return NULL;
    }
  if ((rc = gnutls_pubkey_init (&pubkey)) < 0 ||
      (rc = gnutls_pubkey_import (pubkey, &d, GNUTLS_X509_FMT_PEM)) < 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“public_key” is not a PEM public key: %s", gnutls_strerror (rc));
      goto out;
    }
  if ((rc = gnutls_x509_crt_init (&cert)) < 0 ||
      (rc = gnutls_x509_crt_set_version (cert, 3)) < 0 ||
      (rc = gnutls_x509_crt_set_serial (cert, serial_bytes, sizeof serial_bytes)) < 0 ||
      (rc = gnutls_x509_crt_set_dn_by_oid (cert, GNUTLS_OID_X520_COMMON_NAME, 0, agent_id,
                                           strlen (agent_id))) < 0 ||
      (rc = gnutls_x509_crt_set_activation_time (cert, now - 300)) < 0 ||
      (rc = gnutls_x509_crt_set_expiration_time (cert, now + (time_t) days * 86400)) < 0 ||
      (rc = gnutls_x509_crt_set_basic_constraints (cert, 0, -1)) < 0 ||
      (rc = gnutls_x509_crt_set_key_usage (cert, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
      (rc = gnutls_x509_crt_set_key_purpose_oid (cert, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0 ||
      (rc = gnutls_x509_crt_set_pubkey (cert, pubkey)) < 0 ||
      (rc = gnutls_x509_crt_sign2 (cert, ca->cert, ca->key, GNUTLS_DIG_SHA256, 0)) < 0)
    {
      tls_fail (error, "issuing a client certificate", rc);
      goto out;
    }
  pem = export_pem ((gpointer) gnutls_x509_crt_export2, cert);
  if (pem == NULL)
    tls_fail (error, "exporting the client certificate", GNUTLS_E_INTERNAL_ERROR);
  else
    *serial = serial_hex (cert);
out:
  if (cert)
    gnutls_x509_crt_deinit (cert);
  if (pubkey)
    gnutls_pubkey_deinit (pubkey);
  return pem;
}

/* Signature by one of cas, inside its validity period. */
static gboolean
verified_by (gnutls_x509_crt_t cert, gnutls_x509_crt_t *cas, unsigned int n)
{
  unsigned int status = 0;

  if (n == 0)
    return FALSE;
  return gnutls_x509_crt_verify (cert, cas, n, 0, &status) == 0 && status == 0;
}

gboolean
relay_agent_ca_verify (RelayAgentCa *ca, GTlsCertificate *peer, char **serial, char **common_name,
                       RelayAgentCaIssuer *issuer, GError **error)
{
  g_autoptr(GByteArray) der = NULL;
  gnutls_x509_crt_t cert = NULL;
  gnutls_datum_t d;
  char cn[256];
  size_t cn_len = sizeof cn - 1;
  gboolean ok = FALSE;

  g_object_get (peer, "certificate", &der, NULL);
  if (der == NULL || gnutls_x509_crt_init (&cert) < 0)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED, "client certificate unreadable");
      return FALSE;
    }
  d.data = der->data;
  d.size = der->len;
  if (gnutls_x509_crt_import (cert, &d, GNUTLS_X509_FMT_DER) < 0)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED, "client certificate unreadable");
      goto out;
    }
  if (verified_by (cert, &ca->cert, 1))
    *issuer = RELAY_AGENT_CA_ISSUER_RELAY;
  else if (verified_by (cert, ca->operator_cas, ca->n_operator_cas))
    *issuer = RELAY_AGENT_CA_ISSUER_OPERATOR;
  else
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED,
                           "client certificate not issued by this relay or its --agent-ca, or expired");
      goto out;
    }
  *serial = serial_hex (cert);
  if (gnutls_x509_crt_get_dn_by_oid (cert, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len) < 0)
    cn_len = 0;
  cn[cn_len] = '\0';
  *common_name = g_strdup (cn);
  ok = *serial != NULL;
  if (!ok)
    g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED, "client certificate has no serial");
out:
  gnutls_x509_crt_deinit (cert);
  return ok;
}
