/* nfltr-clienthello.c — reads the SNI out of a TLS ClientHello (docs/protocol.md §2).
 *
 * Incremental: the reader is fed each new piece of the stream once, keeps where it is (record
 * header, handshake header, body so far) and copies the body into one buffer of its exact
 * size (never more than max_hello) as it arrives; when the message and the record ending it
 * are whole it reads the extensions. A hello cut into thousands of 1-byte records, each in
 * its own TCP segment, costs work linear in its bytes (issue 8 §3), not a re-walk of every
 * record on every segment. */
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

/* The reader's progress through the stream. Every input byte is looked at once: a record
 * header byte goes into rec_header, a body byte is copied once into body (or skipped when it
 * follows the message in its last record), so feeding a hello in N pieces costs O(total bytes)
 * however it is cut. */
struct _NfltrHelloReader {
  gsize            max_hello;
  NfltrHelloStatus status;        /* NEED_MORE until the verdict, then the verdict */
  GError          *error;         /* the verdict's, when not OK */
  char            *sni;           /* the verdict's, when OK */
  gsize            consumed;      /* the verdict's, when OK */
  gsize            offset;        /* stream bytes fed so far */
  guint8           rec_header[TLS_RECORD_HEADER];
  gsize            rec_have;      /* header bytes of the current record */
  gsize            rec_left;      /* body bytes of the current record still to come */
  guint            records;
  guint8           hs_header[TLS_HANDSHAKE_HEADER];
  gsize            hs_have;
  gsize            msg_len;       /* ClientHello body length, once hs_header is whole */
  guint8          *body;          /* msg_len bytes, allocated once the length is known */
  gsize            body_have;
  guint64          work;          /* bytes looked at or copied: for tests */
};

NfltrHelloReader *
nfltr_hello_reader_new (gsize max_hello)
{
  NfltrHelloReader *reader = g_new0 (NfltrHelloReader, 1);

  reader->max_hello = max_hello;
  reader->status = NFLTR_HELLO_NEED_MORE;
  return reader;
}

void
nfltr_hello_reader_free (NfltrHelloReader *reader)
{
  if (reader == NULL)
    return;
  g_clear_error (&reader->error);
  g_free (reader->sni);
  g_free (reader->body);
  g_free (reader);
}

guint64
nfltr_hello_reader_get_work (NfltrHelloReader *reader)
{
  return reader->work;
}

static NfltrHelloStatus reader_fail (NfltrHelloReader *reader, NfltrHelloStatus status, const char *format,
                                     ...) G_GNUC_PRINTF (3, 4);

static NfltrHelloStatus
reader_fail (NfltrHelloReader *reader, NfltrHelloStatus status, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  reader->error = g_error_new_valist (NFLTR_HELLO_ERROR, status, format, args);
  va_end (args);
  reader->status = status;
  return status;
}

/* One more byte of a record header: checks it as soon as it can be checked, so garbage fails
 * early; with the fifth, the record's length is known. */
static NfltrHelloStatus
reader_header_byte (NfltrHelloReader *reader, guint8 byte)
{
  reader->rec_header[reader->rec_have++] = byte;
  if (reader->rec_have == 1 && byte != TLS_CONTENT_HANDSHAKE)
    {
      if (reader->records == 0)
        return reader_fail (reader, NFLTR_HELLO_NOT_TLS,
                            "first byte 0x%02x is not a TLS handshake record", byte);
      return reader_fail (reader, NFLTR_HELLO_MALFORMED,
                          "TLS record of content type %u arrived before the ClientHello was complete",
                          byte);
    }
  if (reader->rec_have == 2 && byte != 3)
    return reader_fail (reader, NFLTR_HELLO_MALFORMED, "TLS record version major %u is not 3", byte);
  if (reader->rec_have == TLS_RECORD_HEADER)
    {
      gsize rec_len = ((gsize) reader->rec_header[3] << 8) | reader->rec_header[4];

      /* RFC 8446 §5.1: handshake fragments are never empty and at most 2^14 bytes. */
      if (rec_len == 0 || rec_len > NFLTR_TLS_MAX_RECORD)
        return reader_fail (reader, NFLTR_HELLO_MALFORMED,
                            "TLS record %u has length %" G_GSIZE_FORMAT " (must be 1–%d)",
                            reader->records, rec_len, NFLTR_TLS_MAX_RECORD);
      reader->records++;
      reader->rec_left = rec_len;
    }
  return NFLTR_HELLO_NEED_MORE;
}

/* One more byte of the handshake header (which may itself be split across records). */
static NfltrHelloStatus
reader_hs_header_byte (NfltrHelloReader *reader, guint8 byte)
{
  reader->hs_header[reader->hs_have++] = byte;
  if (reader->hs_have == 1 && byte != TLS_CLIENT_HELLO)
    return reader_fail (reader, NFLTR_HELLO_MALFORMED, "first handshake message has type %u, not ClientHello",
                        byte);
  if (reader->hs_have == TLS_HANDSHAKE_HEADER)
    {
      reader->msg_len =
        ((gsize) reader->hs_header[1] << 16) | ((gsize) reader->hs_header[2] << 8) | reader->hs_header[3];
      if (reader->msg_len + TLS_HANDSHAKE_HEADER > reader->max_hello)
        return reader_fail (reader, NFLTR_HELLO_TOO_BIG,
                            "ClientHello of %" G_GSIZE_FORMAT " bytes exceeds the %" G_GSIZE_FORMAT
                            "-byte limit",
                            reader->msg_len + TLS_HANDSHAKE_HEADER, reader->max_hello);
      reader->body = g_malloc (MAX (reader->msg_len, 1));
    }
  return NFLTR_HELLO_NEED_MORE;
}

/* Takes what it can of data[0..len): *used says how much. Returns the verdict, or NEED_MORE. */
static NfltrHelloStatus
reader_take (NfltrHelloReader *reader, const guint8 *data, gsize len, gsize *used)
{
  gsize pos = 0;

  while (pos < len)
    {
      gsize take;

      if (reader->rec_have < TLS_RECORD_HEADER)
        {
          reader->work++;
          if (reader_header_byte (reader, data[pos++]) != NFLTR_HELLO_NEED_MORE)
            break;
          continue;
        }
      if (reader->hs_have < TLS_HANDSHAKE_HEADER)
        {
          reader->work++;
          reader->rec_left--;
          if (reader_hs_header_byte (reader, data[pos++]) != NFLTR_HELLO_NEED_MORE)
            break;
        }
      else
        {
          /* Body bytes, or (once the body is whole) the rest of its last record: anything
           * after the message in that record is another message, not ours to read. */
          take = MIN (reader->rec_left, len - pos);
          if (reader->body_have < reader->msg_len)
            {
              take = MIN (take, reader->msg_len - reader->body_have);
              memcpy (reader->body + reader->body_have, data + pos, take);
              reader->body_have += take;
            }
          reader->work += take;
          reader->rec_left -= take;
          pos += take;
        }
      if (reader->rec_left == 0)
        {
          reader->rec_have = 0;
          if (reader->hs_have == TLS_HANDSHAKE_HEADER && reader->body_have == reader->msg_len)
            {
              g_autoptr(GError) error = NULL;

              /* The message and the record that ends it are whole. */
              reader->work += reader->msg_len;
              if (read_client_hello (reader->body, reader->msg_len, &reader->sni, &error) != NFLTR_HELLO_OK)
                {
                  reader->error = g_steal_pointer (&error);
                  reader->status = NFLTR_HELLO_MALFORMED;
                }
              else
                {
                  reader->status = NFLTR_HELLO_OK;
                  reader->consumed = reader->offset + pos;
                }
              break;
            }
        }
    }
  *used = pos;
  return reader->status;
}

NfltrHelloStatus
nfltr_hello_reader_feed (NfltrHelloReader *reader,
                         const guint8     *data,
                         gsize             len,
                         char            **sni,
                         gsize            *consumed,
                         GError          **error)
{
  g_return_val_if_fail (reader != NULL, NFLTR_HELLO_MALFORMED);
  g_return_val_if_fail (data != NULL || len == 0, NFLTR_HELLO_MALFORMED);
  if (sni != NULL)
    *sni = NULL;

  if (reader->status == NFLTR_HELLO_NEED_MORE)
    {
      gsize used = 0;

      reader_take (reader, data, len, &used);
      reader->offset += used;
    }
  if (reader->status == NFLTR_HELLO_OK)
    {
      if (sni != NULL)
        *sni = g_strdup (reader->sni);
      if (consumed != NULL)
        *consumed = reader->consumed;
    }
  else if (reader->status != NFLTR_HELLO_NEED_MORE && error != NULL)
    *error = g_error_copy (reader->error);
  return reader->status;
}

NfltrHelloStatus
nfltr_clienthello_parse (const guint8 *data,
                         gsize         len,
                         gsize         max_hello,
                         char        **sni,
                         gsize        *consumed,
                         GError      **error)
{
  g_autoptr(NfltrHelloReader) reader = nfltr_hello_reader_new (max_hello);

  g_return_val_if_fail (data != NULL || len == 0, NFLTR_HELLO_MALFORMED);
  return nfltr_hello_reader_feed (reader, data, len, sni, consumed, error);
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
