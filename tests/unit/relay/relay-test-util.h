/* relay-test-util.h — helpers for the relay unit tests: loopback TCP pairs, fd counting,
 * running the main loop until a condition holds. Header-only, each test includes it once. */
#pragma once

#include <gio/gio.h>
#include <dirent.h>
#include <glib/gstdio.h>

/* Open descriptors of this process, to prove a test leaks none. */
static inline guint
count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      n++;
  closedir (dir);
  return n - 1;  /* the directory's own descriptor */
}

/* Two connected TCP sockets on 127.0.0.1, as GSocketConnections. */
static inline void
tcp_pair (GSocketConnection **client, GSocketConnection **server)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_listener_add_address (listener, any, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  *client = g_socket_client_connect (sc, G_SOCKET_CONNECTABLE (bound), NULL, &error);
  g_assert_no_error (error);
  *server = g_socket_listener_accept (listener, NULL, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);
}

static inline gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the default main context until *flag is set (by a callback or another thread) or
 * timeout_s passes. The tick wakes the loop so a flag set from a thread is seen. */
static inline gboolean
wait_for_flag (gint *flag, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  guint tick = g_timeout_add (5, tick_cb, NULL);

  while (!g_atomic_int_get (flag) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return g_atomic_int_get (flag);
}

static inline char *
make_temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("nfltr-relay-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static inline void
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                                  G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                                  NULL, NULL);
  GFileInfo *info;

  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);
      g_object_unref (info);
      remove_tree (child);
    }
  g_remove (path);
}
