/* cmd-a2a.c — `nfltr a2a id|send|listen|trust|serve|connect|conversations` (docs/cli.md,
 * docs/protocol.md §13): the service seals and opens the messages (A2a on
 * /xyz/nfltr/Nfltr/a2a); the command asks it and prints what comes back. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#define A2A_OBJECT_PATH "/xyz/nfltr/Nfltr/a2a"
/* A label every line about an unencrypted message carries. */
#define NO_ENCRYPTION_LABEL "[NOT ENCRYPTED: --no-payload-encryption]"

static NfltrDbusA2a *
a2a_proxy (CliClient *client, GError **error)
{
  NfltrDbusA2a *proxy = nfltr_dbus_a2a_proxy_new_sync (cli_client_get_connection (client), G_DBUS_PROXY_FLAGS_NONE,
                                                       cli_client_get_bus_name (client), A2A_OBJECT_PATH, NULL, error);

  if (proxy != NULL && nfltr_dbus_a2a_get_agent_id (proxy) == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "the service has no a2a identity (see its log: the key could not be made or read)");
      g_clear_object (&proxy);
    }
  /* Sends wait for the relay's answer, a lookup first: a minute is plenty. */
  if (proxy != NULL)
    g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (proxy), 60000);
  return proxy;
}

/* --- id ----------------------------------------------------------------------------------- */

static int
a2a_id (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("As JSON: id and fingerprint"), NULL }, { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (CliClient) client = NULL;
  g_autoptr (NfltrDbusA2a) a2a = NULL;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("Prints this agent's id and its a2a key's fingerprint."));
  if (!cli_parse_command_line (context, "a2a id", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;
  client = cli_client_connect (&error);
  if (client == NULL || (a2a = a2a_proxy (client, &error)) == NULL)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "id", nfltr_dbus_a2a_get_agent_id (a2a));
      cli_json_add_string (b, "fingerprint", nfltr_dbus_a2a_get_fingerprint (a2a));
      cli_json_add_string (b, "key", nfltr_dbus_a2a_get_public_key (a2a));
      json_builder_end_object (b);
      cli_json_print_line (b);
    }
  else
    {
      g_autofree char *text = g_strdup_printf ("%s %s", nfltr_dbus_a2a_get_agent_id (a2a),
                                               nfltr_dbus_a2a_get_fingerprint (a2a));

      cli_print_flushed (text);
    }
  return CLI_EXIT_OK;
}

/* --- send --------------------------------------------------------------------------------- */

typedef struct {
  GMainLoop *loop;
  char      *id;
  char      *to;
  gboolean   delivered;
  gboolean   timed_out;
} SendWait;

static void
delivered_cb (NfltrDbusA2a *a2a, const char *to, const char *id, SendWait *w)
{
  if (w->id != NULL && g_str_equal (id, w->id))
    {
      w->delivered = TRUE;
      g_main_loop_quit (w->loop);
    }
}

static gboolean
wait_timeout_cb (gpointer user_data)
{
  SendWait *w = user_data;

  w->timed_out = TRUE;
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

static int
a2a_send (int argc, char **argv)
{
  gboolean json = FALSE, plaintext = FALSE, no_wait = FALSE;
  g_autofree char *file = NULL;
  int ttl = 0, wait_s = 10;
  GOptionEntry entries[] = {
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file,
      N_ ("Send this file instead of a message (at most 256 KiB)"), N_ ("FILE") },
    { "no-payload-encryption", 0, 0, G_OPTION_ARG_NONE, &plaintext,
      N_ ("Send the payload UNENCRYPTED: the relay can read it (an explicit opt-out)"), NULL },
    { "ttl", 0, 0, G_OPTION_ARG_INT, &ttl, N_ ("How long the relay may hold it while the agent is offline"),
      N_ ("SECONDS") },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait, N_ ("Do not wait for the delivery receipt"), NULL },
    { "wait", 0, 0, G_OPTION_ARG_INT, &wait_s, N_ ("Seconds to wait for the receipt (default 10)"),
      N_ ("S") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("One JSON object per line"), NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (_ ("AGENT [MESSAGE]"));
  g_autoptr (GError) error = NULL;
  g_autoptr (CliClient) client = NULL;
  g_autoptr (NfltrDbusA2a) a2a = NULL;
  g_autoptr (GVariantBuilder) opts = g_variant_builder_new (G_VARIANT_TYPE ("a{sv}"));
  g_autofree char *contents = NULL;
  SendWait w = { 0 };
  g_autofree char *status = NULL;
  gulong handler;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (
    context, _ ("Sends a message (or a file) to another agent through the relay, end-to-end "
                "encrypted; AGENT is an agent id or an a2a name."));
  if (!cli_parse_command_line (context, "a2a send", &argc, &argv, 1, 2,
                               _ ("the agent and the message (e.g. nfltr a2a send 5f0c… \"hello\")")))
    return CLI_EXIT_USAGE;
  if ((file == NULL) == (argc < 3))
    return cli_fail (CLI_EXIT_USAGE, "%s", _ ("give either a MESSAGE or --file FILE"));
  if (file != NULL)
    {
      gsize len = 0;

      if (!g_file_get_contents (file, &contents, &len, &error))
        {
          cli_print_error (error);
          return CLI_EXIT_FAILURE;
        }
      g_variant_builder_add (opts, "{sv}", "file-name", g_variant_new_string (file));
      g_variant_builder_add (opts, "{sv}", "file-data",
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, contents, len, 1));
    }
  if (plaintext)
    g_variant_builder_add (opts, "{sv}", "no-payload-encryption", g_variant_new_boolean (TRUE));
  if (ttl > 0)
    g_variant_builder_add (opts, "{sv}", "ttl", g_variant_new_uint32 (ttl));
  client = cli_client_connect (&error);
  if (client == NULL || (a2a = a2a_proxy (client, &error)) == NULL)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  w.loop = g_main_loop_new (NULL, FALSE);
  handler = g_signal_connect (a2a, "delivered", G_CALLBACK (delivered_cb), &w);
  if (!nfltr_dbus_a2a_call_send_sync (a2a, argv[1], file != NULL ? "" : argv[2], g_variant_builder_end (opts), &w.id,
                                      &status, NULL, &error))
    {
      g_signal_handler_disconnect (a2a, handler);
      g_main_loop_unref (w.loop);
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "sent");
      cli_json_add_string (b, "id", w.id);
      cli_json_add_string (b, "status", status);
      json_builder_set_member_name (b, "encrypted");
      json_builder_add_boolean_value (b, !plaintext);
      json_builder_end_object (b);
      cli_json_print_line (b);
    }
  else
    {
      g_autofree char *line = g_strdup_printf (g_str_equal (status, "stored")
                                                 ? _ ("Message %s sent; the agent is offline, the relay holds it%s%s")
                                                 : _ ("Message %s sent%s%s"),
                                               w.id, plaintext ? " " : "", plaintext ? NO_ENCRYPTION_LABEL : "");

      cli_print_flushed (line);
    }
  /* A stored message's receipt comes when the agent is back: not worth waiting for here. */
  if (!no_wait && !g_str_equal (status, "stored") && !w.delivered)
    {
      guint timer = g_timeout_add_seconds (MAX (1, wait_s), wait_timeout_cb, &w);

      g_main_loop_run (w.loop);
      if (!w.timed_out)
        g_source_remove (timer);
    }
  g_signal_handler_disconnect (a2a, handler);
  g_main_loop_unref (w.loop);
  if (!no_wait && !g_str_equal (status, "stored"))
    {
      if (json)
        {
          g_autoptr(JsonBuilder) b = json_builder_new ();

          json_builder_begin_object (b);
          cli_json_add_string (b, "event", w.delivered ? "delivered" : "no-receipt");
          cli_json_add_string (b, "id", w.id);
          json_builder_end_object (b);
          cli_json_print_line (b);
        }
      else
        cli_print_flushed (w.delivered ? _ ("Delivered (signed receipt received).")
                                       : _ ("No receipt yet (the agent may be busy or gone)."));
    }
  g_free (w.id);
  return CLI_EXIT_OK;
}

/* --- listen ------------------------------------------------------------------------------- */

typedef struct {
  GMainLoop *loop;
  gboolean   json;
  char      *exec;
  int        status;
} Listen;

static void
run_exec (Listen *l, const char *from, const char *id, const char *text, const char *file_name, GVariant *data,
          gboolean encrypted)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) input = NULL;
  const char *argv[] = { "/bin/sh", "-c", l->exec, NULL };

  /* The payload goes on standard input, never on the command line: a message is data. */
  g_subprocess_launcher_setenv (launcher, "NFLTR_A2A_FROM", from, TRUE);
  g_subprocess_launcher_setenv (launcher, "NFLTR_A2A_ID", id, TRUE);
  g_subprocess_launcher_setenv (launcher, "NFLTR_A2A_KIND", *file_name ? "file" : "text", TRUE);
  g_subprocess_launcher_setenv (launcher, "NFLTR_A2A_FILE", file_name, TRUE);
  g_subprocess_launcher_setenv (launcher, "NFLTR_A2A_ENCRYPTED", encrypted ? "1" : "0", TRUE);
  input = *file_name ? g_variant_get_data_as_bytes (data) : g_bytes_new (text, strlen (text));
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (proc == NULL || !g_subprocess_communicate (proc, input, NULL, NULL, NULL, &error))
    cli_print_error (error);
}

static void
message_cb (NfltrDbusA2a *a2a, const char *from, const char *id, const char *kind, const char *text,
            const char *file_name, GVariant *data, gboolean encrypted, guint64 seq, Listen *l)
{
  if (l->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "message");
      cli_json_add_string (b, "from", from);
      cli_json_add_string (b, "id", id);
      if (g_str_equal (kind, "file"))
        {
          g_autofree char *b64 = g_base64_encode (g_variant_get_data (data), g_variant_get_size (data));

          cli_json_add_string (b, "file", file_name);
          cli_json_add_string (b, "data", b64);
        }
      else
        cli_json_add_string (b, "text", text);
      json_builder_set_member_name (b, "encrypted");
      json_builder_add_boolean_value (b, encrypted);
      cli_json_add_int (b, "seq", seq);
      json_builder_end_object (b);
      cli_json_print_line (b);
    }
  else
    {
      g_autofree char *line = g_str_equal (kind, "file")
                                ? g_strdup_printf ("%s: [file %s, %" G_GSIZE_FORMAT " bytes]%s%s", from, file_name,
                                                   g_variant_get_size (data), encrypted ? "" : " ",
                                                   encrypted ? "" : NO_ENCRYPTION_LABEL)
                                : g_strdup_printf ("%s: %s%s%s", from, text, encrypted ? "" : " ",
                                                   encrypted ? "" : NO_ENCRYPTION_LABEL);

      cli_print_flushed (line);
    }
  if (l->exec != NULL)
    run_exec (l, from, id, text, file_name, data, encrypted);
}

static void
rejected_cb (NfltrDbusA2a *a2a, const char *from, const char *id, const char *reason, Listen *l)
{
  if (l->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "rejected");
      cli_json_add_string (b, "from", from);
      cli_json_add_string (b, "id", id);
      cli_json_add_string (b, "reason", reason);
      json_builder_end_object (b);
      cli_json_print_line (b);
    }
  else
    {
      g_autofree char *line = g_strdup_printf (_ ("REJECTED a message from %s: %s\n"), from, reason);

      fputs (line, stderr);
      fflush (stderr);
    }
}

static gboolean
listen_sigint_cb (gpointer user_data)
{
  Listen *l = user_data;

  l->status = CLI_EXIT_OK;
  g_main_loop_quit (l->loop);
  return G_SOURCE_CONTINUE;
}

static void
listen_lost_cb (gpointer user_data)
{
  Listen *l = user_data;

  fputs ("nfltr: the service went away\n", stderr);
  l->status = CLI_EXIT_FAILURE;
  g_main_loop_quit (l->loop);
}

static int
a2a_listen (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autofree char *exec = NULL;
  GOptionEntry entries[] = { { "json", 0, 0, G_OPTION_ARG_NONE, &json,
                               N_ ("One JSON object per line: a message event per message"), NULL },
                             { "exec", 0, 0, G_OPTION_ARG_STRING, &exec,
                               N_ ("Run CMD (with /bin/sh) for each message: the payload on its input, "
                                   "NFLTR_A2A_FROM, NFLTR_A2A_ID in its "
                                   "environment"),
                               N_ ("CMD") },
                             { NULL } };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (CliClient) client = NULL;
  g_autoptr (NfltrDbusA2a) a2a = NULL;
  Listen l = { 0 };
  guint sig;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("Prints the messages other agents send this one, until Ctrl-C."));
  if (!cli_parse_command_line (context, "a2a listen", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;
  client = cli_client_connect (&error);
  if (client == NULL || (a2a = a2a_proxy (client, &error)) == NULL)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  l.loop = g_main_loop_new (NULL, FALSE);
  l.json = json;
  l.exec = exec;
  g_signal_connect (a2a, "message-received", G_CALLBACK (message_cb), &l);
  g_signal_connect (a2a, "rejected", G_CALLBACK (rejected_cb), &l);
  cli_client_set_lost_func (client, listen_lost_cb, &l);
  sig = g_unix_signal_add (SIGINT, listen_sigint_cb, &l);
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "listening");
      cli_json_add_string (b, "id", nfltr_dbus_a2a_get_agent_id (a2a));
      cli_json_add_string (b, "fingerprint", nfltr_dbus_a2a_get_fingerprint (a2a));
      json_builder_end_object (b);
      cli_json_print_line (b);
    }
  else
    {
      g_autofree char *line = g_strdup_printf (_ ("Listening as %s (key %s); Ctrl-C ends."),
                                               nfltr_dbus_a2a_get_agent_id (a2a), nfltr_dbus_a2a_get_fingerprint (a2a));

      cli_print_flushed (line);
    }
  g_main_loop_run (l.loop);
  g_source_remove (sig);
  cli_client_set_lost_func (client, NULL, NULL);
  g_signal_handlers_disconnect_by_data (a2a, &l);
  g_main_loop_unref (l.loop);
  return l.status;
}

/* --- trust, conversations ----------------------------------------------------------------- */

static int
a2a_trust (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_ ("AGENT FINGERPRINT"));
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  g_autoptr(NfltrDbusA2a) a2a = NULL;

  g_option_context_set_summary (context, _ ("Accepts the new key of an agent whose key changed (check the "
                                            "fingerprint with its owner first)."));
  if (!cli_parse_command_line (context, "a2a trust", &argc, &argv, 2, 2, _ ("the agent id and the new fingerprint")))
    return CLI_EXIT_USAGE;
  client = cli_client_connect (&error);
  if (client == NULL || (a2a = a2a_proxy (client, &error)) == NULL ||
      !nfltr_dbus_a2a_call_trust_sync (a2a, argv[1], argv[2], NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  cli_print_flushed (_ ("The new key is pinned."));
  return CLI_EXIT_OK;
}

static int
a2a_conversations (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  g_autoptr(NfltrDbusA2a) a2a = NULL;
  g_autofree char *json = NULL;

  g_option_context_set_summary (context, _ ("Prints this run's conversations as JSON."));
  if (!cli_parse_command_line (context, "a2a conversations", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;
  client = cli_client_connect (&error);
  if (client == NULL || (a2a = a2a_proxy (client, &error)) == NULL ||
      !nfltr_dbus_a2a_call_conversations_sync (a2a, &json, NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  cli_print_flushed (json);
  return CLI_EXIT_OK;
}

/* --- serve, connect: held until Ctrl-C ----------------------------------------------------- */

static gboolean
hold_sigint_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static void
hold_lost_cb (gpointer user_data)
{
  fputs ("nfltr: the service went away\n", stderr);
  g_main_loop_quit (user_data);
}

static int
hold (CliClient *client)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint sig = g_unix_signal_add (SIGINT, hold_sigint_cb, loop);
  guint term = g_unix_signal_add (SIGTERM, hold_sigint_cb, loop);

  cli_client_set_lost_func (client, hold_lost_cb, loop);
  g_main_loop_run (loop);
  cli_client_set_lost_func (client, NULL, NULL);
  g_source_remove (sig);
  g_source_remove (term);
  return CLI_EXIT_OK;
}

static int
a2a_serve (int argc, char **argv)
{
  g_autofree char *target = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = { { "target", 0, 0, G_OPTION_ARG_STRING, &target,
                               N_ ("The local HTTP agent (http://127.0.0.1:PORT)"), N_ ("URL") },
                             { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("One JSON object per line"),
                               NULL },
                             { NULL } };
  g_autoptr (GOptionContext) context = g_option_context_new (_ ("NAME"));
  g_autoptr (GError) error = NULL;
  g_autoptr (CliClient) client = NULL;
  g_autoptr (NfltrDbusA2a) a2a = NULL;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context,
                                _ ("Makes a local HTTP agent reachable by other NFLTR agents as NAME "
                                   "(requests and responses travel as encrypted a2a messages), until "
                                   "Ctrl-C."));
  if (!cli_parse_command_line (context, "a2a serve", &argc, &argv, 1, 1, _ ("the name to serve under")))
    return CLI_EXIT_USAGE;
  if (target == NULL)
    return cli_fail (CLI_EXIT_USAGE, "%s", _ ("a2a serve needs --target http://127.0.0.1:PORT"));
  client = cli_client_connect (&error);
  if (client == NULL || (a2a = a2a_proxy (client, &error)) == NULL ||
      !nfltr_dbus_a2a_call_serve_sync (a2a, argv[1], target, g_variant_new ("a{sv}", NULL), NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "serving");
      cli_json_add_string (b, "name", argv[1]);
      cli_json_add_string (b, "agent", nfltr_dbus_a2a_get_agent_id (a2a));
      cli_json_add_string (b, "target", target);
      json_builder_end_object (b);
      cli_json_print_line (b);
    }
  else
    {
      g_autofree char *line =
        g_strdup_printf (_ ("Serving %s as “%s” (agent %s). Others: nfltr a2a connect %s "
                            "--listen 127.0.0.1:PORT. Ctrl-C ends."),
                         target, argv[1], nfltr_dbus_a2a_get_agent_id (a2a), argv[1]);

      cli_print_flushed (line);
    }
  return hold (client);
}

static int
a2a_connect (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, N_ ("Where to listen (default 127.0.0.1:0: any free port)"),
      N_ ("HOST:PORT") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("One JSON object per line"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_ ("NAME"));
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  g_autoptr(NfltrDbusA2a) a2a = NULL;
  g_autofree char *address = NULL;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("Gives a local HTTP endpoint for the agent serving NAME, until Ctrl-C."));
  if (!cli_parse_command_line (context, "a2a connect", &argc, &argv, 1, 1, _ ("the name the agent serves under")))
    return CLI_EXIT_USAGE;
  client = cli_client_connect (&error);
  if (client == NULL || (a2a = a2a_proxy (client, &error)) == NULL ||
      !nfltr_dbus_a2a_call_connect_sync (a2a, argv[1], listen ? listen : "127.0.0.1:0", g_variant_new ("a{sv}", NULL),
                                         &address, NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autofree char *url = g_strdup_printf ("http://%s", address);

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "listening");
      cli_json_add_string (b, "name", argv[1]);
      cli_json_add_string (b, "address", address);
      cli_json_add_string (b, "url", url);
      json_builder_end_object (b);
      cli_json_print_line (b);
    }
  else
    {
      g_autofree char *line =
        g_strdup_printf (_ ("“%s” is at http://%s (end-to-end encrypted through the relay). "
                            "Ctrl-C ends."),
                         argv[1], address);

      cli_print_flushed (line);
    }
  return hold (client);
}

int
cli_cmd_a2a (int argc, char **argv)
{
  static const struct {
    const char    *name;
    CliCommandFunc func;
  } subs[] = {
    { "id", a2a_id },       { "send", a2a_send },       { "listen", a2a_listen },
    { "trust", a2a_trust }, { "serve", a2a_serve },     { "connect", a2a_connect },
    { "conversations", a2a_conversations },
  };

  if (argc >= 2)
    for (gsize i = 0; i < G_N_ELEMENTS (subs); i++)
      if (g_str_equal (argv[1], subs[i].name))
        return subs[i].func (argc - 1, argv + 1);
  fputs (_ ("Usage: nfltr a2a id [--json]\n"
            "       nfltr a2a send AGENT MESSAGE|--file FILE [--no-payload-encryption] [--json]\n"
            "       nfltr a2a listen [--json] [--exec CMD]\n"
            "       nfltr a2a trust AGENT FINGERPRINT\n"
            "       nfltr a2a serve NAME --target http://127.0.0.1:PORT\n"
            "       nfltr a2a connect NAME [--listen 127.0.0.1:PORT]\n"
            "       nfltr a2a conversations\n"
            "Messages are AES-256-GCM end to end (keys from X25519): the relay routes them by agent id and\n"
            "cannot read them, unless the sender opts out with --no-payload-encryption.\n"),
         argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")) ? stdout : stderr);
  return argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")) ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}
