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
 * sides then swap their audit chains over P2P_SIGNAL and compare them (§9.6).
 *
 * This file holds the object, its state and progress; the run, the pairing, the streams, the
 * two sides of the files, the files on disk, the chat, the audit and the D-Bus methods each
 * have a file of their own (nfltr-p2p-transfer-private.h lists them). */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"

const char *
_nfltr_p2p_transfer_state_name (TransferState s)
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

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrP2pTransfer, nfltr_p2p_transfer, NFLTR_DBUS_TYPE_TRANSFER_SKELETON,
                               G_IMPLEMENT_INTERFACE (NFLTR_DBUS_TYPE_TRANSFER, _nfltr_p2p_transfer_iface_init))

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

char *
_nfltr_p2p_transfer_hex (const guint8 *data, gsize len)
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
  return _nfltr_p2p_transfer_hex (digest, 16);
}

gboolean
_nfltr_p2p_transfer_state_is_final (TransferState s)
{
  return s == ST_DONE || s == ST_FAILED || s == ST_DECLINED || s == ST_CANCELLED;
}

const char *
_nfltr_p2p_transfer_path_name (NfltrP2pTransfer *self)
{
  switch (self->path)
    {
      case PATH_DIRECT: return "direct";
      case PATH_RELAYED: return "relayed";
      case PATH_NONE:
      default: return "";
    }
}

void
_nfltr_p2p_transfer_emit_progress (NfltrP2pTransfer *self)
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
  nfltr_dbus_transfer_emit_progress (t, self->bytes_done, self->bytes_total, self->speed, eta, _nfltr_p2p_transfer_path_name (self));
}

static gboolean
progress_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  if (self->bytes_done != self->last_bytes)
    _nfltr_p2p_transfer_emit_progress (self);
  return G_SOURCE_CONTINUE;
}

void
_nfltr_p2p_transfer_set_state (NfltrP2pTransfer *self, TransferState state)
{
  if (self->state == state)
    return;
  g_debug ("transfer %s: %s → %s", self->id, _nfltr_p2p_transfer_state_name (self->state), _nfltr_p2p_transfer_state_name (state));
  self->state = state;
  if (state == ST_TRANSFERRING && self->progress_id == 0)
    self->progress_id = g_timeout_add (PROGRESS_MS, progress_cb, self);
  if (state != ST_TRANSFERRING)
    g_clear_handle_id (&self->progress_id, g_source_remove);
  nfltr_dbus_transfer_set_path (NFLTR_DBUS_TRANSFER (self), _nfltr_p2p_transfer_path_name (self));
  nfltr_dbus_transfer_set_state (NFLTR_DBUS_TRANSFER (self), _nfltr_p2p_transfer_state_name (state));
  if (_nfltr_p2p_transfer_state_is_final (state))
    g_clear_handle_id (&self->retry_id, g_source_remove);
}

void
_nfltr_p2p_transfer_set_error (NfltrP2pTransfer *self, const char *message)
{
  g_message ("transfer %s: %s", self->id, message);
  nfltr_dbus_transfer_set_last_error (NFLTR_DBUS_TRANSFER (self), message);
}

void
_nfltr_p2p_transfer_update_files_property (NfltrP2pTransfer *self)
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

void
_nfltr_p2p_transfer_fail (NfltrP2pTransfer *self, const char *message)
{
  if (_nfltr_p2p_transfer_state_is_final (self->state))
    return;
  _nfltr_p2p_transfer_set_error (self, message);
  _nfltr_p2p_transfer_set_state (self, ST_FAILED);
}

void
nfltr_p2p_transfer_start (NfltrP2pTransfer *self)
{
  nfltr_p2p_service_route (self->service, self->offer_id, self);
  if (self->sender)
    {
      g_autoptr(GTask) task = g_task_new (self, self->cancellable, _nfltr_p2p_transfer_hashed_cb, NULL);

      /* The entries are only read by the main thread once the task returned. */
      g_task_set_task_data (task, g_ptr_array_ref (self->files), (GDestroyNotify) g_ptr_array_unref);
      g_task_run_in_thread (task, _nfltr_p2p_transfer_hash_thread);
    }
  else
    {
      self->started = g_get_monotonic_time ();
      _nfltr_p2p_transfer_set_state (self, ST_WAITING);
      _nfltr_p2p_transfer_claim (self);
    }
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
  nfltr_dbus_transfer_set_state (NFLTR_DBUS_TRANSFER (self), _nfltr_p2p_transfer_state_name (self->state));
  nfltr_dbus_transfer_set_path (NFLTR_DBUS_TRANSFER (self), "");
  nfltr_dbus_transfer_set_last_error (NFLTR_DBUS_TRANSFER (self), "");
  nfltr_dbus_transfer_set_directory (NFLTR_DBUS_TRANSFER (self), "");
  _nfltr_p2p_transfer_update_files_property (self);
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
      if (!_nfltr_p2p_transfer_collect (self->files, paths[i], base, error))
        return NULL;
    }
  self->chat_only = self->files->len == 0;
  self->paths = g_strdupv ((char **) paths);
  self->code = normalized != NULL ? g_steal_pointer (&normalized)
                                  : nfltr_p2p_code_generate (number, NFLTR_P2P_CODE_MAX_WORDS);
  self->offer_id = offer_id_for (number);
  nfltr_dbus_transfer_set_code (NFLTR_DBUS_TRANSFER (self), self->code);
  _nfltr_p2p_transfer_update_files_property (self);
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

const char * const *
nfltr_p2p_transfer_get_paths (NfltrP2pTransfer *self)
{
  return (const char * const *) self->paths;
}

gboolean
nfltr_p2p_transfer_is_final (NfltrP2pTransfer *self)
{
  return _nfltr_p2p_transfer_state_is_final (self->state);
}

void
nfltr_p2p_transfer_shutdown (NfltrP2pTransfer *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->progress_id, g_source_remove);
  g_clear_handle_id (&self->dump_id, g_source_remove);
  _nfltr_p2p_transfer_teardown_run (self);
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
