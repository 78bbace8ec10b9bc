/* nfltr-proof-bundle.c — canonical JSON and Ed25519 signatures for proof bundles */
#define G_LOG_DOMAIN "nfltr-proof"

#include "nfltr-proof-bundle.h"

#include <sodium.h>
#include <string.h>

G_DEFINE_QUARK (nfltr-proof-error-quark, nfltr_proof_error)

/* Deeper nesting than any proof has is refused rather than recursed into. */
#define CANONICAL_MAX_DEPTH 16

static void
ensure_sodium (void)
{
  /* Thread-safe and idempotent; fails only without a random source, which is fatal anyway. */
  if (sodium_init () < 0)
    g_error ("libsodium could not start");
}

static void
append_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) s; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);
        }
    }
  g_string_append_c (out, '"');
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static gboolean
name_is_ascii (const char *name)
{
  for (const guchar *p = (const guchar *) name; *p != '\0'; p++)
    if (*p >= 0x80)
      return FALSE;
  return TRUE;
}

static gboolean
append_node (GString *out, JsonNode *node, guint depth, GError **error)
{
  if (depth > CANONICAL_MAX_DEPTH)
    {
      g_set_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_MALFORMED, "nested too deeply");
      return FALSE;
    }
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      return TRUE;
    case JSON_NODE_VALUE:
      {
        GType type = json_node_get_value_type (node);

        if (type == G_TYPE_STRING)
          append_string (out, json_node_get_string (node));
        else if (type == G_TYPE_INT64)
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
        else if (type == G_TYPE_BOOLEAN)
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
        else
          {
            g_set_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_MALFORMED,
                         "only strings, integers, booleans and null are allowed");
            return FALSE;
          }
        return TRUE;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            if (!append_node (out, json_array_get_element (array, i), depth + 1, error))
              return FALSE;
          }
        g_string_append_c (out, ']');
        return TRUE;
      }
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (object);
        g_autoptr(GPtrArray) names = g_ptr_array_new ();

        for (GList *l = members; l != NULL; l = l->next)
          {
            if (!name_is_ascii (l->data))
              {
                g_set_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_MALFORMED,
                             "member names must be ASCII");
                return FALSE;
              }
            g_ptr_array_add (names, l->data);
          }
        g_ptr_array_sort (names, compare_names);
        g_string_append_c (out, '{');
        for (guint i = 0; i < names->len; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            append_string (out, names->pdata[i]);
            g_string_append_c (out, ':');
            if (!append_node (out, json_object_get_member (object, names->pdata[i]), depth + 1, error))
              return FALSE;
          }
        g_string_append_c (out, '}');
        return TRUE;
      }
    default:
      g_set_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_MALFORMED, "unknown JSON node");
      return FALSE;
    }
}

char *
nfltr_proof_canonicalize (JsonNode *node, GError **error)
{
  g_autoptr(GString) out = g_string_new (NULL);

  if (!append_node (out, node, 0, error))
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
nfltr_proof_key_format (const guint8 public_key[NFLTR_PROOF_PUBLIC_KEY_SIZE])
{
  g_autofree char *b64 = g_base64_encode (public_key, NFLTR_PROOF_PUBLIC_KEY_SIZE);

  return g_strconcat (NFLTR_PROOF_KEY_PREFIX, b64, NULL);
}

/* Strict base64: exactly the canonical encoding of want bytes, so one text names one key. */
static gboolean
base64_exact (const char *text, guint8 *out, gsize want)
{
  g_autofree guchar *decoded = NULL;
  g_autofree char *again = NULL;
  gsize len = 0;

  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      return FALSE;
  decoded = g_base64_decode (text, &len);
  if (len != want)
    return FALSE;
  again = g_base64_encode (decoded, len);
  if (strcmp (again, text) != 0)
    return FALSE;
  memcpy (out, decoded, want);
  return TRUE;
}

gboolean
nfltr_proof_key_parse (const char *text, guint8 public_key[NFLTR_PROOF_PUBLIC_KEY_SIZE])
{
  if (text == NULL || !g_str_has_prefix (text, NFLTR_PROOF_KEY_PREFIX))
    return FALSE;
  return base64_exact (text + strlen (NFLTR_PROOF_KEY_PREFIX), public_key, NFLTR_PROOF_PUBLIC_KEY_SIZE);
}

void
nfltr_proof_keypair (guint8 public_key[NFLTR_PROOF_PUBLIC_KEY_SIZE],
                     guint8 secret_key[NFLTR_PROOF_SECRET_KEY_SIZE])
{
  ensure_sodium ();
  crypto_sign_keypair (public_key, secret_key);
}

/* §10: what is signed is the format name, a newline, and the proof's canonical form. */
static GBytes *
signed_message (const char *canonical_proof)
{
  return g_bytes_new_take (g_strconcat (NFLTR_PROOF_BUNDLE_FORMAT "\n", canonical_proof, NULL),
                           strlen (NFLTR_PROOF_BUNDLE_FORMAT "\n") + strlen (canonical_proof));
}

GBytes *
nfltr_proof_bundle_sign (JsonNode *proof, const guint8 secret_key[NFLTR_PROOF_SECRET_KEY_SIZE],
                         GError **error)
{
  g_autofree char *canonical = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *key_text = NULL;
  g_autofree char *sig_text = NULL;
  g_autofree char *bundle = NULL;
  guint8 public_key[NFLTR_PROOF_PUBLIC_KEY_SIZE];
  guint8 sig[NFLTR_PROOF_SIGNATURE_SIZE];
  gsize len;

  ensure_sodium ();
  if (!JSON_NODE_HOLDS_OBJECT (proof))
    {
      g_set_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_MALFORMED, "the proof is not an object");
      return NULL;
    }
  canonical = nfltr_proof_canonicalize (proof, error);
  if (canonical == NULL)
    return NULL;
  message = signed_message (canonical);
  crypto_sign_detached (sig, NULL, g_bytes_get_data (message, NULL), g_bytes_get_size (message), secret_key);
  crypto_sign_ed25519_sk_to_pk (public_key, secret_key);
  key_text = nfltr_proof_key_format (public_key);
  sig_text = g_base64_encode (sig, sizeof sig);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "bundle");
  json_builder_add_string_value (b, NFLTR_PROOF_BUNDLE_FORMAT);
  json_builder_set_member_name (b, "proof");
  json_builder_add_value (b, json_node_copy (proof));
  json_builder_set_member_name (b, "relay-key");
  json_builder_add_string_value (b, key_text);
  json_builder_set_member_name (b, "signature");
  json_builder_add_string_value (b, sig_text);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  g_free (canonical);
  canonical = nfltr_proof_canonicalize (root, error);
  if (canonical == NULL)
    return NULL;
  bundle = g_strconcat (canonical, "\n", NULL);
  len = strlen (bundle);
  return g_bytes_new_take (g_steal_pointer (&bundle), len);
}

static JsonNode *
malformed (GError **error, const char *why)
{
  g_set_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_MALFORMED, "not a proof bundle: %s", why);
  return NULL;
}

static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

JsonNode *
nfltr_proof_bundle_verify (const guint8 *data, gsize len, const guint8 *expected_key,
                           char **relay_key, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) parse_error = NULL;
  g_autofree char *canonical = NULL;
  g_autofree char *canonical_proof = NULL;
  g_autoptr(GBytes) message = NULL;
  JsonObject *object;
  JsonNode *root, *proof;
  const char *format, *key_text, *sig_text;
  guint8 key[NFLTR_PROOF_PUBLIC_KEY_SIZE];
  guint8 sig[NFLTR_PROOF_SIGNATURE_SIZE];
  gsize body_len = len;

  ensure_sodium ();
  if (len > 1024 * 1024)
    return malformed (error, "larger than 1 MiB");
  if (memchr (data, '\0', len) != NULL)
    return malformed (error, "it contains a NUL byte");
  if (!g_utf8_validate ((const char *) data, len, NULL))
    return malformed (error, "it is not UTF-8");
  if (body_len > 0 && data[body_len - 1] == '\n')
    body_len--;
  if (!json_parser_load_from_data (parser, (const char *) data, body_len, &parse_error))
    return malformed (error, parse_error->message);
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return malformed (error, "it is not a JSON object");
  object = json_node_get_object (root);
  if (json_object_get_size (object) != 4)
    return malformed (error, "it must have exactly the members bundle, proof, relay-key and signature");
  format = string_member (object, "bundle");
  if (g_strcmp0 (format, NFLTR_PROOF_BUNDLE_FORMAT) != 0)
    return malformed (error, "its format is not " NFLTR_PROOF_BUNDLE_FORMAT);
  proof = json_object_get_member (object, "proof");
  if (proof == NULL || !JSON_NODE_HOLDS_OBJECT (proof))
    return malformed (error, "it has no proof object");
  key_text = string_member (object, "relay-key");
  if (!nfltr_proof_key_parse (key_text, key))
    return malformed (error, "its relay-key is not ed25519:<base64 of 32 bytes>");
  sig_text = string_member (object, "signature");
  if (sig_text == NULL || !base64_exact (sig_text, sig, sizeof sig))
    return malformed (error, "its signature is not base64 of 64 bytes");
  /* One document, one spelling: bytes that are not the canonical form of what they parse to
   * (spaces, reordered or repeated members, other escapes) are refused, so the bytes checked
   * are the bytes signed. */
  canonical = nfltr_proof_canonicalize (root, NULL);
  if (canonical == NULL || strlen (canonical) != body_len || memcmp (canonical, data, body_len) != 0)
    return malformed (error, "it is not in canonical form (docs/protocol.md §10)");

  if (relay_key != NULL)
    *relay_key = g_strdup (key_text);
  if (expected_key != NULL && sodium_memcmp (expected_key, key, sizeof key) != 0)
    {
      g_autofree char *want = nfltr_proof_key_format (expected_key);

      g_set_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_OTHER_KEY,
                   "the bundle is signed by another relay key (%s), not %s", key_text, want);
      return NULL;
    }
  canonical_proof = nfltr_proof_canonicalize (proof, NULL);
  message = signed_message (canonical_proof);
  if (crypto_sign_verify_detached (sig, g_bytes_get_data (message, NULL), g_bytes_get_size (message), key) != 0)
    {
      g_set_error (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_BAD_SIGNATURE,
                   "bad signature: the document was changed after %s signed it, or it never signed it",
                   key_text);
      return NULL;
    }
  return json_node_copy (proof);
}
