/* relay-cmd-names.c — `nfltr-relay names list [--json] | release NAME`: who owns each name
 * (docs/protocol.md §6), and the operator's way to end a reservation. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-commands.h"
#include "relay-types.h"
#include "store/relay-store.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static RelayStore *
open_store (const char *data_dir, GError **error)
{
  g_autofree char *fallback = NULL;

  if (data_dir == NULL)
    data_dir = fallback = g_build_filename (g_get_user_data_dir (), "nfltr-relay", NULL);
  return relay_store_open (data_dir, error);
}

static char *
format_time (gint64 when)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (when);

  return time ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ") : g_strdup ("?");
}

/* "key 3 (laptop)": the owner as the operator knows it from `nfltr-relay keys list`. */
static char *
describe_owner (const RelayNameInfo *info, GHashTable *key_names)
{
  const char *label = NULL;

  if (strcmp (info->owner_kind, RELAY_OWNER_KIND_KEY) == 0)
    label = g_hash_table_lookup (key_names, info->owner_id);
  if (label != NULL && *label != '\0')
    return g_strdup_printf ("%s %s (%s)", info->owner_kind, info->owner_id, label);
  return g_strdup_printf ("%s %s", info->owner_kind, info->owner_id);
}

static int
names_list (RelayStore *store, gboolean json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = relay_store_name_list (store, &error);
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GHashTable) key_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (names == NULL || (keys = relay_store_key_list (store, &error)) == NULL)
    {
      fprintf (stderr, "nfltr-relay names list: %s\n", error->message);
      return 1;
    }
  for (guint i = 0; i < keys->len; i++)
    {
      RelayKeyInfo *key = keys->pdata[i];

      g_hash_table_insert (key_names, g_strdup_printf ("%" G_GINT64_FORMAT, key->id),
                           g_strdup (key->name));
    }
  if (json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_array (builder);
      for (guint i = 0; i < names->len; i++)
        {
          RelayNameInfo *info = names->pdata[i];
          g_autofree char *claimed = format_time (info->claimed);
          g_autofree char *last_used = format_time (info->last_used);
          const char *label = strcmp (info->owner_kind, RELAY_OWNER_KIND_KEY) == 0
                                ? g_hash_table_lookup (key_names, info->owner_id)
                                : NULL;

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "name");
          json_builder_add_string_value (builder, info->name);
          json_builder_set_member_name (builder, "owner_kind");
          json_builder_add_string_value (builder, info->owner_kind);
          json_builder_set_member_name (builder, "owner_id");
          json_builder_add_string_value (builder, info->owner_id);
          json_builder_set_member_name (builder, "owner_label");
          if (label != NULL)
            json_builder_add_string_value (builder, label);
          else
            json_builder_add_null_value (builder);
          json_builder_set_member_name (builder, "claimed");
          json_builder_add_string_value (builder, claimed);
          json_builder_set_member_name (builder, "last_used");
          json_builder_add_string_value (builder, last_used);
          json_builder_set_member_name (builder, "in_use");
          json_builder_add_boolean_value (builder, info->bound);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      root = json_builder_get_root (builder);
      json_generator_set_root (generator, root);
      json_generator_set_pretty (generator, TRUE);
      text = json_generator_to_data (generator, NULL);
      printf ("%s\n", text);
      return 0;
    }
  printf ("%-24s %-24s %-21s %s\n", "NAME", "OWNER", "CLAIMED", "STATUS");
  for (guint i = 0; i < names->len; i++)
    {
      RelayNameInfo *info = names->pdata[i];
      g_autofree char *owner = describe_owner (info, key_names);
      g_autofree char *claimed = format_time (info->claimed);
      g_autofree char *last_used = format_time (info->last_used);
      g_autofree char *status = info->bound ? g_strdup ("in use")
                                            : g_strdup_printf ("unused since %s", last_used);

      printf ("%-24s %-24s %-21s %s\n", info->name, owner, claimed, status);
    }
  return 0;
}

static int
names_release (RelayStore *store, const char *name)
{
  g_autoptr(GError) error = NULL;

  if (!relay_store_name_release (store, name, NULL, NULL, &error))
    {
      fprintf (stderr, "nfltr-relay names release: %s\n", error->message);
      return 1;
    }
  /* A running relay keeps a bound tunnel until its agent lets go; the reservation is what
   * ends here. */
  printf ("released %s: it is free for the next agent that binds it once its current tunnel, "
          "if any, goes\n", name);
  return 0;
}

int
relay_cmd_names (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = { { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
                                     "relay.db location (default $XDG_DATA_HOME/nfltr-relay)", "DIR" },
                                   { "json", 0, 0, G_OPTION_ARG_NONE, &json, "List as JSON (list)", NULL },
                                   { NULL } };
  g_autoptr (GOptionContext) context = g_option_context_new ("list|release NAME - names and who owns them");
  g_autoptr (GError) error = NULL;
  g_autoptr (RelayStore) store = NULL;
  const char *verb;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "nfltr-relay names: %s\n", error->message);
      return 2;
    }
  verb = argc >= 2 ? argv[1] : NULL;
  if (verb == NULL || !(strcmp (verb, "list") == 0 || strcmp (verb, "release") == 0) ||
      (strcmp (verb, "release") == 0 ? argc != 3 : argc != 2))
    {
      fprintf (stderr, "Usage: nfltr-relay names list [--json] | release NAME  [--data-dir DIR]\n");
      return 2;
    }
  store = open_store (data_dir, &error);
  if (store == NULL)
    {
      fprintf (stderr, "nfltr-relay names: %s\n", error->message);
      return 1;
    }
  if (strcmp (verb, "list") == 0)
    return names_list (store, json);
  return names_release (store, argv[2]);
}
