/* nfltr-http-filter.c — the request rewriter as the http kind's stream filter */
#define G_LOG_DOMAIN "nfltr-kinds"

#include "nfltr-http-filter.h"

#include "nfltr-http-rewrite.h"
#include "nfltr-inspect-h1.h" /* inspector (issue 9 §8) */

struct _NfltrHttpFilter {
  GObject parent_instance;
  NfltrHttpRewriter *rewriter;
  NfltrInspectH1 *inspect;  /* inspector (issue 9 §8): what the local server saw, or NULL */
};

static void filter_iface_init (NfltrStreamFilterInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrHttpFilter, nfltr_http_filter, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (NFLTR_TYPE_STREAM_FILTER, filter_iface_init))

static NfltrStreamFilterResult
http_filter_feed (NfltrStreamFilter *filter,
                  const guint8      *data,
                  gsize              len,
                  GByteArray        *out)
{
  NfltrHttpFilter *self = NFLTR_HTTP_FILTER (filter);
  guint before = out->len; /* inspector (issue 9 §8) */
  NfltrHttpRewriteResult result = nfltr_http_rewriter_feed (self->rewriter, data, len, out);

  if (self->inspect != NULL) /* inspector (issue 9 §8) */
    nfltr_inspect_h1_feed_request (self->inspect, out->data + before, out->len - before);
  if (result == NFLTR_HTTP_REWRITE_REJECT)
    return NFLTR_STREAM_FILTER_REFUSE;
  return NFLTR_STREAM_FILTER_CONTINUE;
}

static gboolean
http_filter_is_passthrough (NfltrStreamFilter *filter)
{
  return nfltr_http_rewriter_is_raw (NFLTR_HTTP_FILTER (filter)->rewriter);
}

static gboolean
http_filter_has_forwarded (NfltrStreamFilter *filter)
{
  return nfltr_http_rewriter_get_requests (NFLTR_HTTP_FILTER (filter)->rewriter) > 0;
}

static GBytes *
http_filter_get_refusal (NfltrStreamFilter *filter)
{
  return g_bytes_ref (nfltr_http_rewriter_get_response (NFLTR_HTTP_FILTER (filter)->rewriter));
}

static void
http_filter_observe_response (NfltrStreamFilter *filter,
                              const guint8      *data,
                              gsize              len)
{
  nfltr_http_rewriter_feed_response (NFLTR_HTTP_FILTER (filter)->rewriter, data, len);
  if (NFLTR_HTTP_FILTER (filter)->inspect != NULL) /* inspector (issue 9 §8) */
    nfltr_inspect_h1_feed_response (NFLTR_HTTP_FILTER (filter)->inspect, data, len);
}

static void
filter_iface_init (NfltrStreamFilterInterface *iface)
{
  iface->feed = http_filter_feed;
  iface->is_passthrough = http_filter_is_passthrough;
  iface->has_forwarded = http_filter_has_forwarded;
  iface->get_refusal = http_filter_get_refusal;
  iface->observe_response = http_filter_observe_response;
}

static void
nfltr_http_filter_finalize (GObject *object)
{
  NfltrHttpFilter *self = NFLTR_HTTP_FILTER (object);

  g_clear_pointer (&self->rewriter, nfltr_http_rewriter_free);
  g_clear_pointer (&self->inspect, nfltr_inspect_h1_free); /* inspector (issue 9 §8) */
  G_OBJECT_CLASS (nfltr_http_filter_parent_class)->finalize (object);
}

static void
nfltr_http_filter_class_init (NfltrHttpFilterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nfltr_http_filter_finalize;
}

static void
nfltr_http_filter_init (NfltrHttpFilter *self)
{
}

NfltrStreamFilter *
nfltr_http_filter_new (const char *public_host,
                       const char *client_ip)
{
  NfltrHttpFilter *self = g_object_new (NFLTR_TYPE_HTTP_FILTER, NULL);

  self->rewriter = nfltr_http_rewriter_new (public_host, client_ip);
  return NFLTR_STREAM_FILTER (self);
}

void
nfltr_http_filter_set_basic_auth (NfltrHttpFilter *self, const char *credentials)
{
  nfltr_http_rewriter_set_basic_auth (self->rewriter, credentials);
}

/* inspector (issue 9 §8) */
void
nfltr_http_filter_set_inspect (NfltrHttpFilter *self, NfltrInspectStore *store, const char *client)
{
  if (store != NULL)
    self->inspect = nfltr_inspect_h1_new (store, client);
}
