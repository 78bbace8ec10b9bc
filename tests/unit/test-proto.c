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
  const guint8 version_0[] = { 0, 4, 0, 0, 0, 0, 0, 0 };
  const guint8 too_big[] = { 1, 1, 0, 0, 0x7f, 0, 0, 0 };
  const guint8 bad_len[] = { 1, 4, 0, 0, 0, 0, 0, 9 };
  /* attribute headers are 6 bytes: type u16, length u32 (§4) */
  const guint8 attr_hdr_cut[] = { 1, 4, 0, 0, 0, 0, 0, 4, 0, 18, 0, 0 };
  const guint8 overrun[] = { 1, 4, 0, 0, 0, 0, 0, 8, 0, 18, 0, 0, 0, 8, 1, 2 };
  const guint8 huge_attr[] = { 1, 0x40, 0, 0, 0, 0, 0, 6, 0, 20, 0xff, 0xff, 0xff, 0xff };
  const guint8 wrong_size[] = { 1, 4, 0, 0, 0, 0, 0, 8, 0, 18, 0, 0, 0, 2, 1, 2 };
  const guint8 missing[] = { 1, 4, 0, 0, 0, 0, 0, 0 };
  const guint8 dup[] = { 1, 0x12, 0, 0, 0, 0, 0, 14, 0, 11, 0, 0, 0, 1, 'a', 0, 11, 0, 0, 0, 1, 'b' };
  const guint8 bad_utf8[] = { 1, 0x12, 0, 0, 0, 0, 0, 7, 0, 11, 0, 0, 0, 1, 0xff };
  const guint8 bad_frame_type[] = { 1, 3, 0, 0, 0, 0, 0, 23,
                                    0, 8, 0, 0, 0, 2, 0, 7,
                                    0, 9, 0, 0, 0, 1, 'x',
                                    0, 23, 0, 0, 0, 2, 0, 0x7e };

  expect_bad (short_hdr, sizeof short_hdr, NFLTR_PROTO_DECODE_TRUNCATED, "header");
  expect_bad (version_0, sizeof version_0, NFLTR_PROTO_DECODE_BAD_VERSION, "version 0");
  expect_bad (too_big, sizeof too_big, NFLTR_PROTO_DECODE_TOO_BIG, "limit");
  expect_bad (bad_len, sizeof bad_len, NFLTR_PROTO_DECODE_BAD_LENGTH, "9 payload bytes");
  expect_bad (attr_hdr_cut, sizeof attr_hdr_cut, NFLTR_PROTO_DECODE_BAD_ATTR, "truncated");
  expect_bad (overrun, sizeof overrun, NFLTR_PROTO_DECODE_BAD_ATTR, "claims 8 bytes");
  expect_bad (huge_attr, sizeof huge_attr, NFLTR_PROTO_DECODE_BAD_ATTR, "claims 4294967295 bytes");
  expect_bad (bad_frame_type, sizeof bad_frame_type, NFLTR_PROTO_DECODE_BAD_ATTR, "frame-type must be 1 bytes");
  expect_bad (wrong_size, sizeof wrong_size, NFLTR_PROTO_DECODE_BAD_ATTR, "seq must be 8 bytes");
  expect_bad (missing, sizeof missing, NFLTR_PROTO_DECODE_MISSING_ATTR, "PING frame lacks required attribute seq");
  expect_bad (dup, sizeof dup, NFLTR_PROTO_DECODE_BAD_ATTR, "twice");
  expect_bad (bad_utf8, sizeof bad_utf8, NFLTR_PROTO_DECODE_BAD_ATTR, "UTF-8");
}

static void
test_unknown_attr_skipped (void)
{
  /* PING with an unknown attribute 999 before seq */
  const guint8 frame[] = { 1, 4, 0, 0, 0, 0, 0, 21,
                           0x03, 0xe7, 0, 0, 0, 1, 0x42,
                           0, 18, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5 };
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) d = nfltr_frame_decode (frame, sizeof frame, &error);
  guint64 seq = 0;

  g_assert_no_error (error);
  g_assert_true (nfltr_frame_get_u64 (d, NFLTR_ATTR_SEQ, &seq));
  g_assert_cmpuint (seq, ==, 5);
}

/* §4 and §8.1: a version 2 agent's HELLO, spelt out byte by byte as such an agent would send
 * it — header version 2, proto-version 2, a feature and an attribute (300) version 1 does not
 * know — decodes; the header version is kept but is only informational. */
static const guint8 hello_v2[] = {
  2, 0x01, 0, 0, 0, 0, 0, 91,
  0, 1, 0, 0, 0, 2, 0, 2,                                     /* proto-version 2 */
  0, 2, 0, 0, 0, 8, 'n', 'f', 'l', 't', 'r', '_', 'k', '1',    /* api-key */
  0, 3, 0, 0, 0, 32, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
                     '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
  0, 22, 0, 0, 0, 15, 'p', '2', 'p', ' ', 'x', '-', 'f', 'u', 't', 'u', 'r', 'e', ' ', 'w', 'g',
  0x01, 0x2c, 0, 0, 0, 4, 'v', '2', '!', '!',                 /* attribute 300: unknown */
};

static void
test_hello_from_v2 (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) d = nfltr_frame_decode (hello_v2, sizeof hello_v2, &error);
  g_autoptr(GBytes) again = NULL;
  guint16 version = 0;

  g_assert_no_error (error);
  g_assert_cmpint (nfltr_frame_get_type (d), ==, NFLTR_FRAME_HELLO);
  g_assert_cmpuint (nfltr_frame_get_version (d), ==, 2);
  g_assert_true (nfltr_frame_get_u16 (d, NFLTR_ATTR_PROTO_VERSION, &version));
  g_assert_cmpuint (version, ==, 2);
  g_assert_cmpstr (nfltr_frame_get_string (d, NFLTR_ATTR_FEATURES), ==, "p2p x-future wg");
  g_assert_cmpstr (nfltr_frame_get_string (d, NFLTR_ATTR_API_KEY), ==, "nfltr_k1");

  /* re-encoded, the unknown attribute is gone and the header version stays */
  again = nfltr_frame_encode (d);
  g_assert_cmpuint (g_bytes_get_size (again), ==, sizeof hello_v2 - 10);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (again, NULL))[0], ==, 2);
}

/* §4.1: the ignorable bit survives a round trip; reserved bits are ignored on receipt (and
 * dropped, so nothing forwards them); an unknown frame type decodes with its attributes. */
static void
test_flags (void)
{
  /* clang-format off */
  const guint8 reserved_set[] = { 1, 0x04, 0xff, 0xfe, 0, 0, 0, 14,
                                  0, 18, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 3 };
  const guint8 unknown_ignorable[] = { 1, 0x7e, 0x80, 0x01, 0, 0, 0, 16,
                                       0, 10, 0, 0, 0, 4, 0, 0, 0, 9,      /* request-id 9 */
                                       0x02, 0x00, 0, 0, 0, 0 };           /* attribute 512, empty */
  /* clang-format on */
  g_autoptr(NfltrFrame) f = nfltr_frame_new (NFLTR_FRAME_PING);
  g_autoptr(NfltrFrame) d = NULL;
  g_autoptr(NfltrFrame) r = NULL;
  g_autoptr(NfltrFrame) u = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *data;
  guint32 rid = 0;
  gsize len;

  g_assert_cmpuint (nfltr_frame_get_flags (f), ==, 0);
  g_assert_false (nfltr_frame_is_ignorable (f));
  nfltr_frame_set_u64 (f, NFLTR_ATTR_SEQ, 1);
  nfltr_frame_set_flags (f, NFLTR_FRAME_FLAG_IGNORABLE);
  bytes = nfltr_frame_encode (f);
  data = g_bytes_get_data (bytes, &len);
  g_assert_cmpuint (data[2], ==, 0);
  g_assert_cmpuint (data[3], ==, 1);
  d = nfltr_frame_decode (data, len, &error);
  g_assert_no_error (error);
  g_assert_true (nfltr_frame_is_ignorable (d));

  r = nfltr_frame_decode (reserved_set, sizeof reserved_set, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (nfltr_frame_get_flags (r), ==, 0);

  u = nfltr_frame_decode (unknown_ignorable, sizeof unknown_ignorable, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (nfltr_frame_get_type (u), ==, 0x7e);
  g_assert_null (nfltr_frame_type_to_string (0x7e));
  g_assert_cmpuint (nfltr_frame_get_flags (u), ==, NFLTR_FRAME_FLAG_IGNORABLE);  /* 0x8000 dropped */
  g_assert_true (nfltr_frame_get_u32 (u, NFLTR_ATTR_REQUEST_ID, &rid));
  g_assert_cmpuint (rid, ==, 9);

  /* a sender cannot set a reserved bit */
  g_test_expect_message ("nfltr-proto", G_LOG_LEVEL_CRITICAL, "*NFLTR_FRAME_FLAGS_KNOWN*");
  nfltr_frame_set_flags (f, 0x0002);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (nfltr_frame_get_flags (f), ==, NFLTR_FRAME_FLAG_IGNORABLE);
}

/* §4: attribute lengths are 32 bits, so data is not capped at 64 KiB. */
static void
test_large_data (void)
{
  gsize n = 300 * 1024;
  g_autofree guint8 *payload = g_malloc (n);
  g_autoptr(NfltrFrame) f = nfltr_frame_new (NFLTR_FRAME_WG_PACKET);
  g_autoptr(NfltrFrame) d = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *got;
  gsize len;

  for (gsize i = 0; i < n; i++)
    payload[i] = i * 31;
  nfltr_frame_set_string (f, NFLTR_ATTR_PEER_ID, "peer");
  nfltr_frame_set_bytes (f, NFLTR_ATTR_DATA, payload, n);
  bytes = nfltr_frame_encode (f);
  d = nfltr_frame_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
  got = nfltr_frame_get_bytes (d, NFLTR_ATTR_DATA, &len);
  g_assert_cmpmem (got, len, payload, n);
}

/* §4.2 step 4: an ERROR about a frame names its type, and its request-id when it had one. */
static void
test_error_for (void)
{
  g_autoptr(NfltrFrame) bind = nfltr_frame_new (NFLTR_FRAME_BIND);
  g_autoptr(NfltrFrame) odd = nfltr_frame_new (0x7e);
  g_autoptr(NfltrFrame) e1 = NULL;
  g_autoptr(NfltrFrame) e2 = NULL;
  g_autoptr(NfltrFrame) e3 = NULL;
  g_autoptr(NfltrFrame) back = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  guint32 rid = 0;
  guint16 code = 0;
  guint8 type = 0;

  nfltr_frame_set_u32 (bind, NFLTR_ATTR_REQUEST_ID, 9);
  e1 = nfltr_frame_new_error_for (NFLTR_PROTO_ERR_NAME_TAKEN, "taken", bind);
  bytes = nfltr_frame_encode (e1);
  back = nfltr_frame_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
  g_assert_true (nfltr_frame_get_u16 (back, NFLTR_ATTR_CODE, &code));
  g_assert_cmpuint (code, ==, NFLTR_PROTO_ERR_NAME_TAKEN);
  g_assert_true (nfltr_frame_get_u8 (back, NFLTR_ATTR_FRAME_TYPE, &type));
  g_assert_cmpuint (type, ==, NFLTR_FRAME_BIND);
  g_assert_true (nfltr_frame_get_u32 (back, NFLTR_ATTR_REQUEST_ID, &rid));
  g_assert_cmpuint (rid, ==, 9);

  e2 = nfltr_frame_new_error_for (NFLTR_PROTO_ERR_UNSUPPORTED_FRAME, "what", odd);
  g_assert_true (nfltr_frame_get_u8 (e2, NFLTR_ATTR_FRAME_TYPE, &type));
  g_assert_cmpuint (type, ==, 0x7e);
  g_assert_false (nfltr_frame_has (e2, NFLTR_ATTR_REQUEST_ID));

  e3 = nfltr_frame_new_error_for (NFLTR_PROTO_ERR_PROTOCOL, "bad", NULL);
  g_assert_false (nfltr_frame_has (e3, NFLTR_ATTR_FRAME_TYPE));
  g_assert_cmpstr (nfltr_frame_get_string (e3, NFLTR_ATTR_MESSAGE), ==, "bad");
}

static void
test_pong_for (void)
{
  g_autoptr(NfltrFrame) ping = nfltr_frame_new (NFLTR_FRAME_PING);
  g_autoptr(NfltrFrame) pong = NULL;
  guint64 seq = 0;

  nfltr_frame_set_u64 (ping, NFLTR_ATTR_SEQ, G_GUINT64_CONSTANT (0x0102030405060708));
  pong = nfltr_frame_new_pong_for (ping);
  g_assert_cmpint (nfltr_frame_get_type (pong), ==, NFLTR_FRAME_PONG);
  g_assert_true (nfltr_frame_get_u64 (pong, NFLTR_ATTR_SEQ, &seq));
  g_assert_cmpuint (seq, ==, G_GUINT64_CONSTANT (0x0102030405060708));
}

/* §8.2: the session's features are the intersection; unknown, repeated and malformed tokens
 * are ignored. */
static void
test_features (void)
{
  struct {
    const char *offered, *supported, *want;
  } cases[] = {
    { "p2p x-future wg", "wg a2a p2p", "p2p wg" },
    { "p2p x-future", "", "" },
    { NULL, "p2p", "" },
    { "p2p", NULL, "" },
    { "", "p2p", "" },
    { "p2p  p2p WG wg x\t", "p2p wg", "p2p wg" },
    { "0123456789012345678901234567890123 wg", "wg 0123456789012345678901234567890123", "wg" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = nfltr_proto_features_intersect (cases[i].offered, cases[i].supported);
      g_assert_cmpstr (got, ==, cases[i].want);
    }
  g_assert_true (nfltr_proto_features_has ("p2p wg", "wg"));
  g_assert_false (nfltr_proto_features_has ("p2p wg", "w"));
  g_assert_false (nfltr_proto_features_has (NULL, "wg"));
  g_assert_false (nfltr_proto_features_has ("p2p wg", ""));
  g_assert_true (nfltr_proto_feature_is_valid ("x-a1"));
  g_assert_false (nfltr_proto_feature_is_valid ("X"));
  g_assert_false (nfltr_proto_feature_is_valid (""));
  g_assert_false (nfltr_proto_feature_is_valid ("a b"));
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

  /* §5: every reserved byte must be zero — the one after the version and the 16 after the
   * conn-id. */
  for (guint at = 7; at < NFLTR_PROTO_ATTACH_SIZE; at = at == 7 ? 24 : at + 1)
    {
      g_clear_error (&error);
      nfltr_proto_attach_encode (id, out);
      out[at] = 1;
      g_assert_false (nfltr_proto_attach_decode (out, sizeof out, back, &error));
      g_assert_error (error, NFLTR_PROTO_ERROR, NFLTR_PROTO_DECODE_BAD_ATTR);
    }
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
  g_test_add_func ("/proto/hello-from-v2", test_hello_from_v2);
  g_test_add_func ("/proto/flags", test_flags);
  g_test_add_func ("/proto/large-data", test_large_data);
  g_test_add_func ("/proto/error-for", test_error_for);
  g_test_add_func ("/proto/pong-for", test_pong_for);
  g_test_add_func ("/proto/features", test_features);
  g_test_add_func ("/proto/attach", test_attach);
  g_test_add_func ("/proto/names", test_names);
  g_test_add_func ("/proto/local-string", test_local_string);
  return g_test_run ();
}
