/* fuzz-inspect-h1.c — the inspector's HTTP/1.1 observer (service/inspect/nfltr-inspect-h1.c)
 * on a local server's answers and a request stream: the input up to the first "\n--\n" is the
 * request stream, the rest the responses, each fed in pieces. Whatever it records stays
 * within the store's bounds and every exchange converts to JSON. */
#include "nfltr-inspect-h1.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
feed_in_pieces (NfltrInspectH1 *h1, gboolean response, const uint8_t *data, size_t size)
{
  /* Uneven pieces: heads and chunk lines split everywhere. */
  for (size_t off = 0, step = 1; off < size; off += step, step = step % 13 + 1)
    {
      size_t n = MIN (step, size - off);

      if (response)
        nfltr_inspect_h1_feed_response (h1, data + off, n);
      else
        nfltr_inspect_h1_feed_request (h1, data + off, n);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (8, 64 * 1024, 256);
  NfltrInspectH1 *h1 = nfltr_inspect_h1_new (store, "fuzz");
  const uint8_t *sep = memmem (data, size, "\n--\n", 4);
  size_t req_len = sep != NULL ? (size_t) (sep - data) : size;
  g_autoptr(GPtrArray) list = NULL;

  feed_in_pieces (h1, FALSE, data, req_len);
  if (sep != NULL)
    feed_in_pieces (h1, TRUE, sep + 4, size - req_len - 4);
  nfltr_inspect_h1_free (h1);

  g_assert_cmpuint (nfltr_inspect_store_get_count (store), <=, 8);
  g_assert_cmpuint (nfltr_inspect_store_get_bytes (store), <=, 64 * 1024);
  list = nfltr_inspect_store_list (store, 0);
  for (guint i = 0; i < list->len; i++)
    {
      NfltrInspectExchange *ex = list->pdata[i];
      g_autoptr(JsonNode) node = nfltr_inspect_exchange_to_json (ex, TRUE);

      g_assert (ex->req_body == NULL || g_bytes_get_size (ex->req_body) <= 256);
      g_assert (ex->resp_body == NULL || g_bytes_get_size (ex->resp_body) <= 256);
    }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}
