/* nfltr-inspect-server.h — the inspector's local web page (issue 9 §8), like ngrok's
 * localhost:4040 but in the agent: a SoupServer on loopback, on the service's main context.
 *
 * Pages, script and style come from a GResource (no CDN). Every request must name the page's
 * own loopback address and port in Host (DNS rebinding) and carry the per-run token: once as
 * ?token=… in the URL the CLI prints, which becomes a SameSite=Strict cookie. The replay POST
 * also needs the token in X-Nfltr-Token, which a cross-site form cannot send, and a
 * same-origin Origin when the browser sends one. Routes: / (the page), /inspect.js,
 * /inspect.css, /api/info, /api/exchanges?since=N, /api/exchanges/ID,
 * /api/exchanges/ID/replay (POST, edits JSON), /api/events (server-sent events), /api/har. */
#pragma once

#include "nfltr-dbus.h"
#include "nfltr-inspect-store.h"

G_BEGIN_DECLS

typedef struct _NfltrInspectServer NfltrInspectServer;

/* The replay the POST asks for: the inspector runs it (nfltr-inspect-replay.h). */
typedef void (*NfltrInspectReplayFunc) (gpointer             data,
                                        guint64              id,
                                        const char          *edits,
                                        gsize                edits_len,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data);
typedef guint64 (*NfltrInspectReplayFinishFunc) (GAsyncResult *result, GError **error);

/* tunnel: named in the page's header (/api/info); must outlive the server. */
NfltrInspectServer *nfltr_inspect_server_new     (NfltrInspectStore            *store,
                                                  NfltrDbusTunnel              *tunnel,
                                                  NfltrInspectReplayFunc        replay,
                                                  NfltrInspectReplayFinishFunc  replay_finish,
                                                  gpointer                      replay_data);
/* Listens on host:port, or the next of NFLTR_INSPECT_PORT_TRIES ports when it is taken
 * (the message says so). */
gboolean            nfltr_inspect_server_listen  (NfltrInspectServer *self,
                                                  const char         *host,
                                                  guint16             port,
                                                  GError            **error);
/* "http://127.0.0.1:4040/?token=…" once listening. */
const char         *nfltr_inspect_server_get_url (NfltrInspectServer *self);
void                nfltr_inspect_server_free    (NfltrInspectServer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrInspectServer, nfltr_inspect_server_free)

G_END_DECLS
