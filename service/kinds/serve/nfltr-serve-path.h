/* nfltr-serve-path.h — a request path inside the served folder, and nowhere else */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The decoded URL path ("/a/b.txt", "/a/") as a path relative to the root ("a/b.txt", "a",
 * "." for the root). NULL (error G_IO_ERROR_PERMISSION_DENIED, a message for the visitor)
 * when a segment is "." or "..", holds a backslash, a NUL or a control character, or the
 * path is longer than PATH_MAX. Pure. */
char    *nfltr_serve_path_relative (const char  *url_path,
                                    GError     **error);

/* Opens rel (from nfltr_serve_path_relative) beneath root_fd with flags (O_CLOEXEC is added):
 * openat2 (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has it, so a symlink may
 * point anywhere inside the folder but never out; else component by component with
 * O_NOFOLLOW, refusing every symlink. -1 with errno on failure (EXDEV or ELOOP: it would
 * leave the folder). */
int      nfltr_serve_path_open     (int          root_fd,
                                    const char  *rel,
                                    int          flags);

G_END_DECLS
