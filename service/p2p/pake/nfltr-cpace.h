/* nfltr-cpace.h — CPace over ristretto255 with SHA-512 (draft-irtf-cfrg-cpace, the
 * CPACE-RISTR255-SHA512 suite, initiator-responder mode), on libsodium's primitives.
 *
 * Only the arithmetic lives here; which bytes go on the wire, and the confirmation that
 * both sides derived the same key, belong to the handshake (session/nfltr-p2p-handshake.h).
 * Every function is deterministic given its scalar, so the draft's test vectors apply. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NFLTR_CPACE_POINT_BYTES  32  /* G_Ristretto255.field_size_bytes */
#define NFLTR_CPACE_SCALAR_BYTES 32
#define NFLTR_CPACE_ISK_BYTES    64  /* SHA-512 */

/* prepend_len (draft §4.1): the length as LEB128, then the bytes; lv_cat is this in a row. */
void     nfltr_cpace_append_lv (GByteArray   *out,
                                const guint8 *data,
                                gsize         len);

/* generator_string (draft §7.1), hashed with SHA-512 and mapped with ristretto255's
 * element derivation (RFC 9496 §4.3.4). The result is the public encoding of g. */
GBytes  *nfltr_cpace_generator_string (const guint8 *prs,
                                       gsize         prs_len,
                                       const guint8 *ci,
                                       gsize         ci_len,
                                       const guint8 *sid,
                                       gsize         sid_len);
gboolean nfltr_cpace_calculate_generator (const guint8 *prs,
                                          gsize         prs_len,
                                          const guint8 *ci,
                                          gsize         ci_len,
                                          const guint8 *sid,
                                          gsize         sid_len,
                                          guint8        g[NFLTR_CPACE_POINT_BYTES]);

/* G.sample_scalar (draft §7.2): 32 random bytes with the bits above 252 cleared. */
void     nfltr_cpace_sample_scalar (guint8 y[NFLTR_CPACE_SCALAR_BYTES]);

/* Y = G.scalar_mult (y, g). FALSE only for the identity, which cannot happen for a valid g. */
gboolean nfltr_cpace_share (const guint8 y[NFLTR_CPACE_SCALAR_BYTES],
                            const guint8 g[NFLTR_CPACE_POINT_BYTES],
                            guint8       Y[NFLTR_CPACE_POINT_BYTES]);

/* K = G.scalar_mult_vfy (y, X): FALSE when X does not decode or K is the identity, which the
 * draft says must abort the session (§6.2). */
gboolean nfltr_cpace_scalar_mult_vfy (const guint8 y[NFLTR_CPACE_SCALAR_BYTES],
                                      const guint8 X[NFLTR_CPACE_POINT_BYTES],
                                      guint8       K[NFLTR_CPACE_POINT_BYTES]);

/* transcript_ir (draft §4.3): lv_cat (Ya, ADa) || lv_cat (Yb, ADb). */
void     nfltr_cpace_transcript_ir (GByteArray   *out,
                                    const guint8  Ya[NFLTR_CPACE_POINT_BYTES],
                                    const guint8 *ada,
                                    gsize         ada_len,
                                    const guint8  Yb[NFLTR_CPACE_POINT_BYTES],
                                    const guint8 *adb,
                                    gsize         adb_len);

/* ISK = H.hash (lv_cat (DSI_ISK, sid, K) || transcript_ir (...)) (draft §6.2). */
void     nfltr_cpace_isk_ir (const guint8 *sid,
                             gsize         sid_len,
                             const guint8  K[NFLTR_CPACE_POINT_BYTES],
                             const guint8  Ya[NFLTR_CPACE_POINT_BYTES],
                             const guint8 *ada,
                             gsize         ada_len,
                             const guint8  Yb[NFLTR_CPACE_POINT_BYTES],
                             const guint8 *adb,
                             gsize         adb_len,
                             guint8        isk[NFLTR_CPACE_ISK_BYTES]);

/* The optional session id output (draft §9.6): H.hash ("CPaceSidOutput" || transcript_ir). */
void     nfltr_cpace_sid_output_ir (const guint8  Ya[NFLTR_CPACE_POINT_BYTES],
                                    const guint8 *ada,
                                    gsize         ada_len,
                                    const guint8  Yb[NFLTR_CPACE_POINT_BYTES],
                                    const guint8 *adb,
                                    gsize         adb_len,
                                    guint8        out[NFLTR_CPACE_ISK_BYTES]);

G_END_DECLS
