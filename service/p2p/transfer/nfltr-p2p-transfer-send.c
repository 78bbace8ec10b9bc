/* nfltr-p2p-transfer-send.c — the sender's side of a transfer: the manifest, the receiver's
 * answer (with the prefix it holds, checked against our file), and the file feed into the
 * mux, as much as the stream's window takes. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"

void
_nfltr_p2p_transfer_send_manifest (NfltrP2pTransfer *self)
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
  _nfltr_p2p_transfer_send_control (self, m);
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

      _nfltr_p2p_transfer_fail (self, msg);
      return;
    }
  self->file_stream = nfltr_p2p_mux_open (mux, NFLTR_P2P_STREAM_FILE, &error);
  h = json_object_new ();
  json_object_set_int_member (h, "index", self->current);
  json_object_set_int_member (h, "offset", (gint64) f->offset);
  header = nfltr_p2p_message_pack (h);
  json_object_unref (h);
  nfltr_p2p_mux_write (mux, self->file_stream, g_bytes_get_data (header, NULL), g_bytes_get_size (header), NULL);
  self->to_send = self->to_read = f->size - f->offset;
  g_byte_array_set_size (self->ready, 0);
  self->ready_off = 0;
  self->reading = FALSE;
  self->read_serial++;
  self->bytes_done += f->offset;
}

typedef struct {
  GInputStream *in;
  gsize want;
  GBytes *data; /* result */
} ReadJob;

static void
read_job_free (ReadJob *job)
{
  g_clear_object (&job->in);
  g_clear_pointer (&job->data, g_bytes_unref);
  g_free (job);
}

static void
read_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ReadJob *job = task_data;
  g_autofree guint8 *buf = g_malloc (job->want);
  gsize got = 0;
  GError *error = NULL;

  if (!g_input_stream_read_all (job->in, buf, job->want, &got, NULL, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  job->data = g_bytes_new_take (g_steal_pointer (&buf), got);
  g_task_return_boolean (task, TRUE);
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (source);
  ReadJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);

  /* A file or a run that ended meanwhile has no use for it. */
  if (GPOINTER_TO_UINT (user_data) != self->read_serial || self->session == NULL
      || _nfltr_p2p_transfer_state_is_final (self->state))
    return;
  self->reading = FALSE;
  if (!ok || g_bytes_get_size (job->data) < job->want)
    {
      _nfltr_p2p_transfer_fail (self, ok ? "a file being sent got shorter" : error->message);
      return;
    }
  g_byte_array_append (self->ready, g_bytes_get_data (job->data, NULL), g_bytes_get_size (job->data));
  _nfltr_p2p_transfer_pump (self);
}

/* The next read of the file being sent, on a worker: the main loop never waits for the disk. */
static void
read_ahead (NfltrP2pTransfer *self)
{
  g_autoptr(GTask) task = NULL;
  ReadJob *job;

  if (self->reading || self->to_read == 0 || self->ready->len - self->ready_off >= READ_AHEAD)
    return;
  if (self->ready_off > 0)
    {
      g_byte_array_remove_range (self->ready, 0, self->ready_off);
      self->ready_off = 0;
    }
  job = g_new0 (ReadJob, 1);
  job->in = g_object_ref (self->in);
  job->want = MIN (READ_BATCH, self->to_read);
  self->to_read -= job->want;
  self->reading = TRUE;
  task = g_task_new (self, NULL, read_cb, GUINT_TO_POINTER (self->read_serial));
  g_task_set_task_data (task, job, (GDestroyNotify) read_job_free);
  g_task_run_in_thread (task, read_thread);
}

void
_nfltr_p2p_transfer_feed (NfltrP2pTransfer *self)
{
  NfltrP2pMux *mux = nfltr_p2p_session_get_mux (self->session);

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
      while (self->to_send > 0 && self->ready->len > self->ready_off
             && nfltr_p2p_mux_get_queued (mux, self->file_stream) < FEED_AHEAD)
        {
          gsize n = MIN (MIN (self->ready->len - self->ready_off, self->to_send), READ_CHUNK);

          nfltr_p2p_mux_write (mux, self->file_stream, self->ready->data + self->ready_off, n, NULL);
          self->ready_off += n;
          self->to_send -= n;
          self->bytes_done += n;
        }
      read_ahead (self);
      if (self->to_send > 0)
        return;
      nfltr_p2p_mux_finish (mux, self->file_stream, NULL);
      g_input_stream_close (self->in, NULL, NULL);
      g_clear_object (&self->in);
      self->file_stream = 0;
      self->current++;
    }
}

/* The sender: the receiver's answer, with what it already holds. */
static void checked_cb (GObject *source, GAsyncResult *result, gpointer user_data);

void
_nfltr_p2p_transfer_take_accept (NfltrP2pTransfer *self, JsonObject *m)
{
  JsonArray *files = json_object_get_array_member (m, "files");
  g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) _nfltr_p2p_transfer_prefix_job_free);

  if (files == NULL || json_array_get_length (files) != self->files->len)
    {
      _nfltr_p2p_transfer_fail (self, "the receiver's answer is malformed");
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
      /* The sender re-hashes its own prefix (off the main thread): a .part that differs
       * starts over. */
      if (offset > 0 && (guint64) offset <= f->size)
        g_ptr_array_add (jobs, _nfltr_p2p_transfer_prefix_job_for_source (self, i, offset, prefix));
    }
  _nfltr_p2p_transfer_hash_prefixes_async (self, jobs, checked_cb);
}

/* The receiver's prefixes are checked against ours: send from there. */
static void
checked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (source);
  g_autoptr(GPtrArray) jobs = _nfltr_p2p_transfer_hash_prefixes_finish (self, result);

  if (jobs == NULL)
    return;
  for (guint i = 0; i < jobs->len; i++)
    {
      PrefixJob *job = jobs->pdata[i];
      FileEntry *f = self->files->pdata[job->index];

      if (job->prefix != NULL && g_str_equal (job->prefix, job->expected))
        f->offset = job->length;
      else
        g_message ("transfer %s: the receiver's %s differs from ours: sending it whole", self->id, f->name);
    }
  self->current = 0;
  self->accepted = TRUE;
  self->last_bytes = self->bytes_done;
  _nfltr_p2p_transfer_set_state (self, self->chat_only ? ST_CONNECTED : ST_TRANSFERRING);
  if (!self->chat_only && _nfltr_p2p_transfer_every_file_done (self))
    _nfltr_p2p_transfer_all_done (self);
  _nfltr_p2p_transfer_pump (self);
}
