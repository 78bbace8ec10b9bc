/* relay-a2a.c — routing agent-to-agent messages (relay-a2a.h, docs/protocol.md §13.3). */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-a2a.h"
#include "relay-a2a-store.h"
#include "relay-server.h"
#include "store/relay-store.h"
#include "agents/relay-agent.h"
#include "agents/relay-directory.h"
#include "nfltr-error.h"
#include "nfltr-messages.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  double tokens;
  gint64 last;   /* monotonic µs */
} Bucket;

struct _RelayA2a {
  RelayServer   *server;
  RelayA2aStore *store;
  GHashTable    *ready;    /* RelayAgent* set: sent FETCH, so live delivery keeps its order */
  GHashTable    *buckets;  /* RelayAgent* → Bucket (owned) */
  double         rate;     /* messages per second per agent */
  guint          sweep_id;
  /* Test hooks, set only by tests/integration/test_a2a.py: every routed frame appended to a
   * file (what the relay saw), and a one-shot instruction file ("flip", "replay",
   * "readdress AGENT-ID") applied to the next SEND and then removed. */
  char          *dump_path;
  char          *tamper_path;
};

static gboolean
sweep_cb (gpointer user_data)
{
  RelayA2a *a2a = user_data;
  guint n = relay_a2a_store_expire (a2a->store, g_get_real_time () / G_USEC_PER_SEC);

  if (n > 0)
    g_message ("a2a: %u queued message(s) expired unread", n);
  return G_SOURCE_CONTINUE;
}

RelayA2a *
relay_a2a_new (RelayServer *server, GError **error)
{
  g_autoptr(RelayA2a) a2a = g_new0 (RelayA2a, 1);
  const char *rate = g_getenv ("NFLTR_RELAY_A2A_RATE");

  a2a->server = server;
  a2a->store = relay_a2a_store_open (relay_store_get_db (server->store), error);
  if (a2a->store == NULL)
    return NULL;
  a2a->ready = g_hash_table_new (NULL, NULL);
  a2a->buckets = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  a2a->rate = RELAY_A2A_RATE_MSGS_S;
  if (rate != NULL && g_ascii_strtod (rate, NULL) > 0)
    a2a->rate = g_ascii_strtod (rate, NULL);
  a2a->dump_path = g_strdup (g_getenv ("NFLTR_RELAY_TEST_A2A_DUMP"));
  a2a->tamper_path = g_strdup (g_getenv ("NFLTR_RELAY_TEST_A2A_TAMPER"));
  if (a2a->dump_path != NULL || a2a->tamper_path != NULL)
    g_message ("a2a test hooks active (dump %s, tamper %s)", a2a->dump_path ? a2a->dump_path : "-",
               a2a->tamper_path ? a2a->tamper_path : "-");
  relay_a2a_store_expire (a2a->store, g_get_real_time () / G_USEC_PER_SEC);
  a2a->sweep_id = g_timeout_add_seconds (60, sweep_cb, a2a);
  return g_steal_pointer (&a2a);
}

void
relay_a2a_free (RelayA2a *a2a)
{
  if (a2a == NULL)
    return;
  g_clear_handle_id (&a2a->sweep_id, g_source_remove);
  g_clear_pointer (&a2a->store, relay_a2a_store_free);
  g_clear_pointer (&a2a->ready, g_hash_table_unref);
  g_clear_pointer (&a2a->buckets, g_hash_table_unref);
  g_free (a2a->dump_path);
  g_free (a2a->tamper_path);
  g_free (a2a);
}

static RelayA2a *
agent_a2a (RelayAgent *agent)
{
  return relay_agent_get_server (agent)->a2a;
}

static void
dump_frame (RelayA2a *a2a, const NfltrFrame *frame)
{
  g_autoptr(GBytes) bytes = NULL;
  FILE *f;

  if (a2a->dump_path == NULL)
    return;
  bytes = nfltr_frame_encode (frame);
  f = fopen (a2a->dump_path, "ab");
  if (f == NULL)
    return;
  fwrite (g_bytes_get_data (bytes, NULL), 1, g_bytes_get_size (bytes), f);
  fclose (f);
}

/* The test hook's instruction for this SEND, if any (one-shot: the file goes). */
static char *
take_tamper (RelayA2a *a2a)
{
  char *text = NULL;

  if (a2a->tamper_path == NULL || !g_file_get_contents (a2a->tamper_path, &text, NULL, NULL))
    return NULL;
  g_unlink (a2a->tamper_path);
  return g_strstrip (text);
}

static void
send_op (RelayAgent *to, NfltrA2aOp op, const char *peer_id, const NfltrFrame *about)
{
  g_autoptr(NfltrFrame) frame = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);
  guint32 request_id;

  nfltr_frame_set_u8 (frame, NFLTR_ATTR_A2A_OP, op);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, peer_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, "", 0);
  if (about != NULL && nfltr_frame_get_u32 (about, NFLTR_ATTR_REQUEST_ID, &request_id))
    nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, request_id);
  relay_agent_send (to, frame);
}

static NfltrFrame *
deliver_frame (const char *recipient, const char *sender, const guint8 *msg_id, const guint8 *data, gsize len)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);

  nfltr_frame_set_u8 (frame, NFLTR_ATTR_A2A_OP, NFLTR_A2A_OP_DELIVER);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, recipient);
  nfltr_frame_set_string (frame, NFLTR_ATTR_A2A_FROM, sender);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_A2A_MSG_ID, msg_id, 16);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, data, len);
  return frame;
}

static gboolean
agent_id_is_valid (const char *id)
{
  if (strlen (id) != 32)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

static gboolean
take_token (RelayA2a *a2a, RelayAgent *agent)
{
  Bucket *b = g_hash_table_lookup (a2a->buckets, agent);
  gint64 now = g_get_monotonic_time ();

  if (b == NULL)
    {
      b = g_new0 (Bucket, 1);
      b->tokens = a2a->rate;
      b->last = now;
      g_hash_table_insert (a2a->buckets, agent, b);
    }
  b->tokens = MIN (a2a->rate, b->tokens + (double) (now - b->last) * a2a->rate / G_USEC_PER_SEC);
  b->last = now;
  if (b->tokens < 1.0)
    return FALSE;
  b->tokens -= 1.0;
  return TRUE;
}

/* The recipient's live channel, when it has asked for delivery (FETCH) on it. */
static RelayAgent *
live_recipient (RelayA2a *a2a, const char *recipient)
{
  RelayAgent *target = relay_directory_lookup (a2a->server->directory, recipient);

  return target != NULL && g_hash_table_contains (a2a->ready, target) ? target : NULL;
}

static void
handle_send (RelayA2a *a2a, RelayAgent *agent, const NfltrFrame *frame)
{
  const char *recipient = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  const char *sender = relay_agent_get_id (agent);
  gsize id_len = 0, len = 0;
  const guint8 *msg_id = nfltr_frame_get_bytes (frame, NFLTR_ATTR_A2A_MSG_ID, &id_len);
  const guint8 *data = nfltr_frame_get_bytes (frame, NFLTR_ATTR_DATA, &len);
  g_autofree char *tamper = NULL;
  g_autofree guint8 *copy = NULL;
  RelayAgent *target;
  guint32 ttl = RELAY_A2A_TTL_S;

  if (msg_id == NULL || !agent_id_is_valid (recipient) || len == 0)
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_PROTOCOL,
                               "an a2a SEND needs a recipient agent id, a message id and data", NULL);
      return;
    }
  if (!take_token (a2a, agent))
    {
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_LIMIT, "over the relay's a2a message rate; retry later",
                               NULL);
      return;
    }
  dump_frame (a2a, frame);
  tamper = take_tamper (a2a);
  if (tamper != NULL)
    {
      g_message ("a2a test hook: %s on a message from %.8s…", tamper, sender);
      if (g_str_equal (tamper, "flip") && len > 20)
        {
          copy = g_memdup2 (data, len);
          copy[len - 20] ^= 0x01;
          data = copy;
        }
      else if (g_str_has_prefix (tamper, "readdress ") && agent_id_is_valid (tamper + strlen ("readdress ")))
        recipient = tamper + strlen ("readdress ");
    }
  target = live_recipient (a2a, recipient);
  if (target != NULL)
    {
      g_autoptr(NfltrFrame) out = deliver_frame (recipient, sender, msg_id, data, len);

      relay_agent_send (target, out);
      if (tamper != NULL && g_str_equal (tamper, "replay"))
        relay_agent_send (target, out);
      send_op (agent, NFLTR_A2A_OP_FORWARDED, recipient, frame);
      return;
    }
  /* Offline: held as it came, ciphertext, until the recipient fetches it or it expires. */
  {
    g_autoptr(GBytes) bytes = g_bytes_new (data, len);
    g_autoptr(GError) error = NULL;
    guint32 asked;
    g_autoptr(NfltrFrame) reply = NULL;
    guint32 request_id;

    if (nfltr_frame_get_u32 (frame, NFLTR_ATTR_A2A_TTL, &asked) && asked > 0)
      ttl = MIN (ttl, asked);
    if (!relay_a2a_store_enqueue (a2a->store, recipient, sender, msg_id, bytes,
                                  g_get_real_time () / G_USEC_PER_SEC + ttl, RELAY_A2A_QUEUE_MESSAGES,
                                  RELAY_A2A_QUEUE_BYTES, &error))
      {
        relay_agent_reply_error (agent, frame,
                                 g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT) ? NFLTR_PROTO_ERR_LIMIT
                                                                                        : NFLTR_PROTO_ERR_INTERNAL,
                                 error->message, NULL);
        return;
      }
    if (tamper != NULL && g_str_equal (tamper, "replay"))
      {
        /* The queue keys on the message id: a replay has to come from the live path. */
      }
    reply = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);
    nfltr_frame_set_u8 (reply, NFLTR_ATTR_A2A_OP, NFLTR_A2A_OP_STORED);
    nfltr_frame_set_string (reply, NFLTR_ATTR_PEER_ID, recipient);
    nfltr_frame_set_bytes (reply, NFLTR_ATTR_DATA, "", 0);
    nfltr_frame_set_u32 (reply, NFLTR_ATTR_A2A_TTL, ttl);
    if (nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &request_id))
      nfltr_frame_set_u32 (reply, NFLTR_ATTR_REQUEST_ID, request_id);
    relay_agent_send (agent, reply);
    g_debug ("a2a: message for offline agent %.8s… held for %u s", recipient, ttl);
  }
}

static void
handle_fetch (RelayA2a *a2a, RelayAgent *agent)
{
  const char *id = relay_agent_get_id (agent);
  g_autoptr(GPtrArray) pending = NULL;

  /* Only the channel the directory lists speaks for the id (a reconnect replaces the old). */
  if (relay_directory_lookup (a2a->server->directory, id) != agent)
    return;
  g_hash_table_add (a2a->ready, agent);
  pending = relay_a2a_store_pending (a2a->store, id, g_get_real_time () / G_USEC_PER_SEC);
  if (pending->len > 0)
    g_message ("a2a: delivering %u held message(s) to agent %s", pending->len, relay_agent_get_log_id (agent));
  for (guint i = 0; i < pending->len; i++)
    {
      RelayA2aQueued *q = pending->pdata[i];
      gsize len;
      const guint8 *data = g_bytes_get_data (q->data, &len);
      g_autoptr(NfltrFrame) out = deliver_frame (id, q->sender, q->msg_id, data, len);

      relay_agent_send (agent, out);
    }
}

static void
handle_lookup (RelayA2a *a2a, RelayAgent *agent, const NfltrFrame *frame)
{
  const char *name = nfltr_frame_get_string (frame, NFLTR_ATTR_A2A_NAME);
  g_autofree char *by_name = name != NULL ? relay_a2a_store_lookup_name (a2a->store, name) : NULL;
  const char *id = name != NULL ? by_name : nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  g_autoptr(GBytes) key = NULL;
  g_autoptr(NfltrFrame) reply = NULL;
  guint32 request_id;

  if (id == NULL || !agent_id_is_valid (id) || (key = relay_a2a_store_get_key (a2a->store, id)) == NULL)
    {
      g_autofree char *msg = name != NULL ? g_strdup_printf ("no agent serves the a2a name “%s” at this relay", name)
                                          : g_strdup_printf ("agent %s never published an a2a key at this relay",
                                                             id ? id : "?");

      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_NO_AGENT, msg, NULL);
      return;
    }
  reply = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);
  nfltr_frame_set_u8 (reply, NFLTR_ATTR_A2A_OP, NFLTR_A2A_OP_KEY);
  nfltr_frame_set_string (reply, NFLTR_ATTR_PEER_ID, id);
  nfltr_frame_set_bytes (reply, NFLTR_ATTR_DATA, g_bytes_get_data (key, NULL), 32);
  if (name != NULL)
    nfltr_frame_set_string (reply, NFLTR_ATTR_A2A_NAME, name);
  if (nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &request_id))
    nfltr_frame_set_u32 (reply, NFLTR_ATTR_REQUEST_ID, request_id);
  relay_agent_send (agent, reply);
}

void
relay_a2a_handle_message (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayA2a *a2a = agent_a2a (agent);
  guint8 op = NFLTR_A2A_OP_SEND;
  const char *id = relay_agent_get_id (agent);
  gsize len = 0;
  const guint8 *data = nfltr_frame_get_bytes (frame, NFLTR_ATTR_DATA, &len);
  g_autoptr (GError) error = NULL;

  nfltr_frame_get_u8 (frame, NFLTR_ATTR_A2A_OP, &op);
  switch ((NfltrA2aOp) op)
    {
      case NFLTR_A2A_OP_SEND: handle_send (a2a, agent, frame); return;
      case NFLTR_A2A_OP_ACK:
        {
          gsize n = 0;
          const guint8 *msg_id = nfltr_frame_get_bytes (frame, NFLTR_ATTR_A2A_MSG_ID, &n);

          if (msg_id != NULL)
            relay_a2a_store_ack (a2a->store, id, msg_id);
          return;
        }
      case NFLTR_A2A_OP_PUBLISH:
        /* Only the channel listed for the id may speak for it (relay-directory.h). */
        if (len != 32 || relay_directory_lookup (a2a->server->directory, id) != agent)
          {
            relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_PROTOCOL,
                                     "a2a PUBLISH needs the 32-byte key, from the agent's listed channel", NULL);
            return;
          }
        if (!relay_a2a_store_put_key (a2a->store, id, data, &error))
          {
            relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_INTERNAL, error->message, NULL);
            return;
          }
        send_op (agent, NFLTR_A2A_OP_OK, id, frame);
        return;
      case NFLTR_A2A_OP_LOOKUP: handle_lookup (a2a, agent, frame); return;
      case NFLTR_A2A_OP_REGISTER:
        {
          const char *name = nfltr_frame_get_string (frame, NFLTR_ATTR_A2A_NAME);

          if (name == NULL || !nfltr_proto_name_is_valid (name))
            {
              relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_BAD_NAME,
                                       "an a2a name is one DNS label: lowercase letters, digits and '-'",
                                       name);
              return;
            }
          if (!relay_a2a_store_register_name (a2a->store, name, id, &error))
            {
              relay_agent_reply_error (agent, frame,
                                       g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN)
                                         ? NFLTR_PROTO_ERR_NAME_TAKEN
                                         : NFLTR_PROTO_ERR_INTERNAL,
                                       error->message, name);
              return;
            }
          send_op (agent, NFLTR_A2A_OP_OK, id, frame);
          return;
        }
      case NFLTR_A2A_OP_FETCH: handle_fetch (a2a, agent); return;
      case NFLTR_A2A_OP_DELIVER:
      case NFLTR_A2A_OP_KEY:
      case NFLTR_A2A_OP_OK:
      case NFLTR_A2A_OP_STORED:
      case NFLTR_A2A_OP_FORWARDED:
      default:
        relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_PROTOCOL,
                                 "not an a2a operation an agent asks for", NULL);
        return;
    }
}

void
relay_a2a_drop_agent (RelayAgent *agent)
{
  RelayA2a *a2a = agent_a2a (agent);

  if (a2a == NULL)
    return;
  g_hash_table_remove (a2a->ready, agent);
  g_hash_table_remove (a2a->buckets, agent);
}
