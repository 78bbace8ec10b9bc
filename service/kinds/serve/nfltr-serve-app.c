/* nfltr-serve-app.c — the file server's pages and transfers, on the web layer's thread:
 * listings (sortable without script, more so with), files with Range, ETag and
 * Last-Modified, gzip for text, a folder as a streamed tar, and uploads (PUT and multipart)
 * streamed to a temporary file in the folder and renamed only when complete. */
#define G_LOG_DOMAIN "nfltr-serve"

#include "nfltr-kind-serve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nfltr-serve-path.h"
#include "nfltr-serve-range.h"
#include "nfltr-serve-streams.h"
#include "nfltr-web-multipart.h"
#include "nfltr-web.h"

/* Below this, compressing costs more than it saves. */
#define GZIP_MIN_SIZE 1024
/* Temporary upload files: hidden, recognisable, never a name a visitor can ask for
 * (dot files are served, but an upload never ends under this name). */
#define UPLOAD_PREFIX ".nfltr-upload-"
/* "name (1).txt" … when a multipart upload meets a name that exists. */
#define MAX_RENAME_TRIES 100
#define NAME_MAX_BYTES   255

typedef struct {
  int root_fd;
  gboolean upload;
  guint64 max_upload;
} Serve;

static void
serve_free (gpointer data)
{
  Serve *s = data;

  if (s->root_fd >= 0)
    close (s->root_fd);
  g_free (s);
}

/* ---- helpers ---- */

static void
respond_errno (NfltrWebServer *web, SoupServerMessage *msg, int err)
{
  switch (err)
    {
      case ENOENT:
      case ENOTDIR:
        nfltr_web_respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "No such file or folder.");
        break;
      case EXDEV:
      case ELOOP:
        nfltr_web_respond_error (web, msg, SOUP_STATUS_FORBIDDEN,
                                 "This link points outside the shared folder.");
        break;
      case EACCES:
      case EPERM:
        nfltr_web_respond_error (web, msg, SOUP_STATUS_FORBIDDEN, "This file cannot be read.");
        break;
      default: nfltr_web_respond_error (web, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, g_strerror (err)); break;
    }
}

static char *
http_date (gint64 seconds)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (seconds);

  return soup_date_time_to_string (dt, SOUP_DATE_HTTP);
}

static char *
escape_segment (const char *name)
{
  return g_uri_escape_string (name, NULL, FALSE);
}

static char *
escape_path (const char *path)
{
  return g_uri_escape_string (path, "/", FALSE);
}

static gboolean
is_textual (const char *mime)
{
  return g_str_has_prefix (mime, "text/") || g_str_equal (mime, "application/json") ||
         g_str_equal (mime, "application/javascript") || g_str_equal (mime, "application/xml") ||
         g_str_equal (mime, "image/svg+xml") || g_str_has_suffix (mime, "+xml");
}

static char *
mime_for (const char *name)
{
  gboolean uncertain = FALSE;
  g_autofree char *type = g_content_type_guess (name, NULL, 0, &uncertain);
  char *mime = type ? g_content_type_get_mime_type (type) : NULL;

  if (mime == NULL || (uncertain && g_str_equal (mime, "application/octet-stream")))
    {
      g_free (mime);
      return g_strdup ("application/octet-stream");
    }
  return mime;
}

/* RFC 9110 §13.1.2: does an If-None-Match list name etag (weak comparison)? */
static gboolean
etag_listed (const char *list, const char *etag)
{
  g_auto(GStrv) items = NULL;

  if (list == NULL)
    return FALSE;
  items = g_strsplit (list, ",", 64);
  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *it = g_strstrip (items[i]);

      if (g_str_has_prefix (it, "W/"))
        it += 2;
      if (g_str_equal (it, "*") || g_str_equal (it, etag))
        return TRUE;
    }
  return FALSE;
}

static gboolean
accepts_gzip (SoupServerMessage *msg)
{
  const char *ae = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                  "Accept-Encoding");
  g_auto(GStrv) items = NULL;

  if (ae == NULL)
    return FALSE;
  items = g_strsplit (ae, ",", 32);
  for (guint i = 0; items[i] != NULL; i++)
    {
      char *it = g_strstrip (items[i]);

      if (g_ascii_strncasecmp (it, "gzip", 4) == 0 && (it[4] == '\0' || it[4] == ';'))
        return strstr (it, "q=0") == NULL || strstr (it, "q=0.") != NULL;
    }
  return FALSE;
}

/* ---- a file ---- */

static void
serve_file (NfltrWebServer *web, SoupServerMessage *msg, GHashTable *query, int fd, const struct stat *st,
            const char *name)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  g_autofree char *mime = mime_for (name);
  g_autofree char *base_etag = g_strdup_printf (
    "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x", (guint64) st->st_ino,
    (guint64) st->st_size,
    (guint64) st->st_mtim.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) st->st_mtim.tv_nsec);
  g_autofree char *last_modified = http_date (st->st_mtim.tv_sec);
  g_autofree char *etag = NULL;
  const char *range = soup_message_headers_get_one (req, "Range");
  const char *if_range = soup_message_headers_get_one (req, "If-Range");
  const char *inm = soup_message_headers_get_list (req, "If-None-Match");
  const char *ims = soup_message_headers_get_one (req, "If-Modified-Since");
  guint64 size = (guint64) st->st_size;
  guint64 start = 0, length = size;
  gboolean gzip = FALSE;
  g_autoptr(GInputStream) in = NULL;
  g_autofree char *content_type = NULL;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    range = NULL;
  /* §13.1.5: a validator that does not match the current file means "send it all". */
  if (range != NULL && if_range != NULL)
    {
      g_autofree char *strong = g_strdup_printf ("\"%s\"", base_etag);

      if (!g_str_equal (if_range, strong) && !g_str_equal (if_range, last_modified))
        range = NULL;
    }
  gzip = range == NULL && size >= GZIP_MIN_SIZE && is_textual (mime) && accepts_gzip (msg);
  etag = g_strdup_printf ("\"%s%s\"", base_etag, gzip ? "-gz" : "");

  soup_message_headers_replace (resp, "ETag", etag);
  soup_message_headers_replace (resp, "Last-Modified", last_modified);
  soup_message_headers_replace (resp, "Accept-Ranges", "bytes");
  soup_message_headers_replace (resp, "Cache-Control", "no-cache");
  if (is_textual (mime))
    soup_message_headers_replace (resp, "Vary", "Accept-Encoding");

  /* §13.1.2, §13.1.3: If-None-Match wins over If-Modified-Since. */
  if (inm != NULL ? etag_listed (inm, etag)
                  : ims != NULL && ({
                      g_autoptr (GDateTime) since = soup_date_time_new_from_http_string (ims);
                      since != NULL &&g_date_time_to_unix (since) >= st->st_mtim.tv_sec;
                    }))
    {
      close (fd);
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
      return;
    }

  if (g_hash_table_contains (query, "download"))
    {
      g_autofree char *escaped = escape_segment (name);
      g_autofree char *disposition = g_strdup_printf ("attachment; filename*=UTF-8''%s", escaped);

      soup_message_headers_replace (resp, "Content-Disposition", disposition);
    }
  content_type =
    g_str_has_prefix (mime, "text/") ? g_strdup_printf ("%s; charset=utf-8", mime) : g_strdup (mime);
  soup_message_headers_set_content_type (resp, content_type, NULL);

  switch (nfltr_serve_range_parse (range, size, &start, &length))
    {
      case NFLTR_RANGE_UNSATISFIABLE:
        {
          g_autofree char *cr = g_strdup_printf ("bytes */%" G_GUINT64_FORMAT, size);

          close (fd);
          soup_message_headers_replace (resp, "Content-Range", cr);
          nfltr_web_respond_error (web, msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE,
                                   "The requested range is not inside the file.");
          return;
        }
      case NFLTR_RANGE_SATISFIABLE:
        {
          g_autofree char *cr =
            g_strdup_printf ("bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, start,
                             start + length - 1, size);

          soup_message_headers_replace (resp, "Content-Range", cr);
          soup_server_message_set_status (msg, SOUP_STATUS_PARTIAL_CONTENT, NULL);
          break;
        }
      case NFLTR_RANGE_NONE:
      default:
        start = 0;
        length = size;
        soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
        break;
    }

  in = nfltr_serve_range_stream_new (fd, start, length);
  if (gzip)
    {
      g_autoptr (GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
      GInputStream *compressed = g_converter_input_stream_new (in, G_CONVERTER (compressor));

      g_object_unref (in);
      in = compressed;
      soup_message_headers_replace (resp, "Content-Encoding", "gzip");
      nfltr_web_send_stream (msg, in, -1, NULL, NULL);
      return;
    }
  nfltr_web_send_stream (msg, in, (goffset) length, NULL, NULL);
}

/* ---- a folder ---- */

typedef struct {
  char *name;
  gboolean dir;
  guint64 size;
  gint64 mtime;
} Entry;

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_free (e->name);
  g_free (e);
}

typedef enum {
  SORT_NAME,
  SORT_SIZE,
  SORT_DATE
} SortKey;

static gint
entry_compare (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Entry *ea = *(Entry **) a;
  const Entry *eb = *(Entry **) b;
  SortKey key = GPOINTER_TO_INT (user_data) & 0xff;
  gboolean desc = (GPOINTER_TO_INT (user_data) & 0x100) != 0;
  gint order = 0;

  if (ea->dir != eb->dir)
    return ea->dir ? -1 : 1;
  switch (key)
    {
      case SORT_SIZE: order = ea->size < eb->size ? -1 : ea->size > eb->size; break;
      case SORT_DATE: order = ea->mtime < eb->mtime ? -1 : ea->mtime > eb->mtime; break;
      case SORT_NAME:
      default: break;
    }
  if (order == 0)
    {
      g_autofree char *ka = g_utf8_collate_key_for_filename (ea->name, -1);
      g_autofree char *kb = g_utf8_collate_key_for_filename (eb->name, -1);

      order = strcmp (ka, kb);
    }
  return desc ? -order : order;
}

static GPtrArray *
read_entries (int dir_fd)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func (entry_free);
  int fd = dup (dir_fd);
  DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *d;

  if (dir == NULL)
    {
      if (fd >= 0)
        close (fd);
      return entries;
    }
  rewinddir (dir);
  while ((d = readdir (dir)) != NULL)
    {
      struct stat st;
      Entry *e;

      if (g_str_equal (d->d_name, ".") || g_str_equal (d->d_name, "..") ||
          g_str_has_prefix (d->d_name, UPLOAD_PREFIX))
        continue;
      if (fstatat (dirfd (dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue;
      if (S_ISLNK (st.st_mode))
        {
          /* Listed only if it stays inside: opened beneath the folder, as a visit would. */
          int target = nfltr_serve_path_open (dirfd (dir), d->d_name, O_PATH);

          if (target < 0)
            continue;
          if (fstat (target, &st) != 0)
            {
              close (target);
              continue;
            }
          close (target);
        }
      if (!S_ISDIR (st.st_mode) && !S_ISREG (st.st_mode))
        continue;
      e = g_new0 (Entry, 1);
      e->name = g_strdup (d->d_name);
      e->dir = S_ISDIR (st.st_mode);
      e->size = (guint64) st.st_size;
      e->mtime = st.st_mtim.tv_sec;
      g_ptr_array_add (entries, e);
    }
  closedir (dir);
  return entries;
}

static char *
format_size (guint64 size)
{
  return g_format_size_full (size, G_FORMAT_SIZE_IEC_UNITS);
}

static void
sort_header (GString *page, const char *label, const char *key, const char *cls, const char *type,
             const char *current, gboolean desc)
{
  gboolean active = g_str_equal (key, current);

  g_string_append_printf (page, "<th class=\"%s\" data-sort=\"%s\"%s><a href=\"?sort=%s&amp;order=%s\">%s%s</a></th>",
                          cls, type,
                          active ? (desc ? " aria-sort=\"descending\"" : " aria-sort=\"ascending\"") : "",
                          key, active && !desc ? "desc" : "asc", label,
                          active ? (desc ? " ↓" : " ↑") : "");
}

static void
serve_listing (NfltrWebServer *web, SoupServerMessage *msg, Serve *s, const char *path,
               GHashTable *query, int fd)
{
  g_autoptr(GPtrArray) entries = read_entries (fd);
  const char *sort = g_hash_table_lookup (query, "sort");
  const char *order = g_hash_table_lookup (query, "order");
  gboolean desc = g_strcmp0 (order, "desc") == 0;
  SortKey key = SORT_NAME;
  g_autofree char *title = g_strdup_printf ("Index of %s", path);
  GString *page;
  g_auto(GStrv) crumbs = g_strsplit (path, "/", -1);
  g_autoptr(GString) href = g_string_new ("/");

  close (fd);
  if (g_strcmp0 (sort, "size") == 0)
    key = SORT_SIZE;
  else if (g_strcmp0 (sort, "date") == 0)
    key = SORT_DATE;
  else
    sort = "name";
  g_ptr_array_sort_with_data (entries, entry_compare, GINT_TO_POINTER (key | (desc ? 0x100 : 0)));

  page = nfltr_web_page_begin (web, title);
  /* Breadcrumbs: each folder on the way is a link. */
  g_string_append (page, "<h1><a href=\"/\">/</a>");
  for (guint i = 0; crumbs[i] != NULL; i++)
    {
      g_autofree char *esc = NULL;

      if (*crumbs[i] == '\0')
        continue;
      esc = escape_segment (crumbs[i]);
      g_string_append_printf (href, "%s/", esc);
      g_string_append_printf (page, "<a href=\"%s\">", href->str);
      nfltr_web_append_escaped (page, crumbs[i]);
      g_string_append (page, "</a>/");
    }
  g_string_append (page, "</h1><div class=\"actions\">"
                         "<a class=\"button\" id=\"download-folder\" href=\"?download=tar\" download>"
                         "Download folder (.tar)</a>");
  if (s->upload)
    {
      g_autofree char *limit = format_size (s->max_upload);

      g_string_append_printf (page,
                              "<form method=\"post\" enctype=\"multipart/form-data\" action=\"\">"
                              "<input type=\"file\" name=\"file\" multiple required> "
                              "<input type=\"submit\" value=\"Upload\"> "
                              "<span class=\"muted\">up to %s</span></form>",
                              limit);
    }
  g_string_append (page, "</div><table class=\"listing sortable\"><thead><tr>");
  sort_header (page, "Name", "name", "name", "text", sort, desc);
  sort_header (page, "Size", "size", "size", "number", sort, desc);
  sort_header (page, "Modified", "date", "date", "number", sort, desc);
  g_string_append (page, "</tr></thead><tbody>");
  if (!g_str_equal (path, "/"))
    g_string_append (page, "<tr class=\"parent dir\"><td class=\"name\"><a href=\"../\">../</a></td>"
                           "<td class=\"size\"></td><td class=\"date\"></td></tr>");
  for (guint i = 0; i < entries->len; i++)
    {
      Entry *e = g_ptr_array_index (entries, i);
      g_autofree char *esc = escape_segment (e->name);
      g_autofree char *size = e->dir ? g_strdup ("—") : format_size (e->size);
      g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (e->mtime);
      g_autofree char *date = dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M") : g_strdup ("");

      g_string_append_printf (page, "<tr class=\"%s\"><td class=\"name\"><a href=\"%s%s\">",
                              e->dir ? "dir" : "file", esc, e->dir ? "/" : "");
      nfltr_web_append_escaped (page, e->name);
      g_string_append_printf (page,
                              "%s</a></td><td class=\"size\" data-value=\"%" G_GUINT64_FORMAT "\">%s</td>"
                              "<td class=\"date\" data-value=\"%" G_GINT64_FORMAT "\">%s UTC</td></tr>",
                              e->dir ? "/" : "", e->dir ? 0 : e->size, size, e->mtime, date);
    }
  g_string_append (page, "</tbody></table>");
  if (entries->len == 0)
    g_string_append (page, "<p class=\"muted\">This folder is empty.</p>");
  nfltr_web_page_finish (web, msg, SOUP_STATUS_OK, page);
}

static void
serve_tar (NfltrWebServer *web, SoupServerMessage *msg, const char *rel, int fd)
{
  g_autofree char *base = g_str_equal (rel, ".") ? g_strdup ("files") : g_path_get_basename (rel);
  g_autofree char *prefix = g_strconcat (base, "/", NULL);
  g_autofree char *file = g_strconcat (base, ".tar", NULL);
  g_autofree char *escaped = escape_segment (file);
  g_autofree char *disposition = g_strdup_printf ("attachment; filename*=UTF-8''%s", escaped);
  g_autoptr(GInputStream) in = nfltr_serve_tar_stream_new (fd, prefix);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);

  soup_message_headers_set_content_type (resp, "application/x-tar", NULL);
  soup_message_headers_replace (resp, "Content-Disposition", disposition);
  soup_message_headers_replace (resp, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  nfltr_web_send_stream (msg, in, -1, NULL, NULL);
}

static void
serve_get (NfltrWebServer *web, SoupServerMessage *msg, Serve *s, const char *path, GHashTable *query)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *rel = nfltr_serve_path_relative (path, &error);
  struct stat st;
  int fd;

  if (rel == NULL)
    {
      nfltr_web_respond_error (web, msg, SOUP_STATUS_FORBIDDEN, error->message);
      return;
    }
  fd = nfltr_serve_path_open (s->root_fd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    {
      respond_errno (web, msg, errno);
      return;
    }
  if (fstat (fd, &st) != 0)
    {
      int saved = errno;

      close (fd);
      respond_errno (web, msg, saved);
      return;
    }
  if (S_ISDIR (st.st_mode))
    {
      if (!g_str_has_suffix (path, "/"))
        {
          g_autofree char *esc = escape_path (path);
          g_autofree char *location = g_strconcat (esc, "/", NULL);

          close (fd);
          soup_server_message_set_status (msg, SOUP_STATUS_MOVED_PERMANENTLY, NULL);
          soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location", location);
          return;
        }
      if (g_strcmp0 (g_hash_table_lookup (query, "download"), "tar") == 0)
        serve_tar (web, msg, rel, fd);
      else
        serve_listing (web, msg, s, path, query, fd);
      return;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      nfltr_web_respond_error (web, msg, SOUP_STATUS_FORBIDDEN, "Only files and folders are served.");
      return;
    }
  if (g_str_has_suffix (path, "/"))
    {
      close (fd);
      nfltr_web_respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "No such folder.");
      return;
    }
  {
    g_autofree char *name = g_path_get_basename (rel);

    serve_file (web, msg, query, fd, &st, name);
  }
}

/* ---- uploads ---- */

typedef struct {
  NfltrWebServer *web;
  Serve *serve;
  SoupServerMessage *msg;
  gboolean multipart;
  int dir_fd;             /* the folder the files land in */
  char *final_name;       /* PUT: the name; multipart: the current part's */
  char *tmp_name;         /* the part being written, or NULL */
  int fd;
  guint64 received;       /* body bytes so far, against the limit */
  guint status;           /* 0 while fine; else the refusal */
  char *error;
  NfltrWebMultipart *parser;
  GPtrArray *saved;       /* names written */
  gboolean replaced;
} Upload;

static void
upload_discard_part (Upload *up)
{
  if (up->fd >= 0)
    close (up->fd);
  up->fd = -1;
  if (up->tmp_name != NULL)
    unlinkat (up->dir_fd, up->tmp_name, 0);
  g_clear_pointer (&up->tmp_name, g_free);
}

static void
upload_free (gpointer data)
{
  Upload *up = data;

  /* Whatever did not complete leaves nothing behind. */
  upload_discard_part (up);
  if (up->dir_fd >= 0)
    close (up->dir_fd);
  g_free (up->final_name);
  g_free (up->error);
  nfltr_web_multipart_free (up->parser);
  g_ptr_array_unref (up->saved);
  g_free (up);
}

static void
upload_fail (Upload *up, guint status, const char *message)
{
  if (up->status != 0)
    return;
  up->status = status;
  up->error = g_strdup (message);
  upload_discard_part (up);
}

/* A name a visitor may give a file: one path segment, nothing hidden from the listing. */
static gboolean
upload_name_ok (const char *name)
{
  gsize len = name ? strlen (name) : 0;

  if (len == 0 || len > NAME_MAX_BYTES || g_str_equal (name, ".") || g_str_equal (name, "..") ||
      g_str_has_prefix (name, UPLOAD_PREFIX) || !g_utf8_validate (name, -1, NULL))
    return FALSE;
  for (const char *c = name; *c; c++)
    if (*c == '/' || *c == '\\' || (guchar) *c < 0x20 || *c == 0x7f)
      return FALSE;
  return TRUE;
}

static gboolean
upload_open_part (Upload *up, const char *name)
{
  guint8 random[12];

  g_free (up->final_name);
  up->final_name = g_strdup (name);
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *hex = NULL;

      for (guint j = 0; j < G_N_ELEMENTS (random); j++)
        random[j] = (guint8) g_random_int_range (0, 256);
      hex = g_compute_checksum_for_data (G_CHECKSUM_SHA1, random, sizeof random);
      g_free (up->tmp_name);
      up->tmp_name = g_strdup_printf (UPLOAD_PREFIX "%.16s.part", hex);
      up->fd = openat (up->dir_fd, up->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (up->fd >= 0)
        return TRUE;
      if (errno != EEXIST)
        break;
    }
  g_clear_pointer (&up->tmp_name, g_free);
  upload_fail (up, SOUP_STATUS_INTERNAL_SERVER_ERROR, "The file could not be created in the folder.");
  return FALSE;
}

static gboolean
upload_write (Upload *up, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (up->fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          upload_fail (up, errno == ENOSPC ? SOUP_STATUS_INSUFFICIENT_STORAGE : SOUP_STATUS_INTERNAL_SERVER_ERROR,
                       errno == ENOSPC ? "The disk is full." : "The file could not be written.");
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Renames the completed temporary file into place: PUT replaces (atomically, so two uploads
 * to one name leave one of them whole), a form never overwrites ("name (1).ext"). */
static gboolean
upload_commit_part (Upload *up)
{
  if (up->fd < 0)
    return FALSE;
  if (fsync (up->fd) != 0 || close (up->fd) != 0)
    {
      up->fd = -1;
      upload_fail (up, SOUP_STATUS_INTERNAL_SERVER_ERROR, "The file could not be written.");
      return FALSE;
    }
  up->fd = -1;
  if (!up->multipart)
    {
      struct stat st;

      up->replaced = fstatat (up->dir_fd, up->final_name, &st, AT_SYMLINK_NOFOLLOW) == 0;
      if (up->replaced && !S_ISREG (st.st_mode))
        {
          upload_fail (up, SOUP_STATUS_CONFLICT, "A folder or special file has this name.");
          return FALSE;
        }
      if (renameat (up->dir_fd, up->tmp_name, up->dir_fd, up->final_name) != 0)
        {
          upload_fail (up, SOUP_STATUS_INTERNAL_SERVER_ERROR, "The file could not be saved.");
          return FALSE;
        }
      g_ptr_array_add (up->saved, g_strdup (up->final_name));
      g_clear_pointer (&up->tmp_name, g_free);
      return TRUE;
    }
  for (guint i = 0; i < MAX_RENAME_TRIES; i++)
    {
      g_autofree char *name = NULL;

      if (i == 0)
        name = g_strdup (up->final_name);
      else
        {
          const char *dot = strrchr (up->final_name, '.');

          if (dot != NULL && dot != up->final_name)
            name = g_strdup_printf ("%.*s (%u)%s", (int) (dot - up->final_name), up->final_name, i, dot);
          else
            name = g_strdup_printf ("%s (%u)", up->final_name, i);
        }
      if (renameat2 (up->dir_fd, up->tmp_name, up->dir_fd, name, RENAME_NOREPLACE) == 0)
        {
          g_ptr_array_add (up->saved, g_steal_pointer (&name));
          g_clear_pointer (&up->tmp_name, g_free);
          return TRUE;
        }
      if (errno != EEXIST)
        break;
    }
  upload_fail (up, SOUP_STATUS_INTERNAL_SERVER_ERROR, "The file could not be saved.");
  return FALSE;
}

static gboolean
part_begin_cb (const char *name, const char *filename, gpointer user_data, GError **error)
{
  Upload *up = user_data;

  if (filename == NULL || *filename == '\0')
    return TRUE; /* a plain field: its data is dropped */
  if (!upload_name_ok (filename))
    {
      upload_fail (up, SOUP_STATUS_BAD_REQUEST, "This file name is not allowed.");
      return FALSE;
    }
  return upload_open_part (up, filename);
}

static gboolean
part_data_cb (const guint8 *data, gsize len, gpointer user_data, GError **error)
{
  Upload *up = user_data;

  return up->fd < 0 || upload_write (up, data, len);
}

static gboolean
part_end_cb (gpointer user_data, GError **error)
{
  Upload *up = user_data;

  return up->fd < 0 || upload_commit_part (up);
}

static const NfltrWebMultipartCallbacks multipart_callbacks = { part_begin_cb, part_data_cb, part_end_cb };

static void
got_chunk_cb (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
  Upload *up = user_data;
  gsize len;
  const guint8 *data = g_bytes_get_data (chunk, &len);

  if (up->status != 0)
    return;
  up->received += len;
  if (up->received > up->serve->max_upload)
    {
      g_autofree char *limit = format_size (up->serve->max_upload);
      g_autofree char *message = g_strdup_printf ("This upload is larger than the limit of %s.", limit);

      upload_fail (up, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, message);
      return;
    }
  if (up->multipart)
    {
      g_autoptr(GError) error = NULL;

      if (!nfltr_web_multipart_feed (up->parser, data, len, &error))
        upload_fail (up, SOUP_STATUS_BAD_REQUEST, error ? error->message : "Malformed upload.");
    }
  else
    upload_write (up, data, len);
}

static void
serve_early (NfltrWebServer *web, SoupServerMessage *msg, const char *path, GHashTable *query,
             gpointer user_data)
{
  Serve *s = nfltr_web_server_get_app_data (web);
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  g_autoptr(GError) error = NULL;
  g_autofree char *rel = NULL;
  g_autofree char *dir_rel = NULL;
  g_autofree char *name = NULL;
  Upload *up;
  goffset declared;

  if (method != SOUP_METHOD_PUT && method != SOUP_METHOD_POST)
    return;
  if (!s->upload)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
      nfltr_web_respond_error (web, msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                               "Uploads are off: the folder is shared read-only (nfltr serve --upload allows them).");
      nfltr_web_refuse_body (msg);
      return;
    }
  declared = soup_message_headers_get_content_length (req);
  if (soup_message_headers_get_encoding (req) == SOUP_ENCODING_CONTENT_LENGTH &&
      (guint64) declared > s->max_upload)
    {
      g_autofree char *limit = format_size (s->max_upload);
      g_autofree char *message = g_strdup_printf ("This upload is larger than the limit of %s.", limit);

      nfltr_web_respond_error (web, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, message);
      nfltr_web_refuse_body (msg);
      return;
    }
  rel = nfltr_serve_path_relative (path, &error);
  if (rel == NULL)
    {
      nfltr_web_respond_error (web, msg, SOUP_STATUS_FORBIDDEN, error->message);
      nfltr_web_refuse_body (msg);
      return;
    }

  up = g_new0 (Upload, 1);
  up->web = web;
  up->serve = s;
  up->msg = msg;
  up->fd = -1;
  up->dir_fd = -1;
  up->saved = g_ptr_array_new_with_free_func (g_free);
  up->multipart = method == SOUP_METHOD_POST;
  g_object_set_data_full (G_OBJECT (msg), "nfltr-upload", up, upload_free);

  if (up->multipart)
    {
      GHashTable *params = NULL;
      const char *type = soup_message_headers_get_content_type (req, &params);
      const char *boundary = params ? g_hash_table_lookup (params, "boundary") : NULL;

      if (g_strcmp0 (type, "multipart/form-data") != 0 || boundary == NULL)
        upload_fail (up, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "A form upload must be multipart/form-data.");
      else
        {
          up->parser = nfltr_web_multipart_new (boundary, &multipart_callbacks, up, &error);
          if (up->parser == NULL)
            upload_fail (up, SOUP_STATUS_BAD_REQUEST, error->message);
        }
      g_clear_pointer (&params, g_hash_table_destroy);
      dir_rel = g_strdup (rel);
    }
  else
    {
      if (g_str_has_suffix (path, "/") || g_str_equal (rel, "."))
        upload_fail (up, SOUP_STATUS_BAD_REQUEST, "PUT needs a file name: PUT /folder/name.");
      dir_rel = g_path_get_dirname (rel);
      name = g_path_get_basename (rel);
      if (up->status == 0 && !upload_name_ok (name))
        upload_fail (up, SOUP_STATUS_BAD_REQUEST, "This file name is not allowed.");
    }
  if (up->status == 0)
    {
      up->dir_fd = nfltr_serve_path_open (s->root_fd, dir_rel, O_RDONLY | O_DIRECTORY);
      if (up->dir_fd < 0)
        upload_fail (up, errno == ENOENT || errno == ENOTDIR ? SOUP_STATUS_NOT_FOUND : SOUP_STATUS_FORBIDDEN,
                     errno == ENOENT || errno == ENOTDIR ? "No such folder." : "This folder cannot be written.");
    }
  if (up->status == 0 && !up->multipart)
    upload_open_part (up, name);

  /* The body goes to the file as it arrives, never into memory. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  if (up->status != 0)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk_cb), up);
}

static void
upload_done (NfltrWebServer *web, SoupServerMessage *msg, const char *path, Upload *up)
{
  g_autoptr(GString) text = g_string_new (NULL);

  if (up->status == 0)
    {
      if (up->multipart)
        {
          g_autoptr(GError) error = NULL;

          if (!nfltr_web_multipart_finish (up->parser, &error))
            upload_fail (up, SOUP_STATUS_BAD_REQUEST, error->message);
        }
      else
        upload_commit_part (up);
    }
  if (up->status != 0)
    {
      nfltr_web_respond_error (web, msg, up->status, up->error);
      return;
    }
  if (up->multipart && nfltr_web_wants_html (msg))
    {
      /* Back to the listing, which shows the new files (POST-redirect-GET). */
      g_autofree char *esc = escape_path (path);

      soup_server_message_set_status (msg, SOUP_STATUS_SEE_OTHER, NULL);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location", esc);
      return;
    }
  for (guint i = 0; i < up->saved->len; i++)
    g_string_append_printf (text, "saved %s\n", (char *) g_ptr_array_index (up->saved, i));
  if (up->saved->len == 0)
    g_string_append (text, "no file in the upload\n");
  soup_server_message_set_status (msg, up->replaced ? SOUP_STATUS_OK : SOUP_STATUS_CREATED, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, text->str, text->len);
}

/* ---- the handler ---- */

static void
serve_request (NfltrWebServer *web, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer user_data)
{
  Serve *s = nfltr_web_server_get_app_data (web);
  const char *method = soup_server_message_get_method (msg);
  Upload *up = g_object_get_data (G_OBJECT (msg), "nfltr-upload");

  if (up != NULL)
    {
      upload_done (web, msg, path, up);
      return;
    }
  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    {
      serve_get (web, msg, s, path, query);
      return;
    }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                s->upload ? "GET, HEAD, PUT, POST" : "GET, HEAD");
  nfltr_web_respond_error (web, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "This method is not served here.");
}

gboolean
nfltr_serve_app_start (GVariant *config, GError **error)
{
  const char *root = NULL;
  Serve *s = g_new0 (Serve, 1);
  NfltrWebServer *web;

  g_variant_lookup (config, "root", "&s", &root);
  g_variant_lookup (config, "upload", "b", &s->upload);
  g_variant_lookup (config, "max-upload", "t", &s->max_upload);
  s->root_fd = root ? open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (s->root_fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open the folder %s: %s",
                   root ? root : "", g_strerror (saved));
      serve_free (s);
      return FALSE;
    }
  web = nfltr_web_server_new (config, "Files");
  nfltr_web_server_set_app_data (web, s, serve_free);
  nfltr_web_server_add_handler (web, "/", serve_request, NULL, NULL);
  nfltr_web_server_set_early_handler (web, serve_early, NULL);
  return nfltr_web_server_run (web, error);
}
