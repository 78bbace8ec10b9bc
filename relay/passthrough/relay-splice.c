/* relay-splice.c — splice(2) pump between two sockets, one GSource for both.
 *
 * The source watches each socket for exactly the readiness its directions are blocked on:
 * G_IO_IN on the source socket of a direction waiting to read, G_IO_OUT on the destination
 * of a direction waiting to write. A dispatch moves at most SPLICE_BUDGET bytes per
 * direction so one fast connection cannot starve the rest of the main loop.
 *
 * A direction holds a pipe only while bytes are in flight; an empty pipe goes back to a small
 * pool of spares (as haproxy's pipe pool does), so an idle connection costs its two sockets
 * and nothing else. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-splice.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

/* One pipe buffer's worth per call (the kernel default pipe size is 64 KiB). */
#define SPLICE_CHUNK  (64 * 1024)
#define SPLICE_BUDGET (1024 * 1024)
#define PIPE_POOL_MAX 64

static int   pipe_pool[PIPE_POOL_MAX][2];
static guint pipe_pool_len;
static guint live_splices;  /* spares are kept for them only: an idle relay holds no pipe */
G_LOCK_DEFINE_STATIC (pipe_pool);

static gboolean (*fd_relief) (gpointer user_data);
static gpointer fd_relief_data;

void
relay_splice_set_fd_relief (gboolean (*relief) (gpointer user_data), gpointer user_data)
{
  fd_relief = relief;
  fd_relief_data = user_data;
}

static gboolean
pipe_acquire (int p[2])
{
  gboolean pooled = FALSE;

  G_LOCK (pipe_pool);
  if (pipe_pool_len > 0)
    {
      pipe_pool_len--;
      p[0] = pipe_pool[pipe_pool_len][0];
      p[1] = pipe_pool[pipe_pool_len][1];
      pooled = TRUE;
    }
  G_UNLOCK (pipe_pool);
  if (pooled || pipe2 (p, O_CLOEXEC | O_NONBLOCK) == 0)
    return TRUE;
  /* Out of descriptors: a connection that is moving bytes matters more than one that has
   * not sent its ClientHello yet; ask the relay to drop such one, twice, and try again. */
  for (guint i = 0; i < 2 && (errno == EMFILE || errno == ENFILE); i++)
    {
      if (fd_relief == NULL || !fd_relief (fd_relief_data))
        break;
      if (pipe2 (p, O_CLOEXEC | O_NONBLOCK) == 0)
        return TRUE;
    }
  return FALSE;
}

/* An empty pipe is as good as new; one with bytes left in it is closed. */
static void
pipe_release (int p[2], gboolean empty)
{
  gboolean pooled = FALSE;

  if (p[0] < 0)
    return;
  if (empty)
    {
      G_LOCK (pipe_pool);
      if (pipe_pool_len < MIN (PIPE_POOL_MAX, 2 * live_splices))
        {
          pipe_pool[pipe_pool_len][0] = p[0];
          pipe_pool[pipe_pool_len][1] = p[1];
          pipe_pool_len++;
          pooled = TRUE;
        }
      G_UNLOCK (pipe_pool);
    }
  if (!pooled)
    {
      close (p[0]);
      close (p[1]);
    }
  p[0] = p[1] = -1;
}

/* Keeps at most `keep` spares. */
static void
pool_trim_to (guint keep)
{
  G_LOCK (pipe_pool);
  while (pipe_pool_len > keep)
    {
      pipe_pool_len--;
      close (pipe_pool[pipe_pool_len][0]);
      close (pipe_pool[pipe_pool_len][1]);
    }
  G_UNLOCK (pipe_pool);
}

void
relay_splice_pool_trim (void)
{
  pool_trim_to (0);
}

typedef enum {
  DIR_WANT_READ,
  DIR_WANT_WRITE,
  DIR_BUDGET,    /* made progress, has more: dispatch again soon */
  DIR_DONE,
  DIR_ERROR,
} DirStatus;

typedef struct {
  const char *label;
  int         from;
  int         to;
  int         pipe[2];
  gsize       in_pipe;
  GBytes     *prefix;
  gsize       prefix_off;
  gboolean    eof;
  DirStatus   status;
  guint64     bytes;
  int         error;
} Direction;

typedef struct {
  GSource      source;
  RelaySplice *splice;
} SpliceSource;

struct _RelaySplice {
  GSocketConnection  *a;
  GSocketConnection  *b;
  int                 fd_a;
  int                 fd_b;
  gpointer            tag_a;
  gpointer            tag_b;
  GIOCondition        watch_a;
  GIOCondition        watch_b;
  gboolean            ready_now;  /* the source's ready time is 0 (budget work left) */
  GSource            *source;
  Direction           ab;
  Direction           ba;
  RelaySpliceDoneFunc done;
  gpointer            user_data;
};

static DirStatus
pump (Direction *d)
{
  gsize moved = 0;

  for (;;)
    {
      ssize_t n;

      if (d->prefix != NULL)
        {
          gsize len;
          const guint8 *data = g_bytes_get_data (d->prefix, &len);

          n = send (d->to, data + d->prefix_off, len - d->prefix_off, MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n < 0)
            {
              if (errno == EAGAIN || errno == EINTR)
                return errno == EAGAIN ? DIR_WANT_WRITE : DIR_BUDGET;
              d->error = errno;
              return DIR_ERROR;
            }
          d->prefix_off += n;
          d->bytes += n;
          if (d->prefix_off == len)
            g_clear_pointer (&d->prefix, g_bytes_unref);
          continue;
        }
      if (d->in_pipe > 0)
        {
          n = splice (d->pipe[0], NULL, d->to, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          if (n < 0)
            {
              if (errno == EAGAIN)
                return DIR_WANT_WRITE;
              if (errno == EINTR)
                continue;
              d->error = errno;
              return DIR_ERROR;
            }
          d->in_pipe -= n;
          d->bytes += n;
          moved += n;
          continue;
        }
      if (d->eof)
        {
          /* Pass the half-close on; the other direction may still be talking. */
          shutdown (d->to, SHUT_WR);
          return DIR_DONE;
        }
      if (moved >= SPLICE_BUDGET)
        return DIR_BUDGET;
      if (d->pipe[0] < 0 && !pipe_acquire (d->pipe))
        {
          d->error = errno;
          return DIR_ERROR;
        }
      n = splice (d->from, NULL, d->pipe[1], NULL, SPLICE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          d->error = errno;
          pipe_release (d->pipe, TRUE);  /* nothing went in */
          return d->error == EAGAIN ? DIR_WANT_READ : DIR_ERROR;
        }
      if (n == 0)
        {
          d->eof = TRUE;
          pipe_release (d->pipe, TRUE);
        }
      d->in_pipe += n;
    }
}

static void
close_pipe (Direction *d)
{
  pipe_release (d->pipe, d->in_pipe == 0);
  g_clear_pointer (&d->prefix, g_bytes_unref);
}

static void
splice_free (RelaySplice *splice)
{
  G_LOCK (pipe_pool);
  live_splices--;
  G_UNLOCK (pipe_pool);
  if (splice->source != NULL)
    {
      g_source_destroy (splice->source);
      g_source_unref (splice->source);
      splice->source = NULL;
    }
  close_pipe (&splice->ab);
  close_pipe (&splice->ba);
  pool_trim_to (MIN (PIPE_POOL_MAX, 2 * live_splices));
  if (splice->a != NULL)
    g_io_stream_close (G_IO_STREAM (splice->a), NULL, NULL);
  if (splice->b != NULL)
    g_io_stream_close (G_IO_STREAM (splice->b), NULL, NULL);
  g_clear_object (&splice->a);
  g_clear_object (&splice->b);
  g_free (splice);
}

static void
finish (RelaySplice *splice, const char *error)
{
  RelaySpliceDoneFunc done = splice->done;

  splice->done = NULL;
  if (done != NULL)
    done (splice, splice->ab.bytes, splice->ba.bytes, error, splice->user_data);
  splice_free (splice);
}

static int
socket_error (int fd)
{
  int err = 0;
  socklen_t len = sizeof err;

  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return 0;
  return err;
}

static GIOCondition
want_on (RelaySplice *splice, int fd)
{
  GIOCondition cond = 0;
  Direction *dirs[] = { &splice->ab, &splice->ba };

  for (guint i = 0; i < 2; i++)
    {
      if (dirs[i]->status == DIR_WANT_READ && dirs[i]->from == fd)
        cond |= G_IO_IN;
      if (dirs[i]->status == DIR_WANT_WRITE && dirs[i]->to == fd)
        cond |= G_IO_OUT;
    }
  return cond;
}

/* A direction runs when what it waits for happened (or it still has budget work); the other
 * one is left alone, which saves a syscall per event on request/response traffic. */
static gboolean
should_run (RelaySplice *splice, Direction *d, GIOCondition got_a, GIOCondition got_b)
{
  GIOCondition from = d->from == splice->fd_a ? got_a : got_b;
  GIOCondition to = d->to == splice->fd_a ? got_a : got_b;

  switch (d->status)
    {
    case DIR_BUDGET:
      return TRUE;
    case DIR_WANT_READ:
      return (from & (G_IO_IN | G_IO_HUP | G_IO_ERR)) != 0;
    case DIR_WANT_WRITE:
      return (to & (G_IO_OUT | G_IO_HUP | G_IO_ERR)) != 0;
    case DIR_DONE:
    case DIR_ERROR:
    default:
      return FALSE;
    }
}

/* Changing a watched condition wakes the main context up; only do it when it changes. */
static void
watch (RelaySplice *splice, gpointer tag, GIOCondition *current, GIOCondition wanted)
{
  if (*current == wanted)
    return;
  *current = wanted;
  g_source_modify_unix_fd (splice->source, tag, wanted);
}

/* Runs the directions that can move; FALSE once the splice is finished (and freed). */
static gboolean
splice_run (RelaySplice *splice, GIOCondition got_a, GIOCondition got_b)
{
  Direction *dirs[] = { &splice->ab, &splice->ba };
  gboolean again = FALSE;

  for (guint i = 0; i < 2; i++)
    {
      Direction *d = dirs[i];

      if (!should_run (splice, d, got_a, got_b))
        continue;
      d->status = pump (d);
      if (d->status == DIR_ERROR)
        {
          g_autofree char *msg = g_strdup_printf ("%s: %s", d->label, g_strerror (d->error));
          finish (splice, msg);
          return FALSE;
        }
      if (d->status == DIR_BUDGET)
        again = TRUE;
    }
  if (splice->ab.status == DIR_DONE && splice->ba.status == DIR_DONE)
    {
      finish (splice, NULL);
      return FALSE;
    }
  /* A socket that hung up or failed while its reading direction is already done can never
   * take the other direction's bytes again: that is the end. (While its reading direction is
   * still open, reading drains what is left and reports the end itself.) */
  if (((got_a & (G_IO_ERR | G_IO_HUP)) && splice->ab.status == DIR_DONE) ||
      ((got_b & (G_IO_ERR | G_IO_HUP)) && splice->ba.status == DIR_DONE))
    {
      int err = socket_error (got_a & G_IO_ERR ? splice->fd_a : splice->fd_b);
      g_autofree char *msg = err ? g_strdup_printf ("%s: %s", got_a & G_IO_ERR ? "a" : "b",
                                                    g_strerror (err)) : NULL;

      finish (splice, (got_a | got_b) & G_IO_ERR ? (msg ? msg : "socket error") : NULL);
      return FALSE;
    }

  watch (splice, splice->tag_a, &splice->watch_a, want_on (splice, splice->fd_a));
  watch (splice, splice->tag_b, &splice->watch_b, want_on (splice, splice->fd_b));
  /* Setting it wakes the main context up (an eventfd write): only when it changes. */
  if (splice->ready_now != again)
    {
      splice->ready_now = again;
      g_source_set_ready_time (splice->source, again ? 0 : -1);
    }
  return TRUE;
}

static gboolean
splice_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  RelaySplice *splice = ((SpliceSource *) source)->splice;
  GIOCondition got_a = g_source_query_unix_fd (source, splice->tag_a);
  GIOCondition got_b = g_source_query_unix_fd (source, splice->tag_b);

  splice_run (splice, got_a, got_b);
  /* splice_run destroys the source when it finishes; staying attached is harmless then. */
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs splice_source_funcs = {
  .dispatch = splice_source_dispatch,
};

RelaySplice *
relay_splice_start (GSocketConnection *a, GSocketConnection *b, GBytes *a_prefix,
                    RelaySpliceDoneFunc done, gpointer user_data)
{
  static gsize sigpipe_ignored = 0;
  RelaySplice *splice;

  /* splice(2) into a socket the peer has closed raises SIGPIPE, and unlike send(2) it has no
   * MSG_NOSIGNAL: the EPIPE it also returns is all we need. */
  if (g_once_init_enter (&sigpipe_ignored))
    {
      signal (SIGPIPE, SIG_IGN);
      g_once_init_leave (&sigpipe_ignored, 1);
    }

  G_LOCK (pipe_pool);
  live_splices++;
  G_UNLOCK (pipe_pool);
  splice = g_new0 (RelaySplice, 1);
  splice->ab.pipe[0] = splice->ab.pipe[1] = -1;
  splice->ba.pipe[0] = splice->ba.pipe[1] = -1;
  splice->a = g_object_ref (a);
  splice->b = g_object_ref (b);
  splice->fd_a = g_socket_get_fd (g_socket_connection_get_socket (a));
  splice->fd_b = g_socket_get_fd (g_socket_connection_get_socket (b));
  splice->ab.label = "a->b";
  splice->ab.from = splice->fd_a;
  splice->ab.to = splice->fd_b;
  splice->ab.status = DIR_BUDGET;  /* run once at start: the prefix goes out first */
  if (a_prefix != NULL && g_bytes_get_size (a_prefix) > 0)
    splice->ab.prefix = g_bytes_ref (a_prefix);
  splice->ba.label = "b->a";
  splice->ba.from = splice->fd_b;
  splice->ba.to = splice->fd_a;
  splice->ba.status = DIR_BUDGET;
  splice->done = done;
  splice->user_data = user_data;

  splice->source = g_source_new (&splice_source_funcs, sizeof (SpliceSource));
  ((SpliceSource *) splice->source)->splice = splice;
  g_source_set_static_name (splice->source, "relay-splice");
  /* The dispatch never iterates the context, so nothing recurses; without this GLib blocks
   * the source around each dispatch, taking both fds out of the context's poll list and
   * putting them back (gmain.c block_source/unblock_source): two walks of that list, O(all
   * connections), and four wakeup-eventfd writes per dispatch (docs/benchmarks.md, fix A). */
  g_source_set_can_recurse (splice->source, TRUE);
  splice->watch_a = splice->watch_b = G_IO_IN;
  splice->tag_a = g_source_add_unix_fd (splice->source, splice->fd_a, splice->watch_a);
  splice->tag_b = g_source_add_unix_fd (splice->source, splice->fd_b, splice->watch_b);
  /* Run once right away: the prefix is usually written before the first poll. */
  splice->ready_now = TRUE;
  g_source_set_ready_time (splice->source, 0);
  g_source_attach (splice->source, NULL);
  return splice;
}

void
relay_splice_abort (RelaySplice *splice)
{
  splice->done = NULL;
  splice_free (splice);
}
