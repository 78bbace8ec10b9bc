/* relay-registry.c — names → bindings */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-registry.h"

struct _RelayRegistry {
  GHashTable *by_name;  /* name → RelayBinding (ref) */
  RelayRegistryInsertFunc insert_func;
  gpointer                insert_data;
};

static void
binding_free (RelayBinding *binding)
{
  g_free (binding->name);
  g_free (binding->host);
  g_free (binding->url);
  g_free (binding->fingerprint_text);
  g_free (binding->kind);
  g_free (binding->since);
  g_free (binding->proof_observed);
  g_free (binding->proof_detail);
}

RelayBinding *
relay_binding_new (const char *name, const char *domain)
{
  RelayBinding *binding = g_rc_box_new0 (RelayBinding);

  binding->name = g_strdup (name);
  binding->host = g_strconcat (name, ".", domain, NULL);
  return binding;
}

RelayBinding *
relay_binding_ref (RelayBinding *binding)
{
  return g_rc_box_acquire (binding);
}

void
relay_binding_unref (RelayBinding *binding)
{
  g_rc_box_release_full (binding, (GDestroyNotify) binding_free);
}

const char *
relay_binding_mode_to_string (const RelayBinding *binding)
{
  return binding->mode == NFLTR_MODE_INSPECTABLE ? "inspectable" : "verified";
}

RelayRegistry *
relay_registry_new (void)
{
  RelayRegistry *registry = g_new0 (RelayRegistry, 1);

  registry->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) relay_binding_unref);
  return registry;
}

void
relay_registry_free (RelayRegistry *registry)
{
  if (registry == NULL)
    return;
  g_hash_table_unref (registry->by_name);
  g_free (registry);
}

RelayBinding *
relay_registry_lookup (RelayRegistry *registry, const char *name)
{
  return g_hash_table_lookup (registry->by_name, name);
}

void
relay_registry_insert (RelayRegistry *registry, RelayBinding *binding)
{
  /* The key is the binding's own name string, so replace key and value together. */
  g_hash_table_replace (registry->by_name, binding->name, relay_binding_ref (binding));
  if (registry->insert_func != NULL)
    registry->insert_func (binding, registry->insert_data);
}

void
relay_registry_set_insert_func (RelayRegistry *registry, RelayRegistryInsertFunc func,
                                gpointer user_data)
{
  registry->insert_func = func;
  registry->insert_data = user_data;
}

GPtrArray *
relay_registry_list (RelayRegistry *registry)
{
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  /* g_hash_table_get_values_as_ptr_array is GLib 2.76; we build for 2.74. */
  g_hash_table_iter_init (&iter, registry->by_name);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  return list;
}

void
relay_registry_remove (RelayRegistry *registry, RelayBinding *binding)
{
  binding->agent = NULL;
  if (g_hash_table_lookup (registry->by_name, binding->name) == binding)
    g_hash_table_remove (registry->by_name, binding->name);
}
