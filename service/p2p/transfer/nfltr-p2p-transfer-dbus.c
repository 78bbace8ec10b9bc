/* nfltr-p2p-transfer-dbus.c — the methods of xyz.nfltr.Nfltr.Transfer: Accept, Decline,
 * Cancel, Resume and SendMessage. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"

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
  _nfltr_p2p_transfer_send_accept (self);
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
      _nfltr_p2p_transfer_send_control (self, m);
      _nfltr_p2p_transfer_pump (self);
      _nfltr_p2p_transfer_set_state (self, ST_DECLINED);
    }
  nfltr_dbus_transfer_complete_decline (iface, invocation);
  return TRUE;
}

static gboolean
handle_cancel (NfltrDbusTransfer *iface, GDBusMethodInvocation *invocation)
{
  NfltrP2pTransfer *self = NFLTR_P2P_TRANSFER (iface);

  if (!_nfltr_p2p_transfer_state_is_final (self->state))
    {
      if (self->session != NULL)
        {
          JsonObject *m = json_object_new ();

          /* Leaving a chat is its normal end; cancelling a transfer is not. */
          json_object_set_string_member (m, "t", self->chat_only ? "bye" : "failed");
          json_object_set_string_member (m, "message", "cancelled");
          _nfltr_p2p_transfer_send_control (self, m);
          _nfltr_p2p_transfer_pump (self);
        }
      if (self->sender)
        _nfltr_p2p_transfer_send_signal (self, NFLTR_P2P_OP_WITHDRAW, NULL, 0);
      else
        _nfltr_p2p_transfer_end_run (self, NFLTR_P2P_END_CLOSED);
      _nfltr_p2p_transfer_teardown_run (self);
      _nfltr_p2p_transfer_set_error (self, "cancelled");
      _nfltr_p2p_transfer_set_state (self, ST_CANCELLED);
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
      _nfltr_p2p_transfer_claim (self);
    }
  else if (self->sender && !_nfltr_p2p_transfer_state_is_final (self->state))
    _nfltr_p2p_transfer_offer (self);
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
  _nfltr_p2p_transfer_send_chat (self, nfltr_p2p_chat_text (id, text));
  _nfltr_p2p_transfer_pump (self);
  nfltr_dbus_transfer_complete_send_message (iface, invocation, id);
  return TRUE;
}

void
_nfltr_p2p_transfer_iface_init (NfltrDbusTransferIface *iface)
{
  iface->handle_accept = handle_accept;
  iface->handle_decline = handle_decline;
  iface->handle_cancel = handle_cancel;
  iface->handle_resume = handle_resume;
  iface->handle_send_message = handle_send_message;
}
