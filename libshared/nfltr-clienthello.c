/* nfltr-clienthello.c — reads the SNI out of a TLS ClientHello (docs/protocol.md §2).
 *
 * Two passes over what the client sent so far: first walk the TLS records (RFC 8446 §5.1) and
 * find out whether the whole ClientHello handshake message is there; only then gather its
 * body (in place when it sits in one record, else into one buffer of its exact size, never
 * more than max_hello) and read the extensions. The first pass touches 5 bytes per record,
 * so calling the parser again after every TCP segment stays cheap. */
#define G_LOG_DOMAIN "nfltr-clienthello"

#include "nfltr-clienthello.h"

#include <string.h>

G_DEFINE_QUARK (nfltr-hello-error-quark, nfltr_hello_error)

/* RFC 8446 §5.1 / §4 */
#define TLS_RECORD_HEADER      5
#define TLS_CONTENT_HANDSHAKE  22
#define TLS_CONTENT_ALERT      21
#define TLS_HANDSHAKE_HEADER   4
#define TLS_CLIENT_HELLO       1
/* RFC 6066 §3 */
#define TLS_EXT_SERVER_NAME    0
#define TLS_SNI_HOST_NAME      0
#define DNS_NAME_MAX           253

typedef struct {
  const guint8 *p;
  gsize         left;
} Reader;

static gboolean
read_u8 (Reader *r, guint *v)
{
  if (r->left < 1)
    return FALSE;
  *v = r->p[0];
  r->p++;
  r->left--;
  return TRUE;
}

static gboolean
read_u16 (Reader *r, guint *v)
{
  if (r->left < 2)
    return FALSE;
  *v = ((guint) r->p[0] << 8) | r->p[1];
  r->p += 2;
  r->left -= 2;
  return TRUE;
}

/* Takes a length-prefixed vector (prefix of `width` bytes) as a sub-reader. */
static gboolean
read_vector (Reader *r, guint width, Reader *sub)
{
  guint len;

  if (!(width == 1 ? read_u8 (r, &len) : read_u16 (r, &len)) || len > r->left)
    return FALSE;
  sub->p = r->p;
  sub->left = len;
  r->p += len;
  r->left -= len;
  return TRUE;
}

static gboolean
skip (Reader *r, gsize n)
{
  if (r->left < n)
    return FALSE;
  r->p += n;
  r->left -= n;
  return TRUE;
}

static NfltrHelloStatus
fail (GError **error, NfltrHelloStatus status, const char *format, ...) G_GNUC_PRINTF (3, 4);

static NfltrHelloStatus
fail (GError **error, NfltrHelloStatus status, const char *format, ...)
{
  va_list args;

  if (error != NULL)
    {
      va_start (args, format);
      *error = g_error_new_valist (NFLTR_HELLO_ERROR, status, format, args);
      va_end (args);
    }
  return status;
}

/* RFC 6066 §3: a host_name is a DNS name in ASCII, no trailing dot on the wire (we accept and
 * drop one, as the protocol page says). Letters, digits, '-', '_' and '.' only. */
static NfltrHelloStatus
take_host_name (const guint8 *name, gsize len, char **sni, GError **error)
{
  GString *out;

  if (len > 0 && name[len - 1] == '.')
    len--;
  if (len == 0 || len > DNS_NAME_MAX)
    return fail (error, NFLTR_HELLO_MALFORMED, "server_name host_name is %s",
                 len == 0 ? "empty" : "longer than 253 bytes");
  for (gsize i = 0; i < len; i++)
    {
      guint8 c = name[i];
      if (!g_ascii_isalnum (c) && c != '-' && c != '_' && c != '.')
        return fail (error, NFLTR_HELLO_MALFORMED,
                     "server_name host_name holds byte 0x%02x, not a DNS name character", c);
      if (c == '.' && (i == 0 || name[i - 1] == '.'))
        return fail (error, NFLTR_HELLO_MALFORMED, "server_name host_name has an empty label");
    }
  out = g_string_sized_new (len);
  for (gsize i = 0; i < len; i++)
    g_string_append_c (out, g_ascii_tolower (name[i]));
  if (sni != NULL)
    *sni = g_string_free (out, FALSE);
  else
    g_string_free (out, TRUE);
  return NFLTR_HELLO_OK;
}

/* RFC 6066 §3: ServerNameList server_name_list<1..2^16-1>; one entry per name_type. */
static NfltrHelloStatus
read_server_name (Reader ext, char **sni, GError **error)
{
  Reader list;
  gboolean have_host = FALSE;

  if (!read_vector (&ext, 2, &list) || ext.left != 0 || list.left == 0)
    return fail (error, NFLTR_HELLO_MALFORMED, "server_name extension has a bad list length");
  while (list.left > 0)
    {
      guint type;
      Reader name;

      if (!read_u8 (&list, &type) || !read_vector (&list, 2, &name))
        return fail (error, NFLTR_HELLO_MALFORMED, "server_name entry is truncated");
      if (type != TLS_SNI_HOST_NAME)
        continue;  /* no other name type is defined; its body has the same framing */
      if (have_host)
        return fail (error, NFLTR_HELLO_MALFORMED, "server_name lists two host names");
      have_host = TRUE;
      if (take_host_name (name.p, name.left, sni, error) != NFLTR_HELLO_OK)
        return NFLTR_HELLO_MALFORMED;
    }
  return NFLTR_HELLO_OK;
}

/* RFC 8446 §4.1.2 (and RFC 5246 §7.4.1.2, which has the same layout). */
static NfltrHelloStatus
read_client_hello (const guint8 *body, gsize len, char **sni, GError **error)
{
  Reader r = { body, len };
  Reader session_id, suites, compression, extensions;
  gboolean seen_sni = FALSE;
  g_autofree char *name = NULL;

  if (!skip (&r, 2 + 32))
    return fail (error, NFLTR_HELLO_MALFORMED, "ClientHello is too short for version and random");
  if (!read_vector (&r, 1, &session_id) || session_id.left > 32)
    return fail (error, NFLTR_HELLO_MALFORMED, "ClientHello has a bad legacy_session_id");
  if (!read_vector (&r, 2, &suites) || suites.left < 2 || suites.left % 2 != 0)
    return fail (error, NFLTR_HELLO_MALFORMED, "ClientHello has a bad cipher_suites list");
  if (!read_vector (&r, 1, &compression) || compression.left < 1)
    return fail (error, NFLTR_HELLO_MALFORMED, "ClientHello has a bad compression_methods list");
  if (r.left == 0)
    {
      /* TLS 1.2 and older may omit extensions entirely: then there is no SNI. */
      if (sni != NULL)
        *sni = NULL;
      return NFLTR_HELLO_OK;
    }
  if (!read_vector (&r, 2, &extensions) || r.left != 0)
    return fail (error, NFLTR_HELLO_MALFORMED,
                 "ClientHello extensions length does not match the message length");

  while (extensions.left > 0)
    {
      guint type;
      Reader ext;

      if (!read_u16 (&extensions, &type) || !read_vector (&extensions, 2, &ext))
        return fail (error, NFLTR_HELLO_MALFORMED, "ClientHello extension is truncated");
      if (type != TLS_EXT_SERVER_NAME)
        continue;
      /* RFC 8446 §4.2: an extension type appears at most once. */
      if (seen_sni)
        return fail (error, NFLTR_HELLO_MALFORMED, "ClientHello has two server_name extensions");
      seen_sni = TRUE;
      if (read_server_name (ext, &name, error) != NFLTR_HELLO_OK)
        return NFLTR_HELLO_MALFORMED;
    }

  if (sni != NULL)
    *sni = g_steal_pointer (&name);
  return NFLTR_HELLO_OK;
}

NfltrHelloStatus
nfltr_clienthello_parse (const guint8 *data,
                         gsize         len,
                         gsize         max_hello,
                         char        **sni,
                         gsize        *consumed,
                         GError      **error)
{
  guint8 header[TLS_HANDSHAKE_HEADER];
  gsize have_header = 0;   /* handshake header bytes seen so far */
  gsize msg_len = 0;       /* ClientHello body length, once the header is known */
  gsize have_body = 0;     /* body bytes available in complete-or-partial records */
  gsize pos = 0;
  gsize end_pos = 0;       /* end of the record holding the body's last byte */
  guint records = 0;
  g_autofree guint8 *assembled = NULL;
  const guint8 *body = NULL;

  g_return_val_if_fail (data != NULL || len == 0, NFLTR_HELLO_MALFORMED);
  if (sni != NULL)
    *sni = NULL;

  if (len == 0)
    return NFLTR_HELLO_NEED_MORE;
  if (data[0] != TLS_CONTENT_HANDSHAKE)
    return fail (error, NFLTR_HELLO_NOT_TLS,
                 "first byte 0x%02x is not a TLS handshake record", data[0]);

  /* Pass 1: walk the records until the handshake message is whole. */
  for (;;)
    {
      gsize rec_len, avail, want;
      const guint8 *frag;

      if (len - pos < TLS_RECORD_HEADER)
        {
          /* Check what we have of the next header so garbage fails early. */
          if (len - pos >= 1 && data[pos] != TLS_CONTENT_HANDSHAKE)
            goto bad_content_type;
          if (len - pos >= 2 && data[pos + 1] != 3)
            goto bad_version;
          return NFLTR_HELLO_NEED_MORE;
        }
      if (data[pos] != TLS_CONTENT_HANDSHAKE)
        goto bad_content_type;
      if (data[pos + 1] != 3)
        goto bad_version;
      rec_len = ((gsize) data[pos + 3] << 8) | data[pos + 4];
      /* RFC 8446 §5.1: handshake fragments are never empty and at most 2^14 bytes. */
      if (rec_len == 0 || rec_len > NFLTR_TLS_MAX_RECORD)
        return fail (error, NFLTR_HELLO_MALFORMED,
                     "TLS record %u has length %" G_GSIZE_FORMAT " (must be 1–%d)",
                     records, rec_len, NFLTR_TLS_MAX_RECORD);
      records++;
      frag = data + pos + TLS_RECORD_HEADER;
      avail = MIN (rec_len, len - pos - TLS_RECORD_HEADER);

      /* The handshake header may itself be split across records. */
      while (have_header < TLS_HANDSHAKE_HEADER && avail > 0)
        {
          header[have_header++] = *frag++;
          avail--;
          rec_len--;
          if (have_header == 1 && header[0] != TLS_CLIENT_HELLO)
            return fail (error, NFLTR_HELLO_MALFORMED,
                         "first handshake message has type %u, not ClientHello", header[0]);
          if (have_header == TLS_HANDSHAKE_HEADER)
            {
              msg_len = ((gsize) header[1] << 16) | ((gsize) header[2] << 8) | header[3];
              if (msg_len + TLS_HANDSHAKE_HEADER > max_hello)
                return fail (error, NFLTR_HELLO_TOO_BIG,
                             "ClientHello of %" G_GSIZE_FORMAT " bytes exceeds the %"
                             G_GSIZE_FORMAT "-byte limit",
                             msg_len + TLS_HANDSHAKE_HEADER, max_hello);
            }
        }
      if (have_header < TLS_HANDSHAKE_HEADER)
        {
          if (avail < rec_len)
            return NFLTR_HELLO_NEED_MORE;
          pos = frag + rec_len - data;
          continue;
        }

      want = msg_len - have_body;
      have_body += MIN (want, avail);
      if (have_body < msg_len)
        {
          if (avail < rec_len)
            return NFLTR_HELLO_NEED_MORE;  /* the record itself is still arriving */
          pos = frag + rec_len - data;
          continue;
        }
      /* The message ends in this record; we still need the whole record so that
       * `consumed` can point past it (anything after the message is another message). */
      if (avail < rec_len)
        return NFLTR_HELLO_NEED_MORE;
      end_pos = frag + rec_len - data;
      break;
    }

  /* Pass 2: gather the body. One record (the usual case) is read in place. */
  if (records == 1)
    body = data + TLS_RECORD_HEADER + TLS_HANDSHAKE_HEADER;
  else
    {
      gsize got = 0, skip_header = TLS_HANDSHAKE_HEADER;

      assembled = g_malloc (MAX (msg_len, 1));
      pos = 0;
      while (got < msg_len)
        {
          gsize rec_len = ((gsize) data[pos + 3] << 8) | data[pos + 4];
          const guint8 *frag = data + pos + TLS_RECORD_HEADER;
          gsize drop = MIN (skip_header, rec_len);
          gsize take = MIN (rec_len - drop, msg_len - got);

          skip_header -= drop;
          memcpy (assembled + got, frag + drop, take);
          got += take;
          pos += TLS_RECORD_HEADER + rec_len;
        }
      body = assembled;
    }

  if (read_client_hello (body, msg_len, sni, error) != NFLTR_HELLO_OK)
    return NFLTR_HELLO_MALFORMED;
  if (consumed != NULL)
    *consumed = end_pos;
  return NFLTR_HELLO_OK;

bad_content_type:
  if (pos == 0)
    return fail (error, NFLTR_HELLO_NOT_TLS, "first byte 0x%02x is not a TLS handshake record",
                 data[0]);
  return fail (error, NFLTR_HELLO_MALFORMED,
               "TLS record of content type %u arrived before the ClientHello was complete",
               data[pos]);
bad_version:
  return fail (error, NFLTR_HELLO_MALFORMED, "TLS record version major %u is not 3", data[pos + 1]);
}

void
nfltr_tls_alert_record (guint8 description, guint8 out[7])
{
  /* RFC 8446 §6: level fatal (2). Record version 0x0301 as in a ClientHello record, which
   * every client accepts before a version is negotiated. */
  out[0] = TLS_CONTENT_ALERT;
  out[1] = 3;
  out[2] = 1;
  out[3] = 0;
  out[4] = 2;
  out[5] = 2;
  out[6] = description;
}
