/* bench-p2p-transport.c — which reliable transport to put under the P2P session
 * (issue 13, item 3). Not a test: run it by hand, e.g.
 *
 *   build/tests/unit/p2p/bench-p2p-transport pseudotcp 64 0 0
 *   build/tests/unit/p2p/bench-p2p-transport sctp 64 20 1
 *
 * (transport, MiB, round-trip ms, loss %). Both transports run in this process over the same
 * simulated datagram link — a queue per direction that holds each packet for half the round
 * trip and drops the given share at random (a fixed seed) — which stands in for ICE's
 * unreliable path until the netlab delay line exists. The session (records, mux, audit) runs
 * on top, as in the product; the receiver checks the file's SHA-256. */
#include "nfltr-p2p-session.h"

#include <pseudotcp.h>
#include <usrsctp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MTU 1200

typedef struct _Endpoint Endpoint;

/* ---- the simulated link ---- */

typedef struct {
  gint64 due;
  gsize  len;
  guint8 data[];
} Packet;

typedef struct {
  GMutex    lock;
  GCond     cond;
  GQueue    queue;
  GRand    *rand;
  double    loss;
  gint64    delay_us;
  Endpoint *to;
  gboolean  stop;
  guint64   sent, dropped;
} Link;

static void
link_send (Link         *link,
           const guint8 *data,
           gsize         len)
{
  Packet *p;

  g_mutex_lock (&link->lock);
  link->sent++;
  if (g_rand_double (link->rand) < link->loss)
    {
      link->dropped++;
      g_mutex_unlock (&link->lock);
      return;
    }
  p = g_malloc (sizeof *p + len);
  p->due = g_get_monotonic_time () + link->delay_us;
  p->len = len;
  memcpy (p->data, data, len);
  g_queue_push_tail (&link->queue, p);
  g_cond_signal (&link->cond);
  g_mutex_unlock (&link->lock);
}

/* ---- the two ends, whatever the transport ---- */

struct _Endpoint {
  NfltrP2pRole     role;
  NfltrP2pSession *session;
  GByteArray      *out;
  gsize            out_off;
  Link            *tx;
  /* sender */
  guint32          file;
  gsize            size, queued;
  /* receiver */
  GChecksum       *sha;
  gsize            received;
  gboolean         finished;
  /* transport */
  PseudoTcpSocket *ptcp;
  struct socket   *sctp;
  GMainLoop       *loop;
  Endpoint        *peer;
};

static void
data_cb (NfltrP2pMux *mux, guint32 stream, const guint8 *data, gsize len, gpointer user_data)
{
  Endpoint *e = user_data;

  g_checksum_update (e->sha, data, len);
  e->received += len;
  nfltr_p2p_mux_consume (mux, stream, len);
}

static void
finished_cb (NfltrP2pMux *mux, guint32 stream, gpointer user_data)
{
  Endpoint *e = user_data;

  g_atomic_int_set (&e->finished, TRUE);
}

static const NfltrP2pMuxCallbacks receiver_callbacks = { .data = data_cb, .finished = finished_cb };

static void
fill (guint8 *buf, gsize off, gsize n)
{
  for (gsize i = 0; i < n; i++)
    buf[i] = (guint8) ((off + i) * 131 >> 8);
}

/* The next bytes to hand the transport; refills from the session (and the file) as needed. */
static gsize
endpoint_pending (Endpoint *e, const guint8 **data)
{
  if (e->out_off == e->out->len)
    {
      NfltrP2pMux *mux = nfltr_p2p_session_get_mux (e->session);
      static guint8 chunk[64 * 1024];

      g_byte_array_set_size (e->out, 0);
      e->out_off = 0;
      while (e->role == NFLTR_P2P_ROLE_A && e->queued < e->size
             && nfltr_p2p_mux_get_queued (mux, e->file) < 1024 * 1024)
        {
          gsize n = MIN (sizeof chunk, e->size - e->queued);

          fill (chunk, e->queued, n);
          nfltr_p2p_mux_write (mux, e->file, chunk, n, NULL);
          e->queued += n;
          if (e->queued == e->size)
            nfltr_p2p_mux_finish (mux, e->file, NULL);
        }
      g_assert (nfltr_p2p_session_pull (e->session, e->out, 256 * 1024, NULL));
    }
  *data = e->out->data + e->out_off;
  return e->out->len - e->out_off;
}

static void
endpoint_received (Endpoint *e, const guint8 *data, gsize len)
{
  g_autoptr(GError) error = NULL;

  if (!nfltr_p2p_session_push (e->session, data, len, &error))
    g_error ("session: %s", error->message);
}

/* ---- pseudo-TCP (libnice's, as its reliable agents use it) ---- */

static void ptcp_flush (Endpoint *e);

static guint clock_ids[2];
static void ptcp_schedule (Endpoint *e);

static gboolean
ptcp_clock_cb (gpointer user_data)
{
  Endpoint *e = user_data;

  clock_ids[e->role] = 0;
  pseudo_tcp_socket_notify_clock (e->ptcp);
  /* the retransmission and delayed-ACK timers need the next clock too */
  ptcp_schedule (e);
  return G_SOURCE_REMOVE;
}

static void
ptcp_schedule (Endpoint *e)
{
  guint64 next;
  guint *id = &clock_ids[e->role];

  if (*id != 0)
    g_source_remove (*id);
  *id = 0;
  if (pseudo_tcp_socket_get_next_clock (e->ptcp, &next))
    {
      gint64 now = g_get_monotonic_time () / 1000;

      *id = g_timeout_add ((guint) MAX (0, (gint64) next - now), ptcp_clock_cb, e);
    }
}

static void
ptcp_flush (Endpoint *e)
{
  for (;;)
    {
      const guint8 *data;
      gsize n = endpoint_pending (e, &data);
      gint sent;

      if (n == 0)
        break;
      sent = pseudo_tcp_socket_send (e->ptcp, (const char *) data, n);
      if (sent <= 0)
        break;
      e->out_off += sent;
    }
  ptcp_schedule (e);
}

static void
ptcp_opened (PseudoTcpSocket *tcp, gpointer data)
{
  ptcp_flush (data);
}

static void
ptcp_writable (PseudoTcpSocket *tcp, gpointer data)
{
  ptcp_flush (data);
}

static void
ptcp_readable (PseudoTcpSocket *tcp, gpointer data)
{
  Endpoint *e = data;
  static guint8 buf[64 * 1024];
  gint n;

  while ((n = pseudo_tcp_socket_recv (tcp, (char *) buf, sizeof buf)) > 0)
    endpoint_received (e, buf, n);
  if (e->finished)
    g_main_loop_quit (e->loop);
  ptcp_flush (e);
}

static void
ptcp_closed (PseudoTcpSocket *tcp, guint32 error, gpointer data)
{
}

static PseudoTcpWriteResult
ptcp_write_packet (PseudoTcpSocket *tcp, const gchar *buffer, guint32 len, gpointer data)
{
  Endpoint *e = data;

  link_send (e->tx, (const guint8 *) buffer, len);
  return WR_SUCCESS;
}

/* Delivers due packets on the main loop (pseudo-TCP is single-threaded). */
static gboolean
ptcp_link_cb (gpointer user_data)
{
  Link **links = user_data;
  gint64 now = g_get_monotonic_time ();

  for (int i = 0; i < 2; i++)
    {
      Link *link = links[i];

      for (;;)
        {
          Packet *p;

          g_mutex_lock (&link->lock);
          p = g_queue_peek_head (&link->queue);
          if (p == NULL || p->due > now)
            {
              g_mutex_unlock (&link->lock);
              break;
            }
          g_queue_pop_head (&link->queue);
          g_mutex_unlock (&link->lock);
          pseudo_tcp_socket_notify_packet (link->to->ptcp, (const gchar *) p->data, p->len);
          ptcp_schedule (link->to);
          g_free (p);
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
run_pseudotcp (Endpoint *a, Endpoint *b, Link *ab, Link *ba)
{
  PseudoTcpCallbacks cb = { NULL, ptcp_opened, ptcp_readable, ptcp_writable, ptcp_closed, ptcp_write_packet };
  GMainLoop *loop = g_main_loop_new (NULL, FALSE);
  Link *links[2] = { ab, ba };
  guint pump;

  a->loop = b->loop = loop;
  cb.user_data = a;
  a->ptcp = pseudo_tcp_socket_new (1, &cb);
  cb.user_data = b;
  b->ptcp = pseudo_tcp_socket_new (1, &cb);
  /* an idle source polls the link queues; the clocks run on timeouts */
  pump = g_idle_add (ptcp_link_cb, links);
  pseudo_tcp_socket_connect (a->ptcp);
  ptcp_schedule (a);
  g_main_loop_run (loop);
  g_source_remove (pump);
  g_main_loop_unref (loop);
}

/* ---- SCTP (usrsctp over AF_CONN: the packets go where we say, here the link) ---- */

static Link *sctp_links[2];

static int
sctp_output (void *addr, void *buffer, size_t length, uint8_t tos, uint8_t set_df)
{
  /* Both ends share one usrsctp stack and one lower-layer address, so the packet's SCTP
   * destination port (common header bytes 2-3) says which end it is for: 5000 A, 5001 B. */
  const guint8 *p = buffer;
  guint port = (guint) p[2] << 8 | p[3];

  link_send (sctp_links[port - 5000], buffer, length);
  return 0;
}

static gpointer
sctp_link_thread (gpointer user_data)
{
  Link *link = user_data;

  g_mutex_lock (&link->lock);
  while (!link->stop)
    {
      Packet *p = g_queue_peek_head (&link->queue);
      gint64 now = g_get_monotonic_time ();

      if (p == NULL)
        {
          g_cond_wait (&link->cond, &link->lock);
          continue;
        }
      if (p->due > now)
        {
          g_cond_wait_until (&link->cond, &link->lock, p->due);
          continue;
        }
      g_queue_pop_head (&link->queue);
      g_mutex_unlock (&link->lock);
      usrsctp_conninput (GINT_TO_POINTER (1), p->data, p->len, 0);
      g_free (p);
      g_mutex_lock (&link->lock);
    }
  g_mutex_unlock (&link->lock);
  return NULL;
}

static gpointer
sctp_endpoint_thread (gpointer user_data)
{
  Endpoint *e = user_data;
  static __thread guint8 buf[64 * 1024];

  usrsctp_set_non_blocking (e->sctp, 1);
  /* the bench's own shortcut: both ends stop when the receiver has the whole file */
  while (!g_atomic_int_get (&(e->role == NFLTR_P2P_ROLE_A ? e->peer : e)->finished))
    {
      gboolean busy = FALSE;
      const guint8 *data;
      gsize n;
      ssize_t r;

      while ((n = endpoint_pending (e, &data)) > 0)
        {
          struct sctp_sndinfo snd = { .snd_sid = 0 };

          r = usrsctp_sendv (e->sctp, data, MIN (n, 64 * 1024), NULL, 0, &snd, sizeof snd,
                             SCTP_SENDV_SNDINFO, 0);
          if (r <= 0)
            break;
          e->out_off += r;
          busy = TRUE;
        }
      for (;;)
        {
          struct sockaddr_conn from;
          socklen_t fromlen = sizeof from;
          struct sctp_rcvinfo rcv;
          socklen_t infolen = sizeof rcv;
          unsigned int infotype = 0;
          int flags = 0;

          r = usrsctp_recvv (e->sctp, buf, sizeof buf, (struct sockaddr *) &from, &fromlen, &rcv,
                             &infolen, &infotype, &flags);
          if (r <= 0)
            break;
          if (!(flags & MSG_NOTIFICATION))
            endpoint_received (e, buf, r);
          busy = TRUE;
        }
      if (!busy)
        g_usleep (50); /* polling: usrsctp offers no descriptor to wait on in this bench */
    }
  return NULL;
}

static struct socket *
sctp_socket (int index)
{
  struct socket *s = usrsctp_socket (AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  struct sockaddr_conn sconn = { .sconn_family = AF_CONN, .sconn_port = htons (5000 + index),
                                 .sconn_addr = GINT_TO_POINTER (1) };
  int on = 1;
  int size = 4 * 1024 * 1024;

  g_assert (s != NULL);
  usrsctp_setsockopt (s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on);
  usrsctp_setsockopt (s, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  usrsctp_setsockopt (s, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  g_assert (usrsctp_bind (s, (struct sockaddr *) &sconn, sizeof sconn) == 0);
  return s;
}

static void
run_sctp (Endpoint *a, Endpoint *b, Link *ab, Link *ba)
{
  struct socket *listener, *client;
  struct sockaddr_conn peer = { .sconn_family = AF_CONN, .sconn_port = htons (5001),
                                .sconn_addr = GINT_TO_POINTER (1) };
  GThread *links[2], *ends[2];

  usrsctp_init (0, sctp_output, NULL);
  usrsctp_sysctl_set_sctp_ecn_enable (0);
  usrsctp_register_address (GINT_TO_POINTER (1));
  sctp_links[0] = ba;
  sctp_links[1] = ab;
  links[0] = g_thread_new ("link-ab", sctp_link_thread, ab);
  links[1] = g_thread_new ("link-ba", sctp_link_thread, ba);
  listener = sctp_socket (1);
  g_assert (usrsctp_listen (listener, 1) == 0);
  client = sctp_socket (0);
  g_assert (usrsctp_connect (client, (struct sockaddr *) &peer, sizeof peer) == 0);
  b->sctp = usrsctp_accept (listener, NULL, NULL);
  g_assert (b->sctp != NULL);
  a->sctp = client;
  ends[0] = g_thread_new ("a", sctp_endpoint_thread, a);
  ends[1] = g_thread_new ("b", sctp_endpoint_thread, b);
  g_thread_join (ends[1]);
  g_thread_join (ends[0]);
  for (int i = 0; i < 2; i++)
    {
      Link *l = i == 0 ? ab : ba;

      g_mutex_lock (&l->lock);
      l->stop = TRUE;
      g_cond_signal (&l->cond);
      g_mutex_unlock (&l->lock);
      g_thread_join (links[i]);
    }
  /* The links are stopped, so the associations cannot shut down cleanly; the process ends
   * here anyway, and usrsctp_finish would wait for them forever. */
  usrsctp_close (listener);
}

int
main (int argc, char *argv[])
{
  NfltrP2pKeys keys;
  Endpoint a = { .role = NFLTR_P2P_ROLE_A }, b = { .role = NFLTR_P2P_ROLE_B };
  Link ab = { 0 }, ba = { 0 };
  gsize mib;
  double rtt_ms, loss;
  gint64 t0;
  double seconds;
  GChecksum *want;
  static guint8 chunk[64 * 1024];

  if (argc != 5)
    {
      fprintf (stderr, "usage: %s pseudotcp|sctp MIB RTT-MS LOSS-PERCENT\n", argv[0]);
      return 2;
    }
  mib = strtoul (argv[2], NULL, 10);
  rtt_ms = g_ascii_strtod (argv[3], NULL);
  loss = g_ascii_strtod (argv[4], NULL) / 100.0;
  memset (&keys, 0x33, sizeof keys);
  keys.b_to_a_mac[0] = 1;
  for (int i = 0; i < 2; i++)
    {
      Link *l = i == 0 ? &ab : &ba;

      g_mutex_init (&l->lock);
      g_cond_init (&l->cond);
      g_queue_init (&l->queue);
      l->rand = g_rand_new_with_seed (42 + i);
      l->loss = loss;
      l->delay_us = (gint64) (rtt_ms * 500);
    }
  a.peer = &b;
  b.peer = &a;
  ab.to = &b;
  ba.to = &a;
  a.tx = &ab;
  b.tx = &ba;
  a.session = nfltr_p2p_session_new (NFLTR_P2P_ROLE_A, &keys, NULL, &a);
  b.session = nfltr_p2p_session_new (NFLTR_P2P_ROLE_B, &keys, &receiver_callbacks, &b);
  a.out = g_byte_array_new ();
  b.out = g_byte_array_new ();
  a.sha = g_checksum_new (G_CHECKSUM_SHA256);
  b.sha = g_checksum_new (G_CHECKSUM_SHA256);
  a.size = mib * 1024 * 1024;
  a.file = nfltr_p2p_mux_open (nfltr_p2p_session_get_mux (a.session), NFLTR_P2P_STREAM_FILE, NULL);

  t0 = g_get_monotonic_time ();
  if (strcmp (argv[1], "pseudotcp") == 0)
    run_pseudotcp (&a, &b, &ab, &ba);
  else if (strcmp (argv[1], "sctp") == 0)
    run_sctp (&a, &b, &ab, &ba);
  else
    return 2;
  seconds = (g_get_monotonic_time () - t0) / 1e6;

  want = g_checksum_new (G_CHECKSUM_SHA256);
  for (gsize off = 0; off < a.size; off += sizeof chunk)
    {
      gsize n = MIN (sizeof chunk, a.size - off);

      fill (chunk, off, n);
      g_checksum_update (want, chunk, n);
    }
  printf ("%s: %zu MiB, RTT %.0f ms, loss %.1f %%: %.2f s, %.1f MB/s, sha256 %s, packets %" G_GUINT64_FORMAT
          " sent / %" G_GUINT64_FORMAT " dropped\n",
          argv[1], mib, rtt_ms, loss * 100, seconds, a.size / seconds / 1e6,
          b.received == a.size && strcmp (g_checksum_get_string (want), g_checksum_get_string (b.sha)) == 0
            ? "matches"
            : "DIFFERS",
          ab.sent, ab.dropped);
  return b.received == a.size ? 0 : 1;
}
