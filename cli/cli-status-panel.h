/* cli-status-panel.h — the live status panel of nfltr http/tcp on a terminal (issue 9 §9).
 *
 * A few lines kept at the bottom of the terminal and redrawn in place (ANSI escapes, at most
 * CLI_STATUS_PANEL_HZ times a second): session state, relay and its latency, online since,
 * URL, mode and fingerprint, connections, the inspector's address. Everything else the run
 * prints (state changes, one line per HTTP request the inspector saw: "GET /path 200 12 ms")
 * scrolls above it, so the terminal's scrollback keeps it. Lines are cut to the terminal's
 * width (re-read on SIGWINCH); NO_COLOR and TERM=dumb mean no colour. Only for a terminal:
 * without one, nfltr prints its plain lines, and --json its events. */
#pragma once

#include "cli-client.h"
#include "nfltr-dbus.h"

G_BEGIN_DECLS

#define CLI_STATUS_PANEL_HZ 4

typedef struct _CliStatusPanel CliStatusPanel;

/* inspector may be NULL (tcp, or a service without one). Draws at once. */
CliStatusPanel *cli_status_panel_new        (NfltrDbusTunnel    *tunnel,
                                             NfltrDbusManager   *manager,
                                             NfltrDbusInspector *inspector,
                                             gboolean            color);
/* A line that scrolls above the panel. */
void            cli_status_panel_print_line (CliStatusPanel     *self,
                                             const char         *line);
/* Something the panel shows changed: redrawn soon (rate-limited). */
void            cli_status_panel_changed    (CliStatusPanel     *self);
/* Leaves the panel's last state on screen and the cursor on a new line below it. */
void            cli_status_panel_free       (CliStatusPanel     *self);

/* "GET /path 200 12 ms" from the inspector's summary JSON (an Exchange signal), or NULL. */
char           *cli_status_panel_format_exchange (const char *json);
/* text cut to at most width columns (counting characters), "…" marking the cut. */
char           *cli_status_panel_fit        (const char         *text,
                                             guint               width);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliStatusPanel, cli_status_panel_free)

/* The inspector's side of nfltr http (issue 9 §8). */
/* The Inspector of the tunnel at object_path, or NULL when the service has none. */
NfltrDbusInspector *cli_inspector_get         (CliClient          *client,
                                               const char         *object_path);
/* Its web page's address, or NULL when none runs. */
const char         *cli_inspector_url         (NfltrDbusInspector *inspector);
/* The "Inspector:" line of the ready block: the address, or why the page asked for
 * (asked) is not running. */
void                cli_inspector_print_ready (NfltrDbusInspector *inspector,
                                               gboolean            asked);
/* --inspect ADDR: a loopback address, a port, or localhost; the usage error otherwise. */
gboolean            cli_check_inspect_address (const char         *text,
                                               GError            **error);
/* --inspect-bodies[=SIZE]: NULL → 64 KiB; "4096", "64K", "1M" (IEC), at most 16M. */
gboolean            cli_parse_inspect_bodies  (const char         *value,
                                               guint64            *bytes,
                                               GError            **error);

G_END_DECLS
