/* nfltr-call-window.h — one call's window (issue 14, docs/app.md "Calls"): the peer's video
 * large, our preview small, mute, camera on/off, hang up, the call's duration, the path
 * (direct or relayed) and the verified badge. The media (webrtcbin) runs in this process;
 * the service carries its signalling (xyz.nfltr.Nfltr.Call). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define NFLTR_TYPE_CALL_WINDOW (nfltr_call_window_get_type ())
G_DECLARE_FINAL_TYPE (NfltrCallWindow, nfltr_call_window, NFLTR, CALL_WINDOW, AdwWindow)

/* code: the code to show while waiting for the peer (an offer), or NULL. */
NfltrCallWindow *nfltr_call_window_new       (GtkApplication  *app,
                                              GDBusConnection *connection,
                                              const char      *call_path,
                                              const char      *code);
const char      *nfltr_call_window_get_path  (NfltrCallWindow *self);
/* What the window shows, for app.test-call-state (a{sv}). */
GVariant        *nfltr_call_window_describe  (NfltrCallWindow *self);

G_END_DECLS
