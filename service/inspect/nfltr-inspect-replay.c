/* nfltr-inspect-replay.c — one replayed request (see the header) */
#define G_LOG_DOMAIN "nfltr-inspect"

#include "nfltr-inspect-replay.h"

#include "nfltr-error.h"
#include "nfltr-inspect-h1.h"
#include "nfltr-main-context.h"

typedef struct {
  NfltrInspectH1 *observer;
  NfltrInspectStore *store;
  GBytes *request;
  GIOStream *stream;
  GCancellable *cancel;  /* the caller's, or the timeout's */
  GSource *timeout;      /* on the thread-default context: the engine may run in a CLI thread */
  gsize received;
  guint8 buf[16 * 1024];
} Replay;

static void
replay_free (gpointer data)
{
  Replay *r = data;

  nfltr_clear_source (&r->timeout);
  g_clear_pointer (&r->observer, nfltr_inspect_h1_free);
  g_clear_pointer (&r->request, g_bytes_unref);
  g_clear_object (&r->stream);
  g_clear_object (&r->cancel);
  g_clear_object (&r->store);
  g_free (r);
}

static void read_cb (GObject *source, GAsyncResult *result, gpointer user_data);

/* The response ended (EOF, an error or the cut). Freeing the observer stores the exchange
 * (an unanswered request with the cause); before the request went out nothing is stored. */
static void
finish (GTask *task, const char *error_message)
{
  Replay *r = g_task_get_task_data (task);
  guint64 id;

  if (r->stream == NULL)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                               "the local server could not be reached for the replay: %s", error_message);
      return;
    }
  id = nfltr_inspect_h1_end (r->observer);
  if (id == 0)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_FAILED, "the replay was not recorded: %s",
                               error_message != NULL ? error_message : "the local server's answer could not be read");
      return;
    }
  g_task_return_int (task, (gssize) id);
}

static void
read_more (GTask *task)
{
  Replay *r = g_task_get_task_data (task);

  g_input_stream_read_async (g_io_stream_get_input_stream (r->stream), r->buf, sizeof r->buf,
                             G_PRIORITY_DEFAULT, r->cancel, read_cb, task);
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Replay *r = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0)
    return finish (task, error->message);
  if (n == 0 || r->received + n > NFLTR_INSPECT_REPLAY_MAX_RESPONSE)
    return finish (task, NULL);
  r->received += n;
  nfltr_inspect_h1_feed_response (r->observer, r->buf, n);
  read_more (g_steal_pointer (&task));
}

static void
write_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    return finish (task, error->message);
  read_more (g_steal_pointer (&task));
}

static gboolean
accept_any_cb (GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer user_data)
{
  /* As the tunnel itself: --origin-tls encrypts to the local server without checking it. */
  return TRUE;
}

static void
event_cb (GSocketClient *client, GSocketClientEvent event, GSocketConnectable *connectable,
          GIOStream *connection, gpointer user_data)
{
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING)
    g_signal_connect (connection, "accept-certificate", G_CALLBACK (accept_any_cb), NULL);
}

static void
connect_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Replay *r = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GSocketConnection *conn = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);

  if (conn == NULL)
    return finish (task, error->message);
  r->stream = G_IO_STREAM (conn);
  nfltr_inspect_h1_feed_request (r->observer, g_bytes_get_data (r->request, NULL),
                                 g_bytes_get_size (r->request));
  g_output_stream_write_all_async (g_io_stream_get_output_stream (r->stream),
                                   g_bytes_get_data (r->request, NULL), g_bytes_get_size (r->request),
                                   G_PRIORITY_DEFAULT, r->cancel, write_cb, g_steal_pointer (&task));
}

static gboolean
timeout_cb (gpointer user_data)
{
  Replay *r = user_data;

  g_cancellable_cancel (r->cancel);
  return G_SOURCE_REMOVE;
}

void
nfltr_inspect_replay_async (NfltrInspectStore   *store,
                            guint64              id,
                            const char          *edits_json,
                            gsize                edits_len,
                            const char          *origin_host,
                            guint16              origin_port,
                            gboolean             origin_tls,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (store, cancellable, callback, user_data);
  g_autoptr(NfltrInspectExchange) ex = nfltr_inspect_store_get (store, id);
  g_autoptr(NfltrInspectEdits) edits = NULL;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GError) error = NULL;
  Replay *r;

  g_task_set_source_tag (task, nfltr_inspect_replay_async);
  if (ex == NULL)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND,
                               "exchange %" G_GUINT64_FORMAT " is no longer kept by the inspector", id);
      return;
    }
  edits = nfltr_inspect_edits_parse (edits_json, edits_len, &error);
  if (edits == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  r = g_new0 (Replay, 1);
  r->request = nfltr_inspect_build_request (ex, edits, origin_host, &error);
  if (r->request == NULL)
    {
      replay_free (r);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  r->store = g_object_ref (store);
  r->observer = nfltr_inspect_h1_new (store, "replay");
  nfltr_inspect_h1_set_replay_of (r->observer, id);
  r->cancel = cancellable != NULL ? g_object_ref (cancellable) : g_cancellable_new ();
  r->timeout = nfltr_timeout_source_add_seconds (NFLTR_INSPECT_REPLAY_TIMEOUT_S, timeout_cb, r);
  g_task_set_task_data (task, r, replay_free);

  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, NFLTR_INSPECT_REPLAY_TIMEOUT_S);
  if (origin_tls)
    {
      g_socket_client_set_tls (client, TRUE);
      g_signal_connect (client, "event", G_CALLBACK (event_cb), NULL);
    }
  g_socket_client_connect_to_host_async (client, origin_host, origin_port, r->cancel, connect_cb,
                                         g_steal_pointer (&task));
}

guint64
nfltr_inspect_replay_finish (GAsyncResult *result, GError **error)
{
  return (guint64) g_task_propagate_int (G_TASK (result), error);
}
