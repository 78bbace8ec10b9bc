/* test-p2p-ice.c — the session over a real ICE connection (libnice, RFC 5245, reliable
 * mode: pseudo-TCP) between two processes on loopback. The pairing messages, ICE
 * credentials and candidates travel over a socketpair standing in for the relay's
 * P2P_SIGNAL channel; the confirmation covers them. The sender then sends a chat line and a
 * file on one session; the receiver checks the file's SHA-256 and answers on the chat
 * stream. Prints the throughput (NFLTR_P2P_ICE_MIB sets the file's size, default 8 MiB). */
#include "nfltr-p2p-session.h"
#include "nfltr-p2p-error.h"
#include "p2p-test-util.h"

#include <agent.h>
#include <gio/gio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE "42-lantern-otter-quartz"

typedef struct {
  NfltrP2pRole       role;
  GMainLoop         *loop;
  GSocket           *signal;
  GByteArray        *signal_in;
  NfltrP2pHandshake *hs;
  NiceAgent         *agent;
  guint              stream_id;
  GSList            *remote;     /* NiceCandidate */
  char              *remote_ufrag;
  char              *remote_pwd;
  gboolean           ice_ready;
  NfltrP2pSession   *session;
  GByteArray        *out;        /* records waiting for nice_agent_send */
  gsize              out_off;
  /* sender */
  guint32            file_stream;
  guint32            chat_stream;
  gsize              file_size;
  gsize              file_queued;
  gint64             t_start;
  char              *reply;
  /* receiver */
  GChecksum         *sha;
  gsize              file_received;
  char              *chat_in;
  gboolean           done;       /* its part is over: the end of ICE is expected */
  gboolean           failed;
  char              *error;
} Side;

static void side_flush (Side *side);

static void
signal_send (Side   *side,
             GBytes *msg)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (msg, &len);
  guint32 be = GUINT32_TO_BE ((guint32) len);

  g_assert_true (g_socket_send (side->signal, (const char *) &be, 4, NULL, NULL) == 4);
  g_assert_true (g_socket_send (side->signal, (const char *) data, len, NULL, NULL) == (gssize) len);
}

static void
fail_side (Side       *side,
           const char *message)
{
  side->failed = TRUE;
  side->error = g_strdup (message);
  g_main_loop_quit (side->loop);
}

static void
maybe_confirm (Side *side)
{
  if (nfltr_p2p_handshake_can_confirm (side->hs))
    {
      g_autoptr(GBytes) confirm = nfltr_p2p_handshake_confirm (side->hs, NULL);

      if (confirm != NULL)
        signal_send (side, confirm);
    }
}

static void
gathering_done_cb (NiceAgent *agent,
                   guint      stream_id,
                   gpointer   user_data)
{
  Side *side = user_data;
  g_autofree char *ufrag = NULL, *pwd = NULL;
  GSList *locals;
  NfltrP2pMessage creds = { .type = NFLTR_P2P_MSG_ICE_CREDENTIALS };
  NfltrP2pMessage done = { .type = NFLTR_P2P_MSG_ICE_DONE };
  g_autoptr(GBytes) out = NULL, end = NULL;

  nice_agent_get_local_credentials (agent, stream_id, &ufrag, &pwd);
  creds.ufrag = ufrag;
  creds.pwd = pwd;
  out = nfltr_p2p_handshake_send (side->hs, &creds, NULL);
  signal_send (side, out);
  locals = nice_agent_get_local_candidates (agent, stream_id, 1);
  for (GSList *l = locals; l != NULL; l = l->next)
    {
      g_autofree char *sdp = nice_agent_generate_local_candidate_sdp (agent, l->data);
      NfltrP2pMessage cand = { .type = NFLTR_P2P_MSG_ICE_CANDIDATE };
      g_autoptr(GBytes) c = NULL;

      /* "a=candidate:" is SDP's wrapping, not part of the candidate */
      cand.candidate = sdp + strlen ("a=candidate:");
      c = nfltr_p2p_handshake_send (side->hs, &cand, NULL);
      signal_send (side, c);
    }
  g_slist_free_full (locals, (GDestroyNotify) nice_candidate_free);
  end = nfltr_p2p_handshake_send (side->hs, &done, NULL);
  signal_send (side, end);
  maybe_confirm (side);
}

static void
start_ice (Side *side)
{
  NiceAddress addr;

  side->agent = nice_agent_new_reliable (g_main_context_default (), NICE_COMPATIBILITY_RFC5245);
  g_object_set (side->agent, "controlling-mode", side->role == NFLTR_P2P_ROLE_A, "ice-tcp", FALSE,
                "upnp", FALSE, NULL);
  nice_address_init (&addr);
  g_assert_true (nice_address_set_from_string (&addr, "127.0.0.1"));
  nice_agent_add_local_address (side->agent, &addr);
  side->stream_id = nice_agent_add_stream (side->agent, 1);
  g_signal_connect (side->agent, "candidate-gathering-done", G_CALLBACK (gathering_done_cb), side);
  g_assert_true (nice_agent_gather_candidates (side->agent, side->stream_id));
}

static void
data_cb (NfltrP2pMux  *mux,
         guint32       stream,
         const guint8 *data,
         gsize         len,
         gpointer      user_data)
{
  Side *side = user_data;

  if (side->role == NFLTR_P2P_ROLE_A)
    {
      g_free (side->reply);
      side->reply = g_strndup ((const char *) data, len);
      side->done = TRUE;
      g_main_loop_quit (side->loop);
      return;
    }
  if (stream == 1)
    {
      g_checksum_update (side->sha, data, len);
      side->file_received += len;
      nfltr_p2p_mux_consume (mux, stream, len);
    }
  else
    {
      g_free (side->chat_in);
      side->chat_in = g_strndup ((const char *) data, len);
    }
}

static void
opened_cb (NfltrP2pMux       *mux,
           guint32            stream,
           NfltrP2pStreamKind kind,
           gpointer           user_data)
{
}

static void
finished_cb (NfltrP2pMux *mux,
             guint32      stream,
             gpointer     user_data)
{
  Side *side = user_data;
  g_autofree char *answer = NULL;
  guint32 chat;

  if (side->role != NFLTR_P2P_ROLE_B || stream != 1)
    return;
  answer = g_strdup_printf ("%s|%" G_GSIZE_FORMAT "|%s", side->chat_in ? side->chat_in : "",
                            side->file_received, g_checksum_get_string (side->sha));
  chat = nfltr_p2p_mux_open (mux, NFLTR_P2P_STREAM_CHAT, NULL);
  nfltr_p2p_mux_write (mux, chat, (const guint8 *) answer, strlen (answer), NULL);
  side->done = TRUE;
}

static const NfltrP2pMuxCallbacks app_callbacks = {
  .opened = opened_cb, .data = data_cb, .finished = finished_cb,
};

/* Keeps at most 1 MiB of the file in the mux: streamed, never buffered whole. */
static void
feed_file (Side *side)
{
  NfltrP2pMux *mux = nfltr_p2p_session_get_mux (side->session);
  static guint8 chunk[64 * 1024];

  if (side->role != NFLTR_P2P_ROLE_A || side->file_stream == 0)
    return;
  while (side->file_queued < side->file_size && nfltr_p2p_mux_get_queued (mux, side->file_stream) < 1024 * 1024)
    {
      gsize n = MIN (sizeof chunk, side->file_size - side->file_queued);

      for (gsize i = 0; i < n; i++)
        chunk[i] = (guint8) ((side->file_queued + i) * 131 >> 8);
      nfltr_p2p_mux_write (mux, side->file_stream, chunk, n, NULL);
      side->file_queued += n;
      if (side->file_queued == side->file_size)
        nfltr_p2p_mux_finish (mux, side->file_stream, NULL);
    }
}

static void
side_flush (Side *side)
{
  g_autoptr(GError) error = NULL;

  if (!side->ice_ready || side->session == NULL)
    return;
  for (;;)
    {
      if (side->out_off == side->out->len)
        {
          g_byte_array_set_size (side->out, 0);
          side->out_off = 0;
          feed_file (side);
          if (!nfltr_p2p_session_pull (side->session, side->out, 256 * 1024, &error))
            {
              fail_side (side, error->message);
              return;
            }
          if (side->out->len == 0)
            return;
        }
      {
        gint sent = nice_agent_send (side->agent, side->stream_id, 1,
                                     MIN (side->out->len - side->out_off, 65536),
                                     (const char *) side->out->data + side->out_off);

        if (sent <= 0)
          return; /* pseudo-TCP's window is full: reliable-transport-writable resumes */
        side->out_off += sent;
      }
    }
}

static void
writable_cb (NiceAgent *agent,
             guint      stream_id,
             guint      component_id,
             gpointer   user_data)
{
  side_flush (user_data);
}

static void
recv_cb (NiceAgent *agent,
         guint      stream_id,
         guint      component_id,
         guint      len,
         gchar     *buf,
         gpointer   user_data)
{
  Side *side = user_data;
  g_autoptr(GError) error = NULL;

  if (side->session == NULL)
    return;
  if (!nfltr_p2p_session_push (side->session, (const guint8 *) buf, len, &error))
    {
      fail_side (side, error->message);
      return;
    }
  side_flush (side);
}

static void
start_session (Side *side)
{
  NfltrP2pKeys keys;

  g_assert_true (nfltr_p2p_handshake_get_keys (side->hs, &keys));
  side->session = nfltr_p2p_session_new (side->role, &keys, &app_callbacks, side);
  if (side->role == NFLTR_P2P_ROLE_A)
    {
      NfltrP2pMux *mux = nfltr_p2p_session_get_mux (side->session);

      side->file_stream = nfltr_p2p_mux_open (mux, NFLTR_P2P_STREAM_FILE, NULL);
      side->chat_stream = nfltr_p2p_mux_open (mux, NFLTR_P2P_STREAM_CHAT, NULL);
      nfltr_p2p_mux_write (mux, side->chat_stream, (const guint8 *) "here it comes", 13, NULL);
      side->t_start = g_get_monotonic_time ();
    }
  side_flush (side);
}

static void
component_state_cb (NiceAgent *agent,
                    guint      stream_id,
                    guint      component_id,
                    guint      state,
                    gpointer   user_data)
{
  Side *side = user_data;

  if (state == NICE_COMPONENT_STATE_READY && !side->ice_ready)
    {
      side->ice_ready = TRUE;
      if (side->session == NULL && nfltr_p2p_handshake_is_done (side->hs))
        start_session (side);
    }
  else if (state == NICE_COMPONENT_STATE_FAILED && side->done)
    g_main_loop_quit (side->loop); /* the sender left after the answer */
  else if (state == NICE_COMPONENT_STATE_FAILED)
    fail_side (side, "ICE failed");
}

static void
handle_signal_message (Side   *side,
                       GBytes *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = NULL;
  NfltrP2pMessage decoded = { 0 };
  gboolean was_keyed = side->agent != NULL;

  if (!nfltr_p2p_handshake_receive (side->hs, msg, &reply, &decoded, &error))
    {
      fail_side (side, error->message);
      return;
    }
  if (reply != NULL)
    signal_send (side, reply);
  if (decoded.type == NFLTR_P2P_MSG_PAKE_A || decoded.type == NFLTR_P2P_MSG_PAKE_B)
    {
      if (!was_keyed)
        {
          start_ice (side);
          g_signal_connect (side->agent, "component-state-changed", G_CALLBACK (component_state_cb), side);
          g_signal_connect (side->agent, "reliable-transport-writable", G_CALLBACK (writable_cb), side);
          nice_agent_attach_recv (side->agent, side->stream_id, 1, g_main_context_default (), recv_cb, side);
        }
    }
  else if (decoded.type == NFLTR_P2P_MSG_ICE_CREDENTIALS)
    {
      side->remote_ufrag = g_strdup (decoded.ufrag);
      side->remote_pwd = g_strdup (decoded.pwd);
    }
  else if (decoded.type == NFLTR_P2P_MSG_ICE_CANDIDATE)
    {
      g_autofree char *sdp = g_strconcat ("a=candidate:", decoded.candidate, NULL);
      NiceCandidate *c = nice_agent_parse_remote_candidate_sdp (side->agent, side->stream_id, sdp);

      if (c != NULL)
        side->remote = g_slist_append (side->remote, c);
    }
  else if (decoded.type == NFLTR_P2P_MSG_ICE_DONE)
    {
      nice_agent_set_remote_credentials (side->agent, side->stream_id, side->remote_ufrag, side->remote_pwd);
      nice_agent_set_remote_candidates (side->agent, side->stream_id, 1, side->remote);
      maybe_confirm (side);
    }
  else if (decoded.type == NFLTR_P2P_MSG_CONFIRM)
    {
      if (side->ice_ready && side->session == NULL)
        start_session (side);
    }
  nfltr_p2p_message_clear (&decoded);
}

static gboolean
signal_in_cb (GSocket     *socket,
              GIOCondition condition,
              gpointer     user_data)
{
  Side *side = user_data;
  char buf[4096];
  gssize n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL);

  if (n <= 0)
    {
      /* the other process is done */
      g_main_loop_quit (side->loop);
      return G_SOURCE_REMOVE;
    }
  g_byte_array_append (side->signal_in, (const guint8 *) buf, n);
  while (side->signal_in->len >= 4)
    {
      guint32 be, len;

      memcpy (&be, side->signal_in->data, 4);
      len = GUINT32_FROM_BE (be);
      if (side->signal_in->len < 4 + len)
        break;
      {
        g_autoptr(GBytes) msg = g_bytes_new (side->signal_in->data + 4, len);

        g_byte_array_remove_range (side->signal_in, 0, 4 + len);
        handle_signal_message (side, msg);
      }
      if (side->failed)
        return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  fail_side (user_data, "timed out");
  return G_SOURCE_REMOVE;
}

static void
side_run (Side *side,
          int   fd)
{
  g_autoptr(GSource) source = NULL;
  guint timeout;

  side->loop = g_main_loop_new (NULL, FALSE);
  side->signal = g_socket_new_from_fd (fd, NULL);
  g_assert_nonnull (side->signal);
  side->signal_in = g_byte_array_new ();
  side->out = g_byte_array_new ();
  side->hs = nfltr_p2p_handshake_new (side->role, CODE, NULL);
  source = g_socket_create_source (side->signal, G_IO_IN | G_IO_HUP, NULL);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) signal_in_cb, side, NULL);
  g_source_attach (source, NULL);
  timeout = g_timeout_add_seconds (120, timeout_cb, side);
  if (side->role == NFLTR_P2P_ROLE_A)
    {
      g_autoptr(GBytes) first = nfltr_p2p_handshake_start (side->hs, NULL);

      signal_send (side, first);
    }
  g_main_loop_run (side->loop);
  g_source_remove (timeout);
  g_source_destroy (source);
}

static void
side_clear (Side *side)
{
  if (side->agent != NULL)
    nice_agent_remove_stream (side->agent, side->stream_id);
  g_clear_object (&side->agent);
  g_slist_free_full (side->remote, (GDestroyNotify) nice_candidate_free);
  g_free (side->remote_ufrag);
  g_free (side->remote_pwd);
  g_clear_pointer (&side->session, nfltr_p2p_session_free);
  g_clear_pointer (&side->hs, nfltr_p2p_handshake_free);
  g_clear_pointer (&side->out, g_byte_array_unref);
  g_clear_pointer (&side->signal_in, g_byte_array_unref);
  g_clear_object (&side->signal);
  g_clear_pointer (&side->loop, g_main_loop_unref);
  g_clear_pointer (&side->sha, g_checksum_free);
  g_free (side->reply);
  g_free (side->chat_in);
  g_free (side->error);
}

static char *
expected_sha (gsize size)
{
  GChecksum *sha = g_checksum_new (G_CHECKSUM_SHA256);
  static guint8 chunk[64 * 1024];
  char *out;

  for (gsize off = 0; off < size; off += sizeof chunk)
    {
      gsize n = MIN (sizeof chunk, size - off);

      for (gsize i = 0; i < n; i++)
        chunk[i] = (guint8) ((off + i) * 131 >> 8);
      g_checksum_update (sha, chunk, n);
    }
  out = g_strdup (g_checksum_get_string (sha));
  g_checksum_free (sha);
  return out;
}

static void
test_ice_loopback (void)
{
  int fds[2];
  pid_t child;
  int status;
  Side a = { .role = NFLTR_P2P_ROLE_A };
  const char *mib = g_getenv ("NFLTR_P2P_ICE_MIB");
  g_autofree char *want = NULL;
  g_autofree char *expected_reply = NULL;
  double seconds;

  a.file_size = (gsize) (mib != NULL ? g_ascii_strtoull (mib, NULL, 10) : 8) * 1024 * 1024;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      Side b = { .role = NFLTR_P2P_ROLE_B };

      close (fds[0]);
      b.sha = g_checksum_new (G_CHECKSUM_SHA256);
      side_run (&b, fds[1]);
      if (b.failed)
        g_printerr ("receiver: %s\n", b.error);
      status = b.failed ? 1 : 0;
      side_clear (&b);
      _exit (status);
    }
  close (fds[1]);
  side_run (&a, fds[0]);
  seconds = (g_get_monotonic_time () - a.t_start) / 1e6;
  if (a.failed)
    g_test_message ("sender: %s", a.error);
  g_assert_false (a.failed);
  want = expected_sha (a.file_size);
  expected_reply = g_strdup_printf ("here it comes|%" G_GSIZE_FORMAT "|%s", a.file_size, want);
  g_assert_cmpstr (a.reply, ==, expected_reply);
  g_test_message ("%" G_GSIZE_FORMAT " MiB over ICE pseudo-TCP with the session on top: %.2f s, %.1f MB/s",
                  a.file_size >> 20, seconds, a.file_size / seconds / 1e6);
  side_clear (&a);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/p2p/ice/loopback-two-processes", test_ice_loopback);
  return g_test_run ();
}
