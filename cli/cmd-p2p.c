/* cmd-p2p.c — `nfltr p2p send|receive|chat|audit` (docs/cli.md, docs/protocol.md §9): the
 * service does the work (P2p.Send/Receive/Chat make a Transfer object); the command follows
 * the transfer's signals and properties until it ends. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define P2P_OBJECT_PATH "/xyz/nfltr/Nfltr/p2p"

int cli_cmd_p2p_call (int argc, char **argv); /* issue 14: cmd-p2p-call.c */

typedef struct {
  CliClient         *client;
  NfltrDbusTransfer *transfer;
  GMainLoop         *loop;
  gboolean           json;
  gboolean           yes;
  gboolean           chat;
  gboolean           sender;
  gboolean           prompted;
  char              *last_error;
  int                status;
  gint64             last_progress_print;
  GInputStream      *stdin_stream;
  GDataInputStream  *lines;
  GCancellable      *cancellable;
} P2pRun;

static void
p2p_run_clear (P2pRun *run)
{
  g_cancellable_cancel (run->cancellable);
  g_clear_object (&run->cancellable);
  g_clear_object (&run->lines);
  g_clear_object (&run->stdin_stream);
  g_clear_object (&run->transfer);
  g_clear_pointer (&run->loop, g_main_loop_unref);
  g_free (run->last_error);
  g_clear_pointer (&run->client, cli_client_free);
}

static NfltrDbusP2p *
p2p_proxy (CliClient *client, GError **error)
{
  return nfltr_dbus_p2p_proxy_new_sync (cli_client_get_connection (client), G_DBUS_PROXY_FLAGS_NONE,
                                        cli_client_get_bus_name (client), P2P_OBJECT_PATH, NULL, error);
}

static void
print_event (JsonBuilder *b)
{
  cli_json_print_line (b);
}

static void
print_error_event (P2pRun *run, const char *message)
{
  if (run->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "error");
      cli_json_add_string (b, "message", message);
      json_builder_end_object (b);
      print_event (b);
    }
  else
    {
      g_autofree char *line = g_strdup_printf ("nfltr: %s\n", message);

      fputs (line, stderr);
    }
}

static void
progress_cb (NfltrDbusTransfer *t, guint64 done, guint64 total, double speed, double eta, const char *path,
             P2pRun *run)
{
  gint64 now = g_get_monotonic_time ();

  if (run->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "progress");
      cli_json_add_int (b, "done", done);
      cli_json_add_int (b, "total", total);
      json_builder_set_member_name (b, "speed");
      json_builder_add_double_value (b, speed);
      json_builder_set_member_name (b, "eta");
      json_builder_add_double_value (b, eta);
      cli_json_add_string (b, "path", path);
      json_builder_end_object (b);
      print_event (b);
      return;
    }
  if (now - run->last_progress_print < G_USEC_PER_SEC / 2)
    return;
  run->last_progress_print = now;
  {
    g_autofree char *d = cli_format_bytes (done);
    g_autofree char *tt = cli_format_bytes (total);
    g_autofree char *sp = cli_format_bytes ((guint64) speed);
    g_autofree char *line = NULL;

    if (eta >= 0)
      line = g_strdup_printf ("%s of %s  %s/s  %.0f s left  (%s)%s", d, tt, sp, eta, path,
                              isatty (STDERR_FILENO) ? "\r" : "\n");
    else
      line = g_strdup_printf ("%s of %s  %s/s  (%s)%s", d, tt, sp, path, isatty (STDERR_FILENO) ? "\r" : "\n");
    fputs (line, stderr);
  }
}

static void
file_done_cb (NfltrDbusTransfer *t, const char *name, guint64 size, const char *sha256, const char *path,
              const char *saved_as, P2pRun *run)
{
  if (run->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "done");
      cli_json_add_string (b, "name", name);
      cli_json_add_int (b, "size", size);
      cli_json_add_string (b, "sha256", sha256);
      cli_json_add_string (b, "path", path);
      if (saved_as != NULL && *saved_as)
        cli_json_add_string (b, "saved_as", saved_as);
      json_builder_end_object (b);
      print_event (b);
    }
  else
    {
      g_autofree char *sz = cli_format_bytes (size);
      g_autofree char *line = *saved_as ? g_strdup_printf (_ ("Received %s (%s, %s) as %s, sha256 %s\n"), name, sz, path,
                                                           saved_as, sha256)
                                        : g_strdup_printf (_ ("Sent %s (%s, %s), sha256 %s\n"), name, sz, path, sha256);

      cli_print_flushed (g_strchomp (line));
    }
}

static void
message_received_cb (NfltrDbusTransfer *t, guint id, const char *text, P2pRun *run)
{
  if (run->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "message");
      cli_json_add_int (b, "id", id);
      cli_json_add_string (b, "text", text);
      json_builder_end_object (b);
      print_event (b);
    }
  else
    {
      g_autofree char *line = g_strdup_printf ("peer: %s", text);

      cli_print_flushed (line);
    }
}

static void
message_delivered_cb (NfltrDbusTransfer *t, guint id, P2pRun *run)
{
  if (run->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "delivered");
      cli_json_add_int (b, "id", id);
      json_builder_end_object (b);
      print_event (b);
    }
  else
    {
      g_autofree char *line = g_strdup_printf (_ ("(message %u delivered)"), id);

      cli_print_flushed (line);
    }
}

static gboolean
state_is_final (const char *state)
{
  /* NULL: the service went away and took the property with it. */
  if (state == NULL)
    return FALSE;
  return g_strv_contains ((const char *[]) { "done", "failed", "declined", "cancelled", NULL }, state);
}

static void read_line (P2pRun *run);

static void
ask_accept (P2pRun *run)
{
  GVariant *files = nfltr_dbus_transfer_get_files (run->transfer);
  g_autofree char *total = cli_format_bytes (nfltr_dbus_transfer_get_bytes_total (run->transfer));
  g_autofree char *q = g_strdup_printf (_ ("The sender offers %zu file(s), %s in all. Accept? [y/N] "),
                                        files != NULL ? g_variant_n_children (files) : 0, total);
  char answer[64] = "";
  g_autoptr(GError) error = NULL;
  gboolean ok;

  run->prompted = TRUE;
  fputs (q, stderr);
  fflush (stderr);
  ok = fgets (answer, sizeof answer, stdin) != NULL && (answer[0] == 'y' || answer[0] == 'Y');
  if (ok)
    nfltr_dbus_transfer_call_accept_sync (run->transfer, NULL, &error);
  else
    nfltr_dbus_transfer_call_decline_sync (run->transfer, NULL, &error);
  if (error != NULL)
    cli_print_error (error);
}

static void
state_changed_cb (GObject *object, GParamSpec *pspec, P2pRun *run)
{
  const char *state = nfltr_dbus_transfer_get_state (run->transfer);

  if (state == NULL)
    return;
  if (run->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "state");
      cli_json_add_string (b, "state", state);
      json_builder_end_object (b);
      print_event (b);
    }
  if (g_str_equal (state, "offered") && !run->prompted)
    ask_accept (run);
  if (run->chat && g_str_equal (state, "connected") && run->lines == NULL)
    {
      if (!run->json)
        cli_print_flushed (_ ("Connected. Type a message and press Enter; Ctrl-D ends."));
      run->stdin_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
      run->lines = g_data_input_stream_new (run->stdin_stream);
      read_line (run);
    }
  if (state_is_final (state))
    {
      const char *err = nfltr_dbus_transfer_get_last_error (run->transfer);

      if (g_str_equal (state, "done"))
        run->status = CLI_EXIT_OK;
      else
        {
          run->status = CLI_EXIT_FAILURE;
          if (err != NULL && *err && g_strcmp0 (err, run->last_error) != 0)
            {
              g_free (run->last_error);
              run->last_error = g_strdup (err);
              print_error_event (run, err);
            }
          else if (g_str_equal (state, "declined"))
            print_error_event (run, _ ("the transfer was declined"));
        }
      g_main_loop_quit (run->loop);
    }
}

static void
error_changed_cb (GObject *object, GParamSpec *pspec, P2pRun *run)
{
  const char *err = nfltr_dbus_transfer_get_last_error (run->transfer);

  /* Shown as it happens: the sender's offer outlives a wrong code once. */
  if (err == NULL || *err == '\0' || g_strcmp0 (err, run->last_error) == 0)
    return;
  g_free (run->last_error);
  run->last_error = g_strdup (err);
  print_error_event (run, err);
}

static void
line_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  P2pRun *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL,
                                                                     &error);
  guint id = 0;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      /* End of input: the chat is over from this side. */
      run->status = CLI_EXIT_OK;
      g_main_loop_quit (run->loop);
      return;
    }
  if (*line != '\0' && !nfltr_dbus_transfer_call_send_message_sync (run->transfer, line, &id, NULL, &error))
    cli_print_error (error);
  read_line (run);
}

static void
read_line (P2pRun *run)
{
  g_data_input_stream_read_line_async (run->lines, G_PRIORITY_DEFAULT, run->cancellable, line_cb, run);
}

static gboolean
sigint_cb (gpointer user_data)
{
  P2pRun *run = user_data;

  run->status = CLI_EXIT_INTERRUPTED;
  g_main_loop_quit (run->loop);
  return G_SOURCE_CONTINUE;
}

static void
lost_cb (gpointer user_data)
{
  P2pRun *run = user_data;

  print_error_event (run, _ ("the service went away"));
  run->status = CLI_EXIT_FAILURE;
  g_main_loop_quit (run->loop);
}

/* Follows the transfer at path until it ends; the exit status. */
static int
follow (P2pRun *run, const char *path)
{
  g_autoptr(GError) error = NULL;
  guint sig;

  run->transfer = nfltr_dbus_transfer_proxy_new_sync (cli_client_get_connection (run->client),
                                                      G_DBUS_PROXY_FLAGS_GET_INVALIDATED_PROPERTIES,
                                                      cli_client_get_bus_name (run->client), path, NULL, &error);
  if (run->transfer == NULL)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  run->loop = g_main_loop_new (NULL, FALSE);
  run->cancellable = g_cancellable_new ();
  run->status = CLI_EXIT_FAILURE;
  g_signal_connect (run->transfer, "progress", G_CALLBACK (progress_cb), run);
  g_signal_connect (run->transfer, "file-done", G_CALLBACK (file_done_cb), run);
  g_signal_connect (run->transfer, "message-received", G_CALLBACK (message_received_cb), run);
  g_signal_connect (run->transfer, "message-delivered", G_CALLBACK (message_delivered_cb), run);
  g_signal_connect (run->transfer, "notify::state", G_CALLBACK (state_changed_cb), run);
  g_signal_connect (run->transfer, "notify::last-error", G_CALLBACK (error_changed_cb), run);
  cli_client_set_lost_func (run->client, lost_cb, run);
  sig = g_unix_signal_add (SIGINT, sigint_cb, run);
  /* The state may have moved on before the proxy was made. */
  state_changed_cb (NULL, NULL, run);
  if (!state_is_final (nfltr_dbus_transfer_get_state (run->transfer)))
    g_main_loop_run (run->loop);
  g_source_remove (sig);
  cli_client_set_lost_func (run->client, NULL, NULL);
  if (run->status == CLI_EXIT_INTERRUPTED)
    nfltr_dbus_transfer_call_cancel_sync (run->transfer, NULL, NULL);
  return run->status;
}

static void
print_code (P2pRun *run, const char *code, const char *command)
{
  if (run->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "code");
      cli_json_add_string (b, "code", code);
      json_builder_end_object (b);
      print_event (b);
    }
  else
    {
      g_autofree char *text = g_strdup_printf (_ ("Code: %s\nOn the other machine: nfltr p2p %s %s"), code, command, code);

      cli_print_flushed (text);
    }
}

static int
p2p_send (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("One JSON object per line"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_ ("FILE|FOLDER…"));
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(NfltrDbusP2p) p2p = NULL;
  g_autofree char *path = NULL;
  g_autofree char *code = NULL;
  P2pRun run = { 0 };
  int status;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("Offers files and folders to whoever types the code it prints."));
  if (!cli_parse_command_line (context, "p2p send", &argc, &argv, 1, G_MAXINT,
                               _ ("what to send (e.g. nfltr p2p send photo.jpg)")))
    return CLI_EXIT_USAGE;
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (paths, g_canonicalize_filename (argv[i], NULL));
  g_ptr_array_add (paths, NULL);
  run.json = json;
  run.sender = TRUE;
  run.client = cli_client_connect (&error);
  if (run.client == NULL || (p2p = p2p_proxy (run.client, &error)) == NULL
      || !nfltr_dbus_p2p_call_send_sync (p2p, (const char * const *) paths->pdata, g_variant_new ("a{sv}", NULL),
                                         &path, &code, NULL, &error))
    {
      cli_print_error (error);
      p2p_run_clear (&run);
      return CLI_EXIT_FAILURE;
    }
  print_code (&run, code, "receive");
  status = follow (&run, path);
  p2p_run_clear (&run);
  return status;
}

static int
p2p_receive (int argc, char **argv)
{
  gboolean json = FALSE, yes = FALSE;
  g_autofree char *dir = NULL;
  GOptionEntry entries[] = { { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir,
                               N_ ("Where the files go (default: the current folder)"), N_ ("DIR") },
                             { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes,
                               N_ ("Accept without asking (files are still never overwritten)"), NULL },
                             { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("One JSON object per line"),
                               NULL },
                             { NULL } };
  g_autoptr (GOptionContext) context = g_option_context_new (_ ("CODE"));
  g_autoptr (GError) error = NULL;
  g_autoptr (NfltrDbusP2p) p2p = NULL;
  g_autofree char *path = NULL;
  g_autofree char *abs_dir = NULL;
  g_autoptr (GVariantBuilder) opts = g_variant_builder_new (G_VARIANT_TYPE ("a{sv}"));
  P2pRun run = { 0 };
  int status;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("Receives what the sender of CODE offers."));
  if (!cli_parse_command_line (context, "p2p receive", &argc, &argv, 1, 1,
                               _ ("the code the sender got (e.g. nfltr p2p receive 7-lantern-otter-quartz)")))
    return CLI_EXIT_USAGE;
  abs_dir = g_canonicalize_filename (dir != NULL ? dir : ".", NULL);
  g_variant_builder_add (opts, "{sv}", "yes", g_variant_new_boolean (yes));
  run.json = json;
  run.yes = yes;
  run.client = cli_client_connect (&error);
  if (run.client == NULL || (p2p = p2p_proxy (run.client, &error)) == NULL
      || !nfltr_dbus_p2p_call_receive_sync (p2p, argv[1], abs_dir, g_variant_builder_end (opts), &path, NULL, &error))
    {
      cli_print_error (error);
      p2p_run_clear (&run);
      return CLI_EXIT_FAILURE;
    }
  status = follow (&run, path);
  p2p_run_clear (&run);
  return status;
}

static int
p2p_chat (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("One JSON object per line"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_ ("[CODE]"));
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrDbusP2p) p2p = NULL;
  g_autofree char *path = NULL;
  g_autofree char *code = NULL;
  P2pRun run = { 0 };
  int status;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("Chats with a peer: without CODE, prints one to share; with it, joins."));
  if (!cli_parse_command_line (context, "p2p chat", &argc, &argv, 0, 1, NULL))
    return CLI_EXIT_USAGE;
  run.json = json;
  run.chat = TRUE;
  run.client = cli_client_connect (&error);
  if (run.client == NULL || (p2p = p2p_proxy (run.client, &error)) == NULL
      || !nfltr_dbus_p2p_call_chat_sync (p2p, argc > 1 ? argv[1] : "", g_variant_new ("a{sv}", NULL), &path, &code,
                                         NULL, &error))
    {
      cli_print_error (error);
      p2p_run_clear (&run);
      return CLI_EXIT_FAILURE;
    }
  if (argc < 2)
    print_code (&run, code, "chat");
  status = follow (&run, path);
  if (run.transfer != NULL && !state_is_final (nfltr_dbus_transfer_get_state (run.transfer)))
    nfltr_dbus_transfer_call_cancel_sync (run.transfer, NULL, NULL);
  p2p_run_clear (&run);
  return status == CLI_EXIT_INTERRUPTED ? CLI_EXIT_OK : status;
}

static void
print_chain_line (JsonObject *chains, const char *dir, const char *label)
{
  JsonObject *d = json_object_get_object_member (chains, dir);
  JsonNode *mine = d ? json_object_get_member (d, "mine") : NULL;
  JsonNode *peer = d ? json_object_get_member (d, "peer") : NULL;
  g_autofree char *line = NULL;
  g_autofree char *m = NULL;
  g_autofree char *p = NULL;

  m = mine && JSON_NODE_HOLDS_OBJECT (mine)
        ? g_strdup_printf ("%" G_GINT64_FORMAT " frames, head %.16s…",
                           json_object_get_int_member (json_node_get_object (mine), "count"),
                           json_object_get_string_member (json_node_get_object (mine), "head"))
        : g_strdup ("—");
  p = peer && JSON_NODE_HOLDS_OBJECT (peer)
        ? g_strdup_printf ("%" G_GINT64_FORMAT " frames, head %.16s…",
                           json_object_get_int_member (json_node_get_object (peer), "count"),
                           json_object_get_string_member (json_node_get_object (peer), "head"))
        : g_strdup (_ ("not received"));
  line = g_strdup_printf ("  %s: this side %s; the peer %s", label, m, p);
  cli_print_flushed (line);
}

static int
p2p_audit (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = { { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("The audit as JSON"), NULL },
                             { NULL } };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (CliClient) client = NULL;
  g_autoptr (NfltrDbusP2p) p2p = NULL;
  g_autofree char *text = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *list;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context,
                                _ ("Shows both sides' hash chains of every session this service ran and "
                                   "names the first frame where they differ."));
  if (!cli_parse_command_line (context, "p2p audit", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;
  client = cli_client_connect (&error);
  if (client == NULL || (p2p = p2p_proxy (client, &error)) == NULL ||
      !nfltr_dbus_p2p_call_audit_sync (p2p, &text, NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  if (json)
    {
      cli_print_flushed (text);
      return CLI_EXIT_OK;
    }
  if (!json_parser_load_from_data (parser, text, -1, &error) || !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
    return cli_fail (CLI_EXIT_FAILURE, "%s", _ ("the service's audit is not readable"));
  list = json_node_get_array (json_parser_get_root (parser));
  if (json_array_get_length (list) == 0)
    cli_print_flushed (_ ("No P2P sessions yet."));
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *o = json_array_get_object_element (list, i);
      JsonArray *findings = json_object_get_array_member (o, "findings");
      const char *err = json_object_get_string_member_with_default (o, "error", "");
      g_autofree char *head = g_strdup_printf ("%s (%s): %s%s%s", json_object_get_string_member (o, "transfer"),
                                               json_object_get_string_member (o, "role"),
                                               json_object_get_string_member (o, "state"), *err ? " — " : "", err);

      cli_print_flushed (head);
      print_chain_line (json_object_get_object_member (o, "chains"), "a-to-b", _ ("sender → receiver"));
      print_chain_line (json_object_get_object_member (o, "chains"), "b-to-a", _ ("receiver → sender"));
      for (guint j = 0; findings != NULL && j < json_array_get_length (findings); j++)
        {
          g_autofree char *line = g_strdup_printf ("  %s", json_array_get_string_element (findings, j));

          cli_print_flushed (line);
        }
    }
  return CLI_EXIT_OK;
}

int
cli_cmd_p2p (int argc, char **argv)
{
  static const struct {
    const char     *name;
    CliCommandFunc  func;
  } subs[] = {
    { "send", p2p_send },
    { "receive", p2p_receive },
    { "chat", p2p_chat },
    { "audit", p2p_audit },
    { "call", cli_cmd_p2p_call }, /* issue 14: cmd-p2p-call.c */
  };

  if (argc >= 2)
    for (gsize i = 0; i < G_N_ELEMENTS (subs); i++)
      if (g_str_equal (argv[1], subs[i].name))
        return subs[i].func (argc - 1, argv + 1);
  if (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
    {
      cli_print_flushed (_ (
        "Usage: nfltr p2p send FILE|FOLDER… [--json]\n"
        "       nfltr p2p receive CODE [--dir DIR] [--yes] [--json]\n"
        "       nfltr p2p chat [CODE]\n"
        "       nfltr p2p audit [--json]\n"
        "       nfltr p2p call [CODE] [--video-source test|camera|none] [--audio-source test|mic] [--json]"));
      return CLI_EXIT_OK;
    }
  return cli_fail (CLI_EXIT_USAGE, "%s", _ ("p2p needs send, receive, chat or audit (see nfltr p2p --help)"));
}
