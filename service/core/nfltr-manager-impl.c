/* nfltr-manager-impl.c — xyz.nfltr.Nfltr.Manager: the D-Bus face of the session and the
 * tunnel manager. Methods are delegated; the Relay* properties follow the session. */
#define G_LOG_DOMAIN "nfltr-manager"

#include "nfltr-manager-impl.h"

#include "nfltr-error.h"
#include "nfltr-invocation.h"
#include "nfltr-session.h"
#include "nfltr-state.h"
#include "nfltr-tunnel-kind.h"
#include "nfltr-tunnel-manager.h"
#include "nfltr-p2p-service.h"
#include "nfltr-a2a-service.h"

struct _NfltrManagerImpl {
  NfltrDbusManagerSkeleton parent_instance;

  NfltrSession *session;
  NfltrTunnelManager *tunnels;
  NfltrP2pService *p2p;       /* the P2P track (service/p2p/transfer/) */
  NfltrA2aService *a2a;       /* agent-to-agent messages (service/a2a/) */
  char *data_dir;
};

static void manager_iface_init (NfltrDbusManagerIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrManagerImpl, nfltr_manager_impl, NFLTR_DBUS_TYPE_MANAGER_SKELETON,
                               G_IMPLEMENT_INTERFACE (NFLTR_DBUS_TYPE_MANAGER, manager_iface_init))

/* The session's state, as strings, at the D-Bus boundary. */
static void
update_relay_properties (NfltrManagerImpl *self)
{
  NfltrDbusManager *m = NFLTR_DBUS_MANAGER (self);
  const NfltrRelayConfig *relay = nfltr_session_get_relay (self->session);
  const GError *error = NULL;
  NfltrRelayLinkState state = nfltr_session_get_relay_state (self->session, &error);
  g_autofree char *address = NULL;

  if (relay)
    address = g_strdup_printf ("%s:%u", relay->host, relay->port);
  nfltr_dbus_manager_set_relay_address (m, address ? address : "");
  nfltr_dbus_manager_set_relay_fingerprint (m, relay ? relay->fingerprint : "");
  nfltr_dbus_manager_set_relay_domain (m, relay && relay->domain ? relay->domain : "");
  nfltr_dbus_manager_set_relay_signing_key (m, relay && relay->signing_key ? relay->signing_key : "");
  nfltr_dbus_manager_set_relay_state (m, nfltr_relay_link_state_to_string (state));
  nfltr_dbus_manager_set_relay_error (m, error ? error->message : "");
}

static void
session_changed_cb (NfltrSession     *session,
                    NfltrManagerImpl *self)
{
  update_relay_properties (self);
}

/* issue 9 §9: RelayLatency follows the current link's PING round trip. */
static void
link_rtt_changed_cb (NfltrRelayLink *link, NfltrManagerImpl *self)
{
  if (link == nfltr_session_get_link (self->session))
    nfltr_dbus_manager_set_relay_latency (NFLTR_DBUS_MANAGER (self), nfltr_relay_link_get_rtt_ms (link));
}

static void
link_adopted_cb (NfltrSession *session, NfltrManagerImpl *self)
{
  NfltrRelayLink *link = nfltr_session_get_link (session);

  nfltr_dbus_manager_set_relay_latency (NFLTR_DBUS_MANAGER (self), 0);
  if (link != NULL)
    g_signal_connect_object (link, "rtt-changed", G_CALLBACK (link_rtt_changed_cb), self, 0);
}

static void
tunnel_failed_cb (NfltrTunnelManager *tunnels,
                  const char         *path,
                  const char         *message,
                  NfltrManagerImpl   *self)
{
  nfltr_dbus_manager_emit_tunnel_failed (NFLTR_DBUS_MANAGER (self), path, message);
}

struct _NfltrSession *
nfltr_manager_impl_get_session (NfltrManagerImpl *self)
{
  return self->session;
}

/* --- Manager methods ------------------------------------------------------------------- */

static void
probe_relay_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GDBusMethodInvocation *invocation = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *subject = NULL;

  if (!nfltr_session_probe_finish (NFLTR_SESSION (source), result, &fingerprint, &subject, &error))
    {
      nfltr_invocation_return_error (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ss)", fingerprint, subject));
}

static gboolean
handle_probe_relay (NfltrDbusManager      *manager,
                    GDBusMethodInvocation *invocation,
                    const char            *relay)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);

  nfltr_session_probe_async (self->session, relay, NULL, probe_relay_cb, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
login_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GDBusMethodInvocation *invocation = user_data;
  g_autoptr(NfltrManagerImpl) self = g_object_steal_data (G_OBJECT (invocation), "nfltr-manager");
  g_autoptr(GError) error = NULL;
  g_autofree char *fingerprint = nfltr_session_login_finish (NFLTR_SESSION (source), result, &error);

  if (fingerprint == NULL)
    {
      nfltr_invocation_return_error (invocation, error);
      return;
    }
  /* PropertiesChanged goes out before the reply. */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self));
  nfltr_dbus_manager_complete_login (NFLTR_DBUS_MANAGER (self), invocation, fingerprint);
}

static gboolean
handle_login (NfltrDbusManager      *manager,
              GDBusMethodInvocation *invocation,
              const char            *relay,
              const char            *api_key,
              const char            *expected_fingerprint)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);

  /* Answered in login_cb, which needs us for the flush. */
  g_object_set_data (G_OBJECT (invocation), "nfltr-manager", g_object_ref (self));
  nfltr_session_login_async (self->session, relay, api_key, expected_fingerprint, NULL,
                             login_cb, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_retry_relay (NfltrDbusManager      *manager,
                    GDBusMethodInvocation *invocation)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);
  NfltrRelayLink *link = nfltr_session_get_link (self->session);

  if (link != NULL)
    nfltr_relay_link_retry_now (link);
  nfltr_dbus_manager_complete_retry_relay (manager, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_logout (NfltrDbusManager      *manager,
               GDBusMethodInvocation *invocation)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);

  /* Tunnels stay defined and wanted: they come back at the next Login. */
  nfltr_tunnel_manager_stop_all (self->tunnels, TRUE);
  nfltr_session_logout (self->session);
  nfltr_dbus_manager_complete_logout (manager, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_create_tunnel (NfltrDbusManager      *manager,
                      GDBusMethodInvocation *invocation,
                      GVariant              *options)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);

  return nfltr_tunnel_manager_handle_create_tunnel (self->tunnels, manager, invocation, options);
}

static gboolean
handle_release_name (NfltrDbusManager      *manager,
                     GDBusMethodInvocation *invocation,
                     const char            *name)
{
  return nfltr_tunnel_manager_handle_release_name (NFLTR_MANAGER_IMPL (manager)->tunnels, manager,
                                                   invocation, name);
}

static gboolean
handle_list_tunnels (NfltrDbusManager      *manager,
                     GDBusMethodInvocation *invocation)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (manager);
  char **paths = nfltr_tunnel_manager_list_paths (self->tunnels);

  nfltr_dbus_manager_complete_list_tunnels (manager, invocation, (const char * const *) paths);
  g_strfreev (paths);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
manager_iface_init (NfltrDbusManagerIface *iface)
{
  iface->handle_probe_relay = handle_probe_relay;
  iface->handle_login = handle_login;
  iface->handle_logout = handle_logout;
  iface->handle_retry_relay = handle_retry_relay;
  iface->handle_create_tunnel = handle_create_tunnel;
  iface->handle_list_tunnels = handle_list_tunnels;
  iface->handle_release_name = handle_release_name;
}

/* --------------------------------------------------------------------------------------- */

void
nfltr_manager_impl_start (NfltrManagerImpl         *self,
                          GDBusObjectManagerServer *object_manager)
{
  nfltr_session_load (self->session);
  nfltr_tunnel_manager_restore (self->tunnels, object_manager);
  self->p2p = nfltr_p2p_service_new (self->session, self->data_dir, object_manager);
  self->a2a = nfltr_a2a_service_new (self->session, self->data_dir, object_manager);
  update_relay_properties (self);
  nfltr_session_restore (self->session);
}

void
nfltr_manager_impl_shutdown (NfltrManagerImpl *self)
{
  nfltr_tunnel_manager_shutdown (self->tunnels);
  if (self->p2p != NULL)
    nfltr_p2p_service_shutdown (self->p2p);
  if (self->a2a != NULL)
    nfltr_a2a_service_shutdown (self->a2a);
  nfltr_session_shutdown (self->session);
}

NfltrManagerImpl *
nfltr_manager_impl_new (const char  *config_dir,
                        const char  *data_dir,
                        GError     **error)
{
  g_autoptr(NfltrManagerImpl) self = g_object_new (NFLTR_TYPE_MANAGER_IMPL, NULL);
  g_autofree char *agent_id = nfltr_agent_id_load_or_create (data_dir, error);
  g_autofree char *certs_dir = g_build_filename (data_dir, "certs", NULL);

  if (agent_id == NULL)
    return NULL;
  self->session = nfltr_session_new (config_dir, agent_id);
  self->data_dir = g_strdup (data_dir);
  /* Before the tunnel manager's handlers: Relay* properties change before tunnel states. */
  g_signal_connect (self->session, "changed", G_CALLBACK (session_changed_cb), self);
  g_signal_connect (self->session, "link-adopted", G_CALLBACK (link_adopted_cb), self); /* issue 9 §9 */
  link_adopted_cb (self->session, self);
  self->tunnels = nfltr_tunnel_manager_new (self->session, config_dir, certs_dir);
  g_signal_connect (self->tunnels, "tunnel-failed", G_CALLBACK (tunnel_failed_cb), self);
  return g_steal_pointer (&self);
}

static void
nfltr_manager_impl_dispose (GObject *object)
{
  NfltrManagerImpl *self = NFLTR_MANAGER_IMPL (object);

  if (self->session)
    g_signal_handlers_disconnect_by_data (self->session, self);
  if (self->tunnels)
    g_signal_handlers_disconnect_by_data (self->tunnels, self);
  g_clear_object (&self->p2p);
  g_clear_object (&self->a2a);
  g_clear_object (&self->tunnels);
  g_clear_object (&self->session);
  g_clear_pointer (&self->data_dir, g_free);

  G_OBJECT_CLASS (nfltr_manager_impl_parent_class)->dispose (object);
}

static void
nfltr_manager_impl_class_init (NfltrManagerImplClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_manager_impl_dispose;
}

static void
nfltr_manager_impl_init (NfltrManagerImpl *self)
{
  nfltr_dbus_manager_set_version (NFLTR_DBUS_MANAGER (self), PACKAGE_VERSION);
  nfltr_dbus_manager_set_relay_state (NFLTR_DBUS_MANAGER (self),
                                      nfltr_relay_link_state_to_string (NFLTR_RELAY_LINK_STOPPED));
  nfltr_dbus_manager_set_relay_address (NFLTR_DBUS_MANAGER (self), "");
  nfltr_dbus_manager_set_relay_fingerprint (NFLTR_DBUS_MANAGER (self), "");
  nfltr_dbus_manager_set_relay_error (NFLTR_DBUS_MANAGER (self), "");
  nfltr_dbus_manager_set_relay_domain (NFLTR_DBUS_MANAGER (self), "");
  nfltr_dbus_manager_set_relay_signing_key (NFLTR_DBUS_MANAGER (self), "");
  nfltr_dbus_manager_set_kinds (NFLTR_DBUS_MANAGER (self), nfltr_tunnel_kind_list_to_variant ());
}
