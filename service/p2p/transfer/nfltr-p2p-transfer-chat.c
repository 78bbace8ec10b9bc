/* nfltr-p2p-transfer-chat.c — the chat stream of a session (docs/protocol.md §9.8): text
 * messages and their delivery receipts. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"

void
_nfltr_p2p_transfer_send_chat (NfltrP2pTransfer *self, JsonObject *object)
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

void
_nfltr_p2p_transfer_take_chat (NfltrP2pTransfer *self, JsonObject *m)
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
      _nfltr_p2p_transfer_send_chat (self, nfltr_p2p_chat_ack (id));
    }
}
