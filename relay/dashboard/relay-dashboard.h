/* relay-dashboard.h — the operator dashboard on the relay's own name, /dashboard (issue 11
 * item 4; docs/security.md "Dashboard"): agents, tunnels, API keys, fleet tokens, recent
 * refusals, behind an operator login with secure cookies and a CSRF token on every POST. */
#pragma once

#include <libsoup/soup.h>

#include "relay-types.h"

G_BEGIN_DECLS

typedef struct _RelayDashboard RelayDashboard;

/* Routes /dashboard on soup; the dashboard lives as long as its handler (soup frees it). */
RelayDashboard *relay_dashboard_register (SoupServer  *soup,
                                          RelayServer *server);

/* With no operator password set: a one-time login link, valid for a while, for `serve` to
 * print (the relay's public URL prefix, e.g. "https://relay.example.com:8443"). NULL when a
 * password is set (log in with it). */
char           *relay_dashboard_one_time_link (RelayDashboard *dashboard,
                                               const char     *base_url);

/* Hashes password for the operator table (argon2id, libsodium crypto_pwhash_str). */
char           *relay_dashboard_hash_password (const char  *password,
                                               GError     **error);

G_END_DECLS
