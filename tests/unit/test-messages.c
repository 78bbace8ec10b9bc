/* test-messages.c — the frame-type table and the typed messages: every message survives
 * encode → bytes → decode, and a decoder refuses the wrong type, a missing attribute and a
 * value the codec alone cannot judge. */
#include "nfltr-messages.h"

#include <string.h>

/* Through the wire and back, as a peer would receive it. */
static NfltrFrame *
over_the_wire (NfltrFrame *frame)
{
  g_autoptr(NfltrFrame) owned = frame;
  g_autoptr(GBytes) bytes = nfltr_frame_encode (owned);
  g_autoptr(GError) error = NULL;
  NfltrFrame *back = nfltr_frame_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);

  g_assert_no_error (error);
  return back;
}

static gboolean
attr_listed (const NfltrAttrType *list, NfltrAttrType attr)
{
  for (; *list != 0; list++)
    if (*list == attr)
      return TRUE;
  return FALSE;
}

/* docs/protocol.md §4 "Frame types", row by row. */
static void
test_table (void)
{
  gsize n = 0;
  const NfltrMsgInfo *rows = nfltr_msg_info_all (&n);
  const guint8 every_type[] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x11, 0x12, 0x13, 0x14, 0x20, 0x21,
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x50, 0x51, 0x58, 0x59, 0x60
  }; /* 0x58–59: issue 14 */
  const NfltrMsgInfo *hello = nfltr_msg_info_lookup (NFLTR_FRAME_HELLO);
  const NfltrMsgInfo *wg = nfltr_msg_info_lookup (NFLTR_FRAME_WG_PACKET);

  g_assert_cmpuint (n, ==, G_N_ELEMENTS (every_type));
  for (gsize i = 0; i < n; i++)
    {
      g_assert_cmpuint (rows[i].type, ==, every_type[i]);
      g_assert_true (nfltr_msg_info_lookup (rows[i].type) == &rows[i]);
      g_assert_cmpstr (nfltr_frame_type_to_string (rows[i].type), ==, rows[i].name);
      g_assert_cmpuint (rows[i].direction & ~NFLTR_MSG_FROM_BOTH, ==, 0);
      g_assert_cmpuint (rows[i].direction, !=, 0);
      for (const NfltrAttrType *a = rows[i].required; *a != 0; a++)
        {
          g_assert_nonnull (nfltr_proto_attr_to_string (*a));
          g_assert_false (attr_listed (rows[i].optional, *a));
        }
      for (const NfltrAttrType *a = rows[i].optional; *a != 0; a++)
        g_assert_nonnull (nfltr_proto_attr_to_string (*a));
    }
  g_assert_null (nfltr_msg_info_lookup (0x7e));
  g_assert_null (nfltr_msg_info_lookup (0x00));

  g_assert_cmpuint (hello->direction, ==, NFLTR_MSG_FROM_AGENT);
  g_assert_true (attr_listed (hello->optional, NFLTR_ATTR_FEATURES));
  g_assert_true (attr_listed (nfltr_msg_info_lookup (NFLTR_FRAME_ERROR)->optional, NFLTR_ATTR_FRAME_TYPE));
  g_assert_cmpuint (nfltr_msg_info_lookup (NFLTR_FRAME_CONN_OPEN)->direction, ==, NFLTR_MSG_FROM_RELAY);
  g_assert_true (attr_listed (wg->required, NFLTR_ATTR_PEER_ID));
  g_assert_true (attr_listed (wg->required, NFLTR_ATTR_DATA));
}

/* nfltr_frame_decode takes its required attributes from the table, reserved rows included. */
static void
test_decode_uses_table (void)
{
  /* WG_PACKET with peer-id but no data */
  const guint8 wg[] = { 1, 0x40, 0, 0, 0, 0, 0, 7, 0, 19, 0, 0, 0, 1, 'p' };
  /* an unknown type requires nothing */
  const guint8 odd[] = { 1, 0x7e, 0, 0, 0, 0, 0, 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) f = nfltr_frame_decode (wg, sizeof wg, &error);
  g_autoptr(NfltrFrame) u = NULL;

  g_assert_null (f);
  g_assert_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_MISSING_ATTR);
  g_assert_cmpstr (error->message, ==, "WG_PACKET frame lacks required attribute data");
  g_clear_error (&error);
  u = nfltr_frame_decode (odd, sizeof odd, &error);
  g_assert_no_error (error);
  g_assert_nonnull (u);
}

static void
test_hello_welcome (void)
{
  NfltrMsgHello hello = { 2, "nfltr_key", "0123456789abcdef0123456789abcdef", "1.2", "p2p x-new" };
  NfltrMsgHello h2;
  NfltrMsgWelcome welcome = { 1, "s1", "nfltr.localhost", NULL, "" };
  NfltrMsgWelcome w2;
  g_autoptr(NfltrFrame) hf = over_the_wire (nfltr_msg_hello_encode (&hello));
  g_autoptr(NfltrFrame) wf = over_the_wire (nfltr_msg_welcome_encode (&welcome));
  g_autoptr(GError) error = NULL;

  g_assert_true (nfltr_msg_hello_decode (hf, &h2, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (h2.proto_version, ==, 2);
  g_assert_cmpstr (h2.api_key, ==, "nfltr_key");
  g_assert_cmpstr (h2.agent_id, ==, hello.agent_id);
  g_assert_cmpstr (h2.agent_version, ==, "1.2");
  g_assert_cmpstr (h2.features, ==, "p2p x-new");

  g_assert_true (nfltr_msg_welcome_decode (wf, &w2, &error));
  g_assert_cmpuint (w2.proto_version, ==, 1);
  g_assert_cmpstr (w2.session_id, ==, "s1");
  g_assert_cmpstr (w2.domain, ==, "nfltr.localhost");
  g_assert_null (w2.relay_version);
  g_assert_cmpstr (w2.features, ==, "");   /* present and empty: "none in common" */
}

static void
test_error (void)
{
  NfltrMsgError full = { NFLTR_PROTO_ERR_UNSUPPORTED_FRAME, "no", TRUE, 7, "myapp", TRUE, 0x7e };
  NfltrMsgError bare = { NFLTR_PROTO_ERR_PROTOCOL, "bad" };
  NfltrMsgError got;
  g_autoptr(NfltrFrame) ff = over_the_wire (nfltr_msg_error_encode (&full));
  g_autoptr(NfltrFrame) bf = over_the_wire (nfltr_msg_error_encode (&bare));
  g_autoptr(GError) error = NULL;

  g_assert_true (nfltr_msg_error_decode (ff, &got, &error));
  g_assert_cmpuint (got.code, ==, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME);
  g_assert_cmpstr (got.message, ==, "no");
  g_assert_true (got.has_request_id);
  g_assert_cmpuint (got.request_id, ==, 7);
  g_assert_cmpstr (got.name, ==, "myapp");
  g_assert_true (got.has_frame_type);
  g_assert_cmpuint (got.frame_type, ==, 0x7e);

  g_assert_true (nfltr_msg_error_decode (bf, &got, &error));
  g_assert_cmpuint (got.code, ==, NFLTR_PROTO_ERR_PROTOCOL);
  g_assert_false (got.has_request_id);
  g_assert_null (got.name);
  g_assert_false (got.has_frame_type);
}

static void
test_ping_pong (void)
{
  NfltrMsgPing ping = { G_GUINT64_CONSTANT (1) << 40 };
  NfltrMsgPing p2;
  NfltrMsgPong pong = { 3 };
  NfltrMsgPong q2;
  g_autoptr(NfltrFrame) pf = over_the_wire (nfltr_msg_ping_encode (&ping));
  g_autoptr(NfltrFrame) qf = over_the_wire (nfltr_msg_pong_encode (&pong));
  g_autoptr(NfltrFrame) answer = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (nfltr_msg_ping_decode (pf, &p2, &error));
  g_assert_cmpuint (p2.seq, ==, ping.seq);
  g_assert_true (nfltr_msg_pong_decode (qf, &q2, &error));
  g_assert_cmpuint (q2.seq, ==, 3);
  /* the shared helper answers with the same seq */
  answer = nfltr_frame_new_pong_for (pf);
  g_assert_true (nfltr_msg_pong_decode (answer, &q2, &error));
  g_assert_cmpuint (q2.seq, ==, ping.seq);
}

static void
test_bind_family (void)
{
  NfltrMsgBind bind = { 77, "myapp", NFLTR_MODE_INSPECTABLE, { 0 }, "tcp" };
  NfltrMsgBind b2;
  NfltrMsgBound bound = { 77, "myapp", "myapp.nfltr.localhost", "https://myapp.nfltr.localhost:8443" };
  NfltrMsgBound d2;
  NfltrMsgUnbind unbind = { "myapp" };
  NfltrMsgUnbind u2;
  g_autoptr(NfltrFrame) bf = NULL;
  g_autoptr(NfltrFrame) df = NULL;
  g_autoptr(NfltrFrame) uf = NULL;
  g_autoptr(GError) error = NULL;

  memset (bind.fingerprint, 0xab, sizeof bind.fingerprint);
  bf = over_the_wire (nfltr_msg_bind_encode (&bind));
  df = over_the_wire (nfltr_msg_bound_encode (&bound));
  uf = over_the_wire (nfltr_msg_unbind_encode (&unbind));

  g_assert_true (nfltr_msg_bind_decode (bf, &b2, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (b2.request_id, ==, 77);
  g_assert_cmpstr (b2.name, ==, "myapp");
  g_assert_cmpint (b2.mode, ==, NFLTR_MODE_INSPECTABLE);
  g_assert_cmpmem (b2.fingerprint, sizeof b2.fingerprint, bind.fingerprint, sizeof bind.fingerprint);
  g_assert_cmpstr (b2.kind, ==, "tcp");

  g_assert_true (nfltr_msg_bound_decode (df, &d2, &error));
  g_assert_cmpuint (d2.request_id, ==, 77);
  g_assert_cmpstr (d2.host, ==, bound.host);
  g_assert_cmpstr (d2.url, ==, bound.url);

  g_assert_true (nfltr_msg_unbind_decode (uf, &u2, &error));
  g_assert_cmpstr (u2.name, ==, "myapp");
}

static void
test_conn (void)
{
  NfltrMsgConnOpen open = { { 0 }, "myapp", "127.0.0.1:4242" };
  NfltrMsgConnOpen o2;
  NfltrMsgConnRefuse refuse = { { 0 }, NULL };
  NfltrMsgConnRefuse r2;
  g_autoptr(NfltrFrame) of = NULL;
  g_autoptr(NfltrFrame) rf = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < NFLTR_PROTO_CONN_ID_SIZE; i++)
    open.conn_id[i] = refuse.conn_id[i] = i + 1;
  of = over_the_wire (nfltr_msg_conn_open_encode (&open));
  rf = over_the_wire (nfltr_msg_conn_refuse_encode (&refuse));

  g_assert_true (nfltr_msg_conn_open_decode (of, &o2, &error));
  g_assert_cmpmem (o2.conn_id, sizeof o2.conn_id, open.conn_id, sizeof open.conn_id);
  g_assert_cmpstr (o2.name, ==, "myapp");
  g_assert_cmpstr (o2.client_addr, ==, "127.0.0.1:4242");

  g_assert_true (nfltr_msg_conn_refuse_decode (rf, &r2, &error));
  g_assert_cmpmem (r2.conn_id, sizeof r2.conn_id, refuse.conn_id, sizeof refuse.conn_id);
  g_assert_null (r2.message);
}

static void
test_decode_refuses (void)
{
  NfltrMsgPing ping = { 1 };
  NfltrMsgBind bind;
  NfltrMsgHello hello;
  NfltrMsgPong pong;
  g_autoptr(NfltrFrame) pf = nfltr_msg_ping_encode (&ping);
  g_autoptr(NfltrFrame) odd = nfltr_frame_new (0x7e);
  g_autoptr(NfltrFrame) partial = nfltr_frame_new (NFLTR_FRAME_BIND);
  g_autoptr(NfltrFrame) bad_mode = NULL;
  g_autoptr(GError) error = NULL;
  guint8 fp[NFLTR_PROTO_FINGERPRINT_SIZE] = { 0 };

  /* the wrong type */
  g_assert_false (nfltr_msg_pong_decode (pf, &pong, &error));
  g_assert_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_WRONG_TYPE);
  g_assert_cmpstr (error->message, ==, "expected a PONG frame, got PING");
  g_clear_error (&error);
  g_assert_false (nfltr_msg_hello_decode (odd, &hello, &error));
  g_assert_cmpstr (error->message, ==, "expected a HELLO frame, got unknown type 0x7e");
  g_clear_error (&error);

  /* a frame built here, lacking what the table requires */
  nfltr_frame_set_u32 (partial, NFLTR_ATTR_REQUEST_ID, 1);
  nfltr_frame_set_string (partial, NFLTR_ATTR_NAME, "x");
  nfltr_frame_set_u8 (partial, NFLTR_ATTR_MODE, NFLTR_MODE_VERIFIED);
  g_assert_false (nfltr_msg_bind_decode (partial, &bind, &error));
  g_assert_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_MISSING_ATTR);
  g_assert_cmpstr (error->message, ==, "BIND frame lacks required attribute fingerprint");
  g_clear_error (&error);

  /* a value only the message knows is wrong */
  nfltr_frame_set_bytes (partial, NFLTR_ATTR_FINGERPRINT, fp, sizeof fp);
  nfltr_frame_set_u8 (partial, NFLTR_ATTR_MODE, 3);
  bad_mode = over_the_wire (g_steal_pointer (&partial));
  g_assert_false (nfltr_msg_bind_decode (bad_mode, &bind, &error));
  g_assert_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR);
  g_assert_cmpstr (error->message, ==, "mode 3 is neither verified (1) nor inspectable (2)");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/messages/table", test_table);
  g_test_add_func ("/messages/decode-uses-table", test_decode_uses_table);
  g_test_add_func ("/messages/hello-welcome", test_hello_welcome);
  g_test_add_func ("/messages/error", test_error);
  g_test_add_func ("/messages/ping-pong", test_ping_pong);
  g_test_add_func ("/messages/bind-bound-unbind", test_bind_family);
  g_test_add_func ("/messages/conn-open-refuse", test_conn);
  g_test_add_func ("/messages/decode-refuses", test_decode_refuses);
  return g_test_run ();
}
