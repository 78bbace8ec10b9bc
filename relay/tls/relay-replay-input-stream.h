/* relay-replay-input-stream.h — an input stream that first hands out bytes the relay has
 * already read off a socket (the ClientHello it routed on), then reads the socket itself.
 * Pollable, because GIO's TLS connections require pollable base streams. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RELAY_TYPE_REPLAY_INPUT_STREAM (relay_replay_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (RelayReplayInputStream, relay_replay_input_stream, RELAY, REPLAY_INPUT_STREAM, GInputStream)

/* base must implement GPollableInputStream (a socket's input stream does). */
GInputStream *relay_replay_input_stream_new (GInputStream *base,
                                             GBytes       *prefix);

G_END_DECLS
