/* nfltr-application-private.h — NfltrApplication's insides, shared by its files. */
#pragma once

#include "nfltr-application.h"
#include "nfltr-failure-notifier.h"
#include "nfltr-window.h"

G_BEGIN_DECLS

struct _NfltrApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
  NfltrClient *client;
  NfltrFailureNotifier *notifier;
  NfltrWindow *window; /* weak */
  gboolean start_hidden; /* --background: no window at the first activation */
  gboolean held;         /* running without a window (--background) */
};

void         _nfltr_application_actions_init (NfltrApplication *self);
NfltrWindow *_nfltr_application_get_window   (NfltrApplication *self);

G_END_DECLS
