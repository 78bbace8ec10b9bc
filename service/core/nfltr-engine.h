/* nfltr-engine.h — the agent engine: relay link, tunnels, credentials and state, exported as
 * D-Bus objects. nfltr-service exports it on the session bus; the CLI runs it in-process on a
 * private peer-to-peer connection when there is no session bus. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NFLTR_TYPE_ENGINE (nfltr_engine_get_type ())
G_DECLARE_FINAL_TYPE (NfltrEngine, nfltr_engine, NFLTR, ENGINE, GObject)

/* Settings go to $XDG_CONFIG_HOME/nfltr, certificates and the agent id to
 * $XDG_DATA_HOME/nfltr (read from the environment at this call). */
NfltrEngine *nfltr_engine_new      (GError **error);
/* Exports the object manager at /xyz/nfltr/Nfltr (xyz.nfltr.Nfltr.Manager on the same path,
 * tunnels at /xyz/nfltr/Nfltr/tunnels/<id>) and restores the saved relay and tunnels.
 * Call once. */
gboolean     nfltr_engine_export   (NfltrEngine      *self,
                                    GDBusConnection  *connection,
                                    GError          **error);
/* Leaves the relay, ends every data connection and unexports. Idempotent. */
void         nfltr_engine_shutdown (NfltrEngine *self);

G_END_DECLS
