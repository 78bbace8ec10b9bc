/* nfltr-p2p-mux.h — streams inside one P2P session (docs/protocol.md §9.5).
 *
 * Every record's plaintext is one mux frame:
 *
 *   frame = type (u8) | stream id (u32 BE) | body
 *   OPEN   body: kind (u8)                 the stream exists from now on
 *   DATA   body: bytes (may be empty)      counted against the stream's window
 *   FIN    body: empty                     no more DATA on this stream from this side
 *   WINDOW body: increment (u32 BE)        the receiver consumed that much: send more
 *   RESET  body: reason (u8)               the stream is abandoned, both ways
 *   COMMIT body: audit commitment          stream 0, the session's own (audit/)
 *
 * File data, chat, control and (later) calls share the session without one stalling the
 * others: a stream only sends what its receiver has room for (per-stream windows, so an
 * unread file does not block chat), and the sender fills records from interactive streams
 * before bulk ones, in chunks of at most NFLTR_P2P_MUX_CHUNK so a chat line waits behind
 * one chunk at most. Stream ids: A opens odd ones, B even ones, 0 is the session itself. */
#pragma once

#include "nfltr-p2p-handshake.h"

G_BEGIN_DECLS

#define NFLTR_P2P_MUX_HEADER       5
/* §9.5: at most this much of one stream per record, so a record's plaintext (header and
 * chunk) is the largest §9.4 allows. Each record costs a MAC, an audit link, a frame on the
 * relayed path and a wake-up: 64 KiB records cost a quarter of 16 KiB ones per byte, and a
 * chat line still waits behind one chunk at most. */
#define NFLTR_P2P_MUX_CHUNK        (64 * 1024 - NFLTR_P2P_MUX_HEADER)
#define NFLTR_P2P_MUX_INITIAL_WINDOW (256 * 1024)
#define NFLTR_P2P_MUX_MAX_STREAMS  256

typedef enum {
  NFLTR_P2P_MUX_OPEN   = 1,
  NFLTR_P2P_MUX_DATA   = 2,
  NFLTR_P2P_MUX_FIN    = 3,
  NFLTR_P2P_MUX_WINDOW = 4,
  NFLTR_P2P_MUX_RESET  = 5,
  NFLTR_P2P_MUX_COMMIT = 6,
} NfltrP2pMuxType;

typedef enum {
  NFLTR_P2P_STREAM_CONTROL = 1,
  NFLTR_P2P_STREAM_CHAT    = 2,
  NFLTR_P2P_STREAM_FILE    = 3,
  NFLTR_P2P_STREAM_CALL    = 4,
} NfltrP2pStreamKind;

typedef struct {
  NfltrP2pMuxType type;
  guint32         stream;
  guint8          kind;       /* OPEN */
  guint32         increment;  /* WINDOW */
  guint8          reason;     /* RESET */
  const guint8   *data;       /* DATA, COMMIT: points into the parsed buffer */
  gsize           len;
} NfltrP2pMuxFrame;

/* Parses one mux frame; the fuzz target's entry point. */
gboolean nfltr_p2p_mux_frame_parse (const guint8     *buf,
                                    gsize             len,
                                    NfltrP2pMuxFrame *frame,
                                    GError          **error);

typedef struct _NfltrP2pMux NfltrP2pMux;

typedef struct {
  void (*opened)   (NfltrP2pMux *mux, guint32 stream, NfltrP2pStreamKind kind, gpointer user_data);
  void (*data)     (NfltrP2pMux *mux, guint32 stream, const guint8 *data, gsize len, gpointer user_data);
  void (*finished) (NfltrP2pMux *mux, guint32 stream, gpointer user_data);
  void (*reset)    (NfltrP2pMux *mux, guint32 stream, guint8 reason, gpointer user_data);
  void (*commit)   (NfltrP2pMux *mux, const guint8 *data, gsize len, gpointer user_data);
} NfltrP2pMuxCallbacks;

NfltrP2pMux *nfltr_p2p_mux_new (NfltrP2pRole                role,
                                const NfltrP2pMuxCallbacks *callbacks,
                                gpointer                    user_data);
void         nfltr_p2p_mux_free (NfltrP2pMux *mux);

guint32      nfltr_p2p_mux_open (NfltrP2pMux       *mux,
                                 NfltrP2pStreamKind kind,
                                 GError           **error);
/* Queues bytes on a stream (copied); they leave as the window allows. */
gboolean     nfltr_p2p_mux_write (NfltrP2pMux  *mux,
                                  guint32       stream,
                                  const guint8 *data,
                                  gsize         len,
                                  GError      **error);
gboolean     nfltr_p2p_mux_finish (NfltrP2pMux *mux,
                                   guint32      stream,
                                   GError     **error);
/* The application took N bytes of STREAM's data: grants the peer N more. */
void         nfltr_p2p_mux_consume (NfltrP2pMux *mux,
                                    guint32      stream,
                                    gsize        n);
void         nfltr_p2p_mux_send_commit (NfltrP2pMux  *mux,
                                        const guint8 *data,
                                        gsize         len);
/* Bytes queued on STREAM and not yet in a frame. */
gsize        nfltr_p2p_mux_get_queued (NfltrP2pMux *mux,
                                       guint32      stream);

/* The next frame to send, written to FRAME (replacing its contents); FALSE when nothing
 * can go now (all queues empty or all windows closed). */
gboolean     nfltr_p2p_mux_next (NfltrP2pMux *mux,
                                 GByteArray  *frame);
/* One received frame. Errors are the peer's protocol faults and end the session. */
gboolean     nfltr_p2p_mux_receive (NfltrP2pMux  *mux,
                                    const guint8 *buf,
                                    gsize         len,
                                    GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrP2pMux, nfltr_p2p_mux_free)

G_END_DECLS
