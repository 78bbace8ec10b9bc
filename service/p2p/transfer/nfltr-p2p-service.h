/* nfltr-p2p-service.h — the P2P track inside the service: the xyz.nfltr.Nfltr.P2p object on
 * /xyz/nfltr/Nfltr/p2p, the transfers it starts (/transfers/<id>), and the routing of the
 * relay's P2P_SIGNAL and P2P_RELAY frames to them by offer id (docs/protocol.md §9.7). */
#pragma once

#include <gio/gio.h>

#include "nfltr-dbus.h"
#include "nfltr-relay-link.h"

G_BEGIN_DECLS

typedef struct _NfltrSession NfltrSession;

#define NFLTR_TYPE_P2P_SERVICE (nfltr_p2p_service_get_type ())
G_DECLARE_FINAL_TYPE (NfltrP2pService, nfltr_p2p_service, NFLTR, P2P_SERVICE, NfltrDbusP2pSkeleton)

NfltrP2pService *nfltr_p2p_service_new (NfltrSession             *session,
                                        const char               *data_dir,
                                        GDBusObjectManagerServer *object_manager);
void             nfltr_p2p_service_shutdown (NfltrP2pService *self);

/* For the transfers: the current link (NULL when none is connected). */
NfltrRelayLink  *nfltr_p2p_service_get_link (NfltrP2pService *self);
/* Routes frames carrying peer-id to transfer (NULL: stop routing id). */
void             nfltr_p2p_service_route (NfltrP2pService *self,
                                          const char      *offer_id,
                                          gpointer         transfer);

/* issue 14: exports an incoming or new call on /xyz/nfltr/Nfltr/calls/<id>; returns the path. */
typedef struct _NfltrP2pCall NfltrP2pCall;
char            *nfltr_p2p_service_export_call (NfltrP2pService *self,
                                                NfltrP2pCall    *call,
                                                const char      *id);

G_END_DECLS
