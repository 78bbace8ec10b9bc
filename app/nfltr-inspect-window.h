/* nfltr-inspect-window.h — a tunnel's Inspect page (issue 9 §8): the requests its agent saw
 * after TLS (xyz.nfltr.Nfltr.Inspector), live; one's headers and body; Replay (optionally to
 * another path) straight to the local server. Opened from the tunnel row. */
#pragma once

#include <adwaita.h>

#include "nfltr-dbus.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_INSPECT_WINDOW (nfltr_inspect_window_get_type ())
G_DECLARE_FINAL_TYPE (NfltrInspectWindow, nfltr_inspect_window, NFLTR, INSPECT_WINDOW, AdwWindow)

NfltrInspectWindow *nfltr_inspect_window_new      (GtkWindow          *parent,
                                                   NfltrDbusTunnel    *tunnel,
                                                   NfltrDbusInspector *inspector);
/* What it shows, for app.test-state: title, rows (one string each, newest first), detail,
 * status. */
GVariant           *nfltr_inspect_window_describe (NfltrInspectWindow *self);

G_END_DECLS
