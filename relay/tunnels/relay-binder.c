/* relay-binder.c — BIND/UNBIND/CONN_REFUSE from an agent, CONN_OPEN to it.
 *
 * A BIND goes through five steps, one function each: the name is valid, the name is free (or
 * the agent's own, §6), the name is not reserved for another credential (§6, the store keeps
 * who owns each name, across disconnects and restarts), the tunnel is recorded, then the name
 * moves to this channel and the agent gets BOUND. A refused BIND answers ERROR and the channel
 * carries on. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-binder.h"
#include "relay-registry.h"
#include "relay-server.h"
#include "agents/relay-agent.h"
#include "passthrough/relay-attach.h"
#include "store/relay-store.h"
#include "nfltr-cert.h"
#include "nfltr-error.h"
#include "nfltr-messages.h"

#include <string.h>

/* docs/protocol.md §6 */
static const char * const reserved_names[] = { "www", "api", "relay", NULL };

static gboolean
name_is_reserved (const char *name)
{
  return g_strv_contains (reserved_names, name);
}

/* §6: one DNS label, not reserved. */
static gboolean
bind_check_name (RelayAgent *agent, const NfltrFrame *frame, const NfltrMsgBind *bind)
{
  g_autofree char *msg = NULL;
  const char *prefix = relay_agent_get_name_prefix (agent);

  /* docs/security.md "Fleet tokens": an enrolled agent binds only under its token's prefix. */
  if (prefix != NULL && !g_str_has_prefix (bind->name, prefix))
    {
      msg = g_strdup_printf ("name “%s” is outside this agent's fleet prefix “%s”", bind->name, prefix);
      relay_log_refusal (relay_agent_get_peer (agent), "name-prefix", "agent=%s name=%s prefix=%s",
                         relay_agent_get_log_id (agent), bind->name, prefix);
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_BAD_NAME, msg, bind->name);
      return FALSE;
    }
  if (nfltr_proto_name_is_valid (bind->name) && !name_is_reserved (bind->name))
    return TRUE;
  if (name_is_reserved (bind->name))
    msg = g_strdup_printf ("name “%s” is reserved", bind->name);
  else
    msg = g_strdup_printf ("name “%s” is not a DNS label (a-z, 0-9, '-', at most 63)", bind->name);
  relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_BAD_NAME, msg, bind->name);
  return FALSE;
}

/* §6: the name is free, already this channel's, or held by another channel of the same agent id
 * under the same key (a reconnect) — and a new name stays within the per-agent limit. *current
 * is the binding now under the name, if any. */
static gboolean
bind_check_owner (RelayAgent *agent, const NfltrFrame *frame, const NfltrMsgBind *bind,
                  RelayBinding **current)
{
  RelayServer *server = relay_agent_get_server (agent);
  RelayAgent *owner;

  *current = relay_registry_lookup (server->registry, bind->name);
  owner = *current ? (*current)->agent : NULL;
  if (*current != NULL && owner != agent)
    {
      gint64 owner_cred, agent_cred;

      if (owner == NULL || strcmp (relay_agent_get_id (owner), relay_agent_get_id (agent)) != 0 ||
          strcmp (relay_agent_get_owner (owner, &owner_cred), relay_agent_get_owner (agent, &agent_cred)) != 0 ||
          owner_cred != agent_cred)
        {
          g_autofree char *msg = g_strdup_printf ("name “%s” is taken by another agent", bind->name);

          relay_log_refusal (relay_agent_get_peer (agent), "name-taken", "agent=%s name=%s",
                             relay_agent_get_log_id (agent), bind->name);
          relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_NAME_TAKEN, msg, bind->name);
          return FALSE;
        }
    }
  else if (*current == NULL &&
           g_hash_table_size (relay_agent_get_bindings (agent)) >= server->config.max_tunnels_per_agent)
    {
      g_autofree char *msg = g_strdup_printf ("an agent may bind at most %u names",
                                              server->config.max_tunnels_per_agent);

      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_LIMIT, msg, bind->name);
      return FALSE;
    }
  return TRUE;
}

/* The credential the agent presented, as the store names owners (§6). */
static char *
owner_id_of (RelayAgent *agent)
{
  gint64 id;

  relay_agent_get_owner (agent, &id);
  return g_strdup_printf ("%" G_GINT64_FORMAT, id);
}

static const char *
owner_kind_of (RelayAgent *agent)
{
  gint64 id;

  return relay_agent_get_owner (agent, &id);
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static char *
format_time (gint64 when)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (when);

  return time ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ") : g_strdup ("?");
}

/* §6: the name is not reserved for another credential — bound under it now, or unused for
 * less than the relay's --name-expiry. Claims it for this agent's credential otherwise. */
static gboolean
bind_check_reservation (RelayAgent *agent, const NfltrFrame *frame, const NfltrMsgBind *bind)
{
  RelayServer *server = relay_agent_get_server (agent);
  g_autofree char *owner_id = owner_id_of (agent);
  g_autoptr(RelayNameInfo) holder = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *msg = NULL;
  gint64 expires;

  if (relay_store_name_claim (server->store, bind->name, owner_kind_of (agent), owner_id, now_s (),
                              server->config.name_expiry_s, &holder, &error))
    return TRUE;
  if (error != NULL)
    {
      g_message ("%s", error->message);
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_INTERNAL,
                               "the relay could not check who owns the name", bind->name);
      return FALSE;
    }
  expires = holder ? relay_name_info_expires (holder, server->config.name_expiry_s) : G_MAXINT64;
  if (expires == G_MAXINT64)
    msg = g_strdup_printf ("name “%s” is reserved for its owner (another API key) until they "
                           "release it", bind->name);
  else
    {
      g_autofree char *until = format_time (expires);

      msg = g_strdup_printf ("name “%s” is reserved for its owner (another API key) until %s "
                             "unless they use it again", bind->name, until);
    }
  relay_log_refusal (relay_agent_get_peer (agent), "name-taken", "agent=%s name=%s reserved",
                     relay_agent_get_log_id (agent), bind->name);
  relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_NAME_TAKEN, msg, bind->name);
  return FALSE;
}

/* The agent no longer uses name: its reservation's unused time starts (§6). */
static void
binding_let_go (RelayAgent *agent, const char *name)
{
  RelayServer *server = relay_agent_get_server (agent);
  g_autofree char *owner_id = owner_id_of (agent);
  g_autoptr(GError) error = NULL;

  if (!relay_store_name_unused (server->store, name, owner_kind_of (agent), owner_id, now_s (), &error))
    g_message ("%s", error->message);
}

/* A new binding for the BIND, recorded in the store (which gives its `since`); NULL after
 * answering ERROR(internal) if the store fails. */
static RelayBinding *
bind_record (RelayAgent *agent, const NfltrFrame *frame, const NfltrMsgBind *bind)
{
  RelayServer *server = relay_agent_get_server (agent);
  g_autoptr(RelayBinding) binding = relay_binding_new (bind->name, server->config.domain);
  g_autoptr(GError) error = NULL;
  g_autofree char *since = NULL;

  binding->url = relay_server_url_for (server, binding->host);
  binding->mode = bind->mode;
  memcpy (binding->fingerprint, bind->fingerprint, NFLTR_PROTO_FINGERPRINT_SIZE);
  binding->fingerprint_text = nfltr_fingerprint_format (bind->fingerprint);
  binding->kind = g_strdup (bind->kind);
  binding->agent = agent;
  if (!relay_store_tunnel_seen (server->store, binding->host, relay_binding_mode_to_string (binding),
                                binding->fingerprint_text, bind->kind, &since, &error))
    {
      g_message ("%s", error->message);
      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_INTERNAL,
                               "the relay could not record the tunnel", bind->name);
      return NULL;
    }
  binding->since = g_steal_pointer (&since);
  return g_steal_pointer (&binding);
}

/* The name moves to this channel: out of the previous holder's table (another channel of the
 * same agent, §6), into the registry and this channel's table. */
static void
bind_take_name (RelayAgent *agent, RelayBinding *binding, RelayBinding *current)
{
  RelayServer *server = relay_agent_get_server (agent);

  if (current != NULL)
    {
      RelayAgent *owner = current->agent;

      if (owner != NULL && owner != agent)
        {
          g_message ("agent %s takes %s back from its other channel from %s (same agent, same key)",
                     relay_agent_get_log_id (agent), current->host, relay_agent_get_peer (owner));
          g_hash_table_remove (relay_agent_get_bindings (owner), current->name);
        }
      /* A rebind replaces the old binding; connections through it keep their reference. Its
       * warm pool goes: the new BIND says whether the new binding wants one. */
      relay_attach_pool_drop (server->attach, current);
      current->agent = NULL;
    }
  relay_registry_insert (server->registry, binding);
  g_hash_table_replace (relay_agent_get_bindings (agent), binding->name, relay_binding_ref (binding));
}

static void
bind_reply (RelayAgent *agent, const NfltrMsgBind *bind, const RelayBinding *binding)
{
  NfltrMsgBound bound = { bind->request_id, bind->name, binding->host, binding->url };
  g_autoptr(NfltrFrame) frame = nfltr_msg_bound_encode (&bound);

  relay_agent_send (agent, frame);
  if (binding->mode == NFLTR_MODE_INSPECTABLE)
    g_message ("bound %s to agent %s in INSPECTABLE mode: the relay terminates its TLS with the "
               "relay certificate and can read its traffic (agent %s)",
               binding->host, relay_agent_get_log_id (agent), binding->fingerprint_text);
  else
    g_message ("bound %s to agent %s in verified mode (end to end, agent %s)",
               binding->host, relay_agent_get_log_id (agent), binding->fingerprint_text);
}

void
relay_binder_handle_bind (RelayAgent *agent, const NfltrFrame *frame)
{
  NfltrMsgBind bind;
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayBinding) binding = NULL;
  RelayBinding *current = NULL;

  /* A malformed BIND (a mode that is neither 1 nor 2) is a protocol error, not a refusal. */
  if (!nfltr_msg_bind_decode (frame, &bind, &error))
    {
      relay_agent_fail (agent, NFLTR_PROTO_ERR_PROTOCOL, error->message);
      return;
    }
  if (!bind_check_name (agent, frame, &bind) ||
      !bind_check_owner (agent, frame, &bind, &current) ||
      !bind_check_reservation (agent, frame, &bind))
    return;
  binding = bind_record (agent, frame, &bind);
  if (binding == NULL)
    return;
  bind_take_name (agent, binding, current);
  bind_reply (agent, &bind, binding);
  /* §5.1: only for an agent that announced the warm pool (and so knows the take header). */
  if (bind.pool_max > 0 &&
      nfltr_proto_features_has (relay_agent_get_features (agent), NFLTR_PROTO_FEATURE_WARM_POOL))
    relay_attach_pool_start (relay_agent_get_server (agent)->attach, binding, bind.pool_max);
}

void
relay_binder_handle_unbind (RelayAgent *agent, const NfltrFrame *frame)
{
  NfltrMsgUnbind unbind;
  GHashTable *bindings = relay_agent_get_bindings (agent);
  RelayBinding *binding;

  if (!nfltr_msg_unbind_decode (frame, &unbind, NULL))
    return;  /* cannot happen: the router only hands UNBIND frames that carry a name */
  binding = g_hash_table_lookup (bindings, unbind.name);
  if (binding == NULL)
    {
      g_debug ("agent %s unbinds %s, which it does not hold", relay_agent_get_log_id (agent), unbind.name);
      return;
    }
  g_message ("unbound %s (agent %s asked)", binding->host, relay_agent_get_log_id (agent));
  relay_attach_pool_drop (relay_agent_get_server (agent)->attach, binding);
  relay_registry_remove (relay_agent_get_server (agent)->registry, binding);
  binding_let_go (agent, binding->name);
  g_hash_table_remove (bindings, unbind.name);
}

void
relay_binder_handle_release (RelayAgent *agent, const NfltrFrame *frame)
{
  RelayServer *server = relay_agent_get_server (agent);
  g_autofree char *owner_id = owner_id_of (agent);
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrFrame) reply = NULL;
  NfltrMsgRelease release;
  NfltrMsgReleased released;

  if (!nfltr_msg_release_decode (frame, &release, NULL))
    return;  /* cannot happen: the router only hands RELEASE frames that carry a name */
  /* A bound name is in use: its tunnel goes first (UNBIND), so a release never pulls a name
   * from under live visitors. */
  if (relay_registry_lookup (server->registry, release.name) != NULL)
    {
      g_autofree char *msg = g_strdup_printf ("name “%s” is bound to a tunnel now; stop the "
                                              "tunnel before releasing the name", release.name);

      relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_NAME_TAKEN, msg, release.name);
      return;
    }
  if (!relay_store_name_release (server->store, release.name, owner_kind_of (agent), owner_id, &error) &&
      !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND))
    {
      if (g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NAME_TAKEN))
        {
          g_autofree char *msg = g_strdup_printf ("name “%s” is reserved for another owner; only "
                                                  "they or the relay's operator can release it",
                                                  release.name);

          relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_NAME_TAKEN, msg, release.name);
        }
      else
        {
          g_message ("%s", error->message);
          relay_agent_reply_error (agent, frame, NFLTR_PROTO_ERR_INTERNAL,
                                   "the relay could not release the name", release.name);
        }
      return;
    }
  if (error == NULL)
    g_message ("released %s (agent %s asked)", release.name, relay_agent_get_log_id (agent));
  released.request_id = release.request_id;
  released.name = release.name;
  reply = nfltr_msg_released_encode (&released);
  relay_agent_send (agent, reply);
}

void
relay_binder_handle_conn_refuse (RelayAgent *agent, const NfltrFrame *frame)
{
  NfltrMsgConnRefuse refuse;

  if (!nfltr_msg_conn_refuse_decode (frame, &refuse, NULL))
    return;  /* cannot happen, as above */
  relay_attach_refuse (relay_agent_get_server (agent)->attach, agent, refuse.conn_id, refuse.message);
}

void
relay_binder_send_conn_open (RelayBinding *binding, const guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE],
                             const char *client_addr)
{
  NfltrMsgConnOpen open = { { 0 }, binding->name, client_addr };
  g_autoptr(NfltrFrame) frame = NULL;

  g_return_if_fail (binding->agent != NULL);
  memcpy (open.conn_id, conn_id, NFLTR_PROTO_CONN_ID_SIZE);
  frame = nfltr_msg_conn_open_encode (&open);
  relay_agent_send (binding->agent, frame);
}

void
relay_binder_send_pool_grant (RelayBinding *binding, const guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE])
{
  /* §5.1: no client yet, so no address; the take header brings it. */
  NfltrMsgConnOpen open = { { 0 }, binding->name, "", TRUE };
  g_autoptr(NfltrFrame) frame = NULL;

  g_return_if_fail (binding->agent != NULL);
  memcpy (open.conn_id, conn_id, NFLTR_PROTO_CONN_ID_SIZE);
  frame = nfltr_msg_conn_open_encode (&open);
  relay_agent_send (binding->agent, frame);
}

void
relay_binder_drop_agent (RelayAgent *agent)
{
  GHashTable *bindings = relay_agent_get_bindings (agent);
  RelayRegistry *registry = relay_agent_get_server (agent)->registry;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, bindings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RelayBinding *binding = value;

      g_message ("unbound %s (agent %s gone)", binding->host, relay_agent_get_log_id (agent));
      relay_registry_remove (registry, binding);
      binding_let_go (agent, binding->name);
    }
  g_hash_table_remove_all (bindings);
}
