/* nfltr-state.c — relay.json, tunnels.json and agent-id */
#define G_LOG_DOMAIN "nfltr-state"

#include "nfltr-state.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <json-glib/json-glib.h>

#include "nfltr-error.h"

gboolean
nfltr_write_file_atomic (const char *path, const char *contents, gsize len, int mode, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "cannot create %s: %s", dir,
                   g_strerror (errsv));
      return FALSE;
    }
  return g_file_set_contents_full (path, contents, len, G_FILE_SET_CONTENTS_CONSISTENT, mode, error);
}

/* json-glib sets a member in two calls; our objects are mostly strings. */
static void
add_string_member (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

/* Writes what b built to config_dir/name, readable by the user alone. */
static gboolean
save_json (const char *config_dir, const char *name, JsonBuilder *b, GError **error)
{
  g_autofree char *path = g_build_filename (config_dir, name, NULL);
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;
  gsize len;

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  return nfltr_write_file_atomic (path, text, len, 0600, error);
}

/* --- relay.json ------------------------------------------------------------------------ */

void
nfltr_relay_config_free (NfltrRelayConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->host);
  g_free (config->fingerprint);
  g_free (config->signing_key);
  g_free (config->domain);
  g_free (config);
}

/* Typed member access: a hand-edited or corrupted file must give an error naming the
 * member, never a NULL where a string was promised (json-glib answers a wrong type with a
 * critical and NULL). */
static gboolean
get_string (JsonObject *obj, const char *member, gboolean required, const char *origin,
            char **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (!required)
        return TRUE;
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: “%s” is missing", origin, member);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: “%s” must be a string", origin, member);
      return FALSE;
    }
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
get_boolean (JsonObject *obj, const char *member, gboolean def, const char *origin,
             gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  *out = def;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: “%s” must be true or false", origin, member);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

typedef gpointer (*StateParseFunc) (const char *data, gsize len, const char *origin, GError **error);

/* Reads config_dir/name and hands it to parse. A file that does not exist is not an error:
 * NULL with *missing set, and each caller says what nothing saved yet means. */
static gpointer
load_state_file (const char *config_dir, const char *name, StateParseFunc parse, gboolean *missing,
                 GError **error)
{
  g_autofree char *path = g_build_filename (config_dir, name, NULL);
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len;

  *missing = FALSE;
  if (!g_file_get_contents (path, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          *missing = TRUE;
          return NULL;
        }
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "cannot read %s: %s", path, local_error->message);
      return NULL;
    }
  return parse (data, len, path, error);
}

/* Parses one of our files, whose root must be of type (an object or an array). */
static JsonNode *
parse_json (const char *data, gsize len, const char *origin, JsonNodeType type, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;

  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, data, (gssize) len, &local_error))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s is not valid JSON: %s", origin,
                   local_error ? local_error->message : "too large");
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s is empty", origin);
      return NULL;
    }
  if (JSON_NODE_TYPE (json_parser_get_root (parser)) != type)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: not a JSON %s", origin,
                   type == JSON_NODE_ARRAY ? "array" : "object");
      return NULL;
    }
  return json_node_copy (json_parser_get_root (parser));
}

NfltrRelayConfig *
nfltr_relay_config_parse (const char *data, gsize len, const char *origin, GError **error)
{
  g_autoptr(JsonNode) root = parse_json (data, len, origin, JSON_NODE_OBJECT, error);
  g_autoptr(NfltrRelayConfig) config = NULL;
  JsonObject *obj;
  JsonNode *port;
  gint64 port_value;

  if (root == NULL)
    return NULL;
  obj = json_node_get_object (root);
  config = g_new0 (NfltrRelayConfig, 1);
  if (!get_string (obj, "host", TRUE, origin, &config->host, error) ||
      !get_string (obj, "fingerprint", TRUE, origin, &config->fingerprint, error) ||
      !get_string (obj, "domain", FALSE, origin, &config->domain, error) ||
      !get_string (obj, "signing-key", FALSE, origin, &config->signing_key, error))
    return NULL;
  port = json_object_get_member (obj, "port");
  if (port == NULL || !JSON_NODE_HOLDS_VALUE (port) || json_node_get_value_type (port) != G_TYPE_INT64 ||
      (port_value = json_node_get_int (port)) < 1 || port_value > 65535)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: “port” must be a number 1–65535", origin);
      return NULL;
    }
  config->port = (guint16) port_value;
  if (*config->host == '\0' || !g_str_has_prefix (config->fingerprint, "sha256:"))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: bad host or fingerprint", origin);
      return NULL;
    }
  return g_steal_pointer (&config);
}

NfltrRelayConfig *
nfltr_relay_config_load (const char *config_dir, GError **error)
{
  gboolean missing;

  /* Missing: not logged in yet, NULL with no error. */
  return load_state_file (config_dir, "relay.json", (StateParseFunc) nfltr_relay_config_parse, &missing,
                          error);
}

gboolean
nfltr_relay_config_save (const char *config_dir, const NfltrRelayConfig *config, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string_member (b, "host", config->host);
  json_builder_set_member_name (b, "port");
  json_builder_add_int_value (b, config->port);
  add_string_member (b, "fingerprint", config->fingerprint);
  if (config->domain)
    {
      add_string_member (b, "domain", config->domain);
    }
  if (config->signing_key)
    add_string_member (b, "signing-key", config->signing_key);
  json_builder_end_object (b);
  return save_json (config_dir, "relay.json", b, error);
}

gboolean
nfltr_relay_config_delete (const char *config_dir, GError **error)
{
  g_autofree char *path = g_build_filename (config_dir, "relay.json", NULL);

  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "cannot remove %s: %s", path,
                   g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* --- tunnels.json ---------------------------------------------------------------------- */

NfltrTunnelConfig *
nfltr_tunnel_config_copy (const NfltrTunnelConfig *c)
{
  NfltrTunnelConfig *copy = g_new0 (NfltrTunnelConfig, 1);

  copy->id = g_strdup (c->id);
  copy->name = g_strdup (c->name);
  copy->kind = g_strdup (c->kind);
  copy->target = g_strdup (c->target);
  copy->kind_options = c->kind_options ? g_variant_ref (c->kind_options) : NULL;
  copy->e2ee = c->e2ee;
  copy->cert_file = g_strdup (c->cert_file);
  copy->key_file = g_strdup (c->key_file);
  copy->enabled = c->enabled;
  return copy;
}

void
nfltr_tunnel_config_free (NfltrTunnelConfig *c)
{
  if (c == NULL)
    return;
  g_free (c->id);
  g_free (c->name);
  g_free (c->kind);
  g_free (c->target);
  g_clear_pointer (&c->kind_options, g_variant_unref);
  g_free (c->cert_file);
  g_free (c->key_file);
  g_free (c);
}

/* "kind-options": an object, written only for kinds that take options of their own. */
static gboolean
get_kind_options (JsonObject *obj, const char *origin, GVariant **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "kind-options");
  g_autoptr(GError) local_error = NULL;
  GVariant *value;

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node) ||
      (value = json_gvariant_deserialize (node, "a{sv}", &local_error)) == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "%s: “kind-options” must be an object%s%s",
                   origin, local_error ? ": " : "", local_error ? local_error->message : "");
      return FALSE;
    }
  *out = g_variant_ref_sink (value);
  return TRUE;
}

GPtrArray *
nfltr_tunnels_parse (const char *data, gsize len, const char *origin, GError **error)
{
  g_autoptr(GPtrArray) ret = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_tunnel_config_free);
  g_autoptr(JsonNode) root = parse_json (data, len, origin, JSON_NODE_ARRAY, error);
  JsonArray *array;

  if (root == NULL)
    return NULL;
  array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      g_autoptr(NfltrTunnelConfig) c = g_new0 (NfltrTunnelConfig, 1);
      g_autoptr(GError) entry_error = NULL;
      g_autofree char *entry = g_strdup_printf ("%s, entry %u", origin, i + 1);
      JsonObject *obj;

      /* One bad entry must not cost the user every other saved tunnel: skip it, say why. */
      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_message ("%s: not an object; skipped", entry);
          continue;
        }
      obj = json_node_get_object (node);
      if (!get_string (obj, "name", TRUE, entry, &c->name, &entry_error) ||
          !get_string (obj, "target", TRUE, entry, &c->target, &entry_error) ||
          !get_string (obj, "id", FALSE, entry, &c->id, &entry_error) ||
          !get_string (obj, "kind", FALSE, entry, &c->kind, &entry_error) ||
          !get_string (obj, "cert-file", FALSE, entry, &c->cert_file, &entry_error) ||
          !get_string (obj, "key-file", FALSE, entry, &c->key_file, &entry_error) ||
          !get_boolean (obj, "e2ee", TRUE, entry, &c->e2ee, &entry_error) ||
          !get_boolean (obj, "enabled", TRUE, entry, &c->enabled, &entry_error))
        {
          g_message ("%s; skipped", entry_error->message);
          continue;
        }
      if (!get_kind_options (obj, entry, &c->kind_options, &entry_error))
        {
          g_message ("%s; skipped", entry_error->message);
          continue;
        }
      /* Files from before tunnels had a kind held only http tunnels. */
      if (c->kind == NULL)
        c->kind = g_strdup ("http");
      g_ptr_array_add (ret, g_steal_pointer (&c));
    }
  return g_steal_pointer (&ret);
}

GPtrArray *
nfltr_tunnels_load (const char *config_dir, GError **error)
{
  gboolean missing;
  GPtrArray *configs = load_state_file (config_dir, "tunnels.json", (StateParseFunc) nfltr_tunnels_parse,
                                        &missing, error);

  if (missing)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_tunnel_config_free);
  return configs;
}

gboolean
nfltr_tunnels_save (const char *config_dir, GPtrArray *configs, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_array (b);
  for (guint i = 0; i < configs->len; i++)
    {
      const NfltrTunnelConfig *c = g_ptr_array_index (configs, i);

      json_builder_begin_object (b);
      add_string_member (b, "id", c->id);
      add_string_member (b, "name", c->name);
      add_string_member (b, "kind", c->kind);
      add_string_member (b, "target", c->target);
      if (c->kind_options != NULL && g_variant_n_children (c->kind_options) > 0)
        {
          json_builder_set_member_name (b, "kind-options");
          json_builder_add_value (b, json_gvariant_serialize (c->kind_options));
        }
      json_builder_set_member_name (b, "e2ee");
      json_builder_add_boolean_value (b, c->e2ee);
      if (c->cert_file)
        {
          add_string_member (b, "cert-file", c->cert_file);
          add_string_member (b, "key-file", c->key_file);
        }
      json_builder_set_member_name (b, "enabled");
      json_builder_add_boolean_value (b, c->enabled);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  return save_json (config_dir, "tunnels.json", b, error);
}

/* --- agent-id -------------------------------------------------------------------------- */

static gboolean
agent_id_is_valid (const char *id)
{
  if (strlen (id) != 32)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return TRUE;
}

char *
nfltr_agent_id_load_or_create (const char *data_dir, GError **error)
{
  g_autofree char *path = g_build_filename (data_dir, "agent-id", NULL);
  g_autofree char *contents = NULL;
  GString *id;

  if (g_file_get_contents (path, &contents, NULL, NULL))
    {
      g_strstrip (contents);
      if (agent_id_is_valid (contents))
        return g_ascii_strdown (contents, -1);
      g_message ("%s is not 32 hex digits; making a new agent id", path);
    }

  /* With the API key it lets an agent take its names back (docs/protocol.md §6): it must
   * not be guessable, so it comes from the system's CSPRNG, not g_random. */
  {
    guint8 raw[16];

    if (gnutls_rnd (GNUTLS_RND_RANDOM, raw, sizeof raw) != 0)
      {
        g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "no random numbers for the agent id");
        return NULL;
      }
    id = g_string_sized_new (33);
    for (guint i = 0; i < sizeof raw; i++)
      g_string_append_printf (id, "%02x", raw[i]);
  }
  g_string_append_c (id, '\n');
  if (!nfltr_write_file_atomic (path, id->str, id->len, 0600, error))
    {
      g_string_free (id, TRUE);
      return NULL;
    }
  g_string_truncate (id, 32);
  return g_string_free (id, FALSE);
}
