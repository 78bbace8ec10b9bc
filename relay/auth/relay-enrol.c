/* relay-enrol.c — POST /api/v1/enrol: one use of a fleet token becomes one agent's credential.
 *
 * The token is checked, counted and the credential recorded in one store transaction
 * (relay_store_enrol), so a 1-use token handed to two agents at once enrols exactly one. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-enrol.h"
#include "relay-server.h"
#include "store/relay-store.h"
#include "auth/relay-agent-ca.h"
#include "nfltr-error.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define AGENT_ID_LEN 32
/* A client certificate's life: a year; revocation by serial is what ends one early. */
#define RELAY_AGENT_CERT_DAYS 365

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

void
relay_enrol_request_clear (RelayEnrolRequest *request)
{
  g_clear_pointer (&request->token, g_free);
  if (request->api_key != NULL)
    explicit_bzero (request->api_key, strlen (request->api_key));
  g_clear_pointer (&request->api_key, g_free);
  g_clear_pointer (&request->agent_id, g_free);
  g_clear_pointer (&request->public_key, g_free);
}

/* The string member name of object, or NULL when absent or not a string. */
static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

gboolean
relay_enrol_request_parse (const char *body, gsize len, RelayEnrolRequest *request, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object;
  JsonNode *node;
  const char *t, *k, *a, *p;

  memset (request, 0, sizeof *request);
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
  t = string_member (object, "token");
  k = string_member (object, "api_key");
  a = string_member (object, "agent_id");
  p = string_member (object, "public_key");
  if ((t == NULL) == (k == NULL))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "give one of “token” (a fleet token) and “api_key”");
      return FALSE;
    }
  if (t != NULL && (!g_str_has_prefix (t, RELAY_FLEET_TOKEN_PREFIX) || strlen (t) > 256))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "“token” must be a fleet token (" RELAY_FLEET_TOKEN_PREFIX "…)");
      return FALSE;
    }
  /* An API key already is a bearer credential of its own: it enrols only a certificate. */
  if (k != NULL && (p == NULL || strlen (k) > 256 || *k == '\0'))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "“api_key” is for a client certificate: give “public_key” too");
      return FALSE;
    }
  if (a == NULL || !agent_id_is_valid (a))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "“agent_id” must be 32 hex characters");
      return FALSE;
    }
  if (p != NULL && (strlen (p) > 2048 || !g_str_has_prefix (p, "-----BEGIN PUBLIC KEY-----")))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "“public_key” must be a PEM public key (-----BEGIN PUBLIC KEY-----)");
      return FALSE;
    }
  request->token = g_strdup (t);
  request->api_key = g_strdup (k);
  request->agent_id = g_ascii_strdown (a, -1);
  request->public_key = g_strdup (p);
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
  SoupMessageBody *request_body = soup_server_message_get_request_body (msg);
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  g_autofree char *peer = remote ? relay_format_address (remote) : g_strdup ("unknown");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  RelayEnrolRequest request;
  g_autofree char *credential = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *certificate = NULL;
  g_autofree char *serial = NULL;
  gint64 key_id = -1;
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
  body = soup_message_body_flatten (request_body);
  data = g_bytes_get_data (body, &len);
  if (!relay_enrol_request_parse (data, len, &request, &error))
    {
      relay_log_refusal (peer, "enrol", "bad request: %s", error->message);
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }
  if (request.api_key != NULL && !relay_store_key_check (server->store, request.api_key, &key_id))
    {
      relay_log_refusal (peer, "enrol", "agent=%.8s API key is not valid", request.agent_id);
      reply_error (msg, SOUP_STATUS_FORBIDDEN, "API key is not valid (unknown or revoked)");
      relay_enrol_request_clear (&request);
      return;
    }
  /* mTLS: the agent's public key becomes a client certificate — made before a fleet token's
   * use is spent, so a key the relay cannot certify costs the token nothing. A certificate is
   * valid only once recorded below. */
  if (request.public_key != NULL)
    {
      certificate = relay_agent_ca_issue (server->agent_ca, request.public_key, request.agent_id,
                                          RELAY_AGENT_CERT_DAYS, &serial, &error);
      if (certificate == NULL)
        {
          relay_log_refusal (peer, "enrol", "agent=%.8s %s", request.agent_id, error->message);
          reply_error (msg, g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT)
                              ? SOUP_STATUS_BAD_REQUEST : SOUP_STATUS_INTERNAL_SERVER_ERROR,
                       error->message);
          relay_enrol_request_clear (&request);
          return;
        }
    }
  if (request.token != NULL &&
      !relay_store_enrol (server->store, request.token, request.agent_id, g_get_real_time () / G_USEC_PER_SEC,
                          &credential, &enrol_id, &prefix, &error))
    {
      gboolean refused = g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED);

      relay_log_refusal (peer, "enrol", "agent=%.8s %s", request.agent_id, error->message);
      reply_error (msg, refused ? SOUP_STATUS_FORBIDDEN : SOUP_STATUS_INTERNAL_SERVER_ERROR,
                   refused ? error->message : "the relay could not record the enrolment");
      relay_enrol_request_clear (&request);
      return;
    }
  if (certificate != NULL)
    {
      if (!relay_store_cert_record (server->store, serial, "relay", request.agent_id, key_id, enrol_id,
                                    prefix, NULL, &error))
        {
          g_message ("%s", error->message);
          reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "the relay could not record the certificate");
          relay_enrol_request_clear (&request);
          return;
        }
      /* The certificate is the agent's credential: the enrolment's bearer one is not handed out. */
      g_clear_pointer (&credential, g_free);
      g_message ("agent %.8s got client certificate %s from %s", request.agent_id, serial, peer);
    }
  else
    g_message ("agent %.8s enrolled from %s (enrolment %" G_GINT64_FORMAT ", prefix “%s”)",
               request.agent_id, peer, enrol_id, prefix ? prefix : "");
  relay_enrol_request_clear (&request);

  b = json_builder_new ();
  json_builder_begin_object (b);
  if (credential != NULL)
    {
      json_builder_set_member_name (b, "credential");
      json_builder_add_string_value (b, credential);
    }
  if (certificate != NULL)
    {
      json_builder_set_member_name (b, "certificate");
      json_builder_add_string_value (b, certificate);
      json_builder_set_member_name (b, "serial");
      json_builder_add_string_value (b, serial);
    }
  json_builder_set_member_name (b, "enrolment");
  json_builder_add_int_value (b, enrol_id);
  json_builder_set_member_name (b, "prefix");
  json_builder_add_string_value (b, prefix ? prefix : "");
  json_builder_end_object (b);
  reply (msg, SOUP_STATUS_OK, b);
}
