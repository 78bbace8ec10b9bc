/* nfltr-web-private.h — the web layer's pieces shared between its files */
#pragma once

#include "nfltr-web.h"

G_BEGIN_DECLS

typedef struct _NfltrWebAuth NfltrWebAuth;

/* From the config's "basic-auth" and "token"; none of them: everybody is let in. */
NfltrWebAuth *nfltr_web_auth_new    (GVariant          *config);
void          nfltr_web_auth_free   (NfltrWebAuth      *auth);
/* TRUE when the request may go on; else it has been answered (401, or a redirect that turns
 * a valid ?token= into the cookie). */
gboolean      nfltr_web_auth_check  (NfltrWebAuth      *auth,
                                     NfltrWebServer    *web,
                                     SoupServerMessage *msg,
                                     const char        *path,
                                     GHashTable        *query);

void          nfltr_web_add_security_headers (SoupServerMessage *msg);
const char   *_nfltr_web_server_get_title    (NfltrWebServer    *web);

G_END_DECLS
