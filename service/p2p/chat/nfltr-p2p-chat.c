/* nfltr-p2p-chat.c — length-prefixed JSON messages for the control and chat streams. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-chat.h"
#include "nfltr-p2p-error.h"

#include <string.h>

struct _NfltrP2pFramer {
  GByteArray *buf;
};

NfltrP2pFramer *
nfltr_p2p_framer_new (void)
{
  NfltrP2pFramer *framer = g_new0 (NfltrP2pFramer, 1);

  framer->buf = g_byte_array_new ();
  return framer;
}

void
nfltr_p2p_framer_free (NfltrP2pFramer *framer)
{
  if (framer == NULL)
    return;
  g_byte_array_unref (framer->buf);
  g_free (framer);
}

void
nfltr_p2p_framer_push (NfltrP2pFramer *framer,
                       const guint8   *data,
                       gsize           len)
{
  g_byte_array_append (framer->buf, data, len);
}

JsonObject *
nfltr_p2p_framer_next (NfltrP2pFramer *framer,
                       GError        **error)
{
  g_autoptr(JsonParser) parser = NULL;
  guint32 len_be, len;
  JsonNode *root;
  JsonObject *object;

  if (framer->buf->len < 4)
    return NULL;
  memcpy (&len_be, framer->buf->data, 4);
  len = GUINT32_FROM_BE (len_be);
  if (len > NFLTR_P2P_MESSAGE_MAX)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_LIMIT,
                   "the peer sent a message of %u bytes, over the limit of %d", len, NFLTR_P2P_MESSAGE_MAX);
      return NULL;
    }
  if (framer->buf->len - 4 < len)
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const char *) framer->buf->data + 4, len, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED, "the peer sent a message that is not a JSON object");
      return NULL;
    }
  object = json_object_ref (json_node_get_object (root));
  g_byte_array_remove_range (framer->buf, 0, 4 + len);
  return object;
}

GBytes *
nfltr_p2p_framer_take_rest (NfltrP2pFramer *framer)
{
  GBytes *rest = g_bytes_new (framer->buf->data, framer->buf->len);

  g_byte_array_set_size (framer->buf, 0);
  return rest;
}

GBytes *
nfltr_p2p_message_pack (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;
  gsize len;
  guint32 len_be;
  GByteArray *out = g_byte_array_new ();

  json_node_set_object (node, object);
  text = json_to_string (node, FALSE);
  len = strlen (text);
  len_be = GUINT32_TO_BE ((guint32) len);
  g_byte_array_append (out, (const guint8 *) &len_be, 4);
  g_byte_array_append (out, (const guint8 *) text, len);
  return g_byte_array_free_to_bytes (out);
}

JsonObject *
nfltr_p2p_chat_text (guint32     id,
                     const char *text)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "id", id);
  json_object_set_string_member (object, "text", text);
  return object;
}

JsonObject *
nfltr_p2p_chat_ack (guint32 id)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "ack", id);
  return object;
}
