/* nfltr-frame-router.h — the relay link's dispatch table (private to service/relay-link).
 *
 * Handlers per frame type, in the order they were added, and the requests waiting for the
 * frame that carries their request-id. The link owns one, feeds it every frame after the
 * pre-WELCOME checks, and decides what happens to a frame nobody took. */
#pragma once

#include <gio/gio.h>

#include "nfltr-relay-link.h"

G_BEGIN_DECLS

typedef struct _NfltrFrameRouter NfltrFrameRouter;

/* link is what handlers are called with; the router holds no reference to it. */
NfltrFrameRouter *nfltr_frame_router_new              (NfltrRelayLink *link);
void              nfltr_frame_router_free             (NfltrFrameRouter *self);

guint             nfltr_frame_router_add_handler      (NfltrFrameRouter  *self,
                                                       NfltrFrameType     type,
                                                       NfltrFrameHandler  handler,
                                                       gpointer           user_data);
void              nfltr_frame_router_remove_handler   (NfltrFrameRouter *self,
                                                       guint             handler_id);
/* TRUE when a handler for the frame's type took it. Handlers may add and remove handlers. */
gboolean          nfltr_frame_router_run_handlers     (NfltrFrameRouter *self,
                                                       const NfltrFrame *frame);

/* Takes task (completed with the reply NfltrFrame*, or failed) and returns the fresh
 * request-id to send with the request. Cancelling the task's cancellable ends the wait. */
guint32           nfltr_frame_router_add_request      (NfltrFrameRouter *self,
                                                       GTask            *task);
/* TRUE when *frame answered a waiting request, which then owns it (*frame is NULL). */
gboolean          nfltr_frame_router_complete_request (NfltrFrameRouter  *self,
                                                       NfltrFrame       **frame);
/* Every waiting request fails with error (the connection that carried them ended). */
void              nfltr_frame_router_fail_requests    (NfltrFrameRouter *self,
                                                       const GError     *error);

G_END_DECLS
