/* nfltr-proto.c — codec for the agent–relay wire protocol (docs/protocol.md) */
#define G_LOG_DOMAIN "nfltr-proto"

#include "nfltr-proto.h"
#include "nfltr-messages.h"

#include <string.h>

G_DEFINE_QUARK (nfltr-proto-error-quark, nfltr_proto_error)

typedef enum {
  ATTR_KIND_BYTES,   /* any length */
  ATTR_KIND_STRING,  /* UTF-8, no NUL */
  ATTR_KIND_FIXED,   /* exactly `size` bytes */
} AttrKind;

typedef struct {
  const char *name;
  AttrKind    kind;
  gsize       size;
} AttrInfo;

/* Indexed by NfltrAttrType; docs/protocol.md §4 "Attribute types". */
static const AttrInfo attr_info[NFLTR_ATTR_LAST_ + 1] = {
  [NFLTR_ATTR_PROTO_VERSION] = { "proto-version", ATTR_KIND_FIXED, 2 },
  [NFLTR_ATTR_API_KEY]       = { "api-key", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_AGENT_ID]      = { "agent-id", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_AGENT_VERSION] = { "agent-version", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_RELAY_VERSION] = { "relay-version", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_DOMAIN]        = { "domain", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_SESSION_ID]    = { "session-id", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_CODE]          = { "code", ATTR_KIND_FIXED, 2 },
  [NFLTR_ATTR_MESSAGE]       = { "message", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_REQUEST_ID]    = { "request-id", ATTR_KIND_FIXED, 4 },
  [NFLTR_ATTR_NAME]          = { "name", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_MODE]          = { "mode", ATTR_KIND_FIXED, 1 },
  [NFLTR_ATTR_FINGERPRINT]   = { "fingerprint", ATTR_KIND_FIXED, NFLTR_PROTO_FINGERPRINT_SIZE },
  [NFLTR_ATTR_HOST]          = { "host", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_URL]           = { "url", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_CONN_ID]       = { "conn-id", ATTR_KIND_FIXED, NFLTR_PROTO_CONN_ID_SIZE },
  [NFLTR_ATTR_CLIENT_ADDR]   = { "client-addr", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_SEQ]           = { "seq", ATTR_KIND_FIXED, 8 },
  [NFLTR_ATTR_PEER_ID]       = { "peer-id", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_DATA]          = { "data", ATTR_KIND_BYTES, 0 },
  [NFLTR_ATTR_KIND]          = { "kind", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_FEATURES]      = { "features", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_FRAME_TYPE]    = { "frame-type", ATTR_KIND_FIXED, 1 },
  [NFLTR_ATTR_SIGNING_KEY]   = { "signing-key", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_P2P_OP]        = { "p2p-op", ATTR_KIND_FIXED, 1 },
  [NFLTR_ATTR_A2A_OP]        = { "a2a-op", ATTR_KIND_FIXED, 1 },
  [NFLTR_ATTR_A2A_FROM]      = { "a2a-from", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_A2A_MSG_ID]    = { "a2a-msg-id", ATTR_KIND_FIXED, 16 },
  [NFLTR_ATTR_A2A_NAME]      = { "a2a-name", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_A2A_TTL]       = { "a2a-ttl", ATTR_KIND_FIXED, 4 },
  [NFLTR_ATTR_POOL_MAX]      = { "pool-max", ATTR_KIND_FIXED, 2 },
  [NFLTR_ATTR_POOL]          = { "pool", ATTR_KIND_FIXED, 1 },
  [NFLTR_ATTR_WG_ADDRESS]    = { "wg-address", ATTR_KIND_STRING, 0 },
  [NFLTR_ATTR_WG_PORT]       = { "wg-port", ATTR_KIND_FIXED, 2 },
  [NFLTR_ATTR_WG_LABEL]      = { "wg-label", ATTR_KIND_STRING, 0 },
};

struct _NfltrFrame {
  guint8  type;
  guint8  version;   /* header byte, §4: informational */
  guint16 flags;     /* known bits only, §4.1 */
  GBytes *attrs[NFLTR_ATTR_LAST_ + 1];
};

NfltrFrame *
nfltr_frame_new (NfltrFrameType type)
{
  NfltrFrame *frame = g_new0 (NfltrFrame, 1);
  frame->type = type;
  frame->version = NFLTR_PROTO_VERSION;
  return frame;
}

void
nfltr_frame_free (NfltrFrame *frame)
{
  if (frame == NULL)
    return;
  for (guint i = 0; i <= NFLTR_ATTR_LAST_; i++)
    g_clear_pointer (&frame->attrs[i], g_bytes_unref);
  g_free (frame);
}

NfltrFrameType
nfltr_frame_get_type (const NfltrFrame *frame)
{
  return frame->type;
}

guint16
nfltr_frame_get_flags (const NfltrFrame *frame)
{
  return frame->flags;
}

void
nfltr_frame_set_flags (NfltrFrame *frame, guint16 flags)
{
  /* §4.1: reserved bits must be sent as zero. */
  g_return_if_fail ((flags & ~NFLTR_FRAME_FLAGS_KNOWN) == 0);
  frame->flags = flags;
}

gboolean
nfltr_frame_is_ignorable (const NfltrFrame *frame)
{
  return (frame->flags & NFLTR_FRAME_FLAG_IGNORABLE) != 0;
}

guint8
nfltr_frame_get_version (const NfltrFrame *frame)
{
  return frame->version;
}

void
nfltr_frame_set_version (NfltrFrame *frame, guint8 version)
{
  g_return_if_fail (version >= 1);
  frame->version = version;
}

const char *
nfltr_frame_type_to_string (guint8 type)
{
  const NfltrMsgInfo *info = nfltr_msg_info_lookup (type);

  return info ? info->name : NULL;
}

const char *
nfltr_proto_attr_to_string (guint attr)
{
  return attr >= 1 && attr <= NFLTR_ATTR_LAST_ ? attr_info[attr].name : NULL;
}

const char *
nfltr_proto_error_code_to_string (guint16 code)
{
  switch (code)
    {
    case NFLTR_PROTO_ERR_PROTOCOL: return "protocol";
    case NFLTR_PROTO_ERR_UNSUPPORTED_VERSION: return "unsupported-version";
    case NFLTR_PROTO_ERR_AUTH_FAILED: return "auth-failed";
    case NFLTR_PROTO_ERR_NAME_TAKEN: return "name-taken";
    case NFLTR_PROTO_ERR_BAD_NAME: return "bad-name";
    case NFLTR_PROTO_ERR_LIMIT: return "limit";
    case NFLTR_PROTO_ERR_UNSUPPORTED_FRAME: return "unsupported-frame";
    case NFLTR_PROTO_ERR_INTERNAL: return "internal";
    case NFLTR_PROTO_ERR_NO_OFFER: return "no-offer";
    case NFLTR_PROTO_ERR_OFFER_CLAIMED: return "offer-claimed";
    case NFLTR_PROTO_ERR_NO_AGENT: return "no-agent";
    default: return "unknown";
    }
}

static gboolean
attr_is_known (guint attr)
{
  return attr >= 1 && attr <= NFLTR_ATTR_LAST_ && attr_info[attr].name != NULL;
}

void
nfltr_frame_set_bytes (NfltrFrame *frame, NfltrAttrType attr, const void *data, gsize len)
{
  g_return_if_fail (attr_is_known (attr));
  /* §4: one attribute, with its header, fits in a payload */
  g_return_if_fail (len <= NFLTR_PROTO_MAX_PAYLOAD - NFLTR_PROTO_ATTR_HEADER_SIZE);
  g_return_if_fail (attr_info[attr].kind != ATTR_KIND_FIXED || len == attr_info[attr].size);
  g_clear_pointer (&frame->attrs[attr], g_bytes_unref);
  {
    /* Same layout as decode: a NUL after the counted bytes, so nfltr_frame_get_string() can
     * hand strings out in place on frames built here too. */
    guint8 *copy = g_malloc (len + 1);
    if (len > 0)
      memcpy (copy, data, len);
    copy[len] = '\0';
    frame->attrs[attr] = g_bytes_new_take (copy, len);
  }
}

void
nfltr_frame_set_string (NfltrFrame *frame, NfltrAttrType attr, const char *value)
{
  g_return_if_fail (value != NULL);
  g_return_if_fail (attr_info[attr].kind == ATTR_KIND_STRING);
  nfltr_frame_set_bytes (frame, attr, value, strlen (value));
}

void
nfltr_frame_set_u8 (NfltrFrame *frame, NfltrAttrType attr, guint8 value)
{
  nfltr_frame_set_bytes (frame, attr, &value, 1);
}

void
nfltr_frame_set_u16 (NfltrFrame *frame, NfltrAttrType attr, guint16 value)
{
  guint16 be = GUINT16_TO_BE (value);
  nfltr_frame_set_bytes (frame, attr, &be, 2);
}

void
nfltr_frame_set_u32 (NfltrFrame *frame, NfltrAttrType attr, guint32 value)
{
  guint32 be = GUINT32_TO_BE (value);
  nfltr_frame_set_bytes (frame, attr, &be, 4);
}

void
nfltr_frame_set_u64 (NfltrFrame *frame, NfltrAttrType attr, guint64 value)
{
  guint64 be = GUINT64_TO_BE (value);
  nfltr_frame_set_bytes (frame, attr, &be, 8);
}

gboolean
nfltr_frame_has (const NfltrFrame *frame, NfltrAttrType attr)
{
  return attr_is_known (attr) && frame->attrs[attr] != NULL;
}

const guint8 *
nfltr_frame_get_bytes (const NfltrFrame *frame, NfltrAttrType attr, gsize *len)
{
  if (!nfltr_frame_has (frame, attr))
    {
      if (len)
        *len = 0;
      return NULL;
    }
  return g_bytes_get_data (frame->attrs[attr], len);
}

const char *
nfltr_frame_get_string (const NfltrFrame *frame, NfltrAttrType attr)
{
  /* Values are stored with a trailing NUL outside the counted length (see decode/set),
   * so strings can be returned in place. */
  gsize len;
  const guint8 *data = nfltr_frame_get_bytes (frame, attr, &len);

  if (data == NULL || attr_info[attr].kind != ATTR_KIND_STRING)
    return NULL;
  return (const char *) data;
}

static gboolean
get_fixed (const NfltrFrame *frame, NfltrAttrType attr, gsize size, void *out)
{
  gsize len;
  const guint8 *data = nfltr_frame_get_bytes (frame, attr, &len);

  if (data == NULL || len != size)
    return FALSE;
  memcpy (out, data, size);
  return TRUE;
}

gboolean
nfltr_frame_get_u8 (const NfltrFrame *frame, NfltrAttrType attr, guint8 *value)
{
  return get_fixed (frame, attr, 1, value);
}

gboolean
nfltr_frame_get_u16 (const NfltrFrame *frame, NfltrAttrType attr, guint16 *value)
{
  guint16 be;
  if (!get_fixed (frame, attr, 2, &be))
    return FALSE;
  *value = GUINT16_FROM_BE (be);
  return TRUE;
}

gboolean
nfltr_frame_get_u32 (const NfltrFrame *frame, NfltrAttrType attr, guint32 *value)
{
  guint32 be;
  if (!get_fixed (frame, attr, 4, &be))
    return FALSE;
  *value = GUINT32_FROM_BE (be);
  return TRUE;
}

gboolean
nfltr_frame_get_u64 (const NfltrFrame *frame, NfltrAttrType attr, guint64 *value)
{
  guint64 be;
  if (!get_fixed (frame, attr, 8, &be))
    return FALSE;
  *value = GUINT64_FROM_BE (be);
  return TRUE;
}

GBytes *
nfltr_frame_encode (const NfltrFrame *frame)
{
  GByteArray *out = g_byte_array_sized_new (64);
  guint8 header[NFLTR_PROTO_HEADER_SIZE] = { frame->version, frame->type,
                                             frame->flags >> 8, frame->flags & 0xff };
  guint32 payload_len;

  g_byte_array_append (out, header, sizeof header);
  for (guint i = 1; i <= NFLTR_ATTR_LAST_; i++)
    {
      gsize len;
      const guint8 *data;
      guint8 ah[NFLTR_PROTO_ATTR_HEADER_SIZE];

      if (frame->attrs[i] == NULL)
        continue;
      data = g_bytes_get_data (frame->attrs[i], &len);
      /* §4: type u16, length u32 */
      ah[0] = i >> 8;
      ah[1] = i & 0xff;
      ah[2] = (len >> 24) & 0xff;
      ah[3] = (len >> 16) & 0xff;
      ah[4] = (len >> 8) & 0xff;
      ah[5] = len & 0xff;
      g_byte_array_append (out, ah, sizeof ah);
      g_byte_array_append (out, data, len);
    }
  payload_len = out->len - NFLTR_PROTO_HEADER_SIZE;
  g_assert (payload_len <= NFLTR_PROTO_MAX_PAYLOAD);
  out->data[4] = payload_len >> 24;
  out->data[5] = (payload_len >> 16) & 0xff;
  out->data[6] = (payload_len >> 8) & 0xff;
  out->data[7] = payload_len & 0xff;
  return g_byte_array_free_to_bytes (out);
}

NfltrFrame *
nfltr_frame_decode (const guint8 *data, gsize len, GError **error)
{
  g_autoptr(NfltrFrame) frame = NULL;
  guint32 payload_len;
  gsize pos;

  if (len < NFLTR_PROTO_HEADER_SIZE)
    {
      g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_TRUNCATED,
                   "frame is %" G_GSIZE_FORMAT " bytes, shorter than the %d-byte header",
                   len, NFLTR_PROTO_HEADER_SIZE);
      return NULL;
    }
  /* §4: any version ≥ 1 shares this layout, so a higher-version peer's HELLO decodes; the
   * session's version is what HELLO/WELCOME settle (§8.1). */
  if (data[0] < 1)
    {
      g_set_error_literal (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_VERSION,
                           "frame version 0 is not valid (versions start at 1)");
      return NULL;
    }
  payload_len = ((guint32) data[4] << 24) | ((guint32) data[5] << 16) | ((guint32) data[6] << 8) | data[7];
  if (payload_len > NFLTR_PROTO_MAX_PAYLOAD)
    {
      g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_TOO_BIG,
                   "frame payload of %u bytes exceeds the %d-byte limit",
                   payload_len, NFLTR_PROTO_MAX_PAYLOAD);
      return NULL;
    }
  if (payload_len != len - NFLTR_PROTO_HEADER_SIZE)
    {
      g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_LENGTH,
                   "frame header says %u payload bytes but %" G_GSIZE_FORMAT " followed",
                   payload_len, len - NFLTR_PROTO_HEADER_SIZE);
      return NULL;
    }

  frame = nfltr_frame_new (data[1]);
  frame->version = data[0];
  /* §4.1: reserved bits are ignored on receipt; dropping them here means a frame that is
   * decoded and sent on never carries them. */
  frame->flags = (((guint16) data[2] << 8) | data[3]) & NFLTR_FRAME_FLAGS_KNOWN;
  pos = NFLTR_PROTO_HEADER_SIZE;
  while (pos < len)
    {
      guint attr;
      guint32 alen;
      const AttrInfo *info;

      if (len - pos < NFLTR_PROTO_ATTR_HEADER_SIZE)
        {
          g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                       "attribute header truncated at offset %" G_GSIZE_FORMAT, pos);
          return NULL;
        }
      attr = ((guint) data[pos] << 8) | data[pos + 1];
      alen = ((guint32) data[pos + 2] << 24) | ((guint32) data[pos + 3] << 16) |
             ((guint32) data[pos + 4] << 8) | data[pos + 5];
      pos += NFLTR_PROTO_ATTR_HEADER_SIZE;
      if (alen > len - pos)
        {
          g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                       "attribute %u claims %u bytes but only %" G_GSIZE_FORMAT " remain",
                       attr, alen, len - pos);
          return NULL;
        }
      if (!attr_is_known (attr))
        {
          pos += alen;  /* forward compatibility: skip unknown attributes */
          continue;
        }
      info = &attr_info[attr];
      if (frame->attrs[attr] != NULL)
        {
          g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                       "attribute %s appears twice", info->name);
          return NULL;
        }
      if (info->kind == ATTR_KIND_FIXED && alen != info->size)
        {
          g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                       "attribute %s must be %" G_GSIZE_FORMAT " bytes, got %u",
                       info->name, info->size, alen);
          return NULL;
        }
      if (info->kind == ATTR_KIND_STRING)
        {
          if (memchr (data + pos, '\0', alen) != NULL ||
              !g_utf8_validate ((const char *) data + pos, alen, NULL))
            {
              g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                           "attribute %s is not valid UTF-8 text", info->name);
              return NULL;
            }
        }
      {
        /* Keep a NUL after the counted bytes so strings can be handed out in place. */
        guint8 *copy = g_malloc (alen + 1);
        memcpy (copy, data + pos, alen);
        copy[alen] = '\0';
        frame->attrs[attr] = g_bytes_new_take (copy, alen);
      }
      pos += alen;
    }

  /* The frame-type table (nfltr-messages.c) says what each known type must carry. */
  if (!nfltr_msg_check_required (frame, error))
    return NULL;

  return g_steal_pointer (&frame);
}

NfltrFrame *
nfltr_frame_new_error (NfltrProtoErrorCode code, const char *message)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_ERROR);
  nfltr_frame_set_u16 (frame, NFLTR_ATTR_CODE, code);
  nfltr_frame_set_string (frame, NFLTR_ATTR_MESSAGE, message);
  return frame;
}

NfltrFrame *
nfltr_frame_new_error_for (NfltrProtoErrorCode code, const char *message, const NfltrFrame *about)
{
  NfltrFrame *frame = nfltr_frame_new_error (code, message);
  guint32 request_id;

  if (about == NULL)
    return frame;
  /* §4.2 step 4: the peer can tell which of its frames (and requests) this answers. */
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_FRAME_TYPE, about->type);
  if (nfltr_frame_get_u32 (about, NFLTR_ATTR_REQUEST_ID, &request_id))
    nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, request_id);
  return frame;
}

NfltrFrame *
nfltr_frame_new_pong_for (const NfltrFrame *ping)
{
  NfltrFrame *pong = nfltr_frame_new (NFLTR_FRAME_PONG);
  guint64 seq = 0;

  g_return_val_if_fail (ping->type == NFLTR_FRAME_PING, pong);
  /* §3: the same seq, so the sender can match the answer to its PING. */
  nfltr_frame_get_u64 (ping, NFLTR_ATTR_SEQ, &seq);
  nfltr_frame_set_u64 (pong, NFLTR_ATTR_SEQ, seq);
  return pong;
}

gboolean
nfltr_proto_feature_is_valid (const char *token)
{
  gsize len;

  if (token == NULL)
    return FALSE;
  len = strlen (token);
  /* §8.2: 1–32 characters of a-z, 0-9 and '-' */
  if (len < 1 || len > NFLTR_PROTO_FEATURE_MAX_LEN)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!((token[i] >= 'a' && token[i] <= 'z') || (token[i] >= '0' && token[i] <= '9') || token[i] == '-'))
      return FALSE;
  return TRUE;
}

gboolean
nfltr_proto_features_has (const char *features, const char *token)
{
  g_auto (GStrv) tokens = NULL;

  if (features == NULL || !nfltr_proto_feature_is_valid (token))
    return FALSE;
  tokens = g_strsplit (features, " ", -1);
  return g_strv_contains ((const char * const *) tokens, token);
}

char *
nfltr_proto_features_intersect (const char *offered, const char *supported)
{
  g_auto (GStrv) tokens = NULL;
  g_autoptr (GPtrArray) out = g_ptr_array_new ();

  if (offered == NULL || supported == NULL)
    return g_strdup ("");
  tokens = g_strsplit (offered, " ", -1);
  /* §8.2: unknown, repeated and malformed tokens are ignored, never an error. */
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      const char *token = tokens[i];
      gboolean seen = FALSE;

      if (!nfltr_proto_features_has (supported, token))
        continue;
      for (guint j = 0; j < out->len && !seen; j++)
        seen = strcmp (out->pdata[j], token) == 0;
      if (!seen)
        g_ptr_array_add (out, (gpointer) token);
    }
  g_ptr_array_add (out, NULL);
  return g_strjoinv (" ", (char **) out->pdata);
}

void
nfltr_proto_attach_encode (const guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE],
                           guint8       out[NFLTR_PROTO_ATTACH_SIZE])
{
  memset (out, 0, NFLTR_PROTO_ATTACH_SIZE);
  memcpy (out, NFLTR_PROTO_ATTACH_MAGIC, 6);
  out[6] = NFLTR_PROTO_VERSION;
  out[7] = 0;
  memcpy (out + 8, conn_id, NFLTR_PROTO_CONN_ID_SIZE);
}

gboolean
nfltr_proto_attach_decode (const guint8 *data, gsize len,
                           guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE],
                           GError **error)
{
  if (len < NFLTR_PROTO_ATTACH_SIZE)
    {
      g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_TRUNCATED,
                   "data-connection preamble is %" G_GSIZE_FORMAT " bytes, needs %d",
                   len, NFLTR_PROTO_ATTACH_SIZE);
      return FALSE;
    }
  if (memcmp (data, NFLTR_PROTO_ATTACH_MAGIC, 6) != 0)
    {
      g_set_error_literal (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                           "data-connection preamble has the wrong magic");
      return FALSE;
    }
  if (data[6] != NFLTR_PROTO_VERSION)
    {
      g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_VERSION,
                   "data-connection preamble version %u is not supported", data[6]);
      return FALSE;
    }
  /* §5: the reserved bytes (after the version, after the conn-id) are zeros; anything else is a
   * peer this version does not understand, so it is refused rather than half-read. */
  for (gsize i = 7; i < NFLTR_PROTO_ATTACH_SIZE; i++)
    if ((i < 8 || i >= 8 + NFLTR_PROTO_CONN_ID_SIZE) && data[i] != 0)
      {
        g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                     "data-connection preamble has a non-zero reserved byte at %" G_GSIZE_FORMAT, i);
        return FALSE;
      }
  memcpy (conn_id, data + 8, NFLTR_PROTO_CONN_ID_SIZE);
  return TRUE;
}

gsize
nfltr_proto_take_encode (const char *client_addr, guint8 out[NFLTR_PROTO_TAKE_MAX_SIZE])
{
  gsize len = MIN (strlen (client_addr), 255);

  memcpy (out, NFLTR_PROTO_TAKE_MAGIC, 6);
  out[6] = NFLTR_PROTO_VERSION;
  out[7] = (guint8) len;
  memcpy (out + NFLTR_PROTO_TAKE_HEADER_SIZE, client_addr, len);
  return NFLTR_PROTO_TAKE_HEADER_SIZE + len;
}

gssize
nfltr_proto_take_decode (const guint8 *data, gsize len, char **client_addr, GError **error)
{
  gsize need;

  if (len >= 6 && memcmp (data, NFLTR_PROTO_TAKE_MAGIC, 6) != 0)
    {
      g_set_error_literal (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                           "pooled data connection: the take header has the wrong magic");
      return -1;
    }
  if (len >= 7 && data[6] != NFLTR_PROTO_VERSION)
    {
      g_set_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_VERSION,
                   "pooled data connection: take header version %u is not supported", data[6]);
      return -1;
    }
  if (len < NFLTR_PROTO_TAKE_HEADER_SIZE)
    return 0;
  need = NFLTR_PROTO_TAKE_HEADER_SIZE + data[7];
  if (len < need)
    return 0;
  if (!g_utf8_validate ((const char *) data + NFLTR_PROTO_TAKE_HEADER_SIZE, data[7], NULL) ||
      memchr (data + NFLTR_PROTO_TAKE_HEADER_SIZE, 0, data[7]) != NULL)
    {
      g_set_error_literal (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR,
                           "pooled data connection: the client address is not UTF-8");
      return -1;
    }
  *client_addr = g_strndup ((const char *) data + NFLTR_PROTO_TAKE_HEADER_SIZE, data[7]);
  return need;
}

gboolean
nfltr_proto_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len < 1 || len > 63)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = name[i];
      gboolean alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!alnum && !(c == '-' && i != 0 && i != len - 1))
        return FALSE;
    }
  return TRUE;
}
