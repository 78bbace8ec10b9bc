/* relay-directory.c — agent id → control channels, newest first */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-directory.h"

typedef struct {
  gint64  key_id;    /* the key every channel listed under this id presented */
  GQueue  channels;  /* RelayAgent*, newest first */
} Entry;

struct _RelayDirectory {
  GHashTable *by_id;  /* agent id (owned) → Entry (owned) */
};

static void
entry_free (Entry *entry)
{
  g_queue_clear (&entry->channels);
  g_free (entry);
}

RelayDirectory *
relay_directory_new (void)
{
  RelayDirectory *directory = g_new0 (RelayDirectory, 1);

  directory->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) entry_free);
  return directory;
}

void
relay_directory_free (RelayDirectory *directory)
{
  if (directory == NULL)
    return;
  g_hash_table_unref (directory->by_id);
  g_free (directory);
}

gboolean
relay_directory_add (RelayDirectory *directory, const char *agent_id, gint64 key_id, RelayAgent *agent)
{
  Entry *entry = g_hash_table_lookup (directory->by_id, agent_id);

  g_return_val_if_fail (agent != NULL, FALSE);
  if (entry == NULL)
    {
      entry = g_new0 (Entry, 1);
      entry->key_id = key_id;
      g_queue_init (&entry->channels);
      g_hash_table_insert (directory->by_id, g_strdup (agent_id), entry);
    }
  /* §6: as with names, only the same id under the same key replaces a channel. */
  else if (entry->key_id != key_id)
    return FALSE;
  g_queue_remove (&entry->channels, agent);
  g_queue_push_head (&entry->channels, agent);
  return TRUE;
}

void
relay_directory_remove (RelayDirectory *directory, const char *agent_id, RelayAgent *agent)
{
  Entry *entry = g_hash_table_lookup (directory->by_id, agent_id);

  if (entry == NULL)
    return;
  g_queue_remove (&entry->channels, agent);
  if (g_queue_is_empty (&entry->channels))
    g_hash_table_remove (directory->by_id, agent_id);
}

RelayAgent *
relay_directory_lookup (RelayDirectory *directory, const char *agent_id)
{
  Entry *entry = agent_id ? g_hash_table_lookup (directory->by_id, agent_id) : NULL;

  return entry ? g_queue_peek_head (&entry->channels) : NULL;
}

guint
relay_directory_size (RelayDirectory *directory)
{
  return g_hash_table_size (directory->by_id);
}
