/* cli-client.h — reaching the NFLTR service.
 *
 * In this order (docs/cli.md "How nfltr reaches the service"):
 *  1. $NFLTR_SERVICE_BUS_ADDRESS if set, else the session bus when there is one; if nobody owns
 *     xyz.nfltr.Nfltr.Service: D-Bus activation, else nfltr-service spawned detached, and a wait
 *     of up to 5 s for the name;
 *  2. no session bus at all: the engine runs in a thread of this process, reached over a
 *     private peer-to-peer D-Bus connection (socketpair), so the commands' code is the same.
 */
#pragma once

#include <gio/gio.h>

#include "nfltr-dbus.h"

G_BEGIN_DECLS

typedef struct _CliClient CliClient;

typedef void (*CliClientLostFunc) (gpointer user_data);

/* Blocks (iterating the default main context) until the service answers. */
CliClient        *cli_client_connect        (GError **error);
void              cli_client_free           (CliClient *client);

GDBusConnection  *cli_client_get_connection (CliClient *client);
/* The Manager at /xyz/nfltr/Nfltr; calls time out after a minute. */
NfltrDbusManager *cli_client_get_manager    (CliClient *client);
/* The bus name to address, NULL in peer-to-peer (in-process) mode. */
const char       *cli_client_get_bus_name   (CliClient *client);
gboolean          cli_client_is_in_process  (CliClient *client);
/* "session bus", "bus $NFLTR_SERVICE_BUS_ADDRESS" or "in-process engine" */
const char       *cli_client_describe       (CliClient *client);

/* A proxy for the tunnel at object_path (properties loaded, PropertiesChanged followed). */
NfltrDbusTunnel  *cli_client_get_tunnel     (CliClient   *client,
                                             const char  *object_path,
                                             GError     **error);

/* Called once, on the default main context, when the service goes away (its bus name loses its
 * owner, or the connection closes). */
void              cli_client_set_lost_func  (CliClient         *client,
                                             CliClientLostFunc  func,
                                             gpointer           user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliClient, cli_client_free)

G_END_DECLS
