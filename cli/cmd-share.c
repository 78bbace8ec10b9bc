/* cmd-share.c — `nfltr share FILE|DIR|-` and `nfltr share --text TEXT`: an ephemeral share at
 * an unguessable URL until it expires, is downloaded --max-downloads times, or Ctrl-C (the
 * "share" kind, service/kinds/share) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-commands.h"
#include "cli-output.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_EXPIRES "1h"
/* 144 bits from the CSPRNG: base64url without padding, 24 characters. */
#define SECRET_BYTES 18

/* "90", "90s", "15m", "1h", "2d" into seconds; FALSE if not a duration. */
static gboolean
parse_duration (const char *text, guint64 *seconds)
{
  char *end = NULL;
  guint64 value, unit = 1;

  if (text == NULL || !g_ascii_isdigit (*text))
    return FALSE;
  value = g_ascii_strtoull (text, &end, 10);
  switch (*end)
    {
    case 's': unit = 1; end++; break;
    case 'm': unit = 60; end++; break;
    case 'h': unit = 3600; end++; break;
    case 'd': unit = 86400; end++; break;
    default: break;
    }
  if (*end != '\0' || value == 0 || value > G_MAXUINT32)
    return FALSE;
  *seconds = value * unit;
  return TRUE;
}

static char *
random_secret (GError **error)
{
  guint8 buf[SECRET_BYTES];
  g_autofree char *b64 = NULL;
  int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
  gsize got = 0;

  while (fd >= 0 && got < sizeof buf)
    {
      ssize_t n = read (fd, buf + got, sizeof buf - got);

      if (n <= 0 && errno != EINTR)
        break;
      if (n > 0)
        got += (gsize) n;
    }
  if (fd >= 0)
    close (fd);
  if (got != sizeof buf)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, _ ("could not read random bytes"));
      return NULL;
    }
  b64 = g_base64_encode (buf, sizeof buf);
  g_strdelimit (b64, "+", '-');
  g_strdelimit (b64, "/", '_');
  return g_strdup (b64);
}

typedef struct {
  char *dir;            /* the private folder of the FIFOs */
  char *events_path;
  char *stdin_path;
  GCancellable *stop;
  GInputStream *events;
  guint expiry_source;
  GThread *pump;
  gboolean pump_quit;
  guint max_downloads;
} Share;

static void
stop_with (Share *share, const char *message)
{
  if (g_cancellable_is_cancelled (share->stop))
    return;
  /* cli_tunnel_run reads the message when the cancellable fires. */
  g_object_set_data_full (G_OBJECT (share->stop), "message", g_strdup (message), g_free);
  g_cancellable_cancel (share->stop);
}

static void events_read (Share *share);

static void
events_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Share *share = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  g_autofree char *text = NULL;

  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    return;
  text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (strstr (text, "expired") != NULL)
    stop_with (share, _ ("The share expired; its link no longer works."));
  else if (strstr (text, "exhausted") != NULL)
    {
      g_autofree char *message = g_strdup_printf (
        g_dngettext (GETTEXT_PACKAGE, "The share was downloaded %u time, as many as allowed; its link no longer works.",
                     "The share was downloaded %u times, as many as allowed; its link no longer works.",
                     share->max_downloads),
        share->max_downloads);

      stop_with (share, message);
    }
  else if (strstr (text, "consumed") != NULL)
    stop_with (share, _ ("Standard input was sent to the first download; the share is over."));
  else
    events_read (share);
}

static void
events_read (Share *share)
{
  g_input_stream_read_bytes_async (share->events, 256, G_PRIORITY_DEFAULT, share->stop, events_cb, share);
}

static gboolean
expiry_cb (gpointer user_data)
{
  Share *share = user_data;

  share->expiry_source = 0;
  stop_with (share, _ ("The share expired; its link no longer works."));
  return G_SOURCE_REMOVE;
}

/* Standard input into the FIFO the service reads: opened when the first download opens its
 * end, copied as it comes (never all of it in memory). */
static gpointer
pump_thread (gpointer data)
{
  Share *share = data;
  char buf[64 * 1024];
  int out;

  do
    out = open (share->stdin_path, O_WRONLY | O_CLOEXEC);
  while (out < 0 && errno == EINTR);
  if (out < 0 || share->pump_quit)
    {
      if (out >= 0)
        close (out);
      return NULL;
    }
  for (;;)
    {
      ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
      gsize off = 0;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      while (off < (gsize) n)
        {
          ssize_t w = write (out, buf + off, (gsize) n - off);

          if (w < 0 && errno == EINTR)
            continue;
          if (w <= 0)
            goto done; /* the download broke off */
          off += (gsize) w;
        }
    }
done:
  close (out);
  return NULL;
}

int
cli_cmd_share (int argc, char **argv)
{
  g_autofree char *text = NULL;
  g_autofree char *expires_text = NULL;
  int max_downloads = 0;
  const GOptionEntry entries[] = {
    { "text", 0, 0, G_OPTION_ARG_STRING, &text, N_ ("Share this text instead of a file"), "TEXT" },
    { "expires", 0, 0, G_OPTION_ARG_STRING, &expires_text,
      N_ ("How long the link works: 90s, 15m, 1h, 2d (default 1h)"), "DURATION" },
    { "max-downloads", 0, 0, G_OPTION_ARG_INT, &max_downloads,
      N_ ("End the share after this many complete downloads (default: no limit)"), "N" },
    G_OPTION_ENTRY_NULL
  };
  CliTunnelOptions options;
  g_auto(GStrv) positional = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *secret = NULL;
  guint64 expires = 0;
  Share share = { 0 };
  int status;

  if (!cli_tunnel_options_parse_full ("share", argc, argv, entries, "FILE|DIR|-",
                                      _ ("Shares a file, a folder (as .tar), standard input (-) or --text at a secret\n"
                                         "link until it expires or has been downloaded --max-downloads times.\n"
                                         "Verified end-to-end: TLS ends on this machine and the relay cannot read it."),
                                      _ ("Examples:\n"
                                         "  nfltr share report.pdf --expires 15m --max-downloads 1\n"
                                         "  tar c photos | nfltr share -\n"
                                         "  nfltr share --text \"the wifi password is …\"\n"),
                                      0, 1, &options, &positional, &error))
    goto usage;
  if (text == NULL && positional[0] == NULL)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _ ("missing FILE, DIR, - (standard input) or --text"));
      goto usage;
    }
  if (text != NULL && positional[0] != NULL)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _ ("give either a FILE, DIR or - or --text, not both"));
      goto usage;
    }
  if (!parse_duration (expires_text ? expires_text : DEFAULT_EXPIRES, &expires))
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _ ("--expires: “%s” is not a duration (90s, 15m, 1h, 2d)"),
                   expires_text);
      goto usage;
    }
  if (max_downloads < 0)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _ ("--max-downloads must be 1 or more"));
      goto usage;
    }
  secret = random_secret (&error);
  if (secret == NULL)
    {
      cli_tunnel_options_clear (&options);
      return cli_fail (CLI_EXIT_FAILURE, "%s", error->message);
    }

  share.stop = g_cancellable_new ();
  share.max_downloads = (guint) max_downloads;
  share.dir = g_dir_make_tmp ("nfltr-share-XXXXXX", &error);
  if (share.dir == NULL)
    {
      cli_tunnel_options_clear (&options);
      g_object_unref (share.stop);
      return cli_fail (CLI_EXIT_FAILURE, "%s", error->message);
    }
  share.events_path = g_build_filename (share.dir, "events", NULL);
  if (mkfifo (share.events_path, 0600) == 0)
    {
      /* Read and write: the service's writes come and go without an end of file here. */
      int fd = open (share.events_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

      if (fd >= 0)
        {
          share.events = g_unix_input_stream_new (fd, TRUE);
          g_variant_dict_insert (&dict, "events", "s", share.events_path);
          events_read (&share);
        }
    }

  if (text != NULL)
    {
      options.target = g_strdup ("text");
      g_variant_dict_insert (&dict, "text", "s", text);
    }
  else if (g_str_equal (positional[0], "-"))
    {
      share.stdin_path = g_build_filename (share.dir, "stdin", NULL);
      if (mkfifo (share.stdin_path, 0600) != 0)
        {
          status = cli_fail (CLI_EXIT_FAILURE, "%s", g_strerror (errno));
          cli_tunnel_options_clear (&options);
          goto out;
        }
      options.target = g_strconcat ("fifo:", share.stdin_path, NULL);
      share.pump = g_thread_new ("nfltr-share-stdin", pump_thread, &share);
    }
  else
    {
      options.target = g_canonicalize_filename (positional[0], NULL);
      if (!g_file_test (options.target, G_FILE_TEST_IS_REGULAR) && !g_file_test (options.target, G_FILE_TEST_IS_DIR))
        {
          status = cli_fail (CLI_EXIT_USAGE, _ ("“%s” is not a file or folder"), positional[0]);
          cli_tunnel_options_clear (&options);
          goto out;
        }
    }
  g_variant_dict_insert (&dict, "secret", "s", secret);
  g_variant_dict_insert (&dict, "expires", "t", expires);
  g_variant_dict_insert (&dict, "max-downloads", "u", (guint32) max_downloads);
  options.kind_options = g_variant_ref_sink (g_variant_dict_end (&dict));
  options.url_suffix = g_strconcat ("/", secret, NULL);
  options.stop = g_object_ref (share.stop);
  /* The CLI's own clock too: the link dies at the deadline even if the service's word is
   * lost. */
  share.expiry_source = g_timeout_add_seconds ((guint) expires, expiry_cb, &share);
  status = cli_tunnel_run (&options, NULL);

out:
  if (share.expiry_source != 0)
    g_source_remove (share.expiry_source);
  g_cancellable_cancel (share.stop);
  if (share.pump != NULL)
    {
      /* The writer may still wait for a reader: be one, so its open returns. */
      int fd;

      share.pump_quit = TRUE;
      fd = open (share.stdin_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      g_thread_join (share.pump);
      if (fd >= 0)
        close (fd);
    }
  g_clear_object (&share.events);
  if (share.stdin_path != NULL)
    g_unlink (share.stdin_path);
  g_unlink (share.events_path);
  g_rmdir (share.dir);
  g_free (share.stdin_path);
  g_free (share.events_path);
  g_free (share.dir);
  g_object_unref (share.stop);
  return status;

usage:
  cli_fail (CLI_EXIT_USAGE, "%s", error->message);
  if (error->domain == G_OPTION_ERROR)
    fputs (_ ("Try “nfltr share --help”.\n"), stderr);
  cli_tunnel_options_clear (&options);
  return CLI_EXIT_USAGE;
}
