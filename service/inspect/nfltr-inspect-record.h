/* nfltr-inspect-record.h — how the http kind's two paths hand one exchange to the inspector.
 *
 * One NfltrInspectRecord per request, owned by the thread of the connection it came on; every
 * function accepts NULL and then does nothing, so a hook in the http kind is one line whether
 * or not the tunnel is inspected. Bodies are kept up to the store's cap (0: not kept, but
 * counted); nfltr_inspect_record_finish() decodes a gzip body, flags binary ones and hands
 * the exchange to the store. */
#pragma once

#include "nfltr-inspect-store.h"

G_BEGIN_DECLS

typedef struct _NfltrInspectRecord NfltrInspectRecord;

/* NULL when store is NULL. http_version: "1.1" or "2". */
NfltrInspectRecord *nfltr_inspect_record_new        (NfltrInspectStore *store,
                                                     const char        *http_version,
                                                     const char        *client);
/* A request field. HTTP/2 pseudo-fields set the method (:method), path (:path) and host
 * (:authority); the others are recorded as they are. */
void nfltr_inspect_record_request_header  (NfltrInspectRecord *rec,
                                           const char         *name,
                                           gsize               name_len,
                                           const char         *value,
                                           gsize               value_len);
void nfltr_inspect_record_request_line    (NfltrInspectRecord *rec,
                                           const char         *method,
                                           const char         *path);
void nfltr_inspect_record_request_body    (NfltrInspectRecord *rec,
                                           const guint8       *data,
                                           gsize               len);
/* A response field; :status sets the status. */
void nfltr_inspect_record_response_header (NfltrInspectRecord *rec,
                                           const char         *name,
                                           gsize               name_len,
                                           const char         *value,
                                           gsize               value_len);
void nfltr_inspect_record_response_status (NfltrInspectRecord *rec,
                                           guint               status);
void nfltr_inspect_record_response_body   (NfltrInspectRecord *rec,
                                           const guint8       *data,
                                           gsize               len);
/* This exchange re-sent exchange `id` (it goes to the local server, not through the relay). */
void nfltr_inspect_record_set_replay_of   (NfltrInspectRecord *rec,
                                           guint64             id);
/* Stores the exchange and frees rec. error: why it ended without a whole response, or NULL.
 * Returns the new exchange's id (0 when rec is NULL). */
guint64 nfltr_inspect_record_finish       (NfltrInspectRecord *rec,
                                           const char         *error);
void nfltr_inspect_record_free            (NfltrInspectRecord *rec);

/* The body as shown: the gzip-decoded content when content_encoding says gzip and it decodes
 * (at most `cap` bytes out; *decoded says whether it did), else the bytes as they came. */
GBytes  *nfltr_inspect_decode_body        (GBytes     *body,
                                           const char *content_encoding,
                                           gsize       cap,
                                           gboolean   *decoded,
                                           gboolean   *truncated);
/* TRUE when data is not text a page can show as it is (not UTF-8, or control characters
 * other than tab, CR and LF). */
gboolean nfltr_inspect_body_is_binary     (const guint8 *data,
                                           gsize         len);

G_END_DECLS
