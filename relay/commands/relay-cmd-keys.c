/* relay-cmd-keys.c — `nfltr-relay keys create|list|revoke|rotate` */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-commands.h"
#include "relay-types.h"
#include "store/relay-store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
keys_create (RelayStore *store, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  gint64 id;

  if (!relay_store_key_create (store, name, &key, &id, &error))
    {
      fprintf (stderr, "nfltr-relay keys create: %s\n", error->message);
      return 1;
    }
  /* The key alone on stdout, so `KEY=$(nfltr-relay keys create)` works; the rest on stderr. */
  fprintf (stderr, "nfltr-relay: created API key %" G_GINT64_FORMAT "%s%s%s. It is shown only "
           "once; the relay keeps only its SHA-256.\n", id, name ? " (" : "", name ? name : "",
           name ? ")" : "");
  printf ("%s\n", key);
  return 0;
}

static int
keys_list (RelayStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) keys = relay_store_key_list (store, &error);

  if (keys == NULL)
    {
      fprintf (stderr, "nfltr-relay keys list: %s\n", error->message);
      return 1;
    }
  printf ("%-5s %-20s %-21s %s\n", "ID", "NAME", "CREATED", "STATUS");
  for (guint i = 0; i < keys->len; i++)
    {
      RelayKeyInfo *info = keys->pdata[i];
      g_autofree char *status = info->revoked ? g_strdup_printf ("revoked %s", info->revoked)
                                              : g_strdup ("active");
      printf ("%-5" G_GINT64_FORMAT " %-20s %-21s %s\n", info->id,
              info->name && *info->name ? info->name : "-", info->created, status);
    }
  return 0;
}

static gboolean
parse_key_id (const char *verb, const char *id_text, gint64 *id)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (id_text, 10, 1, G_MAXINT64, &value, NULL))
    {
      fprintf (stderr, "nfltr-relay keys %s: “%s” is not a key id (see “nfltr-relay keys list”)\n",
               verb, id_text);
      return FALSE;
    }
  *id = (gint64) value;
  return TRUE;
}

static int
keys_revoke (RelayStore *store, const char *id_text)
{
  g_autoptr(GError) error = NULL;
  gint64 id;

  if (!parse_key_id ("revoke", id_text, &id))
    return 2;
  if (!relay_store_key_revoke (store, id, &error))
    {
      fprintf (stderr, "nfltr-relay keys revoke: %s\n", error->message);
      return 1;
    }
  printf ("revoked API key %" G_GINT64_FORMAT "; a running relay disconnects agents using it "
          "within seconds and refuses them from then on. Its names stay reserved for it: "
          "`nfltr-relay keys rotate %" G_GINT64_FORMAT "` gives its user a new key that keeps "
          "them.\n", id, id);
  return 0;
}

/* A user's key leaked or was revoked: a new key that keeps their names (docs/protocol.md §6). */
static int
keys_rotate (RelayStore *store, const char *id_text, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  gint64 old_id, new_id;
  guint moved;

  if (!parse_key_id ("rotate", id_text, &old_id))
    return 2;
  if (!relay_store_key_rotate (store, old_id, name, &key, &new_id, &moved, &error))
    {
      fprintf (stderr, "nfltr-relay keys rotate: %s\n", error->message);
      return 1;
    }
  fprintf (stderr, "nfltr-relay: API key %" G_GINT64_FORMAT " replaces key %" G_GINT64_FORMAT
           ", which is revoked; %u name%s moved to the new key. A running relay disconnects "
           "agents using the old key within seconds. The new key is shown only once; give it to "
           "its user (`nfltr login --api-key-file FILE`).\n",
           new_id, old_id, moved, moved == 1 ? "" : "s");
  printf ("%s\n", key);
  return 0;
}

int
relay_cmd_keys (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  g_autofree char *name = NULL;
  const GOptionEntry entries[] = { { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
                                     "relay.db location (default $XDG_DATA_HOME/nfltr-relay)", "DIR" },
                                   { "name", 'n', 0, G_OPTION_ARG_STRING, &name,
                                     "Label for a new key (create, rotate)", "LABEL" },
                                   { NULL } };
  const char *usage = "create|list|revoke ID|rotate ID - manage agent API keys";
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayStore) store = NULL;
  const char *verb;
  gboolean takes_id;

  if (!relay_cmd_parse_options ("keys", usage, entries, &argc, &argv))
    return 2;
  verb = argc >= 2 ? argv[1] : NULL;
  takes_id = verb != NULL && (strcmp (verb, "revoke") == 0 || strcmp (verb, "rotate") == 0);
  if (verb == NULL || argc != (takes_id ? 3 : 2) ||
      !(takes_id || strcmp (verb, "create") == 0 || strcmp (verb, "list") == 0))
    {
      fprintf (stderr, "Usage: nfltr-relay keys create [--name LABEL] | list | revoke ID | "
                       "rotate ID [--name LABEL]  [--data-dir DIR]\n");
      return 2;
    }
  relay_cmd_default_data_dir (&data_dir);
  store = relay_store_open (data_dir, &error);
  if (store == NULL)
    {
      fprintf (stderr, "nfltr-relay keys: %s\n", error->message);
      return 1;
    }
  if (strcmp (verb, "create") == 0)
    return keys_create (store, name);
  if (strcmp (verb, "list") == 0)
    return keys_list (store);
  if (strcmp (verb, "rotate") == 0)
    return keys_rotate (store, argv[2], name);
  return keys_revoke (store, argv[2]);
}
