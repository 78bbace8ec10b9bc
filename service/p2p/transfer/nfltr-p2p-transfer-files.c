/* nfltr-p2p-transfer-files.c — the files on disk: the sender's paths collected and hashed
 * (off the main thread), the receiver's .part files with their state files, what a resume can
 * keep, and a free name for the finished file. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"

char *
_nfltr_p2p_transfer_part_path (NfltrP2pTransfer *self, FileEntry *f)
{
  g_autofree char *rel = g_strconcat (f->name, ".part", NULL);

  return g_build_filename (self->directory, rel, NULL);
}

void
_nfltr_p2p_transfer_prefix_job_free (PrefixJob *job)
{
  g_free (job->path);
  g_free (job->state);
  g_free (job->sha256);
  g_free (job->expected);
  g_free (job->prefix);
  g_free (job);
}

/* The receiver: what this side already holds of f — a .part whose state file names the same
 * content (checked and hashed on the worker). */
PrefixJob *
_nfltr_p2p_transfer_prefix_job_for_part (NfltrP2pTransfer *self, guint index)
{
  FileEntry *f = self->files->pdata[index];
  PrefixJob *job = g_new0 (PrefixJob, 1);

  job->index = index;
  job->path = _nfltr_p2p_transfer_part_path (self, f);
  job->state = g_strconcat (job->path, STATE_SUFFIX, NULL);
  job->sha256 = g_strdup (f->sha256);
  job->size = f->size;
  return job;
}

/* The sender: its own first LENGTH bytes of f, to check the receiver's claim (EXPECTED). */
PrefixJob *
_nfltr_p2p_transfer_prefix_job_for_source (NfltrP2pTransfer *self, guint index, guint64 length, const char *expected)
{
  FileEntry *f = self->files->pdata[index];
  PrefixJob *job = g_new0 (PrefixJob, 1);

  job->index = index;
  job->path = g_strdup (f->source);
  job->length = length;
  job->expected = g_strdup (expected);
  return job;
}

/* Whether the receiver's .part may be resumed: its state file names the same content. Sets
 * job->length to what it holds. */
static gboolean
part_is_resumable (PrefixJob *job)
{
  g_autofree char *contents = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;
  GStatBuf st;

  if (!g_file_get_contents (job->state, &contents, NULL, NULL)
      || !json_parser_load_from_data (parser, contents, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return FALSE;
  o = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (o, "sha256", ""), job->sha256) != 0
      || (guint64) json_object_get_int_member_with_default (o, "size", -1) != job->size
      || g_stat (job->path, &st) != 0 || (guint64) st.st_size > job->size)
    return FALSE;
  job->length = st.st_size;
  return TRUE;
}

/* Hashes each job's prefix: job->hash is the running hash after job->length bytes and
 * job->prefix its hex digest, or length 0 and no prefix when the file is shorter or gone. */
static void
prefix_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GPtrArray *jobs = task_data;
  g_autofree guint8 *buf = g_malloc (READ_CHUNK);

  for (guint i = 0; i < jobs->len; i++)
    {
      PrefixJob *job = jobs->pdata[i];
      guint8 digest[SHA256_DIGEST_SIZE];
      struct sha256_ctx ctx;
      guint64 left;
      FILE *fp;

      sha256_init (&job->hash);
      if (job->state != NULL && !part_is_resumable (job))
        {
          job->length = 0;
          continue;
        }
      fp = g_fopen (job->path, "rb");
      left = fp != NULL ? job->length : 1;
      while (fp != NULL && left > 0)
        {
          size_t n = fread (buf, 1, MIN (READ_CHUNK, left), fp);

          if (n == 0 || g_cancellable_is_cancelled (cancellable))
            break;
          sha256_update (&job->hash, n, buf);
          left -= n;
        }
      if (fp != NULL)
        fclose (fp);
      if (g_task_return_error_if_cancelled (task))
        return;
      if (left != 0)
        {
          sha256_init (&job->hash);
          job->length = 0;
          continue;
        }
      ctx = job->hash;
      sha256_digest (&ctx, sizeof digest, digest);
      job->prefix = _nfltr_p2p_transfer_hex (digest, sizeof digest);
    }
  g_task_return_pointer (task, g_ptr_array_ref (jobs), (GDestroyNotify) g_ptr_array_unref);
}

/* Prefixes are hashed on a worker thread: a resumed .part of some GiB would stall the main
 * loop (D-Bus, chat, the other transfers) for seconds. The callback gets the run it was
 * asked for in user_data; it drops the result when that run is over. */
void
_nfltr_p2p_transfer_hash_prefixes_async (NfltrP2pTransfer   *self,
                                         GPtrArray          *jobs,
                                         GAsyncReadyCallback callback)
{
  g_autoptr(GTask) task = g_task_new (self, self->cancellable, callback, GUINT_TO_POINTER (self->run_serial));

  g_task_set_task_data (task, g_ptr_array_ref (jobs), (GDestroyNotify) g_ptr_array_unref);
  g_task_run_in_thread (task, prefix_thread);
}

/* NULL when cancelled or when the run that asked is over. */
GPtrArray *
_nfltr_p2p_transfer_hash_prefixes_finish (NfltrP2pTransfer *self,
                                          GAsyncResult     *result)
{
  g_autoptr(GPtrArray) jobs = g_task_propagate_pointer (G_TASK (result), NULL);

  if (jobs == NULL || GPOINTER_TO_UINT (g_async_result_get_user_data (result)) != self->run_serial
      || self->session == NULL || _nfltr_p2p_transfer_state_is_final (self->state))
    return NULL;
  return g_steal_pointer (&jobs);
}

/* "name (1).ext", "name (2).ext", …: never over an existing file. */
char *
_nfltr_p2p_transfer_free_name (const char *path)
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

void
_nfltr_p2p_transfer_hash_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
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
      f->sha256 = _nfltr_p2p_transfer_hex (digest, sizeof digest);
      f->size = total;
    }
  g_task_return_boolean (task, TRUE);
}

void
_nfltr_p2p_transfer_hashed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (source);
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _nfltr_p2p_transfer_fail (self, error->message);
      return;
    }
  _nfltr_p2p_transfer_update_files_property (self);
  _nfltr_p2p_transfer_set_state (self, ST_WAITING);
  _nfltr_p2p_transfer_offer (self);
}

gboolean
_nfltr_p2p_transfer_collect (GPtrArray *files, const char *path, const char *name, GError **error)
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

          if (!_nfltr_p2p_transfer_collect (files, child, child_name, error))
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
