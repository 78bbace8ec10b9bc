/* nfltr-p2p-transfer-run.c — a run of a transfer (docs/protocol.md §9.7): the OFFER and the
 * CLAIM at the relay, the frames from the relay, the records pumped onto the chosen path, and
 * the end of a run (interrupted and retried, or over). */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"

void
_nfltr_p2p_transfer_send_signal (NfltrP2pTransfer *self, NfltrP2pOp op, const guint8 *data, gsize len)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  g_autoptr(NfltrFrame) frame = nfltr_frame_new (NFLTR_FRAME_P2P_SIGNAL);
  guint8 empty = 0;

  if (link == NULL)
    return;
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->offer_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, data != NULL ? data : &empty, data != NULL ? len : 1);
  if (op != NFLTR_P2P_OP_FORWARD)
    nfltr_frame_set_u8 (frame, NFLTR_ATTR_P2P_OP, op);
  nfltr_relay_link_send (link, frame);
}

void
_nfltr_p2p_transfer_send_message (NfltrP2pTransfer *self, GBytes *message)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  _nfltr_p2p_transfer_send_signal (self, NFLTR_P2P_OP_FORWARD, data, len);
}

static void
close_files (NfltrP2pTransfer *self)
{
  for (guint i = 0; i < self->files->len; i++)
    {
      FileEntry *f = self->files->pdata[i];

      if (f->out != NULL)
        g_output_stream_close (f->out, NULL, NULL);
      g_clear_object (&f->out);
    }
  if (self->in != NULL)
    g_input_stream_close (self->in, NULL, NULL);
  g_clear_object (&self->in);
  self->file_stream = 0;
  self->to_send = 0;
  self->to_read = 0;
  g_byte_array_set_size (self->ready, 0);
  self->ready_off = 0;
  self->reading = FALSE;
  self->read_serial++;
}

/* Drops the run's session and handshake; the transfer itself goes on. */
void
_nfltr_p2p_transfer_teardown_run (NfltrP2pTransfer *self)
{
  if (self->session != NULL)
    _nfltr_p2p_transfer_keep_my_chains (self);
  close_files (self);
  g_clear_pointer (&self->session, nfltr_p2p_session_free);
  g_clear_pointer (&self->hs, nfltr_p2p_handshake_free);
  g_clear_pointer (&self->direct, nfltr_p2p_direct_free);
  g_clear_handle_id (&self->ice_wait_id, g_source_remove);
  g_byte_array_set_size (self->direct_out, 0);
  g_byte_array_set_size (self->early, 0);
  self->direct_off = 0;
  self->path = PATH_NONE;
  g_hash_table_remove_all (self->streams);
  self->control = self->chat = 0;
  self->call = 0; /* issue 14: calls */
  self->accepted = FALSE;
  self->manifest_seen = FALSE;
  self->dump_sent = FALSE;
  self->run_serial++;
  self->window_sent = FALSE;
  self->audit_answerer = FALSE;
}

static gboolean
retry_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  self->retry_id = 0;
  if (self->state == ST_INTERRUPTED)
    _nfltr_p2p_transfer_claim (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (NfltrP2pTransfer *self)
{
  if (self->sender || self->retry_id != 0 || _nfltr_p2p_transfer_state_is_final (self->state))
    return;
  self->retry_id = g_timeout_add_seconds (RETRY_INTERVAL_S, retry_cb, self);
}

/* The run broke without anybody being at fault: try again (receiver) or wait (sender). */
void
_nfltr_p2p_transfer_interrupted (NfltrP2pTransfer *self, const char *why)
{
  gboolean was_running = self->session != NULL;

  if (_nfltr_p2p_transfer_state_is_final (self->state))
    return;
  _nfltr_p2p_transfer_teardown_run (self);
  self->claimed = self->sender ? self->claimed : FALSE;
  if (why != NULL)
    _nfltr_p2p_transfer_set_error (self, why);
  if (!was_running && !self->sender && self->state != ST_INTERRUPTED)
    {
      _nfltr_p2p_transfer_set_state (self, ST_FAILED);
      return;
    }
  _nfltr_p2p_transfer_set_state (self, self->sender && !was_running ? ST_WAITING : ST_INTERRUPTED);
  schedule_retry (self);
}

/* The direct path: records go through pseudo-TCP, as much as its window takes. */
static void
pump_direct (NfltrP2pTransfer *self)
{
  while (self->session != NULL && self->direct != NULL)
    {
      gssize sent;

      if (self->direct_off == self->direct_out->len)
        {
          g_autoptr(GError) error = NULL;

          g_byte_array_set_size (self->direct_out, 0);
          self->direct_off = 0;
          _nfltr_p2p_transfer_feed (self);
          if (self->session == NULL)
            return;
          if (!nfltr_p2p_session_pull (self->session, self->direct_out, DIRECT_BATCH, &error))
            {
              _nfltr_p2p_transfer_session_broken (self, error);
              return;
            }
          if (self->direct_out->len == 0)
            return;
        }
      sent = nfltr_p2p_direct_send (self->direct, self->direct_out->data + self->direct_off,
                                    self->direct_out->len - self->direct_off);
      if (sent <= 0)
        return; /* the window is full: reliable-transport-writable calls again */
      self->direct_off += sent;
    }
}

void
_nfltr_p2p_transfer_pump (NfltrP2pTransfer *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);

  if (self->session == NULL || self->path == PATH_NONE)
    return;
  if (self->path == PATH_DIRECT)
    {
      pump_direct (self);
      return;
    }
  _nfltr_p2p_transfer_feed (self);
  while (self->session != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NfltrFrame) frame = NULL;

      g_byte_array_set_size (self->wire, 0);
      if (!nfltr_p2p_session_pull (self->session, self->wire, 1, &error))
        {
          _nfltr_p2p_transfer_session_broken (self, error);
          return;
        }
      if (self->wire->len == 0)
        return;
      if (link == NULL)
        continue;
      /* One record per frame: the relay forwards them as they are (§9.7). */
      frame = nfltr_frame_new (NFLTR_FRAME_P2P_RELAY);
      nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->offer_id);
      nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, self->wire->data, self->wire->len);
      nfltr_relay_link_send (link, frame);
    }
}

void
nfltr_p2p_transfer_handle_frame (NfltrP2pTransfer *self,
                                 const NfltrFrame *frame)
{
  gsize len;
  const guint8 *data = nfltr_frame_get_bytes (frame, NFLTR_ATTR_DATA, &len);
  guint8 op = NFLTR_P2P_OP_FORWARD;

  if (_nfltr_p2p_transfer_state_is_final (self->state) && self->state != ST_FAILED)
    return;
  if (nfltr_frame_get_type (frame) == NFLTR_FRAME_P2P_RELAY)
    {
      g_autoptr(GError) error = NULL;

      if (self->session == NULL)
        return;
      if (!self->sender)
        _nfltr_p2p_transfer_choose_path (self, PATH_RELAYED);
      if (self->state == ST_FAILED)
        {
          /* Recorded for the audit only: the session already failed. */
          nfltr_p2p_session_push (self->session, data, len, NULL);
          return;
        }
      if (!nfltr_p2p_session_push (self->session, data, len, &error))
        {
          _nfltr_p2p_transfer_session_broken (self, error);
          return;
        }
      _nfltr_p2p_transfer_pump (self);
      return;
    }
  nfltr_frame_get_u8 (frame, NFLTR_ATTR_P2P_OP, &op);
  switch ((NfltrP2pOp) op)
    {
      case NFLTR_P2P_OP_FORWARD:
        if (len > 0 && (data[0] == AUDIT_DUMP_MAGIC || data[0] == AUDIT_WINDOW_MAGIC))
          {
            _nfltr_p2p_transfer_take_audit_dump (self, data, len);
            return;
          }
        if (self->state != ST_FAILED)
          _nfltr_p2p_transfer_take_pairing_message (self, data, len);
        return;
      case NFLTR_P2P_OP_CLAIMED:
        if (self->sender && self->state != ST_FAILED)
          _nfltr_p2p_transfer_start_pairing (self);
        return;
      case NFLTR_P2P_OP_END:
        if (self->state == ST_FAILED)
          {
            _nfltr_p2p_transfer_teardown_run (self);
            return;
          }
        if (self->state == ST_DONE)
          return;
        if (len >= 1 && data[0] == NFLTR_P2P_END_FAILED && self->hs != NULL)
          {
            g_autoptr (GError) error =
              g_error_new_literal (NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH, "the code did not match");

            _nfltr_p2p_transfer_pairing_failed (self, error);
            return;
          }
        _nfltr_p2p_transfer_interrupted (self, self->session != NULL ? "the connection to the peer broke; resuming" : NULL);
        return;
      case NFLTR_P2P_OP_GONE:
        if (self->sender && !_nfltr_p2p_transfer_state_is_final (self->state))
          {
            const char *last = nfltr_dbus_transfer_get_last_error (NFLTR_DBUS_TRANSFER (self));
            g_autofree char *msg =
              g_strdup_printf ("%s%sthe offer is closed (it expired or its two tries are used up)",
                               last && *last ? last : "", last && *last ? "; " : "");

            _nfltr_p2p_transfer_teardown_run (self);
            _nfltr_p2p_transfer_fail (self, msg);
          }
        return;
      case NFLTR_P2P_OP_OFFER:
      case NFLTR_P2P_OP_CLAIM:
      case NFLTR_P2P_OP_OK:
      case NFLTR_P2P_OP_WITHDRAW:
      default: return;
    }
}

static void
offer_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrP2pTransfer) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);

  if (reply == NULL)
    {
      g_debug ("offer not registered yet: %s", error->message);
      return;
    }
  if (nfltr_frame_get_type (reply) == NFLTR_FRAME_ERROR)
    {
      g_autofree char *msg = g_strdup_printf ("the relay refused the offer: %s",
                                              nfltr_frame_get_string (reply, NFLTR_ATTR_MESSAGE));

      _nfltr_p2p_transfer_fail (self, msg);
      return;
    }
  self->claimed = TRUE;
  if (self->state == ST_PREPARING)
    _nfltr_p2p_transfer_set_state (self, ST_WAITING);
}

void
_nfltr_p2p_transfer_offer (NfltrP2pTransfer *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  g_autoptr(NfltrFrame) frame = NULL;
  guint8 empty = 0;

  if (link == NULL || self->state == ST_PREPARING || _nfltr_p2p_transfer_state_is_final (self->state))
    return;
  frame = nfltr_frame_new (NFLTR_FRAME_P2P_SIGNAL);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->offer_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, &empty, 1);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_P2P_OP, NFLTR_P2P_OP_OFFER);
  nfltr_relay_link_request_async (link, frame, self->cancellable, offer_cb, g_object_ref (self));
}

static gboolean
first_retry_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  self->retry_id = 0;
  if (self->state == ST_WAITING)
    _nfltr_p2p_transfer_claim (self);
  return G_SOURCE_REMOVE;
}

static void
claim_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrP2pTransfer) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);
  guint16 code = 0;

  self->claiming = FALSE;
  if (_nfltr_p2p_transfer_state_is_final (self->state))
    return;
  if (reply == NULL)
    {
      _nfltr_p2p_transfer_interrupted (self, error->message);
      return;
    }
  if (nfltr_frame_get_type (reply) == NFLTR_FRAME_ERROR)
    {
      nfltr_frame_get_u16 (reply, NFLTR_ATTR_CODE, &code);
      /* Resuming: the sender's agent may be restarting; keep trying. A first claim may also
       * come before the sender's agent has registered the offer it just printed. */
      if (code == NFLTR_PROTO_ERR_NO_OFFER
          && (self->state == ST_INTERRUPTED || g_get_monotonic_time () - self->started < FIRST_CLAIM_PATIENCE_US))
        {
          if (self->state != ST_INTERRUPTED)
            self->retry_id = g_timeout_add (500, first_retry_cb, self);
          else
            schedule_retry (self);
          return;
        }
      _nfltr_p2p_transfer_fail (self, nfltr_frame_get_string (reply, NFLTR_ATTR_MESSAGE));
      return;
    }
  self->claimed = TRUE;
  _nfltr_p2p_transfer_start_pairing (self);
}

void
_nfltr_p2p_transfer_claim (NfltrP2pTransfer *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  g_autoptr(NfltrFrame) frame = NULL;
  guint8 empty = 0;

  /* One claim at a time: a second one would make the relay restart the sender's pairing. */
  if (link == NULL || _nfltr_p2p_transfer_state_is_final (self->state) || self->claiming)
    return;
  self->claiming = TRUE;
  frame = nfltr_frame_new (NFLTR_FRAME_P2P_SIGNAL);
  nfltr_frame_set_string (frame, NFLTR_ATTR_PEER_ID, self->offer_id);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_DATA, &empty, 1);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_P2P_OP, NFLTR_P2P_OP_CLAIM);
  nfltr_relay_link_request_async (link, frame, self->cancellable, claim_cb, g_object_ref (self));
}

void
nfltr_p2p_transfer_link_changed (NfltrP2pTransfer *self,
                                 gboolean          connected)
{
  if (_nfltr_p2p_transfer_state_is_final (self->state))
    return;
  if (!connected)
    {
      if (self->session != NULL || self->hs != NULL)
        _nfltr_p2p_transfer_interrupted (self, "the relay went away; resuming when it is back");
      self->claimed = FALSE;
      return;
    }
  if (self->sender)
    _nfltr_p2p_transfer_offer (self);
  else if (!self->claimed && (self->state == ST_INTERRUPTED || self->state == ST_WAITING))
    _nfltr_p2p_transfer_claim (self);
}
