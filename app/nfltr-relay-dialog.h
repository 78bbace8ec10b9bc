/* nfltr-relay-dialog.h — relay address and API key, with the relay's fingerprint to confirm. */
#pragma once

#include <adwaita.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

typedef struct _NfltrWindow NfltrWindow;

#define NFLTR_TYPE_RELAY_DIALOG (nfltr_relay_dialog_get_type ())
G_DECLARE_FINAL_TYPE (NfltrRelayDialog, nfltr_relay_dialog, NFLTR, RELAY_DIALOG, AdwWindow)

NfltrRelayDialog *nfltr_relay_dialog_new      (NfltrWindow      *window,
                                               NfltrClient      *client,
                                               GSettings        *settings);
void              nfltr_relay_dialog_fill     (NfltrRelayDialog *self,
                                               GVariant         *fields);
GVariant         *nfltr_relay_dialog_describe (NfltrRelayDialog *self);

G_END_DECLS
