/* nfltr-messages.c — the frame-type table and one decode/encode pair per message
 * (docs/protocol.md §4 "Frame types"). */
#define G_LOG_DOMAIN "nfltr-proto"

#include "nfltr-messages.h"

#include <string.h>

/* docs/protocol.md §4 "Frame types": one row per type, in type order. nfltr_frame_decode()
 * takes the required attributes from here, receivers the direction. */
static const NfltrMsgInfo msg_info[] = {
  { NFLTR_FRAME_HELLO, "HELLO", NFLTR_MSG_FROM_AGENT,
    { NFLTR_ATTR_PROTO_VERSION, NFLTR_ATTR_API_KEY, NFLTR_ATTR_AGENT_ID },
    { NFLTR_ATTR_AGENT_VERSION, NFLTR_ATTR_FEATURES } },
  { NFLTR_FRAME_WELCOME, "WELCOME", NFLTR_MSG_FROM_RELAY,
    { NFLTR_ATTR_PROTO_VERSION, NFLTR_ATTR_SESSION_ID, NFLTR_ATTR_DOMAIN },
    { NFLTR_ATTR_RELAY_VERSION, NFLTR_ATTR_FEATURES, NFLTR_ATTR_SIGNING_KEY } },
  { NFLTR_FRAME_ERROR, "ERROR", NFLTR_MSG_FROM_BOTH,
    { NFLTR_ATTR_CODE, NFLTR_ATTR_MESSAGE },
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_NAME, NFLTR_ATTR_FRAME_TYPE } },
  { NFLTR_FRAME_PING, "PING", NFLTR_MSG_FROM_BOTH,
    { NFLTR_ATTR_SEQ }, { 0 } },
  { NFLTR_FRAME_PONG, "PONG", NFLTR_MSG_FROM_BOTH,
    { NFLTR_ATTR_SEQ }, { 0 } },
  { NFLTR_FRAME_BIND, "BIND", NFLTR_MSG_FROM_AGENT,
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_NAME, NFLTR_ATTR_MODE, NFLTR_ATTR_FINGERPRINT },
    { NFLTR_ATTR_KIND, NFLTR_ATTR_POOL_MAX } },
  { NFLTR_FRAME_BOUND, "BOUND", NFLTR_MSG_FROM_RELAY,
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_NAME, NFLTR_ATTR_HOST, NFLTR_ATTR_URL }, { 0 } },
  { NFLTR_FRAME_UNBIND, "UNBIND", NFLTR_MSG_FROM_AGENT,
    { NFLTR_ATTR_NAME }, { 0 } },
  { NFLTR_FRAME_RELEASE, "RELEASE", NFLTR_MSG_FROM_AGENT,
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_NAME }, { 0 } },
  { NFLTR_FRAME_RELEASED, "RELEASED", NFLTR_MSG_FROM_RELAY,
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_NAME }, { 0 } },
  { NFLTR_FRAME_CONN_OPEN, "CONN_OPEN", NFLTR_MSG_FROM_RELAY,
    { NFLTR_ATTR_CONN_ID, NFLTR_ATTR_NAME, NFLTR_ATTR_CLIENT_ADDR }, { NFLTR_ATTR_POOL } },
  { NFLTR_FRAME_CONN_REFUSE, "CONN_REFUSE", NFLTR_MSG_FROM_AGENT,
    { NFLTR_ATTR_CONN_ID }, { NFLTR_ATTR_MESSAGE } },
  /* reserved for the tracks: rows now, structs when each lands */
  { NFLTR_FRAME_WG_PACKET, "WG_PACKET", NFLTR_MSG_FROM_BOTH,
    { NFLTR_ATTR_PEER_ID, NFLTR_ATTR_DATA }, { 0 } },
  /* the WireGuard track's membership (docs/protocol.md §11; relay/wg/, service/wg/session/) */
  { NFLTR_FRAME_WG_JOIN, "WG_JOIN", NFLTR_MSG_FROM_AGENT,
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_NAME, NFLTR_ATTR_KIND, NFLTR_ATTR_PEER_ID },
    { NFLTR_ATTR_WG_LABEL } },
  { NFLTR_FRAME_WG_JOINED, "WG_JOINED", NFLTR_MSG_FROM_RELAY,
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_NAME, NFLTR_ATTR_PEER_ID, NFLTR_ATTR_WG_ADDRESS,
      NFLTR_ATTR_WG_PORT }, { 0 } },
  { NFLTR_FRAME_WG_LEAVE, "WG_LEAVE", NFLTR_MSG_FROM_AGENT,
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_NAME, NFLTR_ATTR_PEER_ID }, { 0 } },
  { NFLTR_FRAME_WG_LEFT, "WG_LEFT", NFLTR_MSG_FROM_RELAY,
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_NAME, NFLTR_ATTR_PEER_ID }, { 0 } },
  { NFLTR_FRAME_WG_PEER, "WG_PEER", NFLTR_MSG_FROM_RELAY,
    { NFLTR_ATTR_NAME, NFLTR_ATTR_PEER_ID, NFLTR_ATTR_WG_ADDRESS, NFLTR_ATTR_KIND },
    { NFLTR_ATTR_WG_LABEL } },
  { NFLTR_FRAME_WG_PEER_GONE, "WG_PEER_GONE", NFLTR_MSG_FROM_RELAY,
    { NFLTR_ATTR_NAME, NFLTR_ATTR_PEER_ID }, { 0 } },
  { NFLTR_FRAME_P2P_SIGNAL, "P2P_SIGNAL", NFLTR_MSG_FROM_BOTH,
    { NFLTR_ATTR_PEER_ID, NFLTR_ATTR_DATA }, { NFLTR_ATTR_P2P_OP, NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_MESSAGE } },
  { NFLTR_FRAME_P2P_RELAY, "P2P_RELAY", NFLTR_MSG_FROM_BOTH,
    { NFLTR_ATTR_PEER_ID, NFLTR_ATTR_DATA }, { 0 } },
  /* issue 14: short-lived TURN credentials for calls (docs/protocol.md §14.4; relay/turn/) */
  { NFLTR_FRAME_TURN_REQUEST, "TURN_REQUEST", NFLTR_MSG_FROM_AGENT,
    { NFLTR_ATTR_REQUEST_ID }, { 0 } },
  { NFLTR_FRAME_TURN_CREDENTIALS, "TURN_CREDENTIALS", NFLTR_MSG_FROM_RELAY,
    { NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_URL, NFLTR_ATTR_NAME, NFLTR_ATTR_DATA }, { 0 } },
  { NFLTR_FRAME_A2A_MESSAGE, "A2A_MESSAGE", NFLTR_MSG_FROM_BOTH,
    { NFLTR_ATTR_PEER_ID, NFLTR_ATTR_DATA },
    /* the a2a track (docs/protocol.md §13; relay/a2a/, service/a2a/) */
    { NFLTR_ATTR_A2A_OP, NFLTR_ATTR_A2A_FROM, NFLTR_ATTR_A2A_MSG_ID, NFLTR_ATTR_A2A_NAME, NFLTR_ATTR_A2A_TTL,
      NFLTR_ATTR_REQUEST_ID, NFLTR_ATTR_MESSAGE } },
};

const NfltrMsgInfo *
nfltr_msg_info_lookup (guint8 type)
{
  /* Sixteen rows: a scan costs less than keeping a second, indexed copy in step. */
  for (gsize i = 0; i < G_N_ELEMENTS (msg_info); i++)
    if (msg_info[i].type == type)
      return &msg_info[i];
  return NULL;
}

const NfltrMsgInfo *
nfltr_msg_info_all (gsize *n_rows)
{
  *n_rows = G_N_ELEMENTS (msg_info);
  return msg_info;
}

gboolean
nfltr_msg_check_required (const NfltrFrame *frame, GError **error)
{
  const NfltrMsgInfo *info = nfltr_msg_info_lookup (nfltr_frame_get_type (frame));

  if (info == NULL)
    return TRUE;
  for (const NfltrAttrType *req = info->required; *req != 0; req++)
    if (!nfltr_frame_has (frame, *req))
      {
        g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_MISSING_ATTR,
                     "%s frame lacks required attribute %s",
                     info->name, nfltr_proto_attr_to_string (*req));
        return FALSE;
      }
  return TRUE;
}

/* The common start of every decoder: the right type, everything required present. */
static gboolean
expect (const NfltrFrame *frame, NfltrFrameType type, GError **error)
{
  guint8 got = nfltr_frame_get_type (frame);

  if (got != type)
    {
      const char *name = nfltr_frame_type_to_string (got);

      if (name != NULL)
        g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_WRONG_TYPE,
                     "expected a %s frame, got %s", nfltr_frame_type_to_string (type), name);
      else
        g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_WRONG_TYPE,
                     "expected a %s frame, got unknown type 0x%02x", nfltr_frame_type_to_string (type), got);
      return FALSE;
    }
  return nfltr_msg_check_required (frame, error);
}

static void
copy_fixed (const NfltrFrame *frame, NfltrAttrType attr, guint8 *out, gsize size)
{
  gsize len = 0;
  const guint8 *data = nfltr_frame_get_bytes (frame, attr, &len);

  /* Sizes were checked by nfltr_frame_decode() and nfltr_frame_set_bytes(). */
  g_assert (data != NULL && len == size);
  memcpy (out, data, size);
}

static void
set_optional_string (NfltrFrame *frame, NfltrAttrType attr, const char *value)
{
  if (value != NULL)
    nfltr_frame_set_string (frame, attr, value);
}

/* ---- HELLO ---- */

gboolean
nfltr_msg_hello_decode (const NfltrFrame *frame, NfltrMsgHello *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_HELLO, error))
    return FALSE;
  nfltr_frame_get_u16 (frame, NFLTR_ATTR_PROTO_VERSION, &msg->proto_version);
  msg->api_key = nfltr_frame_get_string (frame, NFLTR_ATTR_API_KEY);
  msg->agent_id = nfltr_frame_get_string (frame, NFLTR_ATTR_AGENT_ID);
  msg->agent_version = nfltr_frame_get_string (frame, NFLTR_ATTR_AGENT_VERSION);
  msg->features = nfltr_frame_get_string (frame, NFLTR_ATTR_FEATURES);
  return TRUE;
}

NfltrFrame *
nfltr_msg_hello_encode (const NfltrMsgHello *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_HELLO);

  nfltr_frame_set_u16 (frame, NFLTR_ATTR_PROTO_VERSION, msg->proto_version);
  nfltr_frame_set_string (frame, NFLTR_ATTR_API_KEY, msg->api_key);
  nfltr_frame_set_string (frame, NFLTR_ATTR_AGENT_ID, msg->agent_id);
  set_optional_string (frame, NFLTR_ATTR_AGENT_VERSION, msg->agent_version);
  set_optional_string (frame, NFLTR_ATTR_FEATURES, msg->features);
  return frame;
}

/* ---- WELCOME ---- */

gboolean
nfltr_msg_welcome_decode (const NfltrFrame *frame, NfltrMsgWelcome *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_WELCOME, error))
    return FALSE;
  nfltr_frame_get_u16 (frame, NFLTR_ATTR_PROTO_VERSION, &msg->proto_version);
  msg->session_id = nfltr_frame_get_string (frame, NFLTR_ATTR_SESSION_ID);
  msg->domain = nfltr_frame_get_string (frame, NFLTR_ATTR_DOMAIN);
  msg->relay_version = nfltr_frame_get_string (frame, NFLTR_ATTR_RELAY_VERSION);
  msg->features = nfltr_frame_get_string (frame, NFLTR_ATTR_FEATURES);
  msg->signing_key = nfltr_frame_get_string (frame, NFLTR_ATTR_SIGNING_KEY);
  return TRUE;
}

NfltrFrame *
nfltr_msg_welcome_encode (const NfltrMsgWelcome *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_WELCOME);

  nfltr_frame_set_u16 (frame, NFLTR_ATTR_PROTO_VERSION, msg->proto_version);
  nfltr_frame_set_string (frame, NFLTR_ATTR_SESSION_ID, msg->session_id);
  nfltr_frame_set_string (frame, NFLTR_ATTR_DOMAIN, msg->domain);
  set_optional_string (frame, NFLTR_ATTR_RELAY_VERSION, msg->relay_version);
  set_optional_string (frame, NFLTR_ATTR_FEATURES, msg->features);
  set_optional_string (frame, NFLTR_ATTR_SIGNING_KEY, msg->signing_key);
  return frame;
}

/* ---- ERROR ---- */

gboolean
nfltr_msg_error_decode (const NfltrFrame *frame, NfltrMsgError *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_ERROR, error))
    return FALSE;
  nfltr_frame_get_u16 (frame, NFLTR_ATTR_CODE, &msg->code);
  msg->message = nfltr_frame_get_string (frame, NFLTR_ATTR_MESSAGE);
  msg->has_request_id = nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &msg->request_id);
  msg->name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  msg->has_frame_type = nfltr_frame_get_u8 (frame, NFLTR_ATTR_FRAME_TYPE, &msg->frame_type);
  return TRUE;
}

NfltrFrame *
nfltr_msg_error_encode (const NfltrMsgError *msg)
{
  NfltrFrame *frame = nfltr_frame_new_error (msg->code, msg->message);

  if (msg->has_request_id)
    nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, msg->request_id);
  set_optional_string (frame, NFLTR_ATTR_NAME, msg->name);
  if (msg->has_frame_type)
    nfltr_frame_set_u8 (frame, NFLTR_ATTR_FRAME_TYPE, msg->frame_type);
  return frame;
}

/* ---- PING, PONG ---- */

gboolean
nfltr_msg_ping_decode (const NfltrFrame *frame, NfltrMsgPing *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_PING, error))
    return FALSE;
  nfltr_frame_get_u64 (frame, NFLTR_ATTR_SEQ, &msg->seq);
  return TRUE;
}

NfltrFrame *
nfltr_msg_ping_encode (const NfltrMsgPing *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_PING);

  nfltr_frame_set_u64 (frame, NFLTR_ATTR_SEQ, msg->seq);
  return frame;
}

gboolean
nfltr_msg_pong_decode (const NfltrFrame *frame, NfltrMsgPong *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_PONG, error))
    return FALSE;
  nfltr_frame_get_u64 (frame, NFLTR_ATTR_SEQ, &msg->seq);
  return TRUE;
}

NfltrFrame *
nfltr_msg_pong_encode (const NfltrMsgPong *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_PONG);

  nfltr_frame_set_u64 (frame, NFLTR_ATTR_SEQ, msg->seq);
  return frame;
}

/* ---- BIND, BOUND, UNBIND ---- */

gboolean
nfltr_msg_bind_decode (const NfltrFrame *frame, NfltrMsgBind *msg, GError **error)
{
  guint8 mode = 0;

  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_BIND, error))
    return FALSE;
  nfltr_frame_get_u8 (frame, NFLTR_ATTR_MODE, &mode);
  /* §4 "Attribute types": mode is 1 or 2; anything else is a malformed BIND. */
  if (mode != NFLTR_MODE_VERIFIED && mode != NFLTR_MODE_INSPECTABLE)
    {
      g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                   "mode %u is neither verified (1) nor inspectable (2)", mode);
      return FALSE;
    }
  nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &msg->request_id);
  msg->name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  msg->mode = mode;
  copy_fixed (frame, NFLTR_ATTR_FINGERPRINT, msg->fingerprint, sizeof msg->fingerprint);
  msg->kind = nfltr_frame_get_string (frame, NFLTR_ATTR_KIND);
  nfltr_frame_get_u16 (frame, NFLTR_ATTR_POOL_MAX, &msg->pool_max);
  return TRUE;
}

NfltrFrame *
nfltr_msg_bind_encode (const NfltrMsgBind *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_BIND);

  nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, msg->request_id);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, msg->name);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_MODE, msg->mode);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_FINGERPRINT, msg->fingerprint, sizeof msg->fingerprint);
  set_optional_string (frame, NFLTR_ATTR_KIND, msg->kind);
  if (msg->pool_max > 0)
    nfltr_frame_set_u16 (frame, NFLTR_ATTR_POOL_MAX, msg->pool_max);
  return frame;
}

gboolean
nfltr_msg_bound_decode (const NfltrFrame *frame, NfltrMsgBound *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_BOUND, error))
    return FALSE;
  nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &msg->request_id);
  msg->name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  msg->host = nfltr_frame_get_string (frame, NFLTR_ATTR_HOST);
  msg->url = nfltr_frame_get_string (frame, NFLTR_ATTR_URL);
  return TRUE;
}

NfltrFrame *
nfltr_msg_bound_encode (const NfltrMsgBound *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_BOUND);

  nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, msg->request_id);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, msg->name);
  nfltr_frame_set_string (frame, NFLTR_ATTR_HOST, msg->host);
  nfltr_frame_set_string (frame, NFLTR_ATTR_URL, msg->url);
  return frame;
}

gboolean
nfltr_msg_unbind_decode (const NfltrFrame *frame, NfltrMsgUnbind *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_UNBIND, error))
    return FALSE;
  msg->name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  return TRUE;
}

NfltrFrame *
nfltr_msg_unbind_encode (const NfltrMsgUnbind *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_UNBIND);

  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, msg->name);
  return frame;
}

/* ---- RELEASE, RELEASED (§6: the owner gives a reserved name up) ---- */

gboolean
nfltr_msg_release_decode (const NfltrFrame *frame, NfltrMsgRelease *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_RELEASE, error))
    return FALSE;
  nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &msg->request_id);
  msg->name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  return TRUE;
}

NfltrFrame *
nfltr_msg_release_encode (const NfltrMsgRelease *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_RELEASE);

  nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, msg->request_id);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, msg->name);
  return frame;
}

gboolean
nfltr_msg_released_decode (const NfltrFrame *frame, NfltrMsgReleased *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_RELEASED, error))
    return FALSE;
  nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &msg->request_id);
  msg->name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  return TRUE;
}

NfltrFrame *
nfltr_msg_released_encode (const NfltrMsgReleased *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_RELEASED);

  nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, msg->request_id);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, msg->name);
  return frame;
}

/* ---- CONN_OPEN, CONN_REFUSE ---- */

gboolean
nfltr_msg_conn_open_decode (const NfltrFrame *frame, NfltrMsgConnOpen *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_CONN_OPEN, error))
    return FALSE;
  copy_fixed (frame, NFLTR_ATTR_CONN_ID, msg->conn_id, sizeof msg->conn_id);
  msg->name = nfltr_frame_get_string (frame, NFLTR_ATTR_NAME);
  msg->client_addr = nfltr_frame_get_string (frame, NFLTR_ATTR_CLIENT_ADDR);
  {
    guint8 pool = 0;

    nfltr_frame_get_u8 (frame, NFLTR_ATTR_POOL, &pool);
    msg->pool = pool != 0;
  }
  return TRUE;
}

NfltrFrame *
nfltr_msg_conn_open_encode (const NfltrMsgConnOpen *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_CONN_OPEN);

  nfltr_frame_set_bytes (frame, NFLTR_ATTR_CONN_ID, msg->conn_id, sizeof msg->conn_id);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, msg->name);
  nfltr_frame_set_string (frame, NFLTR_ATTR_CLIENT_ADDR, msg->client_addr);
  if (msg->pool)
    nfltr_frame_set_u8 (frame, NFLTR_ATTR_POOL, 1);
  return frame;
}

gboolean
nfltr_msg_conn_refuse_decode (const NfltrFrame *frame, NfltrMsgConnRefuse *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!expect (frame, NFLTR_FRAME_CONN_REFUSE, error))
    return FALSE;
  copy_fixed (frame, NFLTR_ATTR_CONN_ID, msg->conn_id, sizeof msg->conn_id);
  msg->message = nfltr_frame_get_string (frame, NFLTR_ATTR_MESSAGE);
  return TRUE;
}

NfltrFrame *
nfltr_msg_conn_refuse_encode (const NfltrMsgConnRefuse *msg)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_CONN_REFUSE);

  nfltr_frame_set_bytes (frame, NFLTR_ATTR_CONN_ID, msg->conn_id, sizeof msg->conn_id);
  set_optional_string (frame, NFLTR_ATTR_MESSAGE, msg->message);
  return frame;
}
