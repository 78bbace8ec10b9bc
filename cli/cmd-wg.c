/* cmd-wg.c — `nfltr wg serve|socks5|status|export|leave`: WireGuard networks through the
 * relay (docs/wireguard.md, docs/cli.md "nfltr wg"). A network runs in the service, which
 * keeps it in networks.json: serve and socks5 return once this peer has its address, and the
 * network stays up — across service restarts too — until `nfltr wg leave NET`. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"

#include "nfltr-error.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define NETWORKS_PATH "/xyz/nfltr/Nfltr"

typedef int (*WgCommandFunc) (int argc, char **argv);

typedef struct {
  const char    *name;
  WgCommandFunc  func;
  const char    *usage;
  const char    *summary;
} WgCommand;

/* ---- talking to the service -------------------------------------------------------------- */

static NfltrDbusNetworks *
networks_proxy (CliClient *client, GError **error)
{
  return nfltr_dbus_networks_proxy_new_sync (cli_client_get_connection (client), G_DBUS_PROXY_FLAGS_NONE,
                                             cli_client_get_bus_name (client), NETWORKS_PATH, NULL, error);
}

static NfltrDbusNetwork *
network_proxy (CliClient *client, const char *path, GError **error)
{
  return nfltr_dbus_network_proxy_new_sync (cli_client_get_connection (client), G_DBUS_PROXY_FLAGS_NONE,
                                            cli_client_get_bus_name (client), path, NULL, error);
}

/* NfltrDbusNetwork*, in join order. */
static GPtrArray *
list_networks (CliClient *client, GError **error)
{
  g_autoptr(NfltrDbusNetworks) networks = networks_proxy (client, error);
  g_auto(GStrv) paths = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_object_unref);

  if (networks == NULL || !nfltr_dbus_networks_call_list_networks_sync (networks, &paths, NULL, error))
    return NULL;
  for (guint i = 0; paths[i] != NULL; i++)
    {
      NfltrDbusNetwork *n = network_proxy (client, paths[i], error);

      if (n == NULL)
        return NULL;
      g_ptr_array_add (list, n);
    }
  return g_steal_pointer (&list);
}

static NfltrDbusNetwork *
find_network (CliClient *client, const char *name, GError **error)
{
  g_autoptr(GPtrArray) list = list_networks (client, error);

  if (list == NULL)
    return NULL;
  for (guint i = 0; i < list->len; i++)
    if (g_strcmp0 (nfltr_dbus_network_get_name (list->pdata[i]), name) == 0)
      return g_object_ref (list->pdata[i]);
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND,
               _ ("this agent is in no network “%s” (nfltr wg status lists them)"), name);
  return NULL;
}

/* ---- serve and socks5 -------------------------------------------------------------------- */

typedef struct {
  GMainLoop *loop;
  gboolean   interrupted;
} Waiting;

static void
network_changed_cb (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, Waiting *w)
{
  const char *state = nfltr_dbus_network_get_state (NFLTR_DBUS_NETWORK (proxy));

  if (g_strcmp0 (state, "online") == 0 || g_strcmp0 (state, "failed") == 0)
    g_main_loop_quit (w->loop);
}

static gboolean
interrupted_cb (gpointer user_data)
{
  Waiting *w = user_data;

  w->interrupted = TRUE;
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

static char *
event_ready (NfltrDbusNetwork *n)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  cli_json_add_string (b, "event", "ready");
  cli_json_add_string (b, "network", nfltr_dbus_network_get_name (n));
  cli_json_add_string (b, "role", nfltr_dbus_network_get_role (n));
  cli_json_add_string (b, "address", nfltr_dbus_network_get_address (n));
  cli_json_add_string (b, "public-key", nfltr_dbus_network_get_public_key (n));
  cli_json_add_string (b, "id", nfltr_dbus_network_get_id (n));
  if (g_strcmp0 (nfltr_dbus_network_get_role (n), "socks5") == 0)
    cli_json_add_string (b, "listen", nfltr_dbus_network_get_listen (n));
  else
    cli_json_add_string (b, "allow", nfltr_dbus_network_get_allow (n));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* Joins, waits until this peer has its address, says so. */
static int
join_and_report (GVariant *options, const char *name, gboolean json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = cli_client_connect (&error);
  g_autoptr(NfltrDbusNetworks) networks = NULL;
  g_autoptr(NfltrDbusNetwork) n = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GVariant) sunk = g_variant_ref_sink (options);

  if (client == NULL || (networks = networks_proxy (client, &error)) == NULL ||
      !nfltr_dbus_networks_call_join_network_sync (networks, sunk, &path, NULL, &error) ||
      (n = network_proxy (client, path, &error)) == NULL)
    {
      if (json && error != NULL)
        {
          g_autofree char *message = cli_error_message (error);
          g_autofree char *line = cli_event_error (message);

          cli_print_flushed (line);
        }
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }

  if (g_strcmp0 (nfltr_dbus_network_get_state (n), "online") != 0 &&
      g_strcmp0 (nfltr_dbus_network_get_state (n), "failed") != 0)
    {
      Waiting w = { g_main_loop_new (NULL, FALSE), FALSE };
      guint sigint = g_unix_signal_add (SIGINT, interrupted_cb, &w);
      gulong handler = g_signal_connect (n, "g-properties-changed", G_CALLBACK (network_changed_cb), &w);

      if (json)
        {
          g_autofree char *line = cli_event_state (nfltr_dbus_network_get_state (n),
                                                   nfltr_dbus_network_get_last_error (n));

          cli_print_flushed (line);
        }
      else
        fputs (_ ("Waiting for the relay…\n"), stdout);
      fflush (stdout);
      g_main_loop_run (w.loop);
      g_signal_handler_disconnect (n, handler);
      g_source_remove (sigint);
      g_main_loop_unref (w.loop);
      if (w.interrupted)
        return CLI_EXIT_INTERRUPTED;
    }
  if (g_strcmp0 (nfltr_dbus_network_get_state (n), "failed") == 0)
    {
      g_autofree char *message = g_strdup_printf ("network %s failed: %s", name, nfltr_dbus_network_get_last_error (n));

      if (json)
        {
          g_autofree char *line = cli_event_error (message);

          cli_print_flushed (line);
        }
      return cli_fail (CLI_EXIT_FAILURE, "%s", message);
    }
  if (json)
    {
      g_autofree char *line = event_ready (n);

      cli_print_flushed (line);
    }
  else
    {
      g_autofree char *text = NULL;

      if (g_strcmp0 (nfltr_dbus_network_get_role (n), "socks5") == 0)
        /* TRANSLATORS: labels padded so that the values line up, as in nfltr status */
        text =
          g_strdup_printf (_ ("Network:     %s (a peer with a SOCKS5 server)\n"
                              "Address:     %s\n"
                              "SOCKS5:      %s (names are resolved on the serve side)\n"
                              "It runs in the service until “nfltr wg leave %s”.\n"),
                           name, nfltr_dbus_network_get_address (n), nfltr_dbus_network_get_listen (n), name);
      else
        text =
          g_strdup_printf (_ ("Network:     %s (serve side: peers reach this machine's network)\n"
                              "Address:     %s\n"
                              "Peers reach: %s\n"
                              "It runs in the service until “nfltr wg leave %s”.\n"),
                           name, nfltr_dbus_network_get_address (n), nfltr_dbus_network_get_allow (n), name);
      fputs (text, stdout);
      fflush (stdout);
    }
  return CLI_EXIT_OK;
}

static int
wg_serve (int argc, char **argv)
{
  g_autofree char *name = NULL;
  g_autofree char *allow = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, N_ ("The network's name (one DNS label); required"), "NET" },
    { "allow", 0, 0, G_OPTION_ARG_STRING, &allow,
      N_ ("What peers may reach through this machine, comma-separated CIDRs (default: the private "
          "ranges 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16)"),
      "CIDR,…" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print JSON lines (events: ready, state, error)"), NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GError) error = NULL;

  g_option_context_set_summary (context,
                                _ ("Creates the WireGuard network NET at the relay (or rejoins it) with this "
                                   "machine as its exit:\npeers reach what --allow lets them through it. "
                                   "The relay gives each peer an address\nfrom 100.64.0.0/10 and never "
                                   "sees inside the tunnel."));
  g_option_context_set_description (context,
                                    _ ("Examples:\n"
                                       "  nfltr wg serve --name home\n"
                                       "  nfltr wg serve --name lab --allow 192.168.1.0/24 --json\n"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_command_line (context, "wg serve", &argc, &argv, 0, 0, NULL))
    return CLI_EXIT_USAGE;
  if (name == NULL)
    return cli_fail (CLI_EXIT_USAGE, _ ("missing --name NET (e.g. nfltr wg serve --name home)"));
  if (!cli_check_name (name, &error))
    return cli_fail (CLI_EXIT_USAGE, "%s", error->message);
  g_variant_dict_insert (&dict, "name", "s", name);
  g_variant_dict_insert (&dict, "role", "s", "serve");
  if (allow != NULL)
    g_variant_dict_insert (&dict, "allow", "s", allow);
  return join_and_report (g_variant_dict_end (&dict), name, json);
}

static int
wg_socks5 (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password_file = NULL;
  g_autofree char *password = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
      N_ ("Where the SOCKS5 server listens (default 127.0.0.1:1080)"), "IP:PORT" },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user,
      N_ ("Require this username (RFC 1929; needs --password-file)"), "USER" },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_file,
      N_ ("File whose first line is the password for --user"), "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print JSON lines (events: ready, state, error)"), NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("NET");
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GError) error = NULL;

  g_option_context_set_summary (context,
                                _ ("Joins the WireGuard network NET as a peer and runs a SOCKS5 server "
                                   "(CONNECT and UDP ASSOCIATE)\nwhose connections leave from the "
                                   "network's serve side; names are resolved there."));
  g_option_context_set_description (
    context, _ ("Examples:\n"
                "  nfltr wg socks5 home\n"
                "  nfltr wg socks5 home --listen 127.0.0.1:1081 --json\n"
                "  curl --socks5-hostname 127.0.0.1:1080 http://192.168.1.100:8080/\n"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_command_line (context, "wg socks5", &argc, &argv, 1, 1,
                               _ ("the network to join (e.g. nfltr wg socks5 home)")))
    return CLI_EXIT_USAGE;
  if (!cli_check_name (argv[1], &error))
    return cli_fail (CLI_EXIT_USAGE, "%s", error->message);
  if ((user == NULL) != (password_file == NULL))
    return cli_fail (CLI_EXIT_USAGE, _ ("--user and --password-file go together"));
  if (password_file != NULL)
    {
      g_autofree char *contents = NULL;
      char *eol;

      if (!g_file_get_contents (password_file, &contents, NULL, &error))
        return cli_fail (CLI_EXIT_USAGE, "--password-file: %s", error->message);
      eol = strpbrk (contents, "\r\n");
      if (eol != NULL)
        *eol = '\0';
      if (contents[0] == '\0')
        return cli_fail (CLI_EXIT_USAGE, _ ("--password-file: the first line is empty"));
      password = g_steal_pointer (&contents);
    }
  g_variant_dict_insert (&dict, "name", "s", argv[1]);
  g_variant_dict_insert (&dict, "role", "s", "socks5");
  if (listen != NULL)
    g_variant_dict_insert (&dict, "listen", "s", listen);
  if (user != NULL)
    {
      g_variant_dict_insert (&dict, "username", "s", user);
      g_variant_dict_insert (&dict, "password", "s", password);
    }
  return join_and_report (g_variant_dict_end (&dict), argv[1], json);
}

/* ---- status ------------------------------------------------------------------------------ */

static char *
format_age (gint64 unix_time)
{
  g_autofree char *seconds = NULL;
  gint64 age;

  if (unix_time <= 0)
    return g_strdup (_ ("never"));
  age = g_get_real_time () / G_USEC_PER_SEC - unix_time;
  seconds = g_strdup_printf ("%" G_GINT64_FORMAT, MAX (age, 0));
  /* TRANSLATORS: how long ago the last WireGuard handshake was, in seconds */
  return g_strdup_printf (_ ("%s s ago"), seconds);
}

static void
json_add_network (JsonBuilder *b, NfltrDbusNetwork *n)
{
  GVariant *peers = nfltr_dbus_network_get_peers (n);
  GVariantIter iter;
  const char *key, *label, *kind, *address, *endpoint;
  gint64 handshake;
  guint64 rx, tx;

  json_builder_begin_object (b);
  cli_json_add_string (b, "id", nfltr_dbus_network_get_id (n));
  cli_json_add_string (b, "network", nfltr_dbus_network_get_name (n));
  cli_json_add_string (b, "role", nfltr_dbus_network_get_role (n));
  cli_json_add_string (b, "state", nfltr_dbus_network_get_state (n));
  cli_json_add_string (b, "last-error", nfltr_dbus_network_get_last_error (n));
  cli_json_add_string (b, "address", nfltr_dbus_network_get_address (n));
  cli_json_add_string (b, "public-key", nfltr_dbus_network_get_public_key (n));
  cli_json_add_string (b, "transport", nfltr_dbus_network_get_transport (n));
  cli_json_add_string (b, "listen", nfltr_dbus_network_get_listen (n));
  cli_json_add_string (b, "allow", nfltr_dbus_network_get_allow (n));
  json_builder_set_member_name (b, "peers");
  json_builder_begin_array (b);
  if (peers != NULL)
    {
      g_variant_iter_init (&iter, peers);
      while (g_variant_iter_next (&iter, "(&s&s&s&s&sxtt)", &key, &label, &kind, &address, &endpoint, &handshake,
                                  &rx, &tx))
        {
          json_builder_begin_object (b);
          cli_json_add_string (b, "public-key", key);
          cli_json_add_string (b, "name", label);
          cli_json_add_string (b, "kind", kind);
          cli_json_add_string (b, "address", address);
          cli_json_add_string (b, "endpoint", endpoint);
          cli_json_add_int (b, "last-handshake", handshake);
          cli_json_add_int (b, "rx-bytes", (gint64) rx);
          cli_json_add_int (b, "tx-bytes", (gint64) tx);
          json_builder_end_object (b);
        }
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
print_network (NfltrDbusNetwork *n)
{
  GVariant *peers = nfltr_dbus_network_get_peers (n);
  GVariantIter iter;
  const char *key, *label, *kind, *address, *endpoint;
  gint64 handshake;
  guint64 rx, tx;
  const char *error = nfltr_dbus_network_get_last_error (n);
  g_autofree char *head = NULL;

  /* TRANSLATORS: network name, role (serve, socks5), state (online, connecting, failed) */
  head = g_strdup_printf (_ ("network %s  %s  %s\n"), nfltr_dbus_network_get_name (n), nfltr_dbus_network_get_role (n),
                          nfltr_dbus_network_get_state (n));
  fputs (head, stdout);
  if (error != NULL && error[0] != '\0')
    printf ("  %s  %s\n", _ ("error:"), error);
  printf ("  %-11s %s\n", _ ("address:"), nfltr_dbus_network_get_address (n));
  printf ("  %-11s %s\n", _ ("public key:"), nfltr_dbus_network_get_public_key (n));
  printf ("  %-11s %s\n", _ ("transport:"), nfltr_dbus_network_get_transport (n));
  if (g_strcmp0 (nfltr_dbus_network_get_role (n), "socks5") == 0)
    printf ("  %-11s %s\n", _ ("SOCKS5:"), nfltr_dbus_network_get_listen (n));
  else
    printf ("  %-11s %s\n", _ ("allow:"), nfltr_dbus_network_get_allow (n));
  if (peers == NULL)
    return;
  g_variant_iter_init (&iter, peers);
  while (g_variant_iter_next (&iter, "(&s&s&s&s&sxtt)", &key, &label, &kind, &address, &endpoint, &handshake, &rx, &tx))
    {
      g_autofree char *age = format_age (handshake);
      g_autofree char *in = cli_format_bytes (rx);
      g_autofree char *out = cli_format_bytes (tx);
      g_autofree char *line = NULL;

      /* TRANSLATORS: one peer: its public key and, in parentheses, its kind and name */
      line = g_strdup_printf (_ ("  peer %s (%s%s%s)\n"
                                 "    address: %s   endpoint: %s\n"
                                 "    latest handshake: %s   received: %s   sent: %s\n"),
                              key, kind, label[0] ? " " : "", label, address, endpoint[0] ? endpoint : "-", age, in,
                              out);
      fputs (line, stdout);
    }
}

static int
wg_status (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  g_autoptr(GPtrArray) list = NULL;

  if (!cli_parse_json_flag ("wg status",
                            _ ("Shows this agent's WireGuard networks: address, transport, and each peer's "
                               "address,\nendpoint, latest handshake and bytes."),
                            _ ("Print one JSON object: {\"networks\": [...]}"), &argc, &argv, &json))
    return CLI_EXIT_USAGE;
  client = cli_client_connect (&error);
  if (client == NULL || (list = list_networks (client, &error)) == NULL)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "networks");
      json_builder_begin_array (b);
      for (guint i = 0; i < list->len; i++)
        json_add_network (b, list->pdata[i]);
      json_builder_end_array (b);
      json_builder_end_object (b);
      cli_json_print_line (b);
      return CLI_EXIT_OK;
    }
  if (list->len == 0)
    fputs (_ ("No networks. Start one with “nfltr wg serve --name NET”.\n"), stdout);
  for (guint i = 0; i < list->len; i++)
    print_network (list->pdata[i]);
  fflush (stdout);
  return CLI_EXIT_OK;
}

/* ---- export and leave -------------------------------------------------------------------- */

static int
wg_export (int argc, char **argv)
{
  g_autofree char *peer = NULL;
  g_autofree char *output = NULL;
  g_autofree char *endpoint = NULL;
  const GOptionEntry entries[] = {
    { "peer", 'p', 0, G_OPTION_ARG_STRING, &peer, N_ ("A name for the stock peer; required"), "NAME" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_ ("Write the configuration to FILE (mode 0600) instead of standard output"), "FILE" },
    { "endpoint", 0, 0, G_OPTION_ARG_STRING, &endpoint,
      N_ ("The relay as the stock peer reaches it (default: as this service reaches it)"), "HOST:PORT" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("NET");
  g_autoptr (GError) error = NULL;
  g_autoptr (CliClient) client = NULL;
  g_autoptr (NfltrDbusNetwork) n = NULL;
  g_autofree char *config = NULL;

  g_option_context_set_summary (context,
                                _ ("Registers a stock WireGuard peer (wireguard-go, the Linux kernel) with "
                                   "the relay and writes its\nwg-quick configuration: a fresh key pair, "
                                   "its address, and this machine's serve side\nas its peer, reached "
                                   "through the relay's UDP port. Run it on the serve side."));
  g_option_context_set_description (context, _ ("Examples:\n"
                                                "  nfltr wg export home --peer laptop -o laptop.conf\n"
                                                "  sudo wg-quick up ./laptop.conf\n"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_command_line (context, "wg export", &argc, &argv, 1, 1,
                               _ ("the network (e.g. nfltr wg export home --peer laptop)")))
    return CLI_EXIT_USAGE;
  if (peer == NULL)
    return cli_fail (CLI_EXIT_USAGE, _ ("missing --peer NAME"));
  if (!cli_check_name (peer, &error))
    return cli_fail (CLI_EXIT_USAGE, "--peer: %s", error->message);
  client = cli_client_connect (&error);
  if (client == NULL || (n = find_network (client, argv[1], &error)) == NULL ||
      !nfltr_dbus_network_call_export_peer_sync (n, peer, endpoint ? endpoint : "", &config, NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  if (output == NULL)
    {
      fputs (config, stdout);
      return CLI_EXIT_OK;
    }
  /* It holds a private key. */
  if (!g_file_set_contents_full (output, config, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  return CLI_EXIT_OK;
}

static int
wg_leave (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("NET");
  g_autoptr (GError) error = NULL;
  g_autoptr (CliClient) client = NULL;
  g_autoptr (NfltrDbusNetwork) n = NULL;
  g_autofree char *done = NULL;

  g_option_context_set_summary (context,
                                _ ("Leaves the network: the relay releases this peer's address and the "
                                   "service forgets the network."));
  if (!cli_parse_command_line (context, "wg leave", &argc, &argv, 1, 1, _ ("the network to leave")))
    return CLI_EXIT_USAGE;
  client = cli_client_connect (&error);
  if (client == NULL || (n = find_network (client, argv[1], &error)) == NULL ||
      !nfltr_dbus_network_call_leave_sync (n, NULL, &error))
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  done = g_strdup_printf (_ ("Left network “%s”.\n"), argv[1]);
  fputs (done, stdout);
  return CLI_EXIT_OK;
}

/* ---- nfltr wg ---------------------------------------------------------------------------- */

static const WgCommand wg_commands[] = {
  { "serve", wg_serve, "--name NET [--allow CIDR,…] [--json]", N_ ("Create a network with this machine as its exit") },
  { "socks5", wg_socks5, "NET [--listen IP:PORT] [--user U --password-file F] [--json]",
    N_ ("Join a network and run a SOCKS5 server into it") },
  { "status", wg_status, "[--json]", N_ ("Show networks, peers, addresses, handshakes and bytes") },
  { "export", wg_export, "NET --peer NAME [-o FILE]", N_ ("Write a wg-quick config for a stock WireGuard peer") },
  { "leave", wg_leave, "NET", N_ ("Leave a network and give its address back") },
};

int
cli_cmd_wg (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GString) summary = NULL;

  if (argc >= 2 && argv[1][0] != '-')
    for (guint i = 0; i < G_N_ELEMENTS (wg_commands); i++)
      if (g_str_equal (argv[1], wg_commands[i].name))
        {
          g_autofree char *prgname = g_strdup_printf ("nfltr wg %s", wg_commands[i].name);

          g_set_prgname (prgname);
          return wg_commands[i].func (argc - 1, argv + 1);
        }

  summary =
    g_string_new (_ ("WireGuard networks through the relay: a layer-3 VPN with no root, no TUN and no\n"
                     "kernel module. The relay hands out addresses from 100.64.0.0/10 and carries\n"
                     "WireGuard datagrams it cannot read.\n\nCommands:"));
  for (guint i = 0; i < G_N_ELEMENTS (wg_commands); i++)
    g_string_append_printf (summary, "\n  %-7s %s\n          %s", wg_commands[i].name, wg_commands[i].usage,
                            _ (wg_commands[i].summary));
  context = g_option_context_new ("serve|socks5|status|export|leave");
  g_option_context_set_summary (context, summary->str);
  g_option_context_set_description (context, _ ("Run “nfltr wg COMMAND --help” for a command's options.\n"));
  if (!cli_parse_command_line (context, "wg", &argc, &argv, 1, 1,
                               _ ("a command: serve, socks5, status, export or leave")))
    return CLI_EXIT_USAGE;
  return cli_fail (CLI_EXIT_USAGE, _ ("unknown command “wg %s” (serve, socks5, status, export, leave)"), argv[1]);
}
