/* relay-own-name.c — HANDSHAKING (bounded by --handshake-timeout) → handed to SoupServer */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-own-name.h"
#include <libsoup/soup.h>
#include "relay-server.h"
#include "relay-identity.h"
#include "relay-replay-io-stream.h"

typedef struct {
  RelayServer       *server;
  GSocketConnection *client;
  GIOStream         *tls;
  GCancellable      *cancellable;
  char              *peer;
  guint              timeout_id;
} Handshake;

static void
handshake_free (Handshake *h)
{
  g_clear_handle_id (&h->timeout_id, g_source_remove);
  g_clear_object (&h->tls);
  g_clear_object (&h->client);
  g_clear_object (&h->cancellable);
  g_free (h->peer);
  g_free (h);
}

static gboolean
timeout_cb (gpointer user_data)
{
  Handshake *h = user_data;

  h->timeout_id = 0;
  relay_log_refusal (h->peer, "handshake-timeout", "sni=%s TLS handshake took over %u s",
                     h->server->config.domain, h->server->config.handshake_timeout_s);
  g_cancellable_cancel (h->cancellable);
  return G_SOURCE_REMOVE;
}

/* issue 11, mTLS: libsoup 3.2 tells a handler the client certificate only of connections it
 * handshook itself, so the control channel looks it up here by the peer's address. Every
 * handshake from an address replaces (or clears) what its predecessor left: an address is one
 * live connection at a time, so a new connection never inherits an old one's certificate. */
static void
remember_peer_certificate (RelayServer *server, const char *peer, GTlsConnection *tls)
{
  GTlsCertificate *cert = g_tls_connection_get_peer_certificate (tls);

  if (server->peer_certs == NULL)
    server->peer_certs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  if (cert == NULL)
    {
      g_hash_table_remove (server->peer_certs, peer);
      return;
    }
  /* Bounded: certificates of connections that never open a control channel are not kept. */
  if (g_hash_table_size (server->peer_certs) >= 4096)
    g_hash_table_remove_all (server->peer_certs);
  g_hash_table_replace (server->peer_certs, g_strdup (peer), g_object_ref (cert));
}

GTlsCertificate *
relay_own_name_take_peer_certificate (RelayServer *server, const char *peer)
{
  gpointer key = NULL, value = NULL;

  if (server->peer_certs == NULL ||
      !g_hash_table_steal_extended (server->peer_certs, peer, &key, &value))
    return NULL;
  g_free (key);
  return value;
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Handshake *h = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        relay_log_refusal (h->peer, "tls-failed", "sni=%s %s", h->server->config.domain, error->message);
      g_io_stream_close (G_IO_STREAM (h->client), NULL, NULL);
      handshake_free (h);
      return;
    }
  g_clear_handle_id (&h->timeout_id, g_source_remove);
  remember_peer_certificate (h->server, h->peer, G_TLS_CONNECTION (h->tls));

  local = g_socket_connection_get_local_address (h->client, NULL);
  remote = g_socket_connection_get_remote_address (h->client, NULL);
  if (local == NULL || remote == NULL ||
      !soup_server_accept_iostream (h->server->http, h->tls, local, remote, &error))
    {
      g_message ("peer=%s cannot serve HTTP: %s", h->peer, error ? error->message : "socket has no address");
      g_io_stream_close (G_IO_STREAM (h->client), NULL, NULL);
    }
  handshake_free (h);
}

/* issue 11, mTLS: a client certificate is checked at HELLO (auth/relay-agent-ca.c), against
 * the relay's agent CA and the operator's; the handshake itself accepts any, or none. */
static gboolean
accept_client_certificate_cb (GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors,
                              gpointer user_data)
{
  return TRUE;
}

void
relay_own_name_accept (RelayServer *server, GSocketConnection *client, GBytes *hello, const char *peer)
{
  static const char * const alpn[] = { "http/1.1", NULL };
  g_autoptr(GIOStream) replay = relay_replay_io_stream_new (G_IO_STREAM (client), hello);
  g_autoptr(GError) error = NULL;
  Handshake *h;
  GIOStream *tls = relay_identity_new_server (server->identity, replay, alpn, &error);

  if (tls == NULL)
    {
      g_message ("peer=%s cannot start TLS: %s", peer, error->message);
      g_io_stream_close (G_IO_STREAM (client), NULL, NULL);
      return;
    }
  /* Requested, never required: browsers and bearer-key agents send none and go on. */
  g_object_set (tls, "authentication-mode", G_TLS_AUTHENTICATION_REQUESTED, NULL);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_client_certificate_cb), NULL);
  h = g_new0 (Handshake, 1);
  h->server = server;
  h->client = g_object_ref (client);
  h->tls = tls;
  h->cancellable = g_cancellable_new ();
  h->peer = g_strdup (peer);
  h->timeout_id = g_timeout_add_seconds (server->config.handshake_timeout_s, timeout_cb, h);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, h->cancellable,
                                    handshake_cb, h);
}
