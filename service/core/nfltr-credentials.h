/* nfltr-credentials.h — where the API key lives: libsecret (schema xyz.nfltr.Nfltr.ApiKey,
 * attribute "relay" = HOST:PORT), else $XDG_CONFIG_HOME/nfltr/credentials (0600). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

void      nfltr_api_key_store_async   (const char          *config_dir,
                                       const char          *relay,
                                       const char          *api_key,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
/* TRUE when the key is stored somewhere (the file fallback counts). */
gboolean  nfltr_api_key_store_finish  (GAsyncResult  *result,
                                       GError       **error);

void      nfltr_api_key_lookup_async  (const char          *config_dir,
                                       const char          *relay,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
/* The key, or NULL with NFLTR_ERROR_NOT_LOGGED_IN when there is none. */
char     *nfltr_api_key_lookup_finish (GAsyncResult  *result,
                                       GError       **error);

/* Forgets the key in both places; failures are only logged. */
void      nfltr_api_key_clear         (const char *config_dir,
                                       const char *relay);

G_END_DECLS
