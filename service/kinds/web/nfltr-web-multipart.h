/* nfltr-web-multipart.h — multipart/form-data (RFC 7578 on RFC 2046 §5.1), parsed as the body
 * arrives so a file upload never sits in memory. Outside input: fuzz/fuzz-web-multipart.c. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _NfltrWebMultipart NfltrWebMultipart;

typedef struct {
  /* A part starts: its form field name and its file name (NULL when not a file), as sent
   * (the caller checks a file name before it uses it). */
  gboolean (*part_begin) (const char *name, const char *filename, gpointer user_data, GError **error);
  gboolean (*part_data)  (const guint8 *data, gsize len, gpointer user_data, GError **error);
  gboolean (*part_end)   (gpointer user_data, GError **error);
} NfltrWebMultipartCallbacks;

/* NULL (G_IO_ERROR_INVALID_DATA) when boundary is not 1–70 characters (RFC 2046 §5.1.1). */
NfltrWebMultipart *nfltr_web_multipart_new    (const char                       *boundary,
                                               const NfltrWebMultipartCallbacks *callbacks,
                                               gpointer                          user_data,
                                               GError                          **error);
/* FALSE when the body is malformed or a callback failed; the parser then takes no more. */
gboolean           nfltr_web_multipart_feed   (NfltrWebMultipart                *mp,
                                               const guint8                     *data,
                                               gsize                             len,
                                               GError                          **error);
/* At the end of the body: FALSE unless the closing delimiter was seen. */
gboolean           nfltr_web_multipart_finish (NfltrWebMultipart                *mp,
                                               GError                          **error);
void               nfltr_web_multipart_free   (NfltrWebMultipart                *mp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrWebMultipart, nfltr_web_multipart_free)

G_END_DECLS
