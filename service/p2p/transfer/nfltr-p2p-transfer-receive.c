/* nfltr-p2p-transfer-receive.c — the receiver's side of a transfer: the manifest checked and
 * answered (with what a resume can keep), each file stream written to NAME.part, checked
 * against its SHA-256 and renamed to a name that overwrites nothing. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"

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

void
_nfltr_p2p_transfer_send_accept (NfltrP2pTransfer *self)
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
  _nfltr_p2p_transfer_send_control (self, m);
  self->accepted = TRUE;
  _nfltr_p2p_transfer_set_state (self, self->chat_only ? ST_CONNECTED : ST_TRANSFERRING);
  if (_nfltr_p2p_transfer_every_file_done (self) && !self->chat_only)
    _nfltr_p2p_transfer_all_done (self);
  _nfltr_p2p_transfer_pump (self);
}

/* What a resume keeps is known (hashed off the main thread): answer, or ask the user. */
static void
resumed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (source);
  g_autoptr(GPtrArray) jobs = _nfltr_p2p_transfer_hash_prefixes_finish (self, result);

  if (jobs == NULL)
    return;
  for (guint i = 0; i < jobs->len; i++)
    {
      PrefixJob *job = jobs->pdata[i];
      FileEntry *f = self->files->pdata[job->index];

      f->hash = job->hash;
      f->offset = job->length;
      g_free (f->prefix);
      f->prefix = g_steal_pointer (&job->prefix);
    }
  if (self->yes || self->chat_only || !self->fresh)
    _nfltr_p2p_transfer_send_accept (self);
  else
    _nfltr_p2p_transfer_set_state (self, ST_OFFERED);
}

void
_nfltr_p2p_transfer_take_manifest (NfltrP2pTransfer *self, JsonObject *m)
{
  g_autoptr(GPtrArray) jobs = NULL;
  JsonArray *files = json_object_get_array_member (m, "files");
  gboolean fresh = self->files->len == 0;

  if (self->manifest_seen || files == NULL)
    {
      _nfltr_p2p_transfer_fail (self, "the sender's manifest is malformed");
      return;
    }
  self->manifest_seen = TRUE;
  if (!fresh && json_array_get_length (files) != self->files->len)
    {
      _nfltr_p2p_transfer_fail (self, "the sender now offers other files");
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

          _nfltr_p2p_transfer_fail (self, msg);
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
              _nfltr_p2p_transfer_fail (self, "the sender now offers other files");
              return;
            }
        }
    }
  self->chat_only = self->files->len == 0;
  _nfltr_p2p_transfer_update_files_property (self);
  self->bytes_done = 0;
  self->fresh = fresh;
  jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) _nfltr_p2p_transfer_prefix_job_free);
  for (guint i = 0; i < self->files->len; i++)
    {
      FileEntry *f = self->files->pdata[i];

      if (!f->done)
        g_ptr_array_add (jobs, _nfltr_p2p_transfer_prefix_job_for_part (self, i));
      else
        self->bytes_done += f->size;
    }
  _nfltr_p2p_transfer_hash_prefixes_async (self, jobs, resumed_cb);
}

/* The receiver: a file stream's header names the entry and the offset it starts from. */
gboolean
_nfltr_p2p_transfer_begin_file (NfltrP2pTransfer *self, StreamIn *s, JsonObject *h, GError **error)
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
  part = _nfltr_p2p_transfer_part_path (self, f);
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
  s->pending = g_byte_array_new ();
  return TRUE;
}

/* One write on the worker: the bytes that waited, with the file's running hash; with fin,
 * then the close, the check against the announced SHA-256 and the rename to a free name. */
typedef struct {
  guint32 stream;
  gint file;
  GOutputStream *out;
  GBytes *data;
  struct sha256_ctx hash;
  gboolean fin;
  gboolean complete; /* fin: everything announced arrived */
  char *part;
  char *wanted;
  char *sha256;
  /* results */
  char *got;
  char *final;
} WriteJob;

static void
write_job_free (WriteJob *job)
{
  g_clear_object (&job->out);
  g_clear_pointer (&job->data, g_bytes_unref);
  g_free (job->part);
  g_free (job->wanted);
  g_free (job->sha256);
  g_free (job->got);
  g_free (job->final);
  g_free (job);
}

static void
write_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WriteJob *job = task_data;
  g_autofree char *state = NULL;
  guint8 digest[SHA256_DIGEST_SIZE];
  GError *error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (job->data, &len);

  if (len > 0 && !g_output_stream_write_all (job->out, data, len, NULL, NULL, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  sha256_update (&job->hash, len, data);
  if (!job->fin)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (!g_output_stream_close (job->out, NULL, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  state = g_strconcat (job->part, STATE_SUFFIX, NULL);
  sha256_digest (&job->hash, sizeof digest, digest);
  job->got = _nfltr_p2p_transfer_hex (digest, sizeof digest);
  if (!job->complete || !g_str_equal (job->got, job->sha256))
    {
      /* The .part is wrong: start it over next time rather than resume it. */
      g_unlink (state);
      g_task_return_boolean (task, TRUE);
      return;
    }
  job->final = _nfltr_p2p_transfer_free_name (job->wanted);
  if (g_rename (job->part, job->final) != 0)
    {
      int e = errno;

      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (e), "cannot rename %s: %s", job->part,
                               g_strerror (e));
      return;
    }
  g_unlink (state);
  g_task_return_boolean (task, TRUE);
}

static void write_next (NfltrP2pTransfer *self, guint32 stream, StreamIn *s);

static void
receive_failed (NfltrP2pTransfer *self, const char *message)
{
  JsonObject *m = json_object_new ();

  json_object_set_string_member (m, "t", "failed");
  json_object_set_string_member (m, "message", message);
  _nfltr_p2p_transfer_send_control (self, m);
  _nfltr_p2p_transfer_pump (self);
  _nfltr_p2p_transfer_fail (self, message);
}

static void
written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (source);
  WriteJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  StreamIn *s;
  FileEntry *f;
  JsonObject *m;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (GPOINTER_TO_UINT (user_data) == self->run_serial && !_nfltr_p2p_transfer_state_is_final (self->state))
        receive_failed (self, error->message);
      return;
    }
  /* A run that ended meanwhile dropped its streams; what was written stays in the .part. */
  s = g_hash_table_lookup (self->streams, GUINT_TO_POINTER (job->stream));
  if (GPOINTER_TO_UINT (user_data) != self->run_serial || s == NULL || self->session == NULL
      || _nfltr_p2p_transfer_state_is_final (self->state))
    return;
  s->writing = FALSE;
  f = self->files->pdata[job->file];
  f->hash = job->hash;
  self->bytes_done += g_bytes_get_size (job->data);
  nfltr_p2p_mux_consume (nfltr_p2p_session_get_mux (self->session), job->stream, g_bytes_get_size (job->data));
  if (!job->fin)
    {
      write_next (self, job->stream, s);
      _nfltr_p2p_transfer_pump (self);
      return;
    }
  g_clear_object (&f->out);
  if (job->final == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("%s arrived with SHA-256 %s, not the %s the sender announced", f->name,
                                              job->got, f->sha256);

      receive_failed (self, msg);
      return;
    }
  f->done = TRUE;
  f->saved_as = g_steal_pointer (&job->final);
  nfltr_dbus_transfer_emit_file_done (NFLTR_DBUS_TRANSFER (self), f->name, f->size, f->sha256,
                                      _nfltr_p2p_transfer_path_name (self), f->saved_as);
  m = json_object_new ();
  json_object_set_string_member (m, "t", "done");
  json_object_set_int_member (m, "index", job->file);
  _nfltr_p2p_transfer_send_control (self, m);
  if (_nfltr_p2p_transfer_every_file_done (self))
    _nfltr_p2p_transfer_all_done (self);
  _nfltr_p2p_transfer_pump (self);
}

/* Hands what waits to the worker, one write at a time per stream, so the writes keep their
 * order and the main loop never waits for the disk. */
static void
write_next (NfltrP2pTransfer *self, guint32 stream, StreamIn *s)
{
  FileEntry *f = self->files->pdata[s->file];
  g_autoptr(GTask) task = NULL;
  WriteJob *job;

  if (s->writing || (s->pending->len == 0 && !s->fin))
    return;
  job = g_new0 (WriteJob, 1);
  job->stream = stream;
  job->file = s->file;
  job->out = g_object_ref (f->out);
  job->data = g_byte_array_free_to_bytes (g_steal_pointer (&s->pending));
  s->pending = g_byte_array_new ();
  job->hash = f->hash;
  job->fin = s->fin;
  if (job->fin)
    {
      job->complete = f->received == f->size;
      job->part = _nfltr_p2p_transfer_part_path (self, f);
      job->wanted = g_build_filename (self->directory, f->name, NULL);
      job->sha256 = g_strdup (f->sha256);
    }
  s->writing = TRUE;
  task = g_task_new (self, NULL, written_cb, GUINT_TO_POINTER (self->run_serial));
  g_task_set_task_data (task, job, (GDestroyNotify) write_job_free);
  g_task_run_in_thread (task, write_thread);
}

/* The sender finished the stream: after the writes, close, check and rename (on the worker). */
void
_nfltr_p2p_transfer_file_fin (NfltrP2pTransfer *self, guint32 stream, StreamIn *s)
{
  if (s->fin || s->pending == NULL)
    return;
  s->fin = TRUE;
  write_next (self, stream, s);
}

void
_nfltr_p2p_transfer_file_bytes (NfltrP2pTransfer *self, guint32 stream, StreamIn *s, const guint8 *data, gsize len,
                                GError **error)
{
  FileEntry *f = self->files->pdata[s->file];

  if (len == 0)
    return;
  if (f->out == NULL || s->fin || f->received + len > f->size)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED, "%s is longer than announced", f->name);
      return;
    }
  g_byte_array_append (s->pending, data, len);
  f->received += len;
  write_next (self, stream, s);
}
