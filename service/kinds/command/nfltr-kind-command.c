/* nfltr-kind-command.c — "command": `nfltr command -- CMD [ARGS…]`, a command as a service
 * (issue 10).
 *
 * Each request runs CMD with the request body on its standard input and answers with its
 * standard output. There is no shell: the argv is the one configured (option "argv"),
 * spawned as is; request data never becomes an argument, except that with
 * "arg-from-query" NAME the query parameter NAME is appended as exactly one more argv entry
 * (refused when it starts with "-", which the command would read as an option).
 *
 * The answer:
 *   X-Exit-Status    the exit status, or "signal N" / "timeout" / "output-limit"
 *   X-Stderr         the first 4 KiB of standard error, escaped to one ASCII line
 *   status           exit 0 → 200 OK; any other exit → 500; killed at --timeout → 504;
 *                    output over --max-output (the command is killed) → 502; ended by a
 *                    signal → 502; more than --concurrency runs at once → 503 with
 *                    Retry-After; a body over --max-input → 413.
 * Options: "argv" (as), "cwd" (s), "concurrency" (u), "timeout" (u, seconds), "max-output"
 * (t), "max-input" (t), "arg-from-query" (s), and the web layer's "basic-auth" and "token". */
#define G_LOG_DOMAIN "nfltr-command"

#include "nfltr-kind-command.h"

#include <signal.h>
#include <string.h>

#include "nfltr-error.h"
#include "nfltr-web.h"

#define DEFAULT_CONCURRENCY 4
#define DEFAULT_TIMEOUT_S   30
#define DEFAULT_MAX_OUTPUT  (10 * 1024 * 1024)
#define DEFAULT_MAX_INPUT   (10 * 1024 * 1024)
#define MAX_STDERR_HEADER   4096
#define READ_CHUNK          (64 * 1024)

struct _NfltrKindCommand {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindCommand, nfltr_kind_command, NFLTR_TYPE_TUNNEL_KIND)

typedef struct {
  gint ref_count;
  NfltrWebServer *web;
  char **argv;
  char *cwd;
  char *arg_from_query;
  guint concurrency;
  guint timeout_s;
  guint64 max_output;
  guint64 max_input;
  guint running;
  GHashTable *runs;  /* Run* that still have a child */
  gboolean stopping;
} Command;

static Command *
command_ref (Command *c)
{
  g_atomic_int_inc (&c->ref_count);
  return c;
}

static void
command_unref (Command *c)
{
  if (!g_atomic_int_dec_and_test (&c->ref_count))
    return;
  g_strfreev (c->argv);
  g_free (c->cwd);
  g_free (c->arg_from_query);
  g_hash_table_unref (c->runs);
  g_free (c);
}

static const char *
command_get_id (NfltrTunnelKind *kind)
{
  return "command";
}

static const char *
command_get_label (NfltrTunnelKind *kind)
{
  return "Command";
}

static const char *
command_get_description (NfltrTunnelKind *kind)
{
  return "A command run for each request: the body on its input, its output back";
}

static GVariant *
command_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_auto(GStrv) argv = NULL;
  const char *cwd = NULL, *query_arg = NULL;
  guint32 concurrency = DEFAULT_CONCURRENCY, timeout_s = DEFAULT_TIMEOUT_S;
  guint64 max_output = DEFAULT_MAX_OUTPUT, max_input = DEFAULT_MAX_INPUT;
  g_autofree char *program = NULL;

  if (options == NULL || !g_variant_lookup (options, "argv", "^as", &argv) || argv[0] == NULL)
    {
      /* Restored or created without an argv: the target as the user typed it, parsed like a
       * shell would split it (it is the owner's configuration, never request data). */
      if (target == NULL || !g_shell_parse_argv (target, NULL, &argv, NULL) || argv[0] == NULL)
        {
          g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                               "command needs the command to run (nfltr command -- CMD ARGS…)");
          return NULL;
        }
    }
  program = g_find_program_in_path (argv[0]);
  if (program == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "“%s” is not a program found in PATH", argv[0]);
      return NULL;
    }
  if (options != NULL)
    {
      g_variant_lookup (options, "cwd", "&s", &cwd);
      g_variant_lookup (options, "arg-from-query", "&s", &query_arg);
      g_variant_lookup (options, "concurrency", "u", &concurrency);
      g_variant_lookup (options, "timeout", "u", &timeout_s);
      g_variant_lookup (options, "max-output", "t", &max_output);
      g_variant_lookup (options, "max-input", "t", &max_input);
    }
  if (concurrency == 0 || concurrency > 1024 || timeout_s == 0 || max_output == 0 || max_input == 0)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "--concurrency (1–1024), --timeout, --max-output and --max-input must be more than 0");
      return NULL;
    }
  if (query_arg != NULL && *query_arg == '\0')
    query_arg = NULL;
  g_variant_dict_insert (&dict, "argv", "^as", argv);
  if (cwd != NULL && g_path_is_absolute (cwd))
    g_variant_dict_insert (&dict, "cwd", "s", cwd);
  if (query_arg != NULL)
    g_variant_dict_insert (&dict, "arg-from-query", "s", query_arg);
  g_variant_dict_insert (&dict, "concurrency", "u", concurrency);
  g_variant_dict_insert (&dict, "timeout", "u", timeout_s);
  g_variant_dict_insert (&dict, "max-output", "t", max_output);
  g_variant_dict_insert (&dict, "max-input", "t", max_input);
  if (!nfltr_web_parse_auth_options (options, &dict, error))
    return NULL;
  return g_variant_dict_end (&dict);
}

static char *
command_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  g_auto(GStrv) argv = NULL;
  g_autoptr(GString) out = g_string_new (NULL);

  g_variant_lookup (config, "argv", "^as", &argv);
  for (guint i = 0; argv != NULL && argv[i] != NULL; i++)
    {
      g_autofree char *quoted = g_shell_quote (argv[i]);

      g_string_append_printf (out, "%s%s", i ? " " : "", quoted);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ---- one run ---- */

typedef enum {
  END_EXITED,
  END_TIMEOUT,
  END_OUTPUT_LIMIT,
  END_CLIENT_GONE
} EndReason;

typedef struct {
  Command *command;
  SoupServerMessage *msg;
  GSubprocess *child;
  GCancellable *cancellable;
  GByteArray *out;
  GByteArray *err;
  guint pending;          /* stdout, stderr, wait */
  GSource *timeout;
  EndReason reason;
  gboolean answered;
  gulong finished_id;
} Run;

static void
run_free (Run *run)
{
  if (run->timeout != NULL)
    {
      g_source_destroy (run->timeout);
      g_source_unref (run->timeout);
    }
  if (run->finished_id != 0 && run->msg != NULL)
    g_signal_handler_disconnect (run->msg, run->finished_id);
  g_clear_object (&run->msg);
  g_clear_object (&run->child);
  g_clear_object (&run->cancellable);
  g_byte_array_unref (run->out);
  g_byte_array_unref (run->err);
  command_unref (run->command);
  g_free (run);
}

static void
run_kill (Run *run, EndReason reason)
{
  if (run->reason == END_EXITED)
    run->reason = reason;
  if (run->child != NULL)
    g_subprocess_force_exit (run->child);
}

static void
run_answer (Run *run)
{
  Command *c = run->command;
  SoupMessageHeaders *h;
  g_autofree char *err_text = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *exit_text = NULL;
  guint status;

  c->running--;
  g_hash_table_remove (c->runs, run);
  if (run->reason == END_CLIENT_GONE || run->msg == NULL)
    return;
  h = soup_server_message_get_response_headers (run->msg);
  err_text = run->err->len > 0
               ? g_strndup ((const char *) run->err->data, MIN (run->err->len, MAX_STDERR_HEADER))
               : g_strdup ("");
  /* One ASCII line: a header value cannot hold a newline or raw bytes. */
  escaped = g_strescape (err_text, NULL);
  soup_message_headers_replace (h, "X-Stderr", escaped);
  switch (run->reason)
    {
      case END_TIMEOUT:
        exit_text = g_strdup ("timeout");
        status = SOUP_STATUS_GATEWAY_TIMEOUT;
        break;
      case END_OUTPUT_LIMIT:
        exit_text = g_strdup ("output-limit");
        status = SOUP_STATUS_BAD_GATEWAY;
        break;
      case END_EXITED:
      case END_CLIENT_GONE:
      default:
        if (g_subprocess_get_if_exited (run->child))
          {
            int code = g_subprocess_get_exit_status (run->child);

            exit_text = g_strdup_printf ("%d", code);
            status = code == 0 ? SOUP_STATUS_OK : SOUP_STATUS_INTERNAL_SERVER_ERROR;
          }
        else
          {
            exit_text = g_strdup_printf ("signal %d", g_subprocess_get_term_sig (run->child));
            status = SOUP_STATUS_BAD_GATEWAY;
          }
        break;
    }
  soup_message_headers_replace (h, "X-Exit-Status", exit_text);
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  if (run->reason == END_TIMEOUT)
    {
      g_autofree char *m =
        g_strdup_printf ("The command ran longer than %u s and was stopped.", c->timeout_s);

      nfltr_web_respond_error (c->web, run->msg, status, m);
    }
  else if (run->reason == END_OUTPUT_LIMIT)
    {
      g_autofree char *limit = g_format_size_full (c->max_output, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *m =
        g_strdup_printf ("The command's output went over the limit of %s; it was stopped.", limit);

      nfltr_web_respond_error (c->web, run->msg, status, m);
    }
  else
    {
      soup_server_message_set_status (run->msg, status, NULL);
      soup_server_message_set_response (run->msg, "application/octet-stream", SOUP_MEMORY_COPY,
                                        (const char *) run->out->data, run->out->len);
    }
  run->answered = TRUE;
  soup_server_message_unpause (run->msg);
}

static void
run_step_done (Run *run)
{
  if (--run->pending > 0)
    return;
  run_answer (run);
  run_free (run);
}

static void read_more (Run *run, GInputStream *in, GByteArray *sink);

typedef struct {
  Run *run;
  GByteArray *sink;
} ReadOp;

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReadOp *op = user_data;
  Run *run = op->run;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);
  gboolean is_out = op->sink == run->out;
  guint64 cap = is_out ? run->command->max_output : MAX_STDERR_HEADER;
  gsize len;
  const guint8 *data;

  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      g_free (op);
      run_step_done (run);
      return;
    }
  data = g_bytes_get_data (bytes, &len);
  if (op->sink->len + len > cap)
    {
      g_byte_array_append (op->sink, data, (guint) (cap - op->sink->len));
      if (is_out)
        run_kill (run, END_OUTPUT_LIMIT);
      /* stderr past its header's worth is read and dropped, so the child never blocks on it */
    }
  else
    g_byte_array_append (op->sink, data, (guint) len);
  read_more (run, G_INPUT_STREAM (source), op->sink);
  g_free (op);
}

static void
read_more (Run *run, GInputStream *in, GByteArray *sink)
{
  ReadOp *op = g_new0 (ReadOp, 1);

  op->run = run;
  op->sink = sink;
  g_input_stream_read_bytes_async (in, READ_CHUNK, G_PRIORITY_DEFAULT, NULL, read_cb, op);
}

static void
wait_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  run_step_done (run);
}

static void
stdin_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  /* A command that does not read its input makes this fail (EPIPE): that is its choice. */
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
}

static gboolean
timeout_cb (gpointer data)
{
  Run *run = data;

  g_clear_pointer (&run->timeout, g_source_unref);
  run_kill (run, END_TIMEOUT);
  return G_SOURCE_REMOVE;
}

static void
client_gone_cb (SoupServerMessage *msg, gpointer data)
{
  Run *run = data;

  if (run->answered)
    return;
  /* Nobody is waiting for the answer any more: stop the work. */
  run->reason = END_CLIENT_GONE;
  run_kill (run, END_CLIENT_GONE);
}

static void
command_request (NfltrWebServer *web, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer user_data)
{
  Command *c = nfltr_web_server_get_app_data (web);
  const char *method = soup_server_message_get_method (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) input = NULL;
  Run *run;

  if (!g_str_equal (path, "/"))
    {
      nfltr_web_respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "The command is at /.");
      return;
    }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_POST && method != SOUP_METHOD_PUT)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, POST, PUT");
      nfltr_web_respond_error (web, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Use POST with the input as the body, or GET.");
      return;
    }
  if (g_object_get_data (G_OBJECT (msg), "nfltr-too-large") != NULL || (guint64) body->length > c->max_input)
    {
      g_autofree char *limit = g_format_size_full (c->max_input, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *m = g_strdup_printf ("The input is larger than the limit of %s.", limit);

      nfltr_web_respond_error (web, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, m);
      return;
    }
  if (c->running >= c->concurrency)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", "1");
      nfltr_web_respond_error (web, msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                               "The command is already running as many times as allowed; try again.");
      return;
    }

  g_strv_builder_addv (builder, (const char **) c->argv);
  if (c->arg_from_query != NULL)
    {
      const char *value = g_hash_table_lookup (query, c->arg_from_query);

      if (value != NULL)
        {
          if (value[0] == '-')
            {
              nfltr_web_respond_error (web, msg, SOUP_STATUS_BAD_REQUEST,
                                       "A value from the query may not start with “-”: the command would read it as an option.");
              return;
            }
          /* One argv entry, whatever it holds: no shell ever sees it. */
          g_strv_builder_add (builder, value);
        }
    }
  argv = g_strv_builder_end (builder);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (c->cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, c->cwd);
  run = g_new0 (Run, 1);
  run->command = command_ref (c);
  run->out = g_byte_array_new ();
  run->err = g_byte_array_new ();
  run->child = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv, &error);
  if (run->child == NULL)
    {
      nfltr_web_respond_error (web, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
      run_free (run);
      return;
    }
  run->msg = g_object_ref (msg);
  run->reason = END_EXITED;
  c->running++;
  g_hash_table_add (c->runs, run);
  soup_server_message_pause (msg);
  run->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (client_gone_cb), run);

  input = soup_message_body_flatten (body);
  g_output_stream_write_all_async (g_subprocess_get_stdin_pipe (run->child), g_bytes_get_data (input, NULL),
                                   g_bytes_get_size (input), G_PRIORITY_DEFAULT, NULL, stdin_written_cb,
                                   NULL);
  /* The bytes must outlive the write. */
  g_object_set_data_full (G_OBJECT (g_subprocess_get_stdin_pipe (run->child)), "nfltr-input",
                          g_bytes_ref (input), (GDestroyNotify) g_bytes_unref);
  run->pending = 3;
  read_more (run, g_subprocess_get_stdout_pipe (run->child), run->out);
  read_more (run, g_subprocess_get_stderr_pipe (run->child), run->err);
  g_subprocess_wait_async (run->child, NULL, wait_cb, run);
  run->timeout = g_timeout_source_new_seconds (c->timeout_s);
  g_source_set_callback (run->timeout, timeout_cb, run, NULL);
  g_source_attach (run->timeout, g_main_context_get_thread_default ());
}

static void
input_chunk_cb (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
  Command *c = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  if ((guint64) body->length > c->max_input && g_object_get_data (G_OBJECT (msg), "nfltr-too-large") == NULL)
    {
      /* Kept no further: the answer is 413 once the body is over. */
      g_object_set_data (G_OBJECT (msg), "nfltr-too-large", GINT_TO_POINTER (1));
      soup_message_body_set_accumulate (body, FALSE);
    }
}

static void
command_early (NfltrWebServer *web, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer user_data)
{
  Command *c = nfltr_web_server_get_app_data (web);
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);

  if (soup_message_headers_get_encoding (req) == SOUP_ENCODING_CONTENT_LENGTH &&
      (guint64) soup_message_headers_get_content_length (req) > c->max_input)
    {
      g_autofree char *limit = g_format_size_full (c->max_input, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *m = g_strdup_printf ("The input is larger than the limit of %s.", limit);

      nfltr_web_respond_error (web, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, m);
      nfltr_web_refuse_body (msg);
      return;
    }
  g_signal_connect (msg, "got-chunk", G_CALLBACK (input_chunk_cb), c);
}

static void
command_app_free (gpointer data)
{
  Command *c = data;
  GHashTableIter iter;
  gpointer run;

  /* The tunnel stopped: no child outlives it. */
  c->stopping = TRUE;
  g_hash_table_iter_init (&iter, c->runs);
  while (g_hash_table_iter_next (&iter, &run, NULL))
    run_kill (run, END_CLIENT_GONE);
  command_unref (c);
}

static gboolean
command_start (NfltrTunnelKind *kind, GVariant *config, GError **error)
{
  Command *c = g_new0 (Command, 1);

  c->ref_count = 1;
  g_variant_lookup (config, "argv", "^as", &c->argv);
  g_variant_lookup (config, "cwd", "s", &c->cwd);
  g_variant_lookup (config, "arg-from-query", "s", &c->arg_from_query);
  g_variant_lookup (config, "concurrency", "u", &c->concurrency);
  g_variant_lookup (config, "timeout", "u", &c->timeout_s);
  g_variant_lookup (config, "max-output", "t", &c->max_output);
  g_variant_lookup (config, "max-input", "t", &c->max_input);
  c->runs = g_hash_table_new (NULL, NULL);
  c->web = nfltr_web_server_new (config, "Command");
  nfltr_web_server_set_app_data (c->web, c, command_app_free);
  nfltr_web_server_add_handler (c->web, "/", command_request, NULL, NULL);
  nfltr_web_server_set_early_handler (c->web, command_early, NULL);
  return nfltr_web_server_run (c->web, error);
}

static void
nfltr_kind_command_class_init (NfltrKindCommandClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  nfltr_web_kind_class_init (kind_class);
  kind_class->get_id = command_get_id;
  kind_class->get_label = command_get_label;
  kind_class->get_description = command_get_description;
  kind_class->parse = command_parse;
  kind_class->describe_target = command_describe_target;
  kind_class->start = command_start;
}

static void
nfltr_kind_command_init (NfltrKindCommand *self)
{
}
