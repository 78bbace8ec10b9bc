/* nfltr-p2p-transfer-streams.c — the session's streams (docs/protocol.md §9.5): the control
 * stream's messages, and the dispatch of what the mux delivers to the control, chat and file
 * handlers. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"
#include "nfltr-p2p-call.h" /* issue 14: calls */

void
_nfltr_p2p_transfer_send_control (NfltrP2pTransfer *self, JsonObject *object)
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

void
_nfltr_p2p_transfer_all_done (NfltrP2pTransfer *self)
{
  _nfltr_p2p_transfer_emit_progress (self);
  nfltr_p2p_session_commit (self->session);
  _nfltr_p2p_transfer_pump (self);
  _nfltr_p2p_transfer_set_state (self, ST_DONE);
  if (self->sender)
    _nfltr_p2p_transfer_send_signal (self, NFLTR_P2P_OP_WITHDRAW, NULL, 0);
}

gboolean
_nfltr_p2p_transfer_every_file_done (NfltrP2pTransfer *self)
{
  for (guint i = 0; i < self->files->len; i++)
    if (!((FileEntry *) self->files->pdata[i])->done)
      return FALSE;
  return TRUE;
}

static void
take_control (NfltrP2pTransfer *self, JsonObject *m)
{
  const char *t = json_object_get_string_member_with_default (m, "t", "");

  if (!self->sender && g_str_equal (t, "manifest"))
    _nfltr_p2p_transfer_take_manifest (self, m);
  else if (self->sender && g_str_equal (t, "accept"))
    _nfltr_p2p_transfer_take_accept (self, m);
  else if (self->sender && g_str_equal (t, "decline"))
    {
      _nfltr_p2p_transfer_set_error (self, "the receiver declined");
      _nfltr_p2p_transfer_set_state (self, ST_DECLINED);
      _nfltr_p2p_transfer_send_signal (self, NFLTR_P2P_OP_WITHDRAW, NULL, 0);
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
                                          _nfltr_p2p_transfer_path_name (self), "");
      if (_nfltr_p2p_transfer_every_file_done (self))
        _nfltr_p2p_transfer_all_done (self);
    }
  else if (self->chat_only && g_str_equal (t, "bye"))
    {
      if (self->sender)
        _nfltr_p2p_transfer_send_signal (self, NFLTR_P2P_OP_WITHDRAW, NULL, 0);
      _nfltr_p2p_transfer_set_state (self, ST_DONE);
    }
  else if (g_str_equal (t, "failed"))
    {
      g_autofree char *msg = g_strdup_printf ("the peer failed: %s",
                                              json_object_get_string_member_with_default (m, "message", "?"));

      _nfltr_p2p_transfer_fail (self, msg);
    }
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
mux_data_cb (NfltrP2pMux *mux, guint32 stream, const guint8 *data, gsize len, gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;
  StreamIn *s = g_hash_table_lookup (self->streams, GUINT_TO_POINTER (stream));
  g_autoptr(GError) error = NULL;

  if (s == NULL || _nfltr_p2p_transfer_state_is_final (self->state))
    return;
  if (s->kind == NFLTR_P2P_STREAM_FILE && s->file >= 0)
    /* Credited once written (the writer's back-pressure). */
    _nfltr_p2p_transfer_file_bytes (self, stream, s, data, len, &error);
  else
    {
      nfltr_p2p_mux_consume (mux, stream, len);
      JsonObject *m;

      nfltr_p2p_framer_push (s->framer, data, len);
      while (error == NULL && !_nfltr_p2p_transfer_state_is_final (self->state) && (m = nfltr_p2p_framer_next (s->framer, &error)) != NULL)
        {
          if (s->kind == NFLTR_P2P_STREAM_CONTROL)
            take_control (self, m);
          else if (s->kind == NFLTR_P2P_STREAM_CHAT)
            _nfltr_p2p_transfer_take_chat (self, m);
          else if (s->kind == NFLTR_P2P_STREAM_CALL) /* issue 14: calls */
            nfltr_p2p_call_take_message (self->service, self, m);
          else if (s->kind == NFLTR_P2P_STREAM_FILE && _nfltr_p2p_transfer_begin_file (self, s, m, &error))
            {
              /* What the framer holds past the header is the file's first bytes. */
              g_autoptr(GBytes) rest = nfltr_p2p_framer_take_rest (s->framer);

              /* A file stream gets a larger window than the mux's default, so a relayed path
               * with tens of milliseconds of round trip is not capped at 256 KiB per trip. */
              nfltr_p2p_mux_consume (mux, stream, FILE_WINDOW - NFLTR_P2P_MUX_INITIAL_WINDOW);

              json_object_unref (m);
              _nfltr_p2p_transfer_file_bytes (self, stream, s, g_bytes_get_data (rest, NULL), g_bytes_get_size (rest),
                                              &error);
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
      _nfltr_p2p_transfer_send_control (self, m);
      _nfltr_p2p_transfer_pump (self);
      _nfltr_p2p_transfer_fail (self, error->message);
    }
}

static void
mux_finished_cb (NfltrP2pMux *mux, guint32 stream, gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;
  StreamIn *s = g_hash_table_lookup (self->streams, GUINT_TO_POINTER (stream));

  if (s == NULL || s->kind != NFLTR_P2P_STREAM_FILE || s->file < 0 || _nfltr_p2p_transfer_state_is_final (self->state))
    return;
  _nfltr_p2p_transfer_file_fin (self, stream, s);
}

const NfltrP2pMuxCallbacks _nfltr_p2p_transfer_mux_callbacks = {
  .opened = mux_opened_cb,
  .data = mux_data_cb,
  .finished = mux_finished_cb,
};
