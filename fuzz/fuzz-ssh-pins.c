/* fuzz-ssh-pins.c — what `nfltr ssh` parses itself (cli/cli-known-tunnels.c): the
 * known_tunnels file of pinned certificates, and the [USER@]HOST it is given (also what
 * ssh hands its ProxyCommand as %h). The first line of the input is the destination, the
 * rest the file. */
#include "cli-known-tunnels.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FP_A "sha256:0000000000000000000000000000000000000000000000000000000000000000"
#define FP_B "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  const char *nl = memchr (text, '\n', size);
  g_autofree char *destination = g_strndup (text, nl != NULL ? (gsize) (nl - text) : size);
  const char *file = nl != NULL ? nl + 1 : text + size;
  gsize file_len = text + size - file;
  g_autofree char *host = NULL;
  g_autofree char *pinned = NULL;
  g_autofree char *updated = NULL;
  gsize updated_len;

  if (!cli_ssh_parse_destination (destination, &host))
    host = g_strdup ("fallback.example");
  else
    {
      /* A host that parsed is a DNS name in lower case: safe in a file line and on argv. */
      for (const char *p = host; *p != '\0'; p++)
        g_assert_true (g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '-' || *p == '.');
    }

  cli_known_tunnels_check (file, file_len, host, FP_A, &pinned);
  /* Whatever the file held, a pin appended now is the one that counts. */
  updated = cli_known_tunnels_add (file, file_len, host, FP_B);
  g_clear_pointer (&pinned, g_free);
  updated_len = file_len + (file_len > 0 && file[file_len - 1] != '\n') + strlen (host) + strlen (FP_B) + 2;
  g_assert_cmpint (cli_known_tunnels_check (updated, updated_len, host, FP_B, &pinned), ==, CLI_PIN_MATCH);
  g_assert_cmpstr (pinned, ==, FP_B);
  return 0;
}
