/* fuzz-shell-keys.c — the shell kind's authorized_keys lines (service/kinds/shell/
 * nfltr-shell-keys.c): a file the user edits by hand, and whose options decide what a key
 * may do. The input is a whole file, parsed line by line as the server reads it. */
#include "nfltr-shell-keys.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  const char *end = text + size;

  for (const char *line = text; line < end;)
    {
      const char *eol = memchr (line, '\n', end - line);
      gsize len = (eol != NULL ? eol : end) - line;
      NfltrShellAuthorizedKey key;
      char *reason = NULL;

      switch (nfltr_shell_authorized_key_parse (line, len, &key, &reason))
        {
          case NFLTR_SHELL_KEY_LINE_KEY:
            g_assert_null (reason);
            g_assert_true (nfltr_shell_key_type_is_known (key.type));
            g_assert_true (key.base64 != NULL && *key.base64 != '\0');
            g_assert_true (strlen (key.base64) < len + 1);
            break;
          case NFLTR_SHELL_KEY_LINE_REFUSED:
            g_assert_nonnull (reason);
            g_assert_null (key.type);
            g_assert_null (key.command);
            break;
          case NFLTR_SHELL_KEY_LINE_EMPTY:
          default:
            g_assert_null (reason);
            g_assert_null (key.type);
            break;
        }
      nfltr_shell_authorized_key_clear (&key);
      g_free (reason);
      line = eol != NULL ? eol + 1 : end;
    }
  return 0;
}
