/* nfltr-inspect-edits.h — a replay's request: the recorded one, changed as the user asked.
 *
 * The edits come from the web page's POST body or D-Bus Replay's argument: a JSON object
 * with any of "method" (a token), "path" (an origin-form target starting with "/"),
 * "headers" ([[name, value], …], replacing the recorded fields), "body" (text) or
 * "body_base64". Anything else is refused with a message for the user, and so is a field
 * that would let the request be read differently by the local server (CR, LF or NUL in a
 * name or value, framing fields: the builder writes Content-Length itself). Pure: fuzzed by
 * fuzz/fuzz-inspect-edits.c. */
#pragma once

#include "nfltr-inspect-store.h"

G_BEGIN_DECLS

/* Edits larger than this are refused. */
#define NFLTR_INSPECT_MAX_EDITS (8 * 1024 * 1024)

typedef struct {
  char *method;          /* NULL: as recorded */
  char *path;
  GPtrArray *headers;    /* NfltrInspectHeader, or NULL: as recorded */
  GBytes *body;          /* NULL: as recorded */
} NfltrInspectEdits;

NfltrInspectEdits *nfltr_inspect_edits_parse (const char  *json,
                                              gsize        len,
                                              GError     **error);
void               nfltr_inspect_edits_free  (NfltrInspectEdits *edits);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrInspectEdits, nfltr_inspect_edits_free)

/* The HTTP/1.1 request to send for ex changed by edits (NULL: none): request line, the
 * fields without hop-by-hop and framing ones, Host (recorded, else origin_host), an
 * X-Nfltr-Replay field naming the original, Content-Length, Connection: close, the body.
 * Fails when the body is needed but was not kept (or was cut at the cap). */
GBytes            *nfltr_inspect_build_request (const NfltrInspectExchange *ex,
                                                const NfltrInspectEdits    *edits,
                                                const char                 *origin_host,
                                                GError                    **error);

G_END_DECLS
