/* nfltr-frame-router.c — handlers per frame type and request-id correlation for the link */
#define G_LOG_DOMAIN "nfltr-relay-link"

#include "nfltr-frame-router.h"

typedef struct {
  guint             id;
  NfltrFrameType    type;
  NfltrFrameHandler handler;
  gpointer          user_data;
} FrameHandler;

/* A request waiting for the frame that carries its request-id. */
typedef struct {
  NfltrFrameRouter *router;
  guint32           request_id;
  GTask            *task;
  GCancellable     *cancellable;
  gulong            cancelled_id;
} Request;

struct _NfltrFrameRouter {
  NfltrRelayLink *link;
  GArray *handlers;       /* FrameHandler, in the order they were added */
  guint next_handler_id;
  GHashTable *requests;   /* request-id -> Request* */
  guint32 next_request_id;
};

NfltrFrameRouter *
nfltr_frame_router_new (NfltrRelayLink *link)
{
  NfltrFrameRouter *self = g_new0 (NfltrFrameRouter, 1);

  self->link = link;
  self->handlers = g_array_new (FALSE, FALSE, sizeof (FrameHandler));
  self->requests = g_hash_table_new (NULL, NULL);
  return self;
}

void
nfltr_frame_router_free (NfltrFrameRouter *self)
{
  if (self == NULL)
    return;
  /* The link fails its requests when its connection ends, before it goes. */
  g_assert (g_hash_table_size (self->requests) == 0);
  g_hash_table_unref (self->requests);
  g_array_unref (self->handlers);
  g_free (self);
}

/* --- handlers -------------------------------------------------------------------------- */

guint
nfltr_frame_router_add_handler (NfltrFrameRouter  *self,
                                NfltrFrameType     type,
                                NfltrFrameHandler  handler,
                                gpointer           user_data)
{
  FrameHandler h = { ++self->next_handler_id, type, handler, user_data };

  g_array_append_val (self->handlers, h);
  return h.id;
}

void
nfltr_frame_router_remove_handler (NfltrFrameRouter *self,
                                   guint             handler_id)
{
  for (guint i = 0; i < self->handlers->len; i++)
    if (g_array_index (self->handlers, FrameHandler, i).id == handler_id)
      {
        g_array_remove_index (self->handlers, i);
        return;
      }
}

/* Handlers are looked up again before each call: one may remove another (or itself). */
gboolean
nfltr_frame_router_run_handlers (NfltrFrameRouter *self,
                                 const NfltrFrame *frame)
{
  NfltrFrameType type = nfltr_frame_get_type (frame);
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; i < self->handlers->len; i++)
    {
      const FrameHandler *h = &g_array_index (self->handlers, FrameHandler, i);
      if (h->type == type)
        g_array_append_val (ids, h->id);
    }
  for (guint i = 0; i < ids->len; i++)
    for (guint j = 0; j < self->handlers->len; j++)
      {
        FrameHandler h = g_array_index (self->handlers, FrameHandler, j);
        if (h.id != g_array_index (ids, guint, i))
          continue;
        if (h.handler (self->link, frame, h.user_data))
          return TRUE;
        break;
      }
  return FALSE;
}

/* --- requests -------------------------------------------------------------------------- */

static void
request_free (Request *request)
{
  if (request->cancelled_id != 0)
    g_signal_handler_disconnect (request->cancellable, request->cancelled_id);
  g_clear_object (&request->cancellable);
  g_clear_object (&request->task);
  g_free (request);
}

/* Takes the request out of the table and frees it; the caller completes the task. */
static GTask *
steal_task (NfltrFrameRouter *self, guint32 request_id)
{
  Request *request = NULL;
  GTask *task;

  if (!g_hash_table_steal_extended (self->requests, GUINT_TO_POINTER (request_id),
                                    NULL, (gpointer *) &request))
    return NULL;
  task = g_steal_pointer (&request->task);
  request_free (request);
  return task;
}

/* The engine is single-threaded: "cancelled" is emitted on the thread that owns the link. */
static void
request_cancelled_cb (GCancellable *cancellable, Request *request)
{
  g_autoptr(GTask) task = steal_task (request->router, request->request_id);

  if (task != NULL)
    g_task_return_error_if_cancelled (task);
}

guint32
nfltr_frame_router_add_request (NfltrFrameRouter *self,
                                GTask            *task)
{
  Request *request = g_new0 (Request, 1);
  GCancellable *cancellable = g_task_get_cancellable (task);

  request->router = self;
  request->request_id = ++self->next_request_id;
  request->task = task;
  g_hash_table_insert (self->requests, GUINT_TO_POINTER (request->request_id), request);
  if (cancellable != NULL)
    {
      request->cancellable = g_object_ref (cancellable);
      request->cancelled_id = g_signal_connect (cancellable, "cancelled",
                                                G_CALLBACK (request_cancelled_cb), request);
    }
  return request->request_id;
}

gboolean
nfltr_frame_router_complete_request (NfltrFrameRouter  *self,
                                     NfltrFrame       **frame)
{
  guint32 request_id;
  g_autoptr(GTask) task = NULL;

  if (!nfltr_frame_get_u32 (*frame, NFLTR_ATTR_REQUEST_ID, &request_id) ||
      (task = steal_task (self, request_id)) == NULL)
    return FALSE;
  g_task_return_pointer (task, g_steal_pointer (frame), (GDestroyNotify) nfltr_frame_free);
  return TRUE;
}

/* Tasks are returned after the table is empty, since a callback may send a new request. */
void
nfltr_frame_router_fail_requests (NfltrFrameRouter *self,
                                  const GError     *error)
{
  g_autoptr(GPtrArray) tasks = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->requests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Request *request = value;
      g_ptr_array_add (tasks, g_steal_pointer (&request->task));
      g_hash_table_iter_steal (&iter);
      request_free (request);
    }
  for (guint i = 0; i < tasks->len; i++)
    g_task_return_error (g_ptr_array_index (tasks, i), g_error_copy (error));
}
