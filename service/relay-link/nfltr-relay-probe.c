/* nfltr-relay-probe.c — what certificate does the relay present? (no credentials sent) */
#define G_LOG_DOMAIN "nfltr-relay-link"

#include "nfltr-relay-link.h"

#include "nfltr-cert.h"
#include "nfltr-error.h"
#include "nfltr-resolve.h"

typedef struct {
  char *host;
  guint16 port;
  GIOStream *tls;
  GSocketConnection *tcp;
} Probe;

typedef struct {
  char *fingerprint;
  char *subject;
} ProbeResult;

static void
probe_free (gpointer data)
{
  Probe *p = data;

  g_free (p->host);
  g_clear_object (&p->tls);
  g_clear_object (&p->tcp);
  g_free (p);
}

static void
probe_result_free (gpointer data)
{
  ProbeResult *r = data;

  g_free (r->fingerprint);
  g_free (r->subject);
  g_free (r);
}

static gboolean
accept_any_cb (GTlsConnection       *conn,
               GTlsCertificate      *cert,
               GTlsCertificateFlags  errors,
               gpointer              user_data)
{
  /* We only look at the certificate; the caller decides whether to pin it. */
  return TRUE;
}

static void
handshake_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GTlsCertificate *cert;
  g_autoptr(GByteArray) der = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];
  ProbeResult *r;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                               "TLS with relay %s:%u failed: %s", p->host, p->port, error->message);
      return;
    }

  cert = g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (source));
  if (cert != NULL)
    g_object_get (cert, "certificate", &der, NULL);
  if (der == NULL)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL,
                               "relay %s:%u presented no certificate", p->host, p->port);
      return;
    }

  nfltr_fingerprint_of_der (der->data, der->len, digest);
  r = g_new0 (ProbeResult, 1);
  r->fingerprint = nfltr_fingerprint_format (digest);
  r->subject = g_tls_certificate_get_subject_name (cert);
  if (r->subject == NULL)
    r->subject = g_strdup ("");
  g_io_stream_close_async (p->tls, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_task_return_pointer (task, r, probe_result_free);
}

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *p = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnectable) identity = NULL;

  p->tcp = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (p->tcp == NULL)
    {
      g_task_return_error (task, nfltr_relay_unreachable_error (p->host, p->port, error));
      return;
    }

  /* The relay's own name as SNI: that is how the relay knows to answer as itself. */
  identity = g_network_address_new (p->host, p->port);
  p->tls = g_tls_client_connection_new (G_IO_STREAM (p->tcp), identity, &error);
  if (p->tls == NULL)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_FAILED, "TLS is unavailable: %s",
                               error->message);
      return;
    }
  g_signal_connect (p->tls, "accept-certificate", G_CALLBACK (accept_any_cb), NULL);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (p->tls), G_PRIORITY_DEFAULT,
                                    g_task_get_cancellable (task), handshake_cb,
                                    g_object_ref (task));
}

void
nfltr_relay_probe_async (const char          *host,
                         guint16              port,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) connectable = nfltr_resolve_connectable (host, port);
  Probe *p = g_new0 (Probe, 1);

  g_task_set_source_tag (task, nfltr_relay_probe_async);
  p->host = g_strdup (host);
  p->port = port;
  g_task_set_task_data (task, p, probe_free);

  g_socket_client_set_timeout (client, 15);
  g_socket_client_connect_async (client, connectable, cancellable, connect_cb,
                                 g_steal_pointer (&task));
}

gboolean
nfltr_relay_probe_finish (GAsyncResult  *result,
                          char         **fingerprint,
                          char         **subject,
                          GError       **error)
{
  ProbeResult *r = g_task_propagate_pointer (G_TASK (result), error);

  if (r == NULL)
    return FALSE;
  if (fingerprint)
    *fingerprint = g_steal_pointer (&r->fingerprint);
  if (subject)
    *subject = g_steal_pointer (&r->subject);
  probe_result_free (r);
  return TRUE;
}
