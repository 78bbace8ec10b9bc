/* nfltr-fingerprint.h — fingerprints for human eyes: grouped hex and a QR code. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

char       *nfltr_fingerprint_format_groups (const char *fingerprint);
GdkTexture *nfltr_fingerprint_qr_texture    (const char *text,
                                             guint       module_size);

G_END_DECLS
