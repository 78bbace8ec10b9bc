/* nfltr-session.h — the agent's standing with its relay: login, logout, probe.
 *
 * The session owns the relay settings (relay.json), the API key (nfltr-credentials) and the
 * relay link with its tunnel binder. It knows nothing of tunnels: the tunnel manager hears
 * "link-adopted" (bind what should be up on the new binder) and "link-state-changed"; the
 * D-Bus Manager hears "changed" (the Relay* properties). */
#pragma once

#include <gio/gio.h>

#include "nfltr-relay-link.h"
#include "nfltr-state.h"
#include "nfltr-tunnel-binder.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_SESSION (nfltr_session_get_type ())
G_DECLARE_FINAL_TYPE (NfltrSession, nfltr_session, NFLTR, SESSION, GObject)

/* Signals:
 *   changed             what get_relay/get_relay_state report may have changed
 *   link-state-changed  the current link's state changed (after "changed")
 *   link-adopted        a new link and binder are in place (after "changed")
 */
NfltrSession           *nfltr_session_new              (const char *config_dir,
                                                        const char *agent_id);
/* Reads relay.json; a damaged file is logged and treated as no login. */
void                    nfltr_session_load             (NfltrSession *self);
/* Looks the saved relay's key up (libsecret may take a while) and connects with it. */
void                    nfltr_session_restore          (NfltrSession *self);
/* Leaves the relay without a word and forgets any lookup in progress. */
void                    nfltr_session_shutdown         (NfltrSession *self);

/* relay is "HOST[:PORT]"; completes with the certificate's fingerprint and subject. */
void                    nfltr_session_probe_async      (NfltrSession        *self,
                                                        const char          *relay,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
gboolean                nfltr_session_probe_finish     (NfltrSession  *self,
                                                        GAsyncResult  *result,
                                                        char         **fingerprint,
                                                        char         **subject,
                                                        GError       **error);
/* Probes, checks expected (when not empty), says HELLO over a link pinned to what it saw,
 * and once WELCOME arrived makes that relay, pin and key the agent's. Completes with the
 * pinned fingerprint. */
void                    nfltr_session_login_async      (NfltrSession        *self,
                                                        const char          *relay,
                                                        const char          *api_key,
                                                        const char          *expected_fingerprint,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
char                   *nfltr_session_login_finish     (NfltrSession  *self,
                                                        GAsyncResult  *result,
                                                        GError       **error);
/* Forgets the key (both stores) and relay.json, disconnects. */
void                    nfltr_session_logout           (NfltrSession *self);

/* TRUE from nfltr_session_restore() until the saved relay's key was found (the link then
 * exists) or was not (the session then reports why); "changed" is emitted when it ends. */
gboolean                nfltr_session_is_restoring     (NfltrSession *self);
/* NULL when logged out. */
const NfltrRelayConfig *nfltr_session_get_relay        (NfltrSession *self);
/* NULL when logged out or while the key is being looked up. */
NfltrRelayLink         *nfltr_session_get_link         (NfltrSession *self);
NfltrTunnelBinder      *nfltr_session_get_binder       (NfltrSession *self);
/* The relay's domain: the link's WELCOME, else relay.json, else the default. */
const char             *nfltr_session_get_domain       (NfltrSession *self);
/* STOPPED means logged out; error (may be NULL) says why the relay is not connected. */
NfltrRelayLinkState     nfltr_session_get_relay_state  (NfltrSession  *self,
                                                        const GError **error);
/* FALSE with NFLTR_ERROR_NOT_LOGGED_IN when there is no link to bind on. */
gboolean                nfltr_session_check_logged_in  (NfltrSession  *self,
                                                        GError       **error);

G_END_DECLS
