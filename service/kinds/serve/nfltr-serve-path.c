/* nfltr-serve-path.c — confinement to the served folder: the path is checked as text, then
 * opened beneath the folder's descriptor so that no symlink, rename or mount can lead out */
#define G_LOG_DOMAIN "nfltr-serve"

#include "nfltr-serve-path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

char *
nfltr_serve_path_relative (const char *url_path, GError **error)
{
  g_auto(GStrv) segments = NULL;
  g_autoptr(GString) rel = g_string_new (NULL);

  if (url_path == NULL || url_path[0] != '/' || strlen (url_path) >= PATH_MAX)
    goto refuse;
  segments = g_strsplit (url_path + 1, "/", -1);
  for (guint i = 0; segments[i] != NULL; i++)
    {
      const char *s = segments[i];

      if (*s == '\0')
        continue; /* "a//b", a trailing slash */
      if (g_str_equal (s, ".") || g_str_equal (s, ".."))
        goto refuse;
      for (const char *c = s; *c; c++)
        if (*c == '\\' || (guchar) *c < 0x20 || *c == 0x7f)
          goto refuse;
      if (rel->len > 0)
        g_string_append_c (rel, '/');
      g_string_append (rel, s);
    }
  if (rel->len == 0)
    g_string_append_c (rel, '.');
  return g_string_free (g_steal_pointer (&rel), FALSE);

refuse:
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       "This path is not allowed: it would leave the shared folder.");
  return NULL;
}

static int
open_walk (int root_fd, const char *rel, int flags)
{
  g_auto(GStrv) parts = g_strsplit (rel, "/", -1);
  int dir = dup (root_fd);
  guint n = g_strv_length (parts);

  if (dir < 0)
    return -1;
  if (g_str_equal (rel, "."))
    {
      int fd = openat (root_fd, ".", flags | O_CLOEXEC);

      close (dir);
      return fd;
    }
  for (guint i = 0; i < n; i++)
    {
      int next = openat (dir, parts[i],
                         (i + 1 < n ? O_RDONLY | O_DIRECTORY : flags) | O_NOFOLLOW | O_CLOEXEC, 0600);
      int saved = errno;

      close (dir);
      if (next < 0)
        {
          errno = saved;
          return -1;
        }
      dir = next;
    }
  return dir;
}

int
nfltr_serve_path_open (int root_fd, const char *rel, int flags)
{
#ifdef SYS_openat2
  static gint have_openat2 = 1;
  struct open_how how = { 0 };
  long fd;

  if (g_atomic_int_get (&have_openat2))
    {
      how.flags = (guint64) (flags | O_CLOEXEC);
      how.mode = (flags & O_CREAT) ? 0644 : 0;
      how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
      fd = syscall (SYS_openat2, root_fd, rel, &how, sizeof how);
      if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return (int) fd;
      /* ENOSYS: an old kernel; EPERM: a seccomp filter (some containers) refusing it. */
      g_atomic_int_set (&have_openat2, 0);
    }
#endif
  return open_walk (root_fd, rel, flags);
}
