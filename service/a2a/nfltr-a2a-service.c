/* nfltr-a2a-service.c — the A2a D-Bus object, keys, pins, messages, receipts and logs
 * (nfltr-a2a-service.h, docs/protocol.md §13). */
#define G_LOG_DOMAIN "nfltr-a2a"

#include "nfltr-a2a-service.h"
#include "nfltr-a2a-http.h"
#include "nfltr-a2a-proto.h"
#include "nfltr-audit-checkpoint.h"
#include "nfltr-error.h"
#include "nfltr-invocation.h"
#include "nfltr-session.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define A2A_OBJECT_PATH   "/xyz/nfltr/Nfltr/a2a"
#define IDENTITY_FILE     "a2a-identity.key"   /* in certs/, next to the tunnels' keys */
#define PINS_FILE         "a2a-pins"           /* in ~/.config/nfltr/ */
#define SEEN_MAX          20000                /* message ids remembered across restarts */
#define CONVERSATION_MAX  200                  /* messages kept per conversation for the app */

/* One direction's hash chain of a conversation (docs/protocol.md §13.6). */
typedef struct {
  guint64 count;
  guint8  head[NFLTR_AUDIT_HASH_BYTES];
} Chain;

typedef struct {
  char   *peer;
  guint8  context[NFLTR_AUDIT_HASH_BYTES];
  Chain   chains[2];     /* by direction: 0 = from the lower agent id to the higher */
  gboolean loaded;
  guint64 send_seq;      /* per-pair order of what we send (inner seq) */
  JsonArray *messages;   /* for the app: the last CONVERSATION_MAX */
} Conversation;

struct _NfltrA2aService {
  NfltrDbusA2aSkeleton parent_instance;

  NfltrSession     *session;
  char             *data_dir;
  char             *config_dir;
  NfltrA2aIdentity  identity;
  char             *agent_id;
  NfltrRelayLink   *link;
  guint             handler_id;
  gulong            state_handler;
  GHashTable       *pins;          /* agent id → GBytes (32) */
  GHashTable       *send_sessions; /* agent id → NfltrA2aSendSession* */
  GHashTable       *replay;        /* "from/ephemeral-hex" → NfltrA2aReplay* */
  GHashTable       *seen;          /* message id hex set */
  GQueue            seen_order;    /* the same ids, oldest first (bounded) */
  GHashTable       *conversations; /* peer → Conversation* */
  NfltrA2aHttp     *http;
  gboolean          published;     /* on this link's connection */
};

static void a2a_iface_init (NfltrDbusA2aIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrA2aService, nfltr_a2a_service, NFLTR_DBUS_TYPE_A2A_SKELETON,
                               G_IMPLEMENT_INTERFACE (NFLTR_DBUS_TYPE_A2A, a2a_iface_init))

static char *
hex (const guint8 *data, gsize len)
{
  char *out = g_malloc (len * 2 + 1);

  sodium_bin2hex (out, len * 2 + 1, data, len);
  return out;
}

static gboolean
unhex (const char *text, guint8 *out, gsize len)
{
  size_t n = 0;

  return text != NULL && strlen (text) == len * 2 &&
         sodium_hex2bin (out, len, text, len * 2, NULL, &n, NULL) == 0 && n == len;
}

static char *
xdg_config_dir (void)
{
  const char *value = g_getenv ("XDG_CONFIG_HOME");
  const char *home = g_getenv ("HOME");

  if (value != NULL && g_path_is_absolute (value))
    return g_build_filename (value, "nfltr", NULL);
  return g_build_filename (home ? home : g_get_home_dir (), ".config", "nfltr", NULL);
}

/* --- identity and pins --------------------------------------------------------------------- */

/* The seed of the long-term key, 0600, made on first use (as the tunnels' keys are). */
static gboolean
load_identity (NfltrA2aService *self, GError **error)
{
  g_autofree char *dir = g_build_filename (self->data_dir, "certs", NULL);
  g_autofree char *path = g_build_filename (dir, IDENTITY_FILE, NULL);
  g_autofree char *contents = NULL;
  gsize len = 0;
  guint8 seed[32];

  if (g_file_get_contents (path, &contents, &len, NULL))
    {
      if (len != sizeof seed)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s is not an a2a identity key (%" G_GSIZE_FORMAT
                       " bytes); move it away to make a new one", path, len);
          return FALSE;
        }
      memcpy (seed, contents, sizeof seed);
      sodium_memzero (contents, len);
    }
  else
    {
      randombytes_buf (seed, sizeof seed);
      if (g_mkdir_with_parents (dir, 0700) != 0 ||
          !g_file_set_contents_full (path, (const char *) seed, sizeof seed, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                     error))
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "cannot make %s: %s", dir, g_strerror (errno));
          return FALSE;
        }
      g_message ("made a new a2a identity key in %s", path);
    }
  if (!nfltr_a2a_identity_from_seed (&self->identity, seed, error))
    return FALSE;
  sodium_memzero (seed, sizeof seed);
  return TRUE;
}

static char *
pins_path (NfltrA2aService *self)
{
  return g_build_filename (self->config_dir, PINS_FILE, NULL);
}

static void
load_pins (NfltrA2aService *self)
{
  g_autofree char *path = pins_path (self);
  g_autofree char *text = NULL;
  gsize len = 0;
  guint bad = 0;

  g_clear_pointer (&self->pins, g_hash_table_unref);
  if (!g_file_get_contents (path, &text, &len, NULL))
    text = g_strdup (""), len = 0;
  self->pins = nfltr_a2a_pins_parse (text, len, &bad);
  if (bad > 0)
    g_message ("%s: %u line(s) that are not pins were ignored", path, bad);
}

static void
save_pins (NfltrA2aService *self)
{
  g_autofree char *path = pins_path (self);
  g_autofree char *text = nfltr_a2a_pins_format (self->pins);
  g_autoptr(GError) error = NULL;

  if (g_mkdir_with_parents (self->config_dir, 0700) != 0 ||
      !g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_warning ("cannot save the a2a pins: %s", error ? error->message : g_strerror (errno));
}

static const guint8 *
pinned_key (NfltrA2aService *self, const char *agent)
{
  GBytes *key = g_hash_table_lookup (self->pins, agent);

  return key != NULL ? g_bytes_get_data (key, NULL) : NULL;
}

static void
pin (NfltrA2aService *self, const char *agent, const guint8 key[32])
{
  g_autofree char *fp = nfltr_a2a_fingerprint (key);

  g_hash_table_replace (self->pins, g_strdup (agent), g_bytes_new (key, 32));
  g_hash_table_remove (self->send_sessions, agent);
  save_pins (self);
  g_message ("a2a: pinned the key of agent %s on first contact: %s", agent, fp);
}

/* --- replay memory ----------------------------------------------------------------------- */

static char *
seen_path (NfltrA2aService *self)
{
  return g_build_filename (self->data_dir, "a2a", "seen", NULL);
}

static void
load_seen (NfltrA2aService *self)
{
  g_autofree char *path = seen_path (self);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strlen (lines[i]) == NFLTR_A2A_MSG_ID_BYTES * 2 && !g_hash_table_contains (self->seen, lines[i]))
      {
        char *id = g_strdup (lines[i]);

        g_hash_table_add (self->seen, id);
        g_queue_push_tail (&self->seen_order, id);
      }
  while (g_queue_get_length (&self->seen_order) > SEEN_MAX)
    g_hash_table_remove (self->seen, g_queue_pop_head (&self->seen_order));
  /* The file is appended to as messages arrive: written afresh, bounded, at each start. */
  if (g_strv_length (lines) > SEEN_MAX + 1)
    {
      GString *out = g_string_new (NULL);

      for (GList *l = self->seen_order.head; l != NULL; l = l->next)
        g_string_append_printf (out, "%s\n", (const char *) l->data);
      g_file_set_contents_full (path, out->str, out->len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL);
      g_string_free (out, TRUE);
    }
}

/* Remembers a delivered message id, on disk too: a replay after a restart is refused. */
static void
remember_seen (NfltrA2aService *self, const char *id_hex)
{
  char *id = g_strdup (id_hex);
  g_autofree char *path = seen_path (self);
  g_autofree char *dir = g_path_get_dirname (path);
  FILE *f;

  g_hash_table_add (self->seen, id);
  g_queue_push_tail (&self->seen_order, id);
  while (g_queue_get_length (&self->seen_order) > SEEN_MAX)
    g_hash_table_remove (self->seen, g_queue_pop_head (&self->seen_order));
  g_mkdir_with_parents (dir, 0700);
  f = fopen (path, "a");
  if (f != NULL)
    {
      fprintf (f, "%s\n", id_hex);
      fclose (f);
    }
}

/* --- conversations and their logs (§13.6) ------------------------------------------------ */

static void
conversation_free (Conversation *c)
{
  g_free (c->peer);
  g_clear_pointer (&c->messages, json_array_unref);
  g_free (c);
}

static char *
log_path (NfltrA2aService *self, const char *peer, const char *suffix)
{
  g_autofree char *name = g_strconcat (peer, suffix, NULL);

  return g_build_filename (self->data_dir, "a2a", "logs", name, NULL);
}

/* The direction of a message from `from`: 0 when from sorts below the other agent. */
static guint8
direction_of (const char *from, const char *to)
{
  return strcmp (from, to) < 0 ? 0 : 1;
}

static Conversation *
conversation_get (NfltrA2aService *self, const char *peer)
{
  Conversation *c = g_hash_table_lookup (self->conversations, peer);
  crypto_hash_sha256_state st;
  const char *lo, *hi;
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;

  if (c != NULL)
    return c;
  c = g_new0 (Conversation, 1);
  c->peer = g_strdup (peer);
  c->messages = json_array_new ();
  lo = strcmp (self->agent_id, peer) < 0 ? self->agent_id : peer;
  hi = lo == peer ? self->agent_id : peer;
  crypto_hash_sha256_init (&st);
  crypto_hash_sha256_update (&st, (const guint8 *) "nfltr-a2a-v1 conversation ", 26);
  crypto_hash_sha256_update (&st, (const guint8 *) lo, strlen (lo));
  crypto_hash_sha256_update (&st, (const guint8 *) hi, strlen (hi));
  crypto_hash_sha256_final (&st, c->context);
  memcpy (c->chains[0].head, c->context, 32);
  memcpy (c->chains[1].head, c->context, 32);
  /* A conversation goes on across restarts: its chains continue from the log's last links. */
  path = log_path (self, peer, ".log");
  if (g_file_get_contents (path, &text, NULL, NULL))
    {
      g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        {
          g_autoptr(JsonParser) parser = json_parser_new ();
          JsonObject *o;
          gint64 n, dir;

          if (*lines[i] == '\0' || !json_parser_load_from_data (parser, lines[i], -1, NULL) ||
              !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
            continue;
          o = json_node_get_object (json_parser_get_root (parser));
          if (!json_object_has_member (o, "n"))
            continue;
          n = json_object_get_int_member_with_default (o, "n", 0);
          dir = json_object_get_int_member_with_default (o, "dir", 0);
          if ((dir == 0 || dir == 1) &&
              unhex (json_object_get_string_member_with_default (o, "link", ""), c->chains[dir].head, 32))
            c->chains[dir].count = n;
        }
    }
  g_hash_table_insert (self->conversations, c->peer, c);
  return c;
}

/* Appends the envelope of a text or file message to the conversation's chain and log. */
static void
log_message (NfltrA2aService *self, Conversation *c, const char *from, const char *to, const guint8 *msg_id,
             GBytes *envelope)
{
  guint8 dir = direction_of (from, to);
  Chain *chain = &c->chains[dir];
  gsize len;
  const guint8 *data = g_bytes_get_data (envelope, &len);
  guint8 content[32];
  g_autofree char *path = log_path (self, c->peer, ".log");
  g_autofree char *dirname = g_path_get_dirname (path);
  g_autofree char *id_hex = hex (msg_id, NFLTR_A2A_MSG_ID_BYTES);
  g_autofree char *content_hex = NULL;
  g_autofree char *link_hex = NULL;
  gboolean fresh = !g_file_test (path, G_FILE_TEST_EXISTS);
  FILE *f;

  nfltr_audit_chain_next (chain->head, chain->count + 1, dir, data, len, chain->head);
  chain->count++;
  crypto_hash_sha256 (content, data, len);
  content_hex = hex (content, 32);
  link_hex = hex (chain->head, 32);
  g_mkdir_with_parents (dirname, 0700);
  f = fopen (path, "a");
  if (f == NULL)
    return;
  if (fresh)
    {
      g_autofree char *ctx = hex (c->context, 32);
      const char *lo = strcmp (self->agent_id, c->peer) < 0 ? self->agent_id : c->peer;
      const char *hi = lo == c->peer ? self->agent_id : c->peer;

      fprintf (f, "{\"nfltr-audit\":\"a2a-v1\",\"context\":\"%s\",\"agent-0\":\"%s\",\"agent-1\":\"%s\"}\n", ctx, lo,
               hi);
    }
  fprintf (f, "{\"n\":%" G_GUINT64_FORMAT ",\"dir\":%u,\"from\":\"%s\",\"msg\":\"%s\",\"len\":%" G_GSIZE_FORMAT
           ",\"sha256\":\"%s\",\"link\":\"%s\"}\n",
           chain->count, dir, from, id_hex, len, content_hex, link_hex);
  fclose (f);
}

/* The signed checkpoint of the chain of messages from peer to us, for a receipt. */
static void
sign_checkpoint (NfltrA2aService *self, Conversation *c, const char *from, guint8 out[NFLTR_AUDIT_CHECKPOINT_BYTES])
{
  NfltrAuditCheckpoint cp = { 0 };
  guint8 dir = direction_of (from, self->agent_id);

  memcpy (cp.context, c->context, 32);
  cp.direction = dir;
  cp.count = c->chains[dir].count;
  memcpy (cp.head, c->chains[dir].head, 32);
  nfltr_audit_checkpoint_sign (&cp, self->identity.ed_sk);
  nfltr_audit_checkpoint_encode (&cp, out);
}

/* A receipt's checkpoint: kept in <peer>.checkpoints when the peer's pinned key signed it. */
static void
keep_checkpoint (NfltrA2aService *self, const char *peer, const guint8 *raw)
{
  NfltrAuditCheckpoint cp;
  const guint8 *key = pinned_key (self, peer);
  g_autofree char *text = NULL;
  g_autofree char *path = log_path (self, peer, ".checkpoints");
  g_autoptr(GError) error = NULL;
  FILE *f;

  if (!nfltr_audit_checkpoint_decode (raw, NFLTR_AUDIT_CHECKPOINT_BYTES, &cp, &error) ||
      !nfltr_audit_checkpoint_verify (&cp, &error))
    {
      g_message ("a2a: agent %s sent a checkpoint that does not verify: %s", peer, error->message);
      return;
    }
  if (key == NULL || memcmp (key, cp.signer, 32) != 0)
    {
      g_message ("a2a: agent %s sent a checkpoint signed by another key; not kept", peer);
      return;
    }
  text = nfltr_audit_checkpoint_to_text (&cp);
  f = fopen (path, "a");
  if (f == NULL)
    return;
  fprintf (f, "%s\n", text);
  fclose (f);
}

static void
remember_message (Conversation *c, const char *id_hex, const char *direction, const char *kind, const char *text,
                  const char *file, gboolean encrypted)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "id", id_hex);
  json_object_set_string_member (o, "direction", direction);
  json_object_set_string_member (o, "kind", kind);
  json_object_set_string_member (o, "text", text ? text : "");
  json_object_set_string_member (o, "file", file ? file : "");
  json_object_set_int_member (o, "time", g_get_real_time () / G_USEC_PER_SEC);
  json_object_set_boolean_member (o, "delivered", FALSE);
  json_object_set_boolean_member (o, "encrypted", encrypted);
  json_array_add_object_element (c->messages, o);
  while (json_array_get_length (c->messages) > CONVERSATION_MAX)
    json_array_remove_element (c->messages, 0);
}

static void
mark_delivered (Conversation *c, const char *id_hex)
{
  for (guint i = 0; i < json_array_get_length (c->messages); i++)
    {
      JsonObject *o = json_array_get_object_element (c->messages, i);

      if (g_strcmp0 (json_object_get_string_member (o, "id"), id_hex) == 0)
        json_object_set_boolean_member (o, "delivered", TRUE);
    }
}

/* --- sending ----------------------------------------------------------------------------- */

static NfltrRelayLink *
current_link (NfltrA2aService *self, GError **error)
{
  if (self->link == NULL || nfltr_relay_link_get_state (self->link) != NFLTR_RELAY_LINK_CONNECTED)
    {
      if (!nfltr_session_check_logged_in (self->session, error))
        return NULL;
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                           "the relay is not connected; a2a messages go through it");
      return NULL;
    }
  return self->link;
}

/* Seals inner for peer and returns the SEND frame (and the envelope and message id). */
static NfltrFrame *
seal_frame (NfltrA2aService *self, const char *peer, gboolean plaintext, GBytes *inner, guint8 msg_id[16],
            GBytes **envelope_out, GError **error)
{
  const guint8 *key = pinned_key (self, peer);
  NfltrA2aSendSession *s = g_hash_table_lookup (self->send_sessions, peer);
  NfltrA2aRoute route = { .from = self->agent_id, .to = peer };
  g_autoptr(GBytes) envelope = NULL;
  NfltrFrame *frame;
  gsize len;

  if (key == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND, "no key is known for agent %s", peer);
      return NULL;
    }
  if (s == NULL)
    {
      s = g_new0 (NfltrA2aSendSession, 1);
      if (!nfltr_a2a_send_session_init (s, &self->identity, key, NULL, error))
        {
          g_free (s);
          return NULL;
        }
      g_hash_table_insert (self->send_sessions, g_strdup (peer), s);
    }
  randombytes_buf (msg_id, 16);
  memcpy (route.msg_id, msg_id, 16);
  envelope = nfltr_a2a_seal (s, &self->identity, &route, plaintext, g_bytes_get_data (inner, NULL),
                             g_bytes_get_size (inner), error);
  if (envelope == NULL)
    return NULL;
  frame = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_A2A_OP, NFLTR_A2A_OP_SEND);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, peer);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_A2A_MSG_ID, msg_id, 16);
  {
    const guint8 *data = g_bytes_get_data (envelope, &len);

    nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, data, len);
  }
  if (envelope_out != NULL)
    *envelope_out = g_steal_pointer (&envelope);
  return frame;
}

gboolean
nfltr_a2a_service_send_inner (NfltrA2aService *self, const char *peer, guint8 type, const guint8 *payload,
                              gsize payload_len, GError **error)
{
  NfltrRelayLink *link = current_link (self, error);
  Conversation *c;
  g_autoptr(GBytes) inner = NULL;
  g_autoptr(NfltrFrame) frame = NULL;
  guint8 msg_id[16];

  if (link == NULL)
    return FALSE;
  c = conversation_get (self, peer);
  inner = nfltr_a2a_inner_encode (type, ++c->send_seq, NULL, payload, payload_len);
  frame = seal_frame (self, peer, FALSE, inner, msg_id, NULL, error);
  if (frame == NULL)
    return FALSE;
  return nfltr_relay_link_send (link, frame) ||
         (g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE, "the relay link went away"), FALSE);
}

/* --- key directory: resolve a name or id to an agent and its pinned key ------------------ */

static void
lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  NfltrA2aService *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);
  const char *agent;
  const guint8 *key, *pinned;
  gsize len = 0;

  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (nfltr_frame_get_type (reply) == NFLTR_FRAME_ERROR)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND, "%s",
                               nfltr_frame_get_string (reply, NFLTR_ATTR_MESSAGE));
      return;
    }
  agent = nfltr_frame_get_string (reply, NFLTR_ATTR_PEER_ID);
  key = nfltr_frame_get_bytes (reply, NFLTR_ATTR_DATA, &len);
  if (!nfltr_a2a_agent_id_is_valid (agent) || len != 32)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the relay answered a lookup with nonsense");
      return;
    }
  pinned = pinned_key (self, agent);
  if (pinned != NULL && memcmp (pinned, key, 32) != 0)
    {
      g_autofree char *was = nfltr_a2a_fingerprint (pinned);
      g_autofree char *now = nfltr_a2a_fingerprint (key);

      g_task_return_new_error (
        task, NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
        "WARNING: the key of agent %s CHANGED. Pinned: %s. The relay now publishes: %s. "
        "Nothing was sent. If the agent really has a new key (reinstalled), accept it with: "
        "nfltr a2a trust %s %s",
        agent, was, now, agent, now);
      return;
    }
  if (pinned == NULL)
    pin (self, agent, key);
  g_task_return_pointer (task, g_strdup (agent), g_free);
}

void
nfltr_a2a_service_resolve_async (NfltrA2aService *self, const char *name, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  NfltrRelayLink *link = current_link (self, &error);
  g_autoptr(NfltrFrame) frame = NULL;

  if (link == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  frame = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_A2A_OP, NFLTR_A2A_OP_LOOKUP);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, "", 0);
  if (nfltr_a2a_agent_id_is_valid (name))
    nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, name);
  else
    {
      nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->agent_id);
      nfltr_frame_set_string (frame, NFLTR_ATTR_A2A_NAME, name);
    }
  nfltr_relay_link_request_async (link, frame, cancellable, lookup_cb, g_steal_pointer (&task));
}

char *
nfltr_a2a_service_resolve_finish (NfltrA2aService *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
ok_reply_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);

  if (reply == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else if (nfltr_frame_get_type (reply) == NFLTR_FRAME_ERROR)
    g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s",
                             nfltr_frame_get_string (reply, NFLTR_ATTR_MESSAGE));
  else
    g_task_return_boolean (task, TRUE);
}

void
nfltr_a2a_service_register_async (NfltrA2aService *self, const char *name, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  NfltrRelayLink *link = current_link (self, &error);
  g_autoptr(NfltrFrame) frame = NULL;

  if (link == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  frame = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_A2A_OP, NFLTR_A2A_OP_REGISTER);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->agent_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, "", 0);
  nfltr_frame_set_string (frame, NFLTR_ATTR_A2A_NAME, name);
  nfltr_relay_link_request_async (link, frame, cancellable, ok_reply_cb, g_steal_pointer (&task));
}

gboolean
nfltr_a2a_service_register_finish (NfltrA2aService *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- Send --------------------------------------------------------------------------------- */

typedef struct {
  NfltrA2aService       *self;
  GDBusMethodInvocation *invocation;
  char                  *text;
  char                  *file_name;
  GBytes                *file_data;
  gboolean               plaintext;
  guint32                ttl;
  char                  *peer;
  guint8                 msg_id[16];
  GBytes                *envelope;
} SendOp;

static void
send_op_free (SendOp *op)
{
  g_object_unref (op->self);
  g_free (op->text);
  g_free (op->file_name);
  g_clear_pointer (&op->file_data, g_bytes_unref);
  g_free (op->peer);
  g_clear_pointer (&op->envelope, g_bytes_unref);
  g_free (op);
}

static void
send_reply_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SendOp *op = user_data;
  NfltrA2aService *self = op->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);
  g_autofree char *id_hex = hex (op->msg_id, 16);
  guint8 code = 0;
  Conversation *c;

  if (reply == NULL || nfltr_frame_get_type (reply) == NFLTR_FRAME_ERROR)
    {
      if (reply != NULL)
        g_set_error (&error, NFLTR_ERROR, NFLTR_ERROR_LIMIT, "the relay refused the message: %s",
                     nfltr_frame_get_string (reply, NFLTR_ATTR_MESSAGE));
      nfltr_invocation_return_error (op->invocation, error);
      send_op_free (op);
      return;
    }
  nfltr_frame_get_u8 (reply, NFLTR_ATTR_A2A_OP, &code);
  c = conversation_get (self, op->peer);
  log_message (self, c, self->agent_id, op->peer, op->msg_id, op->envelope);
  remember_message (c, id_hex, "sent", op->file_name ? "file" : "text", op->text, op->file_name, !op->plaintext);
  nfltr_dbus_a2a_complete_send (NFLTR_DBUS_A2A (self), op->invocation, id_hex,
                                code == NFLTR_A2A_OP_STORED ? "stored" : "forwarded");
  send_op_free (op);
}

static void
send_resolved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SendOp *op = user_data;
  NfltrA2aService *self = op->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) inner = NULL;
  g_autoptr(NfltrFrame) frame = NULL;
  NfltrRelayLink *link;
  Conversation *c;

  op->peer = nfltr_a2a_service_resolve_finish (self, result, &error);
  if (op->peer == NULL || (link = current_link (self, &error)) == NULL)
    {
      nfltr_invocation_return_error (op->invocation, error);
      send_op_free (op);
      return;
    }
  c = conversation_get (self, op->peer);
  if (op->file_data != NULL)
    inner = nfltr_a2a_inner_encode (NFLTR_A2A_INNER_FILE, ++c->send_seq, op->file_name,
                                    g_bytes_get_data (op->file_data, NULL), g_bytes_get_size (op->file_data));
  else
    inner = nfltr_a2a_inner_encode (NFLTR_A2A_INNER_TEXT, ++c->send_seq, NULL, (const guint8 *) op->text,
                                    strlen (op->text));
  frame = seal_frame (self, op->peer, op->plaintext, inner, op->msg_id, &op->envelope, &error);
  if (frame == NULL)
    {
      nfltr_invocation_return_error (op->invocation, error);
      send_op_free (op);
      return;
    }
  if (op->ttl > 0)
    nfltr_frame_set_u32 (frame, NFLTR_ATTR_A2A_TTL, op->ttl);
  if (op->plaintext)
    g_message ("a2a: message to %s sent WITHOUT payload encryption (--no-payload-encryption): the relay can read it",
               op->peer);
  nfltr_relay_link_request_async (link, frame, NULL, send_reply_cb, op);
}

static gboolean
handle_send (NfltrDbusA2a *iface, GDBusMethodInvocation *invocation, const char *agent, const char *text,
             GVariant *options)
{
  NfltrA2aService *self = NFLTR_A2A_SERVICE (iface);
  SendOp *op;
  g_autoptr(GVariant) data = NULL;
  const char *file_name = NULL;
  gsize size;

  op = g_new0 (SendOp, 1);
  op->self = g_object_ref (self);
  op->invocation = invocation;
  op->text = g_strdup (text);
  g_variant_lookup (options, "no-payload-encryption", "b", &op->plaintext);
  g_variant_lookup (options, "ttl", "u", &op->ttl);
  if (g_variant_lookup (options, "file-name", "&s", &file_name))
    op->file_name = g_path_get_basename (file_name);
  data = g_variant_lookup_value (options, "file-data", G_VARIANT_TYPE_BYTESTRING);
  if (data != NULL)
    op->file_data = g_variant_get_data_as_bytes (data);
  size = op->file_data ? g_bytes_get_size (op->file_data) : strlen (text);
  if (size > NFLTR_A2A_MAX_PAYLOAD)
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_LIMIT,
                                             "the message is %" G_GSIZE_FORMAT
                                             " bytes; an a2a message carries at "
                                             "most %d bytes (256 KiB) — use nfltr p2p send for larger files",
                                             size, NFLTR_A2A_MAX_PAYLOAD);
      send_op_free (op);
      return TRUE;
    }
  if ((op->file_data != NULL) != (op->file_name != NULL) ||
      (op->file_data == NULL && !g_utf8_validate (text, -1, NULL)))
    {
      g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     "a file needs both file-name and file-data");
      send_op_free (op);
      return TRUE;
    }
  nfltr_a2a_service_resolve_async (self, agent, NULL, send_resolved_cb, op);
  return TRUE;
}

/* --- receiving ---------------------------------------------------------------------------- */

static void
ack_relay (NfltrA2aService *self, const guint8 *msg_id)
{
  g_autoptr(NfltrFrame) frame = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);

  nfltr_frame_set_u8 (frame, NFLTR_ATTR_A2A_OP, NFLTR_A2A_OP_ACK);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->agent_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_A2A_MSG_ID, msg_id, 16);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, "", 0);
  if (self->link != NULL)
    nfltr_relay_link_send (self->link, frame);
}

static void
reject (NfltrA2aService *self, const char *from, const char *id_hex, const char *reason)
{
  g_message ("a2a: REJECTED message %s from agent %s: %s", id_hex, from, reason);
  nfltr_dbus_a2a_emit_rejected (NFLTR_DBUS_A2A (self), from, id_hex, reason);
}

static void
send_receipt (NfltrA2aService *self, Conversation *c, const char *from, const guint8 *msg_id)
{
  guint8 payload[16 + NFLTR_AUDIT_CHECKPOINT_BYTES];
  g_autoptr(GError) error = NULL;

  memcpy (payload, msg_id, 16);
  sign_checkpoint (self, c, from, payload + 16);
  if (!nfltr_a2a_service_send_inner (self, from, NFLTR_A2A_INNER_RECEIPT, payload, sizeof payload, &error))
    g_message ("a2a: no receipt to %s: %s", from, error->message);
}

static void
handle_deliver (NfltrA2aService *self, const NfltrFrame *frame)
{
  const char *from = nfltr_frame_get_string (frame, NFLTR_ATTR_A2A_FROM);
  const char *to = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  gsize id_len = 0, len = 0;
  const guint8 *msg_id = nfltr_frame_get_bytes (frame, NFLTR_ATTR_A2A_MSG_ID, &id_len);
  const guint8 *data = nfltr_frame_get_bytes (frame, NFLTR_ATTR_DATA, &len);
  NfltrA2aRoute route = { .from = from, .to = to };
  NfltrA2aEnvelope env;
  NfltrA2aInner inner = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autofree char *id_hex = NULL;
  g_autofree char *window_key = NULL;
  NfltrA2aReplay *window;
  Conversation *c;
  gboolean encrypted;

  if (msg_id == NULL || !nfltr_a2a_agent_id_is_valid (from))
    return;
  id_hex = hex (msg_id, 16);
  memcpy (route.msg_id, msg_id, 16);
  if (!nfltr_a2a_envelope_parse (data, len, &env, &error) ||
      (plain = nfltr_a2a_open (&self->identity, self->agent_id, &route, &env, pinned_key (self, from), &error)) == NULL)
    {
      reject (self, from, id_hex, error->message);
      ack_relay (self, msg_id);
      return;
    }
  encrypted = !(env.flags & NFLTR_A2A_FLAG_PLAINTEXT);
  /* Every envelope, encrypted or not, carries its sender session's counter. */
  {
    g_autofree char *e = hex (env.ephemeral, 32);

    window_key = g_strconcat (from, "/", e, NULL);
    window = g_hash_table_lookup (self->replay, window_key);
    if (window == NULL)
      {
        window = g_new0 (NfltrA2aReplay, 1);
        g_hash_table_insert (self->replay, g_steal_pointer (&window_key), window);
      }
    if (!nfltr_a2a_replay_check (window, env.counter))
      {
        g_autofree char *why =
          g_strdup_printf ("replayed: counter %" G_GUINT64_FORMAT
                           " of this sender's session was already received (or is too old)",
                           env.counter);
        reject (self, from, id_hex, why);
        ack_relay (self, msg_id);
        return;
      }
  }
  if (g_hash_table_contains (self->seen, id_hex))
    {
      reject (self, from, id_hex, "replayed: a message with this id was already delivered");
      ack_relay (self, msg_id);
      return;
    }
  if (!nfltr_a2a_inner_parse (g_bytes_get_data (plain, NULL), g_bytes_get_size (plain), &inner, &error))
    {
      reject (self, from, id_hex, error->message);
      ack_relay (self, msg_id);
      return;
    }
  if (pinned_key (self, from) == NULL)
    pin (self, from, env.sender_key);
  c = conversation_get (self, from);
  switch ((NfltrA2aInnerType) inner.type)
    {
      case NFLTR_A2A_INNER_TEXT:
      case NFLTR_A2A_INNER_FILE:
        {
          g_autofree char *text = inner.type == NFLTR_A2A_INNER_TEXT
                                    ? g_strndup ((const char *) inner.payload, inner.payload_len) : g_strdup ("");
          g_autoptr(GBytes) env_bytes = g_bytes_new (data, len);

          remember_seen (self, id_hex);
          log_message (self, c, from, self->agent_id, msg_id, env_bytes);
          remember_message (c, id_hex, "received", inner.type == NFLTR_A2A_INNER_TEXT ? "text" : "file", text,
                            inner.file_name, encrypted);
          if (!encrypted)
            g_message ("a2a: message %s from %s was sent WITHOUT payload encryption", id_hex, from);
          nfltr_dbus_a2a_emit_message_received (
            NFLTR_DBUS_A2A (self), from, id_hex, inner.type == NFLTR_A2A_INNER_TEXT ? "text" : "file", text,
            inner.file_name ? inner.file_name : "",
            g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, inner.type == NFLTR_A2A_INNER_FILE ? inner.payload : NULL,
                                       inner.type == NFLTR_A2A_INNER_FILE ? inner.payload_len : 0, 1),
            encrypted, inner.seq);
          send_receipt (self, c, from, msg_id);
          break;
        }
      case NFLTR_A2A_INNER_RECEIPT:
        {
          g_autofree char *acked = hex (inner.payload, 16);

          if (inner.payload_len == 16 + NFLTR_AUDIT_CHECKPOINT_BYTES)
            keep_checkpoint (self, from, inner.payload + 16);
          mark_delivered (c, acked);
          nfltr_dbus_a2a_emit_delivered (NFLTR_DBUS_A2A (self), from, acked);
          break;
        }
      case NFLTR_A2A_INNER_HTTP_REQUEST:
      case NFLTR_A2A_INNER_HTTP_RESPONSE:
      case NFLTR_A2A_INNER_HTTP_BODY:
      case NFLTR_A2A_INNER_HTTP_END: nfltr_a2a_http_handle (self->http, from, &inner); break;
      default: break;
    }
  nfltr_a2a_inner_clear (&inner);
  ack_relay (self, msg_id);
}

static gboolean
frame_cb (NfltrRelayLink *link, const NfltrFrame *frame, gpointer user_data)
{
  NfltrA2aService *self = user_data;
  guint8 op = NFLTR_A2A_OP_SEND;

  nfltr_frame_get_u8 (frame, NFLTR_ATTR_A2A_OP, &op);
  if (op == NFLTR_A2A_OP_DELIVER)
    handle_deliver (self, frame);
  /* Replies whose request is gone (OK, KEY, STORED, FORWARDED) are dropped here. */
  return TRUE;
}

/* After every WELCOME: publish our key, then ask for what waited for us (in that order, so
 * a sender that looks us up finds the key). */
static void
publish (NfltrA2aService *self)
{
  g_autoptr(NfltrFrame) frame = NULL;

  if (self->link == NULL || nfltr_relay_link_get_state (self->link) != NFLTR_RELAY_LINK_CONNECTED)
    {
      self->published = FALSE;
      return;
    }
  if (self->published)
    return;
  self->published = TRUE;
  frame = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_A2A_OP, NFLTR_A2A_OP_PUBLISH);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->agent_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, self->identity.ed_pk, 32);
  nfltr_frame_set_flags (frame, NFLTR_FRAME_FLAG_IGNORABLE);
  nfltr_relay_link_send (self->link, frame);
  g_clear_pointer (&frame, nfltr_frame_free);
  frame = nfltr_frame_new (NFLTR_FRAME_A2A_MESSAGE);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_A2A_OP, NFLTR_A2A_OP_FETCH);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->agent_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, "", 0);
  nfltr_frame_set_flags (frame, NFLTR_FRAME_FLAG_IGNORABLE);
  nfltr_relay_link_send (self->link, frame);
}

static void
link_state_changed_cb (NfltrSession *session, gpointer user_data)
{
  publish (NFLTR_A2A_SERVICE (user_data));
}

static void
detach_link (NfltrA2aService *self)
{
  if (self->link == NULL)
    return;
  if (self->handler_id != 0)
    nfltr_relay_link_remove_frame_handler (self->link, self->handler_id);
  self->handler_id = 0;
  self->published = FALSE;
  g_clear_object (&self->link);
}

static void
link_adopted_cb (NfltrSession *session, gpointer user_data)
{
  NfltrA2aService *self = user_data;
  NfltrRelayLink *link = nfltr_session_get_link (session);

  detach_link (self);
  if (link == NULL)
    return;
  self->link = g_object_ref (link);
  self->handler_id = nfltr_relay_link_add_frame_handler (link, NFLTR_FRAME_A2A_MESSAGE, frame_cb, self);
  publish (self);
}

/* --- the rest of the D-Bus face ---------------------------------------------------------- */

typedef struct {
  GDBusMethodInvocation *invocation;
  char                  *agent;
  char                  *fingerprint;
  GBytes                *old;
} TrustOp;

static void
trust_resolved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TrustOp *op = user_data;
  NfltrA2aService *self = NFLTR_A2A_SERVICE (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *agent = nfltr_a2a_service_resolve_finish (self, result, &error);
  const guint8 *key = agent ? pinned_key (self, agent) : NULL;
  g_autofree char *fp = key ? nfltr_a2a_fingerprint (key) : NULL;

  if (agent != NULL && g_strcmp0 (fp, op->fingerprint) != 0)
    g_set_error (&error, NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
                 "the relay publishes %s for agent %s, not %s: nothing changed", fp, op->agent, op->fingerprint);
  if (error != NULL)
    {
      /* The old pin stays. */
      if (op->old != NULL)
        g_hash_table_replace (self->pins, g_strdup (op->agent), g_bytes_ref (op->old));
      else
        g_hash_table_remove (self->pins, op->agent);
      save_pins (self);
      nfltr_invocation_return_error (op->invocation, error);
    }
  else
    {
      g_message ("a2a: the user accepted the new key of agent %s: %s", op->agent, fp);
      nfltr_dbus_a2a_complete_trust (NFLTR_DBUS_A2A (self), op->invocation);
    }
  g_free (op->agent);
  g_free (op->fingerprint);
  g_clear_pointer (&op->old, g_bytes_unref);
  g_free (op);
}

static gboolean
handle_trust (NfltrDbusA2a *iface, GDBusMethodInvocation *invocation, const char *agent, const char *fingerprint)
{
  NfltrA2aService *self = NFLTR_A2A_SERVICE (iface);
  TrustOp *op;
  GBytes *old;

  if (!nfltr_a2a_agent_id_is_valid (agent))
    {
      g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     "an agent id is 32 lowercase hex digits");
      return TRUE;
    }
  /* The new key comes from the relay's directory; the fingerprint says which one the user
   * accepted, so a key swapped again in between is refused. */
  op = g_new0 (TrustOp, 1);
  op->invocation = invocation;
  op->agent = g_strdup (agent);
  op->fingerprint = g_strdup (fingerprint);
  old = g_hash_table_lookup (self->pins, agent);
  op->old = old ? g_bytes_ref (old) : NULL;
  g_hash_table_remove (self->pins, agent);
  g_hash_table_remove (self->send_sessions, agent);
  nfltr_a2a_service_resolve_async (self, agent, NULL, trust_resolved_cb, op);
  return TRUE;
}

static gboolean
handle_conversations (NfltrDbusA2a *iface, GDBusMethodInvocation *invocation)
{
  NfltrA2aService *self = NFLTR_A2A_SERVICE (iface);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  GHashTableIter iter;
  Conversation *c;

  json_builder_begin_array (b);
  g_hash_table_iter_init (&iter, self->conversations);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &c))
    {
      const guint8 *key = pinned_key (self, c->peer);
      g_autofree char *fp = key ? nfltr_a2a_fingerprint (key) : g_strdup ("");

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "peer");
      json_builder_add_string_value (b, c->peer);
      json_builder_set_member_name (b, "fingerprint");
      json_builder_add_string_value (b, fp);
      json_builder_set_member_name (b, "messages");
      json_builder_add_value (b, json_node_init_array (json_node_alloc (), c->messages));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  nfltr_dbus_a2a_complete_conversations (iface, invocation, text);
  return TRUE;
}

typedef struct {
  GDBusMethodInvocation *invocation;
  char                  *name;
  char                  *target;
  char                  *listen;
} HttpOp;

static void
http_op_free (HttpOp *op)
{
  g_free (op->name);
  g_free (op->target);
  g_free (op->listen);
  g_free (op);
}

static void
serve_registered_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  HttpOp *op = user_data;
  NfltrA2aService *self = NFLTR_A2A_SERVICE (source);
  g_autoptr(GError) error = NULL;

  if (!nfltr_a2a_service_register_finish (self, result, &error) ||
      !nfltr_a2a_http_serve (self->http, op->name, op->target, g_dbus_method_invocation_get_connection (op->invocation),
                             g_dbus_method_invocation_get_sender (op->invocation), &error))
    nfltr_invocation_return_error (op->invocation, error);
  else
    nfltr_dbus_a2a_complete_serve (NFLTR_DBUS_A2A (self), op->invocation);
  http_op_free (op);
}

static gboolean
handle_serve (NfltrDbusA2a *iface, GDBusMethodInvocation *invocation, const char *name, const char *target,
              GVariant *options)
{
  HttpOp *op = g_new0 (HttpOp, 1);

  if (!nfltr_proto_name_is_valid (name) || !(g_str_has_prefix (target, "http://")))
    {
      g_dbus_method_invocation_return_error_literal (
        invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
        "a2a serve NAME --target http://HOST:PORT: NAME is one DNS label, the target an http:// URL");
      g_free (op);
      return TRUE;
    }
  op->invocation = invocation;
  op->name = g_strdup (name);
  op->target = g_strdup (target);
  nfltr_a2a_service_register_async (NFLTR_A2A_SERVICE (iface), name, NULL, serve_registered_cb, op);
  return TRUE;
}

static void
connect_resolved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  HttpOp *op = user_data;
  NfltrA2aService *self = NFLTR_A2A_SERVICE (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = nfltr_a2a_service_resolve_finish (self, result, &error);
  g_autofree char *address = NULL;

  if (peer != NULL)
    address = nfltr_a2a_http_connect (self->http, peer, op->name, op->listen,
                                      g_dbus_method_invocation_get_connection (op->invocation),
                                      g_dbus_method_invocation_get_sender (op->invocation), &error);
  if (address == NULL)
    nfltr_invocation_return_error (op->invocation, error);
  else
    nfltr_dbus_a2a_complete_connect (NFLTR_DBUS_A2A (self), op->invocation, address);
  http_op_free (op);
}

static gboolean
handle_connect (NfltrDbusA2a *iface, GDBusMethodInvocation *invocation, const char *name, const char *listen,
                GVariant *options)
{
  HttpOp *op = g_new0 (HttpOp, 1);

  op->invocation = invocation;
  op->name = g_strdup (name);
  op->listen = g_strdup (listen);
  nfltr_a2a_service_resolve_async (NFLTR_A2A_SERVICE (iface), name, NULL, connect_resolved_cb, op);
  return TRUE;
}

static void
a2a_iface_init (NfltrDbusA2aIface *iface)
{
  iface->handle_send = handle_send;
  iface->handle_trust = handle_trust;
  iface->handle_conversations = handle_conversations;
  iface->handle_serve = handle_serve;
  iface->handle_connect = handle_connect;
}

NfltrA2aService *
nfltr_a2a_service_new (NfltrSession *session, const char *data_dir, GDBusObjectManagerServer *object_manager)
{
  g_autoptr(NfltrA2aService) self = g_object_new (NFLTR_TYPE_A2A_SERVICE, NULL);
  g_autoptr(NfltrDbusObjectSkeleton) object = nfltr_dbus_object_skeleton_new (A2A_OBJECT_PATH);
  g_autoptr(GError) error = NULL;
  g_autofree char *id_path = g_build_filename (data_dir, "agent-id", NULL);
  g_autofree char *id = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *key_text = NULL;

  self->data_dir = g_strdup (data_dir);
  self->config_dir = xdg_config_dir ();
  if (!g_file_get_contents (id_path, &id, NULL, NULL) || !load_identity (self, &error))
    {
      g_warning ("a2a is off: %s", error ? error->message : "no agent id");
      return NULL;
    }
  self->agent_id = g_ascii_strdown (g_strstrip (id), -1);
  self->session = g_object_ref (session);
  load_pins (self);
  load_seen (self);
  self->http = nfltr_a2a_http_new (self);
  fp = nfltr_a2a_fingerprint (self->identity.ed_pk);
  key_text = nfltr_a2a_key_to_text (self->identity.ed_pk);
  nfltr_dbus_a2a_set_agent_id (NFLTR_DBUS_A2A (self), self->agent_id);
  nfltr_dbus_a2a_set_fingerprint (NFLTR_DBUS_A2A (self), fp);
  nfltr_dbus_a2a_set_public_key (NFLTR_DBUS_A2A (self), key_text);
  g_signal_connect (session, "link-adopted", G_CALLBACK (link_adopted_cb), self);
  g_signal_connect (session, "link-state-changed", G_CALLBACK (link_state_changed_cb), self);
  nfltr_dbus_object_skeleton_set_a2a (object, NFLTR_DBUS_A2A (self));
  if (object_manager != NULL)
    g_dbus_object_manager_server_export (object_manager, G_DBUS_OBJECT_SKELETON (object));
  link_adopted_cb (session, self);
  return g_steal_pointer (&self);
}

void
nfltr_a2a_service_shutdown (NfltrA2aService *self)
{
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_pointer (&self->http, nfltr_a2a_http_free);
  detach_link (self);
}

static void
nfltr_a2a_service_finalize (GObject *object)
{
  NfltrA2aService *self = NFLTR_A2A_SERVICE (object);

  nfltr_a2a_service_shutdown (self);
  g_clear_pointer (&self->pins, g_hash_table_unref);
  g_hash_table_unref (self->send_sessions);
  g_hash_table_unref (self->replay);
  g_hash_table_unref (self->seen);
  g_queue_clear (&self->seen_order);
  g_hash_table_unref (self->conversations);
  g_clear_object (&self->session);
  g_free (self->data_dir);
  g_free (self->config_dir);
  g_free (self->agent_id);
  sodium_memzero (&self->identity, sizeof self->identity);
  G_OBJECT_CLASS (nfltr_a2a_service_parent_class)->finalize (object);
}

static void
nfltr_a2a_service_class_init (NfltrA2aServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nfltr_a2a_service_finalize;
}

static void
send_session_free (gpointer p)
{
  sodium_memzero (p, sizeof (NfltrA2aSendSession));
  g_free (p);
}

static void
nfltr_a2a_service_init (NfltrA2aService *self)
{
  self->send_sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, send_session_free);
  self->replay = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->seen_order);
  self->conversations = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) conversation_free);
}
