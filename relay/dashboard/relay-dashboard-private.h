/* relay-dashboard-private.h — what the dashboard's two files share: its state, its session,
 * and the page helpers of relay-dashboard-pages.c */
#pragma once

#include "relay-dashboard.h"
#include "relay-server.h"

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define DASH_PATH            "/dashboard"
#define SESSION_COOKIE       "nfltr_dash"
#define LOGIN_COOKIE         "nfltr_dash_login"
#define SESSION_LIFETIME_S   (12 * 3600)
#define MAX_SESSIONS         64
#define ONCE_LIFETIME_S      (15 * 60)
/* Failed logins: at most this many per source address per window, then 429 until it ends. */
#define LOGIN_FAILURES_MAX   5
#define LOGIN_WINDOW_S       60
#define REFUSALS_KEPT        100
#define FORM_MAX_BYTES       4096

typedef struct {
  char   *csrf;
  gint64  expires;   /* monotonic µs */
} DashSession;

typedef struct {
  gint64 start;      /* monotonic µs */
  guint  count;
} LoginFailures;

typedef struct {
  char *when;
  char *peer;
  char *reason;
  char *detail;
} Refusal;

struct _RelayDashboard {
  RelayServer *server;
  GHashTable  *sessions;    /* id → DashSession */
  GHashTable  *failures;    /* source address → LoginFailures */
  char        *once;        /* the one-time login token, or NULL */
  gint64       once_expires;
};

/* relay-dashboard.c */
char   *dash_random_hex (gsize bytes);
/* The recent refusals, newest last (Refusal *). */
GQueue *relay_dashboard_refusals (void);

/* relay-dashboard-pages.c: responses */
void dash_set_security_headers (SoupServerMessage *msg);
void dash_set_cookie     (SoupServerMessage *msg, const char *name, const char *value, gint64 max_age);
void dash_page_begin     (GString *out, const char *title);
void dash_reply_page     (SoupServerMessage *msg, guint status, GString *out /* owned */);
void dash_reply_redirect (SoupServerMessage *msg, const char *to);
void dash_reply_refused  (SoupServerMessage *msg, guint status, const char *why);
void dash_append_escaped (GString *out, const char *text);
/* relay-dashboard-pages.c: pages */
void dash_render_login    (RelayDashboard *dash, SoupServerMessage *msg, guint status, const char *error);
/* The overview; flash (a result) and secret (shown once) when an action just ran. */
void dash_render_overview (RelayDashboard *dash, SoupServerMessage *msg, DashSession *s, guint status,
                           const char *flash, const char *secret);
extern const char dash_stylesheet[];

G_END_DECLS
