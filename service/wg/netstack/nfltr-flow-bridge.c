/* nfltr-flow-bridge.c — see the header. The socket is non-blocking and polled through GSources
 * on the thread-default context (the netstack's). */
#define G_LOG_DOMAIN "nfltr-netstack"

#include "nfltr-flow-bridge.h"

/* One read from the socket: at most this much, and never more than the flow can queue. */
#define BRIDGE_READ_MAX (256 * 1024)

struct _NfltrFlowBridge {
  GSocketConnection *connection;
  GSocket *socket;
  NfltrTcpFlow *flow;
  GByteArray *to_socket; /* from the flow, not yet taken by the socket */
  GByteArray *to_flow;   /* from the socket, not yet taken by the flow */
  guint8 *read_buf;
  GSource *in_source;
  GSource *out_source;
  gboolean flow_eof;     /* the peer's FIN arrived */
  gboolean socket_eof;   /* the socket's reader saw end of stream */
  gboolean socket_shut;  /* we shut the socket's write side */
  gboolean flow_shut;    /* we sent our FIN into the flow */
  gboolean finished;
  guint64 bytes_to_flow;
  guint64 bytes_to_socket;
  NfltrFlowBridgeDoneFunc done;
  gpointer user_data;
};

static void watch_in (NfltrFlowBridge *self);

static void
finish (NfltrFlowBridge *self,
        const GError *error)
{
  if (self->finished)
    return;
  self->finished = TRUE;
  if (self->in_source != NULL)
    g_source_destroy (self->in_source);
  if (self->out_source != NULL)
    g_source_destroy (self->out_source);
  g_clear_pointer (&self->in_source, g_source_unref);
  g_clear_pointer (&self->out_source, g_source_unref);
  self->done (self, error, self->user_data);
}

static void
check_done (NfltrFlowBridge *self)
{
  if (self->flow_shut && self->socket_shut)
    finish (self, NULL);
}

static gboolean out_ready_cb (GSocket *socket, GIOCondition condition, gpointer user_data);

static void
flush_to_socket (NfltrFlowBridge *self)
{
  while (self->to_socket->len > 0)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_send (self->socket, (const char *) self->to_socket->data,
                                self->to_socket->len, NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          if (self->out_source == NULL)
            {
              self->out_source = g_socket_create_source (self->socket, G_IO_OUT, NULL);
              g_source_set_callback (self->out_source, G_SOURCE_FUNC (out_ready_cb), self, NULL);
              g_source_attach (self->out_source, g_main_context_get_thread_default ());
            }
          return;
        }
      if (n < 0)
        {
          finish (self, error);
          return;
        }
      g_byte_array_remove_range (self->to_socket, 0, (guint) n);
      self->bytes_to_socket += (guint64) n;
      /* the window opens only as fast as the socket drains */
      nfltr_tcp_flow_consumed (self->flow, (gsize) n);
      if (self->finished)
        return;
    }
  if (self->flow_eof && !self->socket_shut)
    {
      g_socket_shutdown (self->socket, FALSE, TRUE, NULL);
      self->socket_shut = TRUE;
      check_done (self);
    }
}

static gboolean
out_ready_cb (GSocket *socket,
              GIOCondition condition,
              gpointer user_data)
{
  NfltrFlowBridge *self = user_data;

  g_clear_pointer (&self->out_source, g_source_unref);
  flush_to_socket (self);
  return G_SOURCE_REMOVE;
}

static void
push_to_flow (NfltrFlowBridge *self)
{
  if (self->to_flow->len > 0)
    {
      gsize n = nfltr_tcp_flow_write (self->flow, self->to_flow->data, self->to_flow->len);

      g_byte_array_remove_range (self->to_flow, 0, (guint) n);
      self->bytes_to_flow += n;
    }
  if (self->to_flow->len == 0 && self->socket_eof && !self->flow_shut)
    {
      nfltr_tcp_flow_shutdown_write (self->flow);
      self->flow_shut = TRUE;
      check_done (self);
    }
}

static gboolean
in_ready_cb (GSocket *socket,
             GIOCondition condition,
             gpointer user_data)
{
  NfltrFlowBridge *self = user_data;
  g_autoptr (GError) error = NULL;
  gsize space = nfltr_tcp_flow_get_write_space (self->flow);
  gssize n;

  if (space == 0 || self->to_flow->len > 0)
    {
      /* resumed by the flow's writable callback */
      g_clear_pointer (&self->in_source, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  n = g_socket_receive (self->socket, (char *) self->read_buf, MIN (space, BRIDGE_READ_MAX), NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n < 0)
    {
      g_clear_pointer (&self->in_source, g_source_unref);
      finish (self, error);
      return G_SOURCE_REMOVE;
    }
  if (n == 0)
    {
      self->socket_eof = TRUE;
      g_clear_pointer (&self->in_source, g_source_unref);
      push_to_flow (self);
      return G_SOURCE_REMOVE;
    }
  g_byte_array_append (self->to_flow, self->read_buf, (guint) n);
  push_to_flow (self);
  return G_SOURCE_CONTINUE;
}

static void
watch_in (NfltrFlowBridge *self)
{
  if (self->in_source != NULL || self->socket_eof || self->finished)
    return;
  self->in_source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->in_source, G_SOURCE_FUNC (in_ready_cb), self, NULL);
  g_source_attach (self->in_source, g_main_context_get_thread_default ());
}

static void
flow_received (NfltrTcpFlow *flow,
               const guint8 *data,
               gsize len,
               gpointer user_data)
{
  NfltrFlowBridge *self = user_data;

  if (self->finished)
    return;
  if (len == 0)
    self->flow_eof = TRUE;
  else
    g_byte_array_append (self->to_socket, data, (guint) len);
  if (self->out_source == NULL)
    flush_to_socket (self);
}

static void
flow_writable (NfltrTcpFlow *flow,
               gpointer user_data)
{
  NfltrFlowBridge *self = user_data;

  if (self->finished)
    return;
  push_to_flow (self);
  if (self->to_flow->len == 0)
    watch_in (self);
}

static void
flow_failed (NfltrTcpFlow *flow,
             const GError *error,
             gpointer user_data)
{
  finish (user_data, error);
}

static const NfltrTcpFlowFuncs bridge_flow_funcs = {
  .received = flow_received,
  .writable = flow_writable,
  .failed = flow_failed,
};

NfltrFlowBridge *
nfltr_flow_bridge_new (GSocketConnection *connection,
                       NfltrTcpFlow *flow,
                       const guint8 *initial,
                       gsize initial_len,
                       NfltrFlowBridgeDoneFunc done,
                       gpointer user_data)
{
  NfltrFlowBridge *self = g_new0 (NfltrFlowBridge, 1);

  self->connection = g_object_ref (connection);
  self->socket = g_socket_connection_get_socket (connection);
  g_socket_set_blocking (self->socket, FALSE);
  self->flow = flow;
  self->to_socket = g_byte_array_new ();
  self->to_flow = g_byte_array_new ();
  self->read_buf = g_malloc (BRIDGE_READ_MAX);
  self->done = done;
  self->user_data = user_data;
  if (initial_len > 0)
    g_byte_array_append (self->to_flow, initial, (guint) initial_len);
  nfltr_tcp_flow_set_funcs (flow, &bridge_flow_funcs, self);
  push_to_flow (self);
  watch_in (self);
  return self;
}

void
nfltr_flow_bridge_free (NfltrFlowBridge *self)
{
  if (self == NULL)
    return;
  if (self->in_source != NULL)
    g_source_destroy (self->in_source);
  if (self->out_source != NULL)
    g_source_destroy (self->out_source);
  g_clear_pointer (&self->in_source, g_source_unref);
  g_clear_pointer (&self->out_source, g_source_unref);
  /* an unfinished bridge resets the flow: the peer must not take a cut stream for a whole one */
  if (self->finished && self->flow_shut && self->socket_shut)
    nfltr_tcp_flow_free (self->flow);
  else
    nfltr_tcp_flow_abort (self->flow);
  g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
  g_object_unref (self->connection);
  g_byte_array_unref (self->to_socket);
  g_byte_array_unref (self->to_flow);
  g_free (self->read_buf);
  g_free (self);
}

guint64
nfltr_flow_bridge_get_bytes_to_flow (NfltrFlowBridge *self)
{
  return self->bytes_to_flow;
}

guint64
nfltr_flow_bridge_get_bytes_to_socket (NfltrFlowBridge *self)
{
  return self->bytes_to_socket;
}
