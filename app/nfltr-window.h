/* nfltr-window.h — the main window: tunnels, relay banner, toasts. */
#pragma once

#include <adwaita.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_WINDOW (nfltr_window_get_type ())
G_DECLARE_FINAL_TYPE (NfltrWindow, nfltr_window, NFLTR, WINDOW, AdwApplicationWindow)

NfltrWindow *nfltr_window_new                (AdwApplication *application,
                                              NfltrClient    *client);
void         nfltr_window_add_toast          (NfltrWindow    *self,
                                              const char     *message);
void         nfltr_window_show_new_tunnel    (NfltrWindow    *self);
void         nfltr_window_show_relay_settings (NfltrWindow   *self);
void         nfltr_window_show_preferences    (NfltrWindow   *self);
void         nfltr_window_show_networks      (NfltrWindow    *self);
void         nfltr_window_show_conversations (NfltrWindow    *self);
void         nfltr_window_save_state         (NfltrWindow    *self);

G_END_DECLS
