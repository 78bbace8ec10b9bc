/* cli-output.h — what the user reads: messages, byte units, tunnel lines, JSON lines.
 *
 * Everything the integration tests match on is produced here, so the wording lives in one
 * place (and in docs/cli.md). */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "nfltr-dbus.h"

G_BEGIN_DECLS

/* Exit statuses (docs/cli.md "Exit status"). */
#define CLI_EXIT_OK          0
#define CLI_EXIT_FAILURE     1   /* the service (or reaching it) failed */
#define CLI_EXIT_USAGE       2   /* the command line was rejected; nothing was attempted */
#define CLI_EXIT_INTERRUPTED 130 /* Ctrl-C before the tunnel was online */

/* Prints "nfltr: <message>" on stderr and returns status. */
int   cli_fail       (int status, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Prints an error as "nfltr: <message>", without the "GDBus.Error:<name>: " prefix a
 * remote error carries. */
void  cli_print_error (const GError *error);
/* The message without the remote prefix (newly allocated). */
char *cli_error_message (const GError *error);

/* 0 → "0 B", 1023 → "1023 B", 1536 → "1.5 KiB", … up to EiB (IEC units, one decimal,
 * '.' whatever the locale). */
char *cli_format_bytes (guint64 bytes);

/* "Connections: 1 open, 3 total   In: 1.5 KiB   Out: 12.0 MiB" */
char *cli_format_stats (guint   active,
                        guint64 total,
                        guint64 bytes_in,
                        guint64 bytes_out);

/* "verified" → "verified end-to-end";
 * "inspectable" → "INSPECTABLE — the relay can read this traffic (--e2ee=false)";
 * anything else is returned as is. */
const char *cli_mode_description (const char *mode);

/* TRUE when stdout is a terminal (live line updated in place, colour unless NO_COLOR). */
gboolean cli_stdout_is_tty (void);
gboolean cli_use_color     (void);

/* Writes the builder's root as one compact JSON line on stdout and flushes. */
void  cli_json_print_line (JsonBuilder *builder);
/* Same, for a node. */
void  cli_json_print_node (JsonNode *node);
/* Members of the JSON objects the commands print; a NULL string is written as "". */
void  cli_json_add_string (JsonBuilder *builder,
                           const char  *member,
                           const char  *value);
void  cli_json_add_int    (JsonBuilder *builder,
                           const char  *member,
                           gint64       value);
/* One tunnel as an object, as `nfltr list --json` prints it (docs/cli.md). */
void  cli_json_add_tunnel (JsonBuilder     *builder,
                           NfltrDbusTunnel *tunnel);
/* Writes text and a newline on stdout and flushes. */
void  cli_print_flushed   (const char *text);

/* The events of `nfltr http|tcp --json` (docs/cli.md), each one compact JSON object without
 * the newline. NULL strings are written as "". */
/* The same ready event from the tunnel itself, with its certificate's standing ("certificate",
 * and "certificate_warning" when visitors' clients will warn); url: what the user is shown
 * (a share's secret link), or NULL for the tunnel's public URL. */
char *cli_event_ready_for (NfltrDbusTunnel *tunnel,
                           const char      *url);
/* What visitors' clients will say about the tunnel's certificate, one translated sentence
 * for the publisher, or NULL when they accept it (issue 9 §1). */
char *cli_certificate_warning (NfltrDbusTunnel *tunnel);
/* event (one of the above) with one more string member (nfltr terminal's "viewer_url"). */
char *cli_event_add_string (const char *event,
                            const char *key,
                            const char *value);
char *cli_event_stats   (guint       active,
                         guint64     total,
                         guint64     bytes_in,
                         guint64     bytes_out);
char *cli_event_state   (const char *state,
                         const char *last_error);
char *cli_event_error   (const char *message);
/* The local server's health changed: state "up" | "down", the last failure, the count. */
char *cli_event_origin  (const char *state,
                         const char *error,
                         guint64     failures);
char *cli_event_stopped (void);

G_END_DECLS
