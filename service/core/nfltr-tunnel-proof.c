/* nfltr-tunnel-proof.c — mirrors the relay's proof of a tunnel into its D-Bus properties */
#define G_LOG_DOMAIN "nfltr-service"

#include "nfltr-tunnel-proof.h"
#include "nfltr-error.h"
#include "nfltr-invocation.h"
#include "nfltr-main-context.h"
#include "nfltr-relay-link.h"

#include <json-glib/json-glib.h>

#define PROOF_KEY "nfltr-tunnel-proof"

typedef struct {
  NfltrSession *session;
  GSource      *timer;
  GCancellable *cancellable;
  gint64        last_fetch;   /* monotonic µs */
  gboolean      fetching;
} TunnelProof;

static void
tunnel_proof_free (TunnelProof *proof)
{
  g_cancellable_cancel (proof->cancellable);
  g_clear_object (&proof->cancellable);
  nfltr_clear_source (&proof->timer);
  g_clear_object (&proof->session);
  g_free (proof);
}

static const char *
member_string (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return "";
  return json_node_get_string (node);
}

static void
apply (NfltrDbusTunnel *tunnel, JsonObject *object)
{
  const char *checked = member_string (object, "checked");
  JsonNode *flagged = json_object_get_member (object, "flagged");
  g_autoptr(GDateTime) when = *checked ? g_date_time_new_from_iso8601 (checked, NULL) : NULL;

  nfltr_dbus_tunnel_set_proof_result (tunnel, member_string (object, "result"));
  nfltr_dbus_tunnel_set_proof_flagged (tunnel, flagged != NULL && JSON_NODE_HOLDS_VALUE (flagged) &&
                                                 json_node_get_value_type (flagged) == G_TYPE_BOOLEAN &&
                                                 json_node_get_boolean (flagged));
  nfltr_dbus_tunnel_set_proof_checked (tunnel, when ? (guint64) g_date_time_to_unix (when) : 0);
  nfltr_dbus_tunnel_set_proof_observed_fingerprint (tunnel, member_string (object, "observed-fingerprint"));
}

/* A fetch holds the tunnel weakly: a tunnel that goes (service stopping, tunnel removed)
 * cancels its fetches and is not kept alive by them. */
static void
weak_ref_free (GWeakRef *ref)
{
  g_weak_ref_clear (ref);
  g_free (ref);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GWeakRef, weak_ref_free)

static void
fetch_json_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GWeakRef) ref = user_data;
  g_autoptr(NfltrTunnelImpl) tunnel = g_weak_ref_get (ref);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = nfltr_relay_link_fetch_finish (NFLTR_RELAY_LINK (source), result, &error);
  g_autoptr(JsonParser) parser = json_parser_new ();
  TunnelProof *proof;

  if (tunnel == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  proof = g_object_get_data (G_OBJECT (tunnel), PROOF_KEY);
  if (proof == NULL)
    return;
  proof->fetching = FALSE;
  if (body == NULL)
    {
      g_debug ("proof of %s: %s", nfltr_tunnel_impl_get_name (tunnel), error->message);
      return;
    }
  if (!json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_debug ("proof of %s: not a JSON object", nfltr_tunnel_impl_get_name (tunnel));
      return;
    }
  apply (NFLTR_DBUS_TUNNEL (tunnel), json_node_get_object (json_parser_get_root (parser)));
}

static gboolean
poll_cb (gpointer user_data)
{
  NfltrTunnelImpl *tunnel = user_data;
  TunnelProof *proof = g_object_get_data (G_OBJECT (tunnel), PROOF_KEY);
  NfltrRelayLink *link = nfltr_session_get_link (proof->session);
  const char *result = nfltr_dbus_tunnel_get_proof_result (NFLTR_DBUS_TUNNEL (tunnel));
  gboolean settled = result != NULL && *result != '\0' && g_strcmp0 (result, "pending") != 0;
  gint64 now = g_get_monotonic_time ();
  g_autofree char *path = NULL;

  if (nfltr_tunnel_impl_get_state (tunnel) != NFLTR_TUNNEL_ONLINE || link == NULL)
    {
      /* Not bound: what the relay said about the last binding no longer holds. */
      if (result != NULL && *result != '\0')
        {
          nfltr_dbus_tunnel_set_proof_result (NFLTR_DBUS_TUNNEL (tunnel), "");
          nfltr_dbus_tunnel_set_proof_flagged (NFLTR_DBUS_TUNNEL (tunnel), FALSE);
          nfltr_dbus_tunnel_set_proof_checked (NFLTR_DBUS_TUNNEL (tunnel), 0);
          nfltr_dbus_tunnel_set_proof_observed_fingerprint (NFLTR_DBUS_TUNNEL (tunnel), "");
        }
      return G_SOURCE_CONTINUE;
    }
  if (proof->fetching || (settled && now - proof->last_fetch < NFLTR_TUNNEL_PROOF_REFRESH_S * G_USEC_PER_SEC))
    return G_SOURCE_CONTINUE;
  proof->fetching = TRUE;
  proof->last_fetch = now;
  path = g_strdup_printf ("/api/v1/proof/%s", nfltr_tunnel_impl_get_name (tunnel));
  {
    GWeakRef *ref = g_new0 (GWeakRef, 1);

    g_weak_ref_init (ref, tunnel);
    nfltr_relay_link_fetch_async (link, path, proof->cancellable, fetch_json_cb, ref);
  }
  return G_SOURCE_CONTINUE;
}

static void
fetch_bundle_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GDBusMethodInvocation *invocation = user_data;  /* the call's own reference, answered here */
  NfltrDbusTunnel *tunnel = g_object_get_data (G_OBJECT (invocation), "tunnel");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = nfltr_relay_link_fetch_finish (NFLTR_RELAY_LINK (source), result, &error);
  g_autofree char *text = NULL;

  if (body == NULL)
    {
      nfltr_invocation_return_error (invocation, error);
      return;
    }
  /* "ay" travels as a bytestring: the bundle is JSON, which has no NUL. */
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  nfltr_dbus_tunnel_complete_get_proof_bundle (tunnel, invocation, text);
}

static gboolean
handle_get_proof_bundle (NfltrDbusTunnel *object, GDBusMethodInvocation *invocation, NfltrSession *session)
{
  NfltrTunnelImpl *tunnel = NFLTR_TUNNEL_IMPL (object);
  NfltrRelayLink *link = nfltr_session_get_link (session);
  g_autofree char *path = NULL;

  if (link == NULL || nfltr_tunnel_impl_get_state (tunnel) != NFLTR_TUNNEL_ONLINE)
    {
      g_autoptr(GError) error = g_error_new (NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND,
                                             "tunnel “%s” is not online, so the relay has no proof of it",
                                             nfltr_tunnel_impl_get_name (tunnel));

      nfltr_invocation_return_error (invocation, error);
      return TRUE;
    }
  path = g_strdup_printf ("/api/v1/proof/%s/bundle", nfltr_tunnel_impl_get_name (tunnel));
  g_object_set_data_full (G_OBJECT (invocation), "tunnel", g_object_ref (object), g_object_unref);
  nfltr_relay_link_fetch_async (link, path, NULL, fetch_bundle_cb, invocation);
  return TRUE;
}

void
nfltr_tunnel_proof_attach (NfltrTunnelImpl *tunnel, NfltrSession *session)
{
  TunnelProof *proof = g_new0 (TunnelProof, 1);

  proof->session = g_object_ref (session);
  proof->cancellable = g_cancellable_new ();
  nfltr_dbus_tunnel_set_proof_result (NFLTR_DBUS_TUNNEL (tunnel), "");
  nfltr_dbus_tunnel_set_proof_observed_fingerprint (NFLTR_DBUS_TUNNEL (tunnel), "");
  g_object_set_data_full (G_OBJECT (tunnel), PROOF_KEY, proof, (GDestroyNotify) tunnel_proof_free);
  /* The timer holds no reference: it goes with the data, when the tunnel goes. */
  proof->timer = nfltr_timeout_source_add_seconds (NFLTR_TUNNEL_PROOF_POLL_S, poll_cb, tunnel);
  g_signal_connect_object (tunnel, "handle-get-proof-bundle", G_CALLBACK (handle_get_proof_bundle), session, 0);
}
