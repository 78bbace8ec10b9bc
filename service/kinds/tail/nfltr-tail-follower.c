/* nfltr-tail-follower.c — follows one file as `tail -F` does */
#define G_LOG_DOMAIN "nfltr-tail"

#include "nfltr-tail-follower.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nfltr-error.h"

/* How far back the first lines are looked for, and how much is read per look: a file that
 * grows by gigabytes is followed at this pace instead of stalling its web thread. */
#define BACK_MAX (8 * 1024 * 1024)
#define READ_PER_LOOK (4 * 1024 * 1024)
#define POLL_MS 1000

struct _NfltrTailFollower {
  GObject parent_instance;

  char *path;
  int fd;
  dev_t dev;
  ino_t ino;
  off_t offset;
  GByteArray *partial; /* the line begun and not yet ended */
  gboolean skipping;   /* the rest of a line already cut at NFLTR_TAIL_MAX_LINE */
  gboolean missing;    /* the name names nothing (removed, not yet back) */
  GFileMonitor *monitor;
  GSource *poll;
  GSource *more; /* an idle to read on when a look stopped at READ_PER_LOOK */
  GMainContext *context;
};

enum {
  SIGNAL_LINE,
  SIGNAL_NOTICE,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NfltrTailFollower, nfltr_tail_follower, G_TYPE_OBJECT)

char *
nfltr_tail_sanitize_line (const char *data, gsize len)
{
  GString *out = g_string_sized_new (len + 8);
  const char *p = data, *end = data + len;

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append (out, "\xef\xbf\xbd"); /* U+FFFD for a byte that is not UTF-8 */
          p++;
          continue;
        }
      if ((c < 0x20 && c != '\t' && c != 0x1b) || c == 0x7f || (c >= 0x80 && c < 0xa0))
        g_string_append (out, "\xef\xbf\xbd");
      else
        g_string_append_unichar (out, c);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}

static void
emit_line (NfltrTailFollower *self, const guint8 *data, gsize len, gboolean truncated)
{
  g_autofree char *text = NULL;

  if (len > 0 && data[len - 1] == '\r')
    len--;
  text = nfltr_tail_sanitize_line ((const char *) data, len);
  g_signal_emit (self, signals[SIGNAL_LINE], 0, text, truncated);
}

static void
notice (NfltrTailFollower *self, const char *message)
{
  g_signal_emit (self, signals[SIGNAL_NOTICE], 0, message);
}

/* Splits what was read into lines; keeps the unfinished one. */
static void
take_bytes (NfltrTailFollower *self, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      const guint8 *nl = memchr (data, '\n', len);
      gsize upto = nl != NULL ? (gsize) (nl - data) : len;

      if (self->skipping)
        {
          if (nl != NULL)
            self->skipping = FALSE;
        }
      else
        {
          gsize room = NFLTR_TAIL_MAX_LINE - self->partial->len;

          if (upto > room)
            {
              /* Cut at the limit; the rest of this line is skipped. */
              g_byte_array_append (self->partial, data, room);
              emit_line (self, self->partial->data, self->partial->len, TRUE);
              g_byte_array_set_size (self->partial, 0);
              self->skipping = nl == NULL;
            }
          else
            {
              g_byte_array_append (self->partial, data, upto);
              if (nl != NULL)
                {
                  emit_line (self, self->partial->data, self->partial->len, FALSE);
                  g_byte_array_set_size (self->partial, 0);
                }
            }
        }
      if (nl == NULL)
        break;
      len -= upto + 1;
      data += upto + 1;
    }
}

/* Reads from the offset on, up to READ_PER_LOOK; TRUE when there may be more. */
static gboolean
read_on (NfltrTailFollower *self)
{
  guint8 buf[64 * 1024];
  gsize total = 0;

  while (total < READ_PER_LOOK)
    {
      ssize_t n = pread (self->fd, buf, sizeof buf, self->offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      self->offset += n;
      total += n;
      take_bytes (self, buf, n);
    }
  return TRUE;
}

static gboolean more_cb (gpointer user_data);

static void
read_and_schedule (NfltrTailFollower *self)
{
  if (read_on (self) && self->more == NULL)
    {
      self->more = g_idle_source_new ();
      g_source_set_callback (self->more, more_cb, self, NULL);
      g_source_attach (self->more, self->context);
    }
}

static gboolean
more_cb (gpointer user_data)
{
  NfltrTailFollower *self = user_data;

  g_clear_pointer (&self->more, g_source_unref);
  read_and_schedule (self);
  return G_SOURCE_REMOVE;
}

static gboolean
open_file (NfltrTailFollower *self, GError **error)
{
  struct stat st;
  int fd = open (self->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot read %s: %s",
                   self->path, g_strerror (saved));
      return FALSE;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "%s is not a regular file",
                   self->path);
      return FALSE;
    }
  if (self->fd >= 0)
    close (self->fd);
  self->fd = fd;
  self->dev = st.st_dev;
  self->ino = st.st_ino;
  self->offset = 0;
  return TRUE;
}

/* The offset where the last n lines begin (a file not ending with a newline has its last,
 * unfinished line counted too). */
static off_t
find_last_lines (int fd, off_t size, guint n)
{
  guint8 buf[64 * 1024];
  off_t pos = size, limit = size > BACK_MAX ? size - BACK_MAX : 0;
  guint newlines = 0;
  gboolean first = TRUE;

  if (n == 0)
    return size;
  while (pos > limit)
    {
      gsize len = MIN ((off_t) sizeof buf, pos - limit);
      ssize_t got = pread (fd, buf, len, pos - len);

      if (got != (ssize_t) len)
        return pos;
      for (gssize i = len - 1; i >= 0; i--)
        {
          if (buf[i] != '\n')
            continue;
          if (first && pos - (off_t) len + i == size - 1)
            continue; /* the file's final newline ends the last line; it starts none */
          if (++newlines == n)
            return pos - len + i + 1;
        }
      first = FALSE;
      pos -= len;
    }
  return limit;
}

void
nfltr_tail_follower_check (NfltrTailFollower *self)
{
  struct stat st;

  if (stat (self->path, &st) < 0)
    {
      if (!self->missing)
        {
          self->missing = TRUE;
          /* Whatever was written to it before it went is still shown. */
          if (self->fd >= 0)
            read_on (self);
          notice (self, "the file is gone; waiting for it to come back");
        }
      return;
    }
  if (self->fd < 0 || st.st_dev != self->dev || st.st_ino != self->ino)
    {
      g_autoptr(GError) error = NULL;
      gboolean had = self->fd >= 0;

      /* Rotated (or back): the old file to its end, then the new one from its start. */
      if (had)
        while (read_on (self))
          ;
      if (self->partial->len > 0)
        {
          emit_line (self, self->partial->data, self->partial->len, FALSE);
          g_byte_array_set_size (self->partial, 0);
        }
      self->skipping = FALSE;
      if (!open_file (self, &error))
        {
          g_debug ("%s", error->message);
          return;
        }
      self->missing = FALSE;
      notice (self, had ? "the file was replaced (rotated); following the new one"
                        : "the file is back");
    }
  else if (st.st_size < self->offset)
    {
      notice (self, "the file was truncated; reading it from the start");
      self->offset = 0;
      g_byte_array_set_size (self->partial, 0);
      self->skipping = FALSE;
    }
  self->missing = FALSE;
  read_and_schedule (self);
}

static void
changed_cb (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event, gpointer user_data)
{
  nfltr_tail_follower_check (user_data);
}

static gboolean
poll_cb (gpointer user_data)
{
  nfltr_tail_follower_check (user_data);
  return G_SOURCE_CONTINUE;
}

NfltrTailFollower *
nfltr_tail_follower_new (const char *path, guint initial_lines, GError **error)
{
  g_autoptr(NfltrTailFollower) self = g_object_new (NFLTR_TYPE_TAIL_FOLLOWER, NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  struct stat st;

  self->path = g_strdup (path);
  if (!open_file (self, error))
    return NULL;
  if (fstat (self->fd, &st) == 0)
    self->offset = find_last_lines (self->fd, st.st_size, initial_lines);
  /* Starting mid-line (the look-back limit): that line is partial, skip to the next. */
  if (self->offset > 0)
    {
      guint8 c = 0;

      if (pread (self->fd, &c, 1, self->offset - 1) == 1 && c != '\n')
        self->skipping = TRUE;
    }

  self->monitor = g_file_monitor_file (file, G_FILE_MONITOR_WATCH_MOVES, NULL, NULL);
  if (self->monitor != NULL)
    {
      g_file_monitor_set_rate_limit (self->monitor, 100);
      g_signal_connect (self->monitor, "changed", G_CALLBACK (changed_cb), self);
    }
  self->poll = g_timeout_source_new (POLL_MS);
  g_source_set_callback (self->poll, poll_cb, self, NULL);
  g_source_attach (self->poll, self->context);
  return g_steal_pointer (&self);
}

static void
nfltr_tail_follower_dispose (GObject *object)
{
  NfltrTailFollower *self = NFLTR_TAIL_FOLLOWER (object);

  if (self->monitor != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->monitor, self);
      g_file_monitor_cancel (self->monitor);
      g_clear_object (&self->monitor);
    }
  if (self->poll != NULL)
    {
      g_source_destroy (self->poll);
      g_clear_pointer (&self->poll, g_source_unref);
    }
  if (self->more != NULL)
    {
      g_source_destroy (self->more);
      g_clear_pointer (&self->more, g_source_unref);
    }
  G_OBJECT_CLASS (nfltr_tail_follower_parent_class)->dispose (object);
}

static void
nfltr_tail_follower_finalize (GObject *object)
{
  NfltrTailFollower *self = NFLTR_TAIL_FOLLOWER (object);

  if (self->fd >= 0)
    close (self->fd);
  g_byte_array_unref (self->partial);
  g_free (self->path);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (nfltr_tail_follower_parent_class)->finalize (object);
}

static void
nfltr_tail_follower_class_init (NfltrTailFollowerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_tail_follower_dispose;
  object_class->finalize = nfltr_tail_follower_finalize;

  signals[SIGNAL_LINE] = g_signal_new ("line", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
                                       G_TYPE_BOOLEAN);
  signals[SIGNAL_NOTICE] = g_signal_new ("notice", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
nfltr_tail_follower_init (NfltrTailFollower *self)
{
  self->fd = -1;
  self->partial = g_byte_array_new ();
  self->context = g_main_context_ref_thread_default ();
}
