/* cmd-connect.c — `nfltr connect NAME.DOMAIN[:PORT] --listen [HOST:]PORT`: the client side of a
 * tcp tunnel (issue 9 §3).
 *
 * A tcp tunnel is TLS from its clients to the agent, routed by the relay on SNI. Most TCP
 * clients (psql, redis-cli, ssh) cannot speak that themselves, so this opens a local port and
 * carries each connection to it through the relay in TLS with the tunnel's name as SNI. The
 * certificate is checked by its fingerprint — given with --fingerprint, or pinned on first use
 * in cli-tunnel-pins — never by a CA: the agent's certificate is usually self-signed, and a
 * CA-signed one would not say which agent holds it. A changed certificate is refused as
 * OpenSSH refuses a changed host key. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-commands.h"
#include "cli-output.h"
#include "cli-tunnel-pins.h"
#include "nfltr-cert.h"
#include "nfltr-loopback-address.h"
#include "nfltr-resolve.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#define CONNECT_TIMEOUT_S 15

typedef struct {
  GMainLoop      *loop;
  char           *host;        /* the tunnel's name, NAME.DOMAIN: SNI and the pin's key */
  guint16         port;        /* the relay's public port */
  char           *fingerprint; /* what every connection must be served */
  gboolean        json;
  GSocketService *service;
  guint           active;
  guint64         total;
} Connect;

typedef struct {
  Connect           *c;
  GSocketConnection *local;
  GIOStream         *tls;
} Link;

static void
link_free (Link *l)
{
  g_clear_object (&l->local);
  g_clear_object (&l->tls);
  g_free (l);
}

static gboolean
accept_for_fingerprint_check_cb (GTlsConnection *conn, GTlsCertificate *cert,
                                 GTlsCertificateFlags errors, gpointer user_data)
{
  /* The CA verdict does not matter here: the fingerprint is checked after the handshake,
   * before a byte of the client's goes out. */
  return TRUE;
}

static GIOStream *
tls_wrap (Connect *c, GIOStream *base, GError **error)
{
  g_autoptr (GSocketConnectable) identity = g_network_address_new (c->host, c->port);
  GIOStream *tls = g_tls_client_connection_new (base, identity, error);

  if (tls != NULL)
    g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_for_fingerprint_check_cb), NULL);
  return tls;
}

/* "sha256:…" of what the server presented, or NULL. */
static char *
presented_fingerprint (GIOStream *tls)
{
  return nfltr_fingerprint_of_tls_certificate (g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (tls)));
}

static GSocketClient *
new_socket_client (void)
{
  GSocketClient *client = g_socket_client_new ();

  g_socket_client_set_timeout (client, CONNECT_TIMEOUT_S);
  return client;
}

/* ---- the first connection: learn and check the certificate before listening ---- */

static char *
probe (Connect *c, GError **error)
{
  g_autoptr (GSocketClient) client = new_socket_client ();
  g_autoptr (GSocketConnectable) address = nfltr_tls_connectable_new (c->host, c->port);
  g_autoptr (GSocketConnection) conn = g_socket_client_connect (client, address, NULL, error);
  g_autoptr (GIOStream) tls = NULL;
  char *fingerprint;

  if (conn == NULL)
    return NULL;
  tls = tls_wrap (c, G_IO_STREAM (conn), error);
  if (tls == NULL || !g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, error))
    return NULL;
  fingerprint = presented_fingerprint (tls);
  if (fingerprint == NULL)
    g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE, "%s presented no certificate", c->host);
  g_io_stream_close (tls, NULL, NULL);
  return fingerprint;
}

static void
say_event (Connect *c, const char *event, const char *member, const char *value)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  cli_json_add_string (b, "event", event);
  cli_json_add_string (b, member, value);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  cli_print_flushed (text);
}

/* ---- each local connection ---- */

static void
splice_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Link *l = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_io_stream_splice_finish (result, &error))
    g_debug ("connection ended: %s", error->message);
  l->c->active--;
  link_free (l);
}

static void
link_fail (Link *l, const char *what)
{
  if (l->c->json)
    say_event (l->c, "error", "message", what);
  else
    cli_fail (CLI_EXIT_FAILURE, "%s", what);
  l->c->active--;
  g_io_stream_close (G_IO_STREAM (l->local), NULL, NULL);
  link_free (l);
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Link *l = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *fingerprint = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      g_autofree char *what = g_strdup_printf (_ ("a connection could not reach %s: %s"), l->c->host, error->message);

      link_fail (l, what);
      return;
    }
  fingerprint = presented_fingerprint (l->tls);
  if (g_strcmp0 (fingerprint, l->c->fingerprint) != 0)
    {
      /* TRANSLATORS: the tunnel, the fingerprint it presented, the one pinned */
      g_autofree char *what =
        g_strdup_printf (_ ("%s presented another certificate (%s) than the pinned one (%s): "
                            "connection refused"),
                         l->c->host, fingerprint ? fingerprint : "none", l->c->fingerprint);

      link_fail (l, what);
      return;
    }
  g_io_stream_splice_async (G_IO_STREAM (l->local), l->tls,
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2 |
                              G_IO_STREAM_SPLICE_WAIT_FOR_BOTH,
                            G_PRIORITY_DEFAULT, NULL, splice_done_cb, l);
}

static void
relay_connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Link *l = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);

  if (conn == NULL || (l->tls = tls_wrap (l->c, G_IO_STREAM (conn), &error)) == NULL)
    {
      g_autofree char *what = g_strdup_printf (_ ("a connection could not reach %s: %s"), l->c->host, error->message);

      link_fail (l, what);
      return;
    }
  g_tls_connection_handshake_async (G_TLS_CONNECTION (l->tls), G_PRIORITY_DEFAULT, NULL, handshake_cb, l);
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source_object, gpointer user_data)
{
  Connect *c = user_data;
  g_autoptr (GSocketClient) client = new_socket_client ();
  g_autoptr (GSocketConnectable) address = nfltr_tls_connectable_new (c->host, c->port);
  Link *l = g_new0 (Link, 1);

  l->c = c;
  l->local = g_object_ref (connection);
  c->active++;
  c->total++;
  g_socket_client_connect_async (client, address, NULL, relay_connected_cb, l);
  return TRUE;
}

static gboolean
signal_cb (gpointer user_data)
{
  Connect *c = user_data;

  g_main_loop_quit (c->loop);
  return G_SOURCE_CONTINUE;
}

/* ---- the command ---- */

/* The tunnel as the user pasted it: tls://NAME.DOMAIN:PORT (what `nfltr tcp` prints), or
 * NAME.DOMAIN[:PORT] (443 by default). */
static gboolean
parse_remote (const char *text, char **host, guint16 *port, GError **error)
{
  const char *rest = g_str_has_prefix (text, "tls://") ? text + strlen ("tls://") : text;
  g_autofree char *trimmed = g_strdup (rest);
  gsize len = strlen (trimmed);

  if (len > 0 && trimmed[len - 1] == '/')
    trimmed[len - 1] = '\0';
  if (strstr (trimmed, "://") != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _ ("“%s” is not a tunnel address: give NAME.DOMAIN[:PORT] or the tls:// URL `nfltr tcp` printed"),
                   text);
      return FALSE;
    }
  return nfltr_parse_host_port (trimmed, 443, FALSE, host, port, error);
}

/* A changed certificate, said the way ssh says it. */
static void
refuse_changed (const char *host, const char *pinned, const char *presented, const char *pin_file)
{
  /* TRANSLATORS: the tunnel, its pinned and its new fingerprint, the pin file, then the
   * tunnel and the new fingerprint in the command to run. Keep the lines of @ as they are. */
  g_autofree char *text = g_strdup_printf (
    _ ("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
       "@    WARNING: THE TUNNEL'S CERTIFICATE HAS CHANGED!       @\n"
       "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
       "%s presents another certificate than the one pinned for it:\n"
       "  pinned:    %s\n"
       "  presented: %s\n"
       "Someone may be intercepting the connection, or the publisher changed the certificate.\n"
       "Nothing was sent. Ask the publisher for the fingerprint `nfltr tcp` shows; if it is the\n"
       "presented one, connect with\n"
       "  nfltr connect %s --fingerprint %s …\n"
       "(pins are kept in %s)\n"),
    host, pinned, presented, host, presented, pin_file);

  fputs (text, stderr);
}

int
cli_cmd_connect (int argc, char **argv)
{
  g_autofree char *listen_arg = NULL;
  g_autofree char *fingerprint_arg = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen_arg,
      N_ ("Local address to accept connections on (default 127.0.0.1 and any free port, printed; 0: any free "
          "port)"),
      "[HOST:]PORT" },
    { "fingerprint", 'f', 0, G_OPTION_ARG_STRING, &fingerprint_arg,
      N_ ("The tunnel certificate's SHA-256 fingerprint, as `nfltr tcp` printed it; without it the "
          "first one seen is pinned"),
      "sha256:HEX" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print events as JSON lines"), NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (_ ("NAME.DOMAIN[:PORT]"));
  g_autoptr (GError) error = NULL;
  g_autofree char *listen_host = NULL;
  g_autofree char *presented = NULL;
  g_autofree char *pinned = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *pin_file = cli_tunnel_pin_path ();
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GSocketAddress) listen_address = NULL;
  g_autoptr (GSocketAddress) effective = NULL;
  guint16 listen_port = 0;
  const char *how;
  Connect c = { 0 };
  guint sigint, sigterm;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (
    context, _ ("Opens a local port whose connections are carried through the relay, in TLS, to a tcp\n"
                "tunnel — for clients that speak plain TCP (psql, redis-cli, ssh). The tunnel's\n"
                "certificate is checked by its fingerprint: --fingerprint, or pinned on first use;\n"
                "a changed certificate is refused."));
  if (!cli_parse_command_line (
        context, "connect", &argc, &argv, 1, 1,
        _ ("the tunnel to connect to (e.g. nfltr connect db.example.com:443 --listen 5432)")))
    return CLI_EXIT_USAGE;
  if (!parse_remote (argv[1], &c.host, &c.port, &error) ||
      (listen_arg != NULL && g_strcmp0 (listen_arg, "0") != 0 &&
       !nfltr_parse_host_port (listen_arg, 0, TRUE, &listen_host, &listen_port, &error)) ||
      (fingerprint_arg != NULL && (expected = cli_normalize_fingerprint (fingerprint_arg, &error)) == NULL))
    {
      cli_fail (CLI_EXIT_USAGE, "%s", error->message);
      g_free (c.host);
      return CLI_EXIT_USAGE;
    }
  if (listen_host == NULL)
    listen_host = g_strdup ("127.0.0.1");
  inet = g_inet_address_new_from_string (listen_host);
  if (inet == NULL)
    {
      cli_fail (CLI_EXIT_USAGE, _ ("--listen takes an IP address and a port, not “%s”"), listen_arg);
      g_free (c.host);
      return CLI_EXIT_USAGE;
    }
  c.json = json;

  /* The certificate first: nothing listens until it is the right one. */
  presented = probe (&c, &error);
  if (presented == NULL)
    {
      cli_fail (CLI_EXIT_FAILURE, _ ("cannot reach %s:%u: %s"), c.host, c.port, error->message);
      g_free (c.host);
      return CLI_EXIT_FAILURE;
    }
  pinned = cli_tunnel_pin_lookup (c.host);
  if (expected != NULL && strcmp (expected, presented) != 0)
    {
      cli_fail (CLI_EXIT_FAILURE, _ ("%s presented the certificate %s, not %s (--fingerprint): not connecting"),
                c.host, presented, expected);
      g_free (c.host);
      return CLI_EXIT_FAILURE;
    }
  if (expected == NULL && pinned != NULL && strcmp (pinned, presented) != 0)
    {
      refuse_changed (c.host, pinned, presented, pin_file);
      g_free (c.host);
      return CLI_EXIT_FAILURE;
    }
  how = expected != NULL ? "given" : pinned != NULL ? "known" : "first-use";
  if ((pinned == NULL || g_strcmp0 (pinned, presented) != 0) &&
      !cli_tunnel_pin_store (c.host, presented, &error))
    {
      cli_fail (CLI_EXIT_FAILURE, _ ("cannot pin the certificate in %s: %s"), pin_file, error->message);
      g_free (c.host);
      return CLI_EXIT_FAILURE;
    }
  c.fingerprint = g_strdup (presented);

  c.service = g_socket_service_new ();
  listen_address = g_inet_socket_address_new (inet, listen_port);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (c.service), listen_address, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error))
    {
      cli_fail (CLI_EXIT_FAILURE, _ ("cannot listen on %s:%u: %s"), listen_host, listen_port, error->message);
      g_object_unref (c.service);
      g_free (c.host);
      g_free (c.fingerprint);
      return CLI_EXIT_FAILURE;
    }
  listen_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (c.service, "incoming", G_CALLBACK (incoming_cb), &c);

  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *text = NULL;
      g_autofree char *listen_text = g_strdup_printf ("%s:%u", listen_host, listen_port);
      g_autofree char *remote = g_strdup_printf ("%s:%u", c.host, c.port);

      json_builder_begin_object (b);
      cli_json_add_string (b, "event", "ready");
      cli_json_add_string (b, "listen", listen_text);
      cli_json_add_string (b, "remote", remote);
      cli_json_add_string (b, "fingerprint", presented);
      cli_json_add_string (b, "pinned", how);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      text = json_to_string (root, FALSE);
      cli_print_flushed (text);
    }
  else
    {
      g_autofree char *lines = g_strdup_printf (
        /* TRANSLATORS: the tunnel, its fingerprint and how it was checked, the local address.
         * Labels padded as in `nfltr http` (“URL:         %s”). */
        _ ("Tunnel:      tls://%s:%u\n"
           "Fingerprint: %s (%s)\n"
           "Listening:   %s:%u — point your client there. Press Ctrl-C to stop.\n"),
        c.host, c.port, presented,
        g_str_equal (how, "given")   ? _ ("matches --fingerprint")
        : g_str_equal (how, "known") ? _ ("matches the pinned one")
                                     : _ ("pinned on first use: compare it with what `nfltr tcp` shows the publisher"),
        listen_host, listen_port);

      fputs (lines, stdout);
      fflush (stdout);
    }

  c.loop = g_main_loop_new (NULL, FALSE);
  sigint = g_unix_signal_add (SIGINT, signal_cb, &c);
  sigterm = g_unix_signal_add (SIGTERM, signal_cb, &c);
  g_socket_service_start (c.service);
  g_main_loop_run (c.loop);

  g_socket_service_stop (c.service);
  g_socket_listener_close (G_SOCKET_LISTENER (c.service));
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_object_unref (c.service);
  g_main_loop_unref (c.loop);
  g_free (c.host);
  g_free (c.fingerprint);
  return CLI_EXIT_OK;
}
