/* nfltr-p2p-message.c — encode and decode the pairing messages (docs/protocol.md §9.2). */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-message.h"
#include "nfltr-p2p-error.h"

#include <string.h>

void
nfltr_p2p_message_clear (NfltrP2pMessage *msg)
{
  g_free (msg->ufrag);
  g_free (msg->pwd);
  g_free (msg->candidate);
  memset (msg, 0, sizeof *msg);
}

const char *
nfltr_p2p_message_type_name (guint8 type)
{
  switch (type)
    {
      case NFLTR_P2P_MSG_PAKE_A: return "PAKE_A";
      case NFLTR_P2P_MSG_PAKE_B: return "PAKE_B";
      case NFLTR_P2P_MSG_ICE_CREDENTIALS: return "ICE_CREDENTIALS";
      case NFLTR_P2P_MSG_ICE_CANDIDATE: return "ICE_CANDIDATE";
      case NFLTR_P2P_MSG_ICE_DONE: return "ICE_DONE";
      case NFLTR_P2P_MSG_CONFIRM: return "CONFIRM";
      case NFLTR_P2P_MSG_ABORT: return "ABORT";
      default: return "unknown";
    }
}

static void
put_string8 (GByteArray *out, const char *s)
{
  guint8 len = (guint8) strlen (s);

  g_byte_array_append (out, &len, 1);
  g_byte_array_append (out, (const guint8 *) s, len);
}

GBytes *
nfltr_p2p_message_encode (const NfltrP2pMessage *msg)
{
  GByteArray *out = g_byte_array_new ();
  guint8 header[NFLTR_P2P_MSG_HEADER] = { NFLTR_P2P_MSG_VERSION, msg->type, 0, 0 };
  guint16 body;

  g_byte_array_append (out, header, sizeof header);
  switch (msg->type)
    {
      case NFLTR_P2P_MSG_PAKE_A:
        g_byte_array_append (out, msg->sid, sizeof msg->sid);
        g_byte_array_append (out, msg->share, sizeof msg->share);
        g_byte_array_append (out, msg->nonce, sizeof msg->nonce);
        break;
      case NFLTR_P2P_MSG_PAKE_B:
        g_byte_array_append (out, msg->share, sizeof msg->share);
        g_byte_array_append (out, msg->nonce, sizeof msg->nonce);
        break;
      case NFLTR_P2P_MSG_ICE_CREDENTIALS:
        g_return_val_if_fail (msg->ufrag != NULL && strlen (msg->ufrag) < 256, NULL);
        g_return_val_if_fail (msg->pwd != NULL && strlen (msg->pwd) < 256, NULL);
        put_string8 (out, msg->ufrag);
        put_string8 (out, msg->pwd);
        break;
      case NFLTR_P2P_MSG_ICE_CANDIDATE:
        g_return_val_if_fail (msg->candidate != NULL && strlen (msg->candidate) <= NFLTR_P2P_CANDIDATE_MAX,
                              NULL);
        g_byte_array_append (out, (const guint8 *) msg->candidate, strlen (msg->candidate));
        break;
      case NFLTR_P2P_MSG_ICE_DONE: break;
      case NFLTR_P2P_MSG_CONFIRM: g_byte_array_append (out, msg->tag, sizeof msg->tag); break;
      case NFLTR_P2P_MSG_ABORT: g_byte_array_append (out, &msg->reason, 1); break;
      default: g_return_val_if_reached (NULL);
    }
  body = GUINT16_TO_BE ((guint16) (out->len - NFLTR_P2P_MSG_HEADER));
  memcpy (out->data + 2, &body, 2);
  return g_byte_array_free_to_bytes (out);
}

/* ICE strings and candidates are printable ASCII without spaces for credentials (RFC 8445
 * ice-char) and with spaces for candidate lines; nothing else may reach libnice or a log. */
static gboolean
valid_text (const guint8 *p,
            gsize         len,
            gboolean      spaces)
{
  for (gsize i = 0; i < len; i++)
    if (p[i] < 0x21 || p[i] > 0x7e)
      {
        if (!(spaces && p[i] == ' '))
          return FALSE;
      }
  return TRUE;
}

static char *
get_string8 (const guint8 **p,
             gsize         *left,
             gsize          min)
{
  gsize len;
  char *s;

  if (*left < 1)
    return NULL;
  len = (*p)[0];
  if (len < min || *left < 1 + len || !valid_text (*p + 1, len, FALSE))
    return NULL;
  s = g_strndup ((const char *) *p + 1, len);
  *p += 1 + len;
  *left -= 1 + len;
  return s;
}

gboolean
nfltr_p2p_message_decode (const guint8    *data,
                          gsize            len,
                          NfltrP2pMessage *msg,
                          GError         **error)
{
  const guint8 *body;
  guint16 body_len_be;
  gsize body_len;
  gsize want = G_MAXSIZE;

  memset (msg, 0, sizeof *msg);
  if (len < NFLTR_P2P_MSG_HEADER)
    goto malformed;
  if (data[0] != NFLTR_P2P_MSG_VERSION)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED,
                   "the peer speaks pairing version %u; this one speaks %u", data[0],
                   NFLTR_P2P_MSG_VERSION);
      return FALSE;
    }
  memcpy (&body_len_be, data + 2, 2);
  body_len = GUINT16_FROM_BE (body_len_be);
  if (body_len != len - NFLTR_P2P_MSG_HEADER)
    goto malformed;
  body = data + NFLTR_P2P_MSG_HEADER;
  msg->type = data[1];
  switch (msg->type)
    {
      case NFLTR_P2P_MSG_PAKE_A:
        want = NFLTR_P2P_SID_BYTES + NFLTR_P2P_SHARE_BYTES + NFLTR_P2P_NONCE_BYTES;
        break;
      case NFLTR_P2P_MSG_PAKE_B: want = NFLTR_P2P_SHARE_BYTES + NFLTR_P2P_NONCE_BYTES; break;
      case NFLTR_P2P_MSG_ICE_DONE: want = 0; break;
      case NFLTR_P2P_MSG_CONFIRM: want = NFLTR_P2P_CONFIRM_BYTES; break;
      case NFLTR_P2P_MSG_ABORT: want = 1; break;
      case NFLTR_P2P_MSG_ICE_CREDENTIALS:
      case NFLTR_P2P_MSG_ICE_CANDIDATE: break;
      default:
        g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED, "unknown pairing message type %u",
                     data[1]);
        return FALSE;
    }
  if (want != G_MAXSIZE && body_len != want)
    goto malformed;

  switch (msg->type)
    {
      case NFLTR_P2P_MSG_PAKE_A:
        memcpy (msg->sid, body, NFLTR_P2P_SID_BYTES);
        memcpy (msg->share, body + NFLTR_P2P_SID_BYTES, NFLTR_P2P_SHARE_BYTES);
        memcpy (msg->nonce, body + NFLTR_P2P_SID_BYTES + NFLTR_P2P_SHARE_BYTES, NFLTR_P2P_NONCE_BYTES);
        break;
      case NFLTR_P2P_MSG_PAKE_B:
        memcpy (msg->share, body, NFLTR_P2P_SHARE_BYTES);
        memcpy (msg->nonce, body + NFLTR_P2P_SHARE_BYTES, NFLTR_P2P_NONCE_BYTES);
        break;
      case NFLTR_P2P_MSG_CONFIRM: memcpy (msg->tag, body, NFLTR_P2P_CONFIRM_BYTES); break;
      case NFLTR_P2P_MSG_ABORT: msg->reason = body[0]; break;
      case NFLTR_P2P_MSG_ICE_DONE: break;
      case NFLTR_P2P_MSG_ICE_CREDENTIALS:
        {
          const guint8 *p = body;
          gsize left = body_len;

          msg->ufrag = get_string8 (&p, &left, NFLTR_P2P_UFRAG_MIN);
          if (msg->ufrag == NULL)
            goto malformed;
          msg->pwd = get_string8 (&p, &left, NFLTR_P2P_PWD_MIN);
          if (msg->pwd == NULL || left != 0)
            goto malformed;
          break;
        }
      case NFLTR_P2P_MSG_ICE_CANDIDATE:
        if (body_len == 0 || body_len > NFLTR_P2P_CANDIDATE_MAX || !valid_text (body, body_len, TRUE))
          goto malformed;
        msg->candidate = g_strndup ((const char *) body, body_len);
        break;
      default: g_assert_not_reached ();
    }
  return TRUE;

malformed:
  g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED,
               "a malformed pairing message (%s, %" G_GSIZE_FORMAT " bytes)",
               len >= 2 ? nfltr_p2p_message_type_name (data[1]) : "truncated", len);
  nfltr_p2p_message_clear (msg);
  return FALSE;
}
