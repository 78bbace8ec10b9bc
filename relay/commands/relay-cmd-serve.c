/* relay-cmd-serve.c — `nfltr-relay serve` */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-commands.h"
#include "dashboard/relay-dashboard.h"
#include "relay-server.h"
#include "tls/relay-identity.h"
#include "proof/relay-proof.h"
#include "wg/relay-wg.h"

#include <glib-unix.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>

/* Each passthrough connection holds six descriptors (two sockets, two pipes); the default
 * soft limit of 1024 would cap a relay at ~170 connections. Use the hard limit. */
static void
raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      rlim_t was = limit.rlim_cur;

      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) == 0)
        g_debug ("descriptor limit raised from %lu to %lu", (gulong) was, (gulong) limit.rlim_max);
    }
}

static gboolean
quit_cb (gpointer user_data)
{
  g_message ("stopping");
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

int
relay_cmd_serve (int argc, char **argv)
{
  RelayConfig config;
  int hello_max = RELAY_DEFAULT_HELLO_MAX_BYTES;
  int handshake_timeout = RELAY_DEFAULT_HANDSHAKE_TIMEOUT_S;
  int attach_timeout = RELAY_DEFAULT_ATTACH_TIMEOUT_S;
  int idle_timeout = RELAY_DEFAULT_AGENT_IDLE_TIMEOUT_S;
  int max_tunnels = RELAY_DEFAULT_MAX_TUNNELS_PER_AGENT;
  int public_port = 0;
  int max_connections = 0;
  int max_per_source = -1;  /* not given: derived from --max-connections */
  int agent_reserve = -1;   /* not given: a quarter of --max-connections */
  int idle = RELAY_DEFAULT_IDLE_TIMEOUT_S;
  int http_idle = RELAY_DEFAULT_HTTP_IDLE_TIMEOUT_S;
  int max_per_agent = RELAY_DEFAULT_MAX_PER_AGENT;
  int name_expiry = RELAY_DEFAULT_NAME_EXPIRY_DAYS;
  int name_expiry_s = -1;
  int log_interval = RELAY_DEFAULT_LOG_INTERVAL_S;
  int proof_interval = RELAY_DEFAULT_PROOF_INTERVAL_S;
  int wg_packet_rate = RELAY_WG_DEFAULT_PACKETS_PER_S;     /* issue 12 (labs) */
  int wg_handshake_rate = RELAY_WG_DEFAULT_HANDSHAKES_PER_S;
  g_autofree char *listen = NULL;
  g_autofree char *domain = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *agent_ca = NULL;  /* issue 11: mTLS */
  g_autofree char *turn = NULL;             /* issue 14: calls */
  g_autofree char *turn_secret = NULL;
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Public TLS address (default 127.0.0.1:8443)",
      "HOST:PORT" },
    { "domain", 'd', 0, G_OPTION_ARG_STRING, &domain,
      "The relay's own name; tunnels are NAME.DOMAIN (default nfltr.localhost)", "DOMAIN" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
      "relay.db and the certificate (default $XDG_DATA_HOME/nfltr-relay)", "DIR" },
    { "hello-max-bytes", 0, 0, G_OPTION_ARG_INT, &hello_max,
      "Largest ClientHello accepted, in any number of TLS records (default 65536)", "BYTES" },
    { "handshake-timeout", 0, 0, G_OPTION_ARG_INT, &handshake_timeout,
      "Seconds from accept to a whole ClientHello or data preamble, and for TLS handshakes (default 10)",
      "SECONDS" },
    { "attach-timeout", 0, 0, G_OPTION_ARG_INT, &attach_timeout,
      "Seconds an agent has to open the data connection (default 10)", "SECONDS" },
    { "agent-idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout,
      "Drop agents silent this long (default 90)", "SECONDS" },
    { "max-tunnels-per-agent", 0, 0, G_OPTION_ARG_INT, &max_tunnels, "Names one agent may bind (default 64)",
      "N" },
    { "max-connections", 0, 0, G_OPTION_ARG_INT, &max_connections,
      "Open connections at once (default 0: half the descriptor limit)", "N" },
    { "max-connections-per-source", 0, 0, G_OPTION_ARG_INT, &max_per_source,
      "Connections from one address, in every stage (default a quarter of the public share, at most 512)",
      "N" },
    { "agent-reserve", 0, 0, G_OPTION_ARG_INT, &agent_reserve,
      "Of --max-connections, places public clients cannot take: kept for agents' control and data "
      "connections (default a quarter)",
      "N" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle,
      "Close a tunnel connection that moved no byte either way this long (default 600)", "SECONDS" },
    { "http-idle-timeout", 0, 0, G_OPTION_ARG_INT, &http_idle,
      "Close a connection to the relay's own HTTP (API, control channel before HELLO) idle this long "
      "(default 30)",
      "SECONDS" },
    { "max-connections-per-agent", 0, 0, G_OPTION_ARG_INT, &max_per_agent,
      "Public connections waiting for or through one agent (default 1024, the agent's own per-tunnel cap)",
      "N" },
    { "public-port", 0, 0, G_OPTION_ARG_INT, &public_port,
      "Port shown in tunnel URLs (default: the listening port)", "PORT" },
    { "name-expiry", 0, 0, G_OPTION_ARG_INT, &name_expiry,
      "Days an unused name stays reserved for its owner (default 30; 0 = until released)", "DAYS" },
    { "log-interval", 0, 0, G_OPTION_ARG_INT, &log_interval,
      "Refusal lines: after 10 per reason and source address, one count per this many seconds (default 10)",
      "SECONDS" },
    { "agent-ca", 0, 0, G_OPTION_ARG_FILENAME, &agent_ca,
      "Also accept agents' client certificates issued by this CA (PEM; revoke by serial with "
      "nfltr-relay certs revoke)", "FILE" },
    { "proof-interval", 0, 0, G_OPTION_ARG_INT, &proof_interval,
      "Check each verified tunnel through itself this often, besides at every BIND (default 600; 0 = never)",
      "SECONDS" },
    /* issue 12 (labs): relay/wg/'s limits on its UDP port, per source address */
    { "wg-packet-rate", 0, 0, G_OPTION_ARG_INT, &wg_packet_rate,
      "WireGuard datagrams accepted per second from one address on the UDP port (default 200000; "
      "a tenth of a second's worth may come at once)", "N" },
    { "wg-handshake-rate", 0, 0, G_OPTION_ARG_INT, &wg_handshake_rate,
      "WireGuard handshake initiations accepted per second from one address (default 50; one second's "
      "worth may come at once)", "N" },
    { "turn", 0, 0, G_OPTION_ARG_STRING, &turn,
      "A TURN server for agents' calls (coturn with use-auth-secret), as turn:HOST:PORT", "URL" },
    { "turn-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &turn_secret,
      "The TURN server's shared secret; the relay mints short-lived credentials from it", "FILE" },
    /* For tests: the same in seconds, so a test can watch a reservation lapse. */
    { "name-expiry-seconds", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &name_expiry_s, NULL, NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;

  if (!relay_cmd_parse_options ("serve", "- run the NFLTR relay", entries, &argc, &argv))
    return 2;
  if (argc > 1)
    {
      fprintf (stderr, "nfltr-relay serve: unexpected argument “%s”\n", argv[1]);
      return 2;
    }
  {
    /* Each limit named in its own message, so the operator sees which one. */
    const struct {
      const char *name;
      int value, min, max;
    } ranges[] = {
      { "--hello-max-bytes", hello_max, 512, 1024 * 1024 },
      { "--handshake-timeout", handshake_timeout, 1, 3600 },
      { "--attach-timeout", attach_timeout, 1, 3600 },
      { "--agent-idle-timeout", idle_timeout, 1, 86400 },
      { "--max-tunnels-per-agent", max_tunnels, 1, 100000 },
      { "--max-connections", max_connections, 0, G_MAXINT },
      { "--max-connections-per-source", max_per_source == -1 ? 1 : max_per_source, 1, G_MAXINT },
      { "--agent-reserve", agent_reserve == -1 ? 1 : agent_reserve, 1, G_MAXINT },
      { "--idle-timeout", idle, 1, 7 * 86400 },
      { "--http-idle-timeout", http_idle, 1, 86400 },
      { "--max-connections-per-agent", max_per_agent, 1, G_MAXINT },
      { "--public-port", public_port, 0, 65535 },
      { "--log-interval", log_interval, 1, 3600 },
      { "--proof-interval", proof_interval, 0, 7 * 86400 },
      { "--wg-packet-rate", wg_packet_rate, 10, 100000000 },
      { "--wg-handshake-rate", wg_handshake_rate, 1, 1000000 },
    };

    for (guint i = 0; i < G_N_ELEMENTS (ranges); i++)
      if (ranges[i].value < ranges[i].min || ranges[i].value > ranges[i].max)
        {
          fprintf (stderr, "nfltr-relay serve: %s %d is out of range %d–%d\n", ranges[i].name,
                   ranges[i].value, ranges[i].min, ranges[i].max);
          return 2;
        }
  }

  /* Checked on its own, not in the table above: in days, and 0 (never) is allowed. */
  if (name_expiry < 0 || name_expiry > 100 * 365)
    {
      fprintf (stderr, "nfltr-relay serve: --name-expiry %d is out of range 0–36500\n", name_expiry);
      return 2;
    }

  relay_config_init (&config);
  if (listen != NULL)
    {
      g_free (config.listen);
      config.listen = g_steal_pointer (&listen);
    }
  if (domain != NULL)
    {
      g_free (config.domain);
      config.domain = g_ascii_strdown (domain, -1);
    }
  if (data_dir != NULL)
    {
      g_free (config.data_dir);
      config.data_dir = g_steal_pointer (&data_dir);
    }
  config.hello_max_bytes = hello_max;
  config.handshake_timeout_s = handshake_timeout;
  config.hello_timeout_s = handshake_timeout;
  config.attach_timeout_s = attach_timeout;
  config.agent_idle_timeout_s = idle_timeout;
  config.max_tunnels_per_agent = max_tunnels;
  config.public_port = public_port;
  config.max_connections = max_connections;
  config.max_per_source = max_per_source == -1 ? 0 : max_per_source;
  config.agent_reserve = agent_reserve == -1 ? 0 : agent_reserve;
  config.idle_timeout_s = idle;
  config.http_idle_timeout_s = http_idle;
  config.max_per_agent = max_per_agent;
  config.log_interval_s = log_interval;
  config.agent_ca_file = g_steal_pointer (&agent_ca);
  config.proof_interval_s = proof_interval;
  config.wg_packets_per_s = wg_packet_rate;
  config.wg_handshakes_per_s = wg_handshake_rate;
  config.turn_url = g_steal_pointer (&turn);                 /* issue 14 */
  config.turn_secret_file = g_steal_pointer (&turn_secret);
  config.name_expiry_s = name_expiry_s >= 0 ? name_expiry_s : (gint64) name_expiry * 24 * 3600;

  /* splice(2) to a socket the peer has closed raises SIGPIPE; the error code is enough. */
  signal (SIGPIPE, SIG_IGN);
  raise_fd_limit ();

  server = relay_server_new (&config, &error);
  if (server == NULL || !relay_server_start (server, &error))
    {
      relay_config_clear (&config);
      fprintf (stderr, "nfltr-relay: %s\n", error->message);
      return 1;
    }

  printf ("nfltr-relay: listening on %s for *.%s (certificate %s)\n",
          server->listen_text, server->config.domain, server->identity->fingerprint);
  /* issue 11: with no operator password yet, the only way into the dashboard. */
  {
    g_autofree char *base = relay_server_url_for (server, server->config.domain);
    g_autofree char *link = relay_dashboard_one_time_link (server->dashboard, base);

    if (link != NULL)
      printf ("nfltr-relay: dashboard one-time login link (valid 15 minutes, once): %s\n", link);
  }
  printf ("nfltr-relay: proof signing key %s\n", relay_proof_get_signing_key (server->proof));
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);
  return 0;
}
