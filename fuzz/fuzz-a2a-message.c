/* fuzz-a2a-message.c — what another agent (or the relay) puts in an A2A_MESSAGE's data
 * (docs/protocol.md §13.4): the envelope's header, opening it, and the inner message (type,
 * sequence, text, file name, receipt, HTTP framing). Nothing may crash; an envelope that
 * opens must have come from the key in it, which the fuzzer cannot make, so open must fail
 * unless the input is the seed itself. */
#include "nfltr-a2a-proto.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static NfltrA2aIdentity me;
  static gboolean ready;
  NfltrA2aEnvelope env;
  NfltrA2aInner inner;
  NfltrA2aRoute route = { .from = "aaaaaaaa0123456789abcdef01234567", .to = "bbbbbbbbfedcba9876543210fedcba98" };

  if (!ready)
    {
      guint8 seed[32];

      memset (seed, 101, sizeof seed);
      for (guint i = 0; i < 32; i++)
        seed[i] = 101 + i;
      ready = nfltr_a2a_identity_from_seed (&me, seed, NULL);
    }
  memset (route.msg_id, 0, sizeof route.msg_id);
  for (guint i = 0; i < 16; i++)
    route.msg_id[i] = i;
  if (nfltr_a2a_envelope_parse (data, size, &env, NULL))
    {
      g_autoptr(GBytes) plain = nfltr_a2a_open (&me, route.to, &route, &env, NULL, NULL);

      if (plain != NULL && nfltr_a2a_inner_parse (g_bytes_get_data (plain, NULL), g_bytes_get_size (plain), &inner,
                                                  NULL))
        nfltr_a2a_inner_clear (&inner);
    }
  if (nfltr_a2a_inner_parse (data, size, &inner, NULL))
    {
      g_assert (inner.payload + inner.payload_len <= data + size);
      g_assert (inner.type != NFLTR_A2A_INNER_FILE ||
                (inner.file_name != NULL && strchr (inner.file_name, '/') == NULL));
      nfltr_a2a_inner_clear (&inner);
    }
  return 0;
}
