/* relay-turn.c — minting TURN credentials for agents (issue 14, docs/protocol.md §14.4). */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-turn.h"
#include "relay-server.h"
#include "agents/relay-agent.h"

#include <string.h>

char *
relay_turn_password (const char *secret, const char *username)
{
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) secret, strlen (secret));
  guint8 digest[20];
  gsize len = sizeof digest;

  g_hmac_update (hmac, (const guchar *) username, strlen (username));
  g_hmac_get_digest (hmac, digest, &len);
  return g_base64_encode (digest, len);
}

/* The shared secret, read at each request so the operator can rotate it without a restart. */
static char *
read_secret (const char *path)
{
  g_autofree char *text = NULL;

  if (path == NULL || !g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  g_strstrip (text);
  return *text ? g_steal_pointer (&text) : NULL;
}

void
relay_turn_handle_request (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayServer *server = relay_agent_get_server (agent);
  g_autofree char *secret = read_secret (server->config.turn_secret_file);
  g_autofree char *username = NULL;
  g_autofree char *password = NULL;
  g_autoptr(NfltrFrame) reply = NULL;
  guint32 request_id = 0;

  if (server->config.turn_url == NULL || secret == NULL)
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME, "this relay offers no TURN server", NULL);
      return;
    }
  username = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", g_get_real_time () / G_USEC_PER_SEC + RELAY_TURN_TTL_S,
                              relay_agent_get_log_id (agent));
  password = relay_turn_password (secret, username);
  reply = nfltr_frame_new (NFLTR_FRAME_TURN_CREDENTIALS);
  if (nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &request_id))
    nfltr_frame_set_u32 (reply, NFLTR_ATTR_REQUEST_ID, request_id);
  nfltr_frame_set_string (reply, NFLTR_ATTR_URL, server->config.turn_url);
  nfltr_frame_set_string (reply, NFLTR_ATTR_NAME, username);
  nfltr_frame_set_bytes (reply, NFLTR_ATTR_DATA, password, strlen (password));
  relay_agent_send (agent, reply);
  g_debug ("agent %s: TURN credentials until %s", relay_agent_get_log_id (agent), username);
}
