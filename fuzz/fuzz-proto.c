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
#define TYPED(kind, Struct)                                                    \
  {                                                                            \
    Struct msg;                                                                \
    if (nfltr_msg_##kind##_decode (frame, &msg, NULL))                         \
      again = nfltr_msg_##kind##_encode (&msg);                                \
  }                                                                            \
  break

static void
typed_roundtrip (const NfltrFrame *frame)
{
  g_autoptr(NfltrFrame) again = NULL;

  switch ((guint8) nfltr_frame_get_type (frame))
    {
    case NFLTR_FRAME_HELLO: TYPED (hello, NfltrMsgHello);
    case NFLTR_FRAME_WELCOME: TYPED (welcome, NfltrMsgWelcome);
    case NFLTR_FRAME_ERROR: TYPED (error, NfltrMsgError);
    case NFLTR_FRAME_PING: TYPED (ping, NfltrMsgPing);
    case NFLTR_FRAME_PONG: TYPED (pong, NfltrMsgPong);
    case NFLTR_FRAME_BIND: TYPED (bind, NfltrMsgBind);
    case NFLTR_FRAME_BOUND: TYPED (bound, NfltrMsgBound);
    case NFLTR_FRAME_UNBIND: TYPED (unbind, NfltrMsgUnbind);
    case NFLTR_FRAME_CONN_OPEN: TYPED (conn_open, NfltrMsgConnOpen);
    case NFLTR_FRAME_CONN_REFUSE: TYPED (conn_refuse, NfltrMsgConnRefuse);
    default:
      return;
    }
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
