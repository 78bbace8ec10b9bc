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

void
_nfltr_p2p_transfer_take_manifest (NfltrP2pTransfer *self, JsonObject *m)
{
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
  for (guint i = 0; i < self->files->len; i++)
    {
      FileEntry *f = self->files->pdata[i];

      if (!f->done)
        _nfltr_p2p_transfer_find_resume (self, f);
      else
        self->bytes_done += f->size;
    }
  if (self->yes || self->chat_only || !fresh)
    _nfltr_p2p_transfer_send_accept (self);
  else
    _nfltr_p2p_transfer_set_state (self, ST_OFFERED);
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
  return TRUE;
}

gboolean
_nfltr_p2p_transfer_finish_file (NfltrP2pTransfer *self, StreamIn *s, GError **error)
{
  FileEntry *f = self->files->pdata[s->file];
  guint8 digest[SHA256_DIGEST_SIZE];
  g_autofree char *got = NULL;
  g_autofree char *part = _nfltr_p2p_transfer_part_path (self, f);
  g_autofree char *state = g_strconcat (part, STATE_SUFFIX, NULL);
  g_autofree char *final = NULL;
  g_autofree char *wanted = g_build_filename (self->directory, f->name, NULL);
  JsonObject *m;

  if (!g_output_stream_close (f->out, NULL, error))
    return FALSE;
  g_clear_object (&f->out);
  sha256_digest (&f->hash, sizeof digest, digest);
  got = _nfltr_p2p_transfer_hex (digest, sizeof digest);
  if (f->received != f->size || !g_str_equal (got, f->sha256))
    {
      /* The .part is wrong: start it over next time rather than resume it. */
      g_unlink (state);
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED,
                   "%s arrived with SHA-256 %s, not the %s the sender announced", f->name, got, f->sha256);
      return FALSE;
    }
  final = _nfltr_p2p_transfer_free_name (wanted);
  if (g_rename (part, final) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot rename %s: %s", part, g_strerror (errno));
      return FALSE;
    }
  g_unlink (state);
  f->done = TRUE;
  f->saved_as = g_steal_pointer (&final);
  nfltr_dbus_transfer_emit_file_done (NFLTR_DBUS_TRANSFER (self), f->name, f->size, f->sha256,
                                      _nfltr_p2p_transfer_path_name (self), f->saved_as);
  m = json_object_new ();
  json_object_set_string_member (m, "t", "done");
  json_object_set_int_member (m, "index", s->file);
  _nfltr_p2p_transfer_send_control (self, m);
  if (_nfltr_p2p_transfer_every_file_done (self))
    _nfltr_p2p_transfer_all_done (self);
  return TRUE;
}

void
_nfltr_p2p_transfer_file_bytes (NfltrP2pTransfer *self, StreamIn *s, const guint8 *data, gsize len, GError **error)
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
