/* nfltr-a2a-window.h — Conversations (issue 15): this agent's a2a id and key fingerprint (with a
 * QR code of "id fingerprint"), and each conversation with another agent — its messages, which
 * way, delivered or not, and a loud label on any sent without payload encryption. */
#pragma once

#include <adwaita.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

typedef struct _NfltrWindow NfltrWindow;

#define NFLTR_TYPE_A2A_WINDOW (nfltr_a2a_window_get_type ())
G_DECLARE_FINAL_TYPE (NfltrA2aWindow, nfltr_a2a_window, NFLTR, A2A_WINDOW, AdwWindow)

NfltrA2aWindow *nfltr_a2a_window_new      (NfltrWindow *window,
                                           NfltrClient *client);
/* For app.test-state: id, fingerprint, and per conversation its peer and (title, subtitle) rows. */
GVariant       *nfltr_a2a_window_describe (NfltrA2aWindow *self);

G_END_DECLS
