/* relay-proof-http.c — the proof page (server-rendered HTML, no script, no external
 * resource, phone width first), the JSON and the signed bundle. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-proof-http.h"
#include "relay-proof.h"
#include "relay-server.h"
#include "nfltr-proto.h"

#include <json-glib/json-glib.h>
#include <qrencode.h>
#include <string.h>

/* The page loads nothing and runs nothing: its only style is the inline <style>. */
#define PAGE_CSP "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; " \
                 "form-action 'none'; frame-ancestors 'none'"

static void
reply_text (SoupServerMessage *msg, guint status, const char *type, char *body, gsize len)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_response (msg, type, SOUP_MEMORY_TAKE, body, len);
}

static void
reply_error_json (SoupServerMessage *msg, guint status, const char *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  gsize len;
  char *body;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  body = json_to_string (root, FALSE);
  len = strlen (body);
  reply_text (msg, status, "application/json", body, len);
}

static gboolean
method_is_get (SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
  reply_error_json (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "only GET is supported here");
  return FALSE;
}

/* "<name>" or "<name>/bundle" after prefix; NULL unless name is a DNS label (§6). */
static char *
name_of (const char *path, const char *prefix, gboolean *bundle)
{
  g_autofree char *rest = g_ascii_strdown (path + strlen (prefix), -1);
  char *slash = strchr (rest, '/');

  *bundle = FALSE;
  if (slash != NULL)
    {
      if (strcmp (slash, "/bundle") != 0)
        return NULL;
      *slash = '\0';
      *bundle = TRUE;
    }
  if (!nfltr_proto_name_is_valid (rest))
    return NULL;
  return g_steal_pointer (&rest);
}

void
relay_proof_api_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                    gpointer user_data)
{
  RelayServer *server = user_data;
  g_autofree char *name = NULL;
  gboolean bundle;

  if (!method_is_get (msg))
    return;
  name = name_of (path, RELAY_PROOF_API_PREFIX, &bundle);
  if (name == NULL)
    {
      reply_error_json (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
      return;
    }
  if (bundle)
    {
      g_autoptr(GBytes) signed_bundle = relay_proof_get_bundle (server, name);
      gsize len;
      char *data;

      if (signed_bundle == NULL)
        {
          g_autofree char *message = g_strdup_printf ("no tunnel %s on this relay", name);

          reply_error_json (msg, SOUP_STATUS_NOT_FOUND, message);
          return;
        }
      data = g_bytes_unref_to_data (g_steal_pointer (&signed_bundle), &len);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Disposition",
                                    "attachment; filename=\"proof.json\"");
      reply_text (msg, SOUP_STATUS_OK, "application/json", data, len);
    }
  else
    {
      g_autoptr(JsonNode) proof = relay_proof_get (server, name);
      g_autoptr(JsonGenerator) gen = NULL;
      gsize len;
      char *body;

      if (proof == NULL)
        {
          g_autofree char *message = g_strdup_printf ("no tunnel %s on this relay", name);

          reply_error_json (msg, SOUP_STATUS_NOT_FOUND, message);
          return;
        }
      gen = json_generator_new ();
      json_generator_set_pretty (gen, TRUE);
      json_generator_set_root (gen, proof);
      body = json_generator_to_data (gen, &len);
      reply_text (msg, SOUP_STATUS_OK, "application/json", body, len);
    }
}

char *
relay_proof_qr_svg (const char *text)
{
  /* Medium error correction survives a scuffed phone screen; 8-bit mode keeps "sha256:". */
  QRcode *qr = QRcode_encodeString8bit (text, 0, QR_ECLEVEL_M);
  g_autoptr(GString) svg = NULL;
  const int quiet = 4;  /* ISO/IEC 18004 §6.3.8: a quiet zone of 4 modules */
  int width;

  if (qr == NULL)
    return g_strdup ("");
  width = qr->width + 2 * quiet;
  svg = g_string_new (NULL);
  g_string_append_printf (svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                          "class=\"qr\" role=\"img\" aria-label=\"QR code of the fingerprint\" "
                          "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
                          "<path fill=\"#000\" d=\"",
                          width, width, width, width);
  for (int y = 0; y < qr->width; y++)
    for (int x = 0; x < qr->width; x++)
      if (qr->data[y * qr->width + x] & 1)
        g_string_append_printf (svg, "M%d %dh1v1h-1z", x + quiet, y + quiet);
  g_string_append (svg, "\"/></svg>");
  QRcode_free (qr);
  return g_string_free (g_steal_pointer (&svg), FALSE);
}

static const char *
member_string (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return json_node_get_string (node);
}

static void
append_escaped (GString *out, const char *text)
{
  g_autofree char *escaped = g_markup_escape_text (text ? text : "—", -1);

  g_string_append (out, escaped);
}

static void
append_row (GString *out, const char *label, const char *value, gboolean code)
{
  g_string_append (out, "<dt>");
  append_escaped (out, label);
  g_string_append (out, code ? "</dt><dd><code>" : "</dt><dd>");
  append_escaped (out, value);
  g_string_append (out, code ? "</code></dd>\n" : "</dd>\n");
}

static void
append_list (GString *out, const char *heading, JsonObject *object, const char *member)
{
  JsonArray *array = json_object_get_array_member (object, member);

  g_string_append (out, "<h2>");
  append_escaped (out, heading);
  g_string_append (out, "</h2>\n<ul>\n");
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      g_string_append (out, "<li>");
      append_escaped (out, json_array_get_string_element (array, i));
      g_string_append (out, "</li>\n");
    }
  g_string_append (out, "</ul>\n");
}

static const char page_style[] =
  "*{box-sizing:border-box}"
  "body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1c1c1c;background:#f6f6f4}"
  "main{max-width:44rem;margin:0 auto;padding:1rem}"
  "h1{font-size:1.4rem;margin:.5rem 0;overflow-wrap:anywhere}"
  "h2{font-size:1.1rem;margin:1.5rem 0 .5rem}"
  ".verdict{padding:1rem;border-radius:.5rem;font-weight:600;margin:1rem 0}"
  ".verified{background:#dff3e4;border:2px solid #1a7f37}"
  ".mismatch{background:#ffe3e0;border:2px solid #c0271a}"
  ".inspectable{background:#fff3cd;border:2px solid #9a6700}"
  ".pending,.unreachable{background:#e8ecf2;border:2px solid #57606a}"
  "dl{display:grid;grid-template-columns:1fr;gap:.25rem;margin:0}"
  "dt{font-weight:600;color:#57606a;font-size:.9rem}"
  "dd{margin:0 0 .5rem}"
  "code{font:13px/1.4 ui-monospace,monospace;overflow-wrap:anywhere;word-break:break-all}"
  ".qr{width:100%;max-width:16rem;height:auto;display:block;margin:.5rem 0}"
  "a{color:#0b57d0}"
  "@media (min-width:40rem){dl{grid-template-columns:12rem 1fr}dd{margin:0}}";

static char *
render_page (JsonObject *proof)
{
  g_autoptr(GString) out = g_string_new (NULL);
  JsonObject *relay = json_object_get_object_member (proof, "relay");
  const char *name = member_string (proof, "name");
  const char *result = member_string (proof, "result");
  const char *observed = member_string (proof, "observed-fingerprint");
  const char *declared = member_string (proof, "declared-fingerprint");
  const char *detail = member_string (proof, "detail");
  gboolean flagged = json_object_get_boolean_member (proof, "flagged");
  g_autofree char *qr = NULL;
  const char *verdict_class = result;
  const char *verdict;

  if (flagged)
    verdict_class = "mismatch";
  if (g_strcmp0 (result, "inspectable") == 0)
    verdict = "Inspectable: the relay can read this tunnel's traffic. It is not end to end and is "
              "never shown as verified.";
  else if (flagged && g_strcmp0 (result, "mismatch") != 0)
    verdict = "Flagged: an earlier check saw a certificate other than the one the agent declared.";
  else if (g_strcmp0 (result, "mismatch") == 0)
    verdict = "Flagged: the agent serves a certificate other than the one it declared.";
  else if (g_strcmp0 (result, "verified") == 0)
    verdict = "Verified: the relay connected through this tunnel and was served the certificate "
              "the agent declared.";
  else if (g_strcmp0 (result, "unreachable") == 0)
    verdict = "Not checked: the relay's last check could not reach the agent's TLS server.";
  else
    verdict = "Not checked yet: the relay's first check of this tunnel has not finished.";

  g_string_append (out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                        "<title>Proof: ");
  append_escaped (out, member_string (proof, "host"));
  g_string_append_printf (out, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<h1>", page_style);
  append_escaped (out, member_string (proof, "host"));
  g_string_append_printf (out, "</h1>\n<p class=\"verdict %s\" id=\"verdict\" data-result=\"%s\">",
                          verdict_class, flagged ? "flagged" : result);
  append_escaped (out, verdict);
  g_string_append (out, "</p>\n");
  if (detail != NULL)
    {
      g_string_append (out, "<p id=\"detail\">");
      append_escaped (out, detail);
      g_string_append (out, "</p>\n");
    }

  g_string_append (out, "<dl>\n");
  append_row (out, "Mode", member_string (proof, "mode"), FALSE);
  append_row (out, "Agent ID", member_string (proof, "agent-id"), TRUE);
  append_row (out, "Declared fingerprint", declared, TRUE);
  append_row (out, "Observed fingerprint", observed, TRUE);
  append_row (out, "Since", member_string (proof, "since"), FALSE);
  append_row (out, "Last check", member_string (proof, "checked"), FALSE);
  append_row (out, "Result", flagged ? "flagged (mismatch)" : result, FALSE);
  append_row (out, "Relay", member_string (relay, "domain"), FALSE);
  append_row (out, "Relay version", member_string (relay, "version"), FALSE);
  append_row (out, "Relay certificate", member_string (relay, "certificate-fingerprint"), TRUE);
  append_row (out, "Relay signing key", member_string (relay, "signing-key"), TRUE);
  g_string_append (out, "</dl>\n");

  if (g_strcmp0 (result, "inspectable") != 0)
    {
      const char *shown = observed ? observed : declared;

      g_string_append (out, "<h2>Fingerprint to compare</h2>\n<p>Compare this with the certificate "
                            "your own browser or client was served (");
      g_string_append (out, observed ? "the certificate the relay observed" : "as declared; not observed yet");
      g_string_append (out, "):</p>\n<p><code id=\"qr-text\">");
      append_escaped (out, shown);
      g_string_append (out, "</code></p>\n");
      qr = relay_proof_qr_svg (shown);
      g_string_append (out, qr);
      g_string_append (out, "\n");
    }

  append_list (out, "What the relay can see in this mode", proof, "relay-can-see");
  append_list (out, "What the relay cannot see in this mode", proof, "relay-cannot-see");
  append_list (out, "What this page and its bundle prove", proof, "bundle-proves");
  append_list (out, "What they do not prove", proof, "bundle-does-not-prove");
  g_string_append (out, "<h2>Machine-readable</h2>\n<p><a href=\"" RELAY_PROOF_API_PREFIX);
  append_escaped (out, name);
  g_string_append (out, "\">JSON</a> · <a href=\"" RELAY_PROOF_API_PREFIX);
  append_escaped (out, name);
  g_string_append (out, "/bundle\">signed bundle</a> (check it offline with <code>nfltr verify</code>)</p>\n"
                        "</main>\n</body>\n</html>\n");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

void
relay_proof_page_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                     gpointer user_data)
{
  RelayServer *server = user_data;
  g_autoptr(JsonNode) proof = NULL;
  g_autofree char *name = NULL;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gboolean bundle;
  char *body;

  if (!method_is_get (msg))
    return;
  soup_message_headers_replace (headers, "Content-Security-Policy", PAGE_CSP);
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  name = name_of (path, RELAY_PROOF_PAGE_PREFIX, &bundle);
  if (name != NULL && !bundle)
    proof = relay_proof_get (server, name);
  if (proof == NULL)
    {
      g_autoptr(GString) out = g_string_new ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                                             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                                             "<title>No such tunnel</title></head><body><main><h1>No such tunnel</h1>"
                                             "<p>Nothing is bound under this name on this relay now.</p></main></body></html>\n");
      gsize len = out->len;

      body = g_string_free (g_steal_pointer (&out), FALSE);
      reply_text (msg, SOUP_STATUS_NOT_FOUND, "text/html; charset=utf-8", body, len);
      return;
    }
  body = render_page (json_node_get_object (proof));
  reply_text (msg, SOUP_STATUS_OK, "text/html; charset=utf-8", body, strlen (body));
}
