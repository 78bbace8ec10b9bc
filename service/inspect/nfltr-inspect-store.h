/* nfltr-inspect-store.h — the request inspector's recording (issue 9 §8): one bounded ring of
 * HTTP exchanges per tunnel, in the agent's memory only.
 *
 * The agent terminates TLS, so it sees each request and response in clear; the relay never
 * does, whatever is recorded here. A ring holds at most `max_count` exchanges and `max_bytes`
 * of headers and bodies; the oldest go first. Nothing is written to disk: the only way out is
 * the D-Bus Inspector interface, the loopback web page and an explicit HAR export.
 *
 * Exchanges are added from the data path's threads (nfltr-inspect-record.h) and read from the
 * main thread; the store locks around both. Listeners hear each new exchange on the main
 * context that created the store ("exchange-added"). */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Defaults: metadata of the last 500 exchanges, at most 16 MiB with their bodies. */
#define NFLTR_INSPECT_DEFAULT_COUNT 500
#define NFLTR_INSPECT_DEFAULT_BYTES (16 * 1024 * 1024)
/* --inspect-bodies without a size keeps this much of each body. */
#define NFLTR_INSPECT_DEFAULT_BODY_CAP (64 * 1024)

typedef struct {
  char *name;
  char *value;
} NfltrInspectHeader;

/* One request and its response. Immutable once in the store (reference counted). */
typedef struct {
  gint ref_count;
  guint64 id;             /* 1, 2, … per store; set by the store */
  guint64 replay_of;      /* the exchange this one replayed, or 0 */
  gint64 time_us;         /* wall clock when the request head arrived */
  gint64 duration_us;     /* request head → end of the response (or of the connection) */
  char *http_version;     /* "1.1", "2" */
  char *method;
  char *path;
  char *host;
  char *client;           /* the visitor's address, or NULL (replay: "replay") */
  guint status;           /* 0: no response */
  char *error;            /* why there was no (whole) response, or NULL */
  GPtrArray *req_headers; /* NfltrInspectHeader */
  GPtrArray *resp_headers;
  guint64 req_size;       /* body bytes as they went, whether kept or not */
  guint64 resp_size;
  GBytes *req_body;       /* the kept part (decoded when gzip), or NULL when not kept */
  GBytes *resp_body;
  gboolean req_truncated; /* more than the cap arrived */
  gboolean resp_truncated;
  gboolean req_binary;    /* not UTF-8 text: shown as hex */
  gboolean resp_binary;
  gboolean resp_decoded;  /* resp_body is the gzip-decoded content */
} NfltrInspectExchange;

NfltrInspectExchange *nfltr_inspect_exchange_new   (void);
NfltrInspectExchange *nfltr_inspect_exchange_ref   (NfltrInspectExchange *ex);
void                  nfltr_inspect_exchange_unref (NfltrInspectExchange *ex);
const char           *nfltr_inspect_exchange_get_header (const NfltrInspectExchange *ex,
                                                         gboolean                    response,
                                                         const char                 *name);
/* Summary (list rows) or everything (bodies as text or base64). */
JsonNode             *nfltr_inspect_exchange_to_json (const NfltrInspectExchange *ex,
                                                      gboolean                    full);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrInspectExchange, nfltr_inspect_exchange_unref)

#define NFLTR_TYPE_INSPECT_STORE (nfltr_inspect_store_get_type ())
G_DECLARE_FINAL_TYPE (NfltrInspectStore, nfltr_inspect_store, NFLTR, INSPECT_STORE, GObject)

/* body_cap: bytes of each body to keep, 0 for metadata only. */
NfltrInspectStore *nfltr_inspect_store_new          (guint    max_count,
                                                     gsize    max_bytes,
                                                     gsize    body_cap);
gsize              nfltr_inspect_store_get_body_cap (NfltrInspectStore *self);
/* Any thread. Sets ex->id; evicts the oldest past the bounds; the signal follows on the
 * store's main context. Returns the id. */
guint64            nfltr_inspect_store_add          (NfltrInspectStore    *self,
                                                     NfltrInspectExchange *ex);
/* Exchanges with an id above `since`, oldest first (new references). */
GPtrArray         *nfltr_inspect_store_list         (NfltrInspectStore *self,
                                                     guint64            since);
NfltrInspectExchange *nfltr_inspect_store_get       (NfltrInspectStore *self,
                                                     guint64            id);
guint              nfltr_inspect_store_get_count    (NfltrInspectStore *self);
gsize              nfltr_inspect_store_get_bytes    (NfltrInspectStore *self);
/* {"exchanges": [summaries…]} as a string. */
char              *nfltr_inspect_store_list_json    (NfltrInspectStore *self,
                                                     guint64            since);
/* HTTP Archive 1.2 of everything kept (the "Save as HAR" export). */
char              *nfltr_inspect_store_to_har       (NfltrInspectStore *self);

G_END_DECLS
