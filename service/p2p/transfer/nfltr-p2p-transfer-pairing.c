/* nfltr-p2p-transfer-pairing.c — the pairing of a run (docs/protocol.md §9.3, §9.9): the
 * handshake's messages over P2P_SIGNAL, the trickle of ICE candidates, the direct path's
 * callbacks and the choice of the path once paired. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-transfer-private.h"

void
_nfltr_p2p_transfer_end_run (NfltrP2pTransfer *self, NfltrP2pEnd how)
{
  guint8 b = how;

  _nfltr_p2p_transfer_send_signal (self, NFLTR_P2P_OP_END, &b, 1);
}

void
_nfltr_p2p_transfer_pairing_failed (NfltrP2pTransfer *self, const GError *error)
{
  gboolean mismatch = g_error_matches (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CODE_MISMATCH);

  _nfltr_p2p_transfer_end_run (self, mismatch ? NFLTR_P2P_END_FAILED : NFLTR_P2P_END_CLOSED);
  _nfltr_p2p_transfer_teardown_run (self);
  _nfltr_p2p_transfer_set_error (self, error->message);
  if (self->sender)
    /* The offer allows one more run; the relay says GONE when it does not. */
    _nfltr_p2p_transfer_set_state (self, ST_WAITING);
  else
    {
      self->claimed = FALSE;
      _nfltr_p2p_transfer_set_state (self, ST_FAILED);
    }
}

/* The sender chooses the path once paired; the receiver follows the first record it gets. */
void
_nfltr_p2p_transfer_choose_path (NfltrP2pTransfer *self, TransferPath path)
{
  if (self->path != PATH_NONE || self->session == NULL)
    return;
  g_clear_handle_id (&self->ice_wait_id, g_source_remove);
  self->path = path;
  g_message ("transfer %s: %s path", self->id, _nfltr_p2p_transfer_path_name (self));
  if (path == PATH_RELAYED)
    g_clear_pointer (&self->direct, nfltr_p2p_direct_free);
  nfltr_dbus_transfer_set_path (NFLTR_DBUS_TRANSFER (self), _nfltr_p2p_transfer_path_name (self));
  if (self->sender && !self->manifest_seen)
    {
      self->manifest_seen = TRUE;
      _nfltr_p2p_transfer_send_manifest (self);
    }
  _nfltr_p2p_transfer_pump (self);
}

static gboolean
ice_wait_cb (gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  self->ice_wait_id = 0;
  _nfltr_p2p_transfer_choose_path (self, PATH_RELAYED);
  return G_SOURCE_REMOVE;
}

static void
paired (NfltrP2pTransfer *self)
{
  nfltr_p2p_handshake_get_keys (self->hs, &self->keys);
  g_clear_pointer (&self->hs, nfltr_p2p_handshake_free);
  self->session = nfltr_p2p_session_new (self->sender ? NFLTR_P2P_ROLE_A : NFLTR_P2P_ROLE_B, &self->keys,
                                         &_nfltr_p2p_transfer_mux_callbacks, self);
  g_ptr_array_set_size (self->findings, 0);
  g_clear_pointer (&self->peer_chains[0], nfltr_p2p_audit_chain_free);
  g_clear_pointer (&self->peer_chains[1], nfltr_p2p_audit_chain_free);
  nfltr_dbus_transfer_set_last_error (NFLTR_DBUS_TRANSFER (self), "");
  if (self->sender)
    {
      _nfltr_p2p_transfer_end_run (self, NFLTR_P2P_END_PAIRED);
      if (nfltr_p2p_direct_is_ready (self->direct))
        _nfltr_p2p_transfer_choose_path (self, PATH_DIRECT);
      else if (self->direct != NULL)
        self->ice_wait_id = g_timeout_add (ICE_WAIT_MS, ice_wait_cb, self);
      else
        _nfltr_p2p_transfer_choose_path (self, PATH_RELAYED);
    }
  else if (self->early->len > 0)
    {
      /* The sender's first records came straight through before our CONFIRM's answer. */
      g_autoptr(GByteArray) early = g_byte_array_new ();
      g_autoptr(GError) error = NULL;

      g_byte_array_append (early, self->early->data, self->early->len);
      g_byte_array_set_size (self->early, 0);
      _nfltr_p2p_transfer_choose_path (self, PATH_DIRECT);
      if (!nfltr_p2p_session_push (self->session, early->data, early->len, &error))
        _nfltr_p2p_transfer_session_broken (self, error);
      else
        _nfltr_p2p_transfer_pump (self);
    }
}

static gboolean
confirm_if_ready (NfltrP2pTransfer *self, GError **error)
{
  if (self->hs != NULL && nfltr_p2p_handshake_can_confirm (self->hs))
    {
      g_autoptr(GBytes) confirm = nfltr_p2p_handshake_confirm (self->hs, NULL);

      /* NULL: already sent. */
      if (confirm != NULL)
        _nfltr_p2p_transfer_send_message (self, confirm);
    }
  return TRUE;
}

static void
send_ice (NfltrP2pTransfer *self, const NfltrP2pMessage *msg)
{
  g_autoptr(GBytes) out = NULL;

  if (self->hs == NULL)
    return;
  out = nfltr_p2p_handshake_send (self->hs, msg, NULL);
  if (out != NULL)
    _nfltr_p2p_transfer_send_message (self, out);
}

static void
direct_gathered_cb (NfltrP2pDirect *direct, const char *ufrag, const char *pwd, GPtrArray *candidates,
                    gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;
  NfltrP2pMessage creds = { .type = NFLTR_P2P_MSG_ICE_CREDENTIALS, .ufrag = (char *) ufrag, .pwd = (char *) pwd };
  NfltrP2pMessage done = { .type = NFLTR_P2P_MSG_ICE_DONE };

  send_ice (self, &creds);
  for (guint i = 0; i < candidates->len; i++)
    {
      NfltrP2pMessage cand = { .type = NFLTR_P2P_MSG_ICE_CANDIDATE, .candidate = candidates->pdata[i] };

      send_ice (self, &cand);
    }
  send_ice (self, &done);
  confirm_if_ready (self, NULL);
  if (self->hs != NULL && nfltr_p2p_handshake_is_done (self->hs))
    paired (self);
}

static void
direct_state_cb (NfltrP2pDirect *direct, gboolean ready, gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;

  if (ready)
    {
      if (self->sender && self->session != NULL)
        _nfltr_p2p_transfer_choose_path (self, PATH_DIRECT);
      return;
    }
  if (self->path == PATH_DIRECT)
    _nfltr_p2p_transfer_interrupted (self, "the direct connection broke; resuming");
  else if (self->sender && self->session != NULL)
    _nfltr_p2p_transfer_choose_path (self, PATH_RELAYED);
}

static void
direct_received_cb (NfltrP2pDirect *direct, const guint8 *data, gsize len, gpointer user_data)
{
  NfltrP2pTransfer *self = user_data;
  g_autoptr(GError) error = NULL;

  if (self->session == NULL)
    {
      if (self->hs != NULL && self->early->len + len <= 4 * 1024 * 1024)
        g_byte_array_append (self->early, data, len);
      return;
    }
  if (!self->sender)
    _nfltr_p2p_transfer_choose_path (self, PATH_DIRECT);
  if (self->state == ST_FAILED)
    {
      nfltr_p2p_session_push (self->session, data, len, NULL);
      return;
    }
  if (!nfltr_p2p_session_push (self->session, data, len, &error))
    {
      _nfltr_p2p_transfer_session_broken (self, error);
      return;
    }
  _nfltr_p2p_transfer_pump (self);
}

static void
direct_writable_cb (NfltrP2pDirect *direct, gpointer user_data)
{
  _nfltr_p2p_transfer_pump (user_data);
}

static const NfltrP2pDirectCallbacks direct_callbacks = {
  .gathered = direct_gathered_cb,
  .state = direct_state_cb,
  .received = direct_received_cb,
  .writable = direct_writable_cb,
};

/* The relay answers STUN on its own port number (relay/udp/): its address, when it is one
 * libnice can use without a lookup (an IP literal or a *.localhost name); else
 * NFLTR_P2P_STUN=IP:PORT, or host candidates only. */
static char *
stun_server (NfltrP2pTransfer *self)
{
  NfltrRelayLink *link = nfltr_p2p_service_get_link (self->service);
  const char *host;

  if (g_getenv ("NFLTR_P2P_STUN") != NULL)
    return *g_getenv ("NFLTR_P2P_STUN") ? g_strdup (g_getenv ("NFLTR_P2P_STUN")) : NULL;
  if (link == NULL)
    return NULL;
  host = nfltr_relay_link_get_host (link);
  if (g_hostname_is_ip_address (host))
    return g_strdup_printf ("%s:%u", host, nfltr_relay_link_get_port (link));
  if (g_str_equal (host, "localhost") || g_str_has_suffix (host, ".localhost"))
    return g_strdup_printf ("127.0.0.1:%u", nfltr_relay_link_get_port (link));
  return NULL;
}

/* Keyed: gather this side's candidates (the trickle ends with ICE_DONE), or, without a
 * direct path, end the trickle at once. */
static void
start_direct (NfltrP2pTransfer *self)
{
  NfltrP2pMessage done = { .type = NFLTR_P2P_MSG_ICE_DONE };

  if (nfltr_p2p_direct_available ())
    {
      g_autofree char *stun = stun_server (self);

      self->direct = nfltr_p2p_direct_new (self->sender, stun, &direct_callbacks, self);
    }
  if (self->direct == NULL)
    send_ice (self, &done);
}

void
_nfltr_p2p_transfer_take_pairing_message (NfltrP2pTransfer *self, const guint8 *data, gsize len)
{
  g_autoptr(GBytes) msg = g_bytes_new (data, len);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  NfltrP2pMessage decoded = { 0 };

  if (self->hs == NULL)
    {
      /* The relay's OK to our CLAIM completes a request, which GIO delivers from an idle:
       * the sender's PAKE_A, right behind it on the channel, can come first. Kept for
       * start_pairing. */
      if (!self->sender && self->claiming && self->early_signal->len < 16)
        g_ptr_array_add (self->early_signal, g_steal_pointer (&msg));
      return;
    }
  if (!nfltr_p2p_handshake_receive (self->hs, msg, &reply, &decoded, &error))
    {
      nfltr_p2p_message_clear (&decoded);
      _nfltr_p2p_transfer_pairing_failed (self, error);
      return;
    }
  if (reply != NULL)
    _nfltr_p2p_transfer_send_message (self, reply);
  switch (decoded.type)
    {
      case NFLTR_P2P_MSG_PAKE_A:
      case NFLTR_P2P_MSG_PAKE_B: start_direct (self); break;
      case NFLTR_P2P_MSG_ICE_CREDENTIALS:
        if (self->direct != NULL)
          nfltr_p2p_direct_set_remote_credentials (self->direct, decoded.ufrag, decoded.pwd);
        break;
      case NFLTR_P2P_MSG_ICE_CANDIDATE:
        if (self->direct != NULL)
          nfltr_p2p_direct_add_remote_candidate (self->direct, decoded.candidate);
        break;
      case NFLTR_P2P_MSG_ICE_DONE:
        if (self->direct != NULL)
          nfltr_p2p_direct_remote_done (self->direct);
        break;
      case NFLTR_P2P_MSG_ABORT:
        {
          gboolean mismatch = decoded.reason == NFLTR_P2P_ABORT_CODE_MISMATCH;

          nfltr_p2p_message_clear (&decoded);
          g_set_error_literal (&error, NFLTR_P2P_ERROR,
                               mismatch ? NFLTR_P2P_ERROR_CODE_MISMATCH : NFLTR_P2P_ERROR_CLOSED,
                               mismatch ? "the code did not match" : "the peer gave up the pairing");
          _nfltr_p2p_transfer_pairing_failed (self, error);
          return;
        }
      case NFLTR_P2P_MSG_CONFIRM:
      default: break;
    }
  nfltr_p2p_message_clear (&decoded);
  if (self->hs == NULL)
    return;
  confirm_if_ready (self, NULL);
  if (self->hs != NULL && nfltr_p2p_handshake_is_done (self->hs))
    paired (self);
}

void
_nfltr_p2p_transfer_start_pairing (NfltrP2pTransfer *self)
{
  g_autoptr(GError) error = NULL;

  _nfltr_p2p_transfer_teardown_run (self);
  self->hs = nfltr_p2p_handshake_new (self->sender ? NFLTR_P2P_ROLE_A : NFLTR_P2P_ROLE_B, self->code, &error);
  if (self->hs == NULL)
    {
      _nfltr_p2p_transfer_fail (self, error->message);
      return;
    }
  _nfltr_p2p_transfer_set_state (self, ST_PAIRING);
  if (!self->sender && self->early_signal->len > 0)
    {
      g_autoptr(GPtrArray) early = g_steal_pointer (&self->early_signal);

      self->early_signal = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      for (guint i = 0; i < early->len && self->hs != NULL; i++)
        {
          gsize len;
          const guint8 *data = g_bytes_get_data (early->pdata[i], &len);

          _nfltr_p2p_transfer_take_pairing_message (self, data, len);
        }
      return;
    }
  if (self->sender)
    {
      g_autoptr(GBytes) pake_a = nfltr_p2p_handshake_start (self->hs, &error);

      if (pake_a == NULL)
        {
          _nfltr_p2p_transfer_pairing_failed (self, error);
          return;
        }
      _nfltr_p2p_transfer_send_message (self, pake_a);
    }
}
