/* test-acme.c — the ACME client's pieces (service/acme/): RFC 7638 thumbprints, ES256 JWS,
 * the key authorization, the acmeIdentifier extension (RFC 8737), the CSR, and the parsers of
 * the CA's JSON, problems in words included. */
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "nfltr-acme-cert.h"
#include "nfltr-acme-json.h"
#include "nfltr-acme-jws.h"
#include "nfltr-error.h"

/* RFC 7638 §3.1: the example RSA key and its thumbprint. */
#define RFC7638_N                                                                                  \
  "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX" \
  "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaS" \
  "qzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksIN" \
  "HaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define RFC7638_THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

/* RFC 7515 Appendix A.3: the ES256 example key. */
#define A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_D "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"

static JsonObject *
parse_bytes (GBytes *bytes)
{
  g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static GBytes *
base64url_decode (const char *text)
{
  g_autofree char *s = g_strdup (text);
  GString *padded;
  guchar *data;
  gsize len;

  for (char *p = s; *p; p++)
    *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
  padded = g_string_new (s);
  while (padded->len % 4 != 0)
    g_string_append_c (padded, '=');
  data = g_base64_decode (padded->str, &len);
  g_string_free (padded, TRUE);
  return g_bytes_new_take (data, len);
}

static void
test_thumbprint_rfc7638 (void)
{
  g_autoptr (JsonObject) jwk = parse_object ("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\","
                                             "\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}");
  g_autoptr (JsonObject) bad = parse_object ("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}");
  g_autoptr (GError) error = NULL;
  g_autofree char *thumb = nfltr_acme_jwk_thumbprint (jwk, &error);

  g_assert_no_error (error);
  /* Members other than the required ones (alg, kid) do not count. */
  g_assert_cmpstr (thumb, ==, RFC7638_THUMBPRINT);
  g_assert_null (nfltr_acme_jwk_thumbprint (bad, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
}

/* The RFC 7515 A.3 key as PEM, made with GnuTLS from its raw values. */
static char *
a3_key_pem (void)
{
  g_autoptr(GBytes) x = base64url_decode (A3_X), y = base64url_decode (A3_Y), d = base64url_decode (A3_D);
  gnutls_datum_t dx = { (guchar *) g_bytes_get_data (x, NULL), g_bytes_get_size (x) };
  gnutls_datum_t dy = { (guchar *) g_bytes_get_data (y, NULL), g_bytes_get_size (y) };
  gnutls_datum_t dd = { (guchar *) g_bytes_get_data (d, NULL), g_bytes_get_size (d) };
  gnutls_x509_privkey_t key;
  gnutls_datum_t out;
  char *pem;

  g_assert_cmpint (gnutls_x509_privkey_init (&key), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_import_ecc_raw (key, GNUTLS_ECC_CURVE_SECP256R1, &dx, &dy, &dd), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &out), ==, 0);
  pem = g_strndup ((const char *) out.data, out.size);
  gnutls_free (out.data);
  gnutls_x509_privkey_deinit (key);
  return pem;
}

static void
test_jwk_of_known_key (void)
{
  g_autofree char *pem = a3_key_pem ();
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrAcmeKey) key = nfltr_acme_key_new_from_pem (pem, &error);
  g_autoptr(JsonObject) jwk = NULL;
  g_autofree char *thumb = NULL;

  g_assert_no_error (error);
  /* RFC 7638 §3.2's canonical form of the A.3 key, exactly. */
  g_assert_cmpstr (nfltr_acme_key_get_jwk (key), ==,
                   "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}");
  jwk = parse_object (nfltr_acme_key_get_jwk (key));
  thumb = nfltr_acme_jwk_thumbprint (jwk, &error);
  g_assert_cmpstr (thumb, ==, nfltr_acme_key_get_thumbprint (key));
}

/* The JWS verifies with the key's public half, and its header says what RFC 8555 §6.2 wants. */
static void
test_jws_es256 (void)
{
  g_autofree char *pem = a3_key_pem ();
  g_autoptr(NfltrAcmeKey) key = nfltr_acme_key_new_from_pem (pem, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *jws = nfltr_acme_jws_sign (key, NULL, "nonce-1", "https://ca.test/new-acct", "{\"a\":1}", &error);
  g_autofree char *pog = nfltr_acme_jws_sign (key, "https://ca.test/acct/7", "nonce-2", "https://ca.test/order/1",
                                              NULL, &error);
  g_autoptr(JsonObject) o = NULL, header = NULL, pog_o = NULL, pog_header = NULL;
  g_autoptr(GBytes) protected = NULL, sig = NULL, payload = NULL;
  g_autofree char *signing_input = NULL;
  gnutls_pubkey_t pub;
  gnutls_datum_t x, y, r, s, der, data;
  g_autoptr(GBytes) bx = base64url_decode (A3_X), by = base64url_decode (A3_Y);

  g_assert_no_error (error);
  o = parse_object (jws);
  protected = base64url_decode (json_object_get_string_member (o, "protected"));
  header = parse_bytes (protected);
  g_assert_cmpstr (json_object_get_string_member (header, "alg"), ==, "ES256");
  g_assert_cmpstr (json_object_get_string_member (header, "nonce"), ==, "nonce-1");
  g_assert_cmpstr (json_object_get_string_member (header, "url"), ==, "https://ca.test/new-acct");
  g_assert_true (json_object_has_member (header, "jwk"));
  g_assert_false (json_object_has_member (header, "kid"));
  payload = base64url_decode (json_object_get_string_member (o, "payload"));
  g_assert_cmpmem (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload), "{\"a\":1}", 7);

  /* RFC 7518 §3.4: 64 bytes R‖S, verified as an ECDSA-Sig-Value over the signing input. */
  sig = base64url_decode (json_object_get_string_member (o, "signature"));
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 64);
  r = (gnutls_datum_t) { (guchar *) g_bytes_get_data (sig, NULL), 32 };
  s = (gnutls_datum_t) { (guchar *) g_bytes_get_data (sig, NULL) + 32, 32 };
  g_assert_cmpint (gnutls_encode_rs_value (&der, &r, &s), ==, 0);
  x = (gnutls_datum_t) { (guchar *) g_bytes_get_data (bx, NULL), g_bytes_get_size (bx) };
  y = (gnutls_datum_t) { (guchar *) g_bytes_get_data (by, NULL), g_bytes_get_size (by) };
  g_assert_cmpint (gnutls_pubkey_init (&pub), ==, 0);
  g_assert_cmpint (gnutls_pubkey_import_ecc_raw (pub, GNUTLS_ECC_CURVE_SECP256R1, &x, &y), ==, 0);
  signing_input = g_strconcat (json_object_get_string_member (o, "protected"), ".",
                               json_object_get_string_member (o, "payload"), NULL);
  data = (gnutls_datum_t) { (guchar *) signing_input, strlen (signing_input) };
  g_assert_cmpint (gnutls_pubkey_verify_data2 (pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der), >=, 0);
  /* One flipped byte of the input no longer verifies. */
  signing_input[3] ^= 1;
  g_assert_cmpint (gnutls_pubkey_verify_data2 (pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der), <, 0);
  gnutls_free (der.data);
  gnutls_pubkey_deinit (pub);

  /* After registration: kid, never jwk; POST-as-GET has the empty payload (§6.3). */
  pog_o = parse_object (pog);
  g_assert_cmpstr (json_object_get_string_member (pog_o, "payload"), ==, "");
  g_clear_pointer (&protected, g_bytes_unref);
  protected = base64url_decode (json_object_get_string_member (pog_o, "protected"));
  pog_header = parse_bytes (protected);
  g_assert_cmpstr (json_object_get_string_member (pog_header, "kid"), ==, "https://ca.test/acct/7");
  g_assert_false (json_object_has_member (pog_header, "jwk"));
}

static void
test_key_authorization (void)
{
  g_autofree char *ka = nfltr_acme_key_authorization ("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
                                                      RFC7638_THUMBPRINT);
  g_autoptr(GBytes) ext = NULL;
  /* SHA-256 of the key authorization, computed outside (python3 hashlib). */
  static const guint8 expected[] = {
    0x04, 0x20, 0x65, 0x34, 0x71, 0xd4, 0x29, 0x25, 0xd7, 0xeb, 0x4c, 0xd3, 0x9a, 0x39,
    0xcd, 0xa8, 0xb3, 0x4d, 0x30, 0x34, 0xc9, 0x4c, 0xb9, 0x00, 0x67, 0xab, 0x78, 0xc8,
    0x12, 0x35, 0x60, 0xba, 0x2e, 0x5f,
  };

  /* RFC 8555 §8.1: token || '.' || base64url(Thumbprint(accountKey)) */
  g_assert_cmpstr (ka, ==, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA." RFC7638_THUMBPRINT);
  /* RFC 8737 §3: the extnValue is the DER OCTET STRING of SHA-256 (key authorization). */
  ext = nfltr_acme_identifier_extension (ka);
  g_assert_cmpmem (g_bytes_get_data (ext, NULL), g_bytes_get_size (ext), expected, sizeof expected);
}

static void
test_challenge_certificate (void)
{
  g_autofree char *cert_pem = NULL, *key_pem = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ext = nfltr_acme_identifier_extension ("tok.thumb");
  gnutls_x509_crt_t crt;
  gnutls_datum_t in;
  guint8 value[64];
  size_t value_len = sizeof value;
  unsigned int critical = 0;
  char san[256];
  size_t san_len = sizeof san;
  gboolean found = FALSE;

  g_assert_true (nfltr_acme_challenge_certificate ("myapp.example.com", "tok.thumb", &cert_pem, &key_pem, &error));
  g_assert_no_error (error);
  in = (gnutls_datum_t) { (guchar *) cert_pem, strlen (cert_pem) };
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_import (crt, &in, GNUTLS_X509_FMT_PEM), ==, 0);
  for (guint i = 0;; i++)
    {
      char oid[128];
      size_t oid_len = sizeof oid;

      if (gnutls_x509_crt_get_extension_info (crt, i, oid, &oid_len, &critical) < 0)
        break;
      if (g_str_equal (oid, NFLTR_ACME_IDENTIFIER_OID))
        {
          found = TRUE;
          g_assert_true (critical);  /* "MUST be critical" */
          g_assert_cmpint (gnutls_x509_crt_get_extension_data (crt, i, value, &value_len), ==, 0);
          g_assert_cmpmem (value, value_len, g_bytes_get_data (ext, NULL), g_bytes_get_size (ext));
        }
    }
  g_assert_true (found);
  /* Exactly one dNSName, the name validated. */
  g_assert_cmpint (gnutls_x509_crt_get_subject_alt_name (crt, 0, san, &san_len, NULL), ==, GNUTLS_SAN_DNSNAME);
  g_assert_cmpstr (san, ==, "myapp.example.com");
  san_len = sizeof san;
  g_assert_cmpint (gnutls_x509_crt_get_subject_alt_name (crt, 1, san, &san_len, NULL), ==,
                   GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
  gnutls_x509_crt_deinit (crt);
}

static void
test_csr_is_for_the_key (void)
{
  g_autofree char *pem = a3_key_pem ();
  g_autoptr(GError) error = NULL;
  g_autofree char *csr64 = nfltr_acme_csr ("myapp.example.com", pem, &error);
  g_autoptr(GBytes) der = NULL;
  gnutls_x509_crq_t crq;
  gnutls_datum_t in;
  char san[256];
  size_t san_len = sizeof san;
  unsigned int type;
  gnutls_x509_privkey_t key;
  gnutls_datum_t key_in = { (guchar *) pem, strlen (pem) };
  guint8 crq_id[64], key_id[64];
  size_t crq_id_len = sizeof crq_id, key_id_len = sizeof key_id;

  g_assert_no_error (error);
  g_assert_null (strpbrk (csr64, "+/="));  /* base64url, unpadded */
  der = base64url_decode (csr64);
  in = (gnutls_datum_t) { (guchar *) g_bytes_get_data (der, NULL), g_bytes_get_size (der) };
  g_assert_cmpint (gnutls_x509_crq_init (&crq), ==, 0);
  g_assert_cmpint (gnutls_x509_crq_import (crq, &in, GNUTLS_X509_FMT_DER), ==, 0);
  g_assert_cmpint (gnutls_x509_crq_verify (crq, 0), ==, 0);
  g_assert_cmpint (gnutls_x509_crq_get_subject_alt_name (crq, 0, san, &san_len, &type, NULL), >=, 0);
  g_assert_cmpstr (san, ==, "myapp.example.com");
  /* The CSR carries the tunnel's key: the public-key pin survives the renewal. */
  g_assert_cmpint (gnutls_x509_privkey_init (&key), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_import (key, &key_in, GNUTLS_X509_FMT_PEM), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_get_key_id (key, GNUTLS_KEYID_USE_SHA256, key_id, &key_id_len), ==, 0);
  g_assert_cmpint (gnutls_x509_crq_get_key_id (crq, GNUTLS_KEYID_USE_SHA256, crq_id, &crq_id_len), ==, 0);
  g_assert_cmpmem (crq_id, crq_id_len, key_id, key_id_len);
  gnutls_x509_privkey_deinit (key);
  gnutls_x509_crq_deinit (crq);
}

static void
test_parse_directory_and_order (void)
{
  static const char dir_json[] =
    "{\"newNonce\":\"https://ca/nonce\",\"newAccount\":\"https://ca/acct\",\"newOrder\":\"https://ca/order\","
    "\"meta\":{\"termsOfService\":\"https://ca/tos\"}}";
  static const char order_json[] =
    "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}],"
    "\"authorizations\":[\"https://ca/authz/1\", 7],\"finalize\":\"https://ca/fin/1\"}";
  static const char authz_json[] =
    "{\"status\":\"invalid\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},\"challenges\":["
    "{\"type\":\"http-01\",\"url\":\"https://ca/c/1\",\"token\":\"t1\",\"status\":\"pending\"},"
    "{\"type\":\"tls-alpn-01\",\"url\":\"https://ca/c/2\",\"token\":\"t2\",\"status\":\"invalid\","
    "\"error\":{\"type\":\"urn:ietf:params:acme:error:connection\",\"detail\":\"127.0.0.1: connection "
    "refused\"}}]}";
  g_autoptr (GError) error = NULL;
  g_autoptr (NfltrAcmeDirectory) dir = nfltr_acme_directory_parse (dir_json, strlen (dir_json), &error);
  g_autoptr (NfltrAcmeOrder) order = nfltr_acme_order_parse (order_json, strlen (order_json), &error);
  g_autoptr (NfltrAcmeAuthorization) authz =
    nfltr_acme_authorization_parse (authz_json, strlen (authz_json), &error);
  NfltrAcmeChallenge *c;
  g_autofree char *words = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (dir->new_nonce, ==, "https://ca/nonce");
  g_assert_cmpstr (dir->terms_of_service, ==, "https://ca/tos");
  g_assert_cmpint (order->status, ==, NFLTR_ACME_STATUS_PENDING);
  g_assert_cmpuint (g_strv_length (order->authorizations), ==, 1); /* the number is skipped */
  g_assert_cmpstr (order->finalize, ==, "https://ca/fin/1");
  c = nfltr_acme_authorization_find (authz, "tls-alpn-01");
  g_assert_nonnull (c);
  g_assert_cmpstr (c->token, ==, "t2");
  g_assert_nonnull (c->error);
  words = nfltr_acme_problem_to_message (c->error);
  g_assert_cmpstr (words, ==,
                   "the CA could not connect to the tunnel to validate it: 127.0.0.1: connection "
                   "refused [connection]");

  /* What the protocol needs, missing: an error naming it. */
  g_assert_null (nfltr_acme_directory_parse ("{\"newNonce\":\"x\"}", 16, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "newAccount"));
  g_clear_error (&error);
  g_assert_null (nfltr_acme_order_parse ("[1,2]", 5, &error));
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL);
}

static void
test_problem_in_words (void)
{
  static const char json[] =
    "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":\"Error creating new order :: "
    "name is blocked\\u0007\",\"status\":400,\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:"
    "rejectedIdentifier\",\"detail\":\"blocked.example is on the blocklist\"}]}";
  g_autoptr (NfltrAcmeProblem) p = nfltr_acme_problem_parse (json, strlen (json), NULL);
  g_autofree char *words = nfltr_acme_problem_to_message (p);
  g_autoptr (NfltrAcmeProblem) odd = nfltr_acme_problem_parse ("{\"type\":\"about:blank\"}", 22, NULL);
  g_autofree char *odd_words = nfltr_acme_problem_to_message (odd);

  g_assert_cmpuint (p->status, ==, 400);
  /* The CA's control characters never reach a terminal. */
  g_assert_cmpstr (words, ==,
                   "the CA will not issue a certificate for this name: Error creating new order :: "
                   "name is blocked  (blocked.example is on the blocklist) [rejectedIdentifier]");
  g_assert_cmpstr (odd_words, ==, "the CA refused [about:blank]");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/acme/thumbprint-rfc7638", test_thumbprint_rfc7638);
  g_test_add_func ("/acme/jwk-of-known-key", test_jwk_of_known_key);
  g_test_add_func ("/acme/jws-es256", test_jws_es256);
  g_test_add_func ("/acme/key-authorization", test_key_authorization);
  g_test_add_func ("/acme/challenge-certificate", test_challenge_certificate);
  g_test_add_func ("/acme/csr", test_csr_is_for_the_key);
  g_test_add_func ("/acme/parse", test_parse_directory_and_order);
  g_test_add_func ("/acme/problem-in-words", test_problem_in_words);
  return g_test_run ();
}
