/* nfltr-client.h — the app's connection to nfltr-service: activation, the manager and the
 * live list of tunnels from the object manager. Everything here is asynchronous. */
#pragma once

#include <gio/gio.h>

#include "nfltr-dbus.h"

G_BEGIN_DECLS

typedef enum {
  NFLTR_CLIENT_STATE_CONNECTING,
  NFLTR_CLIENT_STATE_READY,
  NFLTR_CLIENT_STATE_FAILED,
} NfltrClientState;

#define NFLTR_TYPE_CLIENT (nfltr_client_get_type ())
G_DECLARE_FINAL_TYPE (NfltrClient, nfltr_client, NFLTR, CLIENT, GObject)

NfltrClient      *nfltr_client_new          (void);
void              nfltr_client_connect      (NfltrClient *self);
NfltrClientState  nfltr_client_get_state    (NfltrClient *self);
const char       *nfltr_client_get_error    (NfltrClient *self);
NfltrDbusManager *nfltr_client_get_manager  (NfltrClient *self);
GListModel       *nfltr_client_get_tunnels  (NfltrClient *self);
NfltrDbusTunnel  *nfltr_client_find_tunnel  (NfltrClient *self,
                                             const char  *id_or_path);

G_END_DECLS
