/* nfltr-call-sdp.c — the DTLS fingerprints of a call (RFC 8122): the one an SDP announces,
 * the one of a certificate, and a tampering hook for the tests. Pure helpers on GstSDP. */
#define G_LOG_DOMAIN "nfltr-call"

#include "nfltr-call-media-private.h"

#include <gio/gio.h>
#include <gst/sdp/sdp.h>
#include <string.h>

/* The sha-256 fingerprint (RFC 8122 §5) of the first media section, or the session's. */
char *
nfltr_call_sdp_fingerprint (const GstSDPMessage *sdp)
{
  const char *value = NULL;

  for (guint i = 0; value == NULL && i < gst_sdp_message_medias_len (sdp); i++)
    value = gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (sdp, i), "fingerprint");
  if (value == NULL)
    value = gst_sdp_message_get_attribute_val (sdp, "fingerprint");
  if (value == NULL || g_ascii_strncasecmp (value, "sha-256 ", 8) != 0)
    return NULL;
  return g_ascii_strup (value + 8, -1);
}

/* Tests: flip one hex digit of every fingerprint, as an attacker on the signalling would. */
void
nfltr_call_tamper_fingerprints (GstSDPMessage *sdp)
{
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (sdp, i);

      for (guint a = 0; a < gst_sdp_media_attributes_len (media); a++)
        {
          const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, a);

          if (g_str_equal (attr->key, "fingerprint") && attr->value != NULL && strlen (attr->value) > 9)
            {
              g_autofree char *value = g_strdup (attr->value);
              GstSDPAttribute replaced;

              value[8] = value[8] == 'A' ? 'B' : 'A';
              gst_sdp_attribute_set (&replaced, "fingerprint", value);
              gst_sdp_media_replace_attribute (media, a, &replaced);
            }
        }
    }
}

char *
nfltr_call_certificate_fingerprint (const char *pem)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) cert = g_tls_certificate_new_from_pem (pem, -1, &error);
  g_autoptr(GByteArray) der = NULL;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;
  GString *out = g_string_new (NULL);

  if (cert == NULL)
    return g_string_free (out, TRUE), NULL;
  g_object_get (cert, "certificate", &der, NULL);
  g_checksum_update (sum, der->data, der->len);
  g_checksum_get_digest (sum, digest, &len);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (out, i ? ":%02X" : "%02X", digest[i]);
  return g_string_free (out, FALSE);
}
