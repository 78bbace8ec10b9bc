/* fuzz-proof-bundle.c — the proof bundle reader `nfltr verify` runs on a file from anyone
 * (libshared/nfltr-proof-bundle.c, docs/protocol.md §10). The first byte picks whether an
 * expected key is given (a fixed one, which no seed is signed by except the first seed). */
#include "nfltr-proof-bundle.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const guint8 key[NFLTR_PROOF_PUBLIC_KEY_SIZE] = { 1, 2, 3 };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) proof = NULL;
  g_autofree char *named = NULL;

  if (size < 1)
    return 0;
  proof = nfltr_proof_bundle_verify (data + 1, size - 1, (data[0] & 1) ? key : NULL, &named, &error);
  g_assert ((proof == NULL) == (error != NULL));
  if (proof != NULL)
    {
      /* Accepted: the proof is an object and re-canonicalises to what was signed. */
      g_autofree char *again = NULL;

      g_assert (JSON_NODE_HOLDS_OBJECT (proof));
      again = nfltr_proof_canonicalize (proof, NULL);
      g_assert (again != NULL);
      g_assert (memmem (data + 1, size - 1, again, strlen (again)) != NULL);
    }
  else
    g_assert (error->domain == NFLTR_PROOF_ERROR);
  return 0;
}
