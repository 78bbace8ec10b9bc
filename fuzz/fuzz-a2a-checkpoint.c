/* fuzz-a2a-checkpoint.c — signed audit checkpoints (libshared/nfltr-audit-checkpoint) in their
 * binary and text forms, and `nfltr audit verify` on a log and a checkpoints file (the input
 * split at the first NUL: log, then checkpoints) — both come from disk, written by whoever. */
#include "nfltr-a2a-audit-log.h"
#include "nfltr-audit-checkpoint.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  NfltrAuditCheckpoint cp;
  g_autofree char *text = g_strndup ((const char *) data, size);
  const guint8 *nul = memchr (data, '\0', size);
  g_autoptr(GString) report = g_string_new (NULL);

  if (nfltr_audit_checkpoint_decode (data, size, &cp, NULL))
    {
      guint8 again[NFLTR_AUDIT_CHECKPOINT_BYTES];

      nfltr_audit_checkpoint_encode (&cp, again);
      g_assert (memcmp (again, data, sizeof again) == 0);
      (void) nfltr_audit_checkpoint_verify (&cp, NULL);
    }
  if (nfltr_audit_checkpoint_from_text (text, &cp, NULL))
    (void) nfltr_audit_checkpoint_verify (&cp, NULL);
  if (nul != NULL)
    (void) nfltr_a2a_audit_verify ((const char *) data, nul - data, (const char *) nul + 1, size - (nul - data) - 1,
                                   report, NULL);
  else
    (void) nfltr_a2a_audit_verify ((const char *) data, size, NULL, 0, report, NULL);
  return 0;
}
