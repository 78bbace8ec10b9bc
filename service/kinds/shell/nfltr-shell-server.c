/* nfltr-shell-server.c — the SSH server of a "shell" tunnel, on libssh (see the header) */
#define G_LOG_DOMAIN "nfltr-shell"

#include "nfltr-shell-server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "nfltr-error.h"
#include "nfltr-proto.h"
#include "nfltr-shell-keys.h"

/* How long a session's processes get between SIGHUP and SIGKILL when the tunnel stops. */
#define KILL_GRACE_MS 1000
/* Reads from a process at most this much at a time (libssh's channel packets are 32 KiB). */
#define READ_CHUNK (32 * 1024)
/* Environment variables a client may set (OpenSSH's Debian default is AcceptEnv LANG LC_*). */
#define MAX_ENV_REQUESTS 64

/* Where Debian and others keep OpenSSH's SFTP server: scp and sftp speak SFTP to it. */
static const char * const sftp_server_paths[] = { "/usr/lib/openssh/sftp-server",
                                                  "/usr/libexec/openssh/sftp-server",
                                                  "/usr/libexec/sftp-server", "/usr/lib/ssh/sftp-server",
                                                  NULL };

typedef struct _ShellConn ShellConn;

typedef struct {
  ShellConn *conn;
  ssh_channel channel;
  struct ssh_channel_callbacks_struct cb;

  gboolean want_pty;
  struct winsize winsize;
  char *term;
  GPtrArray *env; /* "NAME=value" the client asked for */

  pid_t pid; /* 0: nothing started */
  int pidfd;
  int in_fd;  /* to the process (the PTY master with a PTY) */
  int out_fd; /* from the process (the PTY master with a PTY) */
  int err_fd;
  gboolean out_ready; /* set by the poll callbacks, handled after the poll */
  gboolean err_ready;
  gboolean exit_ready;
  gboolean exited;
  int wait_status;
  gboolean finished; /* exit status, EOF and CLOSE sent */
} ShellChannel;

struct _ShellConn {
  NfltrShellServer *server;
  GThread *thread;
  int fd;      /* the session's socket until the thread ends, else -1 */
  int wake_fd; /* eventfd: the tunnel stops */
  char *host_key;
  char *client_addr;
  gint64 started;
  gboolean authenticated;
  gboolean cancelled;
  gboolean done;

  /* the thread's own */
  ssh_session session;
  ssh_event event;
  guint auth_failures;
  char *forced_command;
  gboolean no_pty;
  GPtrArray *channels;
};

struct _NfltrShellServer {
  GMutex lock;
  char *authorized_keys;
  guint auth_timeout_s;
  guint test_slow_auth_ms; /* tests only: NFLTR_SHELL_TEST_SLOW_AUTH_MS, see the auth loop */
  guint max_unauthenticated;
  guint max_connections;
  GList *conns; /* ShellConn, newest first */
  gboolean stopping;
};

static void
ensure_libssh (void)
{
  static gsize once;

  if (g_once_init_enter (&once))
    {
      ssh_init ();
      g_once_init_leave (&once, 1);
    }
}

/* --- writing to processes ------------------------------------------------------------------ */

/* Writes everything (the fd may be non-blocking); FALSE once the process stopped reading or
 * the connection is being ended (*cancelled). */
static gboolean
write_all (int fd, const guint8 *data, gsize len, const gboolean *cancelled)
{
  while (len > 0 && !g_atomic_int_get (cancelled))
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          struct pollfd p = { .fd = fd, .events = POLLOUT };

          /* The process is slow to read: the SSH window holds the client back meanwhile. */
          if (poll (&p, 1, 1000) < 0 && errno != EINTR)
            return FALSE;
          continue;
        }
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
    }
  return len == 0;
}

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    {
      close (*fd);
      *fd = -1;
    }
}

/* --- channels ------------------------------------------------------------------------------ */

static void
channel_remove_fd (ShellChannel *ch, int *fd)
{
  if (*fd < 0)
    return;
  ssh_event_remove_fd (ch->conn->event, *fd);
  /* With a PTY one descriptor is both directions. */
  if (ch->in_fd == *fd && fd != &ch->in_fd)
    ch->in_fd = -1;
  if (ch->out_fd == *fd && fd != &ch->out_fd)
    ch->out_fd = -1;
  close_fd (fd);
}

static void
shell_channel_free (ShellChannel *ch)
{
  if (ch->pid > 0 && !ch->exited)
    {
      /* The client left or the tunnel stops: hang up on the process group, as a closed
       * terminal would, then make sure. */
      kill (-ch->pid, SIGHUP);
      if (ch->pidfd >= 0)
        {
          struct pollfd p = { .fd = ch->pidfd, .events = POLLIN };

          if (poll (&p, 1, KILL_GRACE_MS) <= 0)
            kill (-ch->pid, SIGKILL);
        }
      else
        kill (-ch->pid, SIGKILL);
      waitpid (ch->pid, NULL, 0);
    }
  if (ch->out_fd == ch->in_fd)
    ch->in_fd = -1;
  channel_remove_fd (ch, &ch->out_fd);
  channel_remove_fd (ch, &ch->err_fd);
  channel_remove_fd (ch, &ch->pidfd);
  close_fd (&ch->in_fd);
  if (ch->channel != NULL)
    {
      /* libssh may keep the channel until the client's CLOSE: it must not call us then. */
      ssh_remove_channel_callbacks (ch->channel, &ch->cb);
      ssh_channel_free (ch->channel);
    }
  g_free (ch->term);
  g_ptr_array_unref (ch->env);
  g_free (ch);
}

static int
out_ready_cb (socket_t fd, int revents, void *userdata)
{
  ShellChannel *ch = userdata;

  if (fd == ch->out_fd)
    ch->out_ready = TRUE;
  else if (fd == ch->err_fd)
    ch->err_ready = TRUE;
  else if (fd == ch->pidfd)
    ch->exit_ready = TRUE;
  return 0;
}

/* Copies one chunk of what the process wrote to the channel (the poll comes back for more,
 * so other channels and the client's input get their turn): the bytes copied, 0 when there
 * was nothing to read, -1 once the descriptor is done (or the channel is). */
static gssize
pump_output (ShellChannel *ch, int fd, gboolean is_stderr)
{
  guint8 buf[READ_CHUNK];
  ssize_t n;

  do
    n = read (fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return 0;
  /* EIO: a PTY whose last slave closed. */
  if (n <= 0)
    return -1;
  if ((is_stderr ? ssh_channel_write_stderr (ch->channel, buf, n) : ssh_channel_write (ch->channel, buf, n)) ==
      SSH_ERROR)
    return -1;
  return n;
}

static const char *
signal_name (int sig)
{
  /* RFC 4254 §6.10: the name without "SIG". */
  switch (sig)
    {
      case SIGABRT: return "ABRT";
      case SIGALRM: return "ALRM";
      case SIGFPE: return "FPE";
      case SIGHUP: return "HUP";
      case SIGILL: return "ILL";
      case SIGINT: return "INT";
      case SIGKILL: return "KILL";
      case SIGPIPE: return "PIPE";
      case SIGQUIT: return "QUIT";
      case SIGSEGV: return "SEGV";
      case SIGTERM: return "TERM";
      case SIGUSR1: return "USR1";
      case SIGUSR2: return "USR2";
      default: return NULL;
    }
}

static int
signal_number (const char *name)
{
  static const int sigs[] = { SIGABRT, SIGALRM, SIGFPE,  SIGHUP,  SIGILL,  SIGINT, SIGKILL,
                              SIGPIPE, SIGQUIT, SIGSEGV, SIGTERM, SIGUSR1, SIGUSR2 };

  for (guint i = 0; i < G_N_ELEMENTS (sigs); i++)
    if (g_strcmp0 (signal_name (sigs[i]), name) == 0)
      return sigs[i];
  return 0;
}

/* After a poll: move output, reap the process, and once it is gone and its output drained,
 * send exit-status (or exit-signal), EOF and CLOSE (RFC 4254 §6.10, §5.3). */
static void
channel_progress (ShellChannel *ch)
{
  if (ch->out_ready && ch->out_fd >= 0)
    {
      ch->out_ready = FALSE;
      if (pump_output (ch, ch->out_fd, FALSE) < 0)
        {
          if (ch->in_fd == ch->out_fd)
            ch->in_fd = -1;
          channel_remove_fd (ch, &ch->out_fd);
        }
    }
  if (ch->err_ready && ch->err_fd >= 0)
    {
      ch->err_ready = FALSE;
      if (pump_output (ch, ch->err_fd, TRUE) < 0)
        channel_remove_fd (ch, &ch->err_fd);
    }
  /* Without a pidfd (a kernel before 5.3) the exit is looked for after every poll. */
  if ((ch->exit_ready || (ch->pidfd < 0 && ch->pid > 0)) && !ch->exited)
    {
      ch->exit_ready = FALSE;
      if (waitpid (ch->pid, &ch->wait_status, WNOHANG) == ch->pid)
        {
          ch->exited = TRUE;
          channel_remove_fd (ch, &ch->pidfd);
          /* A PTY stays open while a background job holds it; what the shell wrote before
           * leaving is read now, and nothing waits for the rest (sshd does the same). */
          if (ch->want_pty && ch->out_fd >= 0)
            {
              /* Bounded: a background job may write on forever. */
              for (guint i = 0; i < 64 && pump_output (ch, ch->out_fd, FALSE) > 0; i++)
                ;
              ch->in_fd = -1;
              channel_remove_fd (ch, &ch->out_fd);
            }
        }
    }
  if (ch->exited && ch->out_fd < 0 && ch->err_fd < 0 && !ch->finished)
    {
      ch->finished = TRUE;
      if (WIFSIGNALED (ch->wait_status))
        {
          const char *name = signal_name (WTERMSIG (ch->wait_status));

          ssh_channel_request_send_exit_signal (ch->channel, name != NULL ? name : "KILL",
                                                WCOREDUMP (ch->wait_status), "", "");
        }
      else
        ssh_channel_request_send_exit_status (ch->channel, WEXITSTATUS (ch->wait_status));
      ssh_channel_send_eof (ch->channel);
      ssh_channel_close (ch->channel);
    }
}

static int
data_cb (ssh_session session, ssh_channel channel, void *data, uint32_t len, int is_stderr,
         void *userdata)
{
  ShellChannel *ch = userdata;

  /* Before the process starts, or after it stopped reading, input goes nowhere. */
  if (ch->in_fd >= 0 && !write_all (ch->in_fd, data, len, &ch->conn->cancelled))
    {
      if (ch->in_fd != ch->out_fd)
        close_fd (&ch->in_fd);
    }
  return len;
}

static void
eof_cb (ssh_session session, ssh_channel channel, void *userdata)
{
  ShellChannel *ch = userdata;

  /* A pipe's reader sees the end of its input; a PTY has no such thing (sshd ignores it). */
  if (!ch->want_pty && ch->in_fd >= 0 && ch->in_fd != ch->out_fd)
    close_fd (&ch->in_fd);
}

static void
signal_cb (ssh_session session, ssh_channel channel, const char *signal, void *userdata)
{
  ShellChannel *ch = userdata;
  int sig = signal_number (signal);

  if (ch->pid > 0 && !ch->exited && sig != 0)
    kill (-ch->pid, sig);
}

static int
pty_request_cb (ssh_session session, ssh_channel channel, const char *term, int cols, int rows,
                int px, int py, void *userdata)
{
  ShellChannel *ch = userdata;

  if (ch->conn->no_pty || ch->pid > 0)
    return SSH_ERROR;
  ch->want_pty = TRUE;
  g_free (ch->term);
  ch->term = g_strdup (term);
  ch->winsize = (struct winsize) { .ws_row = rows, .ws_col = cols, .ws_xpixel = px, .ws_ypixel = py };
  return SSH_OK;
}

static int
window_change_cb (ssh_session session, ssh_channel channel, int cols, int rows, int px, int py,
                  void *userdata)
{
  ShellChannel *ch = userdata;

  ch->winsize = (struct winsize) { .ws_row = rows, .ws_col = cols, .ws_xpixel = px, .ws_ypixel = py };
  /* The kernel sends SIGWINCH to the terminal's foreground group. */
  if (ch->want_pty && ch->out_fd >= 0)
    ioctl (ch->out_fd, TIOCSWINSZ, &ch->winsize);
  return SSH_OK;
}

static gboolean
env_name_allowed (const char *name)
{
  return g_str_equal (name, "LANG") || g_str_has_prefix (name, "LC_") ||
         g_str_equal (name, "COLORTERM") || g_str_equal (name, "TZ");
}

static int
env_request_cb (ssh_session session, ssh_channel channel, const char *name, const char *value,
                void *userdata)
{
  ShellChannel *ch = userdata;

  if (!env_name_allowed (name) || strchr (name, '=') != NULL || ch->env->len >= MAX_ENV_REQUESTS)
    return SSH_ERROR;
  g_ptr_array_add (ch->env, g_strdup_printf ("%s=%s", name, value));
  return SSH_OK;
}

/* The environment of a session's process: the user's basics, as login(1) gives them, and
 * what the client may set. */
static char **
session_environment (ShellChannel *ch, const struct passwd *pw, const char *original_command)
{
  GPtrArray *env = g_ptr_array_new ();
  const char *path = g_getenv ("PATH");
  const char *runtime = g_getenv ("XDG_RUNTIME_DIR");
  g_auto(GStrv) addr = g_strsplit (ch->conn->client_addr, ":", -1);
  guint n_addr = g_strv_length (addr);

  g_ptr_array_add (env, g_strdup_printf ("USER=%s", pw->pw_name));
  g_ptr_array_add (env, g_strdup_printf ("LOGNAME=%s", pw->pw_name));
  g_ptr_array_add (env, g_strdup_printf ("HOME=%s", g_get_home_dir ()));
  g_ptr_array_add (env, g_strdup_printf ("SHELL=%s", pw->pw_shell));
  g_ptr_array_add (env, g_strdup_printf ("PATH=%s", path != NULL ? path : "/usr/local/bin:/usr/bin:/bin"));
  if (runtime != NULL)
    g_ptr_array_add (env, g_strdup_printf ("XDG_RUNTIME_DIR=%s", runtime));
  if (ch->want_pty && ch->term != NULL)
    g_ptr_array_add (env, g_strdup_printf ("TERM=%s", ch->term));
  if (n_addr >= 2)
    {
      /* "IP PORT" of the public client, as sshd's SSH_CLIENT; the address is split at its
       * last colon, so an IPv6 address keeps its own. */
      g_autofree char *ip = g_strjoinv (":", addr);

      ip[strlen (ip) - strlen (addr[n_addr - 1]) - 1] = '\0';
      g_ptr_array_add (env, g_strdup_printf ("SSH_CLIENT=%s %s 0", ip, addr[n_addr - 1]));
      g_ptr_array_add (env, g_strdup_printf ("SSH_CONNECTION=%s %s 127.0.0.1 0", ip, addr[n_addr - 1]));
    }
  if (original_command != NULL)
    g_ptr_array_add (env, g_strdup_printf ("SSH_ORIGINAL_COMMAND=%s", original_command));
  for (guint i = 0; i < ch->env->len; i++)
    g_ptr_array_add (env, g_strdup (g_ptr_array_index (ch->env, i)));
  g_ptr_array_add (env, NULL);
  return (char **) g_ptr_array_free (env, FALSE);
}

static const char *
find_sftp_server (void)
{
  for (guint i = 0; sftp_server_paths[i] != NULL; i++)
    if (g_file_test (sftp_server_paths[i], G_FILE_TEST_IS_EXECUTABLE))
      return sftp_server_paths[i];
  return NULL;
}

/* Starts the session's process: the login shell (command NULL, sftp FALSE), the shell with
 * -c command, or the SFTP server. The child only calls async-signal-safe functions between
 * fork and exec: this process has threads. */
static gboolean
channel_start (ShellChannel *ch, const char *command, gboolean sftp)
{
  struct passwd pw_buf, *pw = NULL;
  char pw_strings[4096];
  g_autofree char *login_name = NULL;
  const char *original = command;
  g_auto(GStrv) envp = NULL;
  char *argv[4] = { NULL };
  int master = -1, slave = -1;
  int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
  const char *sftp_server = NULL;
  const char *shell;
  const char *home;
  pid_t pid;

  if (ch->pid > 0 || getpwuid_r (getuid (), &pw_buf, pw_strings, sizeof pw_strings, &pw) != 0 || pw == NULL)
    return FALSE;
  shell = pw->pw_shell != NULL && *pw->pw_shell != '\0' ? pw->pw_shell : "/bin/sh";
  /* $HOME as the service has it (GLib's choice), which is the account's unless the user
   * moved it on purpose. */
  home = g_get_home_dir ();
  /* A key with command="…" runs that and nothing else, whatever the client asked. */
  if (ch->conn->forced_command != NULL)
    {
      command = ch->conn->forced_command;
      sftp = FALSE;
    }
  if (sftp)
    {
      sftp_server = find_sftp_server ();
      if (sftp_server == NULL)
        {
          g_warning ("no sftp-server found (install openssh-sftp-server): sftp and scp fail");
          return FALSE;
        }
      argv[0] = (char *) sftp_server;
      original = NULL;
    }
  else if (command != NULL)
    {
      argv[0] = (char *) shell;
      argv[1] = (char *) "-c";
      argv[2] = (char *) command;
    }
  else
    {
      /* argv[0] "-bash": a login shell reads the profile, as after ssh's login. */
      g_autofree char *base = g_path_get_basename (shell);

      login_name = g_strconcat ("-", base, NULL);
      argv[0] = login_name;
    }
  envp = session_environment (ch, pw, original);

  if (ch->want_pty && !sftp)
    {
      if (openpty (&master, &slave, NULL, NULL, &ch->winsize) < 0)
        return FALSE;
    }
  else if (!g_unix_open_pipe (in_pipe, FD_CLOEXEC, NULL) ||
           !g_unix_open_pipe (out_pipe, FD_CLOEXEC, NULL) ||
           !g_unix_open_pipe (err_pipe, FD_CLOEXEC, NULL))
    {
      close_fd (&in_pipe[0]), close_fd (&in_pipe[1]);
      close_fd (&out_pipe[0]), close_fd (&out_pipe[1]);
      close_fd (&err_pipe[0]), close_fd (&err_pipe[1]);
      return FALSE;
    }

  pid = fork ();
  if (pid == 0)
    {
      sigset_t none;
      const char *exe = sftp ? sftp_server : shell;

      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      for (int sig = 1; sig < NSIG; sig++)
        signal (sig, SIG_DFL);
      setsid ();
      if (master >= 0)
        {
          ioctl (slave, TIOCSCTTY, 0);
          dup2 (slave, 0);
          dup2 (slave, 1);
          dup2 (slave, 2);
        }
      else
        {
          dup2 (in_pipe[0], 0);
          dup2 (out_pipe[1], 1);
          dup2 (err_pipe[1], 2);
        }
      close_range (3, ~0U, 0);
      if (chdir (home) < 0)
        (void) !chdir ("/");
      execve (exe, argv, envp);
      _exit (127);
    }
  if (pid < 0)
    {
      close_fd (&master), close_fd (&slave);
      close_fd (&in_pipe[0]), close_fd (&in_pipe[1]);
      close_fd (&out_pipe[0]), close_fd (&out_pipe[1]);
      close_fd (&err_pipe[0]), close_fd (&err_pipe[1]);
      return FALSE;
    }
  ch->pid = pid;
  ch->pidfd = pidfd_open (pid, 0);
  if (master >= 0)
    {
      close (slave);
      fcntl (master, F_SETFD, FD_CLOEXEC);
      ch->in_fd = ch->out_fd = master;
    }
  else
    {
      close (in_pipe[0]);
      close (out_pipe[1]);
      close (err_pipe[1]);
      ch->in_fd = in_pipe[1];
      ch->out_fd = out_pipe[0];
      ch->err_fd = err_pipe[0];
    }
  g_unix_set_fd_nonblocking (ch->out_fd, TRUE, NULL);
  if (ch->err_fd >= 0)
    g_unix_set_fd_nonblocking (ch->err_fd, TRUE, NULL);
  ssh_event_add_fd (ch->conn->event, ch->out_fd, POLLIN, out_ready_cb, ch);
  if (ch->err_fd >= 0)
    ssh_event_add_fd (ch->conn->event, ch->err_fd, POLLIN, out_ready_cb, ch);
  if (ch->pidfd >= 0)
    ssh_event_add_fd (ch->conn->event, ch->pidfd, POLLIN, out_ready_cb, ch);
  g_debug ("%s: started %s (pid %d)", ch->conn->client_addr,
           sftp ? "sftp-server" : command != NULL ? "a command" : "a shell", pid);
  return TRUE;
}

static int
shell_request_cb (ssh_session session, ssh_channel channel, void *userdata)
{
  return channel_start (userdata, NULL, FALSE) ? SSH_OK : SSH_ERROR;
}

static int
exec_request_cb (ssh_session session, ssh_channel channel, const char *command, void *userdata)
{
  return channel_start (userdata, command, FALSE) ? SSH_OK : SSH_ERROR;
}

static int
subsystem_request_cb (ssh_session session, ssh_channel channel, const char *subsystem,
                      void *userdata)
{
  ShellChannel *ch = userdata;

  if (!g_str_equal (subsystem, "sftp"))
    return SSH_ERROR;
  /* No PTY for a binary protocol, whatever was asked before. */
  ch->want_pty = FALSE;
  return channel_start (ch, NULL, TRUE) ? SSH_OK : SSH_ERROR;
}

static ssh_channel
channel_open_cb (ssh_session session, void *userdata)
{
  ShellConn *c = userdata;
  ShellChannel *ch;

  if (!c->authenticated || c->channels->len >= NFLTR_SHELL_MAX_CHANNELS)
    return NULL;
  ch = g_new0 (ShellChannel, 1);
  ch->conn = c;
  ch->channel = ssh_channel_new (session);
  ch->pidfd = ch->in_fd = ch->out_fd = ch->err_fd = -1;
  ch->env = g_ptr_array_new_with_free_func (g_free);
  ch->winsize = (struct winsize) { .ws_row = 24, .ws_col = 80 };
  ch->cb = (struct ssh_channel_callbacks_struct) {
    .userdata = ch,
    .channel_data_function = data_cb,
    .channel_eof_function = eof_cb,
    .channel_signal_function = signal_cb,
    .channel_pty_request_function = pty_request_cb,
    .channel_pty_window_change_function = window_change_cb,
    .channel_shell_request_function = shell_request_cb,
    .channel_exec_request_function = exec_request_cb,
    .channel_env_request_function = env_request_cb,
    .channel_subsystem_request_function = subsystem_request_cb,
  };
  ssh_callbacks_init (&ch->cb);
  ssh_set_channel_callbacks (ch->channel, &ch->cb);
  g_ptr_array_add (c->channels, ch);
  return ch->channel;
}

/* --- authentication ------------------------------------------------------------------------ */

/* The authorized_keys line that holds key, or FALSE. Read at every attempt, as sshd does, so
 * an edit takes effect at once; a file others may write is not trusted (sshd's StrictModes). */
static gboolean
find_authorized_key (ShellConn *c, ssh_key key, NfltrShellAuthorizedKey *found)
{
  const char *path = c->server->authorized_keys;
  g_autofree char *contents = NULL;
  gsize len;
  struct stat st;
  const char *line, *end;

  if (g_stat (path, &st) < 0)
    {
      g_debug ("%s: no authorized keys: %s", c->client_addr, path);
      return FALSE;
    }
  if (st.st_uid != getuid () || (st.st_mode & 022) != 0 || st.st_size > NFLTR_SHELL_MAX_KEYS_FILE)
    {
      g_warning ("%s is writable by others (or too large): no key in it is trusted", path);
      return FALSE;
    }
  if (!g_file_get_contents (path, &contents, &len, NULL))
    return FALSE;

  for (line = contents; line < contents + len; line = end + 1)
    {
      NfltrShellAuthorizedKey entry;
      g_autofree char *reason = NULL;
      ssh_key candidate = NULL;
      gboolean match;

      end = memchr (line, '\n', contents + len - line);
      if (end == NULL)
        end = contents + len;
      switch (nfltr_shell_authorized_key_parse (line, end - line, &entry, &reason))
        {
          case NFLTR_SHELL_KEY_LINE_EMPTY: continue;
          case NFLTR_SHELL_KEY_LINE_REFUSED:
            g_debug ("%s: line “%.*s” skipped: %s", path, (int) MIN (end - line, 80), line, reason);
            continue;
          case NFLTR_SHELL_KEY_LINE_KEY:
          default: break;
        }
      match = ssh_pki_import_pubkey_base64 (entry.base64, ssh_key_type_from_name (entry.type), &candidate) ==
                SSH_OK &&
              ssh_key_cmp (candidate, key, SSH_KEY_CMP_PUBLIC) == 0;
      ssh_key_free (candidate);
      if (match)
        {
          *found = entry;
          return TRUE;
        }
      nfltr_shell_authorized_key_clear (&entry);
    }
  return FALSE;
}

static void
auth_failed (ShellConn *c, const char *what)
{
  c->auth_failures++;
  g_debug ("%s: authentication refused (%s), attempt %u", c->client_addr, what, c->auth_failures);
  /* The last refusal is the disconnect itself, as sshd does it: the client is waiting for an
   * answer and reads the reason, rather than writing its next attempt into a closed socket.
   * libssh holds back a write made before its poll loop has seen the socket writable again,
   * and ssh_disconnect closes the socket without flushing: when the client's attempt came in
   * the same poll round as that writability (a loaded machine), the reason was lost and the
   * client saw "Connection closed". The socket is a local one with room for a packet: say so. */
  if (c->auth_failures >= NFLTR_SHELL_MAX_AUTH_TRIES)
    {
      ssh_session_set_disconnect_message (c->session, "Too many authentication failures");
      ssh_set_fd_towrite (c->session);
      ssh_disconnect (c->session);
    }
}

static int
auth_pubkey_cb (ssh_session session, const char *user, struct ssh_key_struct *pubkey,
                char signature_state, void *userdata)
{
  ShellConn *c = userdata;
  NfltrShellAuthorizedKey entry;

  /* This server runs as its user and can be nobody else. */
  if (g_strcmp0 (user, g_get_user_name ()) != 0)
    {
      auth_failed (c, "another user name");
      return SSH_AUTH_DENIED;
    }
  if (signature_state != SSH_PUBLICKEY_STATE_NONE && signature_state != SSH_PUBLICKEY_STATE_VALID)
    {
      auth_failed (c, "bad signature");
      return SSH_AUTH_DENIED;
    }
  if (!find_authorized_key (c, pubkey, &entry))
    {
      auth_failed (c, "key not authorized");
      return SSH_AUTH_DENIED;
    }
  if (signature_state == SSH_PUBLICKEY_STATE_VALID)
    {
      g_clear_pointer (&c->forced_command, g_free);
      c->forced_command = g_steal_pointer (&entry.command);
      c->no_pty = entry.no_pty;
      g_mutex_lock (&c->server->lock);
      c->authenticated = TRUE;
      g_mutex_unlock (&c->server->lock);
      g_message ("%s: %s logged in with a %s key", c->client_addr, user, entry.type);
    }
  nfltr_shell_authorized_key_clear (&entry);
  /* Without a signature SUCCESS means "this key would do" (RFC 4252 §7, PK_OK). */
  return SSH_AUTH_SUCCESS;
}

static int
auth_password_cb (ssh_session session, const char *user, const char *password, void *userdata)
{
  auth_failed (userdata, "password (only keys are accepted)");
  return SSH_AUTH_DENIED;
}

static int
auth_none_cb (ssh_session session, const char *user, void *userdata)
{
  /* The client's first question: which methods? Not a failed attempt. */
  return SSH_AUTH_DENIED;
}

/* --- one connection ------------------------------------------------------------------------ */

static int
wake_cb (socket_t fd, int revents, void *userdata)
{
  ShellConn *c = userdata;
  guint64 v;

  (void) !read (fd, &v, sizeof v);
  c->cancelled = TRUE;
  return 0;
}

static gboolean
session_closed (ShellConn *c)
{
  return (ssh_get_status (c->session) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0 ||
         !ssh_is_connected (c->session);
}

static void
serve (ShellConn *c)
{
  struct ssh_server_callbacks_struct server_cb = {
    .userdata = c,
    .auth_pubkey_function = auth_pubkey_cb,
    .auth_password_function = auth_password_cb,
    .auth_none_function = auth_none_cb,
    .channel_open_request_session_function = channel_open_cb,
  };
  ssh_bind bind = ssh_bind_new ();
  bool no = false;
  long timeout = c->server->auth_timeout_s;
  gint64 deadline = c->started + (gint64) c->server->auth_timeout_s * G_USEC_PER_SEC;

  /* No /etc/ssh/libssh_server_config: the server is what this file says. */
  ssh_bind_options_set (bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
  ssh_bind_options_set (bind, SSH_BIND_OPTIONS_HOSTKEY, c->host_key);
  c->session = ssh_new ();
  /* From here the session owns the socket and closes it in ssh_free(). */
  if (ssh_bind_accept_fd (bind, c->session, c->fd) != SSH_OK)
    {
      g_warning ("ssh: cannot serve %s: %s", c->client_addr, ssh_get_error (bind));
      ssh_bind_free (bind);
      return;
    }
  ssh_bind_free (bind);
  ssh_options_set (c->session, SSH_OPTIONS_TIMEOUT, &timeout);
  ssh_callbacks_init (&server_cb);
  ssh_set_server_callbacks (c->session, &server_cb);

  if (ssh_handle_key_exchange (c->session) != SSH_OK)
    {
      g_debug ("%s: key exchange failed: %s", c->client_addr, ssh_get_error (c->session));
      return;
    }
  ssh_set_auth_methods (c->session, SSH_AUTH_METHOD_PUBLICKEY);

  c->event = ssh_event_new ();
  ssh_event_add_session (c->event, c->session);
  ssh_event_add_fd (c->event, c->wake_fd, POLLIN, wake_cb, c);

  while (!c->authenticated)
    {
      if (c->cancelled || session_closed (c))
        return;
      if (g_get_monotonic_time () > deadline)
        {
          g_debug ("%s: no authentication within %u s", c->client_addr, c->server->auth_timeout_s);
          ssh_session_set_disconnect_message (c->session, "Authentication timeout");
          ssh_set_fd_towrite (c->session); /* see auth_failed */
          ssh_disconnect (c->session);
          return;
        }
      if (c->auth_failures >= NFLTR_SHELL_MAX_AUTH_TRIES)
        {
          g_debug ("%s: too many authentication failures", c->client_addr);
          return;
        }
      if (ssh_event_dopoll (c->event, 200) == SSH_ERROR && session_closed (c))
        return;
      /* Tests: a server slow after its next-to-last refusal, so the client's last attempt is
       * already there when it polls again (the case auth_failed describes). */
      if (c->server->test_slow_auth_ms > 0 && c->auth_failures == NFLTR_SHELL_MAX_AUTH_TRIES - 1)
        g_usleep (c->server->test_slow_auth_ms * 1000);
    }

  /* Authenticated: a session may sit idle for as long as its user wants (a channel write
   * waits for the client's window without a deadline whatever this says). */
  timeout = 24 * 60 * 60;
  ssh_options_set (c->session, SSH_OPTIONS_TIMEOUT, &timeout);
  while (!c->cancelled && !session_closed (c))
    {
      if (ssh_event_dopoll (c->event, 1000) == SSH_ERROR && session_closed (c))
        break;
      for (guint i = 0; i < c->channels->len;)
        {
          ShellChannel *ch = g_ptr_array_index (c->channels, i);

          channel_progress (ch);
          /* Closed (by us once the process ended, or by the client): gone, and a process
           * still running gets the hang-up a closed terminal gives. */
          if (ssh_channel_is_closed (ch->channel))
            {
              g_ptr_array_remove_index (c->channels, i);
              shell_channel_free (ch);
              continue;
            }
          i++;
        }
    }
}

static gpointer
conn_thread (gpointer data)
{
  ShellConn *c = data;

  serve (c);

  /* Processes first (they may hold the session's channels open), then libssh. */
  while (c->channels->len > 0)
    {
      ShellChannel *ch = g_ptr_array_steal_index (c->channels, c->channels->len - 1);

      shell_channel_free (ch);
    }
  if (c->event != NULL)
    {
      ssh_event_remove_fd (c->event, c->wake_fd);
      ssh_event_remove_session (c->event, c->session);
      ssh_event_free (c->event);
      c->event = NULL;
    }
  g_mutex_lock (&c->server->lock);
  /* stop() shuts the socket down to wake a blocked libssh call; never once it is closed. */
  c->fd = -1;
  g_mutex_unlock (&c->server->lock);
  if (c->session != NULL)
    {
      ssh_disconnect (c->session);
      ssh_free (c->session);
      c->session = NULL;
    }
  g_debug ("%s: SSH connection ended", c->client_addr);
  g_mutex_lock (&c->server->lock);
  c->done = TRUE;
  g_mutex_unlock (&c->server->lock);
  return NULL;
}

static void
conn_free (ShellConn *c)
{
  if (c->thread != NULL)
    g_thread_join (c->thread);
  close_fd (&c->wake_fd);
  g_ptr_array_unref (c->channels);
  g_free (c->forced_command);
  g_free (c->host_key);
  g_free (c->client_addr);
  g_free (c);
}

/* Under the lock: wakes c's thread and breaks any libssh call it is blocked in. */
static void
conn_cancel_locked (ShellConn *c)
{
  guint64 one = 1;

  g_atomic_int_set (&c->cancelled, TRUE);
  (void) !write (c->wake_fd, &one, sizeof one);
  if (c->fd >= 0)
    shutdown (c->fd, SHUT_RDWR);
}

/* --- the server ---------------------------------------------------------------------------- */

NfltrShellServer *
nfltr_shell_server_new (const NfltrShellServerConfig *config)
{
  NfltrShellServer *server = g_new0 (NfltrShellServer, 1);

  ensure_libssh ();
  g_mutex_init (&server->lock);
  server->authorized_keys = g_strdup (config->authorized_keys);
  server->auth_timeout_s = config->auth_timeout_s ? config->auth_timeout_s : NFLTR_SHELL_AUTH_TIMEOUT_S;
  if (g_getenv ("NFLTR_SHELL_TEST_SLOW_AUTH_MS") != NULL)
    server->test_slow_auth_ms = (guint) g_ascii_strtoull (g_getenv ("NFLTR_SHELL_TEST_SLOW_AUTH_MS"), NULL, 10);
  server->max_unauthenticated = config->max_unauthenticated ? config->max_unauthenticated
                                                            : NFLTR_SHELL_MAX_UNAUTHENTICATED;
  server->max_connections = config->max_connections ? config->max_connections : NFLTR_SHELL_MAX_CONNECTIONS;
  return server;
}

/* Joins the threads of connections that ended. */
static void
reap (NfltrShellServer *server)
{
  GList *ended = NULL;

  g_mutex_lock (&server->lock);
  for (GList *l = server->conns; l != NULL;)
    {
      GList *next = l->next;
      ShellConn *c = l->data;

      if (c->done)
        {
          server->conns = g_list_remove_link (server->conns, l);
          ended = g_list_concat (l, ended);
        }
      l = next;
    }
  g_mutex_unlock (&server->lock);
  g_list_free_full (ended, (GDestroyNotify) conn_free);
}

gboolean
nfltr_shell_server_accept (NfltrShellServer  *server,
                           int                fd,
                           const char        *host_key,
                           const char        *client_addr,
                           GError           **error)
{
  ShellConn *c;
  ShellConn *oldest_unauthenticated = NULL;
  guint live = 0, unauthenticated = 0;

  reap (server);

  g_mutex_lock (&server->lock);
  for (GList *l = server->conns; l != NULL; l = l->next)
    {
      ShellConn *other = l->data;

      if (other->done)
        continue;
      live++;
      if (!other->authenticated && !other->cancelled)
        {
          unauthenticated++;
          oldest_unauthenticated = other;
        }
    }
  if (server->stopping || live >= server->max_connections)
    {
      g_mutex_unlock (&server->lock);
      close (fd);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT,
                   server->stopping ? "the shell is stopping" : "too many SSH connections (%u)",
                   server->max_connections);
      return FALSE;
    }
  /* The oldest connection that has not logged in makes room: an idle flood gets dropped
   * one by one while a real client, quick to authenticate, gets through. */
  if (unauthenticated >= server->max_unauthenticated && oldest_unauthenticated != NULL)
    {
      g_debug ("%s: dropped to make room (%u connections not logged in)",
               oldest_unauthenticated->client_addr, unauthenticated);
      conn_cancel_locked (oldest_unauthenticated);
    }

  c = g_new0 (ShellConn, 1);
  c->server = server;
  c->fd = fd;
  c->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  c->host_key = g_strdup (host_key);
  c->client_addr = g_strdup (client_addr != NULL ? client_addr : "?");
  c->started = g_get_monotonic_time ();
  c->channels = g_ptr_array_new ();
  server->conns = g_list_prepend (server->conns, c);
  c->thread = g_thread_new ("nfltr-ssh", conn_thread, c);
  g_mutex_unlock (&server->lock);
  return TRUE;
}

guint
nfltr_shell_server_get_n_connections (NfltrShellServer *server)
{
  guint n = 0;

  reap (server);
  g_mutex_lock (&server->lock);
  for (GList *l = server->conns; l != NULL; l = l->next)
    n += ((ShellConn *) l->data)->done ? 0 : 1;
  g_mutex_unlock (&server->lock);
  return n;
}

void
nfltr_shell_server_free (NfltrShellServer *server)
{
  GList *conns;

  if (server == NULL)
    return;
  g_mutex_lock (&server->lock);
  server->stopping = TRUE;
  for (GList *l = server->conns; l != NULL; l = l->next)
    conn_cancel_locked (l->data);
  conns = g_steal_pointer (&server->conns);
  g_mutex_unlock (&server->lock);

  g_list_free_full (conns, (GDestroyNotify) conn_free);
  g_mutex_clear (&server->lock);
  g_free (server->authorized_keys);
  g_free (server);
}

/* --- host keys ----------------------------------------------------------------------------- */

char *
nfltr_shell_host_key_path (const char *name, GError **error)
{
  g_autofree char *file = NULL;

  if (name == NULL || !nfltr_proto_name_is_valid (name))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a tunnel name: no SSH host key for it", name ? name : "");
      return NULL;
    }
  file = g_strconcat (name, "_ed25519", NULL);
  return g_build_filename (g_get_user_data_dir (), "nfltr", "ssh-host-keys", file, NULL);
}

static char *
fingerprint_of (ssh_key key)
{
  unsigned char *hash = NULL;
  size_t len = 0;
  char *text, *out;

  if (ssh_get_publickey_hash (key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != 0)
    return NULL;
  text = ssh_get_fingerprint_hash (SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash (&hash);
  out = g_strdup (text);
  ssh_string_free_char (text);
  return out;
}

gboolean
nfltr_shell_host_key_ensure (const char  *name,
                             char       **path_out,
                             char       **fingerprint,
                             GError     **error)
{
  static GMutex lock;
  g_autoptr(GMutexLocker) locker = NULL;
  g_autofree char *path = nfltr_shell_host_key_path (name, error);
  g_autofree char *pub_path = NULL;
  g_autofree char *dir = NULL;
  ssh_key key = NULL;

  if (path == NULL)
    return FALSE;
  ensure_libssh ();
  locker = g_mutex_locker_new (&lock);
  pub_path = g_strconcat (path, ".pub", NULL);

  if (ssh_pki_import_privkey_file (path, NULL, NULL, NULL, &key) != SSH_OK)
    {
      char *pem = NULL, *pub = NULL;
      g_autofree char *pub_line = NULL;
      gboolean ok;

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE,
                       "%s is not an SSH private key: move it away and a new one is made", path);
          return FALSE;
        }
      dir = g_path_get_dirname (path);
      if (g_mkdir_with_parents (dir, 0700) < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                       dir, g_strerror (saved));
          return FALSE;
        }
      if (ssh_pki_generate (SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK ||
          ssh_pki_export_privkey_base64 (key, NULL, NULL, NULL, &pem) != SSH_OK ||
          ssh_pki_export_pubkey_base64 (key, &pub) != SSH_OK)
        {
          ssh_string_free_char (pem);
          ssh_key_free (key);
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "cannot generate an SSH host key");
          return FALSE;
        }
      pub_line = g_strdup_printf ("ssh-ed25519 %s nfltr-shell@%s\n", pub, name);
      ssh_string_free_char (pub);
      /* Written whole or not at all, and never readable by others, not even for a moment. */
      ok = g_file_set_contents_full (path, pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) &&
           g_file_set_contents_full (pub_path, pub_line, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
      ssh_string_free_char (pem);
      if (!ok)
        {
          ssh_key_free (key);
          return FALSE;
        }
      g_message ("generated the SSH host key of %s: %s", name, path);
    }
  if (fingerprint != NULL)
    *fingerprint = fingerprint_of (key);
  ssh_key_free (key);
  if (path_out != NULL)
    *path_out = g_steal_pointer (&path);
  return TRUE;
}
