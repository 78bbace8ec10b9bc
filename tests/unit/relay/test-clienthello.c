/* test-clienthello.c — the SNI reader on real and hand-built ClientHellos, fed whole, byte by
 * byte, and re-framed into many TLS records; and its answers to garbage, truncation and size. */
#include "nfltr-clienthello.h"
#include "clienthello-samples.h"

#include <string.h>

typedef struct {
  const char          *label;
  const unsigned char *data;
  gsize                len;
  const char          *sni;  /* NULL: no server_name */
} Sample;

static const Sample samples[] = {
  { "openssl", hello_openssl, sizeof hello_openssl, "myapp.nfltr.localhost" },
  { "gnutls", hello_gnutls, sizeof hello_gnutls, "myapp.nfltr.localhost" },
  { "curl", hello_curl, sizeof hello_curl, "api-test.nfltr.localhost" },
  { "openssl-nosni", hello_openssl_nosni, sizeof hello_openssl_nosni, NULL },
  { "openssl-tls12", hello_openssl12, sizeof hello_openssl12, "legacy.nfltr.localhost" },
  { "openssl-ffdhe8192", hello_openssl_big, sizeof hello_openssl_big, "big2.nfltr.localhost" },
};

/* The one-shot parse, checked against the incremental reader fed the same bytes in pieces of
 * 1, 2, 3… bytes: both must give the same answer, name, consumed count and error. */
static NfltrHelloStatus
parse (const guint8 *data, gsize len, gsize max, char **sni, gsize *consumed, GError **error)
{
  g_autoptr(NfltrHelloReader) reader = nfltr_hello_reader_new (max);
  g_autoptr(GError) piece_error = NULL;
  g_autofree char *piece_sni = NULL;
  gsize piece_consumed = 0, pos = 0, step = 1, one_consumed = 0;
  NfltrHelloStatus one, pieces = NFLTR_HELLO_NEED_MORE;

  one = nfltr_clienthello_parse (data, len, max, sni, &one_consumed, error);
  while (pos < len && pieces == NFLTR_HELLO_NEED_MORE)
    {
      gsize n = MIN (step++ % 7 + 1, len - pos);

      g_clear_pointer (&piece_sni, g_free);
      pieces = nfltr_hello_reader_feed (reader, data + pos, n, &piece_sni, &piece_consumed, &piece_error);
      pos += n;
    }
  g_assert_cmpint (pieces, ==, one);
  g_assert_cmpstr (piece_sni, ==, sni ? *sni : piece_sni);
  if (one == NFLTR_HELLO_OK)
    g_assert_cmpuint (piece_consumed, ==, one_consumed);
  if (error != NULL && *error != NULL)
    g_assert_cmpstr (piece_error->message, ==, (*error)->message);
  if (consumed != NULL)
    *consumed = one_consumed;
  return one;
}

static void
assert_ok (const guint8 *data, gsize len, gsize max, const char *want_sni, gsize want_consumed)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sni = NULL;
  gsize consumed = 0;

  g_assert_cmpint (parse (data, len, max, &sni, &consumed, &error), ==, NFLTR_HELLO_OK);
  g_assert_no_error (error);
  g_assert_cmpstr (sni, ==, want_sni);
  g_assert_cmpuint (consumed, ==, want_consumed);
}

static void
assert_status (const guint8 *data, gsize len, gsize max, NfltrHelloStatus want,
               const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sni = NULL;
  NfltrHelloStatus status = parse (data, len, max, &sni, NULL, &error);

  g_assert_cmpint (status, ==, want);
  g_assert_null (sni);
  if (want == NFLTR_HELLO_NEED_MORE)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, NFLTR_HELLO_ERROR, (gint) want);
      if (fragment != NULL && strstr (error->message, fragment) == NULL)
        g_error ("error “%s” does not mention “%s”", error->message, fragment);
    }
}

/* The handshake message (header + body) of a single-record hello. */
static GBytes *
message_of (const guint8 *record, gsize len)
{
  gsize rec_len = ((gsize) record[3] << 8) | record[4];

  g_assert_cmpuint (rec_len + 5, ==, len);
  return g_bytes_new (record + 5, rec_len);
}

/* Frames msg into records whose fragment sizes are taken from sizes[] (0-terminated, the last
 * size repeats). */
static GByteArray *
frame_records (const guint8 *msg, gsize len, const gsize *sizes)
{
  GByteArray *out = g_byte_array_new ();
  gsize pos = 0;
  guint i = 0;

  while (pos < len)
    {
      gsize n = MIN (sizes[i], len - pos);
      guint8 hdr[5] = { 0x16, 3, 1, n >> 8, n & 0xff };

      g_byte_array_append (out, hdr, 5);
      g_byte_array_append (out, msg + pos, n);
      pos += n;
      if (sizes[i + 1] != 0)
        i++;
    }
  return out;
}

static void
put16 (GByteArray *a, guint v)
{
  guint8 b[2] = { v >> 8, v & 0xff };
  g_byte_array_append (a, b, 2);
}

/* A ClientHello handshake message built by hand: an optional padding extension (RFC 7685,
 * type 21) of pad bytes, then server_name with each of the names given. */
static GByteArray *
build_message (gsize pad, const char * const *names, gboolean with_extensions)
{
  GByteArray *body = g_byte_array_new ();
  GByteArray *exts = g_byte_array_new ();
  GByteArray *msg = g_byte_array_new ();
  guint8 random[32];
  guint8 hdr[4];

  memset (random, 0x5a, sizeof random);
  put16 (body, 0x0303);
  g_byte_array_append (body, random, 32);
  g_byte_array_append (body, (const guint8 *) "\x00", 1);           /* session id */
  g_byte_array_append (body, (const guint8 *) "\x00\x02\x13\x01", 4); /* one suite */
  g_byte_array_append (body, (const guint8 *) "\x01\x00", 2);       /* null compression */

  if (pad > 0)
    {
      guint8 *zeros = g_malloc0 (pad);
      put16 (exts, 21);
      put16 (exts, pad);
      g_byte_array_append (exts, zeros, pad);
      g_free (zeros);
    }
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      gsize n = strlen (names[i]);
      put16 (exts, 0);          /* server_name */
      put16 (exts, n + 5);
      put16 (exts, n + 3);      /* list */
      g_byte_array_append (exts, (const guint8 *) "\x00", 1);
      put16 (exts, n);
      g_byte_array_append (exts, (const guint8 *) names[i], n);
    }
  if (with_extensions)
    {
      put16 (body, exts->len);
      g_byte_array_append (body, exts->data, exts->len);
    }

  hdr[0] = 1;
  hdr[1] = body->len >> 16;
  hdr[2] = (body->len >> 8) & 0xff;
  hdr[3] = body->len & 0xff;
  g_byte_array_append (msg, hdr, 4);
  g_byte_array_append (msg, body->data, body->len);
  g_byte_array_unref (body);
  g_byte_array_unref (exts);
  return msg;
}

static void
test_samples_whole (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      g_test_message ("sample %s", samples[i].label);
      assert_ok (samples[i].data, samples[i].len, NFLTR_HELLO_DEFAULT_MAX, samples[i].sni,
                 samples[i].len);
    }
}

/* One-byte TCP segments: every proper prefix is NEED_MORE, the whole is OK. */
static void
test_samples_every_prefix (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      for (gsize k = 0; k < samples[i].len; k++)
        assert_status (samples[i].data, k, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_NEED_MORE, NULL);
      assert_ok (samples[i].data, samples[i].len, NFLTR_HELLO_DEFAULT_MAX, samples[i].sni,
                 samples[i].len);
    }
}

/* RFC 8446 §5.1: the message may be cut into records anywhere, even inside its header. */
static void
test_two_records_every_split (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      g_autoptr(GBytes) msg = message_of (samples[i].data, samples[i].len);
      gsize mlen;
      const guint8 *m = g_bytes_get_data (msg, &mlen);

      for (gsize cut = 1; cut < mlen; cut++)
        {
          gsize sizes[] = { cut, mlen - cut, 0 };
          g_autoptr(GByteArray) rec = frame_records (m, mlen, sizes);

          g_assert_cmpuint (rec->len, ==, mlen + 10);
          assert_ok (rec->data, rec->len, NFLTR_HELLO_DEFAULT_MAX, samples[i].sni, rec->len);
          /* the first record alone, and the second cut short, are not enough */
          assert_status (rec->data, cut + 5, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_NEED_MORE, NULL);
          assert_status (rec->data, rec->len - 1, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_NEED_MORE, NULL);
        }
    }
}

static void
test_one_byte_records (void)
{
  g_autoptr(GBytes) msg = message_of (hello_curl, sizeof hello_curl);
  gsize mlen;
  const guint8 *m = g_bytes_get_data (msg, &mlen);
  gsize sizes[] = { 1, 0 };
  g_autoptr(GByteArray) rec = frame_records (m, mlen, sizes);

  g_assert_cmpuint (rec->len, ==, mlen * 6);
  for (gsize k = 0; k < rec->len; k += 7)
    assert_status (rec->data, k, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_NEED_MORE, NULL);
  assert_ok (rec->data, rec->len, NFLTR_HELLO_DEFAULT_MAX, "api-test.nfltr.localhost", rec->len);
}

/* Bigger than one Ethernet MTU: 5000 bytes of padding before the SNI, in one record, then in
 * MTU-sized records, then a message over 2^14 bytes that needs two records by rule. */
static void
test_bigger_than_mtu (void)
{
  const char *names[] = { "late.nfltr.localhost", NULL };
  g_autoptr(GByteArray) msg = build_message (5000, names, TRUE);
  gsize one[] = { 16384, 0 };
  gsize mtu[] = { 1448, 0 };
  g_autoptr(GByteArray) single = frame_records (msg->data, msg->len, one);
  g_autoptr(GByteArray) multi = frame_records (msg->data, msg->len, mtu);
  g_autoptr(GByteArray) huge_msg = build_message (20000, names, TRUE);
  g_autoptr(GByteArray) huge = frame_records (huge_msg->data, huge_msg->len, one);

  assert_ok (single->data, single->len, NFLTR_HELLO_DEFAULT_MAX, "late.nfltr.localhost", single->len);
  assert_ok (multi->data, multi->len, NFLTR_HELLO_DEFAULT_MAX, "late.nfltr.localhost", multi->len);
  for (gsize k = 0; k < multi->len; k += 97)
    assert_status (multi->data, k, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_NEED_MORE, NULL);
  assert_ok (huge->data, huge->len, 32768, "late.nfltr.localhost", huge->len);
}

static void
test_too_big (void)
{
  const char *names[] = { "x.nfltr.localhost", NULL };
  g_autoptr(GByteArray) msg = build_message (17000, names, TRUE);
  gsize one[] = { 16384, 0 };
  g_autoptr(GByteArray) rec = frame_records (msg->data, msg->len, one);

  /* Refused as soon as the 4-byte handshake header is in, without waiting for the rest. */
  assert_status (rec->data, 9, 16384, NFLTR_HELLO_TOO_BIG, "exceeds the 16384-byte limit");
  assert_status (rec->data, rec->len, 16384, NFLTR_HELLO_TOO_BIG, "limit");
  /* A small limit refuses a real hello too. */
  assert_status (hello_curl, sizeof hello_curl, 256, NFLTR_HELLO_TOO_BIG, "256-byte limit");
  /* The limit counts the message with its header: exactly at the limit is fine. */
  assert_ok (hello_curl, sizeof hello_curl, sizeof hello_curl - 5, "api-test.nfltr.localhost",
             sizeof hello_curl);
  assert_status (hello_curl, sizeof hello_curl, sizeof hello_curl - 6, NFLTR_HELLO_TOO_BIG, NULL);
}

/* The default limit takes a 64 KiB ClientHello (post-quantum key shares make hellos grow), in
 * whole records or in many small ones, and refuses one byte more. */
static void
test_default_limit_64k (void)
{
  const char *names[] = { "pq.nfltr.localhost", NULL };
  gsize whole[] = { 16384, 0 };
  gsize small[] = { 300, 0 };
  g_autoptr(GByteArray) probe = build_message (0, names, TRUE);
  /* Padding that makes the message, with its header, exactly 64 KiB (the padding extension's
   * own 4 bytes included). */
  gsize pad = 65536 - probe->len - 4;
  g_autoptr(GByteArray) msg = build_message (pad, names, TRUE);
  g_autoptr(GByteArray) over_msg = build_message (pad + 1, names, TRUE);
  g_autoptr(GByteArray) a = frame_records (msg->data, msg->len, whole);
  g_autoptr(GByteArray) b = frame_records (msg->data, msg->len, small);
  g_autoptr(GByteArray) over = frame_records (over_msg->data, over_msg->len, whole);

  g_assert_cmpuint (msg->len, ==, 65536);
  g_assert_cmpuint (NFLTR_HELLO_DEFAULT_MAX, >=, 65536);
  assert_ok (a->data, a->len, NFLTR_HELLO_DEFAULT_MAX, "pq.nfltr.localhost", a->len);
  assert_ok (b->data, b->len, NFLTR_HELLO_DEFAULT_MAX, "pq.nfltr.localhost", b->len);
  assert_status (over->data, over->len, 65536, NFLTR_HELLO_TOO_BIG, "65536-byte limit");
}

/* A hello cut into thousands of 1-byte records, each fed as its own TCP segment, costs work
 * linear in its bytes: the reader touches every byte a bounded number of times, never re-walks
 * the records it has seen (issue 8 §3). Counted, not timed. */
static void
test_one_byte_records_linear_work (void)
{
  const char *names[] = { "slow.nfltr.localhost", NULL };
  g_autoptr(GByteArray) msg = build_message (20000, names, TRUE);
  gsize one[] = { 1, 0 };
  g_autoptr(GByteArray) rec = frame_records (msg->data, msg->len, one);
  g_autoptr(NfltrHelloReader) reader = nfltr_hello_reader_new (NFLTR_HELLO_DEFAULT_MAX);
  g_autofree char *sni = NULL;
  NfltrHelloStatus status = NFLTR_HELLO_NEED_MORE;
  gsize pos = 0, feeds = 0;
  guint64 work;

  g_assert_cmpuint (rec->len, ==, 6 * msg->len);
  while (pos < rec->len && status == NFLTR_HELLO_NEED_MORE)
    {
      status = nfltr_hello_reader_feed (reader, rec->data + pos, 6, &sni, NULL, NULL);
      pos += 6;
      feeds++;
    }
  g_assert_cmpint (status, ==, NFLTR_HELLO_OK);
  g_assert_cmpstr (sni, ==, "slow.nfltr.localhost");
  g_assert_cmpuint (feeds, ==, msg->len);
  work = nfltr_hello_reader_get_work (reader);
  g_test_message ("%u records, %u bytes in %" G_GSIZE_FORMAT " feeds: work %" G_GUINT64_FORMAT, msg->len,
                  rec->len, feeds, work);
  /* Each byte fed once, plus one pass over the reassembled message. A reader that re-walked
   * the records on every feed would count ~records²/2 = 2·10⁸ here. */
  g_assert_cmpuint (work, <=, rec->len + msg->len);
}

static void
test_no_sni (void)
{
  g_autoptr(GByteArray) msg = build_message (0, NULL, FALSE);
  g_autoptr(GByteArray) empty_exts = build_message (0, NULL, TRUE);
  gsize one[] = { 16384, 0 };
  g_autoptr(GByteArray) a = frame_records (msg->data, msg->len, one);
  g_autoptr(GByteArray) b = frame_records (empty_exts->data, empty_exts->len, one);

  assert_ok (a->data, a->len, NFLTR_HELLO_DEFAULT_MAX, NULL, a->len);
  assert_ok (b->data, b->len, NFLTR_HELLO_DEFAULT_MAX, NULL, b->len);
  assert_ok (hello_openssl_nosni, sizeof hello_openssl_nosni, NFLTR_HELLO_DEFAULT_MAX, NULL,
             sizeof hello_openssl_nosni);
}

static void
test_names_normalised (void)
{
  const char *names[] = { "MiXeD.NFLTR.LocalHost.", NULL };
  g_autoptr(GByteArray) msg = build_message (0, names, TRUE);
  gsize one[] = { 16384, 0 };
  g_autoptr(GByteArray) rec = frame_records (msg->data, msg->len, one);

  assert_ok (rec->data, rec->len, NFLTR_HELLO_DEFAULT_MAX, "mixed.nfltr.localhost", rec->len);
}

static void
check_bad_name (const char *name, const char *fragment)
{
  const char *names[] = { name, NULL };
  g_autoptr(GByteArray) msg = build_message (0, names, TRUE);
  gsize one[] = { 16384, 0 };
  g_autoptr(GByteArray) rec = frame_records (msg->data, msg->len, one);

  assert_status (rec->data, rec->len, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_MALFORMED, fragment);
}

static void
test_bad_names (void)
{
  const char *two[] = { "a.nfltr.localhost", "b.nfltr.localhost", NULL };
  g_autoptr(GByteArray) msg = build_message (0, two, TRUE);
  gsize one[] = { 16384, 0 };
  g_autoptr(GByteArray) rec = frame_records (msg->data, msg->len, one);

  check_bad_name ("", "empty");
  check_bad_name (".", "empty");
  check_bad_name ("a..b", "empty label");
  check_bad_name ("a b.localhost", "0x20");
  check_bad_name ("a\xc3\xa9.localhost", "0xc3");
  check_bad_name ("nul\x01.localhost", "0x01");
  assert_status (rec->data, rec->len, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_MALFORMED,
                 "two server_name extensions");
}

static void
test_garbage (void)
{
  const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const guint8 ssl2[] = { 0x80, 0x2e, 0x01, 0x00, 0x02 };
  const guint8 bad_major[] = { 0x16, 0x02, 0x00, 0x00, 0x10 };
  const guint8 bad_major_early[] = { 0x16, 0x04 };
  const guint8 zero_record[] = { 0x16, 0x03, 0x01, 0x00, 0x00 };
  const guint8 huge_record[] = { 0x16, 0x03, 0x01, 0x40, 0x01 };
  const guint8 server_hello[] = { 0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00 };
  const guint8 alert_between[] = { 0x16, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00,
                                   0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };

  assert_status ((const guint8 *) http, sizeof http - 1, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_NOT_TLS, "0x47");
  assert_status (ssl2, sizeof ssl2, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_NOT_TLS, "0x80");
  assert_status (bad_major, sizeof bad_major, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_MALFORMED, "major 2");
  assert_status (bad_major_early, sizeof bad_major_early, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_MALFORMED, "major 4");
  assert_status (zero_record, sizeof zero_record, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_MALFORMED, "length 0");
  assert_status (huge_record, sizeof huge_record, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_MALFORMED, "16385");
  assert_status (server_hello, sizeof server_hello, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_MALFORMED, "type 2");
  assert_status (alert_between, sizeof alert_between, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_MALFORMED, "content type 21");
  /* The first byte alone is a valid start. */
  assert_status (hello_openssl, 1, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_NEED_MORE, NULL);
}

/* A message whose inner lengths disagree with its outer length. */
static void
test_truncated_inside (void)
{
  g_autoptr(GBytes) msg = message_of (hello_openssl, sizeof hello_openssl);
  gsize mlen;
  const guint8 *m = g_bytes_get_data (msg, &mlen);
  gsize one[] = { 16384, 0 };
  /* Cutting right after compression_methods leaves a valid hello without extensions. */
  gsize sid = m[4 + 34];
  gsize suites = ((gsize) m[4 + 35 + sid] << 8) | m[4 + 36 + sid];
  gsize no_ext_end = 4 + 35 + sid + 2 + suites + 1 + m[4 + 37 + sid + suites];

  for (gsize cut = 4; cut < mlen; cut++)
    {
      /* Keep the first `cut` bytes and claim that is the whole message. */
      g_autofree guint8 *copy = g_memdup2 (m, cut);
      g_autoptr(GByteArray) rec = NULL;
      gsize body = cut - 4;

      copy[1] = body >> 16;
      copy[2] = (body >> 8) & 0xff;
      copy[3] = body & 0xff;
      rec = frame_records (copy, cut, one);
      if (cut == no_ext_end)
        assert_ok (rec->data, rec->len, NFLTR_HELLO_DEFAULT_MAX, NULL, rec->len);
      else
        assert_status (rec->data, rec->len, NFLTR_HELLO_DEFAULT_MAX, NFLTR_HELLO_MALFORMED, "ClientHello");
    }
}

/* TLS 1.3 clients may send more records right after the hello (0-RTT); they are not parsed
 * and `consumed` stops at the end of the hello's record. */
static void
test_trailing_records (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  const guint8 app[] = { 0x17, 0x03, 0x03, 0x00, 0x03, 'a', 'b', 'c' };

  g_byte_array_append (data, hello_openssl, sizeof hello_openssl);
  g_byte_array_append (data, app, sizeof app);
  assert_ok (data->data, data->len, NFLTR_HELLO_DEFAULT_MAX, "myapp.nfltr.localhost",
             sizeof hello_openssl);
}

/* Random mutations of real hellos: any answer but a crash, and never an SNI with junk in it. */
static void
test_mutations (void)
{
  GRand *rand = g_rand_new_with_seed (20261125);

  for (guint round = 0; round < 20000; round++)
    {
      const Sample *s = &samples[round % G_N_ELEMENTS (samples)];
      g_autofree guint8 *copy = g_memdup2 (s->data, s->len);
      g_autofree char *sni = NULL;
      g_autoptr(GError) error = NULL;
      guint flips = g_rand_int_range (rand, 1, 4);
      gsize len = g_rand_boolean (rand) ? s->len : (gsize) g_rand_int_range (rand, 0, s->len + 1);
      NfltrHelloStatus status;

      for (guint f = 0; f < flips; f++)
        copy[g_rand_int_range (rand, 0, s->len)] = g_rand_int_range (rand, 0, 256);
      status = parse (copy, len, NFLTR_HELLO_DEFAULT_MAX, &sni, NULL, &error);
      if (status == NFLTR_HELLO_OK)
        {
          g_assert_no_error (error);
          if (sni != NULL)
            for (const char *p = sni; *p; p++)
              g_assert_true (g_ascii_islower (*p) || g_ascii_isdigit (*p) || strchr ("-_.", *p));
        }
      else if (status == NFLTR_HELLO_NEED_MORE)
        g_assert_no_error (error);
      else
        g_assert_nonnull (error);
    }
  g_rand_free (rand);
}

static void
test_alert_record (void)
{
  guint8 out[7];
  const guint8 want[7] = { 0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 112 };

  nfltr_tls_alert_record (NFLTR_TLS_ALERT_UNRECOGNIZED_NAME, out);
  g_assert_cmpmem (out, 7, want, 7);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clienthello/samples/whole", test_samples_whole);
  g_test_add_func ("/clienthello/samples/every-prefix", test_samples_every_prefix);
  g_test_add_func ("/clienthello/records/two-records-every-split", test_two_records_every_split);
  g_test_add_func ("/clienthello/records/one-byte-records", test_one_byte_records);
  g_test_add_func ("/clienthello/size/bigger-than-mtu", test_bigger_than_mtu);
  g_test_add_func ("/clienthello/size/too-big", test_too_big);
  g_test_add_func ("/clienthello/size/default-64k", test_default_limit_64k);
  g_test_add_func ("/clienthello/records/one-byte-records-linear-work", test_one_byte_records_linear_work);
  g_test_add_func ("/clienthello/sni/absent", test_no_sni);
  g_test_add_func ("/clienthello/sni/normalised", test_names_normalised);
  g_test_add_func ("/clienthello/sni/bad-names", test_bad_names);
  g_test_add_func ("/clienthello/garbage", test_garbage);
  g_test_add_func ("/clienthello/truncated-inside", test_truncated_inside);
  g_test_add_func ("/clienthello/trailing-records", test_trailing_records);
  g_test_add_func ("/clienthello/mutations", test_mutations);
  g_test_add_func ("/clienthello/alert-record", test_alert_record);
  return g_test_run ();
}
