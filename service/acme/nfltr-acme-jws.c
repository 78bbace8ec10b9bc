/* nfltr-acme-jws.c — the ACME account key, JWK thumbprints and ES256 JWS (RFC 8555 §6.2) */
#define G_LOG_DOMAIN "nfltr-acme"

#include "nfltr-acme-jws.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>

#include "nfltr-error.h"

/* RFC 7518 §6.2.1.2: a P-256 coordinate is always 32 bytes, leading zeros included. */
#define P256_COORDINATE_SIZE 32

struct _NfltrAcmeKey {
  gnutls_privkey_t privkey;
  char *jwk;
  char *thumbprint;
};

char *
nfltr_acme_base64url (const guint8 *data, gsize len)
{
  char *s = g_base64_encode (data, len);
  char *out = s;

  for (char *p = s; *p != '\0'; p++)
    {
      if (*p == '+')
        *out++ = '-';
      else if (*p == '/')
        *out++ = '_';
      else if (*p != '=')
        *out++ = *p;
    }
  *out = '\0';
  return s;
}

/* A JSON string literal (RFC 8259 §7) for the canonical forms we build by hand. */
static void
append_json_string (GString *s, const char *value)
{
  g_string_append_c (s, '"');
  for (const char *p = value; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '"' || c == '\\')
        g_string_append_printf (s, "\\%c", c);
      else if (c < 0x20)
        g_string_append_printf (s, "\\u%04x", c);
      else
        g_string_append_c (s, (char) c);
    }
  g_string_append_c (s, '"');
}

/* value (big-endian, maybe shorter or with a sign byte) as exactly size bytes. */
static gboolean
fixed_size (const gnutls_datum_t *value, guint8 *out, gsize size)
{
  const guint8 *p = value->data;
  gsize n = value->size;

  while (n > size && *p == 0)
    {
      p++;
      n--;
    }
  if (n > size)
    return FALSE;
  memset (out, 0, size - n);
  memcpy (out + size - n, p, n);
  return TRUE;
}

static char *
thumbprint_of_canonical (const char *canonical)
{
  guint8 digest[32];
  gsize len = sizeof digest;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, (const guchar *) canonical, strlen (canonical));
  g_checksum_get_digest (sum, digest, &len);
  return nfltr_acme_base64url (digest, len);
}

static NfltrAcmeKey *
key_from_privkey (gnutls_privkey_t privkey, GError **error)
{
  g_autoptr(NfltrAcmeKey) key = g_new0 (NfltrAcmeKey, 1);
  gnutls_ecc_curve_t curve;
  gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
  guint8 xb[P256_COORDINATE_SIZE], yb[P256_COORDINATE_SIZE];
  g_autofree char *x64 = NULL, *y64 = NULL;
  GString *jwk;
  int ret;

  key->privkey = privkey;
  ret = gnutls_privkey_export_ecc_raw2 (privkey, &curve, &x, &y, NULL, 0);
  if (ret < 0 || curve != GNUTLS_ECC_CURVE_SECP256R1 || !fixed_size (&x, xb, sizeof xb) ||
      !fixed_size (&y, yb, sizeof yb))
    {
      gnutls_free (x.data);
      gnutls_free (y.data);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                   "the ACME account key is not an ECDSA P-256 key%s%s", ret < 0 ? ": " : "",
                   ret < 0 ? gnutls_strerror (ret) : "");
      return NULL;
    }
  gnutls_free (x.data);
  gnutls_free (y.data);
  x64 = nfltr_acme_base64url (xb, sizeof xb);
  y64 = nfltr_acme_base64url (yb, sizeof yb);
  /* RFC 7638 §3.2: the required members in lexicographic order, no whitespace. */
  jwk = g_string_new ("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":");
  append_json_string (jwk, x64);
  g_string_append (jwk, ",\"y\":");
  append_json_string (jwk, y64);
  g_string_append_c (jwk, '}');
  key->jwk = g_string_free (jwk, FALSE);
  key->thumbprint = thumbprint_of_canonical (key->jwk);
  return g_steal_pointer (&key);
}

NfltrAcmeKey *
nfltr_acme_key_new_from_pem (const char *pem, GError **error)
{
  gnutls_privkey_t privkey = NULL;
  gnutls_datum_t data = { (unsigned char *) pem, strlen (pem) };
  int ret;

  if ((ret = gnutls_privkey_init (&privkey)) < 0 ||
      (ret = gnutls_privkey_import_x509_raw (privkey, &data, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
    {
      if (privkey != NULL)
        gnutls_privkey_deinit (privkey);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE, "unreadable private key: %s",
                   gnutls_strerror (ret));
      return NULL;
    }
  return key_from_privkey (privkey, error);
}

NfltrAcmeKey *
nfltr_acme_key_generate (char **pem, GError **error)
{
  gnutls_x509_privkey_t xkey = NULL;
  gnutls_datum_t out = { NULL, 0 };
  NfltrAcmeKey *key;
  int ret;

  ret = gnutls_x509_privkey_init (&xkey);
  if (ret >= 0)
    ret = gnutls_x509_privkey_generate (xkey, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0);
  if (ret >= 0)
    ret = gnutls_x509_privkey_export2_pkcs8 (xkey, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &out);
  if (ret < 0)
    {
      if (xkey != NULL)
        gnutls_x509_privkey_deinit (xkey);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "could not generate a key: %s",
                   gnutls_strerror (ret));
      return NULL;
    }
  gnutls_x509_privkey_deinit (xkey);
  {
    g_autofree char *text = g_strndup ((const char *) out.data, out.size);

    gnutls_memset (out.data, 0, out.size);
    gnutls_free (out.data);
    key = nfltr_acme_key_new_from_pem (text, error);
    if (key != NULL && pem != NULL)
      *pem = g_steal_pointer (&text);
    else
      explicit_bzero (text, strlen (text));
  }
  return key;
}

NfltrAcmeKey *
nfltr_acme_key_load_or_create (const char *path, GError **error)
{
  g_autofree char *pem = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) local = NULL;
  NfltrAcmeKey *key;

  if (g_file_get_contents (path, &pem, NULL, &local))
    {
      key = nfltr_acme_key_new_from_pem (pem, error);
      if (key == NULL)
        g_prefix_error (error, "%s: ", path);
      explicit_bzero (pem, strlen (pem));
      return key;
    }
  if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  key = nfltr_acme_key_generate (&pem, error);
  if (key == NULL)
    return NULL;
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "cannot create %s: %s", dir,
                   g_strerror (saved));
      nfltr_acme_key_free (key);
      return NULL;
    }
  /* The account key is who we are to the CA: readable by this user only. */
  if (!g_file_set_contents_full (path, pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    {
      nfltr_acme_key_free (key);
      return NULL;
    }
  explicit_bzero (pem, strlen (pem));
  return key;
}

void
nfltr_acme_key_free (NfltrAcmeKey *key)
{
  if (key == NULL)
    return;
  if (key->privkey != NULL)
    gnutls_privkey_deinit (key->privkey);
  g_free (key->jwk);
  g_free (key->thumbprint);
  g_free (key);
}

const char *
nfltr_acme_key_get_jwk (NfltrAcmeKey *key)
{
  return key->jwk;
}

const char *
nfltr_acme_key_get_thumbprint (NfltrAcmeKey *key)
{
  return key->thumbprint;
}

char *
nfltr_acme_jwk_thumbprint (JsonObject *jwk, GError **error)
{
  /* RFC 7638 §3.2 (and §3.1's example): the required members of each key type, in
   * lexicographic order. */
  static const char * const ec[] = { "crv", "kty", "x", "y", NULL };
  static const char * const rsa[] = { "e", "kty", "n", NULL };
  static const char * const oct[] = { "k", "kty", NULL };
  const char * const *members;
  const char *kty = json_object_get_string_member_with_default (jwk, "kty", NULL);
  g_autoptr(GString) canonical = g_string_new ("{");

  if (g_strcmp0 (kty, "EC") == 0)
    members = ec;
  else if (g_strcmp0 (kty, "RSA") == 0)
    members = rsa;
  else if (g_strcmp0 (kty, "oct") == 0)
    members = oct;
  else
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "JWK: unknown key type “%s”",
                   kty != NULL ? kty : "");
      return NULL;
    }
  for (guint i = 0; members[i] != NULL; i++)
    {
      JsonNode *node = json_object_get_member (jwk, members[i]);

      if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "JWK: no “%s” member",
                       members[i]);
          return NULL;
        }
      if (i > 0)
        g_string_append_c (canonical, ',');
      append_json_string (canonical, members[i]);
      g_string_append_c (canonical, ':');
      append_json_string (canonical, json_node_get_string (node));
    }
  g_string_append_c (canonical, '}');
  return thumbprint_of_canonical (canonical->str);
}

GBytes *
nfltr_acme_key_sign_es256 (NfltrAcmeKey *key, const guint8 *data, gsize len, GError **error)
{
  gnutls_datum_t in = { (unsigned char *) data, len };
  gnutls_datum_t sig = { NULL, 0 }, r = { NULL, 0 }, s = { NULL, 0 };
  guint8 raw[2 * P256_COORDINATE_SIZE];
  gboolean ok;
  int ret;

  if ((ret = gnutls_privkey_sign_data2 (key->privkey, GNUTLS_SIGN_ECDSA_SHA256, 0, &in, &sig)) < 0 ||
      (ret = gnutls_decode_rs_value (&sig, &r, &s)) < 0)
    {
      gnutls_free (sig.data);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "could not sign the ACME request: %s",
                   gnutls_strerror (ret));
      return NULL;
    }
  /* RFC 7518 §3.4: ES256 is R and S as 32-byte big-endian integers, concatenated — not the
   * DER ECDSA-Sig-Value GnuTLS produces. */
  ok = fixed_size (&r, raw, P256_COORDINATE_SIZE) &&
       fixed_size (&s, raw + P256_COORDINATE_SIZE, P256_COORDINATE_SIZE);
  gnutls_free (sig.data);
  gnutls_free (r.data);
  gnutls_free (s.data);
  if (!ok)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "ES256 signature of unexpected size");
      return NULL;
    }
  return g_bytes_new (raw, sizeof raw);
}

char *
nfltr_acme_jws_sign (NfltrAcmeKey *key,
                     const char   *kid,
                     const char   *nonce,
                     const char   *url,
                     const char   *payload,
                     GError      **error)
{
  g_autoptr(GString) header = g_string_new ("{\"alg\":\"ES256\",");
  g_autofree char *header64 = NULL;
  g_autofree char *payload64 = NULL;
  g_autofree char *signing_input = NULL;
  g_autofree char *sig64 = NULL;
  g_autoptr(GBytes) sig = NULL;
  GString *out;

  /* RFC 8555 §6.2: "jwk" for newAccount (and revocation by certificate key), "kid" after. */
  if (kid != NULL)
    {
      g_string_append (header, "\"kid\":");
      append_json_string (header, kid);
    }
  else
    g_string_append_printf (header, "\"jwk\":%s", key->jwk);
  g_string_append (header, ",\"nonce\":");
  append_json_string (header, nonce);
  g_string_append (header, ",\"url\":");
  append_json_string (header, url);
  g_string_append_c (header, '}');

  header64 = nfltr_acme_base64url ((const guint8 *) header->str, header->len);
  /* §6.3: POST-as-GET has the empty string as its payload. */
  payload64 = payload != NULL ? nfltr_acme_base64url ((const guint8 *) payload, strlen (payload)) : g_strdup ("");
  signing_input = g_strconcat (header64, ".", payload64, NULL);
  sig = nfltr_acme_key_sign_es256 (key, (const guint8 *) signing_input, strlen (signing_input), error);
  if (sig == NULL)
    return NULL;
  sig64 = nfltr_acme_base64url (g_bytes_get_data (sig, NULL), g_bytes_get_size (sig));
  out = g_string_new ("{\"protected\":");
  append_json_string (out, header64);
  g_string_append (out, ",\"payload\":");
  append_json_string (out, payload64);
  g_string_append (out, ",\"signature\":");
  append_json_string (out, sig64);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}
