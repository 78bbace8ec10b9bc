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
  self->to_send = f->size - f->offset;
  self->bytes_done += f->offset;
}

void
_nfltr_p2p_transfer_feed (NfltrP2pTransfer *self)
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
              _nfltr_p2p_transfer_fail (self, n == 0 ? "a file being sent got shorter" : error->message);
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

/* The sender: the receiver's answer, with what it already holds. */
void
_nfltr_p2p_transfer_take_accept (NfltrP2pTransfer *self, JsonObject *m)
{
  JsonArray *files = json_object_get_array_member (m, "files");

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
          mine = _nfltr_p2p_transfer_hex (digest, sizeof digest);
          if (left == 0 && g_str_equal (mine, prefix))
            f->offset = offset;
          else
            g_message ("transfer %s: the receiver's %s differs from ours: sending it whole", self->id, f->name);
        }
    }
  self->current = 0;
  self->accepted = TRUE;
  self->last_bytes = self->bytes_done;
  _nfltr_p2p_transfer_set_state (self, self->chat_only ? ST_CONNECTED : ST_TRANSFERRING);
  if (!self->chat_only && _nfltr_p2p_transfer_every_file_done (self))
    _nfltr_p2p_transfer_all_done (self);
}
