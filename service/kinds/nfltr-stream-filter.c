/* nfltr-stream-filter.c — the client→backend filter interface of tunnel kinds */
#define G_LOG_DOMAIN "nfltr-kinds"

#include "nfltr-stream-filter.h"

G_DEFINE_INTERFACE (NfltrStreamFilter, nfltr_stream_filter, G_TYPE_OBJECT)

static void
nfltr_stream_filter_default_init (NfltrStreamFilterInterface *iface)
{
}

NfltrStreamFilterResult
nfltr_stream_filter_feed (NfltrStreamFilter *self,
                          const guint8      *data,
                          gsize              len,
                          GByteArray        *out)
{
  g_return_val_if_fail (NFLTR_IS_STREAM_FILTER (self), NFLTR_STREAM_FILTER_REFUSE);
  return NFLTR_STREAM_FILTER_GET_IFACE (self)->feed (self, data, len, out);
}

gboolean
nfltr_stream_filter_is_passthrough (NfltrStreamFilter *self)
{
  NfltrStreamFilterInterface *iface;

  g_return_val_if_fail (NFLTR_IS_STREAM_FILTER (self), FALSE);
  iface = NFLTR_STREAM_FILTER_GET_IFACE (self);
  return iface->is_passthrough != NULL && iface->is_passthrough (self);
}

gboolean
nfltr_stream_filter_has_forwarded (NfltrStreamFilter *self)
{
  NfltrStreamFilterInterface *iface;

  g_return_val_if_fail (NFLTR_IS_STREAM_FILTER (self), FALSE);
  iface = NFLTR_STREAM_FILTER_GET_IFACE (self);
  /* Unknown means "maybe": waiting for the backend is the safe side. */
  return iface->has_forwarded == NULL || iface->has_forwarded (self);
}

GBytes *
nfltr_stream_filter_get_refusal (NfltrStreamFilter *self)
{
  g_return_val_if_fail (NFLTR_IS_STREAM_FILTER (self), NULL);
  return NFLTR_STREAM_FILTER_GET_IFACE (self)->get_refusal (self);
}

void
nfltr_stream_filter_observe_response (NfltrStreamFilter *self,
                                      const guint8      *data,
                                      gsize              len)
{
  NfltrStreamFilterInterface *iface;

  g_return_if_fail (NFLTR_IS_STREAM_FILTER (self));
  iface = NFLTR_STREAM_FILTER_GET_IFACE (self);
  if (iface->observe_response != NULL)
    iface->observe_response (self, data, len);
}
