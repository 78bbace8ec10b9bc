/* nfltr-serve-streams.c — a file range and a streamed tar archive, as blocking GInputStreams
 * (GIO reads them on its worker threads for the async calls the web layer makes) */
#define G_LOG_DOMAIN "nfltr-serve"

#include "nfltr-serve-streams.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a range of a file ---- */

#define NFLTR_TYPE_RANGE_STREAM (nfltr_range_stream_get_type ())
G_DECLARE_FINAL_TYPE (NfltrRangeStream, nfltr_range_stream, NFLTR, RANGE_STREAM, GInputStream)

struct _NfltrRangeStream {
  GInputStream parent_instance;
  int fd;
  guint64 offset;
  guint64 remaining;
};

G_DEFINE_FINAL_TYPE (NfltrRangeStream, nfltr_range_stream, G_TYPE_INPUT_STREAM)

static gssize
range_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  NfltrRangeStream *self = NFLTR_RANGE_STREAM (stream);
  ssize_t n;

  count = MIN (count, self->remaining);
  if (count == 0)
    return 0;
  do
    n = pread (self->fd, buffer, count, (off_t) self->offset);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "read: %s", g_strerror (saved));
      return -1;
    }
  if (n == 0)
    {
      /* The file shrank under us: the promised length cannot be kept. */
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the file got shorter while it was sent");
      return -1;
    }
  self->offset += (guint64) n;
  self->remaining -= (guint64) n;
  return n;
}

static gboolean
range_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  NfltrRangeStream *self = NFLTR_RANGE_STREAM (stream);

  if (self->fd >= 0)
    close (self->fd);
  self->fd = -1;
  return TRUE;
}

static void
range_finalize (GObject *object)
{
  range_close (G_INPUT_STREAM (object), NULL, NULL);
  G_OBJECT_CLASS (nfltr_range_stream_parent_class)->finalize (object);
}

static void
nfltr_range_stream_class_init (NfltrRangeStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = range_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = range_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = range_close;
}

static void
nfltr_range_stream_init (NfltrRangeStream *self)
{
  self->fd = -1;
}

GInputStream *
nfltr_serve_range_stream_new (int fd, guint64 offset, guint64 length)
{
  NfltrRangeStream *self = g_object_new (NFLTR_TYPE_RANGE_STREAM, NULL);

  self->fd = fd;
  self->offset = offset;
  self->remaining = length;
  return G_INPUT_STREAM (self);
}

/* ---- tar (POSIX.1-2001 pax / ustar, IEEE Std 1003.1 "pax" §Extended Header) ---- */

#define TAR_BLOCK 512

typedef struct {
  DIR *dir;
  char *prefix;  /* "photos/sub/" */
} TarDir;

#define NFLTR_TYPE_TAR_STREAM (nfltr_tar_stream_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTarStream, nfltr_tar_stream, NFLTR, TAR_STREAM, GInputStream)

struct _NfltrTarStream {
  GInputStream parent_instance;
  GPtrArray *stack;         /* TarDir*, innermost last */
  GByteArray *pending;      /* headers and padding not yet read */
  gsize pending_pos;
  int file_fd;              /* the file whose data comes next, or -1 */
  guint64 file_left;        /* bytes of it still owed */
  guint64 file_size;
  gboolean finished;        /* the two zero blocks are queued */
};

G_DEFINE_FINAL_TYPE (NfltrTarStream, nfltr_tar_stream, G_TYPE_INPUT_STREAM)

static void
tar_dir_free (gpointer data)
{
  TarDir *d = data;

  if (d->dir != NULL)
    closedir (d->dir);
  g_free (d->prefix);
  g_free (d);
}

static void
octal (char *field, gsize width, guint64 value)
{
  /* width-1 digits and a NUL, as ustar writes them */
  g_snprintf (field, width, "%0*" G_GINT64_MODIFIER "o", (int) width - 1, value);
}

static void
append_header (GByteArray *out, const char *name, char type, guint64 size, guint mode, gint64 mtime)
{
  guint8 h[TAR_BLOCK] = { 0 };
  guint sum = 0;

  strncpy ((char *) h, name, 100);
  octal ((char *) h + 100, 8, mode & 07777);
  octal ((char *) h + 108, 8, 0);
  octal ((char *) h + 116, 8, 0);
  octal ((char *) h + 124, 12, size);
  octal ((char *) h + 136, 12, (guint64) MAX (mtime, 0));
  memset (h + 148, ' ', 8);
  h[156] = type;
  memcpy (h + 257, "ustar", 6);
  memcpy (h + 263, "00", 2);
  for (guint i = 0; i < TAR_BLOCK; i++)
    sum += h[i];
  g_snprintf ((char *) h + 148, 8, "%06o", sum);
  g_byte_array_append (out, h, TAR_BLOCK);
}

static void
pad (GByteArray *out, guint64 size)
{
  static const guint8 zeros[TAR_BLOCK] = { 0 };

  if (size % TAR_BLOCK != 0)
    g_byte_array_append (out, zeros, TAR_BLOCK - size % TAR_BLOCK);
}

static gsize
digits (gsize n)
{
  gsize d = 1;

  while (n >= 10)
    {
      n /= 10;
      d++;
    }
  return d;
}

/* One pax record: "LEN key=value\n", LEN counting itself. */
static void
pax_record (GString *out, const char *key, const char *value)
{
  gsize body = strlen (key) + strlen (value) + 3; /* ' ', '=', '\n' */
  gsize len = body + 1;

  while (len != body + digits (len))
    len = body + digits (len);
  g_string_append_printf (out, "%" G_GSIZE_FORMAT " %s=%s\n", len, key, value);
}

static void
queue_entry (NfltrTarStream *self, const char *name, char type, guint64 size, guint mode, gint64 mtime)
{
  /* ustar's name field holds 100 bytes and its size 8 GiB: beyond, a pax header says it. */
  if (strlen (name) > 99 || size >= G_GUINT64_CONSTANT (077777777777))
    {
      g_autoptr(GString) records = g_string_new (NULL);
      g_autofree char *size_text = g_strdup_printf ("%" G_GUINT64_FORMAT, size);

      pax_record (records, "path", name);
      if (size >= G_GUINT64_CONSTANT (077777777777))
        pax_record (records, "size", size_text);
      append_header (self->pending, "././@PaxHeader", 'x', records->len, 0644, mtime);
      g_byte_array_append (self->pending, (const guint8 *) records->str, records->len);
      pad (self->pending, records->len);
    }
  append_header (self->pending, name, type,
                 size >= G_GUINT64_CONSTANT (077777777777) ? 0 : size, mode, mtime);
}

/* Queues the next entry's header (and opens its file); FALSE when the walk is over. */
static gboolean
next_entry (NfltrTarStream *self)
{
  while (self->stack->len > 0)
    {
      TarDir *d = g_ptr_array_index (self->stack, self->stack->len - 1);
      struct dirent *e;
      struct stat st;
      g_autofree char *name = NULL;

      errno = 0;
      e = readdir (d->dir);
      if (e == NULL)
        {
          g_ptr_array_remove_index (self->stack, self->stack->len - 1);
          continue;
        }
      if (g_str_equal (e->d_name, ".") || g_str_equal (e->d_name, ".."))
        continue;
      if (fstatat (dirfd (d->dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue;
      name = g_strconcat (d->prefix, e->d_name, NULL);
      if (S_ISDIR (st.st_mode))
        {
          int fd = openat (dirfd (d->dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          DIR *sub = fd >= 0 ? fdopendir (fd) : NULL;
          TarDir *child;
          g_autofree char *dir_name = g_strconcat (name, "/", NULL);

          if (sub == NULL)
            {
              if (fd >= 0)
                close (fd);
              continue;
            }
          queue_entry (self, dir_name, '5', 0, st.st_mode, st.st_mtim.tv_sec);
          child = g_new0 (TarDir, 1);
          child->dir = sub;
          child->prefix = g_steal_pointer (&dir_name);
          g_ptr_array_add (self->stack, child);
          return TRUE;
        }
      if (S_ISREG (st.st_mode))
        {
          int fd = openat (dirfd (d->dir), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

          if (fd < 0)
            continue;
          queue_entry (self, name, '0', (guint64) st.st_size, st.st_mode, st.st_mtim.tv_sec);
          self->file_fd = fd;
          self->file_left = self->file_size = (guint64) st.st_size;
          return TRUE;
        }
      /* symlinks, sockets, fifos, devices: left out */
    }
  return FALSE;
}

static gssize
tar_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  NfltrTarStream *self = NFLTR_TAR_STREAM (stream);

  for (;;)
    {
      if (self->pending_pos < self->pending->len)
        {
          gsize n = MIN (count, self->pending->len - self->pending_pos);

          memcpy (buffer, self->pending->data + self->pending_pos, n);
          self->pending_pos += n;
          if (self->pending_pos == self->pending->len)
            {
              g_byte_array_set_size (self->pending, 0);
              self->pending_pos = 0;
            }
          return (gssize) n;
        }
      if (self->file_fd >= 0)
        {
          if (self->file_left > 0)
            {
              gsize want = (gsize) MIN (count, self->file_left);
              ssize_t n;

              do
                n = read (self->file_fd, buffer, want);
              while (n < 0 && errno == EINTR);
              if (n <= 0)
                {
                  /* Shrunk or unreadable: zeros keep the archive's framing right. */
                  memset (buffer, 0, want);
                  n = (ssize_t) want;
                }
              self->file_left -= (guint64) n;
              return n;
            }
          close (self->file_fd);
          self->file_fd = -1;
          pad (self->pending, self->file_size);
          continue;
        }
      if (self->finished)
        return 0;
      if (!next_entry (self))
        {
          static const guint8 zeros[2 * TAR_BLOCK] = { 0 };

          g_byte_array_append (self->pending, zeros, sizeof zeros);
          self->finished = TRUE;
        }
    }
}

static void
tar_finalize (GObject *object)
{
  NfltrTarStream *self = NFLTR_TAR_STREAM (object);

  if (self->file_fd >= 0)
    close (self->file_fd);
  g_ptr_array_unref (self->stack);
  g_byte_array_unref (self->pending);
  G_OBJECT_CLASS (nfltr_tar_stream_parent_class)->finalize (object);
}

static void
nfltr_tar_stream_class_init (NfltrTarStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tar_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = tar_read;
}

static void
nfltr_tar_stream_init (NfltrTarStream *self)
{
  self->stack = g_ptr_array_new_with_free_func (tar_dir_free);
  self->pending = g_byte_array_new ();
  self->file_fd = -1;
}

GInputStream *
nfltr_serve_tar_stream_new (int dir_fd, const char *prefix)
{
  NfltrTarStream *self = g_object_new (NFLTR_TYPE_TAR_STREAM, NULL);
  DIR *dir = fdopendir (dir_fd);

  if (dir != NULL)
    {
      TarDir *top = g_new0 (TarDir, 1);

      top->dir = dir;
      top->prefix = g_strdup (prefix);
      g_ptr_array_add (self->stack, top);
    }
  else
    close (dir_fd);
  return G_INPUT_STREAM (self);
}
