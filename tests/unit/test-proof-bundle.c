/* test-proof-bundle.c — canonical JSON and Ed25519 signatures of proof bundles
 * (libshared/nfltr-proof-bundle.c, docs/protocol.md §10), and the proof page's QR code. */
#include "nfltr-proof-bundle.h"

#include <string.h>

static JsonNode *
parse (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static void
assert_canonical (const char *input, const char *expected)
{
  g_autoptr(JsonNode) node = parse (input);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = nfltr_proof_canonicalize (node, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, expected);
}

static void
test_canonical_form (void)
{
  /* §10: members sorted by name, no whitespace, nested objects sorted too, arrays in order. */
  assert_canonical ("{ \"b\" : 1, \"a\" : [ 3, 2, {\"z\":null, \"y\":true} ], \"c\": \"x\" }",
                    "{\"a\":[3,2,{\"y\":true,\"z\":null}],\"b\":1,\"c\":\"x\"}");
  /* Escapes: only ", \ and control characters; \u00XX lower-case; the rest as UTF-8. */
  assert_canonical ("{\"s\":\"q\\\"b\\\\n\\n\\t\\u0001/é€\\u007f\"}",
                    "{\"s\":\"q\\\"b\\\\n\\n\\t\\u0001/é€\x7f\"}");
  /* Names sort by bytes: upper case before lower case, "a" before "a-b" before "ab". */
  assert_canonical ("{\"ab\":0,\"a-b\":0,\"B\":0,\"a\":0}", "{\"B\":0,\"a\":0,\"a-b\":0,\"ab\":0}");
  assert_canonical ("{\"n\":-12345678901}", "{\"n\":-12345678901}");
}

static void
test_canonical_refuses (void)
{
  const char *bad[] = { "{\"f\":1.5}", "{\"é\":1}", NULL };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(JsonNode) node = parse (bad[i]);
      g_autoptr(GError) error = NULL;
      g_autofree char *out = nfltr_proof_canonicalize (node, &error);

      g_assert_null (out);
      g_assert_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_MALFORMED);
    }
}

static void
test_key_text (void)
{
  guint8 pk[NFLTR_PROOF_PUBLIC_KEY_SIZE], sk[NFLTR_PROOF_SECRET_KEY_SIZE], back[NFLTR_PROOF_PUBLIC_KEY_SIZE];
  g_autofree char *text = NULL;

  nfltr_proof_keypair (pk, sk);
  text = nfltr_proof_key_format (pk);
  g_assert_true (g_str_has_prefix (text, "ed25519:"));
  g_assert_cmpuint (strlen (text), ==, strlen ("ed25519:") + 44);
  g_assert_true (nfltr_proof_key_parse (text, back));
  g_assert_cmpmem (pk, sizeof pk, back, sizeof back);
  g_assert_false (nfltr_proof_key_parse ("ed25519:", back));
  g_assert_false (nfltr_proof_key_parse ("sha256:AAAA", back));
  g_assert_false (nfltr_proof_key_parse ("ed25519:AAAA", back));
  /* One text per key: padding or whitespace variants are not the same key. */
  {
    g_autofree char *spaced = g_strconcat (text, " ", NULL);

    g_assert_false (nfltr_proof_key_parse (spaced, back));
  }
}

static GBytes *
sign_sample (guint8 pk[NFLTR_PROOF_PUBLIC_KEY_SIZE], guint8 sk[NFLTR_PROOF_SECRET_KEY_SIZE])
{
  g_autoptr (JsonNode) proof = parse ("{\"name\":\"demo\",\"result\":\"verified\",\"flagged\":false,"
                                      "\"checks\":3,\"observed-fingerprint\":null,"
                                      "\"relay\":{\"domain\":\"nfltr.localhost\"},\"words\":[\"a\",\"b\"]}");
  g_autoptr (GError) error = NULL;
  GBytes *bundle;

  nfltr_proof_keypair (pk, sk);
  bundle = nfltr_proof_bundle_sign (proof, sk, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bundle);
  return bundle;
}

static void
test_sign_and_verify (void)
{
  guint8 pk[NFLTR_PROOF_PUBLIC_KEY_SIZE], sk[NFLTR_PROOF_SECRET_KEY_SIZE];
  g_autoptr(GBytes) bundle = sign_sample (pk, sk);
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *want_key = nfltr_proof_key_format (pk);
  gsize len;
  const char *data = g_bytes_get_data (bundle, &len);
  g_autoptr(JsonNode) proof = NULL;

  /* Canonical, one line, newline-terminated, with the four members in order. */
  g_assert_true (g_str_has_prefix (data, "{\"bundle\":\"nfltr-proof-v1\",\"proof\":{\"checks\":3,"));
  g_assert_cmpint (data[len - 1], ==, '\n');
  g_assert_null (memchr (data, '\n', len - 1));

  proof = nfltr_proof_bundle_verify ((const guint8 *) data, len, pk, &key, &error);
  g_assert_no_error (error);
  g_assert_nonnull (proof);
  g_assert_cmpstr (key, ==, want_key);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (proof), "name"), ==, "demo");
  /* Without the final newline too; and with no expected key, against the bundle's own. */
  g_clear_pointer (&proof, json_node_unref);
  proof = nfltr_proof_bundle_verify ((const guint8 *) data, len - 1, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (proof);
}

static void
test_every_byte_matters (void)
{
  guint8 pk[NFLTR_PROOF_PUBLIC_KEY_SIZE], sk[NFLTR_PROOF_SECRET_KEY_SIZE];
  g_autoptr(GBytes) bundle = sign_sample (pk, sk);
  gsize len;
  const guint8 *data = g_bytes_get_data (bundle, &len);
  g_autofree guint8 *copy = g_memdup2 (data, len);
  guint signature_faults = 0;

  /* One bit flipped at every position, and every position replaced by a space: all refused,
   * with a named reason. */
  for (gsize i = 0; i < len; i++)
    for (guint variant = 0; variant < 2; variant++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) proof = NULL;

        memcpy (copy, data, len);
        copy[i] = variant == 0 ? copy[i] ^ 0x01 : ' ';
        if (copy[i] == data[i])
          continue;
        proof = nfltr_proof_bundle_verify (copy, len, pk, NULL, &error);
        g_assert_null (proof);
        g_assert_true (error->domain == NFLTR_PROOF_ERROR);
        if (error->code == NFLTR_PROOF_ERROR_BAD_SIGNATURE)
          signature_faults++;
      }
  /* A change inside a string of the document is a bad signature, not a parse error. */
  g_assert_cmpuint (signature_faults, >, 20);
}

static void
test_other_key (void)
{
  guint8 pk[NFLTR_PROOF_PUBLIC_KEY_SIZE], sk[NFLTR_PROOF_SECRET_KEY_SIZE];
  guint8 pk2[NFLTR_PROOF_PUBLIC_KEY_SIZE], sk2[NFLTR_PROOF_SECRET_KEY_SIZE];
  g_autoptr(GBytes) bundle = sign_sample (pk, sk);
  g_autoptr(GBytes) other = sign_sample (pk2, sk2);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) proof = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (other, &len);

  /* Signed by another key: valid for that key, refused for ours with OTHER_KEY. */
  proof = nfltr_proof_bundle_verify (data, len, pk, NULL, &error);
  g_assert_null (proof);
  g_assert_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_OTHER_KEY);
}

static void
test_not_canonical (void)
{
  guint8 pk[NFLTR_PROOF_PUBLIC_KEY_SIZE], sk[NFLTR_PROOF_SECRET_KEY_SIZE];
  g_autoptr(GBytes) bundle = sign_sample (pk, sk);
  g_autoptr(JsonNode) root = parse (g_bytes_get_data (bundle, NULL));
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *pretty = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) proof = NULL;

  /* The same JSON value, pretty-printed: refused, so the bytes checked are the bytes signed. */
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  pretty = json_generator_to_data (gen, NULL);
  proof = nfltr_proof_bundle_verify ((const guint8 *) pretty, strlen (pretty), pk, NULL, &error);
  g_assert_null (proof);
  g_assert_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "canonical"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proof/canonical-form", test_canonical_form);
  g_test_add_func ("/proof/canonical-refuses", test_canonical_refuses);
  g_test_add_func ("/proof/key-text", test_key_text);
  g_test_add_func ("/proof/sign-and-verify", test_sign_and_verify);
  g_test_add_func ("/proof/every-byte-matters", test_every_byte_matters);
  g_test_add_func ("/proof/other-key", test_other_key);
  g_test_add_func ("/proof/not-canonical", test_not_canonical);
  return g_test_run ();
}
