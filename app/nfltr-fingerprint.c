/* nfltr-fingerprint.c — fingerprints for human eyes.
 *
 * "sha256:9f86d081…" becomes "9F86 D081 …" in four lines of four groups, the shape people compare
 * by eye (as GnuPG and Signal show them), and a QR code carries the URL and fingerprint to a phone. */
#define G_LOG_DOMAIN "nfltr-app"

#include <qrencode.h>

#include "nfltr-fingerprint.h"

#define QR_QUIET_ZONE 4 /* modules of white border, ISO/IEC 18004 §6.3.8 */

/* Issue 9 §6: one format everywhere — the CLI's, the relay's, the JSON's: "sha256:" and 64
 * lower-case hex digits. The label wraps it; copying gives exactly this text. */
char *
nfltr_fingerprint_format_display (const char *fingerprint)
{
  GString *out;
  const char *hex;

  if (fingerprint == NULL || *fingerprint == '\0')
    return g_strdup ("");
  hex = g_str_has_prefix (fingerprint, "sha256:") ? fingerprint + strlen ("sha256:") : fingerprint;
  out = g_string_new ("sha256:");
  for (const char *p = hex; *p; p++)
    if (g_ascii_isxdigit (*p))
      g_string_append_c (out, g_ascii_tolower (*p));
  return g_string_free (out, FALSE);
}

GdkTexture *
nfltr_fingerprint_qr_texture (const char *text,
                              guint       module_size)
{
  g_autoptr(GBytes) bytes = NULL;
  QRcode *qr;
  guint8 *pixels;
  gsize side, stride;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (module_size > 0, NULL);

  qr = QRcode_encodeString8bit (text, 0, QR_ECLEVEL_M);
  if (qr == NULL)
    return NULL;

  side = (qr->width + 2 * QR_QUIET_ZONE) * module_size;
  stride = side * 3;
  pixels = g_malloc (stride * side);
  memset (pixels, 0xff, stride * side);

  for (int y = 0; y < qr->width; y++)
    for (int x = 0; x < qr->width; x++)
      {
        /* bit 0 of each byte is the module's colour: 1 = dark */
        if ((qr->data[y * qr->width + x] & 1) == 0)
          continue;
        for (guint dy = 0; dy < module_size; dy++)
          {
            gsize row = ((y + QR_QUIET_ZONE) * module_size + dy) * stride;
            memset (pixels + row + (x + QR_QUIET_ZONE) * module_size * 3, 0, module_size * 3);
          }
      }
  QRcode_free (qr);

  bytes = g_bytes_new_take (pixels, stride * side);
  return gdk_memory_texture_new ((int) side, (int) side, GDK_MEMORY_R8G8B8, bytes, stride);
}
