/* nfltr-a2a-service.h — the a2a track inside the service (docs/protocol.md §13): the
 * xyz.nfltr.Nfltr.A2a object on /xyz/nfltr/Nfltr/a2a, the identity key, the pins, sealing and
 * opening messages, receipts with signed checkpoints, the conversation logs, and the relay's
 * A2A_MESSAGE frames. a2a serve/connect live in nfltr-a2a-http.c. */
#pragma once

#include <gio/gio.h>

#include "nfltr-dbus.h"
#include "nfltr-relay-link.h"

G_BEGIN_DECLS

typedef struct _NfltrSession NfltrSession;

#define NFLTR_TYPE_A2A_SERVICE (nfltr_a2a_service_get_type ())
G_DECLARE_FINAL_TYPE (NfltrA2aService, nfltr_a2a_service, NFLTR, A2A_SERVICE, NfltrDbusA2aSkeleton)

/* NULL (and a logged reason) when the identity key cannot be read or made. */
NfltrA2aService *nfltr_a2a_service_new      (NfltrSession             *session,
                                             const char               *data_dir,
                                             GDBusObjectManagerServer *object_manager);
void             nfltr_a2a_service_shutdown (NfltrA2aService *self);

/* For nfltr-a2a-http.c: seals payload as an inner message of type for peer (whose key must be
 * pinned) and sends it; nothing waits for a reply. */
gboolean         nfltr_a2a_service_send_inner (NfltrA2aService *self,
                                               const char      *peer,
                                               guint8           type,
                                               const guint8    *payload,
                                               gsize            payload_len,
                                               GError         **error);
/* Resolves name (an a2a name or an agent id) at the relay, pins or checks its key, and
 * completes with the agent id. */
void             nfltr_a2a_service_resolve_async  (NfltrA2aService     *self,
                                                   const char          *name,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
char            *nfltr_a2a_service_resolve_finish (NfltrA2aService  *self,
                                                   GAsyncResult     *result,
                                                   GError          **error);
/* Asks the relay to route name to this agent. */
void             nfltr_a2a_service_register_async  (NfltrA2aService     *self,
                                                    const char          *name,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean         nfltr_a2a_service_register_finish (NfltrA2aService  *self,
                                                    GAsyncResult     *result,
                                                    GError          **error);

G_END_DECLS
