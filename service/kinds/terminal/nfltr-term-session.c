/* nfltr-term-session.c — one program on a pseudo-terminal, and the pages attached to it */
#define G_LOG_DOMAIN "nfltr-terminal"

#include "nfltr-term-session.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "nfltr-error.h"
#include "nfltr-term-message.h"
#include "nfltr-term-ring.h"
#include "nfltr-web-socket.h"

/* One WebSocket message of output at most: small enough to interleave pages fairly. */
#define SEND_CHUNK    (16 * 1024)
/* Read at most this much from the PTY per wake-up, so a flooding program cannot starve the
 * other tunnels served by the same thread. */
#define READ_PER_WAKE (64 * 1024)
/* How often a page whose socket is backed up is looked at again. */
#define RETRY_MS      100
/* How long a program gets after SIGHUP before SIGKILL when its session is disposed. */
#define KILL_GRACE_MS 3000

typedef struct {
  NfltrTermSession *session; /* unowned: the session owns the page */
  SoupWebsocketConnection *ws;
  gboolean writer;
  guint64 offset; /* the next stream offset to send */
  guint64 sent;   /* bytes sent over this connection */
  guint64 acked;
  GSource *retry; /* while the socket is backed up */
} Page;

struct _NfltrTermSession {
  GObject parent_instance;

  GMainContext *context;
  GPid pid;
  int master;
  GSource *read_source;
  GSource *write_source;
  GSource *child_source;
  GByteArray *input; /* keystrokes the program has not read yet */
  NfltrTermRing *ring;
  GPtrArray *pages; /* of Page* */
  char *title;
  gboolean running;
  int wait_status;
};

enum {
  SIGNAL_EXITED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NfltrTermSession, nfltr_term_session, G_TYPE_OBJECT)

static void update_reading (NfltrTermSession *self);

/* ---- pages --------------------------------------------------------------------------------- */

static void
send_json (Page *page, JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, FALSE);

  if (soup_websocket_connection_get_state (page->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (page->ws, text);
}

static void
send_skipped (Page *page, guint64 bytes)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "t");
  json_builder_add_string_value (b, "skipped");
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, bytes);
  json_builder_end_object (b);
  send_json (page, b);
}

static void
send_exit (NfltrTermSession *self, Page *page)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "t");
  json_builder_add_string_value (b, "exit");
  json_builder_set_member_name (b, "status");
  if (WIFEXITED (self->wait_status))
    json_builder_add_int_value (b, WEXITSTATUS (self->wait_status));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "signal");
  if (WIFSIGNALED (self->wait_status))
    json_builder_add_int_value (b, WTERMSIG (self->wait_status));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  send_json (page, b);
}

static void pump_page (NfltrTermSession *self, Page *page);

static gboolean
retry_cb (gpointer user_data)
{
  Page *page = user_data;

  g_clear_pointer (&page->retry, g_source_unref);
  pump_page (page->session, page);
  return G_SOURCE_REMOVE;
}

/* Sends what the page may still take of what the ring holds. */
static void
pump_page (NfltrTermSession *self, Page *page)
{
  if (soup_websocket_connection_get_state (page->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  while (page->sent - page->acked < NFLTR_TERM_WINDOW)
    {
      if (nfltr_web_socket_is_backed_up (page->ws))
        {
          /* Acknowledged but not read: look again later rather than let libsoup queue. */
          if (page->retry == NULL)
            {
              page->retry = g_timeout_source_new (RETRY_MS);
              g_source_set_callback (page->retry, retry_cb, page, NULL);
              g_source_attach (page->retry, self->context);
            }
          break;
        }
      guint64 start = nfltr_term_ring_get_start (self->ring);
      gsize room = NFLTR_TERM_WINDOW - (page->sent - page->acked);
      g_autoptr(GBytes) bytes = NULL;

      if (page->offset < start)
        {
          send_skipped (page, start - page->offset);
          page->offset = start;
        }
      bytes = nfltr_term_ring_read (self->ring, page->offset, MIN (room, SEND_CHUNK), NULL);
      if (bytes == NULL)
        break;
      soup_websocket_connection_send_message (page->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
      page->offset += g_bytes_get_size (bytes);
      page->sent += g_bytes_get_size (bytes);
    }
}

static void
page_free (Page *page)
{
  if (page->retry != NULL)
    {
      g_source_destroy (page->retry);
      g_source_unref (page->retry);
    }
  g_signal_handlers_disconnect_by_data (page->ws, page);
  if (soup_websocket_connection_get_state (page->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (page->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_object_unref (page->ws);
  g_free (page);
}

static void
drop_page (Page *page, gushort code, const char *why)
{
  NfltrTermSession *self = page->session;

  g_debug ("terminal page dropped: %s", why);
  if (soup_websocket_connection_get_state (page->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (page->ws, code, why);
  /* Frees page. */
  g_ptr_array_remove (self->pages, page);
  update_reading (self);
}

/* ---- the PTY ------------------------------------------------------------------------------- */

static gboolean write_ready_cb (int fd, GIOCondition condition, gpointer user_data);

static void
flush_input (NfltrTermSession *self)
{
  while (self->input->len > 0 && self->master >= 0)
    {
      ssize_t n = write (self->master, self->input->data, self->input->len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n <= 0)
        {
          /* The program is gone; its exit is on its way. */
          g_byte_array_set_size (self->input, 0);
          break;
        }
      g_byte_array_remove_range (self->input, 0, n);
    }
  if (self->input->len > 0 && self->write_source == NULL)
    {
      self->write_source = g_unix_fd_source_new (self->master, G_IO_OUT);
      g_source_set_callback (self->write_source, G_SOURCE_FUNC (write_ready_cb), self, NULL);
      g_source_attach (self->write_source, self->context);
    }
  else if (self->input->len == 0 && self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
}

static gboolean
write_ready_cb (int fd, GIOCondition condition, gpointer user_data)
{
  NfltrTermSession *self = user_data;

  flush_input (self);
  return G_SOURCE_CONTINUE;
}

/* FALSE when the program has left more than NFLTR_TERM_INPUT_MAX unread. */
static gboolean
write_input (NfltrTermSession *self, const guint8 *data, gsize len)
{
  if (!self->running)
    return TRUE;
  if (self->input->len + len > NFLTR_TERM_INPUT_MAX)
    return FALSE;
  g_byte_array_append (self->input, data, len);
  flush_input (self);
  return TRUE;
}

static void
set_size (NfltrTermSession *self, guint cols, guint rows)
{
  struct winsize ws = { .ws_row = rows, .ws_col = cols };

  /* The kernel sends SIGWINCH to the foreground process group. */
  if (self->master >= 0 && ioctl (self->master, TIOCSWINSZ, &ws) < 0)
    g_debug ("TIOCSWINSZ: %s", g_strerror (errno));
}

static void
pump_all (NfltrTermSession *self)
{
  for (guint i = 0; i < self->pages->len; i++)
    pump_page (self, g_ptr_array_index (self->pages, i));
}

/* Reads what the PTY has (up to READ_PER_WAKE); FALSE at its end. */
static gboolean
read_pty (NfltrTermSession *self)
{
  guint8 buf[16 * 1024];
  gsize total = 0;

  while (total < READ_PER_WAKE)
    {
      ssize_t n = read (self->master, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n <= 0)
        return FALSE; /* EIO: every process holding the other side has closed it */
      nfltr_term_ring_append (self->ring, buf, n);
      total += n;
    }
  if (total > 0)
    pump_all (self);
  return TRUE;
}

static gboolean
read_ready_cb (int fd, GIOCondition condition, gpointer user_data)
{
  NfltrTermSession *self = user_data;

  if (read_pty (self))
    {
      update_reading (self);
      return G_SOURCE_CONTINUE;
    }
  g_clear_pointer (&self->read_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static gboolean
is_throttled (NfltrTermSession *self)
{
  gboolean any_writer = FALSE;

  for (guint i = 0; i < self->pages->len; i++)
    {
      Page *page = g_ptr_array_index (self->pages, i);

      if (!page->writer)
        continue;
      any_writer = TRUE;
      if (page->sent - page->acked < NFLTR_TERM_WINDOW)
        return FALSE;
    }
  return any_writer;
}

/* Reads the PTY unless every writer page is full (see the header). */
static void
update_reading (NfltrTermSession *self)
{
  gboolean want = self->master >= 0 && !is_throttled (self);

  if (want && self->read_source == NULL)
    {
      self->read_source = g_unix_fd_source_new (self->master, G_IO_IN);
      g_source_set_callback (self->read_source, G_SOURCE_FUNC (read_ready_cb), self, NULL);
      g_source_attach (self->read_source, self->context);
    }
  else if (!want && self->read_source != NULL)
    {
      g_source_destroy (self->read_source);
      g_clear_pointer (&self->read_source, g_source_unref);
    }
}

static void
close_pty (NfltrTermSession *self)
{
  if (self->read_source != NULL)
    {
      g_source_destroy (self->read_source);
      g_clear_pointer (&self->read_source, g_source_unref);
    }
  if (self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
  if (self->master >= 0)
    {
      close (self->master);
      self->master = -1;
    }
}

static void
child_exited_cb (GPid pid, int wait_status, gpointer user_data)
{
  NfltrTermSession *self = user_data;

  g_clear_pointer (&self->child_source, g_source_unref);
  g_spawn_close_pid (pid);
  self->running = FALSE;
  self->wait_status = wait_status;
  /* What the program wrote just before it ended is still in the PTY (less than its buffer,
   * so one read takes it all). */
  if (self->master >= 0)
    read_pty (self);
  close_pty (self);
  g_byte_array_set_size (self->input, 0);
  for (guint i = 0; i < self->pages->len; i++)
    send_exit (self, g_ptr_array_index (self->pages, i));
  g_signal_emit (self, signals[SIGNAL_EXITED], 0, wait_status);
}

/* ---- pages' messages ----------------------------------------------------------------------- */

static void
message_cb (SoupWebsocketConnection *ws, int type, GBytes *message, gpointer user_data)
{
  Page *page = user_data;
  NfltrTermSession *self = page->session;
  g_autoptr(GError) error = NULL;
  NfltrTermMessage m;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (!nfltr_term_message_parse (data, len, &m, &error))
    {
      drop_page (page, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR, error->message);
      return;
    }
  switch (m.type)
    {
      case NFLTR_TERM_MESSAGE_INPUT:
        /* A viewer's keystrokes go nowhere; its page does not send them anyway. */
        if (page->writer && !write_input (self, m.data, m.len))
          drop_page (page, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                     "input flood: the program is not reading its input");
        break;
      case NFLTR_TERM_MESSAGE_RESIZE:
        if (page->writer)
          set_size (self, m.cols, m.rows);
        break;
      case NFLTR_TERM_MESSAGE_ACK:
        if (m.count < page->acked || m.count > page->sent)
          {
            drop_page (page, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR, "ack of bytes that were never sent");
            return;
          }
        page->acked = m.count;
        pump_page (self, page);
        update_reading (self);
        break;
      default: g_assert_not_reached ();
    }
}

static void
closed_cb (SoupWebsocketConnection *ws, gpointer user_data)
{
  Page *page = user_data;
  NfltrTermSession *self = page->session;

  g_ptr_array_remove (self->pages, page);
  update_reading (self);
}

void
nfltr_term_session_attach (NfltrTermSession *self, SoupWebsocketConnection *ws, gboolean writer)
{
  Page *page = g_new0 (Page, 1);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  guint64 start = nfltr_term_ring_get_start (self->ring);
  guint64 end = nfltr_term_ring_get_end (self->ring);

  page->session = self;
  page->ws = g_object_ref (ws);
  page->writer = writer;
  /* The replay starts at a line when one begins near its limit, not mid-sequence. */
  page->offset = end - start > NFLTR_TERM_REPLAY_MAX ? end - NFLTR_TERM_REPLAY_MAX : start;
  if (page->offset > start)
    {
      g_autoptr(GBytes) head = nfltr_term_ring_read (self->ring, page->offset, 4096, NULL);
      gsize len = 0;
      const guint8 *data = head != NULL ? g_bytes_get_data (head, &len) : NULL;
      const guint8 *nl = data != NULL ? memchr (data, '\n', len) : NULL;

      if (nl != NULL)
        page->offset += nl - data + 1;
    }
  soup_websocket_connection_set_max_incoming_payload_size (ws, NFLTR_TERM_MESSAGE_MAX + 1);
  g_signal_connect (ws, "message", G_CALLBACK (message_cb), page);
  g_signal_connect (ws, "closed", G_CALLBACK (closed_cb), page);
  g_ptr_array_add (self->pages, page);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "t");
  json_builder_add_string_value (b, "hello");
  json_builder_set_member_name (b, "writer");
  json_builder_add_boolean_value (b, writer);
  json_builder_set_member_name (b, "title");
  json_builder_add_string_value (b, self->title);
  json_builder_end_object (b);
  send_json (page, b);
  pump_page (self, page);
  if (!self->running)
    send_exit (self, page);
  update_reading (self);
}

/* ---- spawning ------------------------------------------------------------------------------ */

/* A new PTY: the agent's side non-blocking, both close-on-exec from the start so no other
 * program the service spawns meanwhile inherits them. */
static gboolean
open_pty (int *master_out, int *slave_out, GError **error)
{
  int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  char name[128];
  int slave;

  if (master < 0 || grantpt (master) < 0 || unlockpt (master) < 0 ||
      ptsname_r (master, name, sizeof name) != 0)
    {
      int saved = errno;

      if (master >= 0)
        close (master);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "cannot open a pseudo-terminal: %s",
                   g_strerror (saved));
      return FALSE;
    }
  slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    {
      int saved = errno;

      close (master);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "cannot open %s: %s", name,
                   g_strerror (saved));
      return FALSE;
    }
  g_unix_set_fd_nonblocking (master, TRUE, NULL);
  *master_out = master;
  *slave_out = slave;
  return TRUE;
}

/* The child's side of fork(): only async-signal-safe calls until exec. */
G_GNUC_NORETURN static void
exec_child (int slave, const char *path, char **argv, char **envp, const char *cwd)
{
  sigset_t all;
  struct sigaction dfl = { .sa_handler = SIG_DFL };

  /* The service may ignore or block signals; ignored ones would stay ignored across exec. */
  for (int sig = 1; sig < NSIG; sig++)
    sigaction (sig, &dfl, NULL);
  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);

  setsid ();
  if (ioctl (slave, TIOCSCTTY, 0) < 0 || dup2 (slave, 0) < 0 || dup2 (slave, 1) < 0 ||
      dup2 (slave, 2) < 0)
    _exit (127);
  if (slave > 2)
    close (slave);
  /* Nothing of the service's (sockets, other tunnels' files) reaches the program, whatever
   * forgot its close-on-exec flag. */
  close_range (3, ~0U, 0);
  if (cwd != NULL && chdir (cwd) < 0)
    (void) (chdir ("/") < 0);
  execve (path, argv, envp);
  _exit (127);
}

NfltrTermSession *
nfltr_term_session_new (const char * const *argv, const char *cwd, gsize ring_size, GError **error)
{
  g_autoptr(NfltrTermSession) self = g_object_new (NFLTR_TYPE_TERM_SESSION, NULL);
  g_autofree char *path = NULL;
  g_auto(GStrv) envp = g_get_environ ();
  g_autofree char *home = NULL;
  int slave = -1;
  pid_t pid;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

  path = g_find_program_in_path (argv[0]);
  if (path == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s” is not installed (not found in PATH)", argv[0]);
      return NULL;
    }
  if (cwd == NULL || !g_file_test (cwd, G_FILE_TEST_IS_DIR))
    cwd = home = g_strdup (g_get_home_dir ());
  envp = g_environ_setenv (envp, "TERM", "xterm-256color", TRUE);
  envp = g_environ_setenv (envp, "COLORTERM", "truecolor", TRUE);
  envp = g_environ_setenv (envp, "PWD", cwd, TRUE);

  self->ring = nfltr_term_ring_new (ring_size);
  self->title = g_strjoinv (" ", (char **) argv);
  if (!open_pty (&self->master, &slave, error))
    return NULL;
  set_size (self, 80, 24);

  pid = fork ();
  if (pid < 0)
    {
      int saved = errno;

      close (slave);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "cannot start “%s”: %s", argv[0],
                   g_strerror (saved));
      return NULL;
    }
  if (pid == 0)
    exec_child (slave, path, (char **) argv, envp, cwd);
  close (slave);

  self->pid = pid;
  self->running = TRUE;
  self->child_source = g_child_watch_source_new (pid);
  g_source_set_callback (self->child_source, G_SOURCE_FUNC (child_exited_cb), self, NULL);
  g_source_attach (self->child_source, self->context);
  update_reading (self);
  return g_steal_pointer (&self);
}

/* ---- the rest ------------------------------------------------------------------------------ */

gboolean
nfltr_term_session_is_running (NfltrTermSession *self)
{
  return self->running;
}

guint
nfltr_term_session_get_n_pages (NfltrTermSession *self)
{
  return self->pages->len;
}

GPid
nfltr_term_session_get_pid (NfltrTermSession *self)
{
  return self->pid;
}

gboolean
nfltr_term_session_is_throttled (NfltrTermSession *self)
{
  return self->read_source == NULL && self->master >= 0;
}

GBytes *
nfltr_term_session_get_transcript (NfltrTermSession *self, gboolean strip)
{
  guint64 start = nfltr_term_ring_get_start (self->ring);
  guint64 end = nfltr_term_ring_get_end (self->ring);
  g_autoptr(GBytes) raw = nfltr_term_ring_read (self->ring, start, end - start, NULL);
  GByteArray *out;
  gsize len = 0;
  const guint8 *data;
  guint state = 0;

  if (raw == NULL)
    return g_bytes_new (NULL, 0);
  if (!strip)
    return g_steal_pointer (&raw);
  data = g_bytes_get_data (raw, &len);
  out = g_byte_array_sized_new (len);
  nfltr_term_strip_ansi (data, len, &state, out);
  return g_byte_array_free_to_bytes (out);
}

typedef struct {
  GPid pid;
  GSource *kill_timeout;
} Reaper;

static void
reaped_cb (GPid pid, int status, gpointer user_data)
{
  Reaper *reaper = user_data;

  g_spawn_close_pid (pid);
  g_source_destroy (reaper->kill_timeout);
  g_source_unref (reaper->kill_timeout);
  g_free (reaper);
}

static gboolean
kill_cb (gpointer user_data)
{
  Reaper *reaper = user_data;

  kill (-reaper->pid, SIGKILL);
  kill (reaper->pid, SIGKILL);
  return G_SOURCE_REMOVE;
}

static void
nfltr_term_session_dispose (GObject *object)
{
  NfltrTermSession *self = NFLTR_TERM_SESSION (object);

  g_ptr_array_set_size (self->pages, 0);
  close_pty (self);
  if (self->child_source != NULL)
    {
      Reaper *reaper = g_new0 (Reaper, 1);
      GSource *watch;

      g_source_destroy (self->child_source);
      g_clear_pointer (&self->child_source, g_source_unref);
      /* The program leads its own session: a hangup for all of it, as a closed terminal
       * window sends, then SIGKILL for what ignores it. It is reaped on the global default
       * context, which outlives this one. */
      kill (-self->pid, SIGHUP);
      reaper->pid = self->pid;
      reaper->kill_timeout = g_timeout_source_new (KILL_GRACE_MS);
      g_source_set_callback (reaper->kill_timeout, kill_cb, reaper, NULL);
      g_source_attach (reaper->kill_timeout, NULL);
      watch = g_child_watch_source_new (self->pid);
      g_source_set_callback (watch, G_SOURCE_FUNC (reaped_cb), reaper, NULL);
      g_source_attach (watch, NULL);
      g_source_unref (watch);
      self->running = FALSE;
    }
  G_OBJECT_CLASS (nfltr_term_session_parent_class)->dispose (object);
}

static void
nfltr_term_session_finalize (GObject *object)
{
  NfltrTermSession *self = NFLTR_TERM_SESSION (object);

  g_ptr_array_unref (self->pages);
  g_byte_array_unref (self->input);
  g_clear_pointer (&self->ring, nfltr_term_ring_free);
  g_free (self->title);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (nfltr_term_session_parent_class)->finalize (object);
}

static void
nfltr_term_session_class_init (NfltrTermSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_term_session_dispose;
  object_class->finalize = nfltr_term_session_finalize;

  /* The program ended; the argument is its wait status. Pages stay attached. */
  signals[SIGNAL_EXITED] = g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
}

static void
nfltr_term_session_init (NfltrTermSession *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->master = -1;
  self->input = g_byte_array_new ();
  self->pages = g_ptr_array_new_with_free_func ((GDestroyNotify) page_free);
}
