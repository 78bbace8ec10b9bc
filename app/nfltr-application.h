/* nfltr-application.h — the xyz.nfltr.Nfltr application. */
#pragma once

#include <adwaita.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_APPLICATION (nfltr_application_get_type ())
G_DECLARE_FINAL_TYPE (NfltrApplication, nfltr_application, NFLTR, APPLICATION, AdwApplication)

NfltrApplication *nfltr_application_new          (void);
GSettings        *nfltr_application_get_settings (NfltrApplication *self);
NfltrClient      *nfltr_application_get_client   (NfltrApplication *self);

G_END_DECLS
