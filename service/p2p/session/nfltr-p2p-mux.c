/* nfltr-p2p-mux.c — streams, windows and the send order inside one session (§9.5). */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-mux.h"
#include "nfltr-p2p-error.h"

#include <string.h>

typedef struct {
  guint32            id;
  NfltrP2pStreamKind kind;
  GQueue             queue;        /* GBytes not yet framed */
  gsize              head_offset;  /* bytes of the first GBytes already framed */
  gsize              queued;
  gint64             send_window;  /* what the peer still has room for */
  gint64             recv_window;  /* what we still accept */
  gsize              pending_credit;
  gboolean           fin_queued;
  gboolean           fin_sent;
  gboolean           fin_received;
} Stream;

struct _NfltrP2pMux {
  NfltrP2pRole         role;
  NfltrP2pMuxCallbacks callbacks;
  gpointer             user_data;
  GHashTable          *streams;   /* id → Stream */
  GPtrArray           *order;     /* Stream, in opening order: round-robin within a class */
  GHashTable          *gone;      /* ids reset here: late frames for them are dropped */
  GQueue               control;   /* GBytes: OPEN, WINDOW, RESET, COMMIT, in order */
  guint                cursor[2];
  guint32              next_id;
};

static void
stream_free (gpointer data)
{
  Stream *s = data;

  g_queue_clear_full (&s->queue, (GDestroyNotify) g_bytes_unref);
  g_free (s);
}

NfltrP2pMux *
nfltr_p2p_mux_new (NfltrP2pRole                role,
                   const NfltrP2pMuxCallbacks *callbacks,
                   gpointer                    user_data)
{
  NfltrP2pMux *mux = g_new0 (NfltrP2pMux, 1);

  mux->role = role;
  if (callbacks != NULL)
    mux->callbacks = *callbacks;
  mux->user_data = user_data;
  mux->streams = g_hash_table_new_full (NULL, NULL, NULL, stream_free);
  mux->order = g_ptr_array_new ();
  mux->gone = g_hash_table_new (NULL, NULL);
  g_queue_init (&mux->control);
  mux->next_id = role == NFLTR_P2P_ROLE_A ? 1 : 2;
  return mux;
}

void
nfltr_p2p_mux_free (NfltrP2pMux *mux)
{
  if (mux == NULL)
    return;
  g_ptr_array_unref (mux->order);
  g_hash_table_unref (mux->streams);
  g_hash_table_unref (mux->gone);
  g_queue_clear_full (&mux->control, (GDestroyNotify) g_bytes_unref);
  g_free (mux);
}

static void
put_header (GByteArray *out,
            guint8      type,
            guint32     stream)
{
  guint32 be = GUINT32_TO_BE (stream);

  g_byte_array_append (out, &type, 1);
  g_byte_array_append (out, (const guint8 *) &be, 4);
}

static void
queue_control (NfltrP2pMux  *mux,
               guint8        type,
               guint32       stream,
               const guint8 *body,
               gsize         len)
{
  GByteArray *out = g_byte_array_sized_new (NFLTR_P2P_MUX_HEADER + len);

  put_header (out, type, stream);
  if (len > 0)
    g_byte_array_append (out, body, len);
  g_queue_push_tail (&mux->control, g_byte_array_free_to_bytes (out));
}

static gboolean
is_interactive (NfltrP2pStreamKind kind)
{
  return kind != NFLTR_P2P_STREAM_FILE;
}

static Stream *
stream_add (NfltrP2pMux       *mux,
            guint32            id,
            NfltrP2pStreamKind kind)
{
  Stream *s = g_new0 (Stream, 1);

  s->id = id;
  s->kind = kind;
  g_queue_init (&s->queue);
  s->send_window = NFLTR_P2P_MUX_INITIAL_WINDOW;
  s->recv_window = NFLTR_P2P_MUX_INITIAL_WINDOW;
  g_hash_table_insert (mux->streams, GUINT_TO_POINTER (id), s);
  g_ptr_array_add (mux->order, s);
  return s;
}

static void
stream_remove (NfltrP2pMux *mux,
               Stream      *s)
{
  g_hash_table_add (mux->gone, GUINT_TO_POINTER (s->id));
  g_ptr_array_remove (mux->order, s);
  g_hash_table_remove (mux->streams, GUINT_TO_POINTER (s->id));
}

static void
maybe_retire (NfltrP2pMux *mux,
              Stream      *s)
{
  if (s->fin_sent && s->fin_received && s->queued == 0)
    stream_remove (mux, s);
}

guint32
nfltr_p2p_mux_open (NfltrP2pMux       *mux,
                    NfltrP2pStreamKind kind,
                    GError           **error)
{
  guint8 k = kind;
  guint32 id;

  if (g_hash_table_size (mux->streams) >= NFLTR_P2P_MUX_MAX_STREAMS || mux->next_id > G_MAXUINT32 - 2)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_LIMIT,
                   "a session holds at most %d streams", NFLTR_P2P_MUX_MAX_STREAMS);
      return 0;
    }
  id = mux->next_id;
  mux->next_id += 2;
  stream_add (mux, id, kind);
  queue_control (mux, NFLTR_P2P_MUX_OPEN, id, &k, 1);
  return id;
}

static Stream *
lookup_writable (NfltrP2pMux *mux,
                 guint32      stream,
                 GError     **error)
{
  Stream *s = g_hash_table_lookup (mux->streams, GUINT_TO_POINTER (stream));

  if (s == NULL || s->fin_queued)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CLOSED,
                   "stream %u is closed for writing", stream);
      return NULL;
    }
  return s;
}

gboolean
nfltr_p2p_mux_write (NfltrP2pMux  *mux,
                     guint32       stream,
                     const guint8 *data,
                     gsize         len,
                     GError      **error)
{
  Stream *s = lookup_writable (mux, stream, error);

  if (s == NULL)
    return FALSE;
  if (len == 0)
    return TRUE;
  g_queue_push_tail (&s->queue, g_bytes_new (data, len));
  s->queued += len;
  return TRUE;
}

gboolean
nfltr_p2p_mux_finish (NfltrP2pMux *mux,
                      guint32      stream,
                      GError     **error)
{
  Stream *s = lookup_writable (mux, stream, error);

  if (s == NULL)
    return FALSE;
  s->fin_queued = TRUE;
  return TRUE;
}

void
nfltr_p2p_mux_consume (NfltrP2pMux *mux,
                       guint32      stream,
                       gsize        n)
{
  Stream *s = g_hash_table_lookup (mux->streams, GUINT_TO_POINTER (stream));
  guint32 be;

  if (s == NULL || s->fin_received)
    return;
  s->pending_credit += n;
  /* One WINDOW per quarter window, not one per read. */
  if (s->pending_credit < NFLTR_P2P_MUX_INITIAL_WINDOW / 4)
    return;
  s->recv_window += s->pending_credit;
  be = GUINT32_TO_BE ((guint32) s->pending_credit);
  s->pending_credit = 0;
  queue_control (mux, NFLTR_P2P_MUX_WINDOW, stream, (const guint8 *) &be, 4);
}

void
nfltr_p2p_mux_send_commit (NfltrP2pMux  *mux,
                           const guint8 *data,
                           gsize         len)
{
  queue_control (mux, NFLTR_P2P_MUX_COMMIT, 0, data, len);
}

gsize
nfltr_p2p_mux_get_queued (NfltrP2pMux *mux,
                          guint32      stream)
{
  Stream *s = g_hash_table_lookup (mux->streams, GUINT_TO_POINTER (stream));

  return s != NULL ? s->queued : 0;
}

static gboolean
sendable (Stream *s)
{
  return (s->queued > 0 && s->send_window > 0) || (s->queued == 0 && s->fin_queued && !s->fin_sent);
}

static void
frame_data (NfltrP2pMux *mux,
            Stream      *s,
            GByteArray  *out)
{
  gsize want;

  if (s->queued == 0)
    {
      put_header (out, NFLTR_P2P_MUX_FIN, s->id);
      s->fin_sent = TRUE;
      maybe_retire (mux, s);
      return;
    }
  want = MIN (MIN (s->queued, (gsize) s->send_window), NFLTR_P2P_MUX_CHUNK);
  put_header (out, NFLTR_P2P_MUX_DATA, s->id);
  s->queued -= want;
  s->send_window -= want;
  while (want > 0)
    {
      GBytes *head = g_queue_peek_head (&s->queue);
      gsize size;
      const guint8 *p = g_bytes_get_data (head, &size);
      gsize take = MIN (want, size - s->head_offset);

      g_byte_array_append (out, p + s->head_offset, take);
      s->head_offset += take;
      want -= take;
      if (s->head_offset == size)
        {
          g_bytes_unref (g_queue_pop_head (&s->queue));
          s->head_offset = 0;
        }
    }
}

gboolean
nfltr_p2p_mux_next (NfltrP2pMux *mux,
                    GByteArray  *frame)
{
  GBytes *control = g_queue_pop_head (&mux->control);

  g_byte_array_set_size (frame, 0);
  if (control != NULL)
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (control, &len);

      g_byte_array_append (frame, p, len);
      g_bytes_unref (control);
      return TRUE;
    }
  /* Interactive streams first, then bulk; round-robin inside each class. */
  for (guint class = 0; class < 2; class ++)
    {
      guint n = mux->order->len;

      for (guint k = 0; k < n; k++)
        {
          guint at = (mux->cursor[class] + k) % n;
          Stream *s = g_ptr_array_index (mux->order, at);

          if (is_interactive (s->kind) != (class == 0) || !sendable (s))
            continue;
          mux->cursor[class] = at + 1;
          frame_data (mux, s, frame);
          return TRUE;
        }
    }
  return FALSE;
}

gboolean
nfltr_p2p_mux_frame_parse (const guint8     *buf,
                           gsize             len,
                           NfltrP2pMuxFrame *frame,
                           GError          **error)
{
  guint32 be;
  gsize body;

  memset (frame, 0, sizeof *frame);
  if (len < NFLTR_P2P_MUX_HEADER)
    goto malformed;
  memcpy (&be, buf + 1, 4);
  frame->type = buf[0];
  frame->stream = GUINT32_FROM_BE (be);
  frame->data = buf + NFLTR_P2P_MUX_HEADER;
  frame->len = body = len - NFLTR_P2P_MUX_HEADER;
  switch (frame->type)
    {
      case NFLTR_P2P_MUX_OPEN:
        if (body != 1 || frame->stream == 0)
          goto malformed;
        frame->kind = buf[NFLTR_P2P_MUX_HEADER];
        if (frame->kind < NFLTR_P2P_STREAM_CONTROL || frame->kind > NFLTR_P2P_STREAM_CALL)
          goto malformed;
        break;
      case NFLTR_P2P_MUX_DATA:
        if (frame->stream == 0)
          goto malformed;
        break;
      case NFLTR_P2P_MUX_FIN:
        if (body != 0 || frame->stream == 0)
          goto malformed;
        break;
      case NFLTR_P2P_MUX_WINDOW:
        if (body != 4 || frame->stream == 0)
          goto malformed;
        memcpy (&be, buf + NFLTR_P2P_MUX_HEADER, 4);
        frame->increment = GUINT32_FROM_BE (be);
        break;
      case NFLTR_P2P_MUX_RESET:
        if (body != 1 || frame->stream == 0)
          goto malformed;
        frame->reason = buf[NFLTR_P2P_MUX_HEADER];
        break;
      case NFLTR_P2P_MUX_COMMIT:
        if (frame->stream != 0)
          goto malformed;
        break;
      default: goto malformed;
    }
  return TRUE;

malformed:
  g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED,
               "a malformed stream frame (type %u, %" G_GSIZE_FORMAT " bytes)", len > 0 ? buf[0] : 0, len);
  return FALSE;
}

static gboolean
protocol_error (GError **error, const char *what, guint32 stream)
{
  g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED, "the peer %s on stream %u", what, stream);
  return FALSE;
}

gboolean
nfltr_p2p_mux_receive (NfltrP2pMux *mux, const guint8 *buf, gsize len, GError **error)
{
  NfltrP2pMuxFrame f;
  Stream *s;

  if (!nfltr_p2p_mux_frame_parse (buf, len, &f, error))
    return FALSE;
  if (f.type == NFLTR_P2P_MUX_COMMIT)
    {
      if (mux->callbacks.commit != NULL)
        mux->callbacks.commit (mux, f.data, f.len, mux->user_data);
      return TRUE;
    }
  s = g_hash_table_lookup (mux->streams, GUINT_TO_POINTER (f.stream));
  if (f.type == NFLTR_P2P_MUX_OPEN)
    {
      /* The peer opens ids of its own parity only, each once. */
      gboolean peer_parity = (f.stream % 2 == 1) == (mux->role == NFLTR_P2P_ROLE_B);

      if (!peer_parity || s != NULL || g_hash_table_contains (mux->gone, GUINT_TO_POINTER (f.stream)))
        return protocol_error (error, "opened a stream id it may not use", f.stream);
      if (g_hash_table_size (mux->streams) >= NFLTR_P2P_MUX_MAX_STREAMS)
        return protocol_error (error, "opened too many streams", f.stream);
      stream_add (mux, f.stream, f.kind);
      if (mux->callbacks.opened != NULL)
        mux->callbacks.opened (mux, f.stream, f.kind, mux->user_data);
      return TRUE;
    }
  if (s == NULL)
    {
      /* Frames already on their way when this side reset the stream. */
      if (g_hash_table_contains (mux->gone, GUINT_TO_POINTER (f.stream)))
        return TRUE;
      return protocol_error (error, "sent on a stream that was never opened", f.stream);
    }
  switch (f.type)
    {
      case NFLTR_P2P_MUX_DATA:
        if (s->fin_received)
          return protocol_error (error, "sent data after its end", f.stream);
        if ((gint64) f.len > s->recv_window)
          return protocol_error (error, "sent past the window", f.stream);
        s->recv_window -= f.len;
        if (mux->callbacks.data != NULL)
          mux->callbacks.data (mux, f.stream, f.data, f.len, mux->user_data);
        break;
      case NFLTR_P2P_MUX_FIN:
        if (s->fin_received)
          return protocol_error (error, "ended a stream twice", f.stream);
        s->fin_received = TRUE;
        if (mux->callbacks.finished != NULL)
          mux->callbacks.finished (mux, f.stream, mux->user_data);
        s = g_hash_table_lookup (mux->streams, GUINT_TO_POINTER (f.stream));
        if (s != NULL)
          maybe_retire (mux, s);
        break;
      case NFLTR_P2P_MUX_WINDOW:
        if (s->send_window + f.increment > G_MAXINT32)
          return protocol_error (error, "opened the window too far", f.stream);
        s->send_window += f.increment;
        break;
      case NFLTR_P2P_MUX_RESET:
        stream_remove (mux, s);
        if (mux->callbacks.reset != NULL)
          mux->callbacks.reset (mux, f.stream, f.reason, mux->user_data);
        break;
      case NFLTR_P2P_MUX_OPEN:
      case NFLTR_P2P_MUX_COMMIT:
      default: g_assert_not_reached ();
    }
  return TRUE;
}
