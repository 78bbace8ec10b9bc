/* test-cert.c — generated certificates are ECDSA P-256 for the right names, fingerprints are
 * stable across loads, and bad user-supplied pairs are refused with the file named. */
#include "nfltr-cert.h"
#include "nfltr-error.h"

#include <string.h>
#include <gnutls/x509.h>
#include <glib/gstdio.h>

static void
test_generate (void)
{
  const char *names[] = { "myapp.nfltr.localhost", NULL };
  g_autofree char *cert = NULL, *key = NULL;
  g_autoptr(GError) error = NULL;
  gnutls_x509_crt_t crt;
  gnutls_datum_t datum;
  unsigned bits = 0;
  char san[256];
  size_t san_len = sizeof san;

  g_assert_true (nfltr_cert_generate (names, 30, &cert, &key, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (cert, "BEGIN CERTIFICATE"));
  g_assert_nonnull (strstr (key, "BEGIN PRIVATE KEY"));

  gnutls_x509_crt_init (&crt);
  datum.data = (unsigned char *) cert;
  datum.size = strlen (cert);
  g_assert_cmpint (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_get_pk_algorithm (crt, &bits), ==, GNUTLS_PK_ECDSA);
  g_assert_cmpuint (bits, ==, 256);
  g_assert_cmpint (gnutls_x509_crt_get_subject_alt_name (crt, 0, san, &san_len, NULL), ==, GNUTLS_SAN_DNSNAME);
  g_assert_cmpstr (san, ==, "myapp.nfltr.localhost");
  gnutls_x509_crt_deinit (crt);
}

static void
test_fingerprint_format_parse (void)
{
  guint8 d[32], back[32];
  g_autofree char *s = NULL;

  for (guint i = 0; i < 32; i++)
    d[i] = i * 9;
  s = nfltr_fingerprint_format (d);
  g_assert_true (g_str_has_prefix (s, "sha256:"));
  g_assert_cmpuint (strlen (s), ==, 7 + 64);
  g_assert_true (nfltr_fingerprint_parse (s, back));
  g_assert_cmpmem (back, 32, d, 32);
  g_assert_true (nfltr_fingerprint_parse ("00:09:12:1B:24:2D:36:3F:48:51:5A:63:6C:75:7E:87:90:99:A2:AB:B4:BD:C6:CF:D8:E1:EA:F3:FC:05:0E:17", back));
  g_assert_cmpmem (back, 32, d, 32);
  g_assert_false (nfltr_fingerprint_parse ("sha256:abc", back));
  g_assert_false (nfltr_fingerprint_parse ("sha256:zz", back));
}

static void
test_load_or_create_stable (void)
{
  g_autofree char *dir = g_dir_make_tmp ("nfltr-cert-XXXXXX", NULL);
  g_autofree char *crt_path = g_build_filename (dir, "sub", "a.crt", NULL);
  g_autofree char *key_path = g_build_filename (dir, "sub", "a.key", NULL);
  const char *names[] = { "a.nfltr.localhost", NULL };
  g_autofree char *c1 = NULL, *c2 = NULL, *k1 = NULL, *k2 = NULL;
  g_autoptr(GError) error = NULL;
  guint8 f1[32], f2[32];
  GStatBuf st;

  g_assert_true (nfltr_cert_load_or_create (crt_path, key_path, names, &c1, &k1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (key_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (nfltr_cert_load_or_create (crt_path, key_path, names, &c2, &k2, &error));
  g_assert_no_error (error);
  g_assert_true (nfltr_fingerprint_of_pem (c1, strlen (c1), f1, NULL));
  g_assert_true (nfltr_fingerprint_of_pem (c2, strlen (c2), f2, NULL));
  g_assert_cmpmem (f1, 32, f2, 32);
  g_assert_cmpstr (k1, ==, k2);
}

static void
test_bad_pairs (void)
{
  g_autofree char *dir = g_dir_make_tmp ("nfltr-cert-XXXXXX", NULL);
  g_autofree char *crt_a = g_build_filename (dir, "a.crt", NULL);
  g_autofree char *key_a = g_build_filename (dir, "a.key", NULL);
  g_autofree char *crt_b = g_build_filename (dir, "b.crt", NULL);
  g_autofree char *key_b = g_build_filename (dir, "b.key", NULL);
  g_autofree char *junk = g_build_filename (dir, "junk.pem", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.pem", NULL);
  const char *names[] = { "x.nfltr.localhost", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (nfltr_cert_load_or_create (crt_a, key_a, names, NULL, NULL, NULL));
  g_assert_true (nfltr_cert_load_or_create (crt_b, key_b, names, NULL, NULL, NULL));
  g_assert_true (g_file_set_contents (junk, "hello", -1, NULL));

  g_assert_true (nfltr_cert_load_pair (crt_a, key_a, NULL, NULL, &error));
  g_assert_no_error (error);

  g_assert_false (nfltr_cert_load_pair (crt_a, key_b, NULL, NULL, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE);
  g_assert_nonnull (strstr (error->message, "does not match"));
  g_clear_error (&error);

  g_assert_false (nfltr_cert_load_pair (missing, key_a, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "cannot read certificate"));
  g_assert_nonnull (strstr (error->message, "missing.pem"));
  g_clear_error (&error);

  g_assert_false (nfltr_cert_load_pair (crt_a, missing, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "cannot read private key"));
  g_clear_error (&error);

  g_assert_false (nfltr_cert_load_pair (junk, key_a, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "is not a PEM certificate"));
  g_clear_error (&error);

  g_assert_false (nfltr_cert_load_pair (crt_a, junk, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "not an unencrypted PEM private key"));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cert/generate", test_generate);
  g_test_add_func ("/cert/fingerprint-format-parse", test_fingerprint_format_parse);
  g_test_add_func ("/cert/load-or-create-stable", test_load_or_create_stable);
  g_test_add_func ("/cert/bad-pairs", test_bad_pairs);
  return g_test_run ();
}
