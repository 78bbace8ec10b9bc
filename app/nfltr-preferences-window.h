/* nfltr-preferences-window.h — Preferences (issue 9 §7): start at login, keep running when
 * the window closes, and the relay this app uses. */
#pragma once

#include <adwaita.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_PREFERENCES_WINDOW (nfltr_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (NfltrPreferencesWindow, nfltr_preferences_window, NFLTR, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

/* main_window: where "Change…" opens the relay settings. */
NfltrPreferencesWindow *nfltr_preferences_window_new      (GtkWindow              *main_window,
                                                           GSettings              *settings,
                                                           NfltrClient            *client);
/* For tests: flips a switch as a click would ("start-at-login", "run-in-background"). */
void                    nfltr_preferences_window_set      (NfltrPreferencesWindow *self,
                                                           const char             *key,
                                                           gboolean                value);
GVariant               *nfltr_preferences_window_describe (NfltrPreferencesWindow *self);

G_END_DECLS
