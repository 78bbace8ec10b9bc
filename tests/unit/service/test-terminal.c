/* test-terminal.c — the terminal kind's pieces (service/kinds/terminal/): the ring, the
 * page's messages, the ANSI stripper, and a real program on a PTY with pages attached over
 * real WebSocket connections (a socketpair, no HTTP). */
#include "nfltr-error.h"
#include "nfltr-term-message.h"
#include "nfltr-term-ring.h"
#include "nfltr-term-session.h"
#include "nfltr-web-socket.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

/* ---- the ring ---- */

static char *
ring_string (NfltrTermRing *ring, guint64 offset, gsize max, guint64 *from)
{
  g_autoptr(GBytes) bytes = nfltr_term_ring_read (ring, offset, max, from);
  gsize len = 0;
  const char *data = bytes != NULL ? g_bytes_get_data (bytes, &len) : NULL;

  return data != NULL ? g_strndup (data, len) : NULL;
}

static void
test_ring (void)
{
  g_autoptr(NfltrTermRing) ring = nfltr_term_ring_new (8);
  g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  guint64 from = 99;

  g_assert_null (nfltr_term_ring_read (ring, 0, 10, &from));
  g_assert_cmpuint (from, ==, 0);
  nfltr_term_ring_append (ring, (const guint8 *) "hello", 5);
  a = ring_string (ring, 0, 100, &from);
  g_assert_cmpstr (a, ==, "hello");
  nfltr_term_ring_append (ring, (const guint8 *) " world", 6);
  /* 11 bytes written, 8 kept: the oldest 3 are gone and a reader of them is moved on. */
  g_assert_cmpuint (nfltr_term_ring_get_start (ring), ==, 3);
  g_assert_cmpuint (nfltr_term_ring_get_end (ring), ==, 11);
  b = ring_string (ring, 0, 100, &from);
  g_assert_cmpuint (from, ==, 3);
  g_assert_cmpstr (b, ==, "lo world");
  c = ring_string (ring, 5, 3, &from);
  g_assert_cmpstr (c, ==, " wo");
  g_assert_null (nfltr_term_ring_read (ring, 11, 10, NULL));
  /* One write bigger than the ring keeps its newest bytes. */
  nfltr_term_ring_append (ring, (const guint8 *) "0123456789ABCDEF", 16);
  d = ring_string (ring, 0, 100, &from);
  g_assert_cmpstr (d, ==, "89ABCDEF");
  g_assert_cmpuint (from, ==, 19);
}

/* ---- the page's messages ---- */

static gboolean
parse (const char *text, NfltrTermMessage *m)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = nfltr_term_message_parse ((const guint8 *) text, strlen (text), m, &error);

  g_assert_true (ok == (error == NULL));
  if (error != NULL)
    g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL);
  return ok;
}

static void
test_messages (void)
{
  NfltrTermMessage m;
  const char *bad[] = { "", "x", "r", "r80", "r80,", "r,24", "r0,24", "r80,0", "r1001,24",
                        "r80,501", "r080,24", "r+80,24", "r 80,24", "r80,24,1", "r8a,24",
                        "a", "a-1", "a01", "a18446744073709551616", "a1 ", "I", NULL };
  g_autofree guint8 *big = g_malloc0 (NFLTR_TERM_MESSAGE_MAX + 2);
  g_autoptr(GError) error = NULL;

  g_assert_true (parse ("iecho hi\r", &m));
  g_assert_cmpint (m.type, ==, NFLTR_TERM_MESSAGE_INPUT);
  g_assert_cmpmem (m.data, m.len, "echo hi\r", 8);
  g_assert_true (parse ("i", &m));
  g_assert_cmpuint (m.len, ==, 0);
  g_assert_true (parse ("r120,40", &m));
  g_assert_cmpint (m.type, ==, NFLTR_TERM_MESSAGE_RESIZE);
  g_assert_cmpuint (m.cols, ==, 120);
  g_assert_cmpuint (m.rows, ==, 40);
  g_assert_true (parse ("r1000,500", &m));
  g_assert_true (parse ("a0", &m));
  g_assert_cmpint (m.type, ==, NFLTR_TERM_MESSAGE_ACK);
  g_assert_cmpuint (m.count, ==, 0);
  g_assert_true (parse ("a18446744073709551615", &m));
  g_assert_cmpuint (m.count, ==, G_MAXUINT64);
  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_test_message ("bad: “%s”", bad[i]);
      g_assert_false (parse (bad[i], &m));
    }
  big[0] = 'i';
  g_assert_true (nfltr_term_message_parse (big, NFLTR_TERM_MESSAGE_MAX + 1, &m, NULL));
  g_assert_false (nfltr_term_message_parse (big, NFLTR_TERM_MESSAGE_MAX + 2, &m, &error));
}

static char *
strip (const char *text, gsize chunk)
{
  GByteArray *out = g_byte_array_new ();
  gsize len = strlen (text);
  guint state = 0;

  /* In pieces of chunk bytes: a sequence split between two reads is still removed. */
  for (gsize i = 0; i < len; i += chunk)
    nfltr_term_strip_ansi ((const guint8 *) text + i, MIN (chunk, len - i), &state, out);
  g_byte_array_append (out, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (out, FALSE);
}

static void
test_strip_ansi (void)
{
  const struct {
    const char *in, *out;
  } cases[] = {
    { "plain\n", "plain\n" },
    { "\033[1;31mred\033[0m text\r\n", "red text\n" },
    { "\033]0;window title\007$ ls\r\n", "$ ls\n" },
    { "\033]8;;http://x\033\\link\033]8;;\033\\", "link" },
    { "\033(Bx\033=y", "xy" },
    { "50%\r100%\r\n", "50%\n100%\n" },
    { "crlf\r\r\n", "crlf\n" },
    { "tab\there\bX\x7f", "tab\thereX" },
    { "\033[?2004h\033[K€ ok", "€ ok" },
    { "\033P1$r0m\033\\after", "after" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (gsize chunk = 1; chunk <= 4; chunk += 3)
      {
        g_autofree char *got = strip (cases[i].in, chunk);

        g_assert_cmpstr (got, ==, cases[i].out);
      }
}

/* ---- a program on a PTY, pages over WebSocket ---- */

typedef struct {
  SoupWebsocketConnection *server; /* handed to the session */
  SoupWebsocketConnection *client; /* the "page" */
  GByteArray *output;
  GPtrArray *texts;                /* JSON strings */
  guint64 received;
  gboolean auto_ack;
  gboolean closed;
  gushort close_code;
} TestPage;

static void
page_message_cb (SoupWebsocketConnection *ws, int type, GBytes *message, gpointer user_data)
{
  TestPage *page = user_data;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    {
      g_ptr_array_add (page->texts, g_strndup ((const char *) data, len));
      return;
    }
  g_byte_array_append (page->output, data, len);
  page->received += len;
  if (page->auto_ack)
    {
      g_autofree char *ack = g_strdup_printf ("a%" G_GUINT64_FORMAT, page->received);

      soup_websocket_connection_send_text (ws, ack);
    }
}

static void
page_closed_cb (SoupWebsocketConnection *ws, gpointer user_data)
{
  TestPage *page = user_data;

  page->closed = TRUE;
  page->close_code = soup_websocket_connection_get_close_code (ws);
}

static GIOStream *
stream_from_fd (int fd)
{
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, NULL);

  g_assert_nonnull (socket);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

static TestPage *
test_page_new (gboolean auto_ack)
{
  TestPage *page = g_new0 (TestPage, 1);
  g_autoptr(GUri) uri = g_uri_parse ("wss://t.localhost/ws", G_URI_FLAGS_NONE, NULL);
  g_autoptr(GIOStream) a = NULL, b = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  a = stream_from_fd (fds[0]);
  b = stream_from_fd (fds[1]);
  page->server = soup_websocket_connection_new (a, uri, SOUP_WEBSOCKET_CONNECTION_SERVER, NULL,
                                                NULL, NULL);
  page->client = soup_websocket_connection_new (b, uri, SOUP_WEBSOCKET_CONNECTION_CLIENT, NULL,
                                                NULL, NULL);
  soup_websocket_connection_set_max_incoming_payload_size (page->client, 0);
  page->output = g_byte_array_new ();
  page->texts = g_ptr_array_new_with_free_func (g_free);
  page->auto_ack = auto_ack;
  g_signal_connect (page->client, "message", G_CALLBACK (page_message_cb), page);
  g_signal_connect (page->client, "closed", G_CALLBACK (page_closed_cb), page);
  return page;
}

static void
test_page_free (TestPage *page)
{
  g_signal_handlers_disconnect_by_data (page->client, page);
  if (soup_websocket_connection_get_state (page->client) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (page->client, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_object_unref (page->client);
  g_object_unref (page->server);
  g_byte_array_unref (page->output);
  g_ptr_array_unref (page->texts);
  g_free (page);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestPage, test_page_free)

static gboolean
output_contains (TestPage *page, const char *needle)
{
  /* An empty GByteArray has no data at all: memmem must not see NULL (UBSan). */
  return page->output->len > 0 && memmem (page->output->data, page->output->len, needle, strlen (needle)) != NULL;
}

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the default context until cond holds or 10 s pass (a tick wakes it to look). */
#define WAIT_FOR(cond)                                                                                       \
  G_STMT_START                                                                                               \
  {                                                                                                          \
    gint64 deadline_ = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;                                        \
    guint tick_ = g_timeout_add (50, tick_cb, NULL);                                                         \
    while (!(cond) && g_get_monotonic_time () < deadline_)                                                   \
      g_main_context_iteration (NULL, TRUE);                                                                 \
    g_source_remove (tick_);                                                                                 \
    g_assert_true (cond);                                                                                    \
  }                                                                                                          \
  G_STMT_END

static gboolean
timeout_flag_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the default context for ms milliseconds. */
static void
spin (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, timeout_flag_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static void
send_text (TestPage *page, const char *text)
{
  soup_websocket_connection_send_text (page->client, text);
}

static JsonObject *
find_text (TestPage *page, const char *type, JsonNode **keep)
{
  for (guint i = 0; i < page->texts->len; i++)
    {
      g_autoptr(JsonNode) node = json_from_string (g_ptr_array_index (page->texts, i), NULL);

      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node) &&
          g_strcmp0 (json_object_get_string_member (json_node_get_object (node), "t"), type) == 0)
        {
          /* The caller keeps the last one found; an earlier one it kept goes. */
          g_clear_pointer (keep, json_node_unref);
          *keep = g_steal_pointer (&node);
          return json_node_get_object (*keep);
        }
    }
  return NULL;
}

static void
test_session_echo_and_reattach (void)
{
  const char *argv[] = { "sh", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrTermSession) session = nfltr_term_session_new (argv, "/", 1 << 20, &error);
  g_autoptr(TestPage) first = test_page_new (TRUE);
  g_autoptr(TestPage) second = NULL;
  g_autoptr(TestPage) viewer = NULL;
  g_autoptr(JsonNode) node = NULL;
  JsonObject *hello;

  g_assert_no_error (error);
  nfltr_term_session_attach (session, first->server, TRUE);
  WAIT_FOR (first->texts->len > 0);
  hello = find_text (first, "hello", &node);
  g_assert_nonnull (hello);
  g_assert_true (json_object_get_boolean_member (hello, "writer"));
  g_assert_cmpstr (json_object_get_string_member (hello, "title"), ==, "sh");

  /* The size reaches the program (stty asks the PTY); UTF-8 passes both ways. */
  send_text (first, "r132,43");
  send_text (first, "iecho \"marker-$((6*7))\" €; stty size\r");
  WAIT_FOR (output_contains (first, "marker-42 €"));
  WAIT_FOR (output_contains (first, "43 132"));

  /* The page goes away (a reload): the program does not notice, a new page gets the
   * scrollback and goes on typing into the same shell. */
  send_text (first, "iMYVAR=kept\r");
  spin (200);
  soup_websocket_connection_close (first->client, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  WAIT_FOR (nfltr_term_session_get_n_pages (session) == 0);
  g_assert_true (nfltr_term_session_is_running (session));

  second = test_page_new (TRUE);
  nfltr_term_session_attach (session, second->server, TRUE);
  WAIT_FOR (output_contains (second, "marker-42 €"));
  send_text (second, "iecho \"again-$MYVAR\"\r");
  WAIT_FOR (output_contains (second, "again-kept"));

  /* A viewer sees the output, and its keystrokes and size go nowhere. */
  viewer = test_page_new (TRUE);
  nfltr_term_session_attach (session, viewer->server, FALSE);
  WAIT_FOR (output_contains (viewer, "again-kept"));
  send_text (viewer, "iecho viewer-typed\r");
  send_text (viewer, "r20,5");
  spin (300);
  send_text (second, "iecho done-$((1+1)); stty size\r");
  WAIT_FOR (output_contains (second, "done-2"));
  WAIT_FOR (output_contains (second, "43 132\r\n"));
  g_assert_false (output_contains (second, "viewer-typed"));
  g_assert_false (output_contains (second, "5 20"));

  /* The program ends: every page hears its status. */
  send_text (second, "iexit 3\r");
  WAIT_FOR (!nfltr_term_session_is_running (session));
  WAIT_FOR (find_text (viewer, "exit", &node) != NULL);
  g_clear_pointer (&node, json_node_unref);
  g_assert_cmpint (json_object_get_int_member (find_text (second, "exit", &node), "status"), ==, 3);
}

static void
test_session_transcript (void)
{
  const char *argv[] = { "printf", "\\033[1;32mgreen\\033[0m plain\\n", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrTermSession) session = nfltr_term_session_new (argv, NULL, 4096, &error);
  g_autoptr(GBytes) raw = NULL, text = NULL;

  g_assert_no_error (error);
  WAIT_FOR (!nfltr_term_session_is_running (session));
  raw = nfltr_term_session_get_transcript (session, FALSE);
  text = nfltr_term_session_get_transcript (session, TRUE);
  g_assert_cmpmem (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw),
                   "\033[1;32mgreen\033[0m plain\r\n", 24);
  g_assert_cmpmem (g_bytes_get_data (text, NULL), g_bytes_get_size (text), "green plain\n", 12);
}

static void
test_session_not_installed (void)
{
  const char *argv[] = { "nfltr-no-such-program", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrTermSession) session = nfltr_term_session_new (argv, NULL, 4096, &error);

  g_assert_null (session);
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "“nfltr-no-such-program” is not installed (not found in PATH)");
}

/* A page that stops acknowledging is sent one window and no more; with no other writer the
 * program is stopped on its output rather than buffered without end. */
static void
test_session_backpressure (void)
{
  const char *argv[] = { "yes", "0123456789abcdef0123456789abcdef0123456789abcdef", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrTermSession) session = nfltr_term_session_new (argv, NULL, 1 << 20, &error);
  g_autoptr(TestPage) page = test_page_new (FALSE);
  guint64 end;
  g_autofree char *ack = NULL;

  g_assert_no_error (error);
  nfltr_term_session_attach (session, page->server, TRUE);
  WAIT_FOR (nfltr_term_session_is_throttled (session));
  spin (300);
  g_assert_cmpuint (page->received, <=, NFLTR_TERM_WINDOW);
  WAIT_FOR (page->received == NFLTR_TERM_WINDOW);
  spin (300);
  g_assert_cmpuint (page->received, ==, NFLTR_TERM_WINDOW);
  g_assert_true (nfltr_term_session_is_throttled (session));

  /* Acknowledged: more comes. */
  end = page->received;
  ack = g_strdup_printf ("a%" G_GUINT64_FORMAT, end);
  send_text (page, ack);
  WAIT_FOR (page->received > end);
  g_assert_cmpuint (page->received, <=, end + NFLTR_TERM_WINDOW);

  /* Acknowledging what was never sent is a protocol error. */
  send_text (page, "a99999999999");
  WAIT_FOR (page->closed);
  g_assert_cmpuint (page->close_code, ==, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR);
  WAIT_FOR (nfltr_term_session_get_n_pages (session) == 0);
  /* With nobody attached the program runs on; the ring keeps its newest megabyte. */
  WAIT_FOR (!nfltr_term_session_is_throttled (session));
}

/* Input the program does not read is held up to a bound; the page that floods it is
 * disconnected, the session stays. */
static void
test_session_input_flood (void)
{
  const char *argv[] = { "sleep", "30", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrTermSession) session = nfltr_term_session_new (argv, NULL, 4096, &error);
  g_autoptr(TestPage) page = test_page_new (TRUE);
  g_autoptr(TestPage) big = test_page_new (TRUE);
  g_autofree char *chunk = g_malloc (NFLTR_TERM_MESSAGE_MAX + 2);
  GPid pid;

  g_assert_no_error (error);
  pid = nfltr_term_session_get_pid (session);
  nfltr_term_session_attach (session, page->server, TRUE);
  chunk[0] = 'i';
  memset (chunk + 1, 'x', NFLTR_TERM_MESSAGE_MAX);
  chunk[NFLTR_TERM_MESSAGE_MAX + 1] = '\0';
  for (guint i = 0; i < 64 && soup_websocket_connection_get_state (page->client) == SOUP_WEBSOCKET_STATE_OPEN;
       i++)
    {
      soup_websocket_connection_send_text (page->client, chunk);
      spin (5);
    }
  WAIT_FOR (page->closed);
  g_assert_cmpuint (page->close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  g_assert_true (nfltr_term_session_is_running (session));

  /* One message over the cap: the WebSocket layer drops the connection at the frame's
   * header, before reading (let alone buffering) its payload. */
  nfltr_term_session_attach (session, big->server, TRUE);
  chunk = g_realloc (chunk, NFLTR_TERM_MESSAGE_MAX + 3);
  memset (chunk + 1, 'y', NFLTR_TERM_MESSAGE_MAX + 1);
  chunk[NFLTR_TERM_MESSAGE_MAX + 2] = '\0';
  soup_websocket_connection_send_text (big->client, chunk);
  WAIT_FOR (big->closed);
  g_assert_true (nfltr_term_session_is_running (session));

  /* Disposing the session hangs the program up. */
  g_clear_object (&session);
  WAIT_FOR (kill (pid, 0) < 0);
}

/* One masked client text frame (RFC 6455 §5.2), written raw. */
static void
raw_send_text (int fd, const char *text)
{
  guint8 frame[256];
  gsize len = strlen (text);
  const guint8 mask[4] = { 1, 2, 3, 4 };

  g_assert_cmpuint (len, <, 126);
  frame[0] = 0x81;
  frame[1] = 0x80 | len;
  memcpy (frame + 2, mask, 4);
  for (gsize i = 0; i < len; i++)
    frame[6 + i] = text[i] ^ mask[i % 4];
  g_assert_cmpint (write (fd, frame, 6 + len), ==, (gssize) (6 + len));
}

/* A client that acknowledges output without reading it (it can guess the window) makes the
 * agent look at its socket: what the socket does not take is not sent, so acknowledging
 * more is acknowledging what was never sent, and the connection is refused. */
static void
test_session_ack_without_reading (void)
{
  const char *argv[] = { "yes", "0123456789abcdef0123456789abcdef0123456789abcdef", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrTermSession) session = nfltr_term_session_new (argv, NULL, 1 << 20, &error);
  g_autoptr(GUri) uri = g_uri_parse ("wss://t.localhost/ws", G_URI_FLAGS_NONE, NULL);
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(SoupWebsocketConnection) server = NULL;
  int fds[2];

  g_assert_no_error (error);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  stream = stream_from_fd (fds[0]);
  server = soup_websocket_connection_new (stream, uri, SOUP_WEBSOCKET_CONNECTION_SERVER, NULL, NULL, NULL);
  nfltr_term_session_attach (session, server, FALSE);
  for (guint k = 1; k <= 16 && soup_websocket_connection_get_state (server) == SOUP_WEBSOCKET_STATE_OPEN; k++)
    {
      g_autofree char *ack = g_strdup_printf ("a%u", k * NFLTR_TERM_WINDOW);

      spin (100);
      if (soup_websocket_connection_get_state (server) != SOUP_WEBSOCKET_STATE_OPEN)
        break;
      raw_send_text (fds[1], ack);
    }
  spin (200);
  /* Refused long before 16 windows (4 MiB) were queued for a client that reads nothing. */
  g_assert_cmpint (soup_websocket_connection_get_state (server), !=, SOUP_WEBSOCKET_STATE_OPEN);
  g_assert_cmpuint (nfltr_term_session_get_n_pages (session), ==, 0);
  close (fds[1]);
}

/* The feed tail and watch push: a page that stops acknowledging is sent one window and no
 * more; one that falls behind what the feed keeps is told how much it missed. */
static void
test_feed_window_and_skipped (void)
{
  g_autoptr(NfltrWebFeed) feed = nfltr_web_feed_new (50, 64 << 20);
  g_autoptr(TestPage) page = test_page_new (FALSE);
  g_autofree char *big = g_strnfill (16 * 1024, 'x');
  g_autofree char *ack = NULL;
  guint64 sent_bytes = 0;
  guint n;
  gboolean skipped = FALSE;

  nfltr_web_feed_attach (feed, page->server, "{\"t\":\"hello\"}");
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"t\":\"lines\",\"i\":%u,\"x\":\"%s\"}", i, big);

      nfltr_web_feed_append (feed, json);
    }
  spin (300);
  for (guint i = 0; i < page->texts->len; i++)
    sent_bytes += strlen (g_ptr_array_index (page->texts, i));
  /* The window, and at most the one message that crossed it. */
  g_assert_cmpuint (sent_bytes, <=, NFLTR_WEB_FEED_WINDOW + 16 * 1024 + 64);
  g_assert_cmpuint (sent_bytes, >=, NFLTR_WEB_FEED_WINDOW - 16 * 1024 - 64);
  n = page->texts->len;
  /* Full, it is sent nothing more however much comes (not even notes of what it misses). */
  for (guint i = 0; i < 100; i++)
    nfltr_web_feed_append (feed, "{\"t\":\"lines\"}");
  spin (200);
  g_assert_cmpuint (page->texts->len, ==, n);

  /* Acknowledged: the page goes on from the oldest message the feed still keeps (it keeps
   * 50 of the 200), after a note of what it missed. */
  ack = g_strdup_printf ("a%u", n);
  send_text (page, ack);
  WAIT_FOR (page->texts->len > n);
  for (guint i = n; i < page->texts->len; i++)
    skipped |= g_str_has_prefix (g_ptr_array_index (page->texts, i), "{\"t\":\"skipped\",\"count\":");
  g_assert_true (skipped);

  /* An ack of more than was sent: refused. */
  send_text (page, "a999999");
  WAIT_FOR (page->closed);
  g_assert_cmpuint (page->close_code, ==, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR);
  WAIT_FOR (nfltr_web_feed_get_n_pages (feed) == 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/terminal/ring", test_ring);
  g_test_add_func ("/terminal/messages", test_messages);
  g_test_add_func ("/terminal/strip-ansi", test_strip_ansi);
  g_test_add_func ("/terminal/session/echo-and-reattach", test_session_echo_and_reattach);
  g_test_add_func ("/terminal/session/transcript", test_session_transcript);
  g_test_add_func ("/terminal/session/not-installed", test_session_not_installed);
  g_test_add_func ("/terminal/session/backpressure", test_session_backpressure);
  g_test_add_func ("/terminal/session/input-flood", test_session_input_flood);
  g_test_add_func ("/terminal/session/ack-without-reading", test_session_ack_without_reading);
  g_test_add_func ("/terminal/feed/window-and-skipped", test_feed_window_and_skipped);
  return g_test_run ();
}
