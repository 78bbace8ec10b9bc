/* test-proto.c — the wire codec round-trips and rejects bad frames with a reason */
#include "nfltr-proto.h"

#include <string.h>

static void
test_roundtrip (void)
{
  g_autoptr(NfltrFrame) f = nfltr_frame_new (NFLTR_FRAME_BIND);
  g_autoptr(NfltrFrame) d = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  guint8 fp[32];
  guint32 req;
  guint8 mode;
  gsize len;
  const guint8 *data;

  memset (fp, 0xab, sizeof fp);
  nfltr_frame_set_u32 (f, NFLTR_ATTR_REQUEST_ID, 77);
  nfltr_frame_set_string (f, NFLTR_ATTR_NAME, "myapp");
  nfltr_frame_set_u8 (f, NFLTR_ATTR_MODE, NFLTR_MODE_VERIFIED);
  nfltr_frame_set_bytes (f, NFLTR_ATTR_FINGERPRINT, fp, sizeof fp);
  bytes = nfltr_frame_encode (f);
  data = g_bytes_get_data (bytes, &len);
  g_assert_cmpuint (data[0], ==, NFLTR_PROTO_VERSION);
  g_assert_cmpuint (data[1], ==, NFLTR_FRAME_BIND);

  d = nfltr_frame_decode (data, len, &error);
  g_assert_no_error (error);
  g_assert_cmpint (nfltr_frame_get_type (d), ==, NFLTR_FRAME_BIND);
  g_assert_cmpstr (nfltr_frame_get_string (d, NFLTR_ATTR_NAME), ==, "myapp");
  g_assert_true (nfltr_frame_get_u32 (d, NFLTR_ATTR_REQUEST_ID, &req));
  g_assert_cmpuint (req, ==, 77);
  g_assert_true (nfltr_frame_get_u8 (d, NFLTR_ATTR_MODE, &mode));
  g_assert_cmpuint (mode, ==, NFLTR_MODE_VERIFIED);
  g_assert_cmpmem (nfltr_frame_get_bytes (d, NFLTR_ATTR_FINGERPRINT, &len), len, fp, sizeof fp);
}

static void
expect_bad (const guint8 *data, gsize len, int code, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) d = nfltr_frame_decode (data, len, &error);

  g_assert_null (d);
  g_assert_error (error, NFLTR_PROTO_ERROR, code);
  g_assert_nonnull (strstr (error->message, fragment));
}

static void
test_rejects (void)
{
  const guint8 short_hdr[] = { 1, 1, 0 };
  const guint8 bad_version[] = { 2, 1, 0, 0, 0, 0, 0, 0 };
  const guint8 bad_flags[] = { 1, 1, 0, 1, 0, 0, 0, 0 };
  const guint8 too_big[] = { 1, 1, 0, 0, 0x7f, 0, 0, 0 };
  const guint8 bad_len[] = { 1, 4, 0, 0, 0, 0, 0, 9 };
  const guint8 overrun[] = { 1, 4, 0, 0, 0, 0, 0, 6, 0, 18, 0, 8, 1, 2 };
  const guint8 wrong_size[] = { 1, 4, 0, 0, 0, 0, 0, 6, 0, 18, 0, 2, 1, 2 };
  const guint8 missing[] = { 1, 4, 0, 0, 0, 0, 0, 0 };
  const guint8 dup[] = { 1, 0x12, 0, 0, 0, 0, 0, 10, 0, 11, 0, 1, 'a', 0, 11, 0, 1, 'b' };
  const guint8 bad_utf8[] = { 1, 0x12, 0, 0, 0, 0, 0, 5, 0, 11, 0, 1, 0xff };

  expect_bad (short_hdr, sizeof short_hdr, NFLTR_PROTO_DECODE_TRUNCATED, "header");
  expect_bad (bad_version, sizeof bad_version, NFLTR_PROTO_DECODE_BAD_VERSION, "version 2");
  expect_bad (bad_flags, sizeof bad_flags, NFLTR_PROTO_DECODE_BAD_FLAGS, "flags");
  expect_bad (too_big, sizeof too_big, NFLTR_PROTO_DECODE_TOO_BIG, "limit");
  expect_bad (bad_len, sizeof bad_len, NFLTR_PROTO_DECODE_BAD_LENGTH, "9 payload bytes");
  expect_bad (overrun, sizeof overrun, NFLTR_PROTO_DECODE_BAD_ATTR, "claims 8 bytes");
  expect_bad (wrong_size, sizeof wrong_size, NFLTR_PROTO_DECODE_BAD_ATTR, "seq must be 8 bytes");
  expect_bad (missing, sizeof missing, NFLTR_PROTO_DECODE_MISSING_ATTR, "PING frame lacks required attribute seq");
  expect_bad (dup, sizeof dup, NFLTR_PROTO_DECODE_BAD_ATTR, "twice");
  expect_bad (bad_utf8, sizeof bad_utf8, NFLTR_PROTO_DECODE_BAD_ATTR, "UTF-8");
}

static void
test_unknown_attr_skipped (void)
{
  /* PING with an unknown attribute 999 before seq */
  const guint8 frame[] = { 1, 4, 0, 0, 0, 0, 0, 17,
                           0x03, 0xe7, 0, 1, 0x42,
                           0, 18, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5 };
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) d = nfltr_frame_decode (frame, sizeof frame, &error);
  guint64 seq = 0;

  g_assert_no_error (error);
  g_assert_true (nfltr_frame_get_u64 (d, NFLTR_ATTR_SEQ, &seq));
  g_assert_cmpuint (seq, ==, 5);
}

static void
test_attach (void)
{
  guint8 id[16], out[NFLTR_PROTO_ATTACH_SIZE], back[16];
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 16; i++)
    id[i] = i * 7;
  nfltr_proto_attach_encode (id, out);
  g_assert_cmpmem (out, 6, "NFLTRD", 6);
  g_assert_true (nfltr_proto_attach_decode (out, sizeof out, back, &error));
  g_assert_cmpmem (back, 16, id, 16);
  out[0] = 'X';
  g_assert_false (nfltr_proto_attach_decode (out, sizeof out, back, &error));
  g_assert_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR);
}

/* A frame built locally hands out its strings NUL-terminated, as a decoded one does. */
static void
test_local_string (void)
{
  g_autoptr(NfltrFrame) f = nfltr_frame_new (NFLTR_FRAME_UNBIND);

  nfltr_frame_set_string (f, NFLTR_ATTR_NAME, "abcdefgh");
  g_assert_cmpstr (nfltr_frame_get_string (f, NFLTR_ATTR_NAME), ==, "abcdefgh");
  nfltr_frame_set_string (f, NFLTR_ATTR_NAME, "");
  g_assert_cmpstr (nfltr_frame_get_string (f, NFLTR_ATTR_NAME), ==, "");
}

static void
test_names (void)
{
  g_assert_true (nfltr_proto_name_is_valid ("myapp"));
  g_assert_true (nfltr_proto_name_is_valid ("a-1"));
  g_assert_false (nfltr_proto_name_is_valid (""));
  g_assert_false (nfltr_proto_name_is_valid ("-a"));
  g_assert_false (nfltr_proto_name_is_valid ("a-"));
  g_assert_false (nfltr_proto_name_is_valid ("My"));
  g_assert_false (nfltr_proto_name_is_valid ("a.b"));
  g_assert_false (nfltr_proto_name_is_valid ("0123456789012345678901234567890123456789012345678901234567890123"));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proto/roundtrip", test_roundtrip);
  g_test_add_func ("/proto/rejects", test_rejects);
  g_test_add_func ("/proto/unknown-attr-skipped", test_unknown_attr_skipped);
  g_test_add_func ("/proto/attach", test_attach);
  g_test_add_func ("/proto/names", test_names);
  g_test_add_func ("/proto/local-string", test_local_string);
  return g_test_run ();
}
