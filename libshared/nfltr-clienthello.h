/* nfltr-clienthello.h — reads the SNI out of a TLS ClientHello, and nothing else.
 *
 * The input is the raw byte stream a client sends (TLS records, RFC 8446 §5.1). The
 * ClientHello handshake message may be fragmented across any number of records and TCP
 * segments; the reader reassembles it and answers NEED_MORE until it is whole. It never reads
 * past the record that ends the ClientHello, never allocates more than max_hello for it, and
 * its work is linear in the bytes fed, however they are cut (docs/protocol.md §2). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  NFLTR_HELLO_NEED_MORE,   /* a prefix of a valid ClientHello; read more bytes */
  NFLTR_HELLO_OK,          /* complete; *sni set (NULL when the hello has no server_name) */
  NFLTR_HELLO_NOT_TLS,     /* the first record is not a TLS handshake record */
  NFLTR_HELLO_MALFORMED,   /* bad record/handshake/extension framing, or not a ClientHello */
  NFLTR_HELLO_TOO_BIG,     /* the ClientHello message is longer than max_hello */
} NfltrHelloStatus;

/* RFC 8446 §5.1: a TLS plaintext record carries at most 2^14 bytes. */
#define NFLTR_TLS_MAX_RECORD 16384
/* docs/protocol.md §2 default for --hello-max-bytes: room for post-quantum key shares
 * (an ML-KEM-768 hybrid share alone is 1,216 bytes) and a hello spread over several records. */
#define NFLTR_HELLO_DEFAULT_MAX 65536

typedef struct _NfltrHelloReader NfltrHelloReader;

/* A reader for one connection's stream; max_hello bounds the ClientHello message with its
 * 4-byte handshake header. */
NfltrHelloReader *nfltr_hello_reader_new      (gsize             max_hello);
void              nfltr_hello_reader_free     (NfltrHelloReader *reader);
/* Feeds the next len bytes of the stream (only the new ones). Answers as
 * nfltr_clienthello_parse does for everything fed so far; once it has answered something other
 * than NEED_MORE, it keeps that answer and ignores further bytes. */
NfltrHelloStatus  nfltr_hello_reader_feed     (NfltrHelloReader *reader,
                                               const guint8     *data,
                                               gsize             len,
                                               char            **sni,
                                               gsize            *consumed,
                                               GError          **error);
/* Bytes looked at or copied so far, each counted where it was touched: what a test measures
 * to show the reader is linear. */
guint64           nfltr_hello_reader_get_work (NfltrHelloReader *reader);

/* Parses data[0..len) in one go (a reader fed once). On OK, *sni is a newly allocated lower-case host name with any
 * trailing dot removed, or NULL when absent; *consumed (optional) is the number of bytes
 * up to the end of the record holding the ClientHello's last byte. On MALFORMED/TOO_BIG/
 * NOT_TLS, error (domain NFLTR_HELLO_ERROR, code = the returned status) says what was wrong.
 * Since every record carries at least one byte of the message, a caller never needs to feed
 * more than 6 * max_hello + 5 bytes before the reader answers something other than NEED_MORE. */
NfltrHelloStatus nfltr_clienthello_parse (const guint8 *data,
                                          gsize         len,
                                          gsize         max_hello,
                                          char        **sni,
                                          gsize        *consumed,
                                          GError      **error);

#define NFLTR_HELLO_ERROR (nfltr_hello_error_quark ())
GQuark nfltr_hello_error_quark (void);

/* TLS alert descriptions we send (RFC 8446 §6) */
#define NFLTR_TLS_ALERT_DECODE_ERROR      50
#define NFLTR_TLS_ALERT_UNRECOGNIZED_NAME 112
#define NFLTR_TLS_ALERT_INTERNAL_ERROR    80

/* Writes a 7-byte fatal alert record into out. */
void nfltr_tls_alert_record (guint8 description, guint8 out[7]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrHelloReader, nfltr_hello_reader_free)

G_END_DECLS
