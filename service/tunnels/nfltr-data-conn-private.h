/* nfltr-data-conn-private.h — one data connection, shared by the files that run it:
 * nfltr-data-conn.c (the stages from attach to close), nfltr-data-conn-io.c (the TLS record
 * queue), nfltr-data-conn-pump.c (the two-way copy), nfltr-data-conn-loops.c (the threads). */
#pragma once

#include "nfltr-tunnels-private.h"

#include "nfltr-proto.h"

G_BEGIN_DECLS

/* Client→local gathers up to four TLS records per write() to the local server;
 * local→client reads big chunks so a bulk download costs one recv() and one send() per
 * sixteen records. Allocated once per connection when its copy starts, never per chunk.
 * Both directions of a connection are driven by one callback on one event-loop thread:
 * GnuTLS allows a reader and a writer on two threads only while no re-handshake or key
 * update is under way, which a client decides. */
#define C2L_BUFFER_SIZE (64 * 1024)
#define L2C_BUFFER_SIZE (256 * 1024)
/* Ciphertext for the relay is batched: gnutls writes one 16 KiB record per call, and
 * sixteen records in one send() cost the kernel far less than sixteen sends. Room for a
 * full plaintext buffer of records plus their headers and tags. */
#define CIPHER_BUFFER_SIZE (L2C_BUFFER_SIZE + 32 * 1024)
/* Ciphertext from the relay, read ahead of gnutls: it asks for a record's 5-byte header and
 * then its body, two recv() per record, and once more to learn the socket is empty. Room for
 * two whole TLS records (RFC 8446 §5.2: at most 2^14 + 256 bytes after the header). */
#define PULL_BUFFER_SIZE (32 * 1024)
/* After a refused pipelined request, how long the local server may take to finish the
 * responses to the requests before it, and how long we linger for the client's close. */
#define REJECT_DRAIN_TIMEOUT_MS 5000
#define ERROR_LINGER_TIMEOUT_MS 2000

typedef struct _NfltrDataConnLoop NfltrDataConnLoop;
typedef struct _Pump Pump;

typedef enum {
  STAGE_RELAY_CONNECT,  /* on a blocking helper thread */
  STAGE_PREAMBLE,
  STAGE_POOL_WAIT,      /* a warm-pool slot: waits for the relay's take header (§5.1) */
  STAGE_HANDSHAKE,
  STAGE_LOCAL_CONNECT,  /* on a blocking helper thread: the kind's connect() */
  STAGE_PUMP,
  STAGE_ANSWER,         /* the kind's or the filter's answer, close_notify, linger */
} DataConnStage;

typedef enum {
  ANSWER_SEND,
  ANSWER_BYE,
  ANSWER_FLUSH,
  ANSWER_DRAIN,
} AnswerStep;

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
  NfltrCidrList      *allow;          /* access by visitor address, or NULL */
  NfltrCidrList      *deny;
  int                 cancel_fd;
  guint               idle_timeout_s;  /* 0: none */

  /* The event loop that runs the connection, and its one source there: the relay socket,
   * the local socket and the group's cancel eventfd as tags (each present only while
   * waited on), and the stage's deadline as the ready time. */
  NfltrDataConnLoop  *loop;
  GSource            *source;
  gpointer            relay_tag;
  gpointer            local_tag;
  gpointer            cancel_tag;
  short               relay_tag_ev;  /* the events each tag waits for */
  short               local_tag_ev;
  short               cancel_tag_ev;
  DataConnStage       stage;
  gint64              deadline;     /* monotonic µs; -1: none */
  gint64              release_at;   /* STAGE_PUMP: when a quiet connection's pages go back */
  gsize               preamble_off;
  gboolean            pooled;       /* a warm-pool slot (§5.1) */
  gboolean            counted;      /* in the tunnel's stats: a visitor's connection */
  guint8              take[NFLTR_PROTO_TAKE_MAX_SIZE];
  gsize               take_len;
  GError             *connect_error;  /* from the helper thread */

  int                 relay_fd;
  int                 local_fd;
  gnutls_session_t    session;
  char               *sni;          /* the host the client asked for */
  char               *alpn;         /* the protocol TLS negotiated, or NULL */
  NfltrKindConn       kind_conn;    /* points into this struct's strings */

  Pump               *pump;
  GBytes             *answer;       /* STAGE_ANSWER: what the client is told */
  gsize               answer_off;
  AnswerStep          answer_step;

  guint8             *cipher;       /* CIPHER_BUFFER_SIZE bytes of TLS records not yet sent */
  gsize               cipher_off;
  gsize               cipher_len;

  guint8             *pull;         /* PULL_BUFFER_SIZE bytes read from the relay, for gnutls */
  gsize               pull_off;
  gsize               pull_len;
  guint64             pull_taken;   /* bytes gnutls took from it, all told */
  guint64             pull_taken_at_again;
  /* Whether a read may find bytes: FALSE after a read that drained a socket (it returned less
   * than asked, or EAGAIN), TRUE again when poll() reports the socket readable. The sockets
   * are polled level-triggered, so a socket that has more is reported again. */
  gboolean            relay_readable;
  gboolean            local_readable;
} DataConn;

/* nfltr-data-conn-loops.c: the bounded set of event-loop threads, and the bounded set of
 * helper threads for the steps that can only block (name resolution, the kind's connect). */
/* Picks the least busy loop (starting one while fewer than the cap run) and counts the
 * connection on it. NULL and an error when no thread can be started at all. */
NfltrDataConnLoop *_nfltr_data_conn_loop_enter       (GError **error);
/* On the loop's thread, when a connection that entered it is freed. */
void               _nfltr_data_conn_loop_leave       (NfltrDataConnLoop *loop);
GMainContext      *_nfltr_data_conn_loop_get_context (NfltrDataConnLoop *loop);
/* Runs func (data) on the loop's thread, from any thread. */
void               _nfltr_data_conn_loop_invoke      (NfltrDataConnLoop *loop,
                                                      GSourceFunc        func,
                                                      gpointer           data);
/* Runs func (data, NULL) on a helper thread, queued when all of them are busy. */
void               _nfltr_data_conn_blocking_run     (GFunc func, gpointer data);

/* nfltr-data-conn-io.c: the large per-connection buffers (C2L, L2C, CIPHER) are mappings of
 * their own, unmapped when the connection ends, rather than malloc blocks: see there. */
guint8  *_nfltr_data_conn_buffer_new         (gsize size);
void     _nfltr_data_conn_buffer_free        (guint8 *buffer, gsize size);
void     _nfltr_data_conn_buffer_release     (guint8 *buffer, gsize size);

/* nfltr-data-conn-io.c: TLS records for the relay are queued in c->cipher by gnutls'
 * push function and sent by _nfltr_data_conn_cipher_flush(). */
void     _nfltr_data_conn_io_init            (DataConn *c);
gboolean _nfltr_data_conn_cipher_pending     (DataConn *c);
/* Sends queued records until the socket is full. FALSE on a socket error; sets *progress
 * (optional) when it sent anything. */
gboolean _nfltr_data_conn_cipher_flush       (DataConn *c, gboolean *progress);
/* Ciphertext read from the relay that gnutls has not taken yet (poll() cannot see it). */
gboolean _nfltr_data_conn_pull_pending       (DataConn *c);
/* After a read's GNUTLS_E_AGAIN: TRUE when gnutls should be called again at once rather than
 * wait for poll(), which cannot see the read-ahead bytes — some wait, and gnutls has taken
 * some since the last AGAIN (a handshake message that spans records comes back with AGAIN
 * after each record). */
gboolean _nfltr_data_conn_pull_retry         (DataConn *c);
/* POLLIN/POLLOUT: what gnutls waits for after GNUTLS_E_AGAIN. */
short    _nfltr_data_conn_tls_wait_events    (DataConn *c);

/* nfltr-data-conn-pump.c: copies both ways until both sides are done, through the kind's
 * stream filter if it has one, one non-blocking step per wake-up. */
typedef enum {
  NFLTR_PUMP_CONTINUE,  /* wait for *relay_ev / *local_ev (or *deadline) and step again */
  NFLTR_PUMP_DONE,      /* both directions ended cleanly */
  NFLTR_PUMP_REJECTED,  /* the kind's filter refused the stream: *response is the answer */
  NFLTR_PUMP_ABORTED,   /* error: just close */
} NfltrPumpResult;

void            _nfltr_data_conn_pump_start  (DataConn *c);
void            _nfltr_data_conn_pump_free   (DataConn *c);
/* Gives back the pages of the connection's buffers (the mappings stay) if nothing is
 * waiting in them. */
void            _nfltr_data_conn_pump_release (DataConn *c);
/* Moves what can move without blocking (a bounded amount, so one busy connection does not
 * hold up the others on its loop). *more: there may be more to move at once, step again
 * without waiting. *active: anything moved (the idle timeout restarts). *deadline: a
 * refused request's drain deadline, else -1. */
NfltrPumpResult _nfltr_data_conn_pump_step   (DataConn  *c,
                                              short     *relay_ev,
                                              short     *local_ev,
                                              gboolean  *more,
                                              gboolean  *active,
                                              gint64    *deadline,
                                              GBytes   **response);

G_END_DECLS
