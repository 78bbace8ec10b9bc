/* nfltr-cert.c — certificates and fingerprints (GnuTLS) */
#define G_LOG_DOMAIN "nfltr-cert"

#include "nfltr-cert.h"
#include "nfltr-error.h"

#include <errno.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <glib/gstdio.h>

/* g_autoptr needs a type name for the struct behind GnuTLS's pointer typedefs. */
typedef struct gnutls_x509_crt_int NfltrX509Crt;
typedef struct gnutls_x509_privkey_int NfltrX509Key;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrX509Crt, gnutls_x509_crt_deinit)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrX509Key, gnutls_x509_privkey_deinit)

char *
nfltr_fingerprint_format (const guint8 digest[NFLTR_FINGERPRINT_LEN])
{
  GString *s = g_string_sized_new (strlen (NFLTR_FINGERPRINT_PREFIX) + 2 * NFLTR_FINGERPRINT_LEN);

  g_string_append (s, NFLTR_FINGERPRINT_PREFIX);
  for (guint i = 0; i < NFLTR_FINGERPRINT_LEN; i++)
    g_string_append_printf (s, "%02x", digest[i]);
  return g_string_free (s, FALSE);
}

gboolean
nfltr_fingerprint_parse (const char *text, guint8 digest[NFLTR_FINGERPRINT_LEN])
{
  guint n = 0;
  int hi = -1;

  if (text == NULL)
    return FALSE;
  if (g_ascii_strncasecmp (text, NFLTR_FINGERPRINT_PREFIX, strlen (NFLTR_FINGERPRINT_PREFIX)) == 0)
    text += strlen (NFLTR_FINGERPRINT_PREFIX);
  for (const char *p = text; *p; p++)
    {
      int v;

      if (*p == ':')
        continue;
      v = g_ascii_xdigit_value (*p);
      if (v < 0 || n >= NFLTR_FINGERPRINT_LEN)
        return FALSE;
      if (hi < 0)
        hi = v;
      else
        {
          digest[n++] = (hi << 4) | v;
          hi = -1;
        }
    }
  return n == NFLTR_FINGERPRINT_LEN && hi < 0;
}

void
nfltr_fingerprint_of_der (const guint8 *der, gsize len, guint8 digest[NFLTR_FINGERPRINT_LEN])
{
  gnutls_hash_fast (GNUTLS_DIG_SHA256, der, len, digest);
}

static gboolean
import_crt (const char *pem, gsize len, const char *what, gnutls_x509_crt_t *out, GError **error)
{
  g_autoptr(NfltrX509Crt) crt = NULL;
  gnutls_datum_t datum = { (unsigned char *) pem, len };
  int rc;

  gnutls_x509_crt_init (&crt);
  rc = gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM);
  if (rc < 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "%s is not a PEM certificate: %s", what, gnutls_strerror (rc));
      return FALSE;
    }
  *out = g_steal_pointer (&crt);
  return TRUE;
}

static void
crt_fingerprint (gnutls_x509_crt_t crt, guint8 digest[NFLTR_FINGERPRINT_LEN])
{
  gnutls_datum_t der = { NULL, 0 };

  gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der);
  nfltr_fingerprint_of_der (der.data, der.size, digest);
  gnutls_free (der.data);
}

gboolean
nfltr_fingerprint_of_pem (const char *pem, gsize len, guint8 digest[NFLTR_FINGERPRINT_LEN], GError **error)
{
  g_autoptr(NfltrX509Crt) crt = NULL;

  if (!import_crt (pem, len, "the data", &crt, error))
    return FALSE;
  crt_fingerprint (crt, digest);
  return TRUE;
}

static char *
export_pem_crt (gnutls_x509_crt_t crt)
{
  gnutls_datum_t out = { NULL, 0 };
  char *ret;

  gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &out);
  ret = g_strndup ((const char *) out.data, out.size);
  gnutls_free (out.data);
  return ret;
}

static char *
export_pem_key (gnutls_x509_privkey_t key)
{
  gnutls_datum_t out = { NULL, 0 };
  char *ret;

  /* PKCS#8 unencrypted, the form OpenSSL and GnuTLS both read. */
  gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &out);
  ret = g_strndup ((const char *) out.data, out.size);
  gnutls_free (out.data);
  return ret;
}

#define CHECK(expr) G_STMT_START { int rc_ = (expr); if (rc_ < 0) { \
    g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE, \
                 "cannot generate certificate (%s): %s", #expr, gnutls_strerror (rc_)); \
    return FALSE; } } G_STMT_END

gboolean
nfltr_cert_generate (const char * const *dns_names,
                     guint               days,
                     char              **cert_pem,
                     char              **key_pem,
                     GError            **error)
{
  g_autoptr(NfltrX509Key) key = NULL;
  g_autoptr(NfltrX509Crt) crt = NULL;
  guint8 serial[16];
  time_t now = time (NULL);

  g_return_val_if_fail (dns_names != NULL && dns_names[0] != NULL, FALSE);

  CHECK (gnutls_x509_privkey_init (&key));
  CHECK (gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                       GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0));
  CHECK (gnutls_x509_crt_init (&crt));
  CHECK (gnutls_x509_crt_set_version (crt, 3));
  CHECK (gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial));
  serial[0] &= 0x7f;  /* RFC 5280 §4.1.2.2: serial is a positive integer */
  CHECK (gnutls_x509_crt_set_serial (crt, serial, sizeof serial));
  /* Backdated a little so a clock slightly behind still accepts it. */
  CHECK (gnutls_x509_crt_set_activation_time (crt, now - 3600));
  CHECK (gnutls_x509_crt_set_expiration_time (crt, now + (time_t) days * 86400));
  CHECK (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                        dns_names[0], strlen (dns_names[0])));
  for (guint i = 0; dns_names[i] != NULL; i++)
    CHECK (gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, dns_names[i],
                                                 strlen (dns_names[i]), GNUTLS_FSAN_APPEND));
  CHECK (gnutls_x509_crt_set_basic_constraints (crt, 0, -1));
  CHECK (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE));
  CHECK (gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0));
  CHECK (gnutls_x509_crt_set_key (crt, key));
  {
    guint8 kid[64];
    size_t kid_len = sizeof kid;
    CHECK (gnutls_x509_crt_get_key_id (crt, GNUTLS_KEYID_USE_SHA1, kid, &kid_len));
    CHECK (gnutls_x509_crt_set_subject_key_id (crt, kid, kid_len));
  }
  CHECK (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0));

  *cert_pem = export_pem_crt (crt);
  *key_pem = export_pem_key (key);
  return TRUE;
}

#undef CHECK

static gboolean
read_file (const char *path, const char *what, char **contents, gsize *len, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (!g_file_get_contents (path, contents, len, &local))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "cannot read %s “%s”: %s", what, path, local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
nfltr_cert_load_pair (const char  *cert_path,
                      const char  *key_path,
                      char       **cert_pem,
                      char       **key_pem,
                      GError     **error)
{
  g_autofree char *cert = NULL;
  g_autofree char *keytext = NULL;
  g_autofree char *cert_what = NULL;
  g_autoptr(NfltrX509Crt) crt = NULL;
  g_autoptr(NfltrX509Key) key = NULL;
  gnutls_datum_t datum;
  guint8 crt_id[64], key_id[64];
  size_t crt_id_len = sizeof crt_id, key_id_len = sizeof key_id;
  gsize cert_len, key_len;
  int rc;

  if (!read_file (cert_path, "certificate", &cert, &cert_len, error) ||
      !read_file (key_path, "private key", &keytext, &key_len, error))
    return FALSE;

  cert_what = g_strdup_printf ("certificate file “%s”", cert_path);
  if (!import_crt (cert, cert_len, cert_what, &crt, error))
    return FALSE;

  gnutls_x509_privkey_init (&key);
  datum.data = (unsigned char *) keytext;
  datum.size = key_len;
  rc = gnutls_x509_privkey_import2 (key, &datum, GNUTLS_X509_FMT_PEM, NULL, 0);
  if (rc < 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "private key file “%s” is not an unencrypted PEM private key: %s",
                   key_path, gnutls_strerror (rc));
      return FALSE;
    }

  if (gnutls_x509_crt_get_key_id (crt, GNUTLS_KEYID_USE_SHA256, crt_id, &crt_id_len) < 0 ||
      gnutls_x509_privkey_get_key_id (key, GNUTLS_KEYID_USE_SHA256, key_id, &key_id_len) < 0 ||
      crt_id_len != key_id_len || memcmp (crt_id, key_id, crt_id_len) != 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "private key “%s” does not match the certificate “%s”", key_path, cert_path);
      return FALSE;
    }

  if (cert_pem)
    *cert_pem = g_steal_pointer (&cert);
  if (key_pem)
    *key_pem = g_steal_pointer (&keytext);
  return TRUE;
}

static gboolean
write_private (const char *path, const char *contents, int mode, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) local = NULL;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "cannot create directory “%s”: %s", dir, g_strerror (errsv));
      return FALSE;
    }
  if (!g_file_set_contents_full (path, contents, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 mode, &local))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "cannot write “%s”: %s", path, local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
nfltr_cert_load_or_create (const char         *cert_path,
                           const char         *key_path,
                           const char * const *dns_names,
                           char              **cert_pem,
                           char              **key_pem,
                           GError            **error)
{
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;

  if (g_file_test (cert_path, G_FILE_TEST_EXISTS) && g_file_test (key_path, G_FILE_TEST_EXISTS))
    return nfltr_cert_load_pair (cert_path, key_path, cert_pem, key_pem, error);

  /* Ten years: these are pinned by fingerprint, not checked against a CA, and rotating
   * one would change the identity users have verified. */
  if (!nfltr_cert_generate (dns_names, 3650, &cert, &key, error))
    return FALSE;
  /* Key first: a crash in between leaves no certificate without its key. */
  if (!write_private (key_path, key, 0600, error) ||
      !write_private (cert_path, cert, 0644, error))
    return FALSE;

  if (cert_pem)
    *cert_pem = g_steal_pointer (&cert);
  if (key_pem)
    *key_pem = g_steal_pointer (&key);
  return TRUE;
}

char *
nfltr_fingerprint_of_tls_certificate (GTlsCertificate *cert)
{
  g_autoptr (GByteArray) der = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];

  if (cert == NULL)
    return NULL;
  g_object_get (cert, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  nfltr_fingerprint_of_der (der->data, der->len, digest);
  return nfltr_fingerprint_format (digest);
}
