/* nfltr-client.c — finds (or starts) nfltr-service and mirrors its objects.
 *
 * The steps, each asynchronous so a slow or absent service never blocks the window:
 *   1. the bus and 2. the service on it (NameHasOwner, D-Bus activation, else nfltr-service
 *      started by us): libshared's nfltr-service-locator, as for the CLI;
 *   3. the Manager proxy (its properties load asynchronously) and the object manager client,
 *      whose Tunnel objects become a GListModel in creation order. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-client.h"
#include "nfltr-error.h"
#include "nfltr-service-locator.h"

/* How long we wait for a service we started to take its bus name (docs/app.md). */
#define SERVICE_APPEAR_TIMEOUT_SECONDS 10

struct _NfltrClient
{
  GObject parent_instance;

  GCancellable *cancellable;
  GDBusConnection *connection;
  NfltrDbusManager *manager;
  GDBusObjectManager *object_manager;
  GListStore *tunnels;
  GHashTable *order; /* object path → position in Manager.ListTunnels (creation order) */
  NfltrClientState state;
  char *error;
};

enum {
  PROP_0,
  PROP_STATE,
  PROP_MANAGER,
  N_PROPS
};

enum {
  TUNNEL_FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NfltrClient, nfltr_client, G_TYPE_OBJECT)

static void
nfltr_client_set_state (NfltrClient      *self,
                        NfltrClientState  state,
                        const char       *error)
{
  g_free (self->error);
  self->error = g_strdup (error);
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
nfltr_client_fail (NfltrClient *self,
                   const char  *what,
                   GError      *error)
{
  g_autofree char *message = NULL;

  if (error && g_dbus_error_is_remote_error (error))
    g_dbus_error_strip_remote_error (error);
  message = error ? g_strdup_printf ("%s: %s", what, error->message) : g_strdup (what);
  g_debug ("%s", message);
  nfltr_client_set_state (self, NFLTR_CLIENT_STATE_FAILED, message);
}

static gboolean
tunnel_in_store (NfltrClient     *self,
                 NfltrDbusTunnel *tunnel,
                 guint           *position)
{
  return g_list_store_find (self->tunnels, tunnel, position);
}

/* Rows keep the service's creation order (Manager.ListTunnels); a tunnel the list has not
 * named yet goes last, so rows never jump when one is added. */
static int
compare_tunnels (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  NfltrClient *self = user_data;
  const char *pa = g_dbus_proxy_get_object_path (G_DBUS_PROXY (a));
  const char *pb = g_dbus_proxy_get_object_path (G_DBUS_PROXY (b));
  gpointer ia = NULL, ib = NULL;
  gboolean ha = g_hash_table_lookup_extended (self->order, pa, NULL, &ia);
  gboolean hb = g_hash_table_lookup_extended (self->order, pb, NULL, &ib);

  if (ha != hb)
    return ha ? -1 : 1;
  if (ha && ia != ib)
    return GPOINTER_TO_INT (ia) < GPOINTER_TO_INT (ib) ? -1 : 1;
  return strcmp (pa, pb);
}

static void
on_object_added (GDBusObjectManager *manager,
                 GDBusObject        *object,
                 NfltrClient        *self)
{
  g_autoptr(NfltrDbusTunnel) tunnel = nfltr_dbus_object_get_tunnel (NFLTR_DBUS_OBJECT (object));

  if (tunnel == NULL || tunnel_in_store (self, tunnel, NULL))
    return;
  g_debug ("tunnel added: %s", g_dbus_object_get_object_path (object));
  g_list_store_insert_sorted (self->tunnels, tunnel, compare_tunnels, self);
}

static void
on_object_removed (GDBusObjectManager *manager,
                   GDBusObject        *object,
                   NfltrClient        *self)
{
  g_autoptr(NfltrDbusTunnel) tunnel = nfltr_dbus_object_get_tunnel (NFLTR_DBUS_OBJECT (object));
  guint position;

  if (tunnel != NULL && tunnel_in_store (self, tunnel, &position))
    g_list_store_remove (self->tunnels, position);
}

static void
on_interface_added (GDBusObjectManager *manager,
                    GDBusObject        *object,
                    GDBusInterface     *interface,
                    NfltrClient        *self)
{
  on_object_added (manager, object, self);
}

static void
on_tunnel_failed (NfltrDbusManager *manager,
                  const char       *path,
                  const char       *message,
                  NfltrClient      *self)
{
  NfltrDbusTunnel *tunnel = nfltr_client_find_tunnel (self, path);

  g_signal_emit (self, signals[TUNNEL_FAILED], 0, tunnel, message);
}

static void
list_tunnels_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(NfltrClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) paths = NULL;

  if (!nfltr_dbus_manager_call_list_tunnels_finish (NFLTR_DBUS_MANAGER (source), &paths, result, &error))
    {
      g_debug ("ListTunnels: %s", error->message);
      return;
    }
  g_hash_table_remove_all (self->order);
  for (guint i = 0; paths[i] != NULL; i++)
    g_hash_table_insert (self->order, g_strdup (paths[i]), GINT_TO_POINTER (i));
  g_list_store_sort (self->tunnels, compare_tunnels, self);
}

static void
object_manager_ready_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(NfltrClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autolist(GDBusObject) objects = NULL;
  GDBusObjectManager *om;

  om = nfltr_dbus_object_manager_client_new_finish (result, &error);
  if (om == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        nfltr_client_fail (self, _("Could not list the service’s tunnels"), error);
      return;
    }
  self->object_manager = om;
  g_signal_connect_object (om, "object-added", G_CALLBACK (on_object_added), self, 0);
  g_signal_connect_object (om, "object-removed", G_CALLBACK (on_object_removed), self, 0);
  g_signal_connect_object (om, "interface-added", G_CALLBACK (on_interface_added), self, 0);

  objects = g_dbus_object_manager_get_objects (om);
  for (GList *l = objects; l; l = l->next)
    on_object_added (om, l->data, self);

  g_debug ("ready with %u tunnels", g_list_model_get_n_items (G_LIST_MODEL (self->tunnels)));
  nfltr_client_set_state (self, NFLTR_CLIENT_STATE_READY, NULL);

  /* The object manager's order is a hash table's; ask for creation order (rows are already
   * shown, sorted by path meanwhile, and re-sort once the answer comes). */
  if (g_list_model_get_n_items (G_LIST_MODEL (self->tunnels)) > 1)
    nfltr_dbus_manager_call_list_tunnels (self->manager, self->cancellable,
                                          list_tunnels_cb, g_object_ref (self));
}

static void
manager_proxy_ready_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(NfltrClient) self = user_data;
  g_autoptr(GError) error = NULL;
  NfltrDbusManager *manager;

  manager = nfltr_dbus_manager_proxy_new_finish (result, &error);
  if (manager == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        nfltr_client_fail (self, _("Could not reach the NFLTR service"), error);
      return;
    }
  /* The generated proxy's default timeout is D-Bus's 25 s; Login and CreateTunnel talk to the
   * relay before they answer, so give them the service's own time to give up instead. */
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (manager), 60 * 1000);
  self->manager = manager;
  g_signal_connect_object (manager, "tunnel-failed", G_CALLBACK (on_tunnel_failed), self, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MANAGER]);

  nfltr_dbus_object_manager_client_new (self->connection,
                                        G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE,
                                        NFLTR_SERVICE_BUS_NAME,
                                        NFLTR_SERVICE_OBJECT_PATH,
                                        self->cancellable,
                                        object_manager_ready_cb,
                                        g_object_ref (self));
}

static void
ensure_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(NfltrClient) self = user_data;
  g_autoptr(GError) error = NULL;
  const char *what;

  if (!nfltr_service_locator_ensure_finish (result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      /* The headline in the user's language; the locator's message is the detail. */
      if (g_error_matches (error, NFLTR_SERVICE_LOCATOR_ERROR, NFLTR_SERVICE_LOCATOR_ERROR_BUS))
        what = _("Could not talk to the message bus");
      else if (g_error_matches (error, NFLTR_SERVICE_LOCATOR_ERROR,
                                NFLTR_SERVICE_LOCATOR_ERROR_NOT_FOUND))
        what = _("The NFLTR service is not installed");
      else if (g_error_matches (error, NFLTR_SERVICE_LOCATOR_ERROR,
                                NFLTR_SERVICE_LOCATOR_ERROR_SPAWN))
        what = _("Could not start the NFLTR service");
      else
        what = _("The NFLTR service did not start");
      nfltr_client_fail (self, what, error);
      return;
    }
  nfltr_dbus_manager_proxy_new (self->connection,
                                G_DBUS_PROXY_FLAGS_NONE,
                                NFLTR_SERVICE_BUS_NAME,
                                NFLTR_SERVICE_OBJECT_PATH,
                                self->cancellable,
                                manager_proxy_ready_cb,
                                g_object_ref (self));
}

static void
bus_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(NfltrClient) self = user_data;
  g_autoptr(GError) error = NULL;

  self->connection = nfltr_service_locator_get_bus_finish (result, &error);
  if (self->connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      nfltr_client_fail (self,
                         nfltr_service_locator_get_bus_address () != NULL
                           ? _("Could not connect to the service’s bus")
                           : _("Could not connect to the session bus"),
                         error);
      return;
    }
  nfltr_service_locator_ensure (self->connection, SERVICE_APPEAR_TIMEOUT_SECONDS,
                                self->cancellable, ensure_cb, g_object_ref (self));
}

void
nfltr_client_connect (NfltrClient *self)
{
  g_return_if_fail (NFLTR_IS_CLIENT (self));

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->manager);
  g_clear_object (&self->connection);
  g_list_store_remove_all (self->tunnels);
  self->cancellable = g_cancellable_new ();

  /* Register our error domain before any reply arrives, so remote errors map back to it. */
  (void) nfltr_error_quark ();

  nfltr_client_set_state (self, NFLTR_CLIENT_STATE_CONNECTING, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MANAGER]);

  nfltr_service_locator_get_bus (self->cancellable, bus_cb, g_object_ref (self));
}

NfltrClientState
nfltr_client_get_state (NfltrClient *self)
{
  g_return_val_if_fail (NFLTR_IS_CLIENT (self), NFLTR_CLIENT_STATE_FAILED);
  return self->state;
}

const char *
nfltr_client_get_error (NfltrClient *self)
{
  g_return_val_if_fail (NFLTR_IS_CLIENT (self), NULL);
  return self->error;
}

NfltrDbusManager *
nfltr_client_get_manager (NfltrClient *self)
{
  g_return_val_if_fail (NFLTR_IS_CLIENT (self), NULL);
  return self->manager;
}

GListModel *
nfltr_client_get_tunnels (NfltrClient *self)
{
  g_return_val_if_fail (NFLTR_IS_CLIENT (self), NULL);
  return G_LIST_MODEL (self->tunnels);
}

NfltrDbusTunnel *
nfltr_client_find_tunnel (NfltrClient *self,
                          const char  *id_or_path)
{
  guint n;

  g_return_val_if_fail (NFLTR_IS_CLIENT (self), NULL);
  if (id_or_path == NULL)
    return NULL;

  n = g_list_model_get_n_items (G_LIST_MODEL (self->tunnels));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NfltrDbusTunnel) tunnel = g_list_model_get_item (G_LIST_MODEL (self->tunnels), i);
      const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (tunnel));

      if (g_strcmp0 (path, id_or_path) == 0 ||
          g_strcmp0 (nfltr_dbus_tunnel_get_id (tunnel), id_or_path) == 0 ||
          g_strcmp0 (nfltr_dbus_tunnel_get_name (tunnel), id_or_path) == 0)
        return tunnel;
    }
  return NULL;
}

static void
nfltr_client_dispose (GObject *object)
{
  NfltrClient *self = NFLTR_CLIENT (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->manager);
  g_clear_object (&self->connection);
  g_clear_object (&self->tunnels);

  G_OBJECT_CLASS (nfltr_client_parent_class)->dispose (object);
}

static void
nfltr_client_finalize (GObject *object)
{
  NfltrClient *self = NFLTR_CLIENT (object);

  g_free (self->error);
  g_hash_table_unref (self->order);

  G_OBJECT_CLASS (nfltr_client_parent_class)->finalize (object);
}

static void
nfltr_client_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  NfltrClient *self = NFLTR_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_MANAGER:
      g_value_set_object (value, self->manager);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nfltr_client_class_init (NfltrClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_client_dispose;
  object_class->finalize = nfltr_client_finalize;
  object_class->get_property = nfltr_client_get_property;

  properties[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL,
                      NFLTR_CLIENT_STATE_CONNECTING, NFLTR_CLIENT_STATE_FAILED,
                      NFLTR_CLIENT_STATE_CONNECTING,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MANAGER] =
    g_param_spec_object ("manager", NULL, NULL, NFLTR_DBUS_TYPE_MANAGER,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The tunnel may be NULL when the service reports a tunnel we have not seen yet. */
  signals[TUNNEL_FAILED] =
    g_signal_new ("tunnel-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, NFLTR_DBUS_TYPE_TUNNEL, G_TYPE_STRING);
}

static void
nfltr_client_init (NfltrClient *self)
{
  self->tunnels = g_list_store_new (NFLTR_DBUS_TYPE_TUNNEL);
  self->order = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

NfltrClient *
nfltr_client_new (void)
{
  return g_object_new (NFLTR_TYPE_CLIENT, NULL);
}
