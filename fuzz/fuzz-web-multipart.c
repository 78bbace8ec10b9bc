/* fuzz-web-multipart.c — the streaming multipart/form-data parser
 * (service/kinds/web/nfltr-web-multipart.c). Differential: the body fed whole and fed in
 * input-chosen pieces gives the same parts, the same bytes and the same verdict.
 * The first byte picks the piece size; the boundary is fixed ("XyZ"). */
#include "nfltr-web-multipart.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  GString *log;  /* "B<name>|<filename>\n", data bytes, "E\n" */
  gboolean in_part;
} Sink;

static gboolean
begin_cb (const char *name, const char *filename, gpointer user_data, GError **error)
{
  Sink *s = user_data;

  g_assert (!s->in_part);
  g_assert (name != NULL);
  s->in_part = TRUE;
  g_string_append_printf (s->log, "B%s|%s\n", name, filename ? filename : "(none)");
  return TRUE;
}

static gboolean
data_cb (const guint8 *data, gsize len, gpointer user_data, GError **error)
{
  Sink *s = user_data;

  g_assert (s->in_part);
  g_string_append_len (s->log, (const char *) data, len);
  return TRUE;
}

static gboolean
end_cb (gpointer user_data, GError **error)
{
  Sink *s = user_data;

  g_assert (s->in_part);
  s->in_part = FALSE;
  g_string_append (s->log, "E\n");
  return TRUE;
}

static const NfltrWebMultipartCallbacks callbacks = { begin_cb, data_cb, end_cb };

static gboolean
run (const uint8_t *data, size_t size, gsize step, GString *log)
{
  Sink sink = { log, FALSE };
  g_autoptr(NfltrWebMultipart) mp = nfltr_web_multipart_new ("XyZ", &callbacks, &sink, NULL);
  gboolean ok = TRUE;

  g_assert (mp != NULL);
  for (gsize off = 0; ok && off < size; off += step)
    ok = nfltr_web_multipart_feed (mp, data + off, MIN (step, size - off), NULL);
  if (ok)
    ok = nfltr_web_multipart_finish (mp, NULL);
  return ok;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GString) whole = g_string_new (NULL);
  g_autoptr(GString) pieces = g_string_new (NULL);
  gsize step;
  gboolean ok_whole, ok_pieces;

  if (size < 1)
    return 0;
  step = data[0] % 16 + 1;
  data++;
  size--;
  ok_whole = run (data, size, MAX (size, 1), whole);
  ok_pieces = run (data, size, step, pieces);
  g_assert (ok_whole == ok_pieces);
  if (ok_whole)
    g_assert (g_string_equal (whole, pieces));
  return 0;
}
