/* nfltr-inspect-registry.c — kind configuration → inspector store (see the header) */
#define G_LOG_DOMAIN "nfltr-inspect"

#include "nfltr-inspect-registry.h"

static GMutex lock;
static GHashTable *stores; /* GVariant * (not referenced) → NfltrInspectStore (owned) */

void
nfltr_inspect_registry_add (GVariant *kind_config, NfltrInspectStore *store)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&lock);

  if (stores == NULL)
    stores = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  g_hash_table_replace (stores, kind_config, g_object_ref (store));
}

void
nfltr_inspect_registry_remove (GVariant *kind_config)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&lock);

  if (stores == NULL)
    return;
  g_hash_table_remove (stores, kind_config);
  if (g_hash_table_size (stores) == 0)
    g_clear_pointer (&stores, g_hash_table_unref);
}

NfltrInspectStore *
nfltr_inspect_registry_lookup (GVariant *kind_config)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&lock);
  NfltrInspectStore *store;

  if (stores == NULL || kind_config == NULL)
    return NULL;
  store = g_hash_table_lookup (stores, kind_config);
  return store != NULL ? g_object_ref (store) : NULL;
}
