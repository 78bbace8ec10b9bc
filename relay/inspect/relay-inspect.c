/* relay-inspect.c — the inspectable-mode TLS proxy.
 *
 * HANDSHAKING (both sides at once, one timer for both) → COPYING (g_io_stream_splice_async)
 * → DONE. The agent side trusts nothing but the pinned fingerprint: no CA database, so every
 * certificate goes through accept-certificate, and the pin is checked again after the
 * handshake. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-inspect.h"
#include "relay-server.h"
#include "tunnels/relay-registry.h"
#include "tls/relay-identity.h"
#include "tls/relay-replay-io-stream.h"
#include "nfltr-cert.h"

#include <string.h>

struct _RelayInspect {
  RelayServer          *server;
  RelayBinding         *binding;
  GSocketConnection    *client;
  GSocketConnection    *data;
  GIOStream            *public_tls;
  GIOStream            *agent_tls;
  GCancellable         *cancellable;
  char                 *peer;
  char                 *setup_error;
  guint                 timeout_id;
  guint                 handshakes_left;
  gboolean              finished;
  RelayInspectDoneFunc  done;
  gpointer              user_data;
};

static void
inspect_free (RelayInspect *inspect)
{
  g_clear_handle_id (&inspect->timeout_id, g_source_remove);
  g_clear_object (&inspect->public_tls);
  g_clear_object (&inspect->agent_tls);
  g_clear_object (&inspect->client);
  g_clear_object (&inspect->data);
  g_clear_object (&inspect->cancellable);
  g_clear_pointer (&inspect->binding, relay_binding_unref);
  g_free (inspect->peer);
  g_free (inspect->setup_error);
}

static RelayInspect *
inspect_ref (RelayInspect *inspect)
{
  return g_rc_box_acquire (inspect);
}

static void
inspect_unref (RelayInspect *inspect)
{
  g_rc_box_release_full (inspect, (GDestroyNotify) inspect_free);
}

/* Ends the session once: closes the sockets directly (closing a socket never blocks, unlike
 * a TLS close that may wait to send close_notify), then reports. */
static void
finish (RelayInspect *inspect, const char *error)
{
  RelayInspectDoneFunc done = inspect->done;

  if (inspect->finished)
    return;
  inspect->finished = TRUE;
  inspect->done = NULL;
  g_clear_handle_id (&inspect->timeout_id, g_source_remove);
  g_cancellable_cancel (inspect->cancellable);
  g_io_stream_close (G_IO_STREAM (inspect->client), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (inspect->data), NULL, NULL);
  if (done != NULL)
    done (inspect, error, inspect->user_data);
  inspect_unref (inspect);  /* the owner's reference */
}

static gboolean
pin_matches (RelayInspect *inspect, GTlsCertificate *cert)
{
  g_autoptr(GByteArray) der = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];

  if (cert == NULL)
    return FALSE;
  g_object_get (cert, "certificate", &der, NULL);
  if (der == NULL)
    return FALSE;
  nfltr_fingerprint_of_der (der->data, der->len, digest);
  return memcmp (digest, inspect->binding->fingerprint, NFLTR_FINGERPRINT_LEN) == 0;
}

static gboolean
accept_certificate_cb (GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors,
                       gpointer user_data)
{
  return pin_matches (user_data, cert);
}

static gboolean
timeout_cb (gpointer user_data)
{
  RelayInspect *inspect = user_data;

  inspect->timeout_id = 0;
  relay_log_refusal (inspect->peer, "handshake-timeout", "host=%s inspectable TLS handshakes took over %u s",
                     inspect->binding->host, inspect->server->config.handshake_timeout_s);
  finish (inspect, "TLS handshake timed out");
  return G_SOURCE_REMOVE;
}

static gboolean
setup_failed_cb (gpointer user_data)
{
  RelayInspect *inspect = user_data;

  inspect->timeout_id = 0;
  relay_log_refusal (inspect->peer, "internal", "host=%s %s", inspect->binding->host, inspect->setup_error);
  finish (inspect, inspect->setup_error);
  return G_SOURCE_REMOVE;
}

static void
splice_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelayInspect *inspect = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_io_stream_splice_finish (result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    finish (inspect, error->message);
  else
    finish (inspect, NULL);
  inspect_unref (inspect);
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelayInspect *inspect = user_data;
  g_autoptr(GError) error = NULL;
  gboolean is_agent = source == G_OBJECT (inspect->agent_tls);

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      if (!inspect->finished)
        {
          /* accept-certificate said no: the agent's certificate is not the pinned one. */
          gboolean pin = is_agent && g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
          g_autofree char *msg = pin
            ? g_strdup_printf ("agent certificate is not %s", inspect->binding->fingerprint_text)
            : g_strdup_printf ("%s TLS handshake: %s", is_agent ? "agent" : "client", error->message);

          relay_log_refusal (inspect->peer,
                             pin ? "fingerprint-mismatch" : is_agent ? "agent-tls-failed" : "client-tls-failed",
                             "host=%s %s", inspect->binding->host, msg);
          finish (inspect, msg);
        }
      inspect_unref (inspect);
      return;
    }
  if (is_agent && !pin_matches (inspect, g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (source))))
    {
      relay_log_refusal (inspect->peer, "fingerprint-mismatch",
                         "host=%s agent certificate is not %s", inspect->binding->host,
                         inspect->binding->fingerprint_text);
      finish (inspect, "agent certificate does not match the bound fingerprint");
      inspect_unref (inspect);
      return;
    }
  if (--inspect->handshakes_left == 0 && !inspect->finished)
    {
      g_clear_handle_id (&inspect->timeout_id, g_source_remove);
      /* Not WAIT_FOR_BOTH: TLS has no usable half-close (a close_notify ends the session for
       * most peers), so when either side ends, both do; a browser keeping its connection
       * alive must not hold a connection the agent has closed. */
      g_io_stream_splice_async (inspect->public_tls, inspect->agent_tls,
                                G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                                G_PRIORITY_DEFAULT, inspect->cancellable, splice_cb,
                                inspect_ref (inspect));
    }
  inspect_unref (inspect);
}

RelayInspect *
relay_inspect_start (RelayServer *server, RelayBinding *binding, GSocketConnection *client,
                     GBytes *hello, GSocketConnection *data, const char *peer,
                     RelayInspectDoneFunc done, gpointer user_data)
{
  RelayInspect *inspect = g_rc_box_new0 (RelayInspect);
  g_autoptr(GIOStream) replay = relay_replay_io_stream_new (G_IO_STREAM (client), hello);
  g_autoptr(GSocketConnectable) identity = g_network_address_new (binding->host, 443);
  g_autoptr(GError) error = NULL;

  inspect->server = server;
  inspect->binding = relay_binding_ref (binding);
  inspect->client = g_object_ref (client);
  inspect->data = g_object_ref (data);
  inspect->cancellable = g_cancellable_new ();
  inspect->peer = g_strdup (peer);
  inspect->done = done;
  inspect->user_data = user_data;

  inspect->public_tls = relay_identity_new_server (server->identity, replay, NULL, &error);
  if (inspect->public_tls != NULL)
    /* No CA database, from construction on: the pin is the only trust, and a connection
     * that never sees the system's CA list does not load it into its credentials (megabytes
     * per connection otherwise). */
    inspect->agent_tls = g_initable_new (g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()),
                                         NULL, &error,
                                         "base-io-stream", data,
                                         "server-identity", identity,
                                         "database", NULL,
                                         NULL);
  if (inspect->agent_tls == NULL)
    {
      /* Reported from an idle callback, so the caller has stored its handle first. */
      inspect->setup_error = g_strdup_printf ("cannot set up TLS: %s", error->message);
      inspect->timeout_id = g_idle_add (setup_failed_cb, inspect);
      return inspect;
    }

  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (inspect->agent_tls), FALSE);
  g_signal_connect (inspect->agent_tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), inspect);

  inspect->timeout_id = g_timeout_add_seconds (server->config.handshake_timeout_s, timeout_cb, inspect);
  inspect->handshakes_left = 2;
  g_tls_connection_handshake_async (G_TLS_CONNECTION (inspect->public_tls), G_PRIORITY_DEFAULT,
                                    inspect->cancellable, handshake_cb, inspect_ref (inspect));
  g_tls_connection_handshake_async (G_TLS_CONNECTION (inspect->agent_tls), G_PRIORITY_DEFAULT,
                                    inspect->cancellable, handshake_cb, inspect_ref (inspect));
  return inspect;
}

void
relay_inspect_abort (RelayInspect *inspect)
{
  inspect->done = NULL;
  finish (inspect, NULL);
}
