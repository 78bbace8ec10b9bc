/* nfltr-tunnel-binder.c — BIND/BOUND/UNBIND/CONN_OPEN/CONN_REFUSE on a relay link */
#define G_LOG_DOMAIN "nfltr-relay-link"

#include "nfltr-tunnel-binder.h"

#include <string.h>

#include "nfltr-error.h"
#include "nfltr-messages.h"

typedef struct {
  char     *name;
  NfltrMode mode;
  guint8    fingerprint[NFLTR_PROTO_FINGERPRINT_SIZE];
  char     *kind;
  GList    *tasks;        /* GTask*, waiting for BOUND or ERROR */
} Binding;

struct _NfltrTunnelBinder {
  GObject parent_instance;

  NfltrRelayLink *link;
  gulong state_changed_id;
  guint error_handler_id;
  guint conn_open_handler_id;
  gboolean connected;     /* the link's state was CONNECTED when we last looked */
  guint16 warm_pool_max;  /* BIND's pool-max where the relay has the warm pool (§5.1) */

  GHashTable *bindings;   /* name -> Binding */
};

G_DEFINE_FINAL_TYPE (NfltrTunnelBinder, nfltr_tunnel_binder, G_TYPE_OBJECT)

enum {
  SIGNAL_BOUND,
  SIGNAL_BIND_FAILED,
  SIGNAL_CONN_OPEN,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
binding_free (gpointer data)
{
  Binding *b = data;

  g_assert (b->tasks == NULL);
  g_free (b->name);
  g_free (b->kind);
  g_free (b);
}

static void
binding_complete (Binding *b, const char *url, const GError *error)
{
  GList *tasks = g_steal_pointer (&b->tasks);

  for (GList *l = tasks; l; l = l->next)
    {
      g_autoptr(GTask) task = l->data;
      if (error)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_pointer (task, g_strdup (url), g_free);
    }
  g_list_free (tasks);
}

/* Tasks are returned after the walk: a callback may unbind and so change the table. */
static void
fail_waiting_tasks (NfltrTunnelBinder *self, const GError *error)
{
  GHashTableIter iter;
  gpointer value;
  GList *tasks = NULL;

  g_hash_table_iter_init (&iter, self->bindings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    tasks = g_list_concat (tasks, g_steal_pointer (&((Binding *) value)->tasks));
  for (GList *l = tasks; l; l = l->next)
    {
      g_autoptr(GTask) task = l->data;
      g_task_return_error (task, g_error_copy (error));
    }
  g_list_free (tasks);
}

static GError *
bind_error_from_frame (const char *name, guint16 code, const char *message)
{
  switch (code)
    {
      case NFLTR_PROTO_ERR_NAME_TAKEN:
        /* A name in use right now, or one kept for its owner while unused: the relay's
         * message says which, and until when (docs/protocol.md §6). */
        if (strstr (message, "reserved") != NULL)
          return g_error_new (NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN, "the relay keeps the name “%s” for another user: %s",
                              name, message);
        return g_error_new (NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN,
                            "the name “%s” is already in use by another agent on this relay", name);
      case NFLTR_PROTO_ERR_BAD_NAME:
        return g_error_new (NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                            "the relay refused the name “%s”: %s", name, message);
      case NFLTR_PROTO_ERR_LIMIT:
        return g_error_new (NFLTR_ERROR, NFLTR_ERROR_LIMIT, "relay limit reached: %s", message);
      case NFLTR_PROTO_ERR_AUTH_FAILED:
        return g_error_new_literal (NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED,
                                    "the relay refused the API key (unknown or revoked)");
      default:
        return g_error_new (NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the relay refused “%s”: %s (%s)",
                            name, message, nfltr_proto_error_code_to_string (code));
    }
}

static void
send_unbind (NfltrTunnelBinder *self, const char *name)
{
  NfltrMsgUnbind msg = { .name = name };
  g_autoptr(NfltrFrame) frame = nfltr_msg_unbind_encode (&msg);

  nfltr_relay_link_send (self->link, frame);
}

/* The relay said no to this name: stop asking for it. */
static void
binding_refused (NfltrTunnelBinder *self, Binding *b, const NfltrMsgError *refusal)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup (b->name);

  error = bind_error_from_frame (b->name, refusal->code, refusal->message);
  g_hash_table_steal (self->bindings, name);
  binding_complete (b, NULL, error);
  binding_free (b);
  g_signal_emit (self, signals[SIGNAL_BIND_FAILED], 0, name, error);
}

static void
binding_bound (NfltrTunnelBinder *self, Binding *b, const NfltrMsgBound *bound)
{
  g_autofree char *name = g_strdup (b->name);

  g_message ("bound %s → %s", name, bound->url);
  binding_complete (b, bound->url, NULL);
  g_signal_emit (self, signals[SIGNAL_BOUND], 0, name, bound->host, bound->url);
}

/* --- BIND as a request ----------------------------------------------------------------- */

typedef struct {
  NfltrTunnelBinder *binder;
  char *name;
} BindRequest;

static void
bind_request_free (BindRequest *request)
{
  g_object_unref (request->binder);
  g_free (request->name);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BindRequest, bind_request_free)

static void
bind_reply_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(BindRequest) request = user_data;
  NfltrTunnelBinder *self = request->binder;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);
  Binding *b;

  if (reply == NULL)
    {
      /* The connection ended first: the link's state tells the waiters, and the name is
       * asked for again after the next WELCOME. */
      g_debug ("BIND %s: %s", request->name, error->message);
      return;
    }

  /* Looked up by name: the tunnel may have been stopped, or started again, meanwhile. */
  b = g_hash_table_lookup (self->bindings, request->name);
  if (nfltr_frame_get_type (reply) == NFLTR_FRAME_BOUND)
    {
      NfltrMsgBound bound;

      if (!nfltr_msg_bound_decode (reply, &bound, &error))
        g_message ("relay answered BIND %s with a bad BOUND: %s", request->name, error->message);
      else if (b != NULL)
        binding_bound (self, b, &bound);
      else
        send_unbind (self, request->name);   /* unbound while the BIND was in flight: give it back */
    }
  else if (nfltr_frame_get_type (reply) == NFLTR_FRAME_ERROR)
    {
      NfltrMsgError refusal;

      if (!nfltr_msg_error_decode (reply, &refusal, &error))
        g_message ("relay answered BIND %s with a bad ERROR: %s", request->name, error->message);
      else if (b != NULL)
        binding_refused (self, b, &refusal);
      else
        g_message ("relay error: %s (%s)", refusal.message, nfltr_proto_error_code_to_string (refusal.code));
    }
  else
    g_message ("relay answered BIND %s with %s; ignored", request->name,
               nfltr_frame_type_to_string (nfltr_frame_get_type (reply)));
}

/* docs/protocol.md §5.1: the most idle data connections a tunnel keeps at the relay. The
 * relay starts with 2 and adds one each time a visitor finds the pool empty, up to this; one
 * unused for a minute is closed (down to one). $NFLTR_WARM_POOL_MAX (0: no pool) when the
 * binder is made. */
#define WARM_POOL_MAX_DEFAULT 8

static guint16
warm_pool_max (NfltrTunnelBinder *self)
{
  if (!nfltr_relay_link_has_feature (self->link, NFLTR_PROTO_FEATURE_WARM_POOL))
    return 0;
  return self->warm_pool_max;
}

static void
send_bind (NfltrTunnelBinder *self, Binding *b)
{
  /* request_id is the link's to assign (nfltr_relay_link_request_async). */
  NfltrMsgBind msg = {
    .request_id = 0, .name = b->name, .mode = b->mode, .kind = b->kind, .pool_max = warm_pool_max (self)
  };
  g_autoptr (NfltrFrame) frame = NULL;
  BindRequest *request = g_new0 (BindRequest, 1);

  memcpy (msg.fingerprint, b->fingerprint, sizeof msg.fingerprint);
  frame = nfltr_msg_bind_encode (&msg);

  request->binder = g_object_ref (self);
  request->name = g_strdup (b->name);
  nfltr_relay_link_request_async (self->link, frame, NULL, bind_reply_cb, request);
}

/* --- frames and states from the link --------------------------------------------------- */

/* An ERROR that answers no waiting BIND but names a name we asked for. */
static gboolean
handle_error (NfltrRelayLink *link, const NfltrFrame *frame, gpointer user_data)
{
  NfltrTunnelBinder *self = user_data;
  NfltrMsgError refusal;
  Binding *b;

  if (!nfltr_msg_error_decode (frame, &refusal, NULL) || refusal.name == NULL)
    return FALSE;
  b = g_hash_table_lookup (self->bindings, refusal.name);
  if (b == NULL)
    return FALSE;
  binding_refused (self, b, &refusal);
  return TRUE;
}

static gboolean
handle_conn_open (NfltrRelayLink *link, const NfltrFrame *frame, gpointer user_data)
{
  NfltrTunnelBinder *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) conn_id = NULL;
  NfltrMsgConnOpen open;

  if (!nfltr_msg_conn_open_decode (frame, &open, &error))
    {
      g_message ("relay sent a bad CONN_OPEN: %s", error->message);
      return TRUE;
    }
  conn_id = g_bytes_new (open.conn_id, sizeof open.conn_id);
  /* §5.1: a warm-pool slot has no client yet; the data path knows it by the empty address
   * (NFLTR_DATA_CONN_POOL_SLOT) and reads the client's from the take header. A visitor's
   * CONN_OPEN never has an empty one. */
  if (open.pool)
    open.client_addr = "";
  else if (open.client_addr[0] == '\0')
    open.client_addr = "unknown";
  g_signal_emit (self, signals[SIGNAL_CONN_OPEN], 0, open.name, conn_id, open.client_addr);
  return TRUE;
}

static void
link_state_changed_cb (NfltrRelayLink *link, NfltrTunnelBinder *self)
{
  NfltrRelayLinkState state = nfltr_relay_link_get_state (link);
  gboolean was_connected = self->connected;

  self->connected = state == NFLTR_RELAY_LINK_CONNECTED;

  switch (state)
    {
      case NFLTR_RELAY_LINK_CONNECTED:
        if (!was_connected)
          {
            GHashTableIter iter;
            gpointer value;

            /* docs/protocol.md §6: the same agent-id takes its names back after a reconnect. */
            g_hash_table_iter_init (&iter, self->bindings);
            while (g_hash_table_iter_next (&iter, NULL, &value))
              send_bind (self, value);
          }
        break;

      case NFLTR_RELAY_LINK_CONNECTING:
        /* Waiters keep waiting: the names are bound again after WELCOME. */
        break;

      case NFLTR_RELAY_LINK_STOPPED:
      case NFLTR_RELAY_LINK_UNREACHABLE:
      case NFLTR_RELAY_LINK_AUTH_FAILED:
      case NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH:
      default:
        {
          /* Callers waiting for a BIND learn that this attempt failed; the names stay wanted. */
          const GError *error = nfltr_relay_link_get_error (link);
          g_autoptr(GError) why = error ? g_error_copy (error)
                                        : g_error_new_literal (NFLTR_ERROR, NFLTR_ERROR_FAILED,
                                                               "the relay link was stopped");
          fail_waiting_tasks (self, why);
        }
        break;
    }
}

/* --------------------------------------------------------------------------------------- */

NfltrTunnelBinder *
nfltr_tunnel_binder_new (NfltrRelayLink *link)
{
  NfltrTunnelBinder *self;

  g_return_val_if_fail (NFLTR_IS_RELAY_LINK (link), NULL);

  self = g_object_new (NFLTR_TYPE_TUNNEL_BINDER, NULL);
  self->link = g_object_ref (link);
  self->connected = nfltr_relay_link_get_state (link) == NFLTR_RELAY_LINK_CONNECTED;
  {
    const char *env = g_getenv ("NFLTR_WARM_POOL_MAX");

    self->warm_pool_max = env != NULL ? (guint16) MIN (g_ascii_strtoull (env, NULL, 10), 64)
                                      : WARM_POOL_MAX_DEFAULT;
  }
  self->state_changed_id = g_signal_connect (link, "state-changed",
                                             G_CALLBACK (link_state_changed_cb), self);
  self->error_handler_id = nfltr_relay_link_add_frame_handler (link, NFLTR_FRAME_ERROR,
                                                               handle_error, self);
  self->conn_open_handler_id = nfltr_relay_link_add_frame_handler (link, NFLTR_FRAME_CONN_OPEN,
                                                                   handle_conn_open, self);
  return self;
}

NfltrRelayLink *
nfltr_tunnel_binder_get_link (NfltrTunnelBinder *self)
{
  g_return_val_if_fail (NFLTR_IS_TUNNEL_BINDER (self), NULL);

  return self->link;
}

void
nfltr_tunnel_binder_bind_async (NfltrTunnelBinder   *self,
                                const char          *name,
                                NfltrMode            mode,
                                const guint8         fingerprint[NFLTR_PROTO_FINGERPRINT_SIZE],
                                const char          *kind,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Binding *b;

  g_task_set_source_tag (task, nfltr_tunnel_binder_bind_async);

  b = g_hash_table_lookup (self->bindings, name);
  if (b == NULL)
    {
      b = g_new0 (Binding, 1);
      b->name = g_strdup (name);
      g_hash_table_insert (self->bindings, b->name, b);
    }
  b->mode = mode;
  memcpy (b->fingerprint, fingerprint, sizeof b->fingerprint);
  g_free (b->kind);
  b->kind = g_strdup (kind);

  switch (nfltr_relay_link_get_state (self->link))
    {
      case NFLTR_RELAY_LINK_CONNECTED:
        b->tasks = g_list_append (b->tasks, g_steal_pointer (&task));
        send_bind (self, b);
        break;
      case NFLTR_RELAY_LINK_CONNECTING:
        /* Sent with the others once WELCOME arrives. */
        b->tasks = g_list_append (b->tasks, g_steal_pointer (&task));
        break;
      case NFLTR_RELAY_LINK_STOPPED:
      case NFLTR_RELAY_LINK_UNREACHABLE:
      case NFLTR_RELAY_LINK_AUTH_FAILED:
      case NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH:
      default:
        /* Still wanted: bound as soon as the link comes back. */
        if (nfltr_relay_link_get_error (self->link))
          g_task_return_error (task, g_error_copy (nfltr_relay_link_get_error (self->link)));
        else
          g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                   "not connected to relay %s:%u", nfltr_relay_link_get_host (self->link),
                                   nfltr_relay_link_get_port (self->link));
        break;
    }
}

gboolean
nfltr_tunnel_binder_bind_finish (NfltrTunnelBinder  *self,
                                 GAsyncResult       *result,
                                 char              **url,
                                 GError            **error)
{
  g_autofree char *ret = g_task_propagate_pointer (G_TASK (result), error);

  if (ret == NULL)
    return FALSE;
  if (url)
    *url = g_steal_pointer (&ret);
  return TRUE;
}

void
nfltr_tunnel_binder_unbind (NfltrTunnelBinder *self,
                            const char        *name)
{
  Binding *b = g_hash_table_lookup (self->bindings, name);

  if (b == NULL)
    return;
  g_hash_table_steal (self->bindings, name);
  {
    g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                   "the tunnel was stopped");
    binding_complete (b, NULL, error);
  }
  binding_free (b);

  if (nfltr_relay_link_get_state (self->link) == NFLTR_RELAY_LINK_CONNECTED)
    send_unbind (self, name);
}

void
nfltr_tunnel_binder_refuse (NfltrTunnelBinder *self,
                            GBytes            *conn_id,
                            const char        *message)
{
  NfltrMsgConnRefuse msg = { .message = message };
  g_autoptr(NfltrFrame) frame = NULL;

  g_return_if_fail (g_bytes_get_size (conn_id) == sizeof msg.conn_id);
  memcpy (msg.conn_id, g_bytes_get_data (conn_id, NULL), sizeof msg.conn_id);
  frame = nfltr_msg_conn_refuse_encode (&msg);
  nfltr_relay_link_send (self->link, frame);
}

/* --- RELEASE (§6) ---------------------------------------------------------------------- */

static void
release_reply_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &error);
  const char *name = g_task_get_task_data (task);
  guint16 code = 0;
  const char *message;

  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (nfltr_frame_get_type (reply) == NFLTR_FRAME_RELEASED)
    {
      g_message ("released %s on the relay", name);
      g_task_return_boolean (task, TRUE);
      return;
    }
  message = nfltr_frame_get_string (reply, NFLTR_ATTR_MESSAGE);
  nfltr_frame_get_u16 (reply, NFLTR_ATTR_CODE, &code);
  if (nfltr_frame_get_type (reply) == NFLTR_FRAME_ERROR && code == NFLTR_PROTO_ERR_NAME_TAKEN)
    g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN, "%s",
                             message ? message : "the relay refused to release the name");
  else
    g_task_return_error (task, bind_error_from_frame (name, code, message ? message : ""));
}

void
nfltr_tunnel_binder_release_async (NfltrTunnelBinder   *self,
                                   const char          *name,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  NfltrMsgRelease release = { 0, name };
  g_autoptr(NfltrFrame) frame = nfltr_msg_release_encode (&release);

  g_task_set_source_tag (task, nfltr_tunnel_binder_release_async);
  g_task_set_task_data (task, g_strdup (name), g_free);
  nfltr_relay_link_request_async (self->link, frame, cancellable, release_reply_cb, task);
}

gboolean
nfltr_tunnel_binder_release_finish (NfltrTunnelBinder  *self,
                                    GAsyncResult       *result,
                                    GError            **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
nfltr_tunnel_binder_dispose (GObject *object)
{
  NfltrTunnelBinder *self = NFLTR_TUNNEL_BINDER (object);

  if (self->link != NULL)
    {
      g_clear_signal_handler (&self->state_changed_id, self->link);
      nfltr_relay_link_remove_frame_handler (self->link, self->error_handler_id);
      nfltr_relay_link_remove_frame_handler (self->link, self->conn_open_handler_id);
    }
  if (self->bindings)
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                     "the relay link was closed");
      fail_waiting_tasks (self, error);
    }
  g_clear_object (&self->link);

  G_OBJECT_CLASS (nfltr_tunnel_binder_parent_class)->dispose (object);
}

static void
nfltr_tunnel_binder_finalize (GObject *object)
{
  NfltrTunnelBinder *self = NFLTR_TUNNEL_BINDER (object);

  g_clear_pointer (&self->bindings, g_hash_table_unref);

  G_OBJECT_CLASS (nfltr_tunnel_binder_parent_class)->finalize (object);
}

static void
nfltr_tunnel_binder_class_init (NfltrTunnelBinderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_tunnel_binder_dispose;
  object_class->finalize = nfltr_tunnel_binder_finalize;

  /* name, host, url */
  signals[SIGNAL_BOUND] =
    g_signal_new ("bound", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  /* name, GError: the relay refused the name; it is no longer wanted */
  signals[SIGNAL_BIND_FAILED] =
    g_signal_new ("bind-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);
  /* name, conn-id (GBytes, 16 bytes), client-addr */
  signals[SIGNAL_CONN_OPEN] =
    g_signal_new ("conn-open", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_BYTES, G_TYPE_STRING);
}

static void
nfltr_tunnel_binder_init (NfltrTunnelBinder *self)
{
  self->bindings = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, binding_free);
}
