/* relay-replay-input-stream.c — replays already-read bytes, then reads the base stream */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-replay-input-stream.h"

#include <string.h>

struct _RelayReplayInputStream {
  GInputStream  parent_instance;
  GInputStream *base;
  GBytes       *prefix;
  gsize         offset;
};

static void relay_replay_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (RelayReplayInputStream, relay_replay_input_stream, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      relay_replay_input_stream_pollable_init))

static gsize
prefix_left (RelayReplayInputStream *self)
{
  return self->prefix ? g_bytes_get_size (self->prefix) - self->offset : 0;
}

static gssize
take_prefix (RelayReplayInputStream *self, void *buffer, gsize count)
{
  gsize n = MIN (count, prefix_left (self));

  memcpy (buffer, (const guint8 *) g_bytes_get_data (self->prefix, NULL) + self->offset, n);
  self->offset += n;
  if (prefix_left (self) == 0)
    g_clear_pointer (&self->prefix, g_bytes_unref);
  return n;
}

static gssize
relay_replay_input_stream_read (GInputStream *stream, void *buffer, gsize count,
                                GCancellable *cancellable, GError **error)
{
  RelayReplayInputStream *self = RELAY_REPLAY_INPUT_STREAM (stream);

  if (prefix_left (self) > 0)
    return take_prefix (self, buffer, count);
  return g_input_stream_read (self->base, buffer, count, cancellable, error);
}

static gboolean
relay_replay_input_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  RelayReplayInputStream *self = RELAY_REPLAY_INPUT_STREAM (stream);

  g_clear_pointer (&self->prefix, g_bytes_unref);
  return g_input_stream_close (self->base, cancellable, error);
}

static gboolean
relay_replay_input_stream_can_poll (GPollableInputStream *stream)
{
  RelayReplayInputStream *self = RELAY_REPLAY_INPUT_STREAM (stream);

  return g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (self->base));
}

static gboolean
relay_replay_input_stream_is_readable (GPollableInputStream *stream)
{
  RelayReplayInputStream *self = RELAY_REPLAY_INPUT_STREAM (stream);

  return prefix_left (self) > 0 ||
         g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (self->base));
}

static GSource *
relay_replay_input_stream_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  RelayReplayInputStream *self = RELAY_REPLAY_INPUT_STREAM (stream);
  g_autoptr(GSource) child = NULL;

  /* With bytes still buffered the stream is readable now: a source that fires at once. */
  if (prefix_left (self) > 0)
    child = g_timeout_source_new (0);
  else
    child = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (self->base), cancellable);
  return g_pollable_source_new_full (stream, child, cancellable);
}

static gssize
relay_replay_input_stream_read_nonblocking (GPollableInputStream *stream, void *buffer,
                                            gsize count, GError **error)
{
  RelayReplayInputStream *self = RELAY_REPLAY_INPUT_STREAM (stream);

  if (prefix_left (self) > 0)
    return take_prefix (self, buffer, count);
  return g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (self->base),
                                                   buffer, count, NULL, error);
}

static void
relay_replay_input_stream_finalize (GObject *object)
{
  RelayReplayInputStream *self = RELAY_REPLAY_INPUT_STREAM (object);

  g_clear_pointer (&self->prefix, g_bytes_unref);
  g_clear_object (&self->base);
  G_OBJECT_CLASS (relay_replay_input_stream_parent_class)->finalize (object);
}

static void
relay_replay_input_stream_class_init (RelayReplayInputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = relay_replay_input_stream_finalize;
  input_class->read_fn = relay_replay_input_stream_read;
  input_class->close_fn = relay_replay_input_stream_close;
}

static void
relay_replay_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = relay_replay_input_stream_can_poll;
  iface->is_readable = relay_replay_input_stream_is_readable;
  iface->create_source = relay_replay_input_stream_create_source;
  iface->read_nonblocking = relay_replay_input_stream_read_nonblocking;
}

static void
relay_replay_input_stream_init (RelayReplayInputStream *self)
{
}

GInputStream *
relay_replay_input_stream_new (GInputStream *base, GBytes *prefix)
{
  RelayReplayInputStream *self;

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (base), NULL);

  self = g_object_new (RELAY_TYPE_REPLAY_INPUT_STREAM, NULL);
  self->base = g_object_ref (base);
  if (prefix != NULL && g_bytes_get_size (prefix) > 0)
    self->prefix = g_bytes_ref (prefix);
  return G_INPUT_STREAM (self);
}
