/* relay-replay-io-stream.h — a socket connection whose input starts with bytes the relay has
 * already read (see relay-replay-input-stream.h). Closing it closes the socket. This is the
 * base stream the relay runs its own TLS server on. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RELAY_TYPE_REPLAY_IO_STREAM (relay_replay_io_stream_get_type ())
G_DECLARE_FINAL_TYPE (RelayReplayIOStream, relay_replay_io_stream, RELAY, REPLAY_IO_STREAM, GIOStream)

GIOStream *relay_replay_io_stream_new (GIOStream *base,
                                       GBytes    *prefix);

G_END_DECLS
