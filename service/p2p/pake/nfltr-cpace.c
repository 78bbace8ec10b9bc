/* nfltr-cpace.c — CPace over ristretto255 and SHA-512, as draft-irtf-cfrg-cpace writes it.
 * The names follow the draft so each line can be checked against it. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-cpace.h"

#include <sodium.h>
#include <string.h>

/* G_Ristretto255.DSI and G.DSI_ISK (draft, "CPace group objects G_Ristretto255"). */
static const char DSI[] = "CPaceRistretto255";
static const char DSI_ISK[] = "CPaceRistretto255_ISK";
/* H.s_in_bytes for SHA-512: its input block (draft §7.1). */
#define H_S_IN_BYTES 128

/* Bytes prepend_len adds in front of a string of LEN bytes: LEB128 takes 7 bits a byte. */
static gsize
prepend_len_size (gsize len)
{
  gsize n = 1;

  while (len >= 0x80)
    {
      len >>= 7;
      n++;
    }
  return n;
}

void
nfltr_cpace_append_lv (GByteArray   *out,
                       const guint8 *data,
                       gsize         len)
{
  gsize l = len;

  do
    {
      guint8 b = l & 0x7f;

      l >>= 7;
      if (l != 0)
        b |= 0x80;
      g_byte_array_append (out, &b, 1);
    }
  while (l != 0);
  if (len > 0)
    g_byte_array_append (out, data, len);
}

GBytes *
nfltr_cpace_generator_string (const guint8 *prs,
                              gsize         prs_len,
                              const guint8 *ci,
                              gsize         ci_len,
                              const guint8 *sid,
                              gsize         sid_len)
{
  GByteArray *out = g_byte_array_new ();
  gsize dsi_len = strlen (DSI);
  gssize len_zpad;
  g_autofree guint8 *zpad = NULL;

  /* The zero padding fills the first hash block with DSI and PRS alone, so that the
   * password-dependent part of the hash state is computed once (draft §7.1). */
  len_zpad = (gssize) H_S_IN_BYTES - 1 - (gssize) (prepend_len_size (prs_len) + prs_len) -
             (gssize) (prepend_len_size (dsi_len) + dsi_len);
  if (len_zpad < 0)
    len_zpad = 0;
  zpad = g_malloc0 (len_zpad + 1);
  nfltr_cpace_append_lv (out, (const guint8 *) DSI, dsi_len);
  nfltr_cpace_append_lv (out, prs, prs_len);
  nfltr_cpace_append_lv (out, zpad, len_zpad);
  nfltr_cpace_append_lv (out, ci, ci_len);
  nfltr_cpace_append_lv (out, sid, sid_len);
  return g_byte_array_free_to_bytes (out);
}

gboolean
nfltr_cpace_calculate_generator (const guint8 *prs,
                                 gsize         prs_len,
                                 const guint8 *ci,
                                 gsize         ci_len,
                                 const guint8 *sid,
                                 gsize         sid_len,
                                 guint8        g[NFLTR_CPACE_POINT_BYTES])
{
  g_autoptr(GBytes) gen_str = NULL;
  guint8 hash[crypto_hash_sha512_BYTES];
  gsize len;
  const guint8 *data;

  if (sodium_init () < 0)
    return FALSE;
  gen_str = nfltr_cpace_generator_string (prs, prs_len, ci, ci_len, sid, sid_len);
  data = g_bytes_get_data (gen_str, &len);
  crypto_hash_sha512 (hash, data, len);
  /* element_derivation is ristretto255's one-way map over 64 uniform bytes. */
  crypto_core_ristretto255_from_hash (g, hash);
  sodium_memzero (hash, sizeof hash);
  return TRUE;
}

void
nfltr_cpace_sample_scalar (guint8 y[NFLTR_CPACE_SCALAR_BYTES])
{
  if (sodium_init () < 0)
    g_error ("libsodium cannot initialise");
  randombytes_buf (y, NFLTR_CPACE_SCALAR_BYTES);
  /* group_size_bits is 252: the top four bits of the last byte go. */
  y[NFLTR_CPACE_SCALAR_BYTES - 1] &= 0x0f;
}

gboolean
nfltr_cpace_share (const guint8 y[NFLTR_CPACE_SCALAR_BYTES],
                   const guint8 g[NFLTR_CPACE_POINT_BYTES],
                   guint8       Y[NFLTR_CPACE_POINT_BYTES])
{
  return crypto_scalarmult_ristretto255 (Y, y, g) == 0;
}

gboolean
nfltr_cpace_scalar_mult_vfy (const guint8 y[NFLTR_CPACE_SCALAR_BYTES],
                             const guint8 X[NFLTR_CPACE_POINT_BYTES],
                             guint8       K[NFLTR_CPACE_POINT_BYTES])
{
  /* libsodium refuses an X that is not a canonical ristretto255 encoding and a result that
   * is the identity: both are the draft's "abort". */
  if (crypto_scalarmult_ristretto255 (K, y, X) != 0)
    {
      sodium_memzero (K, NFLTR_CPACE_POINT_BYTES);
      return FALSE;
    }
  return TRUE;
}

void
nfltr_cpace_transcript_ir (GByteArray   *out,
                           const guint8  Ya[NFLTR_CPACE_POINT_BYTES],
                           const guint8 *ada,
                           gsize         ada_len,
                           const guint8  Yb[NFLTR_CPACE_POINT_BYTES],
                           const guint8 *adb,
                           gsize         adb_len)
{
  nfltr_cpace_append_lv (out, Ya, NFLTR_CPACE_POINT_BYTES);
  nfltr_cpace_append_lv (out, ada, ada_len);
  nfltr_cpace_append_lv (out, Yb, NFLTR_CPACE_POINT_BYTES);
  nfltr_cpace_append_lv (out, adb, adb_len);
}

void
nfltr_cpace_isk_ir (const guint8 *sid,
                    gsize         sid_len,
                    const guint8  K[NFLTR_CPACE_POINT_BYTES],
                    const guint8  Ya[NFLTR_CPACE_POINT_BYTES],
                    const guint8 *ada,
                    gsize         ada_len,
                    const guint8  Yb[NFLTR_CPACE_POINT_BYTES],
                    const guint8 *adb,
                    gsize         adb_len,
                    guint8        isk[NFLTR_CPACE_ISK_BYTES])
{
  g_autoptr(GByteArray) in = g_byte_array_new ();

  nfltr_cpace_append_lv (in, (const guint8 *) DSI_ISK, strlen (DSI_ISK));
  nfltr_cpace_append_lv (in, sid, sid_len);
  nfltr_cpace_append_lv (in, K, NFLTR_CPACE_POINT_BYTES);
  nfltr_cpace_transcript_ir (in, Ya, ada, ada_len, Yb, adb, adb_len);
  crypto_hash_sha512 (isk, in->data, in->len);
  sodium_memzero (in->data, in->len);
}

void
nfltr_cpace_sid_output_ir (const guint8  Ya[NFLTR_CPACE_POINT_BYTES],
                           const guint8 *ada,
                           gsize         ada_len,
                           const guint8  Yb[NFLTR_CPACE_POINT_BYTES],
                           const guint8 *adb,
                           gsize         adb_len,
                           guint8        out[NFLTR_CPACE_ISK_BYTES])
{
  static const char label[] = "CPaceSidOutput";
  g_autoptr(GByteArray) in = g_byte_array_new ();

  g_byte_array_append (in, (const guint8 *) label, strlen (label));
  nfltr_cpace_transcript_ir (in, Ya, ada, ada_len, Yb, adb, adb_len);
  crypto_hash_sha512 (out, in->data, in->len);
}
