/* nfltr-stream-filter.h — a tunnel kind's filter on the client→backend bytes of one
 * connection (the http kind's request rewriter; tcp has none).
 *
 * A push interface: the data path's pump feeds it the decrypted client bytes as they arrive
 * and forwards what it appends to `out`, and shows it the backend's answers. A filter may refuse the stream: the pump then lets
 * the backend finish what was forwarded before, sends the filter's refusal to the client and
 * closes. One instance per connection, used by that connection's worker thread only. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  NFLTR_STREAM_FILTER_CONTINUE, /* everything fed so far was handled; feed more */
  NFLTR_STREAM_FILTER_REFUSE,   /* answer get_refusal() to the client and close */
} NfltrStreamFilterResult;

#define NFLTR_TYPE_STREAM_FILTER (nfltr_stream_filter_get_type ())
G_DECLARE_INTERFACE (NfltrStreamFilter, nfltr_stream_filter, NFLTR, STREAM_FILTER, GObject)

struct _NfltrStreamFilterInterface {
  GTypeInterface parent_iface;

  /* Appends the bytes to forward for data[0..len) to out. After REFUSE, every later call
   * returns REFUSE and appends nothing. */
  NfltrStreamFilterResult (*feed) (NfltrStreamFilter *self, const guint8 *data, gsize len, GByteArray *out);
  /* TRUE once the rest of the stream passes unchanged (once the backend accepted an HTTP
   * Upgrade): the pump may stop feeding. */
  gboolean (*is_passthrough) (NfltrStreamFilter *self);
  /* TRUE if anything was forwarded before a refusal, so the backend's answers to it come
   * first. */
  gboolean (*has_forwarded) (NfltrStreamFilter *self);
  /* After REFUSE: the complete answer for the client. */
  GBytes *(*get_refusal) (NfltrStreamFilter *self);
  /* Optional: the backend's bytes (backend→client), in order and unchanged, for a filter
   * whose decisions depend on the answers (the http kind goes pass-through only once the
   * backend answered 101 to an Upgrade). Called until is_passthrough() is TRUE. */
  void (*observe_response) (NfltrStreamFilter *self, const guint8 *data, gsize len);
};

NfltrStreamFilterResult nfltr_stream_filter_feed (NfltrStreamFilter *self, const guint8 *data, gsize len,
                                                  GByteArray *out);
gboolean nfltr_stream_filter_is_passthrough (NfltrStreamFilter *self);
gboolean nfltr_stream_filter_has_forwarded (NfltrStreamFilter *self);
GBytes *nfltr_stream_filter_get_refusal (NfltrStreamFilter *self);
void nfltr_stream_filter_observe_response (NfltrStreamFilter *self, const guint8 *data, gsize len);

G_END_DECLS
