/* nfltr-term-app.h — what the terminal and ai kinds share: their options, and the web app
 * that puts a program's PTY in a browser (xterm.js) through the web layer.
 *
 * Options (CreateTunnel's a{sv}, checked by nfltr_term_app_parse):
 *   "argv"          as   the program and its arguments (none: the target split like a
 *                        command line, without a shell; empty target: the kind's default)
 *   "cwd"           s    where it starts (default: $HOME)
 *   "token"         s    the writer's secret: https://NAME/?token=… types into the terminal
 *   "viewer-token"  s    a second secret for read-only viewers
 *   "basic-auth"    s    USER:PASS, checked by the web layer before any of this
 * A terminal needs a token or basic auth: a shell is never open to anyone who finds the URL.
 *
 * The pages: "/" (the terminal), "/ws" (its WebSocket, nfltr-term-session.h),
 * "/transcript.txt" (the output the ring holds, escape sequences stripped) and
 * "/transcript.ansi" (as the terminal got it), "/assets/…" (xterm.js and the page's script,
 * from the GResource). A ?token= is turned into an HttpOnly, SameSite=Strict cookie and the
 * page is reloaded without it, so the secret leaves the address bar. */
#pragma once

#include "nfltr-tunnel-kind.h"

G_BEGIN_DECLS

typedef struct {
  const char *title;            /* "Terminal" */
  const char *default_command;  /* NULL: the user's shell */
  gsize ring_size;              /* output kept for the replay and the transcript */
} NfltrTermAppKind;

GVariant *nfltr_term_app_parse           (const NfltrTermAppKind *app_kind,
                                          const char             *target,
                                          GVariant               *options,
                                          GError                **error);
char     *nfltr_term_app_describe_target (GVariant               *config);
gboolean  nfltr_term_app_start           (GVariant               *config,
                                          GError                **error);

G_END_DECLS
