/* nfltr-p2p-service.c — the P2p D-Bus object, the transfers and the frame routing. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-service.h"
#include "nfltr-p2p-transfer.h"
#include "nfltr-p2p-call.h" /* issue 14: calls */
#include "nfltr-session.h"
#include "nfltr-invocation.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#define P2P_OBJECT_PATH       "/xyz/nfltr/Nfltr/p2p"
#define TRANSFERS_PATH        "/xyz/nfltr/Nfltr/transfers"

struct _NfltrP2pService {
  NfltrDbusP2pSkeleton parent_instance;

  NfltrSession             *session;
  char                     *data_dir;
  GDBusObjectManagerServer *object_manager;
  NfltrRelayLink           *link;          /* the link our handlers are on */
  guint                     handler_ids[2];
  GHashTable               *routes;        /* offer id → NfltrP2pTransfer (borrowed) */
  GPtrArray                *transfers;     /* NfltrP2pTransfer (owned), oldest first */
  gboolean                  connected;     /* the link was connected at the last look */
};

static void p2p_iface_init (NfltrDbusP2pIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrP2pService, nfltr_p2p_service, NFLTR_DBUS_TYPE_P2P_SKELETON,
                               G_IMPLEMENT_INTERFACE (NFLTR_DBUS_TYPE_P2P, p2p_iface_init))

NfltrRelayLink *
nfltr_p2p_service_get_link (NfltrP2pService *self)
{
  if (self->link == NULL || nfltr_relay_link_get_state (self->link) != NFLTR_RELAY_LINK_CONNECTED)
    return NULL;
  return self->link;
}

void
nfltr_p2p_service_route (NfltrP2pService *self,
                         const char      *offer_id,
                         gpointer         transfer)
{
  if (offer_id == NULL)
    return;
  if (transfer != NULL)
    g_hash_table_replace (self->routes, g_strdup (offer_id), transfer);
  else
    g_hash_table_remove (self->routes, offer_id);
}

static gboolean
frame_cb (NfltrRelayLink *link, const NfltrFrame *frame, gpointer user_data)
{
  NfltrP2pService *self = user_data;
  const char *id = nfltr_frame_get_string (frame, NFLTR_ATTR_PEER_ID);
  NfltrP2pTransfer *transfer = id != NULL ? g_hash_table_lookup (self->routes, id) : NULL;

  /* A frame for a transfer that ended is dropped: the relay's late copies are normal. */
  if (transfer != NULL)
    {
      g_autoptr(NfltrP2pTransfer) hold = g_object_ref (transfer);

      nfltr_p2p_transfer_handle_frame (transfer, frame);
    }
  return TRUE;
}

static void
each_transfer_link_changed (NfltrP2pService *self, gboolean connected)
{
  g_autoptr(GPtrArray) copy = g_ptr_array_copy (self->transfers, (GCopyFunc) g_object_ref, NULL);

  g_ptr_array_set_free_func (copy, g_object_unref);
  for (guint i = 0; i < copy->len; i++)
    nfltr_p2p_transfer_link_changed (copy->pdata[i], connected);
}

static void
link_state_changed_cb (NfltrSession *session, gpointer user_data)
{
  NfltrP2pService *self = user_data;
  gboolean connected = nfltr_p2p_service_get_link (self) != NULL;

  /* The session says when anything about the link changed; the transfers care about the
   * link coming and going only. */
  if (connected == self->connected)
    return;
  self->connected = connected;
  each_transfer_link_changed (self, connected);
}

static void
detach_link (NfltrP2pService *self)
{
  if (self->link == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (self->handler_ids); i++)
    if (self->handler_ids[i] != 0)
      nfltr_relay_link_remove_frame_handler (self->link, self->handler_ids[i]);
  memset (self->handler_ids, 0, sizeof self->handler_ids);
  g_clear_object (&self->link);
}

static void
link_adopted_cb (NfltrSession *session, gpointer user_data)
{
  NfltrP2pService *self = user_data;
  NfltrRelayLink *link = nfltr_session_get_link (session);

  detach_link (self);
  if (link == NULL)
    return;
  self->link = g_object_ref (link);
  self->handler_ids[0] = nfltr_relay_link_add_frame_handler (link, NFLTR_FRAME_P2P_SIGNAL, frame_cb, self);
  self->handler_ids[1] = nfltr_relay_link_add_frame_handler (link, NFLTR_FRAME_P2P_RELAY, frame_cb, self);
  self->connected = nfltr_p2p_service_get_link (self) != NULL;
  each_transfer_link_changed (self, self->connected);
}

static char *
new_id (void)
{
  guint8 raw[8];
  GString *s = g_string_new (NULL);

  randombytes_buf (raw, sizeof raw);
  for (gsize i = 0; i < sizeof raw; i++)
    g_string_append_printf (s, "%02x", raw[i]);
  return g_string_free (s, FALSE);
}

/* --- offers that outlive a restart ---------------------------------------------------- */

static char *
offer_state_path (NfltrP2pService *self, const char *id)
{
  g_autofree char *name = g_strconcat (id, ".json", NULL);

  return g_build_filename (self->data_dir, "p2p", "outgoing", name, NULL);
}

/* The sender's offer (its code and paths) is kept until the transfer ends, so a restarted
 * service offers it again and the receiver resumes (docs/protocol.md §9.8). */
static void
save_offer (NfltrP2pService *self, NfltrP2pTransfer *transfer)
{
  const char * const *paths = nfltr_p2p_transfer_get_paths (transfer);
  g_autofree char *path = offer_state_path (self, nfltr_dbus_transfer_get_id (NFLTR_DBUS_TRANSFER (transfer)));
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  if (paths == NULL || paths[0] == NULL)
    return;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, nfltr_dbus_transfer_get_code (NFLTR_DBUS_TRANSFER (transfer)));
  json_builder_set_member_name (b, "paths");
  json_builder_begin_array (b);
  for (gsize i = 0; paths[i] != NULL; i++)
    json_builder_add_string_value (b, paths[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0 || !g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_warning ("cannot keep the offer for a restart: %s", error ? error->message : g_strerror (errno));
}

static void
transfer_state_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  NfltrP2pService *self = user_data;
  NfltrP2pTransfer *transfer = NFLTR_P2P_TRANSFER (object);
  g_autofree char *path = NULL;

  if (!nfltr_p2p_transfer_is_final (transfer))
    return;
  path = offer_state_path (self, nfltr_dbus_transfer_get_id (NFLTR_DBUS_TRANSFER (transfer)));
  g_unlink (path);
}

static char *export_transfer (NfltrP2pService *self, NfltrP2pTransfer *transfer, const char *id);

static void
restore_offers (NfltrP2pService *self)
{
  g_autofree char *dir_path = g_build_filename (self->data_dir, "p2p", "outgoing", NULL);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autofree char *id = g_str_has_suffix (name, ".json") ? g_strndup (name, strlen (name) - 5) : NULL;
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GPtrArray) paths = g_ptr_array_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *exported = NULL;
      JsonObject *o;
      JsonArray *list;
      NfltrP2pTransfer *transfer;

      if (id == NULL || !json_parser_load_from_file (parser, path, NULL)
          || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      o = json_node_get_object (json_parser_get_root (parser));
      list = json_object_get_array_member (o, "paths");
      for (guint i = 0; list != NULL && i < json_array_get_length (list); i++)
        g_ptr_array_add (paths, (gpointer) json_array_get_string_element (list, i));
      g_ptr_array_add (paths, NULL);
      transfer = nfltr_p2p_transfer_new_send (self, id, (const char * const *) paths->pdata,
                                              json_object_get_string_member_with_default (o, "code", ""), &error);
      if (transfer == NULL)
        {
          g_message ("a kept offer cannot be made again: %s", error->message);
          g_unlink (path);
          continue;
        }
      g_message ("offering %s again after a restart", id);
      exported = export_transfer (self, transfer, id);
      g_signal_connect (transfer, "notify::state", G_CALLBACK (transfer_state_cb), self);
      nfltr_p2p_transfer_start (transfer);
    }
}

static char *
export_transfer (NfltrP2pService *self, NfltrP2pTransfer *transfer, const char *id)
{
  g_autofree char *path = g_strdup_printf ("%s/%s", TRANSFERS_PATH, id);
  g_autoptr(NfltrDbusObjectSkeleton) object = nfltr_dbus_object_skeleton_new (path);

  nfltr_dbus_object_skeleton_set_transfer (object, NFLTR_DBUS_TRANSFER (transfer));
  if (self->object_manager != NULL)
    g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  g_ptr_array_add (self->transfers, transfer);
  return g_steal_pointer (&path);
}

static gboolean
check_link (NfltrP2pService *self, GDBusMethodInvocation *invocation)
{
  g_autoptr(GError) error = NULL;

  if (!nfltr_session_check_logged_in (self->session, &error))
    {
      nfltr_invocation_return_error (invocation, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
handle_send (NfltrDbusP2p *iface, GDBusMethodInvocation *invocation, const char * const *paths, GVariant *options)
{
  NfltrP2pService *self = NFLTR_P2P_SERVICE (iface);
  g_autoptr(GError) error = NULL;
  g_autofree char *id = new_id ();
  g_autofree char *path = NULL;
  NfltrP2pTransfer *transfer;

  if (!check_link (self, invocation))
    return TRUE;
  if (paths == NULL || paths[0] == NULL)
    {
      g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     "nothing to send");
      return TRUE;
    }
  transfer = nfltr_p2p_transfer_new_send (self, id, paths, NULL, &error);
  if (transfer == NULL)
    {
      nfltr_invocation_return_error (invocation, error);
      return TRUE;
    }
  path = export_transfer (self, transfer, id);
  save_offer (self, transfer);
  g_signal_connect (transfer, "notify::state", G_CALLBACK (transfer_state_cb), self);
  nfltr_p2p_transfer_start (transfer);
  nfltr_dbus_p2p_complete_send (iface, invocation, path, nfltr_dbus_transfer_get_code (NFLTR_DBUS_TRANSFER (transfer)));
  return TRUE;
}

static gboolean
handle_receive (NfltrDbusP2p *iface, GDBusMethodInvocation *invocation, const char *code, const char *directory,
                GVariant *options)
{
  NfltrP2pService *self = NFLTR_P2P_SERVICE (iface);
  g_autoptr(GError) error = NULL;
  g_autofree char *id = new_id ();
  g_autofree char *path = NULL;
  gboolean yes = FALSE;
  NfltrP2pTransfer *transfer;

  if (!check_link (self, invocation))
    return TRUE;
  g_variant_lookup (options, "yes", "b", &yes);
  transfer = nfltr_p2p_transfer_new_receive (self, id, code, directory, yes, &error);
  if (transfer == NULL)
    {
      nfltr_invocation_return_error (invocation, error);
      return TRUE;
    }
  path = export_transfer (self, transfer, id);
  nfltr_p2p_transfer_start (transfer);
  nfltr_dbus_p2p_complete_receive (iface, invocation, path);
  return TRUE;
}

static gboolean
handle_chat (NfltrDbusP2p *iface, GDBusMethodInvocation *invocation, const char *code, GVariant *options)
{
  NfltrP2pService *self = NFLTR_P2P_SERVICE (iface);
  g_autoptr(GError) error = NULL;
  g_autofree char *id = new_id ();
  g_autofree char *path = NULL;
  NfltrP2pTransfer *transfer;
  const char *none[] = { NULL };

  if (!check_link (self, invocation))
    return TRUE;
  if (code == NULL || *code == '\0')
    transfer = nfltr_p2p_transfer_new_send (self, id, none, NULL, &error);
  else
    transfer = nfltr_p2p_transfer_new_receive (self, id, code, NULL, TRUE, &error);
  if (transfer == NULL)
    {
      nfltr_invocation_return_error (invocation, error);
      return TRUE;
    }
  path = export_transfer (self, transfer, id);
  nfltr_p2p_transfer_start (transfer);
  nfltr_dbus_p2p_complete_chat (iface, invocation, path, nfltr_dbus_transfer_get_code (NFLTR_DBUS_TRANSFER (transfer)));
  return TRUE;
}

/* issue 14: calls (service/p2p/call/). */
char *
nfltr_p2p_service_export_call (NfltrP2pService *self, NfltrP2pCall *call, const char *id)
{
  g_autofree char *path = g_strdup_printf ("%s/%s", NFLTR_P2P_CALLS_PATH, id);
  g_autoptr(NfltrDbusObjectSkeleton) object = nfltr_dbus_object_skeleton_new (path);

  nfltr_dbus_object_skeleton_set_call (object, NFLTR_DBUS_CALL (call));
  if (self->object_manager != NULL)
    g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  return g_steal_pointer (&path);
}

/* issue 14: P2p.Call — a chat-only session made or joined with a code, or a ring inside a
 * running one ("transfer" option). */
static gboolean
handle_call (NfltrDbusP2p *iface, GDBusMethodInvocation *invocation, const char *code, GVariant *options)
{
  NfltrP2pService *self = NFLTR_P2P_SERVICE (iface);
  g_autoptr(GError) error = NULL;
  g_autofree char *id = new_id ();
  g_autofree char *path = NULL;
  NfltrP2pTransfer *transfer = NULL;
  const char *existing = NULL;
  gboolean video = TRUE;
  const char *none[] = { NULL };
  NfltrP2pCall *call;

  g_variant_lookup (options, "transfer", "&o", &existing);
  g_variant_lookup (options, "video", "b", &video);
  if (existing != NULL)
    {
      for (guint i = 0; i < self->transfers->len && transfer == NULL; i++)
        {
          g_autofree char *p = g_strdup_printf ("%s/%s", TRANSFERS_PATH,
                                                nfltr_dbus_transfer_get_id (self->transfers->pdata[i]));

          if (g_str_equal (p, existing))
            transfer = self->transfers->pdata[i];
        }
      if (transfer == NULL || g_strcmp0 (nfltr_dbus_transfer_get_state (NFLTR_DBUS_TRANSFER (transfer)), "connected") != 0)
        {
          g_dbus_method_invocation_return_error (invocation, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND,
                                                 "no connected session at %s", existing);
          return TRUE;
        }
      call = nfltr_p2p_call_new (self, transfer, id, FALSE, video);
    }
  else
    {
      if (!check_link (self, invocation))
        return TRUE;
      if (code == NULL || *code == '\0')
        transfer = nfltr_p2p_transfer_new_send (self, id, none, NULL, &error);
      else
        transfer = nfltr_p2p_transfer_new_receive (self, id, code, NULL, TRUE, &error);
      if (transfer == NULL)
        {
          nfltr_invocation_return_error (invocation, error);
          return TRUE;
        }
      g_free (export_transfer (self, transfer, id));
      call = nfltr_p2p_call_new (self, transfer, id, TRUE, video);
      nfltr_p2p_transfer_start (transfer);
    }
  path = nfltr_p2p_service_export_call (self, call, id);
  nfltr_p2p_call_watch_owner (call, invocation);
  g_object_unref (call);
  nfltr_dbus_p2p_complete_call (iface, invocation, path, nfltr_dbus_transfer_get_code (NFLTR_DBUS_TRANSFER (transfer)));
  return TRUE;
}

static gboolean
handle_audit (NfltrDbusP2p *iface, GDBusMethodInvocation *invocation)
{
  NfltrP2pService *self = NFLTR_P2P_SERVICE (iface);
  g_autoptr(GString) out = g_string_new ("[");

  for (guint i = 0; i < self->transfers->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      nfltr_p2p_transfer_audit_json (self->transfers->pdata[i], out);
    }
  g_string_append_c (out, ']');
  nfltr_dbus_p2p_complete_audit (iface, invocation, out->str);
  return TRUE;
}

static void
p2p_iface_init (NfltrDbusP2pIface *iface)
{
  iface->handle_send = handle_send;
  iface->handle_receive = handle_receive;
  iface->handle_chat = handle_chat;
  iface->handle_audit = handle_audit;
  iface->handle_call = handle_call; /* issue 14 */
}

NfltrP2pService *
nfltr_p2p_service_new (NfltrSession             *session,
                       const char               *data_dir,
                       GDBusObjectManagerServer *object_manager)
{
  NfltrP2pService *self = g_object_new (NFLTR_TYPE_P2P_SERVICE, NULL);
  g_autoptr(NfltrDbusObjectSkeleton) object = nfltr_dbus_object_skeleton_new (P2P_OBJECT_PATH);

  self->session = g_object_ref (session);
  self->data_dir = g_strdup (data_dir);
  self->object_manager = object_manager != NULL ? g_object_ref (object_manager) : NULL;
  g_signal_connect (session, "link-adopted", G_CALLBACK (link_adopted_cb), self);
  g_signal_connect (session, "link-state-changed", G_CALLBACK (link_state_changed_cb), self);
  nfltr_dbus_object_skeleton_set_p2p (object, NFLTR_DBUS_P2P (self));
  if (object_manager != NULL)
    g_dbus_object_manager_server_export (object_manager, G_DBUS_OBJECT_SKELETON (object));
  link_adopted_cb (session, self);
  restore_offers (self);
  return self;
}

void
nfltr_p2p_service_shutdown (NfltrP2pService *self)
{
  for (guint i = 0; i < self->transfers->len; i++)
    nfltr_p2p_transfer_shutdown (self->transfers->pdata[i]);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  detach_link (self);
}

static void
nfltr_p2p_service_finalize (GObject *object)
{
  NfltrP2pService *self = NFLTR_P2P_SERVICE (object);

  nfltr_p2p_service_shutdown (self);
  g_hash_table_unref (self->routes);
  g_ptr_array_unref (self->transfers);
  g_clear_object (&self->session);
  g_clear_object (&self->object_manager);
  g_free (self->data_dir);
  G_OBJECT_CLASS (nfltr_p2p_service_parent_class)->finalize (object);
}

static void
nfltr_p2p_service_class_init (NfltrP2pServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nfltr_p2p_service_finalize;
}

static void
nfltr_p2p_service_init (NfltrP2pService *self)
{
  self->routes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->transfers = g_ptr_array_new_with_free_func (g_object_unref);
}
