/* fuzz-enrol.c — the relay's enrolment request parser (POST /api/v1/enrol, docs/protocol.md §9):
 * anything in, either one authorisation (a fleet token, or an API key with a public key) and a
 * 32-hex agent id out, or an error. */
#include "auth/relay-enrol.h"
#include "store/relay-store.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  RelayEnrolRequest request;
  g_autoptr(GError) error = NULL;

  if (relay_enrol_request_parse ((const char *) data, size, &request, &error))
    {
      g_assert (error == NULL);
      g_assert ((request.token == NULL) != (request.api_key == NULL));
      g_assert (request.token == NULL || g_str_has_prefix (request.token, RELAY_FLEET_TOKEN_PREFIX));
      g_assert (request.api_key == NULL || request.public_key != NULL);
      g_assert (strlen (request.agent_id) == 32);
      for (const char *p = request.agent_id; *p; p++)
        g_assert (g_ascii_isxdigit (*p) && !g_ascii_isupper (*p));
      relay_enrol_request_clear (&request);
    }
  else
    g_assert (error != NULL && request.token == NULL && request.agent_id == NULL);
  return 0;
}
