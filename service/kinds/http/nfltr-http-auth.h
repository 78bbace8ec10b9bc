/* nfltr-http-auth.h — `nfltr http --basic-auth USER:PASS` (RFC 7617), checked by the agent,
 * so the relay still sees only ciphertext (issue 9 §10). Used by the HTTP/1.1 rewriter and
 * the HTTP/2 proxy alike. Pure: no I/O. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* USER:PASS as the user gives it: a non-empty user without ':' and a non-empty password
 * (RFC 7617 §2). NULL error when it is usable. */
gboolean nfltr_http_basic_auth_valid   (const char  *credentials,
                                        GError     **error);

/* Does an Authorization value ("Basic <base64 of USER:PASS>") carry exactly credentials?
 * The comparison takes the same time whatever the first difference. */
gboolean nfltr_http_basic_auth_matches (const char  *credentials,
                                        const char  *value,
                                        gsize        value_len);

/* The WWW-Authenticate value of a 401 for realm (RFC 7617 §2, charset UTF-8). */
char    *nfltr_http_basic_auth_challenge (const char *realm);

G_END_DECLS
