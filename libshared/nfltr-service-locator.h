/* nfltr-service-locator.h — how a client (nfltr, nfltr-app) finds nfltr-service.
 *
 *  1. the bus: $NFLTR_SERVICE_BUS_ADDRESS if set (tests, private buses), else the session bus;
 *  2. the service on it: NameHasOwner, else D-Bus activation (StartServiceByName), else
 *     nfltr-service started by us, detached in its own session with / as its directory and its
 *     output appended to $XDG_STATE_HOME/nfltr/service.log, and a wait until it owns its name,
 *     exits, or the wait is over.
 *
 * What a client does when there is no bus at all (the CLI runs the engine in-process) stays
 * with that client. The _sync variants iterate the thread-default main context until done. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NFLTR_SERVICE_LOCATOR_ERROR (nfltr_service_locator_error_quark ())
GQuark nfltr_service_locator_error_quark (void);

/* Which step failed, so a client can say it in its own words; the message has the details. */
typedef enum {
  NFLTR_SERVICE_LOCATOR_ERROR_BUS,        /* the bus cannot be reached or does not answer */
  NFLTR_SERVICE_LOCATOR_ERROR_NOT_FOUND,  /* no D-Bus activation and no nfltr-service binary */
  NFLTR_SERVICE_LOCATOR_ERROR_SPAWN,      /* the binary could not be started */
  NFLTR_SERVICE_LOCATOR_ERROR_NOT_READY,  /* it exited, or did not take its name in time */
} NfltrServiceLocatorError;

/* $NFLTR_SERVICE_BUS_ADDRESS when set and not empty, else NULL (the session bus). */
const char      *nfltr_service_locator_get_bus_address (void);

/* Connects to the service's bus (see 1. above); the session bus is the shared singleton. */
void             nfltr_service_locator_get_bus         (GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
GDBusConnection *nfltr_service_locator_get_bus_finish  (GAsyncResult         *result,
                                                        GError              **error);
GDBusConnection *nfltr_service_locator_get_bus_sync    (GCancellable         *cancellable,
                                                        GError              **error);

/* Makes sure xyz.nfltr.Nfltr.Service has an owner on connection (see 2. above), waiting up to
 * wait_seconds for a service we started ourselves. */
void             nfltr_service_locator_ensure          (GDBusConnection      *connection,
                                                        guint                 wait_seconds,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
gboolean         nfltr_service_locator_ensure_finish   (GAsyncResult         *result,
                                                        GError              **error);
gboolean         nfltr_service_locator_ensure_sync     (GDBusConnection      *connection,
                                                        guint                 wait_seconds,
                                                        GCancellable         *cancellable,
                                                        GError              **error);

/* $XDG_STATE_HOME/nfltr/service.log opened for appending, after a first line saying who writes
 * ("--- <time>: <who> (<program> pid <pid>)"); -1 when it cannot be opened. */
int              nfltr_service_locator_open_log        (const char           *who,
                                                        char                **log_path_out);

G_END_DECLS
