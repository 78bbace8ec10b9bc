/* nfltr-a2a-audit-log.h — checking a saved a2a conversation log (docs/protocol.md §13.6),
 * for `nfltr audit verify LOG [--checkpoint FILE]`.
 *
 * The log is JSON lines: a header {"nfltr-audit": "a2a-v1", "context", "agent-0", "agent-1"},
 * then one line per message {"n", "dir", "from", "msg", "len", "sha256", "link"}, n counting
 * from 1 per direction. The checkpoints file holds the peer's signed checkpoints, one per
 * line (nfltr-audit-checkpoint.h). Pure: text in, verdict out. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE when the log chains and agrees with every checkpoint; report says what was checked.
 * FALSE with the first bad frame named in error (NFLTR_AUDIT_ERROR). checkpoints may be
 * NULL. */
gboolean nfltr_a2a_audit_verify (const char  *log,
                                 gsize        log_len,
                                 const char  *checkpoints,
                                 gsize        checkpoints_len,
                                 GString     *report,
                                 GError     **error);

G_END_DECLS
