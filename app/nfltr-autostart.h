/* nfltr-autostart.h — "Start at login" (issue 9 §7).
 *
 * Outside a sandbox: an XDG autostart entry, $XDG_CONFIG_HOME/autostart/xyz.nfltr.Nfltr.desktop,
 * running `nfltr-app --background` (no window; the app notifies when a tunnel fails). In a
 * Flatpak the sandbox cannot write there: the Background portal is asked instead. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

char     *nfltr_autostart_path        (void);
gboolean  nfltr_autostart_is_enabled  (void);
gboolean  nfltr_autostart_set_enabled (gboolean   enabled,
                                       GError   **error);

G_END_DECLS
