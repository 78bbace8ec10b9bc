/* nfltr-inspect-h1.h — the inspector's view of one HTTP/1.1 connection.
 *
 * A pure push parser fed two streams: the requests as they went to the local server (after
 * the rewriter: what the server saw) and the server's answers. It pairs them in order (RFC
 * 9112 §9.3: responses come in request order), takes bodies apart by their framing (§6:
 * Content-Length, chunked, or to the close) and hands each exchange to an
 * NfltrInspectRecord. It stops following the connection at anything it cannot read, or after
 * a protocol switch (101, a 2xx to CONNECT); the bytes themselves are never changed, only
 * looked at. Fuzzed by fuzz/fuzz-inspect-h1.c. */
#pragma once

#include "nfltr-inspect-store.h"

G_BEGIN_DECLS

typedef struct _NfltrInspectH1 NfltrInspectH1;

/* store may be NULL: then nothing is recorded and the feeds return at once. */
NfltrInspectH1 *nfltr_inspect_h1_new           (NfltrInspectStore *store,
                                                const char        *client);
/* The end of the connection: a response read to the close ends here, and requests that got
 * no answer are recorded with an error. */
void            nfltr_inspect_h1_free          (NfltrInspectH1    *self);
void            nfltr_inspect_h1_feed_request  (NfltrInspectH1    *self,
                                                const guint8      *data,
                                                gsize              len);
void            nfltr_inspect_h1_feed_response (NfltrInspectH1    *self,
                                                const guint8      *data,
                                                gsize              len);
/* Marks every exchange this observer records as a replay of `id`. */
void            nfltr_inspect_h1_set_replay_of (NfltrInspectH1    *self,
                                                guint64            id);
/* The end of the connection without freeing: records what is pending (as free does) and
 * returns the id of the last exchange stored, 0 if none. Later feeds are ignored. */
guint64         nfltr_inspect_h1_end           (NfltrInspectH1    *self);
/* The id of the last exchange it stored, 0 if none yet. */
guint64         nfltr_inspect_h1_get_last_id   (NfltrInspectH1    *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrInspectH1, nfltr_inspect_h1_free)

G_END_DECLS
