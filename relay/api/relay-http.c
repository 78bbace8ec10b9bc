/* relay-http.c — SoupServer routes: /agent/v1/control, /api/v1/health, /api/v1/tunnels/<host> */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-http.h"
#include "relay-server.h"
#include "agents/relay-agent.h"
#include "auth/relay-enrol.h"
#include "dashboard/relay-dashboard.h"
#include "tls/relay-own-name.h"
#include "tunnels/relay-registry.h"
#include "proof/relay-proof-http.h"
#include "nfltr-proto.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define API_PREFIX_TUNNELS "/api/v1/tunnels/"

/* json-glib sets a member in two calls; our objects are mostly strings. */
static void
add_string_member (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
reply_json (SoupServerMessage *msg, guint status, JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  gsize len;
  char *body;

  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, &len);
  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, len);
}

static void
reply_error (SoupServerMessage *msg, guint status, const char *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string_member (b, "error", message);
  json_builder_end_object (b);
  reply_json (msg, status, b);
}

static gboolean
method_is_get (SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
  reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "only GET is supported here");
  return FALSE;
}

static void
health_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
           gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  if (!method_is_get (msg))
    return;
  if (strcmp (path, "/api/v1/health") != 0)
    {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
      return;
    }
  json_builder_begin_object (b);
  add_string_member (b, "status", "ok");
  add_string_member (b, "version", PACKAGE_VERSION);
  json_builder_end_object (b);
  reply_json (msg, SOUP_STATUS_OK, b);
}

static void
tunnel_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
           gpointer user_data)
{
  RelayServer *server = user_data;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *host = NULL;
  RelayBinding *binding = NULL;
  gsize host_len, dom_len = strlen (server->config.domain);

  if (!method_is_get (msg))
    return;
  host = g_ascii_strdown (path + strlen (API_PREFIX_TUNNELS), -1);
  host_len = strlen (host);
  if (host_len > 0 && host[host_len - 1] == '.')
    host[--host_len] = '\0';
  if (host_len > dom_len + 1 && host[host_len - dom_len - 1] == '.' &&
      strcmp (host + host_len - dom_len, server->config.domain) == 0)
    {
      g_autofree char *label = g_strndup (host, host_len - dom_len - 1);
      binding = relay_registry_lookup (server->registry, label);
    }
  if (binding == NULL || binding->agent == NULL)
    {
      g_autofree char *message = g_strdup_printf ("no tunnel %s on this relay", host);
      reply_error (msg, SOUP_STATUS_NOT_FOUND, message);
      return;
    }

  json_builder_begin_object (b);
  add_string_member (b, "host", binding->host);
  add_string_member (b, "url", binding->url);
  add_string_member (b, "mode", relay_binding_mode_to_string (binding));
  add_string_member (b, "fingerprint", binding->fingerprint_text);
  add_string_member (b, "since", binding->since);
  json_builder_set_member_name (b, "kind");
  if (binding->kind != NULL)
    json_builder_add_string_value (b, binding->kind);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  reply_json (msg, SOUP_STATUS_OK, b);
}

static void
fallback_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
             gpointer user_data)
{
  reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
}

static void
control_cb (SoupServer *soup, SoupServerMessage *msg, const char *path,
            SoupWebsocketConnection *ws, gpointer user_data)
{
  RelayServer *server = user_data;
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  g_autofree char *peer = remote ? relay_format_address (remote) : g_strdup ("unknown");
  RelayAgent *agent;

  /* soup accepts a client that offered no subprotocol at all; the protocol requires ours. */
  if (g_strcmp0 (soup_websocket_connection_get_protocol (ws), NFLTR_PROTO_WS_SUBPROTOCOL) != 0)
    {
      relay_log_refusal (peer, "protocol", "control channel without subprotocol %s",
                         NFLTR_PROTO_WS_SUBPROTOCOL);
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
                                       "subprotocol " NFLTR_PROTO_WS_SUBPROTOCOL " is required");
      return;
    }
  g_debug ("control channel opened from %s", peer);
  agent = relay_agent_new (server, ws, peer);
  /* issue 11, mTLS: the certificate the agent presented in the handshake, if any. */
  {
    g_autoptr(GTlsCertificate) cert = relay_own_name_take_peer_certificate (server, peer);

    relay_agent_set_peer_certificate (agent, cert);
  }
}

SoupServer *
relay_http_new (RelayServer *server)
{
  char *protocols[] = { (char *) NFLTR_PROTO_WS_SUBPROTOCOL, NULL };
  SoupServer *soup = soup_server_new ("server-header", "nfltr-relay/" PACKAGE_VERSION " ", NULL);

  soup_server_add_websocket_handler (soup, NFLTR_PROTO_CONTROL_PATH, NULL, protocols,
                                     control_cb, server, NULL);
  soup_server_add_handler (soup, "/api/v1/health", health_cb, server, NULL);
  soup_server_add_handler (soup, API_PREFIX_TUNNELS, tunnel_cb, server, NULL);
  soup_server_add_early_handler (soup, "/api/v1/enrol", relay_enrol_early_cb, server, NULL);
  soup_server_add_handler (soup, "/api/v1/enrol", relay_enrol_handle, server, NULL);
  server->dashboard = relay_dashboard_register (soup, server);
  /* issue 11: the proof page, JSON and signed bundle (relay/proof/) */
  soup_server_add_handler (soup, RELAY_PROOF_API_PREFIX, relay_proof_api_cb, server, NULL);
  soup_server_add_handler (soup, RELAY_PROOF_PAGE_PREFIX, relay_proof_page_cb, server, NULL);
  soup_server_add_handler (soup, NULL, fallback_cb, server, NULL);
  return soup;
}
