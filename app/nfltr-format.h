/* nfltr-format.h — turning service values into words for people. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *nfltr_format_error        (const GError *error);
char *nfltr_format_traffic      (guint         active,
                                 guint64       total,
                                 guint64       bytes_in,
                                 guint64       bytes_out);
/* A kind's display name from Manager.Kinds (kinds: its a(sss), may be NULL), through our
 * catalog; the kind's id when the service does not list it. */
char *nfltr_format_kind_label   (GVariant     *kinds,
                                 const char   *kind);
char *nfltr_format_target       (GVariant     *kinds,
                                 const char   *kind,
                                 const char   *target);
gboolean nfltr_validate_target  (const char   *text,
                                 char        **message);
gboolean nfltr_validate_name    (const char   *text,
                                 char        **message);

G_END_DECLS
