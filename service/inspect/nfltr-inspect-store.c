/* nfltr-inspect-store.c — the bounded ring of recorded exchanges (see the header) */
#define G_LOG_DOMAIN "nfltr-inspect"

#include "nfltr-inspect-store.h"

#include <string.h>

/* What one exchange costs besides its strings and bodies, for the byte bound. */
#define EXCHANGE_OVERHEAD 256

struct _NfltrInspectStore {
  GObject parent_instance;

  GMutex lock;
  GQueue ring;          /* NfltrInspectExchange, oldest at the head */
  guint max_count;
  gsize max_bytes;
  gsize bytes;
  gsize body_cap;
  guint64 next_id;
  GMainContext *context; /* where "exchange-added" is emitted */
  GPtrArray *to_announce; /* added, not yet signalled */
  gboolean announce_scheduled;
};

G_DEFINE_FINAL_TYPE (NfltrInspectStore, nfltr_inspect_store, G_TYPE_OBJECT)

enum {
  SIGNAL_EXCHANGE_ADDED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

/* --- exchanges ------------------------------------------------------------------------- */

static void
header_free (gpointer data)
{
  NfltrInspectHeader *h = data;

  g_free (h->name);
  g_free (h->value);
  g_free (h);
}

NfltrInspectExchange *
nfltr_inspect_exchange_new (void)
{
  NfltrInspectExchange *ex = g_new0 (NfltrInspectExchange, 1);

  ex->ref_count = 1;
  ex->req_headers = g_ptr_array_new_with_free_func (header_free);
  ex->resp_headers = g_ptr_array_new_with_free_func (header_free);
  return ex;
}

NfltrInspectExchange *
nfltr_inspect_exchange_ref (NfltrInspectExchange *ex)
{
  g_atomic_int_inc (&ex->ref_count);
  return ex;
}

void
nfltr_inspect_exchange_unref (NfltrInspectExchange *ex)
{
  if (ex == NULL || !g_atomic_int_dec_and_test (&ex->ref_count))
    return;
  g_free (ex->http_version);
  g_free (ex->method);
  g_free (ex->path);
  g_free (ex->host);
  g_free (ex->client);
  g_free (ex->error);
  g_ptr_array_unref (ex->req_headers);
  g_ptr_array_unref (ex->resp_headers);
  g_clear_pointer (&ex->req_body, g_bytes_unref);
  g_clear_pointer (&ex->resp_body, g_bytes_unref);
  g_free (ex);
}

const char *
nfltr_inspect_exchange_get_header (const NfltrInspectExchange *ex, gboolean response, const char *name)
{
  GPtrArray *headers = response ? ex->resp_headers : ex->req_headers;

  for (guint i = 0; i < headers->len; i++)
    {
      NfltrInspectHeader *h = g_ptr_array_index (headers, i);

      if (g_ascii_strcasecmp (h->name, name) == 0)
        return h->value;
    }
  return NULL;
}

static gsize
headers_size (GPtrArray *headers)
{
  gsize n = 0;

  for (guint i = 0; i < headers->len; i++)
    {
      NfltrInspectHeader *h = g_ptr_array_index (headers, i);

      n += strlen (h->name) + strlen (h->value) + 2 * sizeof (char *);
    }
  return n;
}

static gsize
exchange_size (const NfltrInspectExchange *ex)
{
  return EXCHANGE_OVERHEAD + headers_size (ex->req_headers) + headers_size (ex->resp_headers) +
         (ex->method ? strlen (ex->method) : 0) + (ex->path ? strlen (ex->path) : 0) +
         (ex->host ? strlen (ex->host) : 0) + (ex->error ? strlen (ex->error) : 0) +
         (ex->req_body ? g_bytes_get_size (ex->req_body) : 0) +
         (ex->resp_body ? g_bytes_get_size (ex->resp_body) : 0);
}

static void
add_headers_json (JsonBuilder *b, const char *member, GPtrArray *headers)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < headers->len; i++)
    {
      NfltrInspectHeader *h = g_ptr_array_index (headers, i);

      json_builder_begin_array (b);
      json_builder_add_string_value (b, h->name);
      json_builder_add_string_value (b, h->value);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
}

/* A body as the page shows it: text when it is UTF-8, else base64 for the hex view. */
static void
add_body_json (JsonBuilder *b, const char *member, GBytes *body, gboolean binary)
{
  gsize len;
  const char *data;

  json_builder_set_member_name (b, member);
  if (body == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  data = g_bytes_get_data (body, &len);
  json_builder_begin_object (b);
  if (binary)
    {
      g_autofree char *b64 = g_base64_encode ((const guchar *) data, len);

      json_builder_set_member_name (b, "base64");
      json_builder_add_string_value (b, b64);
    }
  else
    {
      g_autofree char *text = g_strndup (data, len);

      json_builder_set_member_name (b, "text");
      json_builder_add_string_value (b, text);
    }
  json_builder_end_object (b);
}

JsonNode *
nfltr_inspect_exchange_to_json (const NfltrInspectExchange *ex, gboolean full)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, (gint64) ex->id);
  json_builder_set_member_name (b, "time");
  json_builder_add_double_value (b, ex->time_us / (double) G_USEC_PER_SEC);
  json_builder_set_member_name (b, "duration_ms");
  json_builder_add_double_value (b, ex->duration_us / 1000.0);
  json_builder_set_member_name (b, "http_version");
  json_builder_add_string_value (b, ex->http_version ? ex->http_version : "1.1");
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, ex->method ? ex->method : "");
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, ex->path ? ex->path : "");
  json_builder_set_member_name (b, "host");
  json_builder_add_string_value (b, ex->host ? ex->host : "");
  json_builder_set_member_name (b, "status");
  json_builder_add_int_value (b, ex->status);
  json_builder_set_member_name (b, "request_size");
  json_builder_add_int_value (b, (gint64) ex->req_size);
  json_builder_set_member_name (b, "response_size");
  json_builder_add_int_value (b, (gint64) ex->resp_size);
  json_builder_set_member_name (b, "content_type");
  json_builder_add_string_value (b, nfltr_inspect_exchange_get_header (ex, TRUE, "content-type") ?: "");
  if (ex->replay_of != 0)
    {
      json_builder_set_member_name (b, "replay_of");
      json_builder_add_int_value (b, (gint64) ex->replay_of);
    }
  if (ex->error != NULL)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, ex->error);
    }
  if (full)
    {
      json_builder_set_member_name (b, "client");
      json_builder_add_string_value (b, ex->client ? ex->client : "");
      add_headers_json (b, "request_headers", ex->req_headers);
      add_headers_json (b, "response_headers", ex->resp_headers);
      add_body_json (b, "request_body", ex->req_body, ex->req_binary);
      add_body_json (b, "response_body", ex->resp_body, ex->resp_binary);
      json_builder_set_member_name (b, "request_truncated");
      json_builder_add_boolean_value (b, ex->req_truncated);
      json_builder_set_member_name (b, "response_truncated");
      json_builder_add_boolean_value (b, ex->resp_truncated);
      json_builder_set_member_name (b, "request_binary");
      json_builder_add_boolean_value (b, ex->req_binary);
      json_builder_set_member_name (b, "response_binary");
      json_builder_add_boolean_value (b, ex->resp_binary);
      json_builder_set_member_name (b, "response_decoded");
      json_builder_add_boolean_value (b, ex->resp_decoded);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* --- the store ------------------------------------------------------------------------- */

NfltrInspectStore *
nfltr_inspect_store_new (guint max_count, gsize max_bytes, gsize body_cap)
{
  NfltrInspectStore *self = g_object_new (NFLTR_TYPE_INSPECT_STORE, NULL);

  self->max_count = MAX (max_count, 1);
  self->max_bytes = max_bytes;
  self->body_cap = body_cap;
  return self;
}

gsize
nfltr_inspect_store_get_body_cap (NfltrInspectStore *self)
{
  return self->body_cap;
}

/* New exchanges are announced in batches from one idle source: under load the data path adds
 * thousands a second, and the main loop should not see a source for each. */
static gboolean
announce_cb (gpointer user_data)
{
  NfltrInspectStore *self = user_data;
  g_autoptr(GPtrArray) batch = NULL;

  g_mutex_lock (&self->lock);
  batch = g_steal_pointer (&self->to_announce);
  self->to_announce = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_inspect_exchange_unref);
  self->announce_scheduled = FALSE;
  g_mutex_unlock (&self->lock);
  for (guint i = 0; i < batch->len; i++)
    g_signal_emit (self, signals[SIGNAL_EXCHANGE_ADDED], 0, g_ptr_array_index (batch, i));
  return G_SOURCE_REMOVE;
}

guint64
nfltr_inspect_store_add (NfltrInspectStore *self, NfltrInspectExchange *ex)
{
  gsize size = exchange_size (ex);
  gboolean schedule;
  guint64 id;

  g_mutex_lock (&self->lock);
  /* A single exchange above the whole byte bound keeps its metadata, not its bodies. */
  if (size > self->max_bytes)
    {
      g_clear_pointer (&ex->req_body, g_bytes_unref);
      g_clear_pointer (&ex->resp_body, g_bytes_unref);
      ex->req_truncated = ex->req_size > 0;
      ex->resp_truncated = ex->resp_size > 0;
      size = exchange_size (ex);
    }
  while (self->ring.length > 0 &&
         (self->ring.length >= self->max_count || self->bytes + size > self->max_bytes))
    {
      NfltrInspectExchange *old = g_queue_pop_head (&self->ring);

      self->bytes -= exchange_size (old);
      nfltr_inspect_exchange_unref (old);
    }
  id = ex->id = ++self->next_id;
  g_queue_push_tail (&self->ring, nfltr_inspect_exchange_ref (ex));
  self->bytes += size;
  /* Announcements are bounded like the ring: a stalled main loop hears of the newest. */
  if (self->to_announce->len >= self->max_count)
    g_ptr_array_remove_index (self->to_announce, 0);
  g_ptr_array_add (self->to_announce, nfltr_inspect_exchange_ref (ex));
  schedule = !self->announce_scheduled;
  self->announce_scheduled = TRUE;
  g_mutex_unlock (&self->lock);

  /* Always from an idle source, even on the main thread: a listener may read the store, and
   * the caller may be in the middle of something (the replay's completion). */
  if (schedule)
    {
      g_autoptr(GSource) source = g_idle_source_new ();

      g_source_set_callback (source, announce_cb, g_object_ref (self), g_object_unref);
      g_source_set_static_name (source, "[nfltr] inspector exchanges");
      g_source_attach (source, self->context);
    }
  return id;
}

GPtrArray *
nfltr_inspect_store_list (NfltrInspectStore *self, guint64 since)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_inspect_exchange_unref);

  for (GList *l = self->ring.head; l != NULL; l = l->next)
    {
      NfltrInspectExchange *ex = l->data;

      if (ex->id > since)
        g_ptr_array_add (list, nfltr_inspect_exchange_ref (ex));
    }
  return list;
}

NfltrInspectExchange *
nfltr_inspect_store_get (NfltrInspectStore *self, guint64 id)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  for (GList *l = self->ring.tail; l != NULL; l = l->prev)
    {
      NfltrInspectExchange *ex = l->data;

      if (ex->id == id)
        return nfltr_inspect_exchange_ref (ex);
    }
  return NULL;
}

guint
nfltr_inspect_store_get_count (NfltrInspectStore *self)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  return self->ring.length;
}

gsize
nfltr_inspect_store_get_bytes (NfltrInspectStore *self)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  return self->bytes;
}

char *
nfltr_inspect_store_list_json (NfltrInspectStore *self, guint64 since)
{
  g_autoptr(GPtrArray) list = nfltr_inspect_store_list (self, since);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "exchanges");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    json_builder_add_value (b, nfltr_inspect_exchange_to_json (g_ptr_array_index (list, i), FALSE));
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* --- HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) --------------------------- */

static void
har_headers (JsonBuilder *b, GPtrArray *headers)
{
  json_builder_set_member_name (b, "headers");
  json_builder_begin_array (b);
  for (guint i = 0; i < headers->len; i++)
    {
      NfltrInspectHeader *h = g_ptr_array_index (headers, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, h->name);
      json_builder_set_member_name (b, "value");
      json_builder_add_string_value (b, h->value);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
har_text (JsonBuilder *b, GBytes *body, gboolean binary)
{
  gsize len;
  const char *data;

  if (body == NULL)
    return;
  data = g_bytes_get_data (body, &len);
  json_builder_set_member_name (b, "text");
  if (binary)
    {
      g_autofree char *b64 = g_base64_encode ((const guchar *) data, len);

      json_builder_add_string_value (b, b64);
      json_builder_set_member_name (b, "encoding");
      json_builder_add_string_value (b, "base64");
    }
  else
    {
      g_autofree char *text = g_strndup (data, len);

      json_builder_add_string_value (b, text);
    }
}

static void
har_entry (JsonBuilder *b, const NfltrInspectExchange *ex)
{
  g_autoptr(GDateTime) second = g_date_time_new_from_unix_utc (ex->time_us / G_USEC_PER_SEC);
  g_autoptr(GDateTime) when = g_date_time_add (second, ex->time_us % G_USEC_PER_SEC);
  g_autofree char *started = g_date_time_format_iso8601 (when);
  g_autofree char *url = g_strdup_printf ("https://%s%s", ex->host ? ex->host : "", ex->path ? ex->path : "");
  g_autofree char *version = g_strdup_printf ("HTTP/%s", ex->http_version ? ex->http_version : "1.1");
  const char *ctype = nfltr_inspect_exchange_get_header (ex, TRUE, "content-type");
  const char *req_ctype = nfltr_inspect_exchange_get_header (ex, FALSE, "content-type");

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "startedDateTime");
  json_builder_add_string_value (b, started);
  json_builder_set_member_name (b, "time");
  json_builder_add_double_value (b, ex->duration_us / 1000.0);

  json_builder_set_member_name (b, "request");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, ex->method ? ex->method : "");
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, url);
  json_builder_set_member_name (b, "httpVersion");
  json_builder_add_string_value (b, version);
  json_builder_set_member_name (b, "cookies");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  har_headers (b, ex->req_headers);
  json_builder_set_member_name (b, "queryString");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  if (ex->req_body != NULL)
    {
      json_builder_set_member_name (b, "postData");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "mimeType");
      json_builder_add_string_value (b, req_ctype ? req_ctype : "");
      har_text (b, ex->req_body, ex->req_binary);
      json_builder_end_object (b);
    }
  json_builder_set_member_name (b, "headersSize");
  json_builder_add_int_value (b, -1);
  json_builder_set_member_name (b, "bodySize");
  json_builder_add_int_value (b, (gint64) ex->req_size);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "response");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_int_value (b, ex->status);
  json_builder_set_member_name (b, "statusText");
  json_builder_add_string_value (b, "");
  json_builder_set_member_name (b, "httpVersion");
  json_builder_add_string_value (b, version);
  json_builder_set_member_name (b, "cookies");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  har_headers (b, ex->resp_headers);
  json_builder_set_member_name (b, "content");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, (gint64) ex->resp_size);
  json_builder_set_member_name (b, "mimeType");
  json_builder_add_string_value (b, ctype ? ctype : "");
  har_text (b, ex->resp_body, ex->resp_binary);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "redirectURL");
  json_builder_add_string_value (b, nfltr_inspect_exchange_get_header (ex, TRUE, "location") ?: "");
  json_builder_set_member_name (b, "headersSize");
  json_builder_add_int_value (b, -1);
  json_builder_set_member_name (b, "bodySize");
  json_builder_add_int_value (b, (gint64) ex->resp_size);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "cache");
  json_builder_begin_object (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "timings");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "send");
  json_builder_add_int_value (b, 0);
  json_builder_set_member_name (b, "wait");
  json_builder_add_double_value (b, ex->duration_us / 1000.0);
  json_builder_set_member_name (b, "receive");
  json_builder_add_int_value (b, 0);
  json_builder_end_object (b);
  json_builder_end_object (b);
}

char *
nfltr_inspect_store_to_har (NfltrInspectStore *self)
{
  g_autoptr(GPtrArray) list = nfltr_inspect_store_list (self, 0);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "log");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, "1.2");
  json_builder_set_member_name (b, "creator");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, "nfltr");
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, PACKAGE_VERSION);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "entries");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    har_entry (b, g_ptr_array_index (list, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

static void
nfltr_inspect_store_finalize (GObject *object)
{
  NfltrInspectStore *self = NFLTR_INSPECT_STORE (object);

  g_queue_clear_full (&self->ring, (GDestroyNotify) nfltr_inspect_exchange_unref);
  g_ptr_array_unref (self->to_announce);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (nfltr_inspect_store_parent_class)->finalize (object);
}

static void
nfltr_inspect_store_class_init (NfltrInspectStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nfltr_inspect_store_finalize;

  /* (NfltrInspectExchange *exchange): a new exchange is in the ring. Main context. */
  signals[SIGNAL_EXCHANGE_ADDED] =
    g_signal_new ("exchange-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
nfltr_inspect_store_init (NfltrInspectStore *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->ring);
  self->max_count = NFLTR_INSPECT_DEFAULT_COUNT;
  self->max_bytes = NFLTR_INSPECT_DEFAULT_BYTES;
  self->context = g_main_context_ref_thread_default ();
  self->to_announce = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_inspect_exchange_unref);
}
