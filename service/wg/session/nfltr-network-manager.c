/* nfltr-network-manager.c — the networks of this agent and networks.json
 * (nfltr-network-manager.h). */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-network-manager.h"
#include "nfltr-network.h"

#include "nfltr-dbus.h"
#include "nfltr-error.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define NETWORKS_OBJECT_PATH "/xyz/nfltr/Nfltr"
#define NETWORKS_FILE        "networks.json"
/* JoinNetwork answers when the relay gave the address, or after this long with the network
 * still "connecting" (the relay is away: the join happens when it is back). */
#define JOIN_WAIT_S          10

typedef struct _NfltrNetworksImpl NfltrNetworksImpl;

struct _NfltrNetworkManager {
  GObject parent_instance;

  NfltrSession             *session;
  char                     *config_dir;
  GDBusConnection          *connection;
  GDBusObjectManagerServer *object_manager;
  NfltrDbusNetworks        *skeleton;
  GPtrArray                *networks;   /* NfltrNetwork*, in join order */
};

G_DEFINE_FINAL_TYPE (NfltrNetworkManager, nfltr_network_manager, G_TYPE_OBJECT)

static char *
path_of (NfltrNetwork *network)
{
  return g_strdup_printf ("%s/networks/%s", NETWORKS_OBJECT_PATH, nfltr_network_get_config (network)->id);
}

/* ---- networks.json ----------------------------------------------------------------------- */

static void
add_member (JsonBuilder *b, const char *name, const char *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
save (NfltrNetworkManager *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *path = g_build_filename (self->config_dir, NETWORKS_FILE, NULL);
  g_autoptr(GError) error = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "networks");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->networks->len; i++)
    {
      const NfltrNetworkConfig *c = nfltr_network_get_config (self->networks->pdata[i]);

      json_builder_begin_object (b);
      add_member (b, "id", c->id);
      add_member (b, "name", c->name);
      add_member (b, "role", c->role);
      add_member (b, "private-key", c->private_key);
      add_member (b, "allow", c->allow);
      add_member (b, "listen", c->listen);
      add_member (b, "username", c->username);
      add_member (b, "password", c->password);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  if (g_mkdir_with_parents (self->config_dir, 0700) != 0 ||
      !g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_warning ("cannot save %s: %s", path, error ? error->message : g_strerror (errno));
}

static char *
member_string (JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

/* NfltrNetworkConfig*; a damaged file is logged and read as no networks. */
static GPtrArray *
load (const char *config_dir)
{
  g_autofree char *path = g_build_filename (config_dir, NETWORKS_FILE, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  GPtrArray *configs = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_network_config_free);
  JsonNode *root;
  JsonNode *list;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return configs;
  if (!json_parser_load_from_file (parser, path, &error))
    {
      g_warning ("%s: %s", path, error->message);
      return configs;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (list = json_object_get_member (json_node_get_object (root), "networks")) == NULL ||
      !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_warning ("%s: no \"networks\" array", path);
      return configs;
    }
  for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
    {
      JsonNode *item = json_array_get_element (json_node_get_array (list), i);
      g_autoptr(NfltrNetworkConfig) c = NULL;
      JsonObject *o;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        continue;
      o = json_node_get_object (item);
      c = g_new0 (NfltrNetworkConfig, 1);
      c->id = member_string (o, "id");
      c->name = member_string (o, "name");
      c->role = member_string (o, "role");
      c->private_key = member_string (o, "private-key");
      c->allow = member_string (o, "allow");
      c->listen = member_string (o, "listen");
      c->username = member_string (o, "username");
      c->password = member_string (o, "password");
      /* The id becomes an object path element: hex only. */
      if (c->id == NULL || c->name == NULL || c->role == NULL || c->private_key == NULL || c->id[0] == '\0' ||
          strspn (c->id, "0123456789abcdef") != strlen (c->id))
        {
          g_warning ("%s: network %u is incomplete, skipped", path, i);
          continue;
        }
      g_ptr_array_add (configs, g_steal_pointer (&c));
    }
  return configs;
}

/* ---- networks ---------------------------------------------------------------------------- */

static void network_leave_cb (NfltrNetwork *network, NfltrNetworkManager *self);

static void
remove_network (NfltrNetworkManager *self, NfltrNetwork *network)
{
  g_autofree char *path = path_of (network);

  g_signal_handlers_disconnect_by_data (network, self);
  g_dbus_object_manager_server_unexport (self->object_manager, path);
  nfltr_network_shutdown (network);
  g_ptr_array_remove (self->networks, network);
  save (self);
}

static void
network_leave_cb (NfltrNetwork *network, NfltrNetworkManager *self)
{
  g_message ("network %s: left", nfltr_network_get_config (network)->name);
  remove_network (self, network);
}

static NfltrNetwork *
add_network (NfltrNetworkManager *self, const NfltrNetworkConfig *config, GError **error)
{
  g_autoptr(NfltrNetwork) network = nfltr_network_new (self->session, config, error);
  g_autoptr(NfltrDbusObjectSkeleton) object = NULL;
  g_autofree char *path = NULL;

  if (network == NULL)
    return NULL;
  path = path_of (network);
  object = nfltr_dbus_object_skeleton_new (path);
  nfltr_dbus_object_skeleton_set_network (object, NFLTR_DBUS_NETWORK (network));
  g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  g_ptr_array_add (self->networks, g_object_ref (network));
  g_signal_connect (network, "leave", G_CALLBACK (network_leave_cb), self);
  nfltr_network_start (network);
  return network;
}

static NfltrNetwork *
find_by_name (NfltrNetworkManager *self, const char *name)
{
  for (guint i = 0; i < self->networks->len; i++)
    if (g_str_equal (nfltr_network_get_config (self->networks->pdata[i])->name, name))
      return self->networks->pdata[i];
  return NULL;
}

/* ---- JoinNetwork ------------------------------------------------------------------------- */

typedef struct {
  NfltrNetworkManager   *self;
  NfltrNetwork          *network;
  GDBusMethodInvocation *invocation;
  guint                  timeout_id;
  gboolean               fresh;   /* made by this call: forgotten again if the relay refuses */
} Joining;

static void
joining_finish (Joining *j, const char *failure)
{
  g_signal_handlers_disconnect_by_data (j->network, j);
  g_clear_handle_id (&j->timeout_id, g_source_remove);
  if (failure != NULL)
    {
      g_dbus_method_invocation_return_error_literal (j->invocation, NFLTR_ERROR, NFLTR_ERROR_FAILED, failure);
      if (j->fresh)
        remove_network (j->self, j->network);
    }
  else
    {
      g_autofree char *path = path_of (j->network);

      g_dbus_method_invocation_return_value (j->invocation, g_variant_new ("(o)", path));
    }
  g_object_unref (j->network);
  g_object_unref (j->self);
  g_free (j);
}

static void
joining_joined_cb (NfltrNetwork *network, Joining *j)
{
  joining_finish (j, NULL);
}

static void
joining_failed_cb (NfltrNetwork *network, const char *message, Joining *j)
{
  joining_finish (j, message);
}

static gboolean
joining_timeout_cb (gpointer user_data)
{
  Joining *j = user_data;

  j->timeout_id = 0;
  joining_finish (j, NULL);
  return G_SOURCE_REMOVE;
}

static char *
lookup_string (GVariantDict *dict, const char *key)
{
  const char *value = NULL;

  if (!g_variant_dict_lookup (dict, key, "&s", &value) || value[0] == '\0')
    return NULL;
  return g_strdup (value);
}

static gboolean
handle_join_network (NfltrDbusNetworks     *skeleton,
                     GDBusMethodInvocation *invocation,
                     GVariant              *options,
                     NfltrNetworkManager   *self)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (options);
  g_autoptr(NfltrNetworkConfig) config = g_new0 (NfltrNetworkConfig, 1);
  g_autoptr(GError) error = NULL;
  NfltrNetwork *network;
  Joining *j;
  gboolean fresh = FALSE;

  config->name = lookup_string (&dict, "name");
  config->role = lookup_string (&dict, "role");
  config->allow = lookup_string (&dict, "allow");
  config->listen = lookup_string (&dict, "listen");
  config->username = lookup_string (&dict, "username");
  config->password = lookup_string (&dict, "password");
  if (config->name == NULL || config->role == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "JoinNetwork needs a name and a role");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (!nfltr_session_check_logged_in (self->session, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  network = find_by_name (self, config->name);
  if (network != NULL && !g_str_equal (nfltr_network_get_config (network)->role, config->role))
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "this agent is already in “%s” as %s (nfltr wg leave %s first)",
                                             config->name, nfltr_network_get_config (network)->role, config->name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (network == NULL)
    {
      guint8 id[8];

      for (guint i = 0; i < sizeof id; i++)
        id[i] = (guint8) g_random_int_range (0, 256);
      config->id = g_strdup_printf ("%02x%02x%02x%02x%02x%02x%02x%02x", id[0], id[1], id[2], id[3], id[4], id[5],
                                    id[6], id[7]);
      network = add_network (self, config, &error);
      if (network == NULL)
        {
          g_dbus_method_invocation_return_gerror (invocation, error);
          return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
      save (self);
      fresh = TRUE;
    }
  if (g_str_equal (nfltr_dbus_network_get_state (NFLTR_DBUS_NETWORK (network)), "online"))
    {
      g_autofree char *path = path_of (network);

      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", path));
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  j = g_new0 (Joining, 1);
  j->self = g_object_ref (self);
  j->network = g_object_ref (network);
  j->invocation = invocation;
  j->fresh = fresh;
  g_signal_connect (network, "joined", G_CALLBACK (joining_joined_cb), j);
  g_signal_connect (network, "failed", G_CALLBACK (joining_failed_cb), j);
  j->timeout_id = g_timeout_add_seconds (JOIN_WAIT_S, joining_timeout_cb, j);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_networks (NfltrDbusNetworks     *skeleton,
                      GDBusMethodInvocation *invocation,
                      NfltrNetworkManager   *self)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < self->networks->len; i++)
    g_ptr_array_add (paths, path_of (self->networks->pdata[i]));
  g_ptr_array_add (paths, NULL);
  nfltr_dbus_networks_complete_list_networks (skeleton, invocation, (const char * const *) paths->pdata);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- life -------------------------------------------------------------------------------- */

NfltrNetworkManager *
nfltr_network_manager_new (NfltrSession *session, const char *config_dir, GDBusConnection *connection,
                           GDBusObjectManagerServer *object_manager, GError **error)
{
  g_autoptr(NfltrNetworkManager) self = g_object_new (NFLTR_TYPE_NETWORK_MANAGER, NULL);
  g_autoptr(GPtrArray) configs = NULL;

  self->session = g_object_ref (session);
  self->config_dir = g_strdup (config_dir);
  self->connection = g_object_ref (connection);
  self->object_manager = g_object_ref (object_manager);
  self->skeleton = nfltr_dbus_networks_skeleton_new ();
  g_signal_connect (self->skeleton, "handle-join-network", G_CALLBACK (handle_join_network), self);
  g_signal_connect (self->skeleton, "handle-list-networks", G_CALLBACK (handle_list_networks), self);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton), connection,
                                         NETWORKS_OBJECT_PATH, error))
    return NULL;
  configs = load (config_dir);
  for (guint i = 0; i < configs->len; i++)
    {
      g_autoptr(GError) local = NULL;

      if (add_network (self, configs->pdata[i], &local) == NULL)
        g_warning ("networks.json: %s", local->message);
    }
  return g_steal_pointer (&self);
}

void
nfltr_network_manager_shutdown (NfltrNetworkManager *self)
{
  for (guint i = 0; i < self->networks->len; i++)
    {
      g_signal_handlers_disconnect_by_data (self->networks->pdata[i], self);
      nfltr_network_shutdown (self->networks->pdata[i]);
    }
  if (self->skeleton != NULL && self->connection != NULL &&
      g_dbus_interface_skeleton_has_connection (G_DBUS_INTERFACE_SKELETON (self->skeleton), self->connection))
    g_dbus_interface_skeleton_unexport_from_connection (G_DBUS_INTERFACE_SKELETON (self->skeleton),
                                                        self->connection);
}

static void
nfltr_network_manager_dispose (GObject *object)
{
  NfltrNetworkManager *self = NFLTR_NETWORK_MANAGER (object);

  if (self->networks != NULL)
    nfltr_network_manager_shutdown (self);
  g_clear_pointer (&self->networks, g_ptr_array_unref);
  g_clear_object (&self->skeleton);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->connection);
  g_clear_object (&self->session);
  g_clear_pointer (&self->config_dir, g_free);
  G_OBJECT_CLASS (nfltr_network_manager_parent_class)->dispose (object);
}

static void
nfltr_network_manager_class_init (NfltrNetworkManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = nfltr_network_manager_dispose;
}

static void
nfltr_network_manager_init (NfltrNetworkManager *self)
{
  self->networks = g_ptr_array_new_with_free_func (g_object_unref);
}
