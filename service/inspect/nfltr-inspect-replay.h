/* nfltr-inspect-replay.h — sending a recorded request again, to the local server itself.
 *
 * The replay does not go through the relay or the tunnel's TLS: it is a new HTTP/1.1
 * connection from the agent to the tunnel's target (TLS when the tunnel uses --origin-tls,
 * without checking the server's certificate, as the tunnel does not either), one request
 * with Connection: close. What comes back is recorded as a new exchange marked replay_of. */
#pragma once

#include "nfltr-inspect-edits.h"

G_BEGIN_DECLS

/* How long a replay may take in all. */
#define NFLTR_INSPECT_REPLAY_TIMEOUT_S 30
/* A response above this is cut (it is recorded up to the store's cap anyway). */
#define NFLTR_INSPECT_REPLAY_MAX_RESPONSE (64 * 1024 * 1024)

void    nfltr_inspect_replay_async  (NfltrInspectStore   *store,
                                     guint64              id,
                                     const char          *edits_json,
                                     gsize                edits_len,
                                     const char          *origin_host,
                                     guint16              origin_port,
                                     gboolean             origin_tls,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
/* The new exchange's id. */
guint64 nfltr_inspect_replay_finish (GAsyncResult  *result,
                                     GError       **error);

G_END_DECLS
