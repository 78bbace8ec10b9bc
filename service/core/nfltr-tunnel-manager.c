/* nfltr-tunnel-manager.c — the tunnel set: create, restore, start/stop/remove, owners, names */
#define G_LOG_DOMAIN "nfltr-manager"

#include "nfltr-tunnel-manager.h"
#include "nfltr-tunnel-inspector.h" /* issue 9 §8 */
#include "nfltr-tunnel-proof.h"

#include <string.h>

#include "nfltr-error.h"
#include "nfltr-invocation.h"
#include "nfltr-proto.h"
#include "nfltr-random-name.h"
#include "nfltr-resolve.h"
#include "nfltr-state.h"
#include "nfltr-tunnel-impl.h"
#include "nfltr-tunnel-kind.h"

#define TUNNELS_PATH NFLTR_SERVICE_OBJECT_PATH "/tunnels/"

struct _NfltrTunnelManager {
  GObject parent_instance;

  NfltrSession *session;
  char *config_dir;
  char *certs_dir;

  GDBusObjectManagerServer *object_manager;
  GPtrArray *tunnels;           /* NfltrTunnelImpl*, creation order */
  GPtrArray *unrestored;        /* NfltrTunnelConfig* from tunnels.json that failed to load:
                                 * kept in the file so a passing fault loses nothing */
  GHashTable *owner_watches;    /* unique name -> watch id, for transient tunnels */
  GHashTable *pending_names;    /* names of tunnels being created */
  GQueue deferred;              /* Deferred*: calls that came while the session was restoring */
};

G_DEFINE_FINAL_TYPE (NfltrTunnelManager, nfltr_tunnel_manager, G_TYPE_OBJECT)

enum {
  SIGNAL_TUNNEL_FAILED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static NfltrTunnelImpl *
find_tunnel (NfltrTunnelManager *self, const char *name)
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
save_tunnels (NfltrTunnelManager *self)
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
emit_failed (NfltrTunnelManager *self, NfltrTunnelImpl *t, const char *message)
{
  g_autofree char *path = tunnel_path (t);

  g_message ("tunnel %s failed: %s", nfltr_tunnel_impl_get_name (t), message);
  g_signal_emit (self, signals[SIGNAL_TUNNEL_FAILED], 0, path, message);
}

/* --- the binder's and the link's events ------------------------------------------------ */

static void
link_state_changed_cb (NfltrSession       *session,
                       NfltrTunnelManager *self)
{
  NfltrRelayLink *link = nfltr_session_get_link (session);

  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      gboolean was_failed = nfltr_tunnel_impl_get_state (t) == NFLTR_TUNNEL_FAILED;

      nfltr_tunnel_impl_link_changed (t, link);
      if (!was_failed && nfltr_tunnel_impl_get_state (t) == NFLTR_TUNNEL_FAILED)
        emit_failed (self, t, nfltr_dbus_tunnel_get_last_error (NFLTR_DBUS_TUNNEL (t)));
    }
}

static void
binder_bound_cb (NfltrTunnelBinder  *binder,
                 const char         *name,
                 const char         *host,
                 const char         *url,
                 NfltrTunnelManager *self)
{
  NfltrTunnelImpl *t = find_tunnel (self, name);

  if (t != NULL)
    nfltr_tunnel_impl_bound (t, host, url);
  else
    nfltr_tunnel_binder_unbind (binder, name);
}

static void
binder_bind_failed_cb (NfltrTunnelBinder  *binder,
                       const char         *name,
                       const GError       *error,
                       NfltrTunnelManager *self)
{
  NfltrTunnelImpl *t = find_tunnel (self, name);

  if (t == NULL)
    return;
  nfltr_tunnel_impl_failed (t, error);
  emit_failed (self, t, error->message);
}

static void
binder_conn_open_cb (NfltrTunnelBinder  *binder,
                     const char         *name,
                     GBytes             *conn_id,
                     const char         *client_addr,
                     NfltrTunnelManager *self)
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
start_tunnel_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(NfltrTunnelManager) self = user_data;
  NfltrTunnelImpl *t = NFLTR_TUNNEL_IMPL (source);
  g_autoptr(GError) error = NULL;

  if (!nfltr_tunnel_impl_start_finish (t, result, &error) &&
      nfltr_tunnel_impl_get_state (t) == NFLTR_TUNNEL_FAILED &&
      !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN) &&
      !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT) &&
      !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_LIMIT))
    /* Refusals are announced by bind-failed; this covers the link's own failures. */
    emit_failed (self, t, error->message);
}

/* The session has a new link: follow its binder and bind every tunnel that should be up. */
static void
link_adopted_cb (NfltrSession       *session,
                 NfltrTunnelManager *self)
{
  NfltrTunnelBinder *binder = nfltr_session_get_binder (session);

  /* The binder goes when the session drops its link, and its handlers with it. */
  g_signal_connect_object (binder, "bound", G_CALLBACK (binder_bound_cb), self, 0);
  g_signal_connect_object (binder, "bind-failed", G_CALLBACK (binder_bind_failed_cb), self, 0);
  g_signal_connect_object (binder, "conn-open", G_CALLBACK (binder_conn_open_cb), self, 0);

  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      if (nfltr_tunnel_impl_get_config (t)->enabled)
        nfltr_tunnel_impl_start_async (t, binder, start_tunnel_cb, g_object_ref (self));
    }
}

/* --- tunnels --------------------------------------------------------------------------- */

static gboolean handle_tunnel_start (NfltrDbusTunnel *object, GDBusMethodInvocation *invocation, NfltrTunnelManager *self);
static gboolean handle_tunnel_stop (NfltrDbusTunnel *object, GDBusMethodInvocation *invocation, NfltrTunnelManager *self);
static gboolean handle_tunnel_remove (NfltrDbusTunnel *object, GDBusMethodInvocation *invocation, NfltrTunnelManager *self);

static void
add_tunnel (NfltrTunnelManager *self, NfltrTunnelImpl *t)
{
  g_autofree char *path = tunnel_path (t);
  g_autoptr(NfltrDbusObjectSkeleton) object = nfltr_dbus_object_skeleton_new (path);

  g_signal_connect (t, "handle-start", G_CALLBACK (handle_tunnel_start), self);
  g_signal_connect (t, "handle-stop", G_CALLBACK (handle_tunnel_stop), self);
  g_signal_connect (t, "handle-remove", G_CALLBACK (handle_tunnel_remove), self);
  nfltr_tunnel_proof_attach (t, self->session);  /* issue 11: ProofResult, GetProofBundle */
  nfltr_dbus_object_skeleton_set_tunnel (object, NFLTR_DBUS_TUNNEL (t));
  nfltr_tunnel_inspector_attach (t, object);     /* issue 9 §8: the request inspector */
  g_ptr_array_add (self->tunnels, g_object_ref (t));
  if (self->object_manager)
    g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
}

static void owner_vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data);

static void
unwatch_owner_if_unused (NfltrTunnelManager *self, const char *owner)
{
  if (owner == NULL)
    return;
  for (guint i = 0; i < self->tunnels->len; i++)
    if (g_strcmp0 (nfltr_tunnel_impl_get_owner (g_ptr_array_index (self->tunnels, i)), owner) == 0)
      return;
  g_hash_table_remove (self->owner_watches, owner);
}

static void
remove_tunnel (NfltrTunnelManager *self, NfltrTunnelImpl *t)
{
  G_GNUC_UNUSED g_autoptr(NfltrTunnelImpl) hold = g_object_ref (t);
  g_autofree char *path = tunnel_path (t);
  g_autofree char *owner = g_strdup (nfltr_tunnel_impl_get_owner (t));
  gboolean transient = nfltr_dbus_tunnel_get_transient (NFLTR_DBUS_TUNNEL (t));

  if (!g_ptr_array_remove (self->tunnels, t))
    return;
  g_signal_handlers_disconnect_by_data (t, self);
  nfltr_tunnel_impl_stop (t, nfltr_session_get_binder (self->session));
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
  NfltrTunnelManager *self = user_data;
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
watch_owner (NfltrTunnelManager *self, GDBusConnection *connection, const char *owner)
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

/* --- calls that wait for the saved key ------------------------------------------------- */

/* At start the saved relay's key is looked up asynchronously — in a keyring that can take a
 * moment. A CreateTunnel or Start arriving then (the CLI that just spawned the service) is
 * held and answered once the lookup ends, rather than told "not logged in". */
typedef struct {
  GObject *object;                   /* the Manager or Tunnel skeleton the call came to */
  GDBusMethodInvocation *invocation; /* owned as a handler owns it: whoever answers it */
} Deferred;

static gboolean handle_tunnel_start (NfltrDbusTunnel       *object,
                                     GDBusMethodInvocation *invocation,
                                     NfltrTunnelManager    *self);

static gboolean
defer_while_restoring (NfltrTunnelManager *self, gpointer object, GDBusMethodInvocation *invocation)
{
  Deferred *d;

  if (!nfltr_session_is_restoring (self->session))
    return FALSE;
  d = g_new0 (Deferred, 1);
  d->object = g_object_ref (object);
  d->invocation = invocation;
  g_queue_push_tail (&self->deferred, d);
  return TRUE;
}

/* At shutdown: the caller gets an answer rather than a timeout. */
static void
deferred_cancel (Deferred *d)
{
  g_dbus_method_invocation_return_error_literal (d->invocation, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                                                 "the service is shutting down");
  g_object_unref (d->object);
  g_free (d);
}

static void
session_changed_cb (NfltrSession *session, NfltrTunnelManager *self)
{
  Deferred *d;

  if (nfltr_session_is_restoring (session))
    return;
  while ((d = g_queue_pop_head (&self->deferred)) != NULL)
    {
      if (NFLTR_DBUS_IS_TUNNEL (d->object))
        handle_tunnel_start (NFLTR_DBUS_TUNNEL (d->object), d->invocation, self);
      else
        {
          g_autoptr(GVariant) options = NULL;

          g_variant_get (g_dbus_method_invocation_get_parameters (d->invocation), "(@a{sv})", &options);
          nfltr_tunnel_manager_handle_create_tunnel (self, NFLTR_DBUS_MANAGER (d->object), d->invocation,
                                                     options);
        }
      /* The handler answers the invocation (and so releases it). */
      g_object_unref (d->object);
      g_free (d);
    }
}

static gboolean
check_logged_in (NfltrTunnelManager *self, GDBusMethodInvocation *invocation)
{
  g_autoptr(GError) error = NULL;

  if (nfltr_session_check_logged_in (self->session, &error))
    return TRUE;
  nfltr_invocation_return_error (invocation, error);
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
      nfltr_invocation_return_error (invocation, error);
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
                     NfltrTunnelManager    *self)
{
  NfltrTunnelImpl *t = NFLTR_TUNNEL_IMPL (object);

  if (defer_while_restoring (self, object, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!check_logged_in (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (nfltr_tunnel_impl_get_state (t) == NFLTR_TUNNEL_ONLINE)
    {
      nfltr_dbus_tunnel_complete_start (object, invocation);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  nfltr_tunnel_impl_start_async (t, nfltr_session_get_binder (self->session), tunnel_start_cb, invocation);
  if (!nfltr_dbus_tunnel_get_transient (object))
    save_tunnels (self);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_tunnel_stop (NfltrDbusTunnel       *object,
                    GDBusMethodInvocation *invocation,
                    NfltrTunnelManager    *self)
{
  nfltr_tunnel_impl_stop (NFLTR_TUNNEL_IMPL (object), nfltr_session_get_binder (self->session));
  if (!nfltr_dbus_tunnel_get_transient (object))
    save_tunnels (self);
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (object));
  nfltr_dbus_tunnel_complete_stop (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_tunnel_remove (NfltrDbusTunnel       *object,
                      GDBusMethodInvocation *invocation,
                      NfltrTunnelManager    *self)
{
  g_object_ref (object);
  nfltr_dbus_tunnel_complete_remove (object, invocation);
  remove_tunnel (self, NFLTR_TUNNEL_IMPL (object));
  g_object_unref (object);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* --- CreateTunnel ---------------------------------------------------------------------- */

static char *
random_name (NfltrTunnelManager *self)
{
  for (;;)
    {
      char *name = nfltr_random_tunnel_name ();

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
  NfltrTunnelManager *self;
  NfltrDbusManager *manager;
  GDBusMethodInvocation *invocation;
  NfltrTunnelConfig *config;
  gboolean transient;
  NfltrTunnelImpl *tunnel;
  guint grace_id;
} Create;

static void
create_free (Create *create)
{
  g_clear_handle_id (&create->grace_id, g_source_remove);
  g_clear_pointer (&create->config, nfltr_tunnel_config_free);
  g_clear_object (&create->self);
  g_clear_object (&create->manager);
  g_clear_object (&create->invocation);
  g_clear_object (&create->tunnel);
  g_free (create);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Create, create_free)

/* How long CreateTunnel waits for a relay that is being connected to. One that is up answers
 * within a second; one that does not answer holds a connect attempt for 30 s, longer than a
 * D-Bus call's default timeout (issue 8 §8). */
#define CREATE_ANSWER_GRACE_S 5

/* Answers CreateTunnel before the tunnel is online: its state ("connecting") says the rest,
 * and it turns online when the relay is back. */
static void
create_answer_now (Create *create)
{
  g_autofree char *path = tunnel_path (create->tunnel);

  g_clear_handle_id (&create->grace_id, g_source_remove);
  if (!nfltr_dbus_tunnel_get_transient (NFLTR_DBUS_TUNNEL (create->tunnel)))
    save_tunnels (create->self);
  g_message ("tunnel %s created while the relay is away: %s", nfltr_tunnel_impl_get_name (create->tunnel),
             nfltr_tunnel_state_to_string (nfltr_tunnel_impl_get_state (create->tunnel)));
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (create->tunnel));
  nfltr_dbus_manager_complete_create_tunnel (create->manager, g_steal_pointer (&create->invocation), path);
}

static gboolean
create_grace_cb (gpointer user_data)
{
  Create *create = user_data;

  create->grace_id = 0;
  if (create->invocation != NULL && g_ptr_array_find (create->self->tunnels, create->tunnel, NULL))
    create_answer_now (create);
  return G_SOURCE_REMOVE;
}

static void
create_start_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Create) create = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tunnel_path (create->tunnel);
  gboolean still_there = g_ptr_array_find (create->self->tunnels, create->tunnel, NULL);
  gboolean started = nfltr_tunnel_impl_start_finish (create->tunnel, result, &error);

  g_clear_handle_id (&create->grace_id, g_source_remove);
  /* The relay is away (the tunnel says "connecting", not "failed"): the name stays wanted
   * and is bound when the link is back. */
  if (!started && still_there && create->invocation != NULL &&
      nfltr_tunnel_impl_get_state (create->tunnel) == NFLTR_TUNNEL_CONNECTING)
    create_answer_now (create);
  if (create->invocation == NULL)
    {
      /* Answered already: the tunnel stays, its state says the rest. */
      if (!started)
        {
          if (still_there && nfltr_tunnel_impl_get_state (create->tunnel) == NFLTR_TUNNEL_FAILED)
            emit_failed (create->self, create->tunnel, error->message);
        }
      else if (still_there)
        g_message ("tunnel %s online at %s", nfltr_tunnel_impl_get_name (create->tunnel),
                   nfltr_dbus_tunnel_get_public_url (NFLTR_DBUS_TUNNEL (create->tunnel)));
      return;
    }
  if (!started)
    {
      /* CreateTunnel is all or nothing: a tunnel that never came up is not left behind. */
      remove_tunnel (create->self, create->tunnel);
      nfltr_invocation_return_error (g_steal_pointer (&create->invocation), error);
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
  nfltr_dbus_manager_complete_create_tunnel (create->manager,
                                             g_steal_pointer (&create->invocation), path);
}

static void
create_certificate_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Create *create = user_data;
  NfltrTunnelManager *self = create->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  NfltrTunnelBinder *binder;

  g_hash_table_remove (self->pending_names, create->config->name);
  if (!nfltr_tunnel_load_certificate_finish (result, &cert_pem, &key_pem, &error) ||
      !nfltr_session_check_logged_in (self->session, &error) ||
      (create->tunnel = nfltr_tunnel_impl_new (create->config, create->transient,
                                               nfltr_session_get_domain (self->session), cert_pem, key_pem,
                                               &error)) == NULL)
    {
      nfltr_invocation_return_error (g_steal_pointer (&create->invocation), error);
      create_free (create);
      return;
    }

  nfltr_tunnel_impl_use_acme (create->tunnel, self->certs_dir);  /* issue 11 */
  add_tunnel (self, create->tunnel);
  if (create->transient)
    {
      const char *sender = g_dbus_method_invocation_get_sender (create->invocation);
      nfltr_tunnel_impl_set_owner (create->tunnel, sender);
      watch_owner (self, g_dbus_method_invocation_get_connection (create->invocation), sender);
    }
  binder = nfltr_session_get_binder (self->session);
  /* Errors that need the user (a refused key, a changed certificate) still fail the call;
   * an unreachable relay answers it (create_start_cb), a slow one after the grace. */
  if (nfltr_relay_link_get_state (nfltr_tunnel_binder_get_link (binder)) == NFLTR_RELAY_LINK_CONNECTING)
    create->grace_id = g_timeout_add_seconds (CREATE_ANSWER_GRACE_S, create_grace_cb, create);
  nfltr_tunnel_impl_start_async (create->tunnel, binder, create_start_cb, create);
}

/* The arguments were checked: hold the name and get the certificate, then create_certificate_cb. */
static void
create_begin (NfltrTunnelManager    *self,
              NfltrDbusManager      *manager,
              GDBusMethodInvocation *invocation,
              NfltrTunnelConfig     *config /* owned */,
              gboolean               transient)
{
  Create *create = g_new0 (Create, 1);

  /* Held until the certificate is ready, so a second CreateTunnel cannot take the name. */
  g_hash_table_add (self->pending_names, g_strdup (config->name));
  create->self = g_object_ref (self);
  create->manager = g_object_ref (manager);
  create->invocation = invocation;
  create->config = config;
  create->transient = transient;
  /* Key generation and file I/O stay off the engine's thread. */
  nfltr_tunnel_load_certificate_async (create->config, nfltr_session_get_domain (self->session),
                                       self->certs_dir, NULL, create_certificate_cb, create);
}

gboolean
nfltr_tunnel_manager_handle_create_tunnel (NfltrTunnelManager *self, NfltrDbusManager *manager,
                                           GDBusMethodInvocation *invocation, GVariant *options)
{
  g_autoptr (NfltrTunnelConfig) config = g_new0 (NfltrTunnelConfig, 1);
  g_autoptr (GError) error = NULL;
  /* The options every kind has; the rest of the dict is the kind's own. */
  static const char * const generic_options[] = { "kind",      "target",   "name",      "e2ee",
                                                  "cert-file", "key-file", "transient", NULL };
  const char *kind = NULL, *target = NULL, *name = NULL, *cert_file = NULL, *key_file = NULL;
  gboolean e2ee = TRUE, transient = FALSE;
  NfltrTunnelKind *tunnel_kind;
  g_autoptr (GVariant) kind_config = NULL;
  g_auto (GVariantDict) kind_options = G_VARIANT_DICT_INIT (options);

  g_variant_lookup (options, "kind", "&s", &kind);
  g_variant_lookup (options, "target", "&s", &target);
  g_variant_lookup (options, "name", "&s", &name);
  g_variant_lookup (options, "e2ee", "b", &e2ee);
  g_variant_lookup (options, "cert-file", "&s", &cert_file);
  g_variant_lookup (options, "key-file", "&s", &key_file);
  g_variant_lookup (options, "transient", "b", &transient);

  tunnel_kind = nfltr_tunnel_kind_lookup (kind);
  if (tunnel_kind == NULL)
    {
      nfltr_tunnel_kind_set_unknown_error (&error, kind);
      nfltr_invocation_return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  /* The kind checks its target and options (a missing target included). */
  kind_config = nfltr_tunnel_kind_parse (tunnel_kind, target, options, &error);
  if (kind_config == NULL)
    {
      nfltr_invocation_return_error (invocation, error);
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
      /* NameTaken, as when another agent holds it: clients show it at the name (issue 9 §6). */
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN,
                                             "a tunnel named “%s” already exists on this agent", name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if ((cert_file != NULL && *cert_file) != (key_file != NULL && *key_file))
    {
      g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     "cert-file and key-file must be given together");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  /* Only after every argument check: those are the caller's to fix whatever the relay's state. */
  if (defer_while_restoring (self, manager, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!check_logged_in (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  config->name = (name && *name) ? g_strdup (name) : random_name (self);
  config->id = id_for_name (config->name);
  config->kind = g_strdup (kind);
  config->target = g_strdup (target);
  for (guint i = 0; generic_options[i] != NULL; i++)
    g_variant_dict_remove (&kind_options, generic_options[i]);
  config->kind_options = g_variant_ref_sink (g_variant_dict_end (&kind_options));
  config->e2ee = e2ee;
  config->cert_file = (cert_file && *cert_file) ? g_strdup (cert_file) : NULL;
  config->key_file = (key_file && *key_file) ? g_strdup (key_file) : NULL;
  config->enabled = TRUE;

  create_begin (self, manager, invocation, g_steal_pointer (&config), transient);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* --- ReleaseName (docs/protocol.md §6) ----------------------------------------------------- */

typedef struct {
  NfltrDbusManager      *manager;
  GDBusMethodInvocation *invocation;
} ReleaseCall;

static void
release_name_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ReleaseCall *call = user_data;
  g_autoptr(GError) error = NULL;

  if (nfltr_tunnel_binder_release_finish (NFLTR_TUNNEL_BINDER (source), result, &error))
    nfltr_dbus_manager_complete_release_name (call->manager, call->invocation);
  else
    nfltr_invocation_return_error (call->invocation, error);
  g_object_unref (call->manager);
  g_free (call);
}

gboolean
nfltr_tunnel_manager_handle_release_name (NfltrTunnelManager *self, NfltrDbusManager *manager,
                                          GDBusMethodInvocation *invocation, const char *name)
{
  NfltrTunnelBinder *binder;
  ReleaseCall *call;

  if (!nfltr_proto_name_is_valid (name))
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "“%s” is not a valid tunnel name", name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  /* This agent still serves the name: releasing it would pull it from under the tunnel. */
  if (find_tunnel (self, name) != NULL || g_hash_table_contains (self->pending_names, name))
    {
      g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                             "this agent has a tunnel named “%s”: remove it first",
                                             name);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (!check_logged_in (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  binder = nfltr_session_get_binder (self->session);
  if (binder == NULL)
    {
      g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR,
                                                     NFLTR_ERROR_RELAY_UNREACHABLE,
                                                     "not connected to the relay");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  call = g_new0 (ReleaseCall, 1);
  call->manager = g_object_ref (manager);
  call->invocation = invocation;
  nfltr_tunnel_binder_release_async (binder, name, NULL, release_name_cb, call);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

char **
nfltr_tunnel_manager_list_paths (NfltrTunnelManager *self)
{
  GPtrArray *paths = g_ptr_array_new ();

  for (guint i = 0; i < self->tunnels->len; i++)
    g_ptr_array_add (paths, tunnel_path (g_ptr_array_index (self->tunnels, i)));
  g_ptr_array_add (paths, NULL);
  return (char **) g_ptr_array_free (paths, FALSE);
}

/* --- restore at start ------------------------------------------------------------------ */

/* One tunnels.json entry: exported, or kept aside (unrestored) when it cannot load. */
static void
restore_tunnel (NfltrTunnelManager *self, NfltrTunnelConfig *c)
{
  const char *domain = nfltr_session_get_domain (self->session);
  g_autoptr(NfltrTunnelImpl) t = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;

  if (!nfltr_proto_name_is_valid (c->name) || find_tunnel (self, c->name))
    {
      g_message ("tunnels.json: skipping tunnel “%s” (bad or duplicate name)", c->name);
      return;
    }
  if (c->id == NULL || g_strcmp0 (c->id, "") == 0)
    {
      g_free (c->id);
      c->id = id_for_name (c->name);
    }

  /* Once, at startup, before any client is served: reading the files here is fine. */
  if (nfltr_tunnel_load_certificate (c, domain, self->certs_dir, &cert_pem, &key_pem, &error))
    t = nfltr_tunnel_impl_new (c, FALSE, domain, cert_pem, key_pem, &error);
  if (t == NULL)
    {
      g_message ("tunnels.json: cannot restore tunnel “%s”: %s", c->name, error->message);
      g_ptr_array_add (self->unrestored, nfltr_tunnel_config_copy (c));
      return;
    }
  nfltr_tunnel_impl_use_acme (t, self->certs_dir);  /* issue 11 */
  add_tunnel (self, t);
}

void
nfltr_tunnel_manager_restore (NfltrTunnelManager       *self,
                              GDBusObjectManagerServer *object_manager)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) saved = NULL;

  g_set_object (&self->object_manager, object_manager);

  saved = nfltr_tunnels_load (self->config_dir, &error);
  if (saved == NULL)
    {
      g_warning ("%s", error->message);
      return;
    }
  for (guint i = 0; i < saved->len; i++)
    restore_tunnel (self, g_ptr_array_index (saved, i));
}

void
nfltr_tunnel_manager_stop_all (NfltrTunnelManager *self,
                               gboolean            unbind)
{
  NfltrTunnelBinder *binder = unbind ? nfltr_session_get_binder (self->session) : NULL;

  for (guint i = 0; i < self->tunnels->len; i++)
    {
      NfltrTunnelImpl *t = g_ptr_array_index (self->tunnels, i);
      gboolean enabled = nfltr_tunnel_impl_get_config (t)->enabled;

      nfltr_tunnel_impl_stop (t, binder);
      nfltr_tunnel_impl_set_enabled (t, enabled);
    }
}

void
nfltr_tunnel_manager_shutdown (NfltrTunnelManager *self)
{
  /* No UNBIND: the relay drops our names with the connection, and a quick restart takes
   * them back. The saved "enabled" flags stay as they were. */
  nfltr_tunnel_manager_stop_all (self, FALSE);
  g_hash_table_remove_all (self->owner_watches);
}

NfltrTunnelManager *
nfltr_tunnel_manager_new (NfltrSession *session,
                          const char   *config_dir,
                          const char   *certs_dir)
{
  NfltrTunnelManager *self = g_object_new (NFLTR_TYPE_TUNNEL_MANAGER, NULL);

  self->session = g_object_ref (session);
  self->config_dir = g_strdup (config_dir);
  self->certs_dir = g_strdup (certs_dir);
  g_signal_connect_object (session, "link-adopted", G_CALLBACK (link_adopted_cb), self, 0);
  g_signal_connect_object (session, "link-state-changed", G_CALLBACK (link_state_changed_cb), self, 0);
  g_signal_connect_object (session, "changed", G_CALLBACK (session_changed_cb), self, 0);
  return self;
}

static void
unwatch (gpointer data)
{
  g_bus_unwatch_name (GPOINTER_TO_UINT (data));
}

static void
nfltr_tunnel_manager_dispose (GObject *object)
{
  NfltrTunnelManager *self = NFLTR_TUNNEL_MANAGER (object);

  if (self->owner_watches)
    g_hash_table_remove_all (self->owner_watches);
  if (self->tunnels)
    g_ptr_array_set_size (self->tunnels, 0);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->session);
  g_queue_clear_full (&self->deferred, (GDestroyNotify) deferred_cancel);

  G_OBJECT_CLASS (nfltr_tunnel_manager_parent_class)->dispose (object);
}

static void
nfltr_tunnel_manager_finalize (GObject *object)
{
  NfltrTunnelManager *self = NFLTR_TUNNEL_MANAGER (object);

  g_clear_pointer (&self->tunnels, g_ptr_array_unref);
  g_clear_pointer (&self->unrestored, g_ptr_array_unref);
  g_clear_pointer (&self->owner_watches, g_hash_table_unref);
  g_clear_pointer (&self->pending_names, g_hash_table_unref);
  g_free (self->config_dir);
  g_free (self->certs_dir);

  G_OBJECT_CLASS (nfltr_tunnel_manager_parent_class)->finalize (object);
}

static void
nfltr_tunnel_manager_class_init (NfltrTunnelManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_tunnel_manager_dispose;
  object_class->finalize = nfltr_tunnel_manager_finalize;

  /* object path, message */
  signals[SIGNAL_TUNNEL_FAILED] =
    g_signal_new ("tunnel-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
nfltr_tunnel_manager_init (NfltrTunnelManager *self)
{
  self->tunnels = g_ptr_array_new_with_free_func (g_object_unref);
  self->unrestored = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_tunnel_config_free);
  self->owner_watches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, unwatch);
  self->pending_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}
