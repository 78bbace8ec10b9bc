/* nfltr-kind-shell.c — "shell": an SSH server for the user's own account, reached through the
 * relay inside the agent's TLS (`ssh -o ProxyCommand='openssl s_client -quiet -connect
 * RELAY:PORT -servername %h' USER@NAME.DOMAIN`, or `nfltr ssh NAME.DOMAIN`). The relay sees
 * the tunnel's TLS; inside it the SSH layer adds its own host key and the user's public keys.
 *
 * The target is the authorized_keys file (default ~/.ssh/authorized_keys). Each running
 * tunnel has one NfltrShellServer; connect() gives the data path one end of a socketpair and
 * the server the other. The host key belongs to the tunnel's name: made once, kept in
 * $XDG_DATA_HOME/nfltr/ssh-host-keys/, so clients' known_hosts entries survive restarts. A
 * connection finds it by the SNI it reached us with; when CreateTunnel names the tunnel the
 * key is made at once, so `nfltr shell` can show its fingerprint before anyone connects. */
#define G_LOG_DOMAIN "nfltr-shell"

#include "nfltr-kind-shell.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nfltr-error.h"
#include "nfltr-proto.h"
#include "nfltr-shell-server.h"

struct _NfltrKindShell {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindShell, nfltr_kind_shell, NFLTR_TYPE_TUNNEL_KIND)

/* The running tunnels' servers, by their config (the same immutable GVariant is handed to
 * start, connect and stop of one tunnel). Kinds are shared by every thread. */
static GMutex servers_lock;
static GHashTable *servers;

static const char *
shell_get_id (NfltrTunnelKind *kind)
{
  return "shell";
}

static const char *
shell_get_label (NfltrTunnelKind *kind)
{
  return "Shell (SSH)";
}

static const char *
shell_get_description (NfltrTunnelKind *kind)
{
  return "An SSH server for your account: shell, commands, scp and sftp, with your keys";
}

static char *
default_authorized_keys (void)
{
  return g_build_filename (g_get_home_dir (), ".ssh", "authorized_keys", NULL);
}

static GVariant *
shell_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *path = NULL;
  const char *name = NULL;

  if (target == NULL || *target == '\0')
    path = default_authorized_keys ();
  else if (g_str_has_prefix (target, "~/"))
    path = g_build_filename (g_get_home_dir (), target + 2, NULL);
  else
    path = g_strdup (target);
  if (!g_path_is_absolute (path))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "the authorized keys file must be an absolute path, not “%s”", target);
      return NULL;
    }
  /* Only when the user creates the tunnel: a restored one starts even if the file went away
   * for a while (nobody logs in meanwhile). */
  if (options != NULL && !g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "no authorized keys file at %s: put your SSH public key there "
                   "(or choose another file with --authorized-keys)",
                   path);
      return NULL;
    }
  /* CreateTunnel with a name: the host key is made now, so the client that asked can show
   * its fingerprint before anyone connects. The tunnel's own config comes from a second
   * parse of the kind's options alone (no name); connect() finds the name in the SNI. */
  if (options != NULL && g_variant_lookup (options, "name", "&s", &name) &&
      nfltr_proto_name_is_valid (name) && !nfltr_shell_host_key_ensure (name, NULL, NULL, error))
    return NULL;
  g_variant_dict_insert (&dict, "authorized-keys", "s", path);
  return g_variant_dict_end (&dict);
}

static char *
shell_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  const char *path = NULL;

  g_variant_lookup (config, "authorized-keys", "&s", &path);
  return g_strdup (path != NULL ? path : "");
}

static gboolean
shell_start (NfltrTunnelKind *kind, GVariant *config, GError **error)
{
  const char *path = NULL;
  NfltrShellServerConfig server_config = { 0 };

  g_variant_lookup (config, "authorized-keys", "&s", &path);

  server_config.authorized_keys = path;
  g_mutex_lock (&servers_lock);
  if (servers == NULL)
    servers = g_hash_table_new (NULL, NULL);
  if (!g_hash_table_contains (servers, config))
    g_hash_table_insert (servers, config, nfltr_shell_server_new (&server_config));
  g_mutex_unlock (&servers_lock);
  return TRUE;
}

static void
shell_stop (NfltrTunnelKind *kind, GVariant *config)
{
  NfltrShellServer *server = NULL;

  g_mutex_lock (&servers_lock);
  if (servers != NULL && g_hash_table_steal_extended (servers, config, NULL, (gpointer *) &server) &&
      g_hash_table_size (servers) == 0)
    g_clear_pointer (&servers, g_hash_table_unref);
  g_mutex_unlock (&servers_lock);
  /* Outside the lock: ending the sessions waits for their processes. */
  nfltr_shell_server_free (server);
}

/* The tunnel's name: the first label of the name the visitor asked the relay for (the relay
 * routed the connection here by it). */
static char *
tunnel_name (const NfltrKindConn *conn)
{
  const char *dot;

  if (conn->sni == NULL)
    return NULL;
  dot = strchr (conn->sni, '.');
  return g_ascii_strdown (conn->sni, dot != NULL ? dot - conn->sni : -1);
}

static int
shell_connect (NfltrTunnelKind *kind, GVariant *config, const NfltrKindConn *conn, GError **error)
{
  g_autofree char *name = tunnel_name (conn);
  g_autofree char *host_key = NULL;
  NfltrShellServer *server;
  int fds[2];

  if (!nfltr_shell_host_key_ensure (name, &host_key, NULL, error))
    return -1;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s", g_strerror (saved));
      return -1;
    }

  g_mutex_lock (&servers_lock);
  server = servers != NULL ? g_hash_table_lookup (servers, config) : NULL;
  if (server == NULL)
    {
      g_mutex_unlock (&servers_lock);
      close (fds[0]);
      close (fds[1]);
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "the shell is not running");
      return -1;
    }
  /* Under the lock, so stop() cannot free the server in between. */
  if (!nfltr_shell_server_accept (server, fds[1], host_key, conn->client_addr, error))
    {
      g_mutex_unlock (&servers_lock);
      close (fds[0]);
      return -1;
    }
  g_mutex_unlock (&servers_lock);
  return fds[0];
}

static void
nfltr_kind_shell_class_init (NfltrKindShellClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  kind_class->get_id = shell_get_id;
  kind_class->get_label = shell_get_label;
  kind_class->get_description = shell_get_description;
  kind_class->parse = shell_parse;
  kind_class->describe_target = shell_describe_target;
  kind_class->start = shell_start;
  kind_class->stop = shell_stop;
  kind_class->connect = shell_connect;
}

static void
nfltr_kind_shell_init (NfltrKindShell *self)
{
}
