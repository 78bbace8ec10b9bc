/* relay-inspect.c — the inspectable-mode TLS proxy.
 *
 * HANDSHAKING (both sides at once, one timer for both) → COPYING (two pumps, one per
 * direction, counting the plaintext bytes) → DONE. The agent side trusts nothing but the pinned fingerprint: no CA database, so every
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

/* What one read may bring: a TLS record's plaintext at most. */
#define PUMP_BUFFER_SIZE 16384

typedef struct {
  GInputStream *in;
  GOutputStream *out;
  guint64 bytes; /* read from in and handed to out */
  guint8 buffer[PUMP_BUFFER_SIZE];
} Pump;

enum {
  PUMP_TO_AGENT,
  PUMP_TO_CLIENT,
  N_PUMPS
};

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
  Pump                  pumps[N_PUMPS];
  GCancellable         *copy_cancellable;  /* the pumps' reads and writes */
  gboolean              closing;           /* one side ended: close_notify to both */
  guint                 closes_left;
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
  g_clear_object (&inspect->copy_cancellable);
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
  g_cancellable_cancel (inspect->copy_cancellable);
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

static void pump_read (RelayInspect *inspect, Pump *pump);

static void
close_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelayInspect *inspect = user_data;

  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  if (--inspect->closes_left == 0)
    finish (inspect, NULL);
  inspect_unref (inspect);
}

/* One side ended cleanly. TLS has no usable half-close (a close_notify ends the session for
 * most peers), so both end: the other pump stops, and each peer gets its close_notify (a
 * client that requires one must not see a truncation) before the sockets close. A browser
 * keeping its connection alive must not hold a connection the agent has closed. */
static void
end_copying (RelayInspect *inspect)
{
  if (inspect->closing || inspect->finished)
    return;
  inspect->closing = TRUE;
  g_cancellable_cancel (inspect->copy_cancellable);
  inspect->closes_left = 2;
  g_io_stream_close_async (inspect->public_tls, G_PRIORITY_DEFAULT, inspect->cancellable, close_cb,
                           inspect_ref (inspect));
  g_io_stream_close_async (inspect->agent_tls, G_PRIORITY_DEFAULT, inspect->cancellable, close_cb,
                           inspect_ref (inspect));
}

static void
pump_write_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelayInspect *inspect = user_data;
  g_autoptr(GError) error = NULL;
  Pump *pump = G_OUTPUT_STREAM (source) == inspect->pumps[PUMP_TO_AGENT].out
                 ? &inspect->pumps[PUMP_TO_AGENT]
                 : &inspect->pumps[PUMP_TO_CLIENT];

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  if (inspect->finished || inspect->closing)
    ;
  else if (error != NULL)
    finish (inspect, error->message);
  else
    pump_read (inspect, pump);
  inspect_unref (inspect);
}

static void
pump_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelayInspect *inspect = user_data;
  g_autoptr(GError) error = NULL;
  Pump *pump = G_INPUT_STREAM (source) == inspect->pumps[PUMP_TO_AGENT].in
    ? &inspect->pumps[PUMP_TO_AGENT]
    : &inspect->pumps[PUMP_TO_CLIENT];
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (inspect->finished || inspect->closing)
    ;
  else if (n < 0)
    finish (inspect, error->message);
  else if (n == 0)
    end_copying (inspect);
  else
    {
      /* Counted when handed on, not when the write reports back: once one side ends, the
       * copy is cancelled, and a write the kernel already took would report CANCELLED and
       * 0 bytes (the client had its response, the log said bytes_to_client=0). */
      pump->bytes += (guint64) n;
      g_output_stream_write_all_async (pump->out, pump->buffer, (gsize) n, G_PRIORITY_DEFAULT,
                                       inspect->copy_cancellable, pump_write_cb, inspect_ref (inspect));
    }
  inspect_unref (inspect);
}

static void
pump_read (RelayInspect *inspect, Pump *pump)
{
  g_input_stream_read_async (pump->in, pump->buffer, sizeof pump->buffer, G_PRIORITY_DEFAULT,
                             inspect->copy_cancellable, pump_read_cb, inspect_ref (inspect));
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
      inspect->pumps[PUMP_TO_AGENT].in = g_io_stream_get_input_stream (inspect->public_tls);
      inspect->pumps[PUMP_TO_AGENT].out = g_io_stream_get_output_stream (inspect->agent_tls);
      inspect->pumps[PUMP_TO_CLIENT].in = g_io_stream_get_input_stream (inspect->agent_tls);
      inspect->pumps[PUMP_TO_CLIENT].out = g_io_stream_get_output_stream (inspect->public_tls);
      pump_read (inspect, &inspect->pumps[PUMP_TO_AGENT]);
      pump_read (inspect, &inspect->pumps[PUMP_TO_CLIENT]);
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
  inspect->copy_cancellable = g_cancellable_new ();
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
relay_inspect_get_bytes (RelayInspect *inspect, guint64 *to_agent, guint64 *to_client)
{
  *to_agent = inspect->pumps[PUMP_TO_AGENT].bytes;
  *to_client = inspect->pumps[PUMP_TO_CLIENT].bytes;
}

void
relay_inspect_abort (RelayInspect *inspect)
{
  inspect->done = NULL;
  finish (inspect, NULL);
}
