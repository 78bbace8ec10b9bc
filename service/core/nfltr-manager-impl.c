/* nfltr-manager-impl.c — xyz.nfltr.Nfltr.Manager */
#define G_LOG_DOMAIN "nfltr-manager"

#include "nfltr-manager-impl.h"

#include <string.h>

#include "nfltr-cert.h"
#include "nfltr-credentials.h"
#include "nfltr-error.h"
#include "nfltr-proto.h"
#include "nfltr-relay-link.h"
#include "nfltr-tunnel-binder.h"
#include "nfltr-resolve.h"
#include "nfltr-state.h"
#include "nfltr-tunnel-impl.h"

#define TUNNELS_PATH NFLTR_SERVICE_OBJECT_PATH "/tunnels/"
#define NOT_LOGGED_IN_MESSAGE "no relay configured: run nfltr login --relay HOST:PORT --api-key KEY"

struct _NfltrManagerImpl {
  NfltrDbusManagerSkeleton parent_instance;

  char *config_dir;
  char *data_dir;
  char *certs_dir;
  char *agent_id;

  GDBusObjectManagerServer *object_manager;
  NfltrRelayConfig *relay;      /* NULL when logged out */
  NfltrRelayLink *link;         /* NULL when logged out or the key is still being looked up */
  NfltrTunnelBinder *binder;    /* the tunnels' names on link; NULL with it */
  GPtrArray *tunnels;           /* NfltrTunnelImpl*, creation order */
  GPtrArray *unrestored;        /* NfltrTunnelConfig* from tunnels.json that failed to load:
                                 * kept in the file so a passing fault loses nothing */
  GHashTable *owner_watches;    /* unique name -> watch id, for transient tunnels */
  GHashTable *pending_names;    /* names of tunnels being created */
  GCancellable *cancellable;
  guint generation;             /* bumped by Login/Logout: stale restores step aside */
};

static void manager_iface_init (NfltrDbusManagerIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrManagerImpl, nfltr_manager_impl, NFLTR_DBUS_TYPE_MANAGER_SKELETON,
                               G_IMPLEMENT_INTERFACE (NFLTR_DBUS_TYPE_MANAGER, manager_iface_init))

/* Takes ownership of invocation, like every g_dbus_method_invocation_return_*(). */
static void
return_error (GDBusMethodInvocation *invocation, const GError *error)
{
  /* Our domain is registered for D-Bus; anything else becomes xyz.nfltr.Nfltr.Error.Failed. */
  if (error->domain == NFLTR_ERROR)
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                                                   error->message);
}

static const char *
domain_for_tunnels (NfltrManagerImpl *self)
{
  if (self->link && nfltr_relay_link_get_domain (self->link))
    return nfltr_relay_link_get_domain (self->link);
  if (self->relay && self->relay->domain)
    return self->relay->domain;
  return NFLTR_DEFAULT_DOMAIN;
}

static NfltrTunnelImpl *
find_tunnel (NfltrManagerImpl *self, const char *name)
{
  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      if (g_strcmp0 (nfltr_tunnel_impl_get_name (t), name) == 0)
        return t;
    }
  return NULL;
}

static char *
tunnel_path (NfltrTunnelImpl *t)
{
  return g_strconcat (TUNNELS_PATH, nfltr_tunnel_impl_get_config (t)->id, NULL);
}

static void
save_tunnels (NfltrManagerImpl *self)
{
  g_autoptr(GPtrArray) configs = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      if (!nfltr_dbus_tunnel_get_transient (NFLTR_DBUS_TUNNEL (t)))
        g_ptr_array_add (configs, (gpointer) nfltr_tunnel_impl_get_config (t));
    }
  for (guint i = 0; i < self->unrestored->len; i++)
    {
      const NfltrTunnelConfig *c = g_ptr_array_index (self->unrestored, i);
      if (find_tunnel (self, c->name) == NULL)
        g_ptr_array_add (configs, (gpointer) c);
    }
  if (!nfltr_tunnels_save (self->config_dir, configs, &error))
    g_warning ("cannot save tunnels: %s", error->message);
}

static void
emit_failed (NfltrManagerImpl *self, NfltrTunnelImpl *t, const char *message)
{
  g_autofree char *path = tunnel_path (t);

  g_message ("tunnel %s failed: %s", nfltr_tunnel_impl_get_name (t), message);
  nfltr_dbus_manager_emit_tunnel_failed (NFLTR_DBUS_MANAGER (self), path, message);
}

static void
update_relay_properties (NfltrManagerImpl *self)
{
  NfltrDbusManager *m = NFLTR_DBUS_MANAGER (self);
  g_autofree char *address = NULL;
  const GError *error = self->link ? nfltr_relay_link_get_error (self->link) : NULL;

  if (self->relay)
    address = g_strdup_printf ("%s:%u", self->relay->host, self->relay->port);
  nfltr_dbus_manager_set_relay_address (m, address ? address : "");
  nfltr_dbus_manager_set_relay_fingerprint (m, self->relay ? self->relay->fingerprint : "");
  nfltr_dbus_manager_set_relay_domain (m, self->relay && self->relay->domain ? self->relay->domain : "");
  if (self->link)
    nfltr_dbus_manager_set_relay_state (m, nfltr_relay_link_state_to_string (nfltr_relay_link_get_state (self->link)));
  else if (self->relay)
    nfltr_dbus_manager_set_relay_state (m, "connecting");
  else
    nfltr_dbus_manager_set_relay_state (m, "logged-out");
  /* A connected link keeps its last error until it fails again; show none while up. */
  if (self->link && nfltr_relay_link_get_state (self->link) == NFLTR_RELAY_LINK_CONNECTED)
    error = NULL;
  nfltr_dbus_manager_set_relay_error (m, error ? error->message : "");
}

/* --- the relay link's events ----------------------------------------------------------- */

static void
link_state_changed_cb (NfltrRelayLink *link, NfltrManagerImpl *self)
{
  NfltrRelayLinkState state = nfltr_relay_link_get_state (link);

  if (state == NFLTR_RELAY_LINK_CONNECTED && self->relay &&
      g_strcmp0 (self->relay->domain, nfltr_relay_link_get_domain (link)) != 0)
    {
      g_autoptr(GError) error = NULL;

      g_free (self->relay->domain);
      self->relay->domain = g_strdup (nfltr_relay_link_get_domain (link));
      if (!nfltr_relay_config_save (self->config_dir, self->relay, &error))
        g_warning ("cannot save relay settings: %s", error->message);
    }
  update_relay_properties (self);

  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      const char *before = nfltr_dbus_tunnel_get_state (NFLTR_DBUS_TUNNEL (t));
      gboolean was_failed = g_strcmp0 (before, "failed") == 0;

      nfltr_tunnel_impl_link_changed (t, link);
      if (!was_failed && g_strcmp0 (nfltr_dbus_tunnel_get_state (NFLTR_DBUS_TUNNEL (t)), "failed") == 0)
        emit_failed (self, t, nfltr_dbus_tunnel_get_last_error (NFLTR_DBUS_TUNNEL (t)));
    }
}

static void
link_bound_cb (NfltrTunnelBinder *binder,
               const char       *name,
               const char       *host,
               const char       *url,
               NfltrManagerImpl *self)
{
  NfltrTunnelImpl *t = find_tunnel (self, name);

  if (t != NULL)
    nfltr_tunnel_impl_bound (t, host, url);
  else
    nfltr_tunnel_binder_unbind (binder, name);
}

static void
link_bind_failed_cb (NfltrTunnelBinder *binder,
                     const char       *name,
                     const GError     *error,
                     NfltrManagerImpl *self)
{
  NfltrTunnelImpl *t = find_tunnel (self, name);

  if (t == NULL)
    return;
  nfltr_tunnel_impl_failed (t, error);
  emit_failed (self, t, error->message);
}

static void
link_conn_open_cb (NfltrTunnelBinder *binder,
                   const char       *name,
                   GBytes           *conn_id,
                   const char       *client_addr,
                   NfltrManagerImpl *self)
{
  NfltrTunnelImpl *t = find_tunnel (self, name);

  if (t == NULL)
    {
      nfltr_tunnel_binder_refuse (binder, conn_id, "no such tunnel on this agent");
      return;
    }
  nfltr_tunnel_impl_open_conn (t, binder, conn_id, client_addr);
}

static void
detach_link (NfltrManagerImpl *self)
{
  g_autoptr(NfltrRelayLink) link = g_steal_pointer (&self->link);
  g_autoptr(NfltrTunnelBinder) binder = g_steal_pointer (&self->binder);

  if (link == NULL)
    return;
  g_signal_handlers_disconnect_by_data (link, self);
  g_signal_handlers_disconnect_by_data (binder, self);
  /* The binder hears the link stop and fails what still waits for a BIND. */
  nfltr_relay_link_stop (link);
}

static void
start_tunnel_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(NfltrManagerImpl) self = user_data;
  NfltrTunnelImpl *t = NFLTR_TUNNEL_IMPL (source);
  g_autoptr(GError) error = NULL;

  if (!nfltr_tunnel_impl_start_finish (t, result, &error) &&
      g_strcmp0 (nfltr_dbus_tunnel_get_state (NFLTR_DBUS_TUNNEL (t)), "failed") == 0 &&
      !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN) &&
      !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT) &&
      !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT))
    /* Refusals are announced by bind-failed; this covers the link's own failures. */
    emit_failed (self, t, error->message);
}

/* Takes link as the current one and binds every tunnel that should be up. */
static void
adopt_link (NfltrManagerImpl *self, NfltrRelayLink *link)
{
  detach_link (self);
  self->link = g_object_ref (link);
  /* First, so it has failed or re-sent its BINDs before anyone else hears of a state. */
  self->binder = nfltr_tunnel_binder_new (link);
  g_signal_connect (link, "state-changed", G_CALLBACK (link_state_changed_cb), self);
  g_signal_connect (self->binder, "bound", G_CALLBACK (link_bound_cb), self);
  g_signal_connect (self->binder, "bind-failed", G_CALLBACK (link_bind_failed_cb), self);
  g_signal_connect (self->binder, "conn-open", G_CALLBACK (link_conn_open_cb), self);
  if (nfltr_relay_link_get_state (link) == NFLTR_RELAY_LINK_STOPPED)
    nfltr_relay_link_start (link);
  update_relay_properties (self);

  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      if (nfltr_tunnel_impl_get_config (t)->enabled)
        nfltr_tunnel_impl_start_async (t, self->binder, start_tunnel_cb, g_object_ref (self));
    }
}

/* --- tunnels --------------------------------------------------------------------------- */

static gboolean handle_tunnel_start (NfltrDbusTunnel *object, GDBusMethodInvocation *invocation, NfltrManagerImpl *self);
static gboolean handle_tunnel_stop (NfltrDbusTunnel *object, GDBusMethodInvocation *invocation, NfltrManagerImpl *self);
static gboolean handle_tunnel_remove (NfltrDbusTunnel *object, GDBusMethodInvocation *invocation, NfltrManagerImpl *self);

static void
add_tunnel (NfltrManagerImpl *self, NfltrTunnelImpl *t)
{
  g_autofree char *path = tunnel_path (t);
  g_autoptr(NfltrDbusObjectSkeleton) object = nfltr_dbus_object_skeleton_new (path);

  g_signal_connect (t, "handle-start", G_CALLBACK (handle_tunnel_start), self);
  g_signal_connect (t, "handle-stop", G_CALLBACK (handle_tunnel_stop), self);
  g_signal_connect (t, "handle-remove", G_CALLBACK (handle_tunnel_remove), self);
  nfltr_dbus_object_skeleton_set_tunnel (object, NFLTR_DBUS_TUNNEL (t));
  g_ptr_array_add (self->tunnels, g_object_ref (t));
  if (self->object_manager)
    g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
}

static void
owner_vanished_cb (GDBusConnection *connection,
                   const char      *name,
                   gpointer         user_data);

static void
unwatch_owner_if_unused (NfltrManagerImpl *self, const char *owner)
{
  if (owner == NULL)
    return;
  for (guint i = 0; i < self->tunnels->len; i++)
    if (g_strcmp0 (nfltr_tunnel_impl_get_owner (g_ptr_array_index (self->tunnels, i)), owner) == 0)
      return;
  g_hash_table_remove (self->owner_watches, owner);
}

static void
remove_tunnel (NfltrManagerImpl *self, NfltrTunnelImpl *t)
{
  G_GNUC_UNUSED g_autoptr(NfltrTunnelImpl) hold = g_object_ref (t);
  g_autofree char *path = tunnel_path (t);
  g_autofree char *owner = g_strdup (nfltr_tunnel_impl_get_owner (t));
  gboolean transient = nfltr_dbus_tunnel_get_transient (NFLTR_DBUS_TUNNEL (t));

  if (!g_ptr_array_remove (self->tunnels, t))
    return;
  g_signal_handlers_disconnect_by_data (t, self);
  nfltr_tunnel_impl_stop (t, self->binder);
  if (self->object_manager)
    g_dbus_object_manager_server_unexport (self->object_manager, path);
  g_message ("removed tunnel %s", nfltr_tunnel_impl_get_name (t));
  unwatch_owner_if_unused (self, owner);
  if (!transient)
    save_tunnels (self);
}

static void
owner_vanished_cb (GDBusConnection *connection,
                   const char      *name,
                   gpointer         user_data)
{
  NfltrManagerImpl *self = user_data;
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      if (g_strcmp0 (nfltr_tunnel_impl_get_owner (t), name) == 0)
        g_ptr_array_add (gone, g_object_ref (t));
    }
  g_debug ("%s left the bus: removing its %u transient tunnel(s)", name, gone->len);
  for (guint i = 0; i < gone->len; i++)
    remove_tunnel (self, g_ptr_array_index (gone, i));
}

static void
watch_owner (NfltrManagerImpl *self, GDBusConnection *connection, const char *owner)
{
  guint id;

  /* Peer-to-peer connections (the CLI's in-process engine) have no bus to watch; the
   * engine lives and dies with its client there. */
  if (owner == NULL || g_hash_table_contains (self->owner_watches, owner))
    return;
  id = g_bus_watch_name_on_connection (connection, owner, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                       NULL, owner_vanished_cb, self, NULL);
  g_hash_table_insert (self->owner_watches, g_strdup (owner), GUINT_TO_POINTER (id));
}

static gboolean
check_logged_in_error (NfltrManagerImpl *self, GError **error)
{
  if (self->link != NULL)
    return TRUE;
  if (self->relay != NULL)
    g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_LOGGED_IN,
                 "no API key for relay %s:%u: run nfltr login --relay %s:%u --api-key KEY",
                 self->relay->host, self->relay->port, self->relay->host, self->relay->port);
  else
    g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_NOT_LOGGED_IN, NOT_LOGGED_IN_MESSAGE);
  return FALSE;
}

static gboolean
check_logged_in (NfltrManagerImpl *self, GDBusMethodInvocation *invocation)
{
  g_autoptr(GError) error = NULL;

  if (check_logged_in_error (self, &error))
    return TRUE;
  return_error (invocation, error);
  return FALSE;
}

static void
tunnel_start_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GDBusMethodInvocation *invocation = user_data;
  NfltrTunnelImpl *t = NFLTR_TUNNEL_IMPL (source);
  g_autoptr(GError) error = NULL;

  if (!nfltr_tunnel_impl_start_finish (t, result, &error))
    {
      return_error (invocation, error);
      return;
    }
  /* PropertiesChanged goes out before the reply: a client that reads State after Start
   * returns sees "online". */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (t));
  nfltr_dbus_tunnel_complete_start (NFLTR_DBUS_TUNNEL (t), invocation);
}

static gboolean
handle_tunnel_start (NfltrDbusTunnel       *object,
                     GDBusMethodInvocation *invocation,
                     NfltrManagerImpl      *self)
{
  NfltrTunnelImpl *t = NFLTR_TUNNEL_IMPL (object);

  if (!check_logged_in (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (g_strcmp0 (nfltr_dbus_tunnel_get_state (object), "online") == 0)
    {
      nfltr_dbus_tunnel_complete_start (object, invocation);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  nfltr_tunnel_impl_start_async (t, self->binder, tunnel_start_cb, invocation);
  if (!nfltr_dbus_tunnel_get_transient (object))
    save_tunnels (self);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_tunnel_stop (NfltrDbusTunnel       *object,
                    GDBusMethodInvocation *invocation,
                    NfltrManagerImpl      *self)
{
  nfltr_tunnel_impl_stop (NFLTR_TUNNEL_IMPL (object), self->binder);
  if (!nfltr_dbus_tunnel_get_transient (object))
    save_tunnels (self);
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (object));
  nfltr_dbus_tunnel_complete_stop (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_tunnel_remove (NfltrDbusTunnel       *object,
                      GDBusMethodInvocation *invocation,
                      NfltrManagerImpl      *self)
{
  g_object_ref (object);
  nfltr_dbus_tunnel_complete_remove (object, invocation);
  remove_tunnel (self, NFLTR_TUNNEL_IMPL (object));
  g_object_unref (object);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* --- Manager methods ------------------------------------------------------------------- */

static gboolean
parse_relay (const char *relay, char **host, guint16 *port, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!nfltr_parse_host_port (relay, atoi (NFLTR_DEFAULT_RELAY_PORT), FALSE, host, port, &local_error))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "relay: %s", local_error->message);
      return FALSE;
    }
  return TRUE;
}

static void
probe_relay_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GDBusMethodInvocation *invocation = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *subject = NULL;

  if (!nfltr_relay_probe_finish (result, &fingerprint, &subject, &error))
    {
      return_error (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ss)", fingerprint, subject));
}

static gboolean
handle_probe_relay (NfltrDbusManager      *manager,
                    GDBusMethodInvocation *invocation,
                    const char            *relay)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  guint16 port;

  if (!parse_relay (relay, &host, &port, &error))
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  nfltr_relay_probe_async (host, port, NULL, probe_relay_cb, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

typedef struct {
  NfltrManagerImpl *self;
  GDBusMethodInvocation *invocation;
  char *host;
  guint16 port;
  char *api_key;
  char *expected;
  char *fingerprint;
  NfltrRelayLink *link;
} Login;

static void
login_free (Login *login)
{
  if (login->link)
    g_signal_handlers_disconnect_by_data (login->link, login);
  g_clear_object (&login->link);
  g_clear_object (&login->self);
  g_clear_object (&login->invocation);
  g_free (login->host);
  g_free (login->api_key);
  g_free (login->expected);
  g_free (login->fingerprint);
  g_free (login);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Login, login_free)

static void
login_fail (Login *login, const GError *error)
{
  G_GNUC_UNUSED g_autoptr(Login) owned = login;
  /* error may belong to the link, which forgets it when stopped. */
  g_autoptr(GError) copy = g_error_copy (error);

  if (login->link)
    {
      g_signal_handlers_disconnect_by_data (login->link, login);
      nfltr_relay_link_stop (login->link);
    }
  return_error (g_steal_pointer (&login->invocation), copy);
}

static void
login_store_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(Login) login = user_data;
  g_autoptr(GError) error = NULL;

  if (!nfltr_api_key_store_finish (result, &error))
    {
      g_autoptr(GError) wrapped = g_error_new (NFLTR_ERROR, NFLTR_ERROR_FAILED,
                                               "cannot store the API key: %s", error->message);
      return_error (g_steal_pointer (&login->invocation), wrapped);
      return;
    }
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (login->self));
  nfltr_dbus_manager_complete_login (NFLTR_DBUS_MANAGER (login->self),
                                     g_steal_pointer (&login->invocation), login->fingerprint);
}

static void
login_link_state_cb (NfltrRelayLink *link, Login *login)
{
  NfltrManagerImpl *self = login->self;
  g_autoptr(NfltrRelayConfig) config = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *relay = NULL;

  switch (nfltr_relay_link_get_state (link))
    {
    case NFLTR_RELAY_LINK_CONNECTING:
      return;
    case NFLTR_RELAY_LINK_CONNECTED:
      break;
    case NFLTR_RELAY_LINK_STOPPED:
    case NFLTR_RELAY_LINK_UNREACHABLE:
    case NFLTR_RELAY_LINK_AUTH_FAILED:
    case NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH:
    default:
      {
        const GError *why = nfltr_relay_link_get_error (link);
        g_autoptr(GError) fallback = g_error_new (NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                                  "cannot reach relay %s:%u", login->host, login->port);
        login_fail (login, why ? why : fallback);
        return;
      }
    }

  /* The key works: this relay, its pin and its key become the agent's. */
  g_signal_handlers_disconnect_by_data (link, login);
  config = g_new0 (NfltrRelayConfig, 1);
  config->host = g_strdup (login->host);
  config->port = login->port;
  config->fingerprint = g_strdup (login->fingerprint);
  config->domain = g_strdup (nfltr_relay_link_get_domain (link));
  if (!nfltr_relay_config_save (self->config_dir, config, &error))
    {
      login_fail (login, error);
      return;
    }
  self->generation++;
  if (self->relay != NULL &&
      (g_strcmp0 (self->relay->host, config->host) != 0 || self->relay->port != config->port))
    {
      /* A new relay: the old one's key has no use any more. */
      g_autofree char *old = g_strdup_printf ("%s:%u", self->relay->host, self->relay->port);
      nfltr_api_key_clear (self->config_dir, old);
    }
  nfltr_relay_config_free (self->relay);
  self->relay = g_steal_pointer (&config);
  adopt_link (self, link);
  g_message ("logged in to relay %s:%u (%s)", login->host, login->port, login->fingerprint);

  relay = g_strdup_printf ("%s:%u", login->host, login->port);
  nfltr_api_key_store_async (self->config_dir, relay, login->api_key, NULL, login_store_cb, login);
}

static void
login_probe_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Login *login = user_data;
  g_autoptr(GError) error = NULL;
  guint8 expected[NFLTR_FINGERPRINT_LEN];
  guint8 presented[NFLTR_FINGERPRINT_LEN];

  if (!nfltr_relay_probe_finish (result, &login->fingerprint, NULL, &error))
    {
      login_fail (login, error);
      return;
    }

  if (login->expected != NULL && *login->expected != '\0')
    {
      if (!nfltr_fingerprint_parse (login->expected, expected))
        {
          g_autoptr(GError) bad = g_error_new (NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                               "“%s” is not a SHA-256 fingerprint", login->expected);
          login_fail (login, bad);
          return;
        }
      if (!nfltr_fingerprint_parse (login->fingerprint, presented) ||
          memcmp (expected, presented, sizeof expected) != 0)
        {
          g_autofree char *want = nfltr_fingerprint_format (expected);
          g_autoptr(GError) mismatch =
            g_error_new (NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
                         "relay %s:%u presented certificate %s, but %s was expected",
                         login->host, login->port, login->fingerprint, want);
          login_fail (login, mismatch);
          return;
        }
    }

  /* The key only ever travels over a connection pinned to what we just saw. */
  login->link = nfltr_relay_link_new (login->host, login->port, login->fingerprint,
                                      login->api_key, login->self->agent_id);
  g_signal_connect (login->link, "state-changed", G_CALLBACK (login_link_state_cb), login);
  nfltr_relay_link_start (login->link);
}

static gboolean
handle_login (NfltrDbusManager      *manager,
              GDBusMethodInvocation *invocation,
              const char            *relay,
              const char            *api_key,
              const char            *expected_fingerprint)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);
  g_autoptr(GError) error = NULL;
  Login *login;

  login = g_new0 (Login, 1);
  login->self = g_object_ref (self);
  login->invocation = invocation;  /* ours until returned */
  login->expected = g_strdup (expected_fingerprint);
  login->api_key = g_strdup (api_key);

  if (!parse_relay (relay, &login->host, &login->port, &error))
    {
      login_fail (login, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (api_key == NULL || *api_key == '\0')
    {
      g_autoptr(GError) empty = g_error_new_literal (NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     "the API key is empty");
      login_fail (login, empty);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  nfltr_relay_probe_async (login->host, login->port, NULL, login_probe_cb, login);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_logout (NfltrDbusManager      *manager,
               GDBusMethodInvocation *invocation)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);
  g_autoptr(GError) error = NULL;
  g_autofree char *relay = NULL;

  self->generation++;
  if (self->relay)
    relay = g_strdup_printf ("%s:%u", self->relay->host, self->relay->port);

  /* Tunnels stay defined and wanted: they come back at the next Login. */
  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      gboolean enabled = nfltr_tunnel_impl_get_config (t)->enabled;

      nfltr_tunnel_impl_stop (t, self->binder);
      nfltr_tunnel_impl_set_enabled (t, enabled);
    }
  detach_link (self);
  nfltr_api_key_clear (self->config_dir, relay);
  g_clear_pointer (&self->relay, nfltr_relay_config_free);
  if (!nfltr_relay_config_delete (self->config_dir, &error))
    g_warning ("%s", error->message);
  update_relay_properties (self);
  g_message ("logged out");

  nfltr_dbus_manager_complete_logout (manager, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static const char *adjectives[] = {
  "amber", "brave", "calm", "clever", "cosmic", "eager", "fancy", "gentle", "happy", "jolly",
  "lively", "lucky", "mellow", "nimble", "proud", "quiet", "rapid", "shiny", "sunny", "swift",
  "tidy", "vivid", "witty", "zesty",
};
static const char *nouns[] = {
  "badger", "comet", "falcon", "fern", "harbor", "heron", "koala", "lagoon", "maple", "meadow",
  "otter", "panda", "pebble", "quokka", "raven", "river", "robin", "spruce", "tiger", "walrus",
  "willow", "wombat", "yak", "zebra",
};

static char *
random_name (NfltrManagerImpl *self)
{
  for (;;)
    {
      char *name = g_strdup_printf ("%s-%s-%04u",
                                    adjectives[g_random_int_range (0, G_N_ELEMENTS (adjectives))],
                                    nouns[g_random_int_range (0, G_N_ELEMENTS (nouns))],
                                    (guint) g_random_int_range (0, 10000));
      if (find_tunnel (self, name) == NULL && !g_hash_table_contains (self->pending_names, name))
        return name;
      g_free (name);
    }
}

/* Object path elements allow [A-Za-z0-9_]; names allow [a-z0-9-]. */
static char *
id_for_name (const char *name)
{
  char *id = g_strdup (name);

  g_strdelimit (id, "-", '_');
  return id;
}

typedef struct {
  NfltrManagerImpl *self;
  GDBusMethodInvocation *invocation;
  NfltrTunnelConfig *config;
  gboolean transient;
  NfltrTunnelImpl *tunnel;
} Create;

static void
create_free (Create *create)
{
  g_clear_pointer (&create->config, nfltr_tunnel_config_free);
  g_clear_object (&create->self);
  g_clear_object (&create->invocation);
  g_clear_object (&create->tunnel);
  g_free (create);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Create, create_free)

static void
create_start_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Create) create = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tunnel_path (create->tunnel);
  gboolean still_there = g_ptr_array_find (create->self->tunnels, create->tunnel, NULL);

  if (!nfltr_tunnel_impl_start_finish (create->tunnel, result, &error))
    {
      /* CreateTunnel is all or nothing: a tunnel that never came up is not left behind. */
      remove_tunnel (create->self, create->tunnel);
      return_error (g_steal_pointer (&create->invocation), error);
      return;
    }
  if (!still_there)
    {
      g_dbus_method_invocation_return_error_literal (g_steal_pointer (&create->invocation),
                                                     NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND,
                                                     "the tunnel was removed while starting");
      return;
    }
  if (!nfltr_dbus_tunnel_get_transient (NFLTR_DBUS_TUNNEL (create->tunnel)))
    save_tunnels (create->self);
  g_message ("tunnel %s online at %s", nfltr_tunnel_impl_get_name (create->tunnel),
             nfltr_dbus_tunnel_get_public_url (NFLTR_DBUS_TUNNEL (create->tunnel)));
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (create->tunnel));
  nfltr_dbus_manager_complete_create_tunnel (NFLTR_DBUS_MANAGER (create->self),
                                             g_steal_pointer (&create->invocation), path);
}

static void
create_certificate_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Create *create = user_data;
  NfltrManagerImpl *self = create->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;

  g_hash_table_remove (self->pending_names, create->config->name);
  if (!nfltr_tunnel_load_certificate_finish (result, &cert_pem, &key_pem, &error) ||
      !check_logged_in_error (self, &error) ||
      (create->tunnel = nfltr_tunnel_impl_new (create->config, create->transient,
                                               domain_for_tunnels (self), cert_pem, key_pem,
                                               &error)) == NULL)
    {
      return_error (g_steal_pointer (&create->invocation), error);
      create_free (create);
      return;
    }

  add_tunnel (self, create->tunnel);
  if (create->transient)
    {
      const char *sender = g_dbus_method_invocation_get_sender (create->invocation);
      nfltr_tunnel_impl_set_owner (create->tunnel, sender);
      watch_owner (self, g_dbus_method_invocation_get_connection (create->invocation), sender);
    }
  nfltr_tunnel_impl_start_async (create->tunnel, self->binder, create_start_cb, create);
}

static gboolean
handle_create_tunnel (NfltrDbusManager      *manager,
                      GDBusMethodInvocation *invocation,
                      GVariant              *options)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);
  g_autoptr(NfltrTunnelConfig) config = g_new0 (NfltrTunnelConfig, 1);
  g_autoptr(GError) error = NULL;
  const char *kind = NULL, *target = NULL, *name = NULL, *cert_file = NULL, *key_file = NULL;
  gboolean e2ee = TRUE, transient = FALSE;
  Create *create;

  g_variant_lookup (options, "kind", "&s", &kind);
  g_variant_lookup (options, "target", "&s", &target);
  g_variant_lookup (options, "name", "&s", &name);
  g_variant_lookup (options, "e2ee", "b", &e2ee);
  g_variant_lookup (options, "cert-file", "&s", &cert_file);
  g_variant_lookup (options, "key-file", "&s", &key_file);
  g_variant_lookup (options, "transient", "b", &transient);

  if (g_strcmp0 (kind, "http") != 0 && g_strcmp0 (kind, "tcp") != 0)
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "kind must be “http” or “tcp”, not “%s”",
                                             kind ? kind : "");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (target == NULL || *target == '\0')
    {
      g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     "target is missing (PORT or HOST:PORT)");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (name != NULL && *name != '\0' && !nfltr_proto_name_is_valid (name))
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "“%s” is not a valid tunnel name: use a-z, 0-9 and “-”, "
                                             "at most 63 characters, not starting or ending with “-”",
                                             name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (name != NULL && (find_tunnel (self, name) != NULL || g_hash_table_contains (self->pending_names, name)))
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "a tunnel named “%s” already exists on this agent", name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if ((cert_file != NULL && *cert_file) != (key_file != NULL && *key_file))
    {
      g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     "cert-file and key-file must be given together");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  /* Argument errors first: they are the caller's to fix whatever the relay's state. */
  {
    g_autofree char *host = NULL;
    guint16 port;

    if (!nfltr_parse_host_port (target, 0, TRUE, &host, &port, &error))
      {
        return_error (invocation, error);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
      }
  }
  if (!check_logged_in (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  config->name = (name && *name) ? g_strdup (name) : random_name (self);
  config->id = id_for_name (config->name);
  config->kind = g_strdup (kind);
  config->target = g_strdup (target);
  config->e2ee = e2ee;
  config->cert_file = (cert_file && *cert_file) ? g_strdup (cert_file) : NULL;
  config->key_file = (key_file && *key_file) ? g_strdup (key_file) : NULL;
  config->enabled = TRUE;

  /* Held until the certificate is ready, so a second CreateTunnel cannot take the name. */
  g_hash_table_add (self->pending_names, g_strdup (config->name));
  create = g_new0 (Create, 1);
  create->self = g_object_ref (self);
  create->invocation = invocation;
  create->config = g_steal_pointer (&config);
  create->transient = transient;
  /* Key generation and file I/O stay off the engine's thread. */
  nfltr_tunnel_load_certificate_async (create->config, domain_for_tunnels (self), self->certs_dir,
                                       NULL, create_certificate_cb, create);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_tunnels (NfltrDbusManager      *manager,
                     GDBusMethodInvocation *invocation)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < self->tunnels->len; i++)
    g_ptr_array_add (paths, tunnel_path (g_ptr_array_index (self->tunnels, i)));
  g_ptr_array_add (paths, NULL);
  nfltr_dbus_manager_complete_list_tunnels (manager, invocation, (const char * const *) paths->pdata);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
manager_iface_init (NfltrDbusManagerIface *iface)
{
  iface->handle_probe_relay = handle_probe_relay;
  iface->handle_login = handle_login;
  iface->handle_logout = handle_logout;
  iface->handle_create_tunnel = handle_create_tunnel;
  iface->handle_list_tunnels = handle_list_tunnels;
}

/* --- restore at start ------------------------------------------------------------------ */

typedef struct {
  NfltrManagerImpl *self;
  guint generation;
} Restore;

static void
restore_key_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autofree Restore *restore = user_data;
  g_autoptr(NfltrManagerImpl) self = restore->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = nfltr_api_key_lookup_finish (result, &error);
  g_autoptr(NfltrRelayLink) link = NULL;

  if (restore->generation != self->generation || self->relay == NULL)
    return;  /* a Login or Logout came first */
  if (key == NULL)
    {
      g_message ("%s", error->message);
      nfltr_dbus_manager_set_relay_state (NFLTR_DBUS_MANAGER (self), "logged-out");
      nfltr_dbus_manager_set_relay_error (NFLTR_DBUS_MANAGER (self), error->message);
      return;
    }
  link = nfltr_relay_link_new (self->relay->host, self->relay->port, self->relay->fingerprint,
                               key, self->agent_id);
  adopt_link (self, link);
}

void
nfltr_manager_impl_start (NfltrManagerImpl         *self,
                          GDBusObjectManagerServer *object_manager)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) saved = NULL;

  g_set_object (&self->object_manager, object_manager);

  self->relay = nfltr_relay_config_load (self->config_dir, &error);
  if (error)
    {
      g_warning ("%s", error->message);
      g_clear_error (&error);
    }

  saved = nfltr_tunnels_load (self->config_dir, &error);
  if (saved == NULL)
    {
      g_warning ("%s", error->message);
      g_clear_error (&error);
    }
  for (guint i = 0; saved && i < saved->len; i++)
    {
      NfltrTunnelConfig *c = g_ptr_array_index (saved, i);
      g_autoptr(NfltrTunnelImpl) t = NULL;

      if (!nfltr_proto_name_is_valid (c->name) || find_tunnel (self, c->name))
        {
          g_message ("tunnels.json: skipping tunnel “%s” (bad or duplicate name)", c->name);
          continue;
        }
      if (c->id == NULL || g_strcmp0 (c->id, "") == 0)
        {
          g_free (c->id);
          c->id = id_for_name (c->name);
        }
      {
        g_autofree char *cert_pem = NULL;
        g_autofree char *key_pem = NULL;

        /* Once, at startup, before any client is served: reading the files here is fine. */
        if (nfltr_tunnel_load_certificate (c, domain_for_tunnels (self), self->certs_dir,
                                           &cert_pem, &key_pem, &error))
          t = nfltr_tunnel_impl_new (c, FALSE, domain_for_tunnels (self), cert_pem, key_pem, &error);
      }
      if (t == NULL)
        {
          g_message ("tunnels.json: cannot restore tunnel “%s”: %s", c->name, error->message);
          g_clear_error (&error);
          g_ptr_array_add (self->unrestored, nfltr_tunnel_config_copy (c));
          continue;
        }
      add_tunnel (self, t);
    }

  update_relay_properties (self);
  if (self->relay != NULL)
    {
      Restore *restore = g_new0 (Restore, 1);
      g_autofree char *relay = g_strdup_printf ("%s:%u", self->relay->host, self->relay->port);

      restore->self = g_object_ref (self);
      restore->generation = self->generation;
      nfltr_api_key_lookup_async (self->config_dir, relay, self->cancellable, restore_key_cb, restore);
    }
}

void
nfltr_manager_impl_shutdown (NfltrManagerImpl *self)
{
  g_cancellable_cancel (self->cancellable);
  self->generation++;
  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      gboolean enabled = nfltr_tunnel_impl_get_config (t)->enabled;

      /* No UNBIND: the relay drops our names with the connection, and a quick restart
       * takes them back. The saved "enabled" flags stay as they were. */
      nfltr_tunnel_impl_stop (t, NULL);
      nfltr_tunnel_impl_set_enabled (t, enabled);
    }
  detach_link (self);
  g_hash_table_remove_all (self->owner_watches);
}

NfltrManagerImpl *
nfltr_manager_impl_new (const char  *config_dir,
                        const char  *data_dir,
                        GError     **error)
{
  g_autoptr(NfltrManagerImpl) self = g_object_new (NFLTR_TYPE_MANAGER_IMPL, NULL);

  self->config_dir = g_strdup (config_dir);
  self->data_dir = g_strdup (data_dir);
  self->certs_dir = g_build_filename (data_dir, "certs", NULL);
  self->agent_id = nfltr_agent_id_load_or_create (data_dir, error);
  if (self->agent_id == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

static void
unwatch (gpointer data)
{
  g_bus_unwatch_name (GPOINTER_TO_UINT (data));
}

static void
nfltr_manager_impl_dispose (GObject *object)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (object);

  detach_link (self);
  if (self->owner_watches)
    g_hash_table_remove_all (self->owner_watches);
  if (self->tunnels)
    g_ptr_array_set_size (self->tunnels, 0);
  g_clear_object (&self->object_manager);

  G_OBJECT_CLASS (nfltr_manager_impl_parent_class)->dispose (object);
}

static void
nfltr_manager_impl_finalize (GObject *object)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (object);

  g_clear_pointer (&self->tunnels, g_ptr_array_unref);
  g_clear_pointer (&self->unrestored, g_ptr_array_unref);
  g_clear_pointer (&self->owner_watches, g_hash_table_unref);
  g_clear_pointer (&self->pending_names, g_hash_table_unref);
  g_clear_pointer (&self->relay, nfltr_relay_config_free);
  g_clear_object (&self->cancellable);
  g_free (self->config_dir);
  g_free (self->data_dir);
  g_free (self->certs_dir);
  g_free (self->agent_id);

  G_OBJECT_CLASS (nfltr_manager_impl_parent_class)->finalize (object);
}

static void
nfltr_manager_impl_class_init (NfltrManagerImplClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_manager_impl_dispose;
  object_class->finalize = nfltr_manager_impl_finalize;
}

static void
nfltr_manager_impl_init (NfltrManagerImpl *self)
{
  self->tunnels = g_ptr_array_new_with_free_func (g_object_unref);
  self->unrestored = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_tunnel_config_free);
  self->owner_watches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, unwatch);
  self->pending_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->cancellable = g_cancellable_new ();
  nfltr_dbus_manager_set_version (NFLTR_DBUS_MANAGER (self), PACKAGE_VERSION);
  nfltr_dbus_manager_set_relay_state (NFLTR_DBUS_MANAGER (self), "logged-out");
  nfltr_dbus_manager_set_relay_address (NFLTR_DBUS_MANAGER (self), "");
  nfltr_dbus_manager_set_relay_fingerprint (NFLTR_DBUS_MANAGER (self), "");
  nfltr_dbus_manager_set_relay_error (NFLTR_DBUS_MANAGER (self), "");
  nfltr_dbus_manager_set_relay_domain (NFLTR_DBUS_MANAGER (self), "");
}
