/* test-p2p-cpace.c — CPace over ristretto255/SHA-512 against the test vectors of
 * draft-irtf-cfrg-cpace ("Test vector for CPace using group ristretto255 and hash
 * SHA-512"), every intermediate value. */
#include "nfltr-cpace.h"
#include "p2p-test-util.h"

#define PRS "Password"
#define CI_HEX "0b415f696e69746961746f720b425f726573706f6e646572"
#define SID_HEX "7e4b4791d6a8ef019b936c79fb7f2c57"
#define YA_SCALAR "da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08"
#define YB_SCALAR "d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d"

static void
test_generator (void)
{
  g_autofree guint8 *ci = NULL, *sid = NULL;
  gsize ci_len, sid_len;
  g_autoptr(GBytes) gen_str = NULL;
  guint8 g[NFLTR_CPACE_POINT_BYTES];

  ci = p2p_test_unhex (CI_HEX, &ci_len);
  sid = p2p_test_unhex (SID_HEX, &sid_len);
  gen_str = nfltr_cpace_generator_string ((const guint8 *) PRS, strlen (PRS), ci, ci_len, sid, sid_len);
  g_assert_cmpuint (g_bytes_get_size (gen_str), ==, 170);
  p2p_assert_hex (g_bytes_get_data (gen_str, NULL), g_bytes_get_size (gen_str),
                  "11435061636552697374726574746f3235350850617373776f726464"
                  "00000000000000000000000000000000000000000000000000000000"
                  "00000000000000000000000000000000000000000000000000000000"
                  "00000000000000000000000000000000000000000000000000000000"
                  "00000000000000000000000000000000180b415f696e69746961746f"
                  "720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f"
                  "2c57");
  g_assert_true (nfltr_cpace_calculate_generator ((const guint8 *) PRS, strlen (PRS), ci, ci_len,
                                                  sid, sid_len, g));
  p2p_assert_hex (g, sizeof g, "222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56");
}

static void
test_shares_and_isk (void)
{
  g_autofree guint8 *ci = NULL, *sid = NULL, *ya = NULL, *yb = NULL;
  gsize ci_len, sid_len;
  guint8 g[32], Ya[32], Yb[32], Ka[32], Kb[32], isk[64], sid_out[64];
  g_autoptr(GByteArray) transcript = g_byte_array_new ();

  ci = p2p_test_unhex (CI_HEX, &ci_len);
  sid = p2p_test_unhex (SID_HEX, &sid_len);
  ya = p2p_test_unhex (YA_SCALAR, NULL);
  yb = p2p_test_unhex (YB_SCALAR, NULL);
  g_assert_true (nfltr_cpace_calculate_generator ((const guint8 *) PRS, strlen (PRS), ci, ci_len,
                                                  sid, sid_len, g));
  g_assert_true (nfltr_cpace_share (ya, g, Ya));
  p2p_assert_hex (Ya, 32, "d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157");
  g_assert_true (nfltr_cpace_share (yb, g, Yb));
  p2p_assert_hex (Yb, 32, "3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258");

  g_assert_true (nfltr_cpace_scalar_mult_vfy (ya, Yb, Ka));
  g_assert_true (nfltr_cpace_scalar_mult_vfy (yb, Ya, Kb));
  p2p_assert_hex (Ka, 32, "80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f");
  p2p_assert_hex (Kb, 32, "80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f");

  nfltr_cpace_transcript_ir (transcript, Ya, (const guint8 *) "ADa", 3, Yb, (const guint8 *) "ADb", 3);
  p2p_assert_hex (transcript->data, transcript->len,
                  "20d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0e"
                  "ec482b915703414461203ea7e0b19560d7c0b0f5734f63b955286dfa"
                  "8232b5ebe63324e2d9e7433f725803414462");
  nfltr_cpace_isk_ir (sid, sid_len, Ka, Ya, (const guint8 *) "ADa", 3, Yb, (const guint8 *) "ADb", 3, isk);
  p2p_assert_hex (isk, 64,
                  "b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dc"
                  "ae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c"
                  "3fa2068af7900447");
  nfltr_cpace_sid_output_ir (Ya, (const guint8 *) "ADa", 3, Yb, (const guint8 *) "ADb", 3, sid_out);
  p2p_assert_hex (sid_out, 64,
                  "bb1c449b35f0ea79a65c209f329a693d475e0ce2387bed9fe4b78f60"
                  "b2a27c219813fb2cfe175ef40d2222d9261e66da7d78f7c55a303b1b"
                  "8611dcdfab880c47");
}

/* scalar_mult_vfy must refuse what the draft says to abort on: a point that does not
 * decode and the identity. */
static void
test_vfy_refuses (void)
{
  g_autofree guint8 *ya = p2p_test_unhex (YA_SCALAR, NULL);
  guint8 identity[32] = { 0 };
  guint8 not_canonical[32];
  guint8 K[32];

  memset (not_canonical, 0xff, sizeof not_canonical);
  g_assert_false (nfltr_cpace_scalar_mult_vfy (ya, identity, K));
  g_assert_false (nfltr_cpace_scalar_mult_vfy (ya, not_canonical, K));
}

/* The LEB128 prepend_len of the draft's own vectors (§A.1): 127 bytes take one length
 * byte, 128 take two. */
static void
test_prepend_len (void)
{
  g_autoptr(GByteArray) a = g_byte_array_new ();
  guint8 buf[128] = { 0 };

  nfltr_cpace_append_lv (a, buf, 127);
  g_assert_cmpuint (a->len, ==, 128);
  g_assert_cmpuint (a->data[0], ==, 0x7f);
  g_byte_array_set_size (a, 0);
  nfltr_cpace_append_lv (a, buf, 128);
  g_assert_cmpuint (a->len, ==, 130);
  g_assert_cmpuint (a->data[0], ==, 0x80);
  g_assert_cmpuint (a->data[1], ==, 0x01);
  g_byte_array_set_size (a, 0);
  nfltr_cpace_append_lv (a, NULL, 0);
  g_assert_cmpuint (a->len, ==, 1);
  g_assert_cmpuint (a->data[0], ==, 0);
}

static void
test_sample_scalar (void)
{
  for (int i = 0; i < 64; i++)
    {
      guint8 y[32];

      nfltr_cpace_sample_scalar (y);
      g_assert_cmpuint (y[31] & 0xf0, ==, 0);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/p2p/cpace/draft-vectors/generator", test_generator);
  g_test_add_func ("/p2p/cpace/draft-vectors/shares-and-isk", test_shares_and_isk);
  g_test_add_func ("/p2p/cpace/vfy-refuses", test_vfy_refuses);
  g_test_add_func ("/p2p/cpace/prepend-len", test_prepend_len);
  g_test_add_func ("/p2p/cpace/sample-scalar", test_sample_scalar);
  return g_test_run ();
}
