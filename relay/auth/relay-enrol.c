/* relay-enrol.c — POST /api/v1/enrol: one use of a fleet token becomes one agent's credential.
 *
 * The token is checked, counted and the credential recorded in one store transaction
 * (relay_store_enrol), so a 1-use token handed to two agents at once enrols exactly one. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-enrol.h"
#include "relay-server.h"
#include "store/relay-store.h"
#include "nfltr-error.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define AGENT_ID_LEN 32

static gboolean
agent_id_is_valid (const char *id)
{
  if (strlen (id) != AGENT_ID_LEN)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return TRUE;
}

gboolean
relay_enrol_request_parse (const char *body, gsize len, char **token, char **agent_id, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object;
  JsonNode *node;
  const char *t, *a;

  if (len > RELAY_ENROL_MAX_BODY)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "request too large");
      return FALSE;
    }
  if (len == 0 || !json_parser_load_from_data (parser, body, len, NULL) ||
      (node = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "the body must be a JSON object");
      return FALSE;
    }
  object = json_node_get_object (node);
  node = json_object_get_member (object, "token");
  t = node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
        ? json_node_get_string (node) : NULL;
  node = json_object_get_member (object, "agent_id");
  a = node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
        ? json_node_get_string (node) : NULL;
  if (t == NULL || !g_str_has_prefix (t, RELAY_FLEET_TOKEN_PREFIX) || strlen (t) > 256)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "“token” must be a fleet token (" RELAY_FLEET_TOKEN_PREFIX "…)");
      return FALSE;
    }
  if (a == NULL || !agent_id_is_valid (a))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "“agent_id” must be 32 hex characters");
      return FALSE;
    }
  *token = g_strdup (t);
  *agent_id = g_ascii_strdown (a, -1);
  return TRUE;
}

static void
reply (SoupServerMessage *msg, guint status, JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  gsize len;
  char *body;

  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, &len);
  soup_server_message_set_status (msg, status, NULL);
  /* The answer carries a secret: no cache anywhere may keep it. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, len);
}

static void
reply_error (SoupServerMessage *msg, guint status, const char *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  reply (msg, status, b);
}

void
relay_enrol_early_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                      gpointer user_data)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  goffset length = soup_message_headers_get_content_length (headers);

  /* Refused before the body is read: soup would otherwise buffer whatever it is sent. */
  if (length > RELAY_ENROL_MAX_BODY ||
      soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CHUNKED)
    reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "request too large");
}

void
relay_enrol_handle (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                    gpointer user_data)
{
  RelayServer *server = user_data;
  SoupMessageBody *request = soup_server_message_get_request_body (msg);
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  g_autofree char *peer = remote ? relay_format_address (remote) : g_strdup ("unknown");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *token = NULL;
  g_autofree char *agent_id = NULL;
  g_autofree char *credential = NULL;
  g_autofree char *prefix = NULL;
  gint64 enrol_id = -1;
  gsize len;
  const char *data;

  if (strcmp (path, "/api/v1/enrol") != 0)
    {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
      return;
    }
  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "POST");
      reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "only POST is supported here");
      return;
    }
  body = soup_message_body_flatten (request);
  data = g_bytes_get_data (body, &len);
  if (!relay_enrol_request_parse (data, len, &token, &agent_id, &error))
    {
      relay_log_refusal (peer, "enrol", "bad request: %s", error->message);
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }
  if (!relay_store_enrol (server->store, token, agent_id, g_get_real_time () / G_USEC_PER_SEC,
                          &credential, &enrol_id, &prefix, &error))
    {
      gboolean refused = g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED);

      relay_log_refusal (peer, "enrol", "agent=%.8s %s", agent_id, error->message);
      reply_error (msg, refused ? SOUP_STATUS_FORBIDDEN : SOUP_STATUS_INTERNAL_SERVER_ERROR,
                   refused ? error->message : "the relay could not record the enrolment");
      return;
    }
  g_message ("agent %.8s enrolled from %s (enrolment %" G_GINT64_FORMAT ", prefix “%s”)", agent_id,
             peer, enrol_id, prefix ? prefix : "");

  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "credential");
  json_builder_add_string_value (b, credential);
  json_builder_set_member_name (b, "enrolment");
  json_builder_add_int_value (b, enrol_id);
  json_builder_set_member_name (b, "prefix");
  json_builder_add_string_value (b, prefix ? prefix : "");
  json_builder_end_object (b);
  reply (msg, SOUP_STATUS_OK, b);
}
