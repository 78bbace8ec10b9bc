/* nfltr-failure-notifier.h — one desktop notification for tunnels that failed while nobody
 * was looking, withdrawn once they have all recovered or gone. */
#pragma once

#include <gio/gio.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_FAILURE_NOTIFIER (nfltr_failure_notifier_get_type ())
G_DECLARE_FINAL_TYPE (NfltrFailureNotifier, nfltr_failure_notifier, NFLTR, FAILURE_NOTIFIER, GObject)

/* @is_watched answers whether the user is looking at the window (then the window shows the
 * failure and no notification is sent). */
typedef gboolean (*NfltrIsWatchedFunc) (gpointer user_data);

NfltrFailureNotifier *nfltr_failure_notifier_new (GApplication       *app,
                                                  NfltrClient        *client,
                                                  NfltrIsWatchedFunc  is_watched,
                                                  gpointer            user_data);

G_END_DECLS
