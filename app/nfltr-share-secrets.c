/* nfltr-share-secrets.c — secret links kept in memory for the app's lifetime (see the header).
 *
 * Fixes "the app copies a terminal's secret link only once": the New Tunnel dialog put the
 * link on the clipboard when the tunnel was created and then forgot the secret, so the row's
 * copy button could only give the bare URL, which visitors cannot open. */
#define G_LOG_DOMAIN "nfltr-app"

#include <string.h>

#include "nfltr-share-secrets.h"

/* object path → suffix; the strings are wiped before they are freed. */
static GHashTable *secrets;

struct _NfltrShareSecrets {
  GObject parent_instance;
};

enum {
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NfltrShareSecrets, nfltr_share_secrets, G_TYPE_OBJECT)

static void
nfltr_share_secrets_class_init (NfltrShareSecretsClass *klass)
{
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                   G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
nfltr_share_secrets_init (NfltrShareSecrets *self)
{
}

NfltrShareSecrets *
nfltr_share_secrets_get_default (void)
{
  static NfltrShareSecrets *instance;

  if (instance == NULL)
    instance = g_object_new (NFLTR_TYPE_SHARE_SECRETS, NULL);
  return instance;
}

static void
wipe_free (gpointer data)
{
  char *s = data;

  if (s != NULL)
    memset (s, 0, strlen (s));
  g_free (s);
}

void
nfltr_share_secrets_remember (const char *object_path,
                              const char *suffix)
{
  g_return_if_fail (object_path != NULL && suffix != NULL);

  if (secrets == NULL)
    secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, wipe_free);
  g_hash_table_replace (secrets, g_strdup (object_path), g_strdup (suffix));
  g_signal_emit (nfltr_share_secrets_get_default (), signals[CHANGED], 0, object_path);
}

char *
nfltr_share_secrets_link (const char *object_path,
                          const char *url)
{
  const char *suffix;

  if (secrets == NULL || object_path == NULL || url == NULL || *url == '\0')
    return NULL;
  suffix = g_hash_table_lookup (secrets, object_path);
  if (suffix == NULL)
    return NULL;
  /* The URL may or may not end in "/"; the suffix starts with one. */
  if (g_str_has_suffix (url, "/") && *suffix == '/')
    suffix++;
  return g_strconcat (url, suffix, NULL);
}

void
nfltr_share_secrets_forget (const char *object_path)
{
  if (secrets != NULL && object_path != NULL && g_hash_table_remove (secrets, object_path))
    g_signal_emit (nfltr_share_secrets_get_default (), signals[CHANGED], 0, object_path);
}
