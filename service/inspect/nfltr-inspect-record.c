/* nfltr-inspect-record.c — one exchange on its way into the store (see the header) */
#define G_LOG_DOMAIN "nfltr-inspect"

#include "nfltr-inspect-record.h"

#include <string.h>

struct _NfltrInspectRecord {
  NfltrInspectStore *store;
  NfltrInspectExchange *ex;
  gsize cap;
  gint64 start_us;          /* monotonic */
  GByteArray *req_body;     /* NULL when bodies are not kept */
  GByteArray *resp_body;
};

NfltrInspectRecord *
nfltr_inspect_record_new (NfltrInspectStore *store, const char *http_version, const char *client)
{
  NfltrInspectRecord *rec;

  if (store == NULL)
    return NULL;
  rec = g_new0 (NfltrInspectRecord, 1);
  rec->store = g_object_ref (store);
  rec->ex = nfltr_inspect_exchange_new ();
  rec->ex->http_version = g_strdup (http_version);
  rec->ex->client = g_strdup (client);
  rec->ex->time_us = g_get_real_time ();
  rec->start_us = g_get_monotonic_time ();
  rec->cap = nfltr_inspect_store_get_body_cap (store);
  if (rec->cap > 0)
    {
      rec->req_body = g_byte_array_new ();
      rec->resp_body = g_byte_array_new ();
    }
  return rec;
}

void
nfltr_inspect_record_free (NfltrInspectRecord *rec)
{
  if (rec == NULL)
    return;
  g_clear_object (&rec->store);
  g_clear_pointer (&rec->ex, nfltr_inspect_exchange_unref);
  g_clear_pointer (&rec->req_body, g_byte_array_unref);
  g_clear_pointer (&rec->resp_body, g_byte_array_unref);
  g_free (rec);
}

static void
add_header (GPtrArray *headers, const char *name, gsize name_len, const char *value, gsize value_len)
{
  NfltrInspectHeader *h = g_new0 (NfltrInspectHeader, 1);

  /* Field values are shown as text; bytes that are not UTF-8 become U+FFFD. */
  h->name = g_utf8_make_valid (name, name_len);
  h->value = g_utf8_make_valid (value, value_len);
  g_ptr_array_add (headers, h);
}

static void
set_text (char **field, const char *value, gsize len)
{
  g_free (*field);
  *field = g_utf8_make_valid (value, len);
}

static gboolean
name_is (const char *name, gsize len, const char *wanted)
{
  return strlen (wanted) == len && g_ascii_strncasecmp (name, wanted, len) == 0;
}

void
nfltr_inspect_record_request_header (NfltrInspectRecord *rec,
                                     const char         *name,
                                     gsize               name_len,
                                     const char         *value,
                                     gsize               value_len)
{
  if (rec == NULL)
    return;
  if (name_len > 0 && name[0] == ':')
    {
      if (name_is (name, name_len, ":method"))
        set_text (&rec->ex->method, value, value_len);
      else if (name_is (name, name_len, ":path"))
        set_text (&rec->ex->path, value, value_len);
      else if (name_is (name, name_len, ":authority"))
        set_text (&rec->ex->host, value, value_len);
      return;
    }
  if (rec->ex->host == NULL && name_is (name, name_len, "host"))
    rec->ex->host = g_utf8_make_valid (value, value_len);
  add_header (rec->ex->req_headers, name, name_len, value, value_len);
}

void
nfltr_inspect_record_request_line (NfltrInspectRecord *rec, const char *method, const char *path)
{
  if (rec == NULL)
    return;
  g_free (rec->ex->method);
  rec->ex->method = g_utf8_make_valid (method, -1);
  g_free (rec->ex->path);
  rec->ex->path = g_utf8_make_valid (path, -1);
}

static void
keep (GByteArray *kept, gsize cap, const guint8 *data, gsize len, gboolean *truncated)
{
  gsize room;

  if (kept == NULL || len == 0)
    return;
  room = kept->len < cap ? cap - kept->len : 0;
  if (len > room)
    *truncated = TRUE;
  g_byte_array_append (kept, data, MIN (len, room));
}

void
nfltr_inspect_record_request_body (NfltrInspectRecord *rec, const guint8 *data, gsize len)
{
  if (rec == NULL)
    return;
  rec->ex->req_size += len;
  keep (rec->req_body, rec->cap, data, len, &rec->ex->req_truncated);
}

void
nfltr_inspect_record_response_header (NfltrInspectRecord *rec,
                                      const char         *name,
                                      gsize               name_len,
                                      const char         *value,
                                      gsize               value_len)
{
  if (rec == NULL)
    return;
  if (name_is (name, name_len, ":status"))
    {
      g_autofree char *s = g_strndup (value, value_len);

      rec->ex->status = (guint) g_ascii_strtoull (s, NULL, 10);
      return;
    }
  add_header (rec->ex->resp_headers, name, name_len, value, value_len);
}

void
nfltr_inspect_record_response_status (NfltrInspectRecord *rec, guint status)
{
  if (rec == NULL)
    return;
  rec->ex->status = status;
}

void
nfltr_inspect_record_response_body (NfltrInspectRecord *rec, const guint8 *data, gsize len)
{
  if (rec == NULL)
    return;
  rec->ex->resp_size += len;
  keep (rec->resp_body, rec->cap, data, len, &rec->ex->resp_truncated);
}

void
nfltr_inspect_record_set_replay_of (NfltrInspectRecord *rec, guint64 id)
{
  if (rec == NULL)
    return;
  rec->ex->replay_of = id;
}

gboolean
nfltr_inspect_body_is_binary (const guint8 *data, gsize len)
{
  if (!g_utf8_validate_len ((const char *) data, len, NULL))
    return TRUE;
  for (gsize i = 0; i < len; i++)
    if (data[i] < 0x20 && data[i] != '\t' && data[i] != '\r' && data[i] != '\n')
      return TRUE;
  return FALSE;
}

GBytes *
nfltr_inspect_decode_body (GBytes     *body,
                           const char *content_encoding,
                           gsize       cap,
                           gboolean   *decoded,
                           gboolean   *truncated)
{
  g_autoptr(GConverter) inflater = NULL;
  g_autoptr(GByteArray) out = NULL;
  const guint8 *in;
  gsize in_len, in_off = 0;

  *decoded = FALSE;
  if (content_encoding == NULL || (g_ascii_strcasecmp (content_encoding, "gzip") != 0 &&
                                   g_ascii_strcasecmp (content_encoding, "x-gzip") != 0))
    return g_bytes_ref (body);

  in = g_bytes_get_data (body, &in_len);
  inflater = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP));
  out = g_byte_array_new ();
  while (out->len < cap)
    {
      g_autoptr(GError) error = NULL;
      guint8 buf[16 * 1024];
      gsize read = 0, written = 0, take;
      GConverterResult r;

      r = g_converter_convert (inflater, in + in_off, in_len - in_off, buf, sizeof buf,
                               G_CONVERTER_INPUT_AT_END, &read, &written, &error);
      if (r == G_CONVERTER_ERROR)
        {
          /* A body cut at the cap ends in the middle of the stream: keep what decoded. */
          if (out->len == 0)
            return g_bytes_ref (body);
          *truncated = TRUE;
          break;
        }
      in_off += read;
      take = MIN (written, cap - out->len);
      g_byte_array_append (out, buf, take);
      if (take < written)
        *truncated = TRUE;
      if (r == G_CONVERTER_FINISHED)
        break;
      if (read == 0 && written == 0)
        break;
    }
  if (out->len >= cap && in_off < in_len)
    *truncated = TRUE;
  *decoded = TRUE;
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static GBytes *
finish_body (GByteArray **kept, const char *encoding, gsize cap, gboolean *binary,
             gboolean *decoded, gboolean *truncated)
{
  g_autoptr(GBytes) raw = NULL;
  GBytes *shown;
  gboolean was_decoded = FALSE;

  if (*kept == NULL)
    return NULL;
  raw = g_byte_array_free_to_bytes (g_steal_pointer (kept));
  if (g_bytes_get_size (raw) == 0)
    return g_steal_pointer (&raw);
  shown = nfltr_inspect_decode_body (raw, encoding, cap, &was_decoded, truncated);
  if (decoded != NULL)
    *decoded = was_decoded;
  *binary = nfltr_inspect_body_is_binary (g_bytes_get_data (shown, NULL), g_bytes_get_size (shown));
  return shown;
}

guint64
nfltr_inspect_record_finish (NfltrInspectRecord *rec, const char *error)
{
  NfltrInspectExchange *ex;
  guint64 id;

  if (rec == NULL)
    return 0;
  ex = rec->ex;
  ex->duration_us = g_get_monotonic_time () - rec->start_us;
  if (error != NULL)
    ex->error = g_strdup (error);
  /* The request body stays as it came: a replay sends it again with its own fields. */
  ex->req_body = finish_body (&rec->req_body, NULL, rec->cap, &ex->req_binary, NULL, &ex->req_truncated);
  ex->resp_body = finish_body (&rec->resp_body, nfltr_inspect_exchange_get_header (ex, TRUE, "content-encoding"),
                               rec->cap, &ex->resp_binary, &ex->resp_decoded, &ex->resp_truncated);
  id = nfltr_inspect_store_add (rec->store, ex);
  nfltr_inspect_record_free (rec);
  return id;
}
