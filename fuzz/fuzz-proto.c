/* fuzz-proto.c — the agent–relay frame decoder and the data-connection preamble
 * (docs/protocol.md §4, §5). Whatever decodes must re-encode to a frame that decodes
 * to the same header and attributes. */
#include "nfltr-proto.h"
#include "nfltr-messages.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The typed message of a decoded frame: if it decodes, its encoding must carry everything
 * the frame-type table requires. */
static void
typed_roundtrip (const NfltrFrame *frame)
{
  g_autoptr(NfltrFrame) again = NULL;
  union {
    NfltrMsgHello      hello;
    NfltrMsgWelcome    welcome;
    NfltrMsgError      error;
    NfltrMsgPing       ping;
    NfltrMsgPong       pong;
    NfltrMsgBind       bind;
    NfltrMsgBound      bound;
    NfltrMsgUnbind     unbind;
    NfltrMsgConnOpen   conn_open;
    NfltrMsgConnRefuse conn_refuse;
  } m;
  guint8 type;

  type = nfltr_frame_get_type (frame);
  if (type == NFLTR_FRAME_HELLO && nfltr_msg_hello_decode (frame, &m.hello, NULL))
    again = nfltr_msg_hello_encode (&m.hello);
  else if (type == NFLTR_FRAME_WELCOME && nfltr_msg_welcome_decode (frame, &m.welcome, NULL))
    again = nfltr_msg_welcome_encode (&m.welcome);
  else if (type == NFLTR_FRAME_ERROR && nfltr_msg_error_decode (frame, &m.error, NULL))
    again = nfltr_msg_error_encode (&m.error);
  else if (type == NFLTR_FRAME_PING && nfltr_msg_ping_decode (frame, &m.ping, NULL))
    again = nfltr_msg_ping_encode (&m.ping);
  else if (type == NFLTR_FRAME_PONG && nfltr_msg_pong_decode (frame, &m.pong, NULL))
    again = nfltr_msg_pong_encode (&m.pong);
  else if (type == NFLTR_FRAME_BIND && nfltr_msg_bind_decode (frame, &m.bind, NULL))
    again = nfltr_msg_bind_encode (&m.bind);
  else if (type == NFLTR_FRAME_BOUND && nfltr_msg_bound_decode (frame, &m.bound, NULL))
    again = nfltr_msg_bound_encode (&m.bound);
  else if (type == NFLTR_FRAME_UNBIND && nfltr_msg_unbind_decode (frame, &m.unbind, NULL))
    again = nfltr_msg_unbind_encode (&m.unbind);
  else if (type == NFLTR_FRAME_CONN_OPEN && nfltr_msg_conn_open_decode (frame, &m.conn_open, NULL))
    again = nfltr_msg_conn_open_encode (&m.conn_open);
  else if (type == NFLTR_FRAME_CONN_REFUSE && nfltr_msg_conn_refuse_decode (frame, &m.conn_refuse, NULL))
    again = nfltr_msg_conn_refuse_encode (&m.conn_refuse);
  if (again != NULL)
    g_assert (nfltr_msg_check_required (again, NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(NfltrFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE];

  frame = nfltr_frame_decode (data, size, &error);
  if (frame != NULL)
    {
      g_autoptr(GBytes) again = nfltr_frame_encode (frame);
      gsize len;
      const guint8 *bytes = g_bytes_get_data (again, &len);
      g_autoptr(NfltrFrame) back = nfltr_frame_decode (bytes, len, NULL);

      g_assert (back != NULL);
      g_assert (nfltr_frame_get_type (back) == nfltr_frame_get_type (frame));
      g_assert (nfltr_frame_get_version (back) == nfltr_frame_get_version (frame));
      /* §4.1: reserved flag bits do not survive decoding, so nothing re-sends them */
      g_assert ((nfltr_frame_get_flags (frame) & ~NFLTR_FRAME_FLAGS_KNOWN) == 0);
      g_assert (nfltr_frame_get_flags (back) == nfltr_frame_get_flags (frame));
      for (guint attr = 1; attr <= NFLTR_ATTR_LAST_; attr++)
        {
          gsize l1, l2;
          const guint8 *a = nfltr_frame_get_bytes (frame, attr, &l1);
          const guint8 *b = nfltr_frame_get_bytes (back, attr, &l2);
          g_assert ((a == NULL) == (b == NULL));
          g_assert (l1 == l2 && (l1 == 0 || memcmp (a, b, l1) == 0));
        }
      (void) nfltr_frame_get_string (frame, NFLTR_ATTR_MESSAGE);
      typed_roundtrip (frame);
    }
  else
    g_assert (error != NULL && error->message != NULL);

  nfltr_proto_attach_decode (data, size, conn_id, NULL);
  return 0;
}
