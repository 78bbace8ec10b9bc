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

/* What this side already holds of f: a .part whose state file names the same content. */
void
_nfltr_p2p_transfer_find_resume (NfltrP2pTransfer *self, FileEntry *f)
{
  g_autofree char *part = _nfltr_p2p_transfer_part_path (self, f);
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
  f->prefix = _nfltr_p2p_transfer_hex (digest, sizeof digest);
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
