/* fuzz-inspect-edits.c — a replay's edits (service/inspect/nfltr-inspect-edits.c), as the
 * inspector's page or D-Bus Replay sends them: either refused with a message, or the request
 * written from them has exactly one head, framed by the Content-Length it carries. */
#include "nfltr-inspect-edits.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrInspectEdits) edits = nfltr_inspect_edits_parse ((const char *) data, size, &error);
  g_autoptr(NfltrInspectExchange) ex = nfltr_inspect_exchange_new ();
  g_autoptr(GBytes) req = NULL;
  const char *text, *end;
  gsize len;

  if (edits == NULL)
    {
      g_assert (error != NULL && error->message[0] != '\0');
      return 0;
    }
  ex->id = 1;
  ex->method = g_strdup ("GET");
  ex->path = g_strdup ("/");
  req = nfltr_inspect_build_request (ex, edits, "127.0.0.1", &error);
  g_assert (req != NULL);
  text = g_bytes_get_data (req, &len);
  end = g_strstr_len (text, len, "\r\n\r\n");
  g_assert (end != NULL);
  /* No bare CR or LF inside the head: no field the edits smuggled in. */
  for (const char *p = text; p < end; p++)
    if (*p == '\r')
      g_assert (p[1] == '\n');
    else if (*p == '\n')
      g_assert (p > text && p[-1] == '\r');
  g_assert (memchr (text, '\0', end - text) == NULL);
  /* The body is what Content-Length says, if the method has one. */
  {
    g_autofree char *head = g_strndup (text, end - text);
    const char *cl = strstr (head, "\r\nContent-Length: ");
    gsize body = len - (end + 4 - text);

    if (cl != NULL)
      g_assert_cmpuint (g_ascii_strtoull (cl + 18, NULL, 10), ==, body);
    else
      g_assert_cmpuint (body, ==, 0);
  }
  return 0;
}
