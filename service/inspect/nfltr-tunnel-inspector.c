/* nfltr-tunnel-inspector.c — one tunnel's Inspector interface (see the header) */
#define G_LOG_DOMAIN "nfltr-inspect"

#include "nfltr-tunnel-inspector.h"

#include "nfltr-error.h"
#include "nfltr-inspect-address.h"
#include "nfltr-inspect-registry.h"
#include "nfltr-inspect-replay.h"
#include "nfltr-inspect-server.h"
#include "nfltr-invocation.h"

#include <string.h>

#define NFLTR_TYPE_TUNNEL_INSPECTOR (nfltr_tunnel_inspector_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTunnelInspector, nfltr_tunnel_inspector, NFLTR, TUNNEL_INSPECTOR,
                      NfltrDbusInspectorSkeleton)

struct _NfltrTunnelInspector {
  NfltrDbusInspectorSkeleton parent_instance;

  NfltrInspectStore *store;
  GVariant *kind_config;     /* the registry's key; kept referenced so it stays unique */
  char *origin_host;
  guint16 origin_port;
  gboolean origin_tls;
  NfltrInspectServer *server;
  GCancellable *cancel;      /* replays in flight */
  gint64 signal_window;      /* the second the Exchange signals below were counted in */
  guint signals_in_window;
};

/* Exchange signals a second at most: each is a message to every client on the bus, and a
 * tunnel under load serves thousands of requests a second. List(since) has the rest. */
#define MAX_SIGNALS_PER_SECOND 50

G_DEFINE_FINAL_TYPE (NfltrTunnelInspector, nfltr_tunnel_inspector, NFLTR_DBUS_TYPE_INSPECTOR_SKELETON)

static void
exchange_added_cb (NfltrInspectStore *store, NfltrInspectExchange *ex, NfltrTunnelInspector *self)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *json = NULL;
  gint64 second = g_get_monotonic_time () / G_USEC_PER_SEC;

  nfltr_dbus_inspector_set_count (NFLTR_DBUS_INSPECTOR (self), nfltr_inspect_store_get_count (store));
  if (second != self->signal_window)
    {
      self->signal_window = second;
      self->signals_in_window = 0;
    }
  if (++self->signals_in_window > MAX_SIGNALS_PER_SECOND)
    return;
  node = nfltr_inspect_exchange_to_json (ex, FALSE);
  json = json_to_string (node, FALSE);
  nfltr_dbus_inspector_emit_exchange (NFLTR_DBUS_INSPECTOR (self), json);
}

static gboolean
handle_list (NfltrDbusInspector *object, GDBusMethodInvocation *invocation, guint64 since)
{
  NfltrTunnelInspector *self = NFLTR_TUNNEL_INSPECTOR (object);
  g_autofree char *json = nfltr_inspect_store_list_json (self->store, since);

  nfltr_dbus_inspector_complete_list (object, invocation, json);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get (NfltrDbusInspector *object, GDBusMethodInvocation *invocation, guint64 id)
{
  NfltrTunnelInspector *self = NFLTR_TUNNEL_INSPECTOR (object);
  g_autoptr(NfltrInspectExchange) ex = nfltr_inspect_store_get (self->store, id);
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *json = NULL;

  if (ex == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND,
                                             "exchange %" G_GUINT64_FORMAT " is no longer kept by the inspector", id);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  node = nfltr_inspect_exchange_to_json (ex, TRUE);
  json = json_to_string (node, FALSE);
  nfltr_dbus_inspector_complete_get (object, invocation, json);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
replay (gpointer data, guint64 id, const char *edits, gsize edits_len, GAsyncReadyCallback callback,
        gpointer user_data)
{
  NfltrTunnelInspector *self = data;

  nfltr_inspect_replay_async (self->store, id, edits, edits_len, self->origin_host, self->origin_port,
                              self->origin_tls, self->cancel, callback, user_data);
}

static void
replay_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GDBusMethodInvocation) invocation = user_data;
  g_autoptr(GError) error = NULL;
  guint64 id = nfltr_inspect_replay_finish (result, &error);

  if (error != NULL)
    nfltr_invocation_return_error (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(t)", id));
}

static gboolean
handle_replay (NfltrDbusInspector *object, GDBusMethodInvocation *invocation, guint64 id, const char *edits)
{
  replay (object, id, edits, strlen (edits), replay_cb, g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_export_har (NfltrDbusInspector *object, GDBusMethodInvocation *invocation)
{
  g_autofree char *har = nfltr_inspect_store_to_har (NFLTR_TUNNEL_INSPECTOR (object)->store);

  nfltr_dbus_inspector_complete_export_har (object, invocation, har);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
nfltr_tunnel_inspector_dispose (GObject *object)
{
  NfltrTunnelInspector *self = NFLTR_TUNNEL_INSPECTOR (object);

  g_cancellable_cancel (self->cancel);
  g_clear_pointer (&self->server, nfltr_inspect_server_free);
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  if (self->kind_config != NULL)
    nfltr_inspect_registry_remove (self->kind_config);
  g_clear_pointer (&self->kind_config, g_variant_unref);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (nfltr_tunnel_inspector_parent_class)->dispose (object);
}

static void
nfltr_tunnel_inspector_finalize (GObject *object)
{
  NfltrTunnelInspector *self = NFLTR_TUNNEL_INSPECTOR (object);

  g_clear_object (&self->cancel);
  g_free (self->origin_host);
  G_OBJECT_CLASS (nfltr_tunnel_inspector_parent_class)->finalize (object);
}

static void
nfltr_tunnel_inspector_class_init (NfltrTunnelInspectorClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = nfltr_tunnel_inspector_dispose;
  G_OBJECT_CLASS (klass)->finalize = nfltr_tunnel_inspector_finalize;
}

static void
nfltr_tunnel_inspector_init (NfltrTunnelInspector *self)
{
  self->cancel = g_cancellable_new ();
  g_signal_connect (self, "handle-list", G_CALLBACK (handle_list), NULL);
  g_signal_connect (self, "handle-get", G_CALLBACK (handle_get), NULL);
  g_signal_connect (self, "handle-replay", G_CALLBACK (handle_replay), NULL);
  g_signal_connect (self, "handle-export-har", G_CALLBACK (handle_export_har), NULL);
}

static void
detach (gpointer data)
{
  NfltrTunnelInspector *self = data;

  /* Removing the tunnel usually unexported its whole object already. */
  if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self)) != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self));
  g_object_run_dispose (G_OBJECT (self));
  g_object_unref (self);
}

void
nfltr_tunnel_inspector_attach (NfltrTunnelImpl *tunnel, NfltrDbusObjectSkeleton *object)
{
  const NfltrTunnelConfig *config = nfltr_tunnel_impl_get_config (tunnel);
  GVariant *kind_config = nfltr_tunnel_impl_get_kind_config (tunnel);
  NfltrTunnelInspector *self;
  const char *addr = NULL, *host = NULL;
  guint64 bodies = 0;
  guint16 port = 0;
  gboolean tls = FALSE;

  /* Only the http kind records exchanges (service/kinds/http/: hooks marked "inspector"). */
  if (g_strcmp0 (config->kind, "http") != 0 || kind_config == NULL)
    return;
  if (config->kind_options != NULL)
    {
      g_variant_lookup (config->kind_options, NFLTR_INSPECT_OPTION_ADDR, "&s", &addr);
      g_variant_lookup (config->kind_options, NFLTR_INSPECT_OPTION_BODIES, "t", &bodies);
    }
  g_variant_lookup (kind_config, "host", "&s", &host);
  g_variant_lookup (kind_config, "port", "q", &port);
  g_variant_lookup (kind_config, "origin-tls", "b", &tls);

  self = g_object_new (NFLTR_TYPE_TUNNEL_INSPECTOR, NULL);
  self->store = nfltr_inspect_store_new (NFLTR_INSPECT_DEFAULT_COUNT, NFLTR_INSPECT_DEFAULT_BYTES, bodies);
  self->kind_config = g_variant_ref (kind_config);
  self->origin_host = g_strdup (host != NULL ? host : "127.0.0.1");
  self->origin_port = port;
  self->origin_tls = tls;
  nfltr_dbus_inspector_set_body_cap (NFLTR_DBUS_INSPECTOR (self), bodies);
  nfltr_dbus_inspector_set_url (NFLTR_DBUS_INSPECTOR (self), "");
  g_signal_connect (self->store, "exchange-added", G_CALLBACK (exchange_added_cb), self);
  nfltr_inspect_registry_add (kind_config, self->store);

  if (addr != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *listen_host = NULL;
      guint16 listen_port = 0;

      self->server = nfltr_inspect_server_new (self->store, NFLTR_DBUS_TUNNEL (tunnel), replay,
                                               nfltr_inspect_replay_finish, self);
      /* The kind's parse() checked the address already; a taken port range fails here. */
      if (!nfltr_inspect_parse_listen_address (addr, &listen_host, &listen_port, &error) ||
          !nfltr_inspect_server_listen (self->server, listen_host, listen_port, &error))
        {
          g_message ("tunnel %s: %s", config->name, error->message);
          nfltr_dbus_inspector_set_error (NFLTR_DBUS_INSPECTOR (self), error->message);
          g_clear_pointer (&self->server, nfltr_inspect_server_free);
        }
      else
        {
          g_message ("tunnel %s: inspector on %s", config->name, nfltr_inspect_server_get_url (self->server));
          nfltr_dbus_inspector_set_url (NFLTR_DBUS_INSPECTOR (self), nfltr_inspect_server_get_url (self->server));
        }
    }
  nfltr_dbus_object_skeleton_set_inspector (object, NFLTR_DBUS_INSPECTOR (self));
  g_object_set_data_full (G_OBJECT (tunnel), "nfltr-tunnel-inspector", self, detach);
}
