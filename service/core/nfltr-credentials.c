/* nfltr-credentials.c — the API key in libsecret, else in a 0600 file
 *
 * libsecret is asked only when a secret service is there to answer: one owns
 * org.freedesktop.secrets on the session bus (see secret_service_probe_async). Without one, every libsecret call would
 * fail after setting up proxies that outlive the call (and that LeakSanitizer then reports), and
 * would cost a D-Bus round trip or an autolaunch attempt for nothing. */
#define G_LOG_DOMAIN "nfltr-credentials"

#include "nfltr-credentials.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsecret/secret.h>

#include "nfltr-error.h"
#include "nfltr-state.h"

static const SecretSchema *
api_key_schema (void)
{
  static const SecretSchema schema = {
    "xyz.nfltr.Nfltr.ApiKey", SECRET_SCHEMA_NONE,
    {
      { "relay", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    }
  };
  return &schema;
}

typedef struct {
  char *config_dir;
  char *relay;
  char *api_key;
} Request;

static void
request_free (gpointer data)
{
  Request *r = data;

  g_free (r->config_dir);
  g_free (r->relay);
  g_free (r->api_key);
  g_free (r);
}

static char *
credentials_path (const char *config_dir)
{
  return g_build_filename (config_dir, "credentials", NULL);
}

#define SECRETS_BUS_NAME "org.freedesktop.secrets"

/* The probe's steps: the session bus, then NameHasOwner. A failure at any step means "no
 * secret service" — the 0600 file is the answer then. A service that could merely be
 * activated does not count: started by our request, gnome-keyring has no unlocked login
 * keyring and prompts for a new password — on a headless machine or a bare X server nobody
 * answers, and `nfltr login` would hang. A desktop session starts (and unlocks) its keyring
 * at login, so there it is already running. */
static void
probe_owner_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has_owner = FALSE;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &has_owner);
  else
    g_debug ("secret service probe: %s", error->message);
  g_task_return_boolean (task, has_owner);
}

static void
probe_bus_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;

  bus = g_bus_get_finish (result, &error);
  if (bus == NULL)
    {
      g_debug ("no session bus for a secret service: %s", error->message);
      g_task_return_boolean (task, FALSE);
      return;
    }
  g_dbus_connection_call (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                          "NameHasOwner", g_variant_new ("(s)", SECRETS_BUS_NAME), G_VARIANT_TYPE ("(b)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, cancellable, probe_owner_cb,
                          g_steal_pointer (&task));
}

/* Completes with TRUE when a secret service owns org.freedesktop.secrets on the session bus.
 * Never fails. */
static void
secret_service_probe_async (GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, secret_service_probe_async);
  /* NFLTR_NO_SECRET_SERVICE=1 forces the file, e.g. for a user whose keyring prompts. */
  if (g_strcmp0 (g_getenv ("NFLTR_NO_SECRET_SERVICE"), "1") == 0)
    {
      g_task_return_boolean (task, FALSE);
      g_object_unref (task);
      return;
    }
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, probe_bus_cb, task);
}

static gboolean
secret_service_probe_finish (GAsyncResult *result)
{
  return g_task_propagate_boolean (G_TASK (result), NULL);
}

/* {"relay": "HOST:PORT", "api-key": "…"} */
static gboolean
file_store (const char *config_dir, const char *relay, const char *api_key, GError **error)
{
  g_autofree char *path = credentials_path (config_dir);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  gsize len;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "relay");
  json_builder_add_string_value (b, relay);
  json_builder_set_member_name (b, "api-key");
  json_builder_add_string_value (b, api_key);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  return nfltr_write_file_atomic (path, text, len, 0600, error);
}

static char *
file_lookup (const char *config_dir, const char *relay)
{
  g_autofree char *path = credentials_path (config_dir);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *obj;

  if (!json_parser_load_from_mapped_file (parser, path, NULL))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  obj = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (obj, "relay", NULL), relay) != 0)
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (obj, "api-key", NULL));
}

static void
file_remove (const char *config_dir)
{
  g_autofree char *path = credentials_path (config_dir);

  if (g_unlink (path) != 0 && errno != ENOENT)
    g_message ("cannot remove %s: %s", path, g_strerror (errno));
}

static void store_in_file (GTask *task);

static void
store_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *r = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (secret_password_store_finish (result, &error))
    {
      /* The keyring has it now: leave no plaintext copy behind. */
      file_remove (r->config_dir);
      g_task_return_boolean (task, TRUE);
      return;
    }

  g_debug ("libsecret unavailable (%s); storing the key in a 0600 file", error->message);
  g_clear_error (&error);
  store_in_file (task);
}

static void
store_probe_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *r = g_task_get_task_data (task);
  g_autofree char *label = NULL;
  GCancellable *cancellable;

  if (!secret_service_probe_finish (result))
    {
      g_debug ("no secret service on the session bus; storing the key in a 0600 file");
      store_in_file (task);
      return;
    }
  label = g_strdup_printf ("NFLTR API key for %s", r->relay);
  cancellable = g_task_get_cancellable (task);
  secret_password_store (api_key_schema (), SECRET_COLLECTION_DEFAULT, label, r->api_key,
                         cancellable, store_cb, g_steal_pointer (&task),
                         "relay", r->relay, NULL);
}

static void
store_in_file (GTask *task)
{
  Request *r = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!file_store (r->config_dir, r->relay, r->api_key, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
nfltr_api_key_store_async (const char          *config_dir,
                           const char          *relay,
                           const char          *api_key,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Request *r = g_new0 (Request, 1);

  g_task_set_source_tag (task, nfltr_api_key_store_async);
  r->config_dir = g_strdup (config_dir);
  r->relay = g_strdup (relay);
  r->api_key = g_strdup (api_key);
  g_task_set_task_data (task, r, request_free);

  secret_service_probe_async (cancellable, store_probe_cb, g_steal_pointer (&task));
}

gboolean
nfltr_api_key_store_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void return_not_logged_in (GTask *task);

static void
lookup_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  char *key = secret_password_lookup_finish (result, &error);

  if (key != NULL)
    {
      char *copy = g_strdup (key);
      secret_password_free (key);
      g_task_return_pointer (task, copy, g_free);
      return;
    }
  if (error)
    g_debug ("libsecret lookup failed: %s", error->message);
  return_not_logged_in (task);
}

static void
lookup_probe_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *r = g_task_get_task_data (task);
  GCancellable *cancellable;

  if (!secret_service_probe_finish (result))
    {
      return_not_logged_in (task);
      return;
    }
  cancellable = g_task_get_cancellable (task);
  secret_password_lookup (api_key_schema (), cancellable, lookup_cb, g_steal_pointer (&task),
                          "relay", r->relay, NULL);
}

static void
return_not_logged_in (GTask *task)
{
  Request *r = g_task_get_task_data (task);

  g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_NOT_LOGGED_IN,
                           "no API key stored for relay %s: run nfltr login --relay %s --api-key KEY",
                           r->relay, r->relay);
}

void
nfltr_api_key_lookup_async (const char          *config_dir,
                            const char          *relay,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  char *key;
  Request *r;

  g_task_set_source_tag (task, nfltr_api_key_lookup_async);

  /* The file exists only when libsecret was unavailable at login; it wins. */
  key = file_lookup (config_dir, relay);
  if (key != NULL)
    {
      g_task_return_pointer (task, key, g_free);
      return;
    }

  r = g_new0 (Request, 1);
  r->config_dir = g_strdup (config_dir);
  r->relay = g_strdup (relay);
  g_task_set_task_data (task, r, request_free);
  secret_service_probe_async (cancellable, lookup_probe_cb, g_steal_pointer (&task));
}

char *
nfltr_api_key_lookup_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
clear_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!secret_password_clear_finish (result, &error))
    if (error)
      g_debug ("libsecret clear failed: %s", error->message);
}

static void
clear_probe_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree char *relay = user_data;

  if (secret_service_probe_finish (result))
    secret_password_clear (api_key_schema (), NULL, clear_cb, NULL, "relay", relay, NULL);
}

void
nfltr_api_key_clear (const char *config_dir, const char *relay)
{
  file_remove (config_dir);
  if (relay != NULL)
    secret_service_probe_async (NULL, clear_probe_cb, g_strdup (relay));
}
