/* nfltr-data-conn-private.h — one data connection, shared by the files that run it:
 * nfltr-data-conn.c (set-up and teardown), nfltr-data-conn-io.c (the TLS record queue),
 * nfltr-data-conn-pump.c (the two-way copy). */
#pragma once

#include "nfltr-tunnels-private.h"

#include "nfltr-proto.h"

G_BEGIN_DECLS

/* Client→local gathers up to four TLS records per write() to the local server;
 * local→client reads big chunks so a bulk download costs one recv() and one send() per
 * sixteen records. Allocated once per connection, never per chunk. One thread with
 * non-blocking sockets rather than a reader and a writer thread: GnuTLS allows that split
 * only while no re-handshake or key update is under way, which a client decides, and one
 * poll() also gives every stage its deadline and its cancellation. */
#define C2L_BUFFER_SIZE (64 * 1024)
#define L2C_BUFFER_SIZE (256 * 1024)
/* Ciphertext for the relay is batched: gnutls writes one 16 KiB record per call, and
 * sixteen records in one send() cost the kernel far less than sixteen sends. Room for a
 * full plaintext buffer of records plus their headers and tags. */
#define CIPHER_BUFFER_SIZE (L2C_BUFFER_SIZE + 32 * 1024)
/* After a refused pipelined request, how long the local server may take to finish the
 * responses to the requests before it, and how long we linger for the client's close. */
#define REJECT_DRAIN_TIMEOUT_MS 5000
#define ERROR_LINGER_TIMEOUT_MS 2000

typedef struct _DataConn
{
  char               *relay_host;
  guint16             relay_port;
  guint8              conn_id[NFLTR_PROTO_CONN_ID_SIZE];
  NfltrTunnelKind    *kind;
  GVariant           *kind_config;
  char               *target;       /* the kind's description of the backend, for messages */
  char               *public_host;
  char               *client_addr;

  NfltrTunnelTls     *tls;
  NfltrTunnelStats   *stats;
  NfltrDataConnGroup *group;
  int                 cancel_fd;

  int                 relay_fd;
  int                 local_fd;
  gnutls_session_t    session;
  char               *sni;          /* the host the client asked for */

  guint8             *cipher;       /* CIPHER_BUFFER_SIZE bytes of TLS records not yet sent */
  gsize               cipher_off;
  gsize               cipher_len;
} DataConn;

/* nfltr-data-conn-workers.c: runs func (data, NULL) on a worker thread, reused from an
 * earlier connection when one is idle. FALSE when no thread can be started. */
gboolean _nfltr_data_conn_workers_run        (GFunc func, gpointer data, GError **error);

/* nfltr-data-conn-io.c: the large per-connection buffers (C2L, L2C, CIPHER) are mappings of
 * their own, unmapped when the connection ends, rather than malloc blocks: see there. */
guint8  *_nfltr_data_conn_buffer_new         (gsize size);
void     _nfltr_data_conn_buffer_free        (guint8 *buffer, gsize size);

/* nfltr-data-conn-io.c: TLS records for the relay are queued in c->cipher by gnutls'
 * push function and sent by _nfltr_data_conn_cipher_flush(). */
void     _nfltr_data_conn_io_init            (DataConn *c);
gboolean _nfltr_data_conn_cipher_pending     (DataConn *c);
/* Sends queued records until the socket is full. FALSE on a socket error; sets *progress
 * (optional) when it sent anything. */
gboolean _nfltr_data_conn_cipher_flush       (DataConn *c, gboolean *progress);
/* POLLIN/POLLOUT: what gnutls waits for after GNUTLS_E_AGAIN. */
short    _nfltr_data_conn_tls_wait_events    (DataConn *c);
/* Outside the pump: flush, then wait for what gnutls needs. FALSE on error, timeout, cancel. */
gboolean _nfltr_data_conn_tls_wait           (DataConn *c, gint64 deadline);
gboolean _nfltr_data_conn_tls_flush_all      (DataConn *c, gint64 deadline);

/* nfltr-data-conn-pump.c: copies both ways until both sides are done, through the kind's
 * stream filter if it has one. */
typedef enum {
  NFLTR_PUMP_DONE,      /* both directions ended cleanly */
  NFLTR_PUMP_REJECTED,  /* the kind's filter refused the stream: *response is the answer */
  NFLTR_PUMP_ABORTED,   /* error or cancel: just close */
} NfltrPumpResult;

NfltrPumpResult _nfltr_data_conn_pump        (DataConn            *c,
                                              const NfltrKindConn *conn,
                                              GBytes             **response);

G_END_DECLS
