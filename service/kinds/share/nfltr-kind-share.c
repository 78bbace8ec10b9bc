/* nfltr-kind-share.c — "share": `nfltr share FILE|DIR|-` and `nfltr share --text …` (issue 10).
 *
 * The content is served at /SECRET only, SECRET being at least 128 bits from the CLI's
 * CSPRNG (option "secret"); every other path is 404, so the tunnel's name alone gives
 * nothing away. Options: "expires" (t, seconds; the share is gone after, 410), "max-downloads"
 * (u, 0 for no limit; a download counts once every byte was sent), "text" (s), "events"
 * (s: a FIFO the CLI reads, told "expired", "exhausted" or "consumed" when the share ends,
 * so it can remove the tunnel and say why). Target: a file or folder's absolute path, or
 * "fifo:PATH" for standard input, which the CLI writes into PATH.
 *
 * Standard input is streamed, never kept: it has one reader. The first download gets it;
 * any later (or concurrent) one is answered 410 Gone, saying the stream was already taken. */
#define G_LOG_DOMAIN "nfltr-share"

#include "nfltr-kind-share.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nfltr-error.h"
#include "nfltr-web.h"
#include "nfltr-serve-streams.h"

/* 128 bits in base64url is 22 characters. */
#define MIN_SECRET_LEN      22
#define DEFAULT_EXPIRES_S   3600
#define MAX_EXPIRES_S       (30 * 24 * 3600)

struct _NfltrKindShare {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindShare, nfltr_kind_share, NFLTR_TYPE_TUNNEL_KIND)

typedef enum {
  SHARE_OPEN,
  SHARE_EXPIRED,
  SHARE_EXHAUSTED,
  SHARE_CONSUMED,  /* standard input was sent (or taken by a download that broke off) */
} ShareState;

typedef struct {
  NfltrWebServer *web;
  char *secret;
  char *path;      /* file or folder, or NULL */
  char *fifo;      /* standard input, or NULL */
  char *text;      /* or NULL */
  char *events;    /* FIFO to the CLI, or NULL */
  guint max_downloads;
  guint completed;
  guint in_flight;
  ShareState state;
  GSource *expiry;
  GCancellable *cancellable;  /* the FIFO open, on stop */
} Share;

static const char *
share_get_id (NfltrTunnelKind *kind)
{
  return "share";
}

static const char *
share_get_label (NfltrTunnelKind *kind)
{
  return "Share";
}

static const char *
share_get_description (NfltrTunnelKind *kind)
{
  return "A file, folder, text or standard input at a secret link that expires";
}

static GVariant *
share_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  const char *secret = NULL, *text = NULL, *events = NULL;
  guint64 expires = DEFAULT_EXPIRES_S;
  guint32 max_downloads = 0;

  if (options == NULL || !g_variant_lookup (options, "secret", "&s", &secret) || strlen (secret) < MIN_SECRET_LEN)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "a share needs its secret: at least 128 bits, base64url (option “secret”)");
      return NULL;
    }
  for (const char *c = secret; *c; c++)
    if (!g_ascii_isalnum (*c) && *c != '-' && *c != '_')
      {
        g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "the secret must be base64url");
        return NULL;
      }
  g_variant_lookup (options, "expires", "t", &expires);
  g_variant_lookup (options, "max-downloads", "u", &max_downloads);
  if (expires == 0 || expires > MAX_EXPIRES_S)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "--expires must be between 1 second and %u days", MAX_EXPIRES_S / (24 * 3600));
      return NULL;
    }
  if (g_variant_lookup (options, "text", "&s", &text))
    g_variant_dict_insert (&dict, "text", "s", text);
  else if (target != NULL && g_str_has_prefix (target, "fifo:") && g_path_is_absolute (target + 5))
    g_variant_dict_insert (&dict, "fifo", "s", target + 5);
  else if (target != NULL && g_path_is_absolute (target) && g_file_test (target, G_FILE_TEST_EXISTS))
    g_variant_dict_insert (&dict, "path", "s", target);
  else
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "share needs an absolute path of a file or folder, or text (not “%s”)", target ? target : "");
      return NULL;
    }
  if (g_variant_lookup (options, "events", "&s", &events) && g_path_is_absolute (events))
    g_variant_dict_insert (&dict, "events", "s", events);
  /* the badge's "inspectable" (the link's secret is the share's only access control) */
  if (!nfltr_web_parse_auth_options (options, &dict, error))
    return NULL;
  g_variant_dict_insert (&dict, "secret", "s", secret);
  g_variant_dict_insert (&dict, "expires", "t", expires);
  g_variant_dict_insert (&dict, "max-downloads", "u", max_downloads);
  return g_variant_dict_end (&dict);
}

static char *
share_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  const char *s = NULL;

  if (g_variant_lookup (config, "path", "&s", &s))
    return g_strdup (s);
  if (g_variant_lookup (config, "fifo", "&s", &s))
    return g_strdup_printf ("fifo:%s", s);
  return g_strdup ("text");
}

/* Tells the CLI the share ended (it removes the tunnel and says why). Best effort: a CLI
 * that went away is no reason to wait. */
static void
notify (Share *s, const char *word)
{
  g_autofree char *line = g_strdup_printf ("%s\n", word);
  int fd;

  if (s->events == NULL)
    return;
  fd = open (s->events, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return;
  if (write (fd, line, strlen (line)) < 0)
    g_debug ("could not tell the CLI the share ended: %s", g_strerror (errno));
  close (fd);
}

static void
set_state (Share *s, ShareState state)
{
  static const char *words[] = { "open", "expired", "exhausted", "consumed" };

  if (s->state != SHARE_OPEN)
    return;
  s->state = state;
  g_debug ("share %s", words[state]);
  notify (s, words[state]);
}

static gboolean
expiry_cb (gpointer data)
{
  set_state (data, SHARE_EXPIRED);
  return G_SOURCE_REMOVE;
}

static void
share_free (gpointer data)
{
  Share *s = data;

  g_cancellable_cancel (s->cancellable);
  if (s->fifo != NULL)
    {
      /* A FIFO open still waiting for the CLI's writer returns once a writer appears. */
      int fd = open (s->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

      if (fd >= 0)
        close (fd);
    }
  if (s->expiry != NULL)
    {
      g_source_destroy (s->expiry);
      g_source_unref (s->expiry);
    }
  g_clear_object (&s->cancellable);
  g_free (s->secret);
  g_free (s->path);
  g_free (s->fifo);
  g_free (s->text);
  g_free (s->events);
  g_free (s);
}

static void
download_done (gboolean complete, gpointer user_data)
{
  Share *s = user_data;

  s->in_flight--;
  if (s->fifo != NULL)
    {
      set_state (s, SHARE_CONSUMED);
      return;
    }
  if (complete)
    s->completed++;
  if (s->max_downloads > 0 && s->completed >= s->max_downloads)
    set_state (s, SHARE_EXHAUSTED);
}

typedef struct {
  Share *share;
  SoupServerMessage *msg;
} FifoOpen;

static void
fifo_open_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Share *s = task_data;
  int fd;

  /* Blocks until the CLI's writer is there (it waits for us the same way). */
  do
    fd = open (s->fifo, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (errno), "%s", g_strerror (errno));
  else if (g_task_return_error_if_cancelled (task))
    close (fd);
  else
    g_task_return_int (task, fd);
}

static void
fifo_opened_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FifoOpen *fo = user_data;
  g_autoptr(GError) error = NULL;
  int fd = (int) g_task_propagate_int (G_TASK (result), &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (fo->msg);
      g_free (fo);
      return;
    }
  if (fd < 0)
    {
      fo->share->in_flight--;
      nfltr_web_respond_error (fo->share->web, fo->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
    }
  else
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (fd, TRUE);

      soup_server_message_set_status (fo->msg, SOUP_STATUS_OK, NULL);
      nfltr_web_send_stream (fo->msg, in, -1, download_done, fo->share);
    }
  soup_server_message_unpause (fo->msg);
  g_object_unref (fo->msg);
  g_free (fo);
}

static void
share_request (NfltrWebServer *web, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer user_data)
{
  Share *s = nfltr_web_server_get_app_data (web);
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  g_autofree char *expected = g_strconcat ("/", s->secret, NULL);
  g_autofree char *expected_dir = g_strconcat ("/", s->secret, "/", NULL);

  /* Compared in constant time: the secret is the whole of the access control. */
  if (!nfltr_web_secret_equal (path, expected) && !nfltr_web_secret_equal (path, expected_dir))
    {
      nfltr_web_respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "Nothing is shared at this address.");
      return;
    }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      soup_message_headers_replace (resp, "Allow", "GET, HEAD");
      nfltr_web_respond_error (web, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "A share can only be downloaded.");
      return;
    }
  switch (s->state)
    {
      case SHARE_EXPIRED:
        nfltr_web_respond_error (web, msg, SOUP_STATUS_GONE, "This share has expired.");
        return;
      case SHARE_EXHAUSTED:
        nfltr_web_respond_error (web, msg, SOUP_STATUS_GONE,
                                 "This share has been downloaded as many times as it allowed.");
        return;
      case SHARE_CONSUMED:
        nfltr_web_respond_error (
          web, msg, SOUP_STATUS_GONE,
          "This share streamed its input to the first download; it cannot be sent again.");
        return;
      case SHARE_OPEN:
      default: break;
    }
  soup_message_headers_replace (resp, "Cache-Control", "no-store");
  soup_message_headers_replace (resp, "X-Robots-Tag", "noindex");

  if (s->text != NULL)
    {
      if (nfltr_web_wants_html (msg))
        {
          GString *page = nfltr_web_page_begin (web, "Shared text");

          g_string_append (page, "<pre class=\"output\" id=\"shared-text\">");
          nfltr_web_append_escaped (page, s->text);
          g_string_append (page, "</pre>");
          nfltr_web_page_finish (web, msg, SOUP_STATUS_OK, page);
        }
      else
        {
          soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
          soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, s->text,
                                            strlen (s->text));
        }
      if (method == SOUP_METHOD_GET)
        {
          s->in_flight++;
          download_done (TRUE, s);
        }
      return;
    }

  /* One more download is allowed while those under way could still all fail. */
  if (s->max_downloads > 0 && s->completed + s->in_flight >= s->max_downloads)
    {
      nfltr_web_respond_error (web, msg, SOUP_STATUS_GONE,
                               "This share is being downloaded as many times as it allows.");
      return;
    }
  if (s->fifo != NULL)
    {
      g_autoptr(GTask) task = NULL;
      FifoOpen *fo;

      if (method == SOUP_METHOD_HEAD || s->in_flight > 0)
        {
          if (s->in_flight > 0)
            nfltr_web_respond_error (web, msg, SOUP_STATUS_GONE,
                                     "This share streams its input to one download, which has it already.");
          else
            soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
          return;
        }
      s->in_flight++;
      soup_message_headers_set_content_type (resp, "application/octet-stream", NULL);
      soup_message_headers_replace (resp, "Content-Disposition", "attachment; filename=\"stdin\"");
      fo = g_new0 (FifoOpen, 1);
      fo->share = s;
      fo->msg = g_object_ref (msg);
      soup_server_message_pause (msg);
      task = g_task_new (NULL, s->cancellable, fifo_opened_cb, fo);
      g_task_set_task_data (task, s, NULL);
      g_task_run_in_thread (task, fifo_open_thread);
      return;
    }

  {
    int fd = open (s->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    g_autofree char *base = g_path_get_basename (s->path);
    g_autofree char *file = NULL;
    g_autofree char *escaped = NULL;
    g_autofree char *disposition = NULL;
    g_autoptr(GInputStream) in = NULL;
    goffset length = -1;

    if (fd < 0 || fstat (fd, &st) != 0 || (!S_ISREG (st.st_mode) && !S_ISDIR (st.st_mode)))
      {
        if (fd >= 0)
          close (fd);
        nfltr_web_respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "The shared file is not there any more.");
        return;
      }
    if (S_ISDIR (st.st_mode))
      {
        g_autofree char *prefix = g_strconcat (base, "/", NULL);

        file = g_strconcat (base, ".tar", NULL);
        in = nfltr_serve_tar_stream_new (fd, prefix);
        soup_message_headers_set_content_type (resp, "application/x-tar", NULL);
      }
    else
      {
        file = g_strdup (base);
        length = st.st_size;
        in = nfltr_serve_range_stream_new (fd, 0, (guint64) st.st_size);
        soup_message_headers_set_content_type (resp, "application/octet-stream", NULL);
      }
    escaped = g_uri_escape_string (file, NULL, FALSE);
    disposition = g_strdup_printf ("attachment; filename*=UTF-8''%s", escaped);
    soup_message_headers_replace (resp, "Content-Disposition", disposition);
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
    if (method == SOUP_METHOD_HEAD)
      {
        if (length >= 0)
          soup_message_headers_set_content_length (resp, length);
        return;
      }
    s->in_flight++;
    nfltr_web_send_stream (msg, in, length, download_done, s);
  }
}

static gboolean
share_start (NfltrTunnelKind *kind, GVariant *config, GError **error)
{
  Share *s = g_new0 (Share, 1);
  guint64 expires = DEFAULT_EXPIRES_S;

  g_variant_lookup (config, "secret", "s", &s->secret);
  g_variant_lookup (config, "path", "s", &s->path);
  g_variant_lookup (config, "fifo", "s", &s->fifo);
  g_variant_lookup (config, "text", "s", &s->text);
  g_variant_lookup (config, "events", "s", &s->events);
  g_variant_lookup (config, "expires", "t", &expires);
  g_variant_lookup (config, "max-downloads", "u", &s->max_downloads);
  s->cancellable = g_cancellable_new ();
  s->web = nfltr_web_server_new (config, "Share");
  s->expiry = g_timeout_source_new_seconds ((guint) expires);
  g_source_set_callback (s->expiry, expiry_cb, s, NULL);
  g_source_attach (s->expiry, nfltr_web_server_get_context (s->web));
  nfltr_web_server_set_app_data (s->web, s, share_free);
  nfltr_web_server_add_handler (s->web, "/", share_request, NULL, NULL);
  return nfltr_web_server_run (s->web, error);
}

static void
nfltr_kind_share_class_init (NfltrKindShareClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  nfltr_web_kind_class_init (kind_class);
  kind_class->get_id = share_get_id;
  kind_class->get_label = share_get_label;
  kind_class->get_description = share_get_description;
  kind_class->parse = share_parse;
  kind_class->describe_target = share_describe_target;
  kind_class->start = share_start;
}

static void
nfltr_kind_share_init (NfltrKindShare *self)
{
}
