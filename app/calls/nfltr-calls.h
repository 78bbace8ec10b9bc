/* nfltr-calls.h — the app's calls (issue 14): the app.* actions another page uses to start
 * or join a call, the incoming-call notification, and the call windows. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Adds app.start-call (s: a P2P session's Transfer object path to ring its peer, or "" to
 * offer a new code), app.join-call (s: a code), app.accept-call and app.decline-call (s: a
 * Call object path, the notification's buttons), and with NFLTR_APP_TEST=1
 * app.test-call-state (what the call windows show, a{sv}); watches for incoming calls. */
void nfltr_calls_init (GtkApplication *app);

G_END_DECLS
