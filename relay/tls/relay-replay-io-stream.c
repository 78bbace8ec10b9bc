/* relay-replay-io-stream.c — base connection + replayed input, closed as one */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-replay-io-stream.h"
#include "relay-replay-input-stream.h"

struct _RelayReplayIOStream {
  GIOStream     parent_instance;
  GIOStream    *base;
  GInputStream *input;
};

G_DEFINE_FINAL_TYPE (RelayReplayIOStream, relay_replay_io_stream, G_TYPE_IO_STREAM)

static GInputStream *
relay_replay_io_stream_get_input_stream (GIOStream *stream)
{
  return RELAY_REPLAY_IO_STREAM (stream)->input;
}

static GOutputStream *
relay_replay_io_stream_get_output_stream (GIOStream *stream)
{
  return g_io_stream_get_output_stream (RELAY_REPLAY_IO_STREAM (stream)->base);
}

static gboolean
relay_replay_io_stream_close (GIOStream *stream, GCancellable *cancellable, GError **error)
{
  /* The base connection owns the socket; closing it is what releases the descriptor. */
  return g_io_stream_close (RELAY_REPLAY_IO_STREAM (stream)->base, cancellable, error);
}

/* Closing a socket never blocks, so do it at once instead of GIOStream's default of a worker
 * thread: the descriptor is gone when the callback runs. */
static void
relay_replay_io_stream_close_async (GIOStream *stream, int io_priority, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (stream, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, relay_replay_io_stream_close_async);
  if (relay_replay_io_stream_close (stream, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static gboolean
relay_replay_io_stream_close_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
relay_replay_io_stream_finalize (GObject *object)
{
  RelayReplayIOStream *self = RELAY_REPLAY_IO_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->base);
  G_OBJECT_CLASS (relay_replay_io_stream_parent_class)->finalize (object);
}

static void
relay_replay_io_stream_class_init (RelayReplayIOStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *io_class = G_IO_STREAM_CLASS (klass);

  object_class->finalize = relay_replay_io_stream_finalize;
  io_class->get_input_stream = relay_replay_io_stream_get_input_stream;
  io_class->get_output_stream = relay_replay_io_stream_get_output_stream;
  io_class->close_fn = relay_replay_io_stream_close;
  io_class->close_async = relay_replay_io_stream_close_async;
  io_class->close_finish = relay_replay_io_stream_close_finish;
}

static void
relay_replay_io_stream_init (RelayReplayIOStream *self)
{
}

GIOStream *
relay_replay_io_stream_new (GIOStream *base, GBytes *prefix)
{
  RelayReplayIOStream *self = g_object_new (RELAY_TYPE_REPLAY_IO_STREAM, NULL);

  self->base = g_object_ref (base);
  self->input = relay_replay_input_stream_new (g_io_stream_get_input_stream (base), prefix);
  return G_IO_STREAM (self);
}
