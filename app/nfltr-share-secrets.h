/* nfltr-share-secrets.h — the secret links of the tunnels this app made (terminal, ai, tail,
 * watch, share), kept in memory only: the service answers with the bare URL, and the secret
 * must never reach the disk, so the app remembers it for the life of the process. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* One object per process whose "changed" signal (object path) says a secret was learnt or
 * forgotten, so rows made before CreateTunnel answered can show the link. */
#define NFLTR_TYPE_SHARE_SECRETS (nfltr_share_secrets_get_type ())
G_DECLARE_FINAL_TYPE (NfltrShareSecrets, nfltr_share_secrets, NFLTR, SHARE_SECRETS, GObject)

NfltrShareSecrets *nfltr_share_secrets_get_default (void);

/* suffix: what follows the public URL, e.g. "/?token=SECRET" or "/SECRET". */
void        nfltr_share_secrets_remember (const char *object_path,
                                          const char *suffix);
/* The link with its secret for the tunnel at object_path whose public URL is url, or NULL
 * when this app did not make the tunnel (or its URL is not known yet). */
char       *nfltr_share_secrets_link     (const char *object_path,
                                          const char *url);
void        nfltr_share_secrets_forget   (const char *object_path);

G_END_DECLS
