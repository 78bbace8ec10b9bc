/* nfltr-fingerprint.h — fingerprints for human eyes: the one canonical text, and QR codes. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

char       *nfltr_fingerprint_format_display (const char *fingerprint);
GdkTexture *nfltr_fingerprint_qr_texture    (const char *text,
                                             guint       module_size);

G_END_DECLS
