/* nfltr-engine.c — the engine library's entry points */
#define G_LOG_DOMAIN "nfltr-engine"

#include "nfltr-engine.h"

#include "nfltr-error.h"
#include "nfltr-manager-impl.h"
#ifdef NFLTR_HAVE_WG_SESSION
#include "nfltr-network-manager.h"
#endif

struct _NfltrEngine {
  GObject parent_instance;

  NfltrManagerImpl *manager;
  GDBusObjectManagerServer *object_manager;
  GDBusConnection *connection;
  char *config_dir;
#ifdef NFLTR_HAVE_WG_SESSION
  NfltrNetworkManager *networks;   /* the WireGuard track (service/wg/session/) */
#endif
};

G_DEFINE_FINAL_TYPE (NfltrEngine, nfltr_engine, G_TYPE_OBJECT)

/* The environment at call time, not GLib's cached g_get_user_*_dir(): tests and the CLI
 * may point XDG_* elsewhere after GLib first looked. */
static char *
xdg_dir (const char *variable, const char *fallback)
{
  const char *value = g_getenv (variable);
  const char *home = g_getenv ("HOME");

  if (value != NULL && g_path_is_absolute (value))
    return g_build_filename (value, "nfltr", NULL);
  return g_build_filename (home ? home : g_get_home_dir (), fallback, "nfltr", NULL);
}

NfltrEngine *
nfltr_engine_new (GError **error)
{
  g_autoptr(NfltrEngine) self = g_object_new (NFLTR_TYPE_ENGINE, NULL);
  g_autofree char *config_dir = xdg_dir ("XDG_CONFIG_HOME", ".config");
  g_autofree char *data_dir = xdg_dir ("XDG_DATA_HOME", ".local/share");

  /* Register the error domain before any error can cross the bus. */
  (void) NFLTR_ERROR;

  self->manager = nfltr_manager_impl_new (config_dir, data_dir, error);
  if (self->manager == NULL)
    return NULL;
  g_debug ("config in %s, data in %s", config_dir, data_dir);
  self->config_dir = g_strdup (config_dir);
  return g_steal_pointer (&self);
}

gboolean
nfltr_engine_export (NfltrEngine      *self,
                     GDBusConnection  *connection,
                     GError          **error)
{
  g_return_val_if_fail (NFLTR_IS_ENGINE (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);
  g_return_val_if_fail (self->connection == NULL, FALSE);

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->manager), connection,
                                         NFLTR_SERVICE_OBJECT_PATH, error))
    return FALSE;
  self->connection = g_object_ref (connection);
  self->object_manager = g_dbus_object_manager_server_new (NFLTR_SERVICE_OBJECT_PATH);
  g_dbus_object_manager_server_set_connection (self->object_manager, connection);
  nfltr_manager_impl_start (self->manager, self->object_manager);
#ifdef NFLTR_HAVE_WG_SESSION
  self->networks = nfltr_network_manager_new (nfltr_manager_impl_get_session (self->manager), self->config_dir,
                                              connection, self->object_manager, error);
  if (self->networks == NULL)
    return FALSE;
#endif
  return TRUE;
}

void
nfltr_engine_shutdown (NfltrEngine *self)
{
  g_return_if_fail (NFLTR_IS_ENGINE (self));

#ifdef NFLTR_HAVE_WG_SESSION
  if (self->networks)
    nfltr_network_manager_shutdown (self->networks);
#endif
  if (self->manager)
    nfltr_manager_impl_shutdown (self->manager);
  if (self->object_manager)
    g_dbus_object_manager_server_set_connection (self->object_manager, NULL);
  if (self->connection && self->manager &&
      g_dbus_interface_skeleton_has_connection (G_DBUS_INTERFACE_SKELETON (self->manager), self->connection))
    g_dbus_interface_skeleton_unexport_from_connection (G_DBUS_INTERFACE_SKELETON (self->manager),
                                                        self->connection);
  g_clear_object (&self->connection);
}

static void
nfltr_engine_dispose (GObject *object)
{
  NfltrEngine *self = NFLTR_ENGINE (object);

  nfltr_engine_shutdown (self);
  g_clear_object (&self->object_manager);
#ifdef NFLTR_HAVE_WG_SESSION
  g_clear_object (&self->networks);
#endif
  g_clear_object (&self->manager);
  g_clear_pointer (&self->config_dir, g_free);

  G_OBJECT_CLASS (nfltr_engine_parent_class)->dispose (object);
}

static void
nfltr_engine_class_init (NfltrEngineClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = nfltr_engine_dispose;
}

static void
nfltr_engine_init (NfltrEngine *self)
{
}
