/* nfltr-serve-streams.h — the bodies serve streams: a byte range of a file, and a folder as
 * a tar archive made while it is sent */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* length bytes of fd from offset (pread: the descriptor's position is not used). Takes fd. */
GInputStream *nfltr_serve_range_stream_new (int     fd,
                                            guint64 offset,
                                            guint64 length);

/* The folder dir_fd (taken) as a POSIX ustar archive (pax records for long names and big
 * sizes), entries under prefix ("photos/"). Regular files and folders only: symlinks and
 * special files are left out, so nothing outside the folder is read. A file that changes
 * size while it is read is padded or cut to the size its header announced. */
GInputStream *nfltr_serve_tar_stream_new   (int         dir_fd,
                                            const char *prefix);

G_END_DECLS
