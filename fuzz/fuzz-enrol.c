/* fuzz-enrol.c — the relay's enrolment request parser (POST /api/v1/enrol, docs/protocol.md §9):
 * anything in, either a token of the fleet shape and a 32-hex agent id out, or an error. */
#include "auth/relay-enrol.h"
#include "store/relay-store.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *token = NULL;
  g_autofree char *agent_id = NULL;
  g_autoptr(GError) error = NULL;

  if (relay_enrol_request_parse ((const char *) data, size, &token, &agent_id, &error))
    {
      g_assert (error == NULL);
      g_assert (g_str_has_prefix (token, RELAY_FLEET_TOKEN_PREFIX));
      g_assert (strlen (agent_id) == 32);
      for (const char *p = agent_id; *p; p++)
        g_assert (g_ascii_isxdigit (*p) && !g_ascii_isupper (*p));
    }
  else
    g_assert (error != NULL && token == NULL && agent_id == NULL);
  return 0;
}
