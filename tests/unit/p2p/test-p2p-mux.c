/* test-p2p-mux.c — streams inside a session (docs/protocol.md §9.5): a chat line is not
 * held behind a file, a full window on one stream does not block another, and the peer's
 * protocol faults are refused. Then the whole session (records + mux) between two sides. */
#include "nfltr-p2p-session.h"
#include "nfltr-p2p-error.h"
#include "p2p-test-util.h"

typedef struct {
  GString *received[8];     /* by stream id */
  guint32  opened[8];
  guint    n_opened;
  gboolean finished[8];
  GArray  *order;           /* guint32: the stream of each DATA frame, in arrival order */
} Sink;

static void
opened_cb (NfltrP2pMux *mux, guint32 stream, NfltrP2pStreamKind kind, gpointer user_data)
{
  Sink *sink = user_data;

  g_assert_cmpuint (stream, <, 8);
  sink->opened[sink->n_opened++] = stream;
  sink->received[stream] = g_string_new (NULL);
}

static void
data_cb (NfltrP2pMux *mux, guint32 stream, const guint8 *data, gsize len, gpointer user_data)
{
  Sink *sink = user_data;

  g_string_append_len (sink->received[stream], (const char *) data, len);
  g_array_append_val (sink->order, stream);
}

static void
finished_cb (NfltrP2pMux *mux, guint32 stream, gpointer user_data)
{
  Sink *sink = user_data;

  sink->finished[stream] = TRUE;
}

static const NfltrP2pMuxCallbacks sink_callbacks = {
  .opened = opened_cb, .data = data_cb, .finished = finished_cb,
};

static void
sink_init (Sink *sink)
{
  memset (sink, 0, sizeof *sink);
  sink->order = g_array_new (FALSE, FALSE, sizeof (guint32));
}

static void
sink_clear (Sink *sink)
{
  for (int i = 0; i < 8; i++)
    if (sink->received[i] != NULL)
      g_string_free (sink->received[i], TRUE);
  g_array_unref (sink->order);
}

/* Moves every frame A can send to B; returns how many. */
static guint
pump (NfltrP2pMux *from,
      NfltrP2pMux *to)
{
  g_autoptr(GByteArray) frame = g_byte_array_new ();
  guint n = 0;

  while (nfltr_p2p_mux_next (from, frame))
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (nfltr_p2p_mux_receive (to, frame->data, frame->len, &error));
      g_assert_no_error (error);
      n++;
    }
  return n;
}

static void
test_chat_not_behind_file (void)
{
  Sink sink;
  g_autoptr(NfltrP2pMux) a = nfltr_p2p_mux_new (NFLTR_P2P_ROLE_A, NULL, NULL);
  g_autoptr(NfltrP2pMux) b = NULL;
  g_autoptr(GByteArray) frame = g_byte_array_new ();
  g_autofree guint8 *file = g_malloc (200 * 1024);
  guint32 file_id, other_files[2], chat_id;
  guint data_frames = 0;

  sink_init (&sink);
  b = nfltr_p2p_mux_new (NFLTR_P2P_ROLE_B, &sink_callbacks, &sink);
  for (gsize i = 0; i < 200 * 1024; i++)
    file[i] = (guint8) (i * 7);
  /* three transfers at once: round-robin alone would make the chat line wait its turn */
  file_id = nfltr_p2p_mux_open (a, NFLTR_P2P_STREAM_FILE, NULL);
  other_files[0] = nfltr_p2p_mux_open (a, NFLTR_P2P_STREAM_FILE, NULL);
  other_files[1] = nfltr_p2p_mux_open (a, NFLTR_P2P_STREAM_FILE, NULL);
  chat_id = nfltr_p2p_mux_open (a, NFLTR_P2P_STREAM_CHAT, NULL);
  g_assert_cmpuint (file_id, ==, 1);
  g_assert_cmpuint (chat_id, ==, 7);
  g_assert_true (nfltr_p2p_mux_write (a, file_id, file, 200 * 1024, NULL));
  g_assert_true (nfltr_p2p_mux_write (a, other_files[0], file, 64 * 1024, NULL));
  g_assert_true (nfltr_p2p_mux_write (a, other_files[1], file, 64 * 1024, NULL));
  /* four OPENs and two file chunks go out, then the user types */
  for (int i = 0; i < 6; i++)
    {
      g_assert_true (nfltr_p2p_mux_next (a, frame));
      g_assert_true (nfltr_p2p_mux_receive (b, frame->data, frame->len, NULL));
    }
  g_assert_cmpuint (sink.received[other_files[1]]->len, ==, 0);
  g_assert_true (nfltr_p2p_mux_write (a, chat_id, (const guint8 *) "hi!", 3, NULL));
  /* the very next frame is the chat line, not the third transfer's turn */
  g_assert_true (nfltr_p2p_mux_next (a, frame));
  g_assert_true (nfltr_p2p_mux_receive (b, frame->data, frame->len, NULL));
  g_assert_cmpstr (sink.received[chat_id]->str, ==, "hi!");
  g_assert_cmpuint (sink.received[other_files[1]]->len, ==, 0);
  g_assert_cmpuint (sink.received[file_id]->len, ==, NFLTR_P2P_MUX_CHUNK);
  g_assert_true (nfltr_p2p_mux_finish (a, file_id, NULL));
  pump (a, b);
  g_assert_cmpmem (sink.received[file_id]->str, sink.received[file_id]->len, file, 200 * 1024);
  g_assert_true (sink.finished[file_id]);
  for (guint i = 0; i < sink.order->len; i++)
    if (g_array_index (sink.order, guint32, i) == file_id)
      data_frames++;
  g_assert_cmpuint (data_frames, ==, (200 * 1024) / NFLTR_P2P_MUX_CHUNK + 1);
  sink_clear (&sink);
}

/* The receiver does not read the file (a full disk, a slow prompt): the file stream stops
 * at its window, and chat still flows; reading reopens the window. */
static void
test_window (void)
{
  Sink sink;
  g_autoptr(NfltrP2pMux) a = nfltr_p2p_mux_new (NFLTR_P2P_ROLE_A, NULL, NULL);
  g_autoptr(NfltrP2pMux) b = NULL;
  gsize total = 3 * NFLTR_P2P_MUX_INITIAL_WINDOW;
  g_autofree guint8 *file = g_malloc0 (total);
  guint32 file_id, chat_id;

  sink_init (&sink);
  b = nfltr_p2p_mux_new (NFLTR_P2P_ROLE_B, &sink_callbacks, &sink);
  file_id = nfltr_p2p_mux_open (a, NFLTR_P2P_STREAM_FILE, NULL);
  chat_id = nfltr_p2p_mux_open (a, NFLTR_P2P_STREAM_CHAT, NULL);
  g_assert_true (nfltr_p2p_mux_write (a, file_id, file, total, NULL));
  pump (a, b);
  g_assert_cmpuint (sink.received[file_id]->len, ==, NFLTR_P2P_MUX_INITIAL_WINDOW);
  g_assert_cmpuint (nfltr_p2p_mux_get_queued (a, file_id), ==, total - NFLTR_P2P_MUX_INITIAL_WINDOW);

  g_assert_true (nfltr_p2p_mux_write (a, chat_id, (const guint8 *) "still there?", 12, NULL));
  g_assert_cmpuint (pump (a, b), ==, 1);
  g_assert_cmpstr (sink.received[chat_id]->str, ==, "still there?");

  nfltr_p2p_mux_consume (b, file_id, NFLTR_P2P_MUX_INITIAL_WINDOW);
  g_assert_cmpuint (pump (b, a), ==, 1);   /* one WINDOW frame */
  pump (a, b);
  g_assert_cmpuint (sink.received[file_id]->len, ==, 2 * NFLTR_P2P_MUX_INITIAL_WINDOW);
  sink_clear (&sink);
}

static void
test_peer_faults (void)
{
  g_autoptr(NfltrP2pMux) b = nfltr_p2p_mux_new (NFLTR_P2P_ROLE_B, NULL, NULL);
  struct {
    const char *hex;
    const char *message;
  } faults[] = {
    { "0200000009616263", "the peer sent on a stream that was never opened on stream 9" },
    { "010000000203", "the peer opened a stream id it may not use on stream 2" },
    { "0100000000", "a malformed stream frame (type 1, 5 bytes)" },
    { "09000000010000", "a malformed stream frame (type 9, 7 bytes)" },
    { "0600000001", "a malformed stream frame (type 6, 5 bytes)" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (faults); i++)
    {
      g_autoptr(GError) error = NULL;
      gsize len;
      g_autofree guint8 *frame = p2p_test_unhex (faults[i].hex, &len);

      g_assert_false (nfltr_p2p_mux_receive (b, frame, len, &error));
      g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED);
      g_assert_cmpstr (error->message, ==, faults[i].message);
    }
  {
    /* sending past the window */
    g_autoptr(GError) error = NULL;
    guint8 open[] = { 1, 0, 0, 0, 1, NFLTR_P2P_STREAM_FILE };
    g_autofree guint8 *data = g_malloc0 (NFLTR_P2P_MUX_HEADER + NFLTR_P2P_MUX_INITIAL_WINDOW + 1);

    g_assert_true (nfltr_p2p_mux_receive (b, open, sizeof open, NULL));
    data[0] = NFLTR_P2P_MUX_DATA;
    data[4] = 1;
    g_assert_false (nfltr_p2p_mux_receive (b, data, NFLTR_P2P_MUX_HEADER + NFLTR_P2P_MUX_INITIAL_WINDOW + 1, &error));
    g_assert_cmpstr (error->message, ==, "the peer sent past the window on stream 1");
  }
}

/* Two whole sessions over a byte stream cut at odd places: data arrives, commitments
 * agree; then one flipped bit ends the session on the receiver with a clear error. */
static void
keys_for_test (NfltrP2pKeys *keys)
{
  for (int i = 0; i < 32; i++)
    {
      keys->a_to_b_enc[i] = i;
      keys->a_to_b_mac[i] = 0x40 + i;
      keys->b_to_a_enc[i] = 0x80 + i;
      keys->b_to_a_mac[i] = 0xc0 + i;
      keys->transcript[i] = 0xee;
    }
}

static void
push_in_pieces (NfltrP2pSession *to,
                GByteArray      *wire,
                GError         **error)
{
  gsize off = 0, step = 1;

  while (off < wire->len)
    {
      gsize n = MIN (step, wire->len - off);

      if (!nfltr_p2p_session_push (to, wire->data + off, n, error))
        return;
      off += n;
      step = step * 3 + 1;
    }
}

static void
test_session (void)
{
  NfltrP2pKeys keys;
  Sink sink;
  g_autoptr(NfltrP2pSession) a = NULL, b = NULL;
  g_autoptr(GByteArray) wire = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  guint checked, mismatched;
  guint32 chat;

  keys_for_test (&keys);
  sink_init (&sink);
  a = nfltr_p2p_session_new (NFLTR_P2P_ROLE_A, &keys, NULL, NULL);
  b = nfltr_p2p_session_new (NFLTR_P2P_ROLE_B, &keys, &sink_callbacks, &sink);
  chat = nfltr_p2p_mux_open (nfltr_p2p_session_get_mux (a), NFLTR_P2P_STREAM_CHAT, NULL);
  g_assert_true (nfltr_p2p_mux_write (nfltr_p2p_session_get_mux (a), chat, (const guint8 *) "hello", 5, NULL));
  g_assert_true (nfltr_p2p_session_pull (a, wire, G_MAXSIZE, NULL));
  nfltr_p2p_session_commit (a);
  g_assert_true (nfltr_p2p_session_pull (a, wire, G_MAXSIZE, NULL));
  push_in_pieces (b, wire, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sink.received[chat]->str, ==, "hello");
  nfltr_p2p_session_get_commit_results (b, &checked, &mismatched);
  g_assert_cmpuint (checked, ==, 2);
  g_assert_cmpuint (mismatched, ==, 0);
  g_assert_cmpuint (nfltr_p2p_audit_chain_get_count (nfltr_p2p_session_get_chain (b, NFLTR_P2P_DIR_A_TO_B)), ==, 4);

  /* one bit of the next record flipped on the way */
  g_byte_array_set_size (wire, 0);
  g_assert_true (nfltr_p2p_mux_write (nfltr_p2p_session_get_mux (a), chat, (const guint8 *) "again", 5, NULL));
  g_assert_true (nfltr_p2p_session_pull (a, wire, G_MAXSIZE, NULL));
  wire->data[NFLTR_P2P_RECORD_HEADER + 7] ^= 0x10;
  g_assert_false (nfltr_p2p_session_push (b, wire->data, wire->len, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_BAD_TAG);
  g_assert_cmpstr (error->message, ==, "frame 4 failed authentication (bad tag): it was changed on the way; the session is closed");
  g_assert_cmpstr (sink.received[chat]->str, ==, "hello");
  g_clear_error (&error);
  g_assert_false (nfltr_p2p_session_push (b, wire->data, 0, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (nfltr_p2p_session_pull (b, wire, G_MAXSIZE, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CLOSED);
  sink_clear (&sink);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/p2p/mux/chat-not-behind-file", test_chat_not_behind_file);
  g_test_add_func ("/p2p/mux/window", test_window);
  g_test_add_func ("/p2p/mux/peer-faults", test_peer_faults);
  g_test_add_func ("/p2p/session/roundtrip-and-bad-tag", test_session);
  return g_test_run ();
}
