/* test-splice.c — the passthrough pump on real loopback TCP: prefix first, both directions,
 * half-close passed through, megabytes both ways at once, resets, and no descriptor left
 * behind. The public client and the agent are plain blocking sockets in threads; the splice
 * runs in the main loop as in the relay. */
#include "passthrough/relay-splice.h"
#include "relay-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Every splice(2) the relay code makes in this test comes here (the executable's own
 * definition is linked before libc's): the reads that found nothing are counted. */
static gint splice_eagain;

ssize_t
splice (int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags)
{
  long n = syscall (SYS_splice, fd_in, off_in, fd_out, off_out, len, flags);

  if (n < 0 && errno == EAGAIN)
    g_atomic_int_inc (&splice_eagain);
  return n;
}

typedef struct {
  gint     done;
  guint64  a_to_b;
  guint64  b_to_a;
  char    *error;
} Result;

static void
done_cb (RelaySplice *splice, guint64 a_to_b, guint64 b_to_a, const char *error, gpointer user_data)
{
  Result *r = user_data;

  r->a_to_b = a_to_b;
  r->b_to_a = b_to_a;
  r->error = g_strdup (error);
  g_atomic_int_set (&r->done, 1);
}

static GByteArray *
read_to_eof (GSocket *socket)
{
  GByteArray *all = g_byte_array_new ();
  char buf[65536];
  gssize n;

  while ((n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL)) > 0)
    g_byte_array_append (all, (guint8 *) buf, n);
  g_assert_cmpint (n, ==, 0);
  return all;
}

static void
send_all (GSocket *socket, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_send (socket, (const char *) data, len, NULL, &error);
      g_assert_no_error (error);
      data += n;
      len -= n;
    }
}

/* X —— [A  splice  B] —— Y */
typedef struct {
  GSocketConnection *x, *a, *b, *y;
} Wires;

static void
wires_init (Wires *w)
{
  tcp_pair (&w->x, &w->a);
  tcp_pair (&w->b, &w->y);
  g_socket_set_blocking (g_socket_connection_get_socket (w->x), TRUE);
  g_socket_set_blocking (g_socket_connection_get_socket (w->y), TRUE);
}

static void
wires_clear (Wires *w)
{
  g_clear_object (&w->x);
  g_clear_object (&w->a);
  g_clear_object (&w->b);
  g_clear_object (&w->y);
}

typedef struct {
  GSocket    *socket;
  GBytes     *send;       /* sent, then SHUT_WR */
  GByteArray *received;   /* everything until EOF */
} Peer;

static gpointer
peer_thread (gpointer user_data)
{
  Peer *p = user_data;
  gsize len;
  const guint8 *data = g_bytes_get_data (p->send, &len);

  send_all (p->socket, data, len);
  g_socket_shutdown (p->socket, FALSE, TRUE, NULL);
  p->received = read_to_eof (p->socket);
  return NULL;
}

static GBytes *
pattern (gsize len, guint seed)
{
  guint8 *data = g_malloc (len);
  GRand *rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < len; i++)
    data[i] = g_rand_int (rand) & 0xff;
  g_rand_free (rand);
  return g_bytes_new_take (data, len);
}

static void
run_exchange (gsize x_len, gsize y_len, const char *prefix)
{
  guint fds_before = count_fds ();
  Wires w = { 0 };
  Result r = { 0 };
  g_autoptr(GBytes) prefix_bytes = prefix ? g_bytes_new (prefix, strlen (prefix)) : NULL;
  g_autoptr(GBytes) from_x = pattern (x_len, 1);
  g_autoptr(GBytes) from_y = pattern (y_len, 2);
  Peer px, py;
  GThread *tx, *ty;
  RelaySplice *splice;
  gsize plen = prefix ? strlen (prefix) : 0;

  wires_init (&w);
  splice = relay_splice_start (w.a, w.b, prefix_bytes, done_cb, &r);
  g_assert_nonnull (splice);
  /* The splice holds its own references and closes the sockets itself. */
  g_clear_object (&w.a);
  g_clear_object (&w.b);

  px = (Peer) { g_socket_connection_get_socket (w.x), from_x, NULL };
  py = (Peer) { g_socket_connection_get_socket (w.y), from_y, NULL };
  tx = g_thread_new ("x", peer_thread, &px);
  ty = g_thread_new ("y", peer_thread, &py);
  g_assert_true (wait_for_flag (&r.done, 30));
  g_thread_join (tx);
  g_thread_join (ty);

  /* Y got the prefix, then exactly what X sent; X got exactly what Y sent. */
  g_assert_cmpuint (py.received->len, ==, plen + x_len);
  if (plen > 0)
    g_assert_cmpmem (py.received->data, plen, prefix, plen);
  g_assert_cmpmem (py.received->data + plen, x_len, g_bytes_get_data (from_x, NULL), x_len);
  g_assert_cmpmem (px.received->data, px.received->len, g_bytes_get_data (from_y, NULL), y_len);
  g_assert_null (r.error);
  g_assert_cmpuint (r.a_to_b, ==, plen + x_len);
  g_assert_cmpuint (r.b_to_a, ==, y_len);

  g_byte_array_unref (px.received);
  g_byte_array_unref (py.received);
  wires_clear (&w);
  g_free (r.error);
  g_assert_cmpuint (count_fds (), ==, fds_before);
}

static void
test_small_with_prefix (void)
{
  run_exchange (3, 5, "CLIENTHELLO");
}

static void
test_empty_both_ways (void)
{
  run_exchange (0, 0, NULL);
}

static void
test_megabytes_both_ways (void)
{
  run_exchange (8 * 1024 * 1024 + 17, 3 * 1024 * 1024 + 5, "prefix");
}

/* Half-close: X finishes sending and waits; Y reads X's EOF, and only then answers. */
static void
test_half_close_then_answer (void)
{
  guint fds_before = count_fds ();
  Wires w = { 0 };
  Result r = { 0 };
  g_autoptr(GByteArray) at_y = NULL;
  g_autoptr(GByteArray) at_x = NULL;
  GSocket *x, *y;

  wires_init (&w);
  g_assert_nonnull (relay_splice_start (w.a, w.b, NULL, done_cb, &r));
  g_clear_object (&w.a);
  g_clear_object (&w.b);
  x = g_socket_connection_get_socket (w.x);
  y = g_socket_connection_get_socket (w.y);
  g_socket_set_blocking (y, FALSE);

  send_all (x, (const guint8 *) "question", 8);
  g_socket_shutdown (x, FALSE, TRUE, NULL);
  /* Let the main loop move it; Y sees data then EOF. */
  {
    GByteArray *got = g_byte_array_new ();
    gint eof = 0;
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    while (!eof && g_get_monotonic_time () < deadline)
      {
        char buf[64];
        gssize n;

        g_main_context_iteration (NULL, FALSE);
        n = g_socket_receive (y, buf, sizeof buf, NULL, NULL);
        if (n > 0)
          g_byte_array_append (got, (guint8 *) buf, n);
        else if (n == 0)
          eof = 1;
      }
    g_assert_true (eof);
    at_y = got;
  }
  g_assert_cmpmem (at_y->data, at_y->len, "question", 8);
  g_assert_false (g_atomic_int_get (&r.done));  /* the other direction is still open */

  g_socket_set_blocking (y, TRUE);
  send_all (y, (const guint8 *) "answer", 6);
  g_socket_shutdown (y, FALSE, TRUE, NULL);
  g_assert_true (wait_for_flag (&r.done, 10));
  at_x = read_to_eof (x);
  g_assert_cmpmem (at_x->data, at_x->len, "answer", 6);
  g_assert_null (r.error);

  wires_clear (&w);
  g_free (r.error);
  g_assert_cmpuint (count_fds (), ==, fds_before);
}

/* The agent resets its connection: the splice ends with an error, the client sees EOF or a
 * reset, and every descriptor is released. */
static void
test_reset_ends_both (void)
{
  guint fds_before = count_fds ();
  Wires w = { 0 };
  Result r = { 0 };
  struct linger lin = { 1, 0 };
  GSocket *x;
  char buf[16];

  wires_init (&w);
  g_assert_nonnull (relay_splice_start (w.a, w.b, NULL, done_cb, &r));
  g_clear_object (&w.a);
  g_clear_object (&w.b);
  x = g_socket_connection_get_socket (w.x);

  /* SO_LINGER 0 turns close into a reset. */
  setsockopt (g_socket_get_fd (g_socket_connection_get_socket (w.y)), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
  g_io_stream_close (G_IO_STREAM (w.y), NULL, NULL);
  g_assert_true (wait_for_flag (&r.done, 10));
  g_assert_nonnull (r.error);
  g_test_message ("splice ended with: %s", r.error);
  g_assert_cmpint (g_socket_receive (x, buf, sizeof buf, NULL, NULL), <=, 0);

  wires_clear (&w);
  g_free (r.error);
  g_assert_cmpuint (count_fds (), ==, fds_before);
}

static void
recv_exactly (GSocket *socket, gsize len)
{
  char buf[512];

  g_assert_cmpuint (len, <=, sizeof buf);
  while (len > 0)
    {
      gssize n = g_socket_receive (socket, buf, len, NULL, NULL);

      g_assert_cmpint (n, >, 0);
      len -= n;
    }
}

enum {
  TURNS = 200,
  QUESTION = 100,
  ANSWER = 300
};

static gpointer
asker_thread (gpointer user_data)
{
  GSocket *x = user_data;
  guint8 question[QUESTION] = { 'q' };

  for (guint i = 0; i < TURNS; i++)
    {
      send_all (x, question, sizeof question);
      recv_exactly (x, ANSWER);
    }
  g_socket_shutdown (x, FALSE, TRUE, NULL);
  return read_to_eof (x);
}

static gpointer
answerer_thread (gpointer user_data)
{
  GSocket *y = user_data;
  guint8 answer[ANSWER] = { 'a' };

  for (guint i = 0; i < TURNS; i++)
    {
      recv_exactly (y, QUESTION);
      send_all (y, answer, sizeof answer);
    }
  g_socket_shutdown (y, FALSE, TRUE, NULL);
  return read_to_eof (y);
}

/* Request and response, turn by turn (what h2load's keep-alive connections do): every byte
 * arrives, and a read that got less than it asked for is not followed by one that finds the
 * socket empty — the level-triggered loop reports the socket when more comes. That second
 * read was one wasted system call per message (docs/benchmarks.md, fix C). */
static void
test_turns_without_empty_reads (void)
{
  guint fds_before = count_fds ();
  Wires w = { 0 };
  Result r = { 0 };
  GThread *tx, *ty;
  GByteArray *rest_x, *rest_y;

  wires_init (&w);
  g_assert_nonnull (relay_splice_start (w.a, w.b, NULL, done_cb, &r));
  g_clear_object (&w.a);
  g_clear_object (&w.b);
  g_atomic_int_set (&splice_eagain, 0);
  tx = g_thread_new ("asker", asker_thread, g_socket_connection_get_socket (w.x));
  ty = g_thread_new ("answerer", answerer_thread, g_socket_connection_get_socket (w.y));
  g_assert_true (wait_for_flag (&r.done, 30));
  rest_x = g_thread_join (tx);
  rest_y = g_thread_join (ty);
  g_assert_cmpuint (rest_x->len, ==, 0);
  g_assert_cmpuint (rest_y->len, ==, 0);
  g_assert_null (r.error);
  g_assert_cmpuint (r.a_to_b, ==, TURNS * QUESTION);
  g_assert_cmpuint (r.b_to_a, ==, TURNS * ANSWER);
  /* 2 × TURNS messages; before the fix each cost an empty read (~400). A few may still come
   * from a wake-up that raced with the peer. */
  g_test_message ("splice calls that found nothing: %d for %d messages",
                  g_atomic_int_get (&splice_eagain), 2 * TURNS);
  g_assert_cmpint (g_atomic_int_get (&splice_eagain), <, TURNS / 4);

  g_byte_array_unref (rest_x);
  g_byte_array_unref (rest_y);
  wires_clear (&w);
  g_free (r.error);
  g_assert_cmpuint (count_fds (), ==, fds_before);
}

/* Many splices at once, all closed by their clients: nothing leaks. */
static void
test_many_no_leak (void)
{
  guint fds_before = count_fds ();
  enum { N = 50 };
  Wires w[N];
  Result r[N];

  memset (r, 0, sizeof r);
  for (guint i = 0; i < N; i++)
    {
      wires_init (&w[i]);
      g_assert_nonnull (relay_splice_start (w[i].a, w[i].b, NULL, done_cb, &r[i]));
      g_clear_object (&w[i].a);
      g_clear_object (&w[i].b);
    }
  /* Idle: four sockets per pair, no pipes held. */
  g_assert_cmpuint (count_fds (), ==, fds_before + N * 4);
  for (guint i = 0; i < N; i++)
    {
      g_socket_shutdown (g_socket_connection_get_socket (w[i].x), FALSE, TRUE, NULL);
      g_socket_shutdown (g_socket_connection_get_socket (w[i].y), FALSE, TRUE, NULL);
    }
  for (guint i = 0; i < N; i++)
    {
      g_assert_true (wait_for_flag (&r[i].done, 10));
      g_assert_null (r[i].error);
      wires_clear (&w[i]);
    }
  g_assert_cmpuint (count_fds (), ==, fds_before);
}

static gpointer
nothing_thread (gpointer user_data)
{
  return NULL;
}

/* GLib opens a few descriptors of its own on first use (the main context's wake-up fd, the
 * thread pool's); open them before any test takes its baseline. */
static void
warm_up (void)
{
  Wires w = { 0 };
  gint flag = 1;

  wires_init (&w);
  wires_clear (&w);
  g_thread_join (g_thread_new ("warm-up", nothing_thread, NULL));
  wait_for_flag (&flag, 1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* The shared epoll set is one descriptor for the process's life, as in the server. */
  relay_splice_init ();
  warm_up ();
  g_test_add_func ("/splice/small-with-prefix", test_small_with_prefix);
  g_test_add_func ("/splice/empty-both-ways", test_empty_both_ways);
  g_test_add_func ("/splice/megabytes-both-ways", test_megabytes_both_ways);
  g_test_add_func ("/splice/half-close-then-answer", test_half_close_then_answer);
  g_test_add_func ("/splice/reset-ends-both", test_reset_ends_both);
  g_test_add_func ("/splice/many-no-leak", test_many_no_leak);
  g_test_add_func ("/splice/turns-without-empty-reads", test_turns_without_empty_reads);
  return g_test_run ();
}
