/* fuzz-call-signal.c — a call's messages on the CALL stream (service/p2p/call/
 * nfltr-call-signal.c, docs/protocol.md §14.2): what the peer sends, checked by the service,
 * and what a local process hands Call.Send. Whatever parses must build back to JSON that
 * parses to the same message. */
#include "nfltr-call-signal.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(NfltrCallSignal) signal = nfltr_call_signal_parse ((const char *) data, (gssize) size, NULL);
  g_autoptr(NfltrCallSignal) again = NULL;
  g_autofree char *text = NULL;

  if (signal == NULL)
    return 0;
  text = nfltr_call_signal_to_string (signal);
  again = nfltr_call_signal_parse (text, -1, NULL);
  g_assert (again != NULL);
  g_assert (again->type == signal->type);
  g_assert (g_strcmp0 (again->sdp, signal->sdp) == 0);
  g_assert (g_strcmp0 (again->candidate, signal->candidate) == 0);
  g_assert (again->mline == signal->mline);
  return 0;
}
