/* nfltr-p2p-transfer.c — one P2P send, receive or chat (docs/protocol.md §9.7–§9.8).
 *
 * A run: the sender's OFFER waits at the relay; a receiver's CLAIM joins it; PAKE_A, PAKE_B,
 * ICE_DONE both ways and CONFIRM both ways go through P2P_SIGNAL (the handshake of
 * session/); then the session's records go through P2P_RELAY, one record per frame. On the
 * session: the sender's control stream carries the manifest (name, size, SHA-256 of every
 * file), the receiver's answers with the offsets it already holds (resume) and the SHA-256
 * of each such prefix, which the sender checks against its own file before it sends the rest
 * (the sender re-hashes the prefix). Each file is one file stream: a header message, then the
 * bytes from the offset. The receiver writes NAME.part with a small state file beside it
 * (NAME.part.nfltr: the manifest entry), checks the SHA-256 at the end and renames to a name
 * that overwrites nothing. A broken run (relay gone, peer gone) leaves the transfer
 * "interrupted": the receiver claims again every few seconds and the run resumes where the
 * .part files end. A record that fails authentication ends the transfer for good: both
 * sides then swap their audit chains over P2P_SIGNAL and compare them (§9.6). */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer.h"
#include "nfltr-p2p-session.h"
#include "nfltr-p2p-code.h"
#include "nfltr-p2p-error.h"
#include "nfltr-p2p-chat.h"
#include "nfltr-p2p-direct.h"
#include "nfltr-p2p-call.h" /* issue 14: calls */
#include "nfltr-error.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK        (64 * 1024)
#define FEED_AHEAD        (4 * NFLTR_P2P_MUX_CHUNK)
#define RETRY_INTERVAL_S  2
#define PROGRESS_MS       250
#define AUDIT_DUMP_MAGIC  0xA0 /* a FORWARD body that is not a pairing message (§9.8) */
#define STATE_SUFFIX      ".nfltr"
#define AUDIT_GRACE_MS    300
/* After the pairing, how long the sender waits for ICE before it takes the relayed path. */
#define ICE_WAIT_MS       4000
#define DIRECT_BATCH      (256 * 1024)
#define FILE_WINDOW       (4 * 1024 * 1024)
#define FIRST_CLAIM_PATIENCE_US (10 * G_USEC_PER_SEC)

typedef enum {
  ST_PREPARING,
  ST_WAITING,
  ST_PAIRING,
  ST_OFFERED,
  ST_TRANSFERRING,
  ST_CONNECTED,
  ST_INTERRUPTED,
  ST_DONE,
  ST_FAILED,
  ST_DECLINED,
  ST_CANCELLED,
} TransferState;

static const char *
state_name (TransferState s)
{
  switch (s)
    {
      case ST_PREPARING: return "preparing";
      case ST_WAITING: return "waiting";
      case ST_PAIRING: return "pairing";
      case ST_OFFERED: return "offered";
      case ST_TRANSFERRING: return "transferring";
      case ST_CONNECTED: return "connected";
      case ST_INTERRUPTED: return "interrupted";
      case ST_DONE: return "done";
      case ST_FAILED: return "failed";
      case ST_DECLINED: return "declined";
      case ST_CANCELLED: return "cancelled";
      default: return "unknown";
    }
}

typedef enum {
  PATH_NONE,     /* not chosen yet: nothing is sent */
  PATH_DIRECT,   /* ICE (§9.9) */
  PATH_RELAYED,  /* P2P_RELAY through the relay (§9.7) */
} TransferPath;

typedef struct {
  char *name;   /* relative, '/'-separated */
  char *source; /* sender: absolute path */
  guint64 size;
  char *sha256; /* hex */
  /* receiver */
  guint64 offset;         /* what this side already holds (resume) */
  char *prefix;           /* hex SHA-256 of those bytes */
  struct sha256_ctx hash; /* running hash of the .part */
  GOutputStream *out;
  guint64 received; /* bytes of the .part, offset included */
  gboolean done;
  char *saved_as;
} FileEntry;

typedef struct {
  NfltrP2pStreamKind kind;
  NfltrP2pFramer *framer;
  gint file; /* FILE: the entry, -1 until the header came */
} StreamIn;

struct _NfltrP2pTransfer {
  NfltrDbusTransferSkeleton parent_instance;

  NfltrP2pService *service;
  char *id;
  gboolean sender;
  gboolean chat_only;
  char *code;
  char *offer_id;
  char *directory;
  char **paths;  /* sender: as given, for the state file that survives a restart */
  gboolean yes;
  TransferState state;
  GPtrArray *files; /* FileEntry */
  guint64 bytes_done;
  guint64 bytes_total;
  GCancellable *cancellable;

  /* the run */
  gboolean claiming; /* a CLAIM waits for its answer */
  GPtrArray *early_signal; /* pairing messages that came before the CLAIM's answer (GBytes) */
  gboolean claimed; /* the relay holds our OFFER (sender) or CLAIM (receiver) */
  NfltrP2pHandshake *hs;
  NfltrP2pSession *session;
  NfltrP2pKeys keys;
  GHashTable *streams; /* stream id → StreamIn */
  guint32 control;     /* our control stream */
  guint32 chat;        /* our chat stream, 0 until the first message */
  guint32 next_chat_id;
  guint32 call;        /* issue 14: our CALL stream, 0 until the first call message */
  gboolean accepted; /* the receiver said yes in this run */
  gboolean manifest_seen;
  GByteArray *wire;

  /* the sender's file feed */
  guint current; /* the entry being sent */
  guint32 file_stream;
  GInputStream *in;
  guint64 to_send;

  guint retry_id;
  guint progress_id;
  guint dump_id;
  /* the path of the run */
  TransferPath path;
  NfltrP2pDirect *direct;
  GByteArray *direct_out;  /* records waiting for pseudo-TCP's window */
  gsize direct_off;
  GByteArray *early;       /* direct bytes that came before our session existed */
  guint ice_wait_id;
  gint64 started;
  gint64 last_t;
  guint64 last_bytes;
  double speed;

  /* audit (§9.6): the last run's chains as each side saw them */
  NfltrP2pAuditChain *peer_chains[2];
  NfltrP2pAuditChain *my_chains[2];
  gboolean dump_sent;
  GPtrArray *findings;
};

static void transfer_iface_init (NfltrDbusTransferIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrP2pTransfer, nfltr_p2p_transfer, NFLTR_DBUS_TYPE_TRANSFER_SKELETON,
                               G_IMPLEMENT_INTERFACE (NFLTR_DBUS_TYPE_TRANSFER, transfer_iface_init))

static void pump (NfltrP2pTransfer *self);
static void end_run (NfltrP2pTransfer *self, NfltrP2pEnd how);
static void claim (NfltrP2pTransfer *self);
static void offer (NfltrP2pTransfer *self);

static void
file_entry_free (FileEntry *f)
{
  g_free (f->name);
  g_free (f->source);
  g_free (f->sha256);
  g_free (f->prefix);
  g_clear_object (&f->out);
  g_free (f->saved_as);
  g_free (f);
}

static void
stream_in_free (StreamIn *s)
{
  nfltr_p2p_framer_free (s->framer);
  g_free (s);
}

static char *
hex (const guint8 *data, gsize len)
{
  GString *s = g_string_sized_new (len * 2);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", data[i]);
  return g_string_free (s, FALSE);
}

/* §9.7: the relay sees this, never the words. */
static char *
offer_id_for (guint number)
{
  g_autofree char *text = g_strdup_printf ("nfltr-p2p-v1 offer %u", number);
  guint8 digest[SHA256_DIGEST_SIZE];
  struct sha256_ctx ctx;

  sha256_init (&ctx);
  sha256_update (&ctx, strlen (text), (const guint8 *) text);
  sha256_digest (&ctx, sizeof digest, digest);
  return hex (digest, 16);
}

/* --- state, progress ------------------------------------------------------------------ */

static gboolean
state_is_final (TransferState s)
{
  return s == ST_DONE || s == ST_FAILED || s == ST_DECLINED || s == ST_CANCELLED;
}

static const char *
path_name (NfltrP2pTransfer *self)
{
  switch (self->path)
    {
      case PATH_DIRECT: return "direct";
      case PATH_RELAYED: return "relayed";
      case PATH_NONE:
      default: return "";
    }
}

static void
emit_progress (NfltrP2pTransfer *self)
{
  NfltrDbusTransfer *t = NFLTR_DBUS_TRANSFER (self);
  gint64 now = g_get_monotonic_time ();
  double dt = (double) (now - self->last_t) / G_USEC_PER_SEC;
  double eta = -1;

  if (dt > 0 && self->last_t != 0)
    {
      double inst = (double) (self->bytes_done - self->last_bytes) / dt;

      self->speed = self->speed == 0 ? inst : 0.7 * self->speed + 0.3 * inst;
    }
  self->last_t = now;
  self->last_bytes = self->bytes_done;
  if (self->speed > 0)
    eta = (double) (self->bytes_total - MIN (self->bytes_done, self->bytes_total)) / self->speed;
  nfltr_dbus_transfer_set_bytes_done (t, self->bytes_done);
  nfltr_dbus_transfer_emit_progress (t, self->bytes_done, self->bytes_total, self->speed, eta, path_name (self));
}

static gboolean
progress_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  if (self->bytes_done != self->last_bytes)
    emit_progress (self);
  return G_SOURCE_CONTINUE;
}

static void
set_state (NfltrP2pTransfer *self, TransferState state)
{
  if (self->state == state)
    return;
  g_debug ("transfer %s: %s → %s", self->id, state_name (self->state), state_name (state));
  self->state = state;
  if (state == ST_TRANSFERRING && self->progress_id == 0)
    self->progress_id = g_timeout_add (PROGRESS_MS, progress_cb, self);
  if (state != ST_TRANSFERRING)
    g_clear_handle_id (&self->progress_id, g_source_remove);
  nfltr_dbus_transfer_set_path (NFLTR_DBUS_TRANSFER (self), path_name (self));
  nfltr_dbus_transfer_set_state (NFLTR_DBUS_TRANSFER (self), state_name (state));
  if (state_is_final (state))
    g_clear_handle_id (&self->retry_id, g_source_remove);
}

static void
set_error (NfltrP2pTransfer *self, const char *message)
{
  g_message ("transfer %s: %s", self->id, message);
  nfltr_dbus_transfer_set_last_error (NFLTR_DBUS_TRANSFER (self), message);
}

static void
update_files_property (NfltrP2pTransfer *self)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sts)"));
  self->bytes_total = 0;
  for (guint i = 0; i < self->files->len; i++)
    {
      FileEntry *f = self->files->pdata[i];

      g_variant_builder_add (&b, "(sts)", f->name, f->size, f->sha256 ? f->sha256 : "");
      self->bytes_total += f->size;
    }
  nfltr_dbus_transfer_set_files (NFLTR_DBUS_TRANSFER (self), g_variant_builder_end (&b));
  nfltr_dbus_transfer_set_bytes_total (NFLTR_DBUS_TRANSFER (self), self->bytes_total);
}

/* --- signalling ---------------------------------------------------------------------- */

static void
send_signal (NfltrP2pTransfer *self, NfltrP2pOp op, const guint8 *data, gsize len)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  g_autoptr(NfltrFrame) frame = nfltr_frame_new (NFLTR_FRAME_P2P_SIGNAL);
  guint8 empty = 0;

  if (link == NULL)
    return;
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->offer_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, data != NULL ? data : &empty, data != NULL ? len : 1);
  if (op != NFLTR_P2P_OP_FORWARD)
    nfltr_frame_set_u8 (frame, NFLTR_ATTR_P2P_OP, op);
  nfltr_relay_link_send (link, frame);
}

static void
send_message (NfltrP2pTransfer *self, GBytes *message)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  send_signal (self, NFLTR_P2P_OP_FORWARD, data, len);
}

/* --- the audit (§9.6) ----------------------------------------------------------------- */

static NfltrP2pDirection
my_direction (NfltrP2pTransfer *self)
{
  return self->sender ? NFLTR_P2P_DIR_A_TO_B : NFLTR_P2P_DIR_B_TO_A;
}

/* The key that authenticates an audit dump: both sides hold it, the relay does not. */
static void
audit_key (NfltrP2pTransfer *self, guint8 key[32])
{
  struct sha256_ctx ctx;

  sha256_init (&ctx);
  sha256_update (&ctx, 19, (const guint8 *) "nfltr-p2p-v1 audit");
  sha256_update (&ctx, sizeof self->keys.a_to_b_mac, self->keys.a_to_b_mac);
  sha256_update (&ctx, sizeof self->keys.b_to_a_mac, self->keys.b_to_a_mac);
  sha256_digest (&ctx, 32, key);
}

/* dump = magic | for each direction: count (u32 BE) | links (seq u64, length u32, content 32,
 * link 32) | HMAC-SHA-256 (audit key, everything before) */
static void
send_audit_dump (NfltrP2pTransfer *self)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint8 magic = AUDIT_DUMP_MAGIC, key[32], tag[32];
  struct hmac_sha256_ctx mac;

  if (self->dump_sent || self->session == NULL)
    return;
  self->dump_sent = TRUE;
  g_byte_array_append (out, &magic, 1);
  for (int d = 0; d < 2; d++)
    {
      NfltrP2pAuditChain *chain = nfltr_p2p_session_get_chain (self->session, d);
      guint32 count = (guint32) MIN (nfltr_p2p_audit_chain_get_count (chain), 4096);
      guint32 count_be = GUINT32_TO_BE (count);

      g_byte_array_append (out, (const guint8 *) &count_be, 4);
      for (guint32 i = 0; i < count; i++)
        {
          const NfltrP2pAuditLink *l = nfltr_p2p_audit_chain_get_link (chain, i);
          guint64 seq_be = GUINT64_TO_BE (l->seq);
          guint32 len_be = GUINT32_TO_BE (l->length);

          g_byte_array_append (out, (const guint8 *) &seq_be, 8);
          g_byte_array_append (out, (const guint8 *) &len_be, 4);
          g_byte_array_append (out, l->content, 32);
          g_byte_array_append (out, l->link, 32);
        }
    }
  audit_key (self, key);
  hmac_sha256_set_key (&mac, sizeof key, key);
  hmac_sha256_update (&mac, out->len, out->data);
  hmac_sha256_digest (&mac, sizeof tag, tag);
  g_byte_array_append (out, tag, sizeof tag);
  send_signal (self, NFLTR_P2P_OP_FORWARD, out->data, out->len);
}

static void
keep_my_chains (NfltrP2pTransfer *self)
{
  /* The session goes when the run ends; its chains stay for Audit(). Rebuilt link by link,
   * which also checks them. */
  for (int d = 0; d < 2 && self->session != NULL; d++)
    {
      NfltrP2pAuditChain *chain = nfltr_p2p_session_get_chain (self->session, d);

      g_clear_pointer (&self->my_chains[d], nfltr_p2p_audit_chain_free);
      self->my_chains[d] = nfltr_p2p_audit_chain_new (d, self->keys.transcript);
      for (guint64 i = 0; i < nfltr_p2p_audit_chain_get_count (chain); i++)
        nfltr_p2p_audit_chain_add_link (self->my_chains[d], nfltr_p2p_audit_chain_get_link (chain, i));
    }
}

static void
compare_chains (NfltrP2pTransfer *self)
{
  g_ptr_array_set_size (self->findings, 0);
  for (int d = 0; d < 2; d++)
    {
      NfltrP2pAuditChain *sent, *received;
      NfltrP2pAuditDiff diff;

      if (self->my_chains[d] == NULL || self->peer_chains[d] == NULL)
        continue;
      /* The side that sent direction d holds the sent chain. */
      sent = (NfltrP2pDirection) d == my_direction (self) ? self->my_chains[d] : self->peer_chains[d];
      received = (NfltrP2pDirection) d == my_direction (self) ? self->peer_chains[d] : self->my_chains[d];
      nfltr_p2p_audit_compare (sent, received, &diff);
      if (diff.kind != NFLTR_P2P_AUDIT_SAME)
        g_ptr_array_add (self->findings, nfltr_p2p_audit_diff_describe (&diff, d));
    }
}

static gboolean
take_audit_dump (NfltrP2pTransfer *self, const guint8 *data, gsize len)
{
  guint8 key[32], tag[32];
  struct hmac_sha256_ctx mac;
  gsize off = 1;

  if (len < 1 + 8 + 32)
    return FALSE;
  audit_key (self, key);
  hmac_sha256_set_key (&mac, sizeof key, key);
  hmac_sha256_update (&mac, len - 32, data);
  hmac_sha256_digest (&mac, sizeof tag, tag);
  if (sodium_memcmp (tag, data + len - 32, 32) != 0)
    {
      g_ptr_array_add (self->findings, g_strdup ("the peer's audit chain failed authentication: it was changed on the way"));
      return FALSE;
    }
  len -= 32;
  for (int d = 0; d < 2; d++)
    {
      guint32 count_be, count;

      if (len - off < 4)
        return FALSE;
      memcpy (&count_be, data + off, 4);
      count = GUINT32_FROM_BE (count_be);
      off += 4;
      if ((len - off) / 76 < count)
        return FALSE;
      g_clear_pointer (&self->peer_chains[d], nfltr_p2p_audit_chain_free);
      self->peer_chains[d] = nfltr_p2p_audit_chain_new (d, self->keys.transcript);
      for (guint32 i = 0; i < count; i++, off += 76)
        {
          NfltrP2pAuditLink l;
          guint64 seq_be;
          guint32 len_be;

          memcpy (&seq_be, data + off, 8);
          memcpy (&len_be, data + off + 8, 4);
          l.seq = GUINT64_FROM_BE (seq_be);
          l.length = GUINT32_FROM_BE (len_be);
          memcpy (l.content, data + off + 12, 32);
          memcpy (l.link, data + off + 44, 32);
          if (!nfltr_p2p_audit_chain_add_link (self->peer_chains[d], &l))
            return FALSE;
        }
    }
  keep_my_chains (self);
  compare_chains (self);
  return TRUE;
}

/* --- the end of a run --------------------------------------------------------------- */

static void
close_files (NfltrP2pTransfer *self)
{
  for (guint i = 0; i < self->files->len; i++)
    {
      FileEntry *f = self->files->pdata[i];

      if (f->out != NULL)
        g_output_stream_close (f->out, NULL, NULL);
      g_clear_object (&f->out);
    }
  if (self->in != NULL)
    g_input_stream_close (self->in, NULL, NULL);
  g_clear_object (&self->in);
  self->file_stream = 0;
  self->to_send = 0;
}

/* Drops the run's session and handshake; the transfer itself goes on. */
static void
teardown_run (NfltrP2pTransfer *self)
{
  if (self->session != NULL)
    keep_my_chains (self);
  close_files (self);
  g_clear_pointer (&self->session, nfltr_p2p_session_free);
  g_clear_pointer (&self->hs, nfltr_p2p_handshake_free);
  g_clear_pointer (&self->direct, nfltr_p2p_direct_free);
  g_clear_handle_id (&self->ice_wait_id, g_source_remove);
  g_byte_array_set_size (self->direct_out, 0);
  g_byte_array_set_size (self->early, 0);
  self->direct_off = 0;
  self->path = PATH_NONE;
  g_hash_table_remove_all (self->streams);
  self->control = self->chat = 0;
  self->call = 0; /* issue 14: calls */
  self->accepted = FALSE;
  self->manifest_seen = FALSE;
  self->dump_sent = FALSE;
}

static gboolean
retry_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  self->retry_id = 0;
  if (self->state == ST_INTERRUPTED)
    claim (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (NfltrP2pTransfer *self)
{
  if (self->sender || self->retry_id != 0 || state_is_final (self->state))
    return;
  self->retry_id = g_timeout_add_seconds (RETRY_INTERVAL_S, retry_cb, self);
}

/* The run broke without anybody being at fault: try again (receiver) or wait (sender). */
static void
interrupted (NfltrP2pTransfer *self, const char *why)
{
  gboolean was_running = self->session != NULL;

  if (state_is_final (self->state))
    return;
  teardown_run (self);
  self->claimed = self->sender ? self->claimed : FALSE;
  if (why != NULL)
    set_error (self, why);
  if (!was_running && !self->sender && self->state != ST_INTERRUPTED)
    {
      set_state (self, ST_FAILED);
      return;
    }
  set_state (self, self->sender && !was_running ? ST_WAITING : ST_INTERRUPTED);
  schedule_retry (self);
}

static void
fail (NfltrP2pTransfer *self, const char *message)
{
  if (state_is_final (self->state))
    return;
  set_error (self, message);
  set_state (self, ST_FAILED);
}

/* A record or message that must not happen: the session is over for good. */
static gboolean
dump_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  self->dump_id = 0;
  send_audit_dump (self);
  return G_SOURCE_REMOVE;
}

static void
session_broken (NfltrP2pTransfer *self, const GError *error)
{
  g_autofree char *msg = g_strdup (error->message);

  keep_my_chains (self);
  fail (self, msg);
  /* The records already on the way still go into the chain (so a dropped frame can be told
   * from a reordered one) before the chains go to the peer, which answers with its own. */
  if (self->dump_id == 0 && !self->dump_sent)
    self->dump_id = g_timeout_add (AUDIT_GRACE_MS, dump_cb, self);
}

/* --- the session ---------------------------------------------------------------------- */

static void
send_control (NfltrP2pTransfer *self, JsonObject *object)
{
  g_autoptr(JsonObject) owned = object;
  g_autoptr(GBytes) bytes = nfltr_p2p_message_pack (object);
  NfltrP2pMux *mux;

  if (self->session == NULL)
    return;
  mux = nfltr_p2p_session_get_mux (self->session);
  if (self->control == 0)
    self->control = nfltr_p2p_mux_open (mux, NFLTR_P2P_STREAM_CONTROL, NULL);
  nfltr_p2p_mux_write (mux, self->control, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
}

static void
send_manifest (NfltrP2pTransfer *self)
{
  JsonObject *m = json_object_new ();
  JsonArray *files = json_array_new ();

  json_object_set_string_member (m, "t", "manifest");
  json_object_set_string_member (m, "transfer", self->id);
  for (guint i = 0; i < self->files->len; i++)
    {
      FileEntry *f = self->files->pdata[i];
      JsonObject *o = json_object_new ();

      json_object_set_string_member (o, "name", f->name);
      json_object_set_int_member (o, "size", (gint64) f->size);
      json_object_set_string_member (o, "sha256", f->sha256);
      json_array_add_object_element (files, o);
    }
  json_object_set_array_member (m, "files", files);
  send_control (self, m);
}

static void
all_done (NfltrP2pTransfer *self)
{
  emit_progress (self);
  nfltr_p2p_session_commit (self->session);
  pump (self);
  set_state (self, ST_DONE);
  if (self->sender)
    send_signal (self, NFLTR_P2P_OP_WITHDRAW, NULL, 0);
}

static gboolean
every_file_done (NfltrP2pTransfer *self)
{
  for (guint i = 0; i < self->files->len; i++)
    if (!((FileEntry *) self->files->pdata[i])->done)
      return FALSE;
  return TRUE;
}

/* The sender: the next file, from the offset the receiver holds. */
static void
start_next_file (NfltrP2pTransfer *self)
{
  NfltrP2pMux *mux = nfltr_p2p_session_get_mux (self->session);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GBytes) header = NULL;
  JsonObject *h;
  FileEntry *f;

  while (self->current < self->files->len && ((FileEntry *) self->files->pdata[self->current])->done)
    self->current++;
  if (self->current >= self->files->len)
    return;
  f = self->files->pdata[self->current];
  file = g_file_new_for_path (f->source);
  self->in = G_INPUT_STREAM (g_file_read (file, NULL, &error));
  if (self->in == NULL
      || (f->offset > 0 && !g_seekable_seek (G_SEEKABLE (self->in), (goffset) f->offset, G_SEEK_SET, NULL, &error)))
    {
      g_autofree char *msg = g_strdup_printf ("cannot read %s: %s", f->source, error->message);

      fail (self, msg);
      return;
    }
  self->file_stream = nfltr_p2p_mux_open (mux, NFLTR_P2P_STREAM_FILE, &error);
  h = json_object_new ();
  json_object_set_int_member (h, "index", self->current);
  json_object_set_int_member (h, "offset", (gint64) f->offset);
  header = nfltr_p2p_message_pack (h);
  json_object_unref (h);
  nfltr_p2p_mux_write (mux, self->file_stream, g_bytes_get_data (header, NULL), g_bytes_get_size (header), NULL);
  self->to_send = f->size - f->offset;
  self->bytes_done += f->offset;
}

static void
feed (NfltrP2pTransfer *self)
{
  NfltrP2pMux *mux = nfltr_p2p_session_get_mux (self->session);
  guint8 buf[READ_CHUNK];

  while (self->accepted && self->sender && self->state == ST_TRANSFERRING)
    {
      if (self->file_stream == 0)
        {
          if (self->current >= self->files->len)
            return;
          start_next_file (self);
          if (self->file_stream == 0)
            return;
        }
      while (self->to_send > 0 && nfltr_p2p_mux_get_queued (mux, self->file_stream) < FEED_AHEAD)
        {
          g_autoptr(GError) error = NULL;
          gssize n = g_input_stream_read (self->in, buf, MIN (sizeof buf, self->to_send), NULL, &error);

          if (n <= 0)
            {
              fail (self, n == 0 ? "a file being sent got shorter" : error->message);
              return;
            }
          nfltr_p2p_mux_write (mux, self->file_stream, buf, n, NULL);
          self->to_send -= n;
          self->bytes_done += n;
        }
      if (self->to_send > 0)
        return;
      nfltr_p2p_mux_finish (mux, self->file_stream, NULL);
      g_input_stream_close (self->in, NULL, NULL);
      g_clear_object (&self->in);
      self->file_stream = 0;
      self->current++;
    }
}

/* The direct path: records go through pseudo-TCP, as much as its window takes. */
static void
pump_direct (NfltrP2pTransfer *self)
{
  while (self->session != NULL && self->direct != NULL)
    {
      gssize sent;

      if (self->direct_off == self->direct_out->len)
        {
          g_autoptr(GError) error = NULL;

          g_byte_array_set_size (self->direct_out, 0);
          self->direct_off = 0;
          feed (self);
          if (self->session == NULL)
            return;
          if (!nfltr_p2p_session_pull (self->session, self->direct_out, DIRECT_BATCH, &error))
            {
              session_broken (self, error);
              return;
            }
          if (self->direct_out->len == 0)
            return;
        }
      sent = nfltr_p2p_direct_send (self->direct, self->direct_out->data + self->direct_off,
                                    self->direct_out->len - self->direct_off);
      if (sent <= 0)
        return; /* the window is full: reliable-transport-writable calls again */
      self->direct_off += sent;
    }
}

static void
pump (NfltrP2pTransfer *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);

  if (self->session == NULL || self->path == PATH_NONE)
    return;
  if (self->path == PATH_DIRECT)
    {
      pump_direct (self);
      return;
    }
  feed (self);
  while (self->session != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NfltrFrame) frame = NULL;

      g_byte_array_set_size (self->wire, 0);
      if (!nfltr_p2p_session_pull (self->session, self->wire, 1, &error))
        {
          session_broken (self, error);
          return;
        }
      if (self->wire->len == 0)
        return;
      if (link == NULL)
        continue;
      /* One record per frame: the relay forwards them as they are (§9.7). */
      frame = nfltr_frame_new (NFLTR_FRAME_P2P_RELAY);
      nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->offer_id);
      nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, self->wire->data, self->wire->len);
      nfltr_relay_link_send (link, frame);
    }
}

/* The receiver: whether the name is one to write under the directory. */
static gboolean
name_is_safe (const char *name)
{
  g_auto(GStrv) parts = NULL;

  if (name == NULL || *name == '\0' || name[0] == '/' || strchr (name, '\\') != NULL
      || strlen (name) > 4096 || !g_utf8_validate (name, -1, NULL))
    return FALSE;
  parts = g_strsplit (name, "/", -1);
  for (char **p = parts; *p; p++)
    if (**p == '\0' || g_str_equal (*p, ".") || g_str_equal (*p, ".."))
      return FALSE;
  return TRUE;
}

static char *
part_path (NfltrP2pTransfer *self, FileEntry *f)
{
  g_autofree char *rel = g_strconcat (f->name, ".part", NULL);

  return g_build_filename (self->directory, rel, NULL);
}

/* What this side already holds of f: a .part whose state file names the same content. */
static void
find_resume (NfltrP2pTransfer *self, FileEntry *f)
{
  g_autofree char *part = part_path (self, f);
  g_autofree char *state = g_strconcat (part, STATE_SUFFIX, NULL);
  g_autofree char *contents = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;
  GStatBuf st;
  guint8 buf[READ_CHUNK], digest[SHA256_DIGEST_SIZE];
  struct sha256_ctx ctx;
  FILE *fp;
  guint64 left;

  sha256_init (&f->hash);
  f->offset = 0;
  if (!g_file_get_contents (state, &contents, NULL, NULL)
      || !json_parser_load_from_data (parser, contents, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  o = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (o, "sha256", ""), f->sha256) != 0
      || (guint64) json_object_get_int_member_with_default (o, "size", -1) != f->size
      || g_stat (part, &st) != 0 || (guint64) st.st_size > f->size)
    return;
  fp = g_fopen (part, "rb");
  if (fp == NULL)
    return;
  left = st.st_size;
  while (left > 0)
    {
      size_t n = fread (buf, 1, MIN (sizeof buf, left), fp);

      if (n == 0)
        break;
      sha256_update (&f->hash, n, buf);
      left -= n;
    }
  fclose (fp);
  if (left != 0)
    {
      sha256_init (&f->hash);
      return;
    }
  f->offset = st.st_size;
  ctx = f->hash;
  sha256_digest (&ctx, sizeof digest, digest);
  g_free (f->prefix);
  f->prefix = hex (digest, sizeof digest);
}

static void
send_accept (NfltrP2pTransfer *self)
{
  JsonObject *m = json_object_new ();
  JsonArray *files = json_array_new ();

  json_object_set_string_member (m, "t", "accept");
  for (guint i = 0; i < self->files->len; i++)
    {
      FileEntry *f = self->files->pdata[i];
      JsonObject *o = json_object_new ();

      json_object_set_int_member (o, "offset", (gint64) f->offset);
      json_object_set_string_member (o, "prefix", f->prefix ? f->prefix : "");
      json_array_add_object_element (files, o);
      self->bytes_done += f->offset;
    }
  json_object_set_array_member (m, "files", files);
  send_control (self, m);
  self->accepted = TRUE;
  set_state (self, self->chat_only ? ST_CONNECTED : ST_TRANSFERRING);
  if (every_file_done (self) && !self->chat_only)
    all_done (self);
  pump (self);
}

static void
take_manifest (NfltrP2pTransfer *self, JsonObject *m)
{
  JsonArray *files = json_object_get_array_member (m, "files");
  gboolean fresh = self->files->len == 0;

  if (self->manifest_seen || files == NULL)
    {
      fail (self, "the sender's manifest is malformed");
      return;
    }
  self->manifest_seen = TRUE;
  if (!fresh && json_array_get_length (files) != self->files->len)
    {
      fail (self, "the sender now offers other files");
      return;
    }
  for (guint i = 0; i < json_array_get_length (files); i++)
    {
      JsonObject *o = json_array_get_object_element (files, i);
      const char *name = o ? json_object_get_string_member_with_default (o, "name", NULL) : NULL;
      const char *sha = o ? json_object_get_string_member_with_default (o, "sha256", "") : "";
      gint64 size = o ? json_object_get_int_member_with_default (o, "size", -1) : -1;
      FileEntry *f;

      if (!name_is_safe (name) || size < 0 || strlen (sha) != 64)
        {
          g_autofree char *msg = g_strdup_printf ("the sender offered an unsafe file name: %s", name ? name : "(none)");

          fail (self, msg);
          return;
        }
      if (fresh)
        {
          f = g_new0 (FileEntry, 1);
          f->name = g_strdup (name);
          f->size = size;
          f->sha256 = g_strdup (sha);
          g_ptr_array_add (self->files, f);
        }
      else
        {
          f = self->files->pdata[i];
          if (!g_str_equal (f->name, name) || f->size != (guint64) size || !g_str_equal (f->sha256, sha))
            {
              fail (self, "the sender now offers other files");
              return;
            }
        }
    }
  self->chat_only = self->files->len == 0;
  update_files_property (self);
  self->bytes_done = 0;
  for (guint i = 0; i < self->files->len; i++)
    {
      FileEntry *f = self->files->pdata[i];

      if (!f->done)
        find_resume (self, f);
      else
        self->bytes_done += f->size;
    }
  if (self->yes || self->chat_only || !fresh)
    send_accept (self);
  else
    set_state (self, ST_OFFERED);
}

/* The sender: the receiver's answer, with what it already holds. */
static void
take_accept (NfltrP2pTransfer *self, JsonObject *m)
{
  JsonArray *files = json_object_get_array_member (m, "files");

  if (files == NULL || json_array_get_length (files) != self->files->len)
    {
      fail (self, "the receiver's answer is malformed");
      return;
    }
  self->bytes_done = 0;
  for (guint i = 0; i < self->files->len; i++)
    {
      FileEntry *f = self->files->pdata[i];
      JsonObject *o = json_array_get_object_element (files, i);
      gint64 offset = o ? json_object_get_int_member_with_default (o, "offset", 0) : 0;
      const char *prefix = o ? json_object_get_string_member_with_default (o, "prefix", "") : "";

      f->offset = 0;
      if (f->done)
        {
          self->bytes_done += f->size;
          continue;
        }
      if (offset > 0 && (guint64) offset <= f->size)
        {
          /* The sender re-hashes its own prefix: a .part that differs starts over. */
          g_autoptr(GFile) file = g_file_new_for_path (f->source);
          g_autoptr(GInputStream) in = G_INPUT_STREAM (g_file_read (file, NULL, NULL));
          guint8 buf[READ_CHUNK], digest[SHA256_DIGEST_SIZE];
          struct sha256_ctx ctx;
          guint64 left = offset;
          g_autofree char *mine = NULL;

          sha256_init (&ctx);
          while (in != NULL && left > 0)
            {
              gssize n = g_input_stream_read (in, buf, MIN (sizeof buf, left), NULL, NULL);

              if (n <= 0)
                break;
              sha256_update (&ctx, n, buf);
              left -= n;
            }
          sha256_digest (&ctx, sizeof digest, digest);
          mine = hex (digest, sizeof digest);
          if (left == 0 && g_str_equal (mine, prefix))
            f->offset = offset;
          else
            g_message ("transfer %s: the receiver's %s differs from ours: sending it whole", self->id, f->name);
        }
    }
  self->current = 0;
  self->accepted = TRUE;
  self->last_bytes = self->bytes_done;
  set_state (self, self->chat_only ? ST_CONNECTED : ST_TRANSFERRING);
  if (!self->chat_only && every_file_done (self))
    all_done (self);
}

static void
take_control (NfltrP2pTransfer *self, JsonObject *m)
{
  const char *t = json_object_get_string_member_with_default (m, "t", "");

  if (!self->sender && g_str_equal (t, "manifest"))
    take_manifest (self, m);
  else if (self->sender && g_str_equal (t, "accept"))
    take_accept (self, m);
  else if (self->sender && g_str_equal (t, "decline"))
    {
      set_error (self, "the receiver declined");
      set_state (self, ST_DECLINED);
      send_signal (self, NFLTR_P2P_OP_WITHDRAW, NULL, 0);
    }
  else if (self->sender && g_str_equal (t, "done"))
    {
      gint64 i = json_object_get_int_member_with_default (m, "index", -1);
      FileEntry *f;

      if (i < 0 || i >= self->files->len)
        return;
      f = self->files->pdata[i];
      f->done = TRUE;
      nfltr_dbus_transfer_emit_file_done (NFLTR_DBUS_TRANSFER (self), f->name, f->size, f->sha256,
                                          path_name (self), "");
      if (every_file_done (self))
        all_done (self);
    }
  else if (self->chat_only && g_str_equal (t, "bye"))
    {
      if (self->sender)
        send_signal (self, NFLTR_P2P_OP_WITHDRAW, NULL, 0);
      set_state (self, ST_DONE);
    }
  else if (g_str_equal (t, "failed"))
    {
      g_autofree char *msg = g_strdup_printf ("the peer failed: %s",
                                              json_object_get_string_member_with_default (m, "message", "?"));

      fail (self, msg);
    }
}

static void
send_chat (NfltrP2pTransfer *self, JsonObject *object)
{
  g_autoptr(JsonObject) owned = object;
  g_autoptr(GBytes) bytes = nfltr_p2p_message_pack (object);
  NfltrP2pMux *mux;

  if (self->session == NULL)
    return;
  mux = nfltr_p2p_session_get_mux (self->session);
  if (self->chat == 0)
    self->chat = nfltr_p2p_mux_open (mux, NFLTR_P2P_STREAM_CHAT, NULL);
  nfltr_p2p_mux_write (mux, self->chat, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
}

/* issue 14: a call's message on this side's CALL stream (opened with the first). */
void
nfltr_p2p_transfer_send_call (NfltrP2pTransfer *self, JsonObject *message)
{
  g_autoptr(JsonObject) owned = message;
  g_autoptr(GBytes) bytes = nfltr_p2p_message_pack (message);
  NfltrP2pMux *mux;

  if (self->session == NULL)
    return;
  mux = nfltr_p2p_session_get_mux (self->session);
  if (self->call == 0)
    self->call = nfltr_p2p_mux_open (mux, NFLTR_P2P_STREAM_CALL, NULL);
  nfltr_p2p_mux_write (mux, self->call, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
  pump (self);
}

static void
take_chat (NfltrP2pTransfer *self, JsonObject *m)
{
  if (json_object_has_member (m, "ack"))
    nfltr_dbus_transfer_emit_message_delivered (NFLTR_DBUS_TRANSFER (self),
                                                (guint32) json_object_get_int_member (m, "ack"));
  else if (json_object_has_member (m, "text"))
    {
      guint32 id = (guint32) json_object_get_int_member_with_default (m, "id", 0);
      const char *text = json_object_get_string_member_with_default (m, "text", "");

      if (strlen (text) > NFLTR_P2P_CHAT_TEXT_MAX)
        return;
      nfltr_dbus_transfer_emit_message_received (NFLTR_DBUS_TRANSFER (self), id, text);
      send_chat (self, nfltr_p2p_chat_ack (id));
    }
}

/* The receiver: a file stream's header names the entry and the offset it starts from. */
static gboolean
begin_file (NfltrP2pTransfer *self, StreamIn *s, JsonObject *h, GError **error)
{
  gint64 index = json_object_get_int_member_with_default (h, "index", -1);
  gint64 offset = json_object_get_int_member_with_default (h, "offset", -1);
  g_autofree char *part = NULL;
  g_autofree char *state = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(JsonObject) st = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *st_text = NULL;
  FileEntry *f;

  if (!self->accepted || index < 0 || index >= self->files->len)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED, "the sender sent a file nobody accepted");
      return FALSE;
    }
  f = self->files->pdata[index];
  if (f->done || f->out != NULL || (offset != 0 && (guint64) offset != f->offset))
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED, "the sender resumed %s at the wrong place", f->name);
      return FALSE;
    }
  part = part_path (self, f);
  state = g_strconcat (part, STATE_SUFFIX, NULL);
  dir = g_path_get_dirname (part);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot make %s: %s", dir, g_strerror (errno));
      return FALSE;
    }
  st = json_object_new ();
  json_object_set_string_member (st, "transfer", self->id);
  json_object_set_string_member (st, "name", f->name);
  json_object_set_int_member (st, "size", (gint64) f->size);
  json_object_set_string_member (st, "sha256", f->sha256);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, st);
  st_text = json_to_string (node, TRUE);
  if (!g_file_set_contents (state, st_text, -1, error))
    return FALSE;
  file = g_file_new_for_path (part);
  if (offset == 0)
    {
      sha256_init (&f->hash);
      f->out = G_OUTPUT_STREAM (g_file_replace (file, NULL, FALSE, G_FILE_CREATE_NONE, NULL, error));
    }
  else
    {
      /* find_resume hashed exactly offset bytes; anything after them goes. */
      if (truncate (part, offset) != 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot resume %s: %s", part, g_strerror (errno));
          return FALSE;
        }
      f->out = G_OUTPUT_STREAM (g_file_append_to (file, G_FILE_CREATE_NONE, NULL, error));
    }
  if (f->out == NULL)
    return FALSE;
  f->received = offset;
  s->file = index;
  return TRUE;
}

/* "name (1).ext", "name (2).ext", …: never over an existing file. */
static char *
free_name (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  const char *dot = strrchr (base, '.');
  g_autofree char *stem = dot != NULL && dot != base ? g_strndup (base, dot - base) : g_strdup (base);
  const char *ext = dot != NULL && dot != base ? dot : "";

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return g_strdup (path);
  for (guint i = 1;; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s (%u)%s", stem, i, ext);
      char *candidate = g_build_filename (dir, name, NULL);

      if (!g_file_test (candidate, G_FILE_TEST_EXISTS))
        return candidate;
      g_free (candidate);
    }
}

static gboolean
finish_file (NfltrP2pTransfer *self, StreamIn *s, GError **error)
{
  FileEntry *f = self->files->pdata[s->file];
  guint8 digest[SHA256_DIGEST_SIZE];
  g_autofree char *got = NULL;
  g_autofree char *part = part_path (self, f);
  g_autofree char *state = g_strconcat (part, STATE_SUFFIX, NULL);
  g_autofree char *final = NULL;
  g_autofree char *wanted = g_build_filename (self->directory, f->name, NULL);
  JsonObject *m;

  if (!g_output_stream_close (f->out, NULL, error))
    return FALSE;
  g_clear_object (&f->out);
  sha256_digest (&f->hash, sizeof digest, digest);
  got = hex (digest, sizeof digest);
  if (f->received != f->size || !g_str_equal (got, f->sha256))
    {
      /* The .part is wrong: start it over next time rather than resume it. */
      g_unlink (state);
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED,
                   "%s arrived with SHA-256 %s, not the %s the sender announced", f->name, got, f->sha256);
      return FALSE;
    }
  final = free_name (wanted);
  if (g_rename (part, final) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot rename %s: %s", part, g_strerror (errno));
      return FALSE;
    }
  g_unlink (state);
  f->done = TRUE;
  f->saved_as = g_steal_pointer (&final);
  nfltr_dbus_transfer_emit_file_done (NFLTR_DBUS_TRANSFER (self), f->name, f->size, f->sha256,
                                      path_name (self), f->saved_as);
  m = json_object_new ();
  json_object_set_string_member (m, "t", "done");
  json_object_set_int_member (m, "index", s->file);
  send_control (self, m);
  if (every_file_done (self))
    all_done (self);
  return TRUE;
}

static void
mux_opened_cb (NfltrP2pMux *mux, guint32 stream, NfltrP2pStreamKind kind, gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;
  StreamIn *s = g_new0 (StreamIn, 1);

  s->kind = kind;
  s->framer = nfltr_p2p_framer_new ();
  s->file = -1;
  g_hash_table_replace (self->streams, GUINT_TO_POINTER (stream), s);
}

static void
file_bytes (NfltrP2pTransfer *self, StreamIn *s, const guint8 *data, gsize len, GError **error)
{
  FileEntry *f = self->files->pdata[s->file];

  if (len == 0)
    return;
  if (f->out == NULL || f->received + len > f->size)
    g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED, "%s is longer than announced", f->name);
  else if (g_output_stream_write_all (f->out, data, len, NULL, NULL, error))
    {
      sha256_update (&f->hash, len, data);
      f->received += len;
      self->bytes_done += len;
    }
}

static void
mux_data_cb (NfltrP2pMux *mux, guint32 stream, const guint8 *data, gsize len, gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;
  StreamIn *s = g_hash_table_lookup (self->streams, GUINT_TO_POINTER (stream));
  g_autoptr(GError) error = NULL;

  if (s == NULL || state_is_final (self->state))
    return;
  nfltr_p2p_mux_consume (mux, stream, len);
  if (s->kind == NFLTR_P2P_STREAM_FILE && s->file >= 0)
    file_bytes (self, s, data, len, &error);
  else
    {
      JsonObject *m;

      nfltr_p2p_framer_push (s->framer, data, len);
      while (error == NULL && !state_is_final (self->state) && (m = nfltr_p2p_framer_next (s->framer, &error)) != NULL)
        {
          if (s->kind == NFLTR_P2P_STREAM_CONTROL)
            take_control (self, m);
          else if (s->kind == NFLTR_P2P_STREAM_CHAT)
            take_chat (self, m);
          else if (s->kind == NFLTR_P2P_STREAM_CALL) /* issue 14: calls */
            nfltr_p2p_call_take_message (self->service, self, m);
          else if (s->kind == NFLTR_P2P_STREAM_FILE && begin_file (self, s, m, &error))
            {
              /* What the framer holds past the header is the file's first bytes. */
              g_autoptr(GBytes) rest = nfltr_p2p_framer_take_rest (s->framer);

              /* A file stream gets a larger window than the mux's default, so a relayed path
               * with tens of milliseconds of round trip is not capped at 256 KiB per trip. */
              nfltr_p2p_mux_consume (mux, stream, FILE_WINDOW - NFLTR_P2P_MUX_INITIAL_WINDOW);

              json_object_unref (m);
              file_bytes (self, s, g_bytes_get_data (rest, NULL), g_bytes_get_size (rest), &error);
              break;
            }
          json_object_unref (m);
        }
    }
  if (error != NULL)
    {
      JsonObject *m = json_object_new ();

      json_object_set_string_member (m, "t", "failed");
      json_object_set_string_member (m, "message", error->message);
      send_control (self, m);
      pump (self);
      fail (self, error->message);
    }
}

static void
mux_finished_cb (NfltrP2pMux *mux, guint32 stream, gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;
  StreamIn *s = g_hash_table_lookup (self->streams, GUINT_TO_POINTER (stream));
  g_autoptr(GError) error = NULL;

  if (s == NULL || s->kind != NFLTR_P2P_STREAM_FILE || s->file < 0 || state_is_final (self->state))
    return;
  if (!finish_file (self, s, &error))
    {
      JsonObject *m = json_object_new ();

      json_object_set_string_member (m, "t", "failed");
      json_object_set_string_member (m, "message", error->message);
      send_control (self, m);
      pump (self);
      fail (self, error->message);
    }
}

static const NfltrP2pMuxCallbacks mux_callbacks = {
  .opened = mux_opened_cb,
  .data = mux_data_cb,
  .finished = mux_finished_cb,
};

/* --- pairing --------------------------------------------------------------------------- */

static void
end_run (NfltrP2pTransfer *self, NfltrP2pEnd how)
{
  guint8 b = how;

  send_signal (self, NFLTR_P2P_OP_END, &b, 1);
}

static void
pairing_failed (NfltrP2pTransfer *self, const GError *error)
{
  gboolean mismatch = g_error_matches (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH);

  end_run (self, mismatch ? NFLTR_P2P_END_FAILED : NFLTR_P2P_END_CLOSED);
  teardown_run (self);
  set_error (self, error->message);
  if (self->sender)
    /* The offer allows one more run; the relay says GONE when it does not. */
    set_state (self, ST_WAITING);
  else
    {
      self->claimed = FALSE;
      set_state (self, ST_FAILED);
    }
}

/* The sender chooses the path once paired; the receiver follows the first record it gets. */
static void
choose_path (NfltrP2pTransfer *self, TransferPath path)
{
  if (self->path != PATH_NONE || self->session == NULL)
    return;
  g_clear_handle_id (&self->ice_wait_id, g_source_remove);
  self->path = path;
  g_message ("transfer %s: %s path", self->id, path_name (self));
  if (path == PATH_RELAYED)
    g_clear_pointer (&self->direct, nfltr_p2p_direct_free);
  nfltr_dbus_transfer_set_path (NFLTR_DBUS_TRANSFER (self), path_name (self));
  if (self->sender && !self->manifest_seen)
    {
      self->manifest_seen = TRUE;
      send_manifest (self);
    }
  pump (self);
}

static gboolean
ice_wait_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  self->ice_wait_id = 0;
  choose_path (self, PATH_RELAYED);
  return G_SOURCE_REMOVE;
}

static void
paired (NfltrP2pTransfer *self)
{
  nfltr_p2p_handshake_get_keys (self->hs, &self->keys);
  g_clear_pointer (&self->hs, nfltr_p2p_handshake_free);
  self->session = nfltr_p2p_session_new (self->sender ? NFLTR_P2P_ROLE_A : NFLTR_P2P_ROLE_B, &self->keys,
                                         &mux_callbacks, self);
  g_ptr_array_set_size (self->findings, 0);
  g_clear_pointer (&self->peer_chains[0], nfltr_p2p_audit_chain_free);
  g_clear_pointer (&self->peer_chains[1], nfltr_p2p_audit_chain_free);
  nfltr_dbus_transfer_set_last_error (NFLTR_DBUS_TRANSFER (self), "");
  if (self->sender)
    {
      end_run (self, NFLTR_P2P_END_PAIRED);
      if (nfltr_p2p_direct_is_ready (self->direct))
        choose_path (self, PATH_DIRECT);
      else if (self->direct != NULL)
        self->ice_wait_id = g_timeout_add (ICE_WAIT_MS, ice_wait_cb, self);
      else
        choose_path (self, PATH_RELAYED);
    }
  else if (self->early->len > 0)
    {
      /* The sender's first records came straight through before our CONFIRM's answer. */
      g_autoptr(GByteArray) early = g_byte_array_new ();
      g_autoptr(GError) error = NULL;

      g_byte_array_append (early, self->early->data, self->early->len);
      g_byte_array_set_size (self->early, 0);
      choose_path (self, PATH_DIRECT);
      if (!nfltr_p2p_session_push (self->session, early->data, early->len, &error))
        session_broken (self, error);
      else
        pump (self);
    }
}

static gboolean
confirm_if_ready (NfltrP2pTransfer *self, GError **error)
{
  if (self->hs != NULL && nfltr_p2p_handshake_can_confirm (self->hs))
    {
      g_autoptr(GBytes) confirm = nfltr_p2p_handshake_confirm (self->hs, NULL);

      /* NULL: already sent. */
      if (confirm != NULL)
        send_message (self, confirm);
    }
  return TRUE;
}

static void
send_ice (NfltrP2pTransfer *self, const NfltrP2pMessage *msg)
{
  g_autoptr(GBytes) out = NULL;

  if (self->hs == NULL)
    return;
  out = nfltr_p2p_handshake_send (self->hs, msg, NULL);
  if (out != NULL)
    send_message (self, out);
}

static void
direct_gathered_cb (NfltrP2pDirect *direct, const char *ufrag, const char *pwd, GPtrArray *candidates,
                    gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;
  NfltrP2pMessage creds = { .type = NFLTR_P2P_MSG_ICE_CREDENTIALS, .ufrag = (char *) ufrag, .pwd = (char *) pwd };
  NfltrP2pMessage done = { .type = NFLTR_P2P_MSG_ICE_DONE };

  send_ice (self, &creds);
  for (guint i = 0; i < candidates->len; i++)
    {
      NfltrP2pMessage cand = { .type = NFLTR_P2P_MSG_ICE_CANDIDATE, .candidate = candidates->pdata[i] };

      send_ice (self, &cand);
    }
  send_ice (self, &done);
  confirm_if_ready (self, NULL);
  if (self->hs != NULL && nfltr_p2p_handshake_is_done (self->hs))
    paired (self);
}

static void
direct_state_cb (NfltrP2pDirect *direct, gboolean ready, gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  if (ready)
    {
      if (self->sender && self->session != NULL)
        choose_path (self, PATH_DIRECT);
      return;
    }
  if (self->path == PATH_DIRECT)
    interrupted (self, "the direct connection broke; resuming");
  else if (self->sender && self->session != NULL)
    choose_path (self, PATH_RELAYED);
}

static void
direct_received_cb (NfltrP2pDirect *direct, const guint8 *data, gsize len, gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;
  g_autoptr(GError) error = NULL;

  if (self->session == NULL)
    {
      if (self->hs != NULL && self->early->len + len <= 4 * 1024 * 1024)
        g_byte_array_append (self->early, data, len);
      return;
    }
  if (!self->sender)
    choose_path (self, PATH_DIRECT);
  if (self->state == ST_FAILED)
    {
      nfltr_p2p_session_push (self->session, data, len, NULL);
      return;
    }
  if (!nfltr_p2p_session_push (self->session, data, len, &error))
    {
      session_broken (self, error);
      return;
    }
  pump (self);
}

static void
direct_writable_cb (NfltrP2pDirect *direct, gpointer user_data)
{
  pump (user_data);
}

static const NfltrP2pDirectCallbacks direct_callbacks = {
  .gathered = direct_gathered_cb,
  .state = direct_state_cb,
  .received = direct_received_cb,
  .writable = direct_writable_cb,
};

/* The relay answers STUN on its own port number (relay/udp/): its address, when it is one
 * libnice can use without a lookup (an IP literal or a *.localhost name); else
 * NFLTR_P2P_STUN=IP:PORT, or host candidates only. */
static char *
stun_server (NfltrP2pTransfer *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  const char *host;

  if (g_getenv ("NFLTR_P2P_STUN") != NULL)
    return *g_getenv ("NFLTR_P2P_STUN") ? g_strdup (g_getenv ("NFLTR_P2P_STUN")) : NULL;
  if (link == NULL)
    return NULL;
  host = nfltr_relay_link_get_host (link);
  if (g_hostname_is_ip_address (host))
    return g_strdup_printf ("%s:%u", host, nfltr_relay_link_get_port (link));
  if (g_str_equal (host, "localhost") || g_str_has_suffix (host, ".localhost"))
    return g_strdup_printf ("127.0.0.1:%u", nfltr_relay_link_get_port (link));
  return NULL;
}

/* Keyed: gather this side's candidates (the trickle ends with ICE_DONE), or, without a
 * direct path, end the trickle at once. */
static void
start_direct (NfltrP2pTransfer *self)
{
  NfltrP2pMessage done = { .type = NFLTR_P2P_MSG_ICE_DONE };

  if (nfltr_p2p_direct_available ())
    {
      g_autofree char *stun = stun_server (self);

      self->direct = nfltr_p2p_direct_new (self->sender, stun, &direct_callbacks, self);
    }
  if (self->direct == NULL)
    send_ice (self, &done);
}

static void
take_pairing_message (NfltrP2pTransfer *self, const guint8 *data, gsize len)
{
  g_autoptr(GBytes) msg = g_bytes_new (data, len);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  NfltrP2pMessage decoded = { 0 };

  if (self->hs == NULL)
    {
      /* The relay's OK to our CLAIM completes a request, which GIO delivers from an idle:
       * the sender's PAKE_A, right behind it on the channel, can come first. Kept for
       * start_pairing. */
      if (!self->sender && self->claiming && self->early_signal->len < 16)
        g_ptr_array_add (self->early_signal, g_steal_pointer (&msg));
      return;
    }
  if (!nfltr_p2p_handshake_receive (self->hs, msg, &reply, &decoded, &error))
    {
      nfltr_p2p_message_clear (&decoded);
      pairing_failed (self, error);
      return;
    }
  if (reply != NULL)
    send_message (self, reply);
  switch (decoded.type)
    {
      case NFLTR_P2P_MSG_PAKE_A:
      case NFLTR_P2P_MSG_PAKE_B: start_direct (self); break;
      case NFLTR_P2P_MSG_ICE_CREDENTIALS:
        if (self->direct != NULL)
          nfltr_p2p_direct_set_remote_credentials (self->direct, decoded.ufrag, decoded.pwd);
        break;
      case NFLTR_P2P_MSG_ICE_CANDIDATE:
        if (self->direct != NULL)
          nfltr_p2p_direct_add_remote_candidate (self->direct, decoded.candidate);
        break;
      case NFLTR_P2P_MSG_ICE_DONE:
        if (self->direct != NULL)
          nfltr_p2p_direct_remote_done (self->direct);
        break;
      case NFLTR_P2P_MSG_ABORT:
        {
          gboolean mismatch = decoded.reason == NFLTR_P2P_ABORT_CODE_MISMATCH;

          nfltr_p2p_message_clear (&decoded);
          g_set_error_literal (&error, NFLTR_P2P_ERROR,
                               mismatch ? NFLTR_P2P_ERROR_CODE_MISMATCH : NFLTR_P2P_ERROR_CLOSED,
                               mismatch ? "the code did not match" : "the peer gave up the pairing");
          pairing_failed (self, error);
          return;
        }
      case NFLTR_P2P_MSG_CONFIRM:
      default: break;
    }
  nfltr_p2p_message_clear (&decoded);
  if (self->hs == NULL)
    return;
  confirm_if_ready (self, NULL);
  if (self->hs != NULL && nfltr_p2p_handshake_is_done (self->hs))
    paired (self);
}

static void
start_pairing (NfltrP2pTransfer *self)
{
  g_autoptr(GError) error = NULL;

  teardown_run (self);
  self->hs = nfltr_p2p_handshake_new (self->sender ? NFLTR_P2P_ROLE_A : NFLTR_P2P_ROLE_B, self->code, &error);
  if (self->hs == NULL)
    {
      fail (self, error->message);
      return;
    }
  set_state (self, ST_PAIRING);
  if (!self->sender && self->early_signal->len > 0)
    {
      g_autoptr(GPtrArray) early = g_steal_pointer (&self->early_signal);

      self->early_signal = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      for (guint i = 0; i < early->len && self->hs != NULL; i++)
        {
          gsize len;
          const guint8 *data = g_bytes_get_data (early->pdata[i], &len);

          take_pairing_message (self, data, len);
        }
      return;
    }
  if (self->sender)
    {
      g_autoptr(GBytes) pake_a = nfltr_p2p_handshake_start (self->hs, &error);

      if (pake_a == NULL)
        {
          pairing_failed (self, error);
          return;
        }
      send_message (self, pake_a);
    }
}

/* --- frames from the relay ---------------------------------------------------------- */

void
nfltr_p2p_transfer_handle_frame (NfltrP2pTransfer *self,
                                 const NfltrFrame *frame)
{
  gsize len;
  const guint8 *data = nfltr_frame_get_bytes (frame, NFLTR_ATTR_DATA, &len);
  guint8 op = NFLTR_P2P_OP_FORWARD;

  if (state_is_final (self->state) && self->state != ST_FAILED)
    return;
  if (nfltr_frame_get_type (frame) == NFLTR_FRAME_P2P_RELAY)
    {
      g_autoptr(GError) error = NULL;

      if (self->session == NULL)
        return;
      if (!self->sender)
        choose_path (self, PATH_RELAYED);
      if (self->state == ST_FAILED)
        {
          /* Recorded for the audit only: the session already failed. */
          nfltr_p2p_session_push (self->session, data, len, NULL);
          return;
        }
      if (!nfltr_p2p_session_push (self->session, data, len, &error))
        {
          session_broken (self, error);
          return;
        }
      pump (self);
      return;
    }
  nfltr_frame_get_u8 (frame, NFLTR_ATTR_P2P_OP, &op);
  switch ((NfltrP2pOp) op)
    {
      case NFLTR_P2P_OP_FORWARD:
        if (len > 0 && data[0] == AUDIT_DUMP_MAGIC)
          {
            if (self->session != NULL || self->my_chains[0] != NULL)
              {
                gboolean answer = !self->dump_sent;

                if (answer)
                  send_audit_dump (self);
                take_audit_dump (self, data, len);
                if (self->state != ST_FAILED)
                  {
                    g_autofree char *msg =
                      g_strdup_printf ("the peer's session failed%s%s", self->findings->len > 0 ? ": " : "",
                                       self->findings->len > 0 ? (char *) self->findings->pdata[0] : "");

                    fail (self, msg);
                  }
                if (answer)
                  end_run (self, NFLTR_P2P_END_CLOSED);
              }
            return;
          }
        if (self->state != ST_FAILED)
          take_pairing_message (self, data, len);
        return;
      case NFLTR_P2P_OP_CLAIMED:
        if (self->sender && self->state != ST_FAILED)
          start_pairing (self);
        return;
      case NFLTR_P2P_OP_END:
        if (self->state == ST_FAILED)
          {
            teardown_run (self);
            return;
          }
        if (self->state == ST_DONE)
          return;
        if (len >= 1 && data[0] == NFLTR_P2P_END_FAILED && self->hs != NULL)
          {
            g_autoptr (GError) error =
              g_error_new_literal (NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH, "the code did not match");

            pairing_failed (self, error);
            return;
          }
        interrupted (self, self->session != NULL ? "the connection to the peer broke; resuming" : NULL);
        return;
      case NFLTR_P2P_OP_GONE:
        if (self->sender && !state_is_final (self->state))
          {
            const char *last = nfltr_dbus_transfer_get_last_error (NFLTR_DBUS_TRANSFER (self));
            g_autofree char *msg =
              g_strdup_printf ("%s%sthe offer is closed (it expired or its two tries are used up)",
                               last && *last ? last : "", last && *last ? "; " : "");

            teardown_run (self);
            fail (self, msg);
          }
        return;
      case NFLTR_P2P_OP_OFFER:
      case NFLTR_P2P_OP_CLAIM:
      case NFLTR_P2P_OP_OK:
      case NFLTR_P2P_OP_WITHDRAW:
      default: return;
    }
}

/* --- offer and claim ------------------------------------------------------------------ */

static void
offer_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrP2pTransfer) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);

  if (reply == NULL)
    {
      g_debug ("offer not registered yet: %s", error->message);
      return;
    }
  if (nfltr_frame_get_type (reply) == NFLTR_FRAME_ERROR)
    {
      g_autofree char *msg = g_strdup_printf ("the relay refused the offer: %s",
                                              nfltr_frame_get_string (reply, NFLTR_ATTR_MESSAGE));

      fail (self, msg);
      return;
    }
  self->claimed = TRUE;
  if (self->state == ST_PREPARING)
    set_state (self, ST_WAITING);
}

static void
offer (NfltrP2pTransfer *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  g_autoptr(NfltrFrame) frame = NULL;
  guint8 empty = 0;

  if (link == NULL || self->state == ST_PREPARING || state_is_final (self->state))
    return;
  frame = nfltr_frame_new (NFLTR_FRAME_P2P_SIGNAL);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->offer_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, &empty, 1);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_P2P_OP, NFLTR_P2P_OP_OFFER);
  nfltr_relay_link_request_async (link, frame, self->cancellable, offer_cb, g_object_ref (self));
}

static gboolean
first_retry_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  self->retry_id = 0;
  if (self->state == ST_WAITING)
    claim (self);
  return G_SOURCE_REMOVE;
}

static void
claim_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrP2pTransfer) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);
  guint16 code = 0;

  self->claiming = FALSE;
  if (state_is_final (self->state))
    return;
  if (reply == NULL)
    {
      interrupted (self, error->message);
      return;
    }
  if (nfltr_frame_get_type (reply) == NFLTR_FRAME_ERROR)
    {
      nfltr_frame_get_u16 (reply, NFLTR_ATTR_CODE, &code);
      /* Resuming: the sender's agent may be restarting; keep trying. A first claim may also
       * come before the sender's agent has registered the offer it just printed. */
      if (code == NFLTR_PROTO_ERR_NO_OFFER
          && (self->state == ST_INTERRUPTED || g_get_monotonic_time () - self->started < FIRST_CLAIM_PATIENCE_US))
        {
          if (self->state != ST_INTERRUPTED)
            self->retry_id = g_timeout_add (500, first_retry_cb, self);
          else
            schedule_retry (self);
          return;
        }
      fail (self, nfltr_frame_get_string (reply, NFLTR_ATTR_MESSAGE));
      return;
    }
  self->claimed = TRUE;
  start_pairing (self);
}

static void
claim (NfltrP2pTransfer *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  g_autoptr(NfltrFrame) frame = NULL;
  guint8 empty = 0;

  /* One claim at a time: a second one would make the relay restart the sender's pairing. */
  if (link == NULL || state_is_final (self->state) || self->claiming)
    return;
  self->claiming = TRUE;
  frame = nfltr_frame_new (NFLTR_FRAME_P2P_SIGNAL);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->offer_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, &empty, 1);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_P2P_OP, NFLTR_P2P_OP_CLAIM);
  nfltr_relay_link_request_async (link, frame, self->cancellable, claim_cb, g_object_ref (self));
}

void
nfltr_p2p_transfer_link_changed (NfltrP2pTransfer *self,
                                 gboolean          connected)
{
  if (state_is_final (self->state))
    return;
  if (!connected)
    {
      if (self->session != NULL || self->hs != NULL)
        interrupted (self, "the relay went away; resuming when it is back");
      self->claimed = FALSE;
      return;
    }
  if (self->sender)
    offer (self);
  else if (!self->claimed && (self->state == ST_INTERRUPTED || self->state == ST_WAITING))
    claim (self);
}

/* --- hashing the sender's files, off the main thread ----------------------------------- */

static void
hash_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GPtrArray *files = task_data;
  guint8 buf[READ_CHUNK], digest[SHA256_DIGEST_SIZE];

  for (guint i = 0; i < files->len; i++)
    {
      FileEntry *f = files->pdata[i];
      struct sha256_ctx ctx;
      FILE *fp = g_fopen (f->source, "rb");
      guint64 total = 0;
      size_t n;

      if (fp == NULL)
        {
          g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (errno), "cannot read %s: %s",
                                   f->source, g_strerror (errno));
          return;
        }
      sha256_init (&ctx);
      while ((n = fread (buf, 1, sizeof buf, fp)) > 0)
        {
          /* A service that stops does not wait for a large file's hash. */
          if (g_cancellable_is_cancelled (cancellable))
            {
              fclose (fp);
              g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
              return;
            }
          sha256_update (&ctx, n, buf);
          total += n;
        }
      fclose (fp);
      sha256_digest (&ctx, sizeof digest, digest);
      f->sha256 = hex (digest, sizeof digest);
      f->size = total;
    }
  g_task_return_boolean (task, TRUE);
}

static void
hashed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (source);
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail (self, error->message);
      return;
    }
  update_files_property (self);
  set_state (self, ST_WAITING);
  offer (self);
}

void
nfltr_p2p_transfer_start (NfltrP2pTransfer *self)
{
  nfltr_p2p_service_route (self->service, self->offer_id, self);
  if (self->sender)
    {
      g_autoptr(GTask) task = g_task_new (self, self->cancellable, hashed_cb, NULL);

      /* The entries are only read by the main thread once the task returned. */
      g_task_set_task_data (task, g_ptr_array_ref (self->files), (GDestroyNotify) g_ptr_array_unref);
      g_task_run_in_thread (task, hash_thread);
    }
  else
    {
      self->started = g_get_monotonic_time ();
      set_state (self, ST_WAITING);
      claim (self);
    }
}

static gboolean
collect (GPtrArray *files, const char *path, const char *name, GError **error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "cannot send %s: %s", path, g_strerror (errno));
      return FALSE;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, error);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *entry;

      if (dir == NULL)
        return FALSE;
      while ((entry = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_strdup (entry));
      g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
      for (guint i = 0; i < names->len; i++)
        {
          const char *e = *(const char **) &names->pdata[i];
          g_autofree char *child = g_build_filename (path, e, NULL);
          g_autofree char *child_name = g_strconcat (name, "/", e, NULL);

          if (!collect (files, child, child_name, error))
            return FALSE;
        }
      return TRUE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "cannot send %s: not a file or a folder", path);
      return FALSE;
    }
  {
    FileEntry *f = g_new0 (FileEntry, 1);

    f->name = g_strdup (name);
    f->source = g_strdup (path);
    f->size = st.st_size;
    g_ptr_array_add (files, f);
  }
  return TRUE;
}

static NfltrP2pTransfer *
transfer_new (NfltrP2pService *service, const char *id, gboolean sender)
{
  NfltrP2pTransfer *self = g_object_new (NFLTR_TYPE_P2P_TRANSFER, NULL);

  self->service = service;
  self->id = g_strdup (id);
  self->sender = sender;
  nfltr_dbus_transfer_set_id (NFLTR_DBUS_TRANSFER (self), id);
  nfltr_dbus_transfer_set_role (NFLTR_DBUS_TRANSFER (self), sender ? "send" : "receive");
  nfltr_dbus_transfer_set_state (NFLTR_DBUS_TRANSFER (self), state_name (self->state));
  nfltr_dbus_transfer_set_path (NFLTR_DBUS_TRANSFER (self), "");
  nfltr_dbus_transfer_set_last_error (NFLTR_DBUS_TRANSFER (self), "");
  nfltr_dbus_transfer_set_directory (NFLTR_DBUS_TRANSFER (self), "");
  update_files_property (self);
  return self;
}

NfltrP2pTransfer *
nfltr_p2p_transfer_new_send (NfltrP2pService    *service,
                             const char         *id,
                             const char * const *paths,
                             const char         *code,
                             GError            **error)
{
  g_autoptr(NfltrP2pTransfer) self = transfer_new (service, id, TRUE);
  guint number = 1 + randombytes_uniform (NFLTR_P2P_CODE_MAX_NUMBER);
  g_autofree char *normalized = NULL;

  if (code != NULL && !nfltr_p2p_code_parse (code, &number, &normalized, error))
    return NULL;

  for (gsize i = 0; paths != NULL && paths[i] != NULL; i++)
    {
      g_autofree char *base = g_path_get_basename (paths[i]);

      if (!g_path_is_absolute (paths[i]))
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "not an absolute path: %s", paths[i]);
          return NULL;
        }
      if (!collect (self->files, paths[i], base, error))
        return NULL;
    }
  self->chat_only = self->files->len == 0;
  self->paths = g_strdupv ((char **) paths);
  self->code = normalized != NULL ? g_steal_pointer (&normalized)
                                  : nfltr_p2p_code_generate (number, NFLTR_P2P_CODE_MAX_WORDS);
  self->offer_id = offer_id_for (number);
  nfltr_dbus_transfer_set_code (NFLTR_DBUS_TRANSFER (self), self->code);
  update_files_property (self);
  return g_steal_pointer (&self);
}

NfltrP2pTransfer *
nfltr_p2p_transfer_new_receive (NfltrP2pService *service,
                                const char      *id,
                                const char      *code,
                                const char      *directory,
                                gboolean         yes,
                                GError         **error)
{
  g_autoptr(NfltrP2pTransfer) self = transfer_new (service, id, FALSE);
  g_autoptr(GError) local = NULL;
  guint number;

  if (!nfltr_p2p_code_parse (code, &number, &self->code, &local))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "%s", local->message);
      return NULL;
    }
  if (directory != NULL && *directory != '\0' && !g_path_is_absolute (directory))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "not an absolute folder: %s", directory);
      return NULL;
    }
  self->offer_id = offer_id_for (number);
  self->directory = g_strdup (directory != NULL && *directory != '\0' ? directory : g_get_home_dir ());
  self->yes = yes;
  nfltr_dbus_transfer_set_code (NFLTR_DBUS_TRANSFER (self), self->code);
  nfltr_dbus_transfer_set_directory (NFLTR_DBUS_TRANSFER (self), self->directory);
  return g_steal_pointer (&self);
}

/* --- D-Bus methods --------------------------------------------------------------------- */

static gboolean
handle_accept (NfltrDbusTransfer *iface, GDBusMethodInvocation *invocation)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (iface);

  if (self->sender || self->state != ST_OFFERED)
    {
      g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     "nothing to accept: the transfer is not waiting for an answer");
      return TRUE;
    }
  send_accept (self);
  nfltr_dbus_transfer_complete_accept (iface, invocation);
  return TRUE;
}

static gboolean
handle_decline (NfltrDbusTransfer *iface, GDBusMethodInvocation *invocation)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (iface);

  if (!self->sender && self->state == ST_OFFERED)
    {
      JsonObject *m = json_object_new ();

      json_object_set_string_member (m, "t", "decline");
      send_control (self, m);
      pump (self);
      set_state (self, ST_DECLINED);
    }
  nfltr_dbus_transfer_complete_decline (iface, invocation);
  return TRUE;
}

static gboolean
handle_cancel (NfltrDbusTransfer *iface, GDBusMethodInvocation *invocation)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (iface);

  if (!state_is_final (self->state))
    {
      if (self->session != NULL)
        {
          JsonObject *m = json_object_new ();

          /* Leaving a chat is its normal end; cancelling a transfer is not. */
          json_object_set_string_member (m, "t", self->chat_only ? "bye" : "failed");
          json_object_set_string_member (m, "message", "cancelled");
          send_control (self, m);
          pump (self);
        }
      if (self->sender)
        send_signal (self, NFLTR_P2P_OP_WITHDRAW, NULL, 0);
      else
        end_run (self, NFLTR_P2P_END_CLOSED);
      teardown_run (self);
      set_error (self, "cancelled");
      set_state (self, ST_CANCELLED);
    }
  nfltr_dbus_transfer_complete_cancel (iface, invocation);
  return TRUE;
}

static gboolean
handle_resume (NfltrDbusTransfer *iface, GDBusMethodInvocation *invocation)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (iface);

  if (self->state == ST_INTERRUPTED && !self->sender)
    {
      g_clear_handle_id (&self->retry_id, g_source_remove);
      claim (self);
    }
  else if (self->sender && !state_is_final (self->state))
    offer (self);
  nfltr_dbus_transfer_complete_resume (iface, invocation);
  return TRUE;
}

static gboolean
handle_send_message (NfltrDbusTransfer *iface, GDBusMethodInvocation *invocation, const char *text)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (iface);
  guint32 id;

  if (self->session == NULL || !self->accepted || strlen (text) > NFLTR_P2P_CHAT_TEXT_MAX)
    {
      g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     self->session == NULL ? "no peer is connected"
                                                                           : "the message is too long");
      return TRUE;
    }
  id = ++self->next_chat_id;
  send_chat (self, nfltr_p2p_chat_text (id, text));
  pump (self);
  nfltr_dbus_transfer_complete_send_message (iface, invocation, id);
  return TRUE;
}

static void
transfer_iface_init (NfltrDbusTransferIface *iface)
{
  iface->handle_accept = handle_accept;
  iface->handle_decline = handle_decline;
  iface->handle_cancel = handle_cancel;
  iface->handle_resume = handle_resume;
  iface->handle_send_message = handle_send_message;
}

/* --- audit ----------------------------------------------------------------------------- */

static void
append_chain_json (GString *out, NfltrP2pAuditChain *chain)
{
  NfltrP2pCommitment c;
  g_autofree char *head = NULL;

  if (chain == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  nfltr_p2p_audit_chain_commit (chain, &c);
  head = hex (c.head, sizeof c.head);
  g_string_append_printf (out, "{\"count\":%" G_GUINT64_FORMAT ",\"head\":\"%s\"}", c.count, head);
}

const char * const *
nfltr_p2p_transfer_get_paths (NfltrP2pTransfer *self)
{
  return (const char * const *) self->paths;
}

gboolean
nfltr_p2p_transfer_is_final (NfltrP2pTransfer *self)
{
  return state_is_final (self->state);
}

void
nfltr_p2p_transfer_audit_json (NfltrP2pTransfer *self,
                               GString          *out)
{
  g_autoptr(JsonNode) err = json_node_new (JSON_NODE_VALUE);
  g_autofree char *err_text = NULL;

  if (self->session != NULL)
    keep_my_chains (self);
  json_node_set_string (err, nfltr_dbus_transfer_get_last_error (NFLTR_DBUS_TRANSFER (self)));
  err_text = json_to_string (err, FALSE);
  g_string_append_printf (out, "{\"transfer\":\"%s\",\"role\":\"%s\",\"state\":\"%s\",\"error\":%s,\"chains\":{",
                          self->id, self->sender ? "send" : "receive", state_name (self->state), err_text);
  for (int d = 0; d < 2; d++)
    {
      g_string_append_printf (out, "%s\"%s\":{\"mine\":", d ? "," : "", d == 0 ? "a-to-b" : "b-to-a");
      append_chain_json (out, self->my_chains[d]);
      g_string_append (out, ",\"peer\":");
      append_chain_json (out, self->peer_chains[d]);
      g_string_append (out, "}");
    }
  g_string_append (out, "},\"findings\":[");
  for (guint i = 0; i < self->findings->len; i++)
    {
      g_autoptr(JsonNode) n = json_node_new (JSON_NODE_VALUE);
      g_autofree char *t = NULL;

      json_node_set_string (n, self->findings->pdata[i]);
      t = json_to_string (n, FALSE);
      g_string_append_printf (out, "%s%s", i ? "," : "", t);
    }
  g_string_append (out, "]}");
}

/* --- lifetime -------------------------------------------------------------------------- */

void
nfltr_p2p_transfer_shutdown (NfltrP2pTransfer *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->progress_id, g_source_remove);
  g_clear_handle_id (&self->dump_id, g_source_remove);
  teardown_run (self);
}

static void
nfltr_p2p_transfer_finalize (GObject *object)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (object);

  nfltr_p2p_transfer_shutdown (self);
  g_clear_object (&self->cancellable);
  g_ptr_array_unref (self->files);
  g_hash_table_unref (self->streams);
  g_byte_array_unref (self->wire);
  g_byte_array_unref (self->direct_out);
  g_ptr_array_unref (self->early_signal);
  g_byte_array_unref (self->early);
  g_ptr_array_unref (self->findings);
  for (int d = 0; d < 2; d++)
    {
      g_clear_pointer (&self->my_chains[d], nfltr_p2p_audit_chain_free);
      g_clear_pointer (&self->peer_chains[d], nfltr_p2p_audit_chain_free);
    }
  sodium_memzero (&self->keys, sizeof self->keys);
  g_free (self->id);
  g_free (self->code);
  g_free (self->offer_id);
  g_free (self->directory);
  g_strfreev (self->paths);
  G_OBJECT_CLASS (nfltr_p2p_transfer_parent_class)->finalize (object);
}

static void
nfltr_p2p_transfer_class_init (NfltrP2pTransferClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nfltr_p2p_transfer_finalize;
}

static void
nfltr_p2p_transfer_init (NfltrP2pTransfer *self)
{
  self->cancellable = g_cancellable_new ();
  self->files = g_ptr_array_new_with_free_func ((GDestroyNotify) file_entry_free);
  self->streams = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) stream_in_free);
  self->wire = g_byte_array_new ();
  self->direct_out = g_byte_array_new ();
  self->early_signal = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->early = g_byte_array_new ();
  self->findings = g_ptr_array_new_with_free_func (g_free);
}
