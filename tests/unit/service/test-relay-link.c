/* test-relay-link.c — the relay link's frame router against a fake relay in the same process.
 *
 * The fake relay is a libsoup WebSocket server with TLS on 127.0.0.1 (the link connects to
 * nfltr.localhost there, pinned to the fake's certificate). It answers HELLO with WELCOME and
 * then sends whatever a test asks; every frame the link sends it is kept, in order, so a test
 * can assert on what the relay saw: the request-ids, the PONG, an ERROR(unsupported-frame). */
#include <libsoup/soup.h>
#include <string.h>

#include "nfltr-cert.h"
#include "nfltr-error.h"
#include "nfltr-messages.h"
#include "nfltr-proto.h"
#include "nfltr-relay-link.h"

#define RELAY_HOST "nfltr.localhost"
#define WAIT_MS    10000

typedef struct {
  SoupServer *server;
  GSocketService *listener;      /* accepts and hands TLS streams to server */
  GTlsCertificate *cert;
  guint16 port;
  char *fingerprint;
  SoupWebsocketConnection *ws;   /* the link's connection, once it came */
  GPtrArray *received;           /* NfltrFrame*, from the link, HELLO first */
  NfltrRelayLink *link;
  const struct _Session *session;
} Fixture;

/* What a test asks of the session (the fixture's data; NULL: the defaults). */
typedef struct _Session {
  const char *offered;           /* the link's features for HELLO */
  const char *welcome_features;  /* WELCOME's features, NULL: none sent */
  guint16 welcome_version;       /* 0: NFLTR_PROTO_VERSION */
  gboolean expect_refused;       /* the link must not reach CONNECTED */
} Session;

typedef struct {
  GPtrArray *frames;             /* copies of what the handler got */
  gboolean handled;              /* what it returns */
} Seen;

/* ---- the fake relay ---- */

static void
relay_send (Fixture *f, const NfltrFrame *frame)
{
  g_autoptr(GBytes) bytes = nfltr_frame_encode (frame);

  g_assert_nonnull (f->ws);
  soup_websocket_connection_send_message (f->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
}

static void
relay_message_cb (SoupWebsocketConnection *ws,
                  int                      type,
                  GBytes                  *message,
                  Fixture                 *f)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);
  NfltrFrame *frame = nfltr_frame_decode (data, len, &error);

  g_assert_no_error (error);
  g_ptr_array_add (f->received, frame);
  if (nfltr_frame_get_type (frame) == NFLTR_FRAME_HELLO)
    {
      g_autoptr(NfltrFrame) welcome = nfltr_frame_new (NFLTR_FRAME_WELCOME);

      guint16 version = f->session && f->session->welcome_version ? f->session->welcome_version
                                                                   : NFLTR_PROTO_VERSION;

      nfltr_frame_set_u16 (welcome, NFLTR_ATTR_PROTO_VERSION, version);
      nfltr_frame_set_string (welcome, NFLTR_ATTR_SESSION_ID, "s1");
      nfltr_frame_set_string (welcome, NFLTR_ATTR_DOMAIN, "nfltr.localhost");
      if (f->session && f->session->welcome_features)
        nfltr_frame_set_string (welcome, NFLTR_ATTR_FEATURES, f->session->welcome_features);
      relay_send (f, welcome);
    }
}

static void
relay_websocket_cb (SoupServer              *server,
                    SoupServerMessage       *msg,
                    const char              *path,
                    SoupWebsocketConnection *ws,
                    gpointer                 user_data)
{
  Fixture *f = user_data;

  g_assert_null (f->ws);
  f->ws = g_object_ref (ws);
  g_signal_connect (ws, "message", G_CALLBACK (relay_message_cb), f);
}

/* The fake's own accept: TLS over the accepted socket, then the stream to the SoupServer —
 * as the real relay does (relay/tls/relay-own-name.c). libsoup's own listener keeps the
 * accepted socket of a connection whose WebSocket was taken over past the server's end. */
static gboolean
incoming_cb (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             gpointer           user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) tls = g_tls_server_connection_new (G_IO_STREAM (connection), f->cert, &error);
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);

  g_assert_no_error (error);
  g_assert_true (soup_server_accept_iostream (f->server, tls, local, remote, &error));
  g_assert_no_error (error);
  return TRUE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  g_error ("timed out waiting for %s", (const char *) user_data);
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until cond holds; a test that waits longer than WAIT_MS fails. */
#define WAIT_UNTIL(cond)                                                       \
  G_STMT_START                                                                 \
  {                                                                            \
    guint timeout_id_ = g_timeout_add (WAIT_MS, timeout_cb, (gpointer) #cond); \
    while (!(cond))                                                            \
      g_main_context_iteration (NULL, TRUE);                                   \
    g_source_remove (timeout_id_);                                             \
  }                                                                            \
  G_STMT_END

/* The relay sends PING and waits for the PONG: everything it sent before has been routed. */
static void
relay_sync (Fixture *f, guint64 seq)
{
  g_autoptr(NfltrFrame) ping = nfltr_frame_new (NFLTR_FRAME_PING);
  guint before = f->received->len;
  gboolean ponged = FALSE;

  nfltr_frame_set_u64 (ping, NFLTR_ATTR_SEQ, seq);
  relay_send (f, ping);
  while (!ponged)
    {
      WAIT_UNTIL (f->received->len > before);
      for (; before < f->received->len; before++)
        {
          NfltrFrame *frame = g_ptr_array_index (f->received, before);
          guint64 got = 0;

          if (nfltr_frame_get_type (frame) == NFLTR_FRAME_PONG &&
              nfltr_frame_get_u64 (frame, NFLTR_ATTR_SEQ, &got) && got == seq)
            ponged = TRUE;
        }
    }
}

static guint
count_received (Fixture *f, NfltrFrameType type)
{
  guint n = 0;

  for (guint i = 0; i < f->received->len; i++)
    if (nfltr_frame_get_type (g_ptr_array_index (f->received, i)) == type)
      n++;
  return n;
}

static NfltrFrame *
last_received (Fixture *f, NfltrFrameType type)
{
  for (guint i = f->received->len; i > 0; i--)
    if (nfltr_frame_get_type (g_ptr_array_index (f->received, i - 1)) == type)
      return g_ptr_array_index (f->received, i - 1);
  return NULL;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const char *names[] = { RELAY_HOST, NULL };
  const char *protocols[] = { NFLTR_PROTO_WS_SUBPROTOCOL, NULL };
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  g_autofree char *pem = NULL;
  g_autoptr(GTlsCertificate) cert = NULL;
  g_autoptr(GError) error = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];

  g_assert_true (nfltr_cert_generate (names, 1, &cert_pem, &key_pem, &error));
  g_assert_no_error (error);
  g_assert_true (nfltr_fingerprint_of_pem (cert_pem, strlen (cert_pem), digest, &error));
  f->fingerprint = nfltr_fingerprint_format (digest);
  pem = g_strconcat (cert_pem, "\n", key_pem, NULL);
  cert = g_tls_certificate_new_from_pem (pem, -1, &error);
  g_assert_no_error (error);
  f->cert = g_object_ref (cert);

  f->received = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_frame_free);
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (f->server, NFLTR_PROTO_CONTROL_PATH, NULL, (char **) protocols,
                                     relay_websocket_cb, f, NULL);
  f->listener = g_socket_service_new ();
  {
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (f->listener), any_port, G_SOCKET_TYPE_STREAM,
                                                  G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
    g_assert_no_error (error);
    f->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  }
  g_signal_connect (f->listener, "incoming", G_CALLBACK (incoming_cb), f);
  g_socket_service_start (f->listener);

  f->session = data;
  f->link = nfltr_relay_link_new (RELAY_HOST, f->port, f->fingerprint, "key", "0123456789abcdef0123456789abcdef");
  if (f->session)
    nfltr_relay_link_set_features (f->link, f->session->offered);
  nfltr_relay_link_start (f->link);
  if (f->session && f->session->expect_refused)
    {
      WAIT_UNTIL (nfltr_relay_link_get_state (f->link) == NFLTR_RELAY_LINK_UNREACHABLE);
      return;
    }
  WAIT_UNTIL (nfltr_relay_link_get_state (f->link) == NFLTR_RELAY_LINK_CONNECTED);
  g_assert_cmpuint (count_received (f, NFLTR_FRAME_HELLO), ==, 1);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  /* Stopping fails the requests still waiting, whose tasks hold the link. */
  nfltr_relay_link_stop (f->link);
  g_clear_object (&f->link);
  if (f->ws)
    {
      g_signal_handlers_disconnect_by_data (f->ws, f);
      /* Closed, not just dropped: an open server-side WebSocket keeps libsoup's connection
       * (socket, addresses) alive past the test, which LeakSanitizer reports. */
      if (soup_websocket_connection_get_state (f->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (f->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      WAIT_UNTIL (soup_websocket_connection_get_state (f->ws) == SOUP_WEBSOCKET_STATE_CLOSED);
    }
  if (f->ws)
    {
      /* Its stream closes asynchronously after the close handshake: wait for it to go. */
      gpointer weak = f->ws;

      g_object_add_weak_pointer (G_OBJECT (f->ws), &weak);
      g_clear_object (&f->ws);
      WAIT_UNTIL (weak == NULL);
    }
  g_socket_service_stop (f->listener);
  g_socket_listener_close (G_SOCKET_LISTENER (f->listener));
  g_clear_object (&f->listener);
  g_clear_object (&f->cert);
  soup_server_disconnect (f->server);
  {
    gpointer weak = f->server;

    g_object_add_weak_pointer (G_OBJECT (f->server), &weak);
    g_clear_object (&f->server);
    WAIT_UNTIL (weak == NULL);
  }
  g_clear_pointer (&f->received, g_ptr_array_unref);
  g_free (f->fingerprint);
  /* Let libsoup's and GIO's pending closes run before the next test. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- handlers ---- */

static gboolean
record_cb (NfltrRelayLink *link, const NfltrFrame *frame, gpointer user_data)
{
  Seen *seen = user_data;
  g_autoptr(GBytes) bytes = nfltr_frame_encode (frame);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  g_ptr_array_add (seen->frames, nfltr_frame_decode (data, len, NULL));
  return seen->handled;
}

static void
test_handler_gets_its_type (Fixture *f, gconstpointer data)
{
  Seen first = { g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_frame_free), FALSE };
  Seen second = { g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_frame_free), TRUE };
  Seen other = { g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_frame_free), TRUE };
  g_autoptr(NfltrFrame) packet = nfltr_frame_new (NFLTR_FRAME_WG_PACKET);
  NfltrFrame *got;
  gsize len = 0;
  const guint8 *bytes;

  /* A later track's frame type, handled without the link knowing the track. */
  nfltr_relay_link_add_frame_handler (f->link, NFLTR_FRAME_WG_PACKET, record_cb, &first);
  nfltr_relay_link_add_frame_handler (f->link, NFLTR_FRAME_WG_PACKET, record_cb, &second);
  nfltr_relay_link_add_frame_handler (f->link, NFLTR_FRAME_A2A_MESSAGE, record_cb, &other);

  nfltr_frame_set_string (packet, NFLTR_ATTR_PEER_ID, "peer-1");
  nfltr_frame_set_bytes (packet, NFLTR_ATTR_DATA, "ciphertext", 10);
  relay_send (f, packet);
  relay_sync (f, 1);

  /* The first declined (FALSE), so the second got it too; the A2A handler did not. */
  g_assert_cmpuint (first.frames->len, ==, 1);
  g_assert_cmpuint (second.frames->len, ==, 1);
  g_assert_cmpuint (other.frames->len, ==, 0);
  got = g_ptr_array_index (second.frames, 0);
  g_assert_cmpint (nfltr_frame_get_type (got), ==, NFLTR_FRAME_WG_PACKET);
  g_assert_cmpstr (nfltr_frame_get_string (got, NFLTR_ATTR_PEER_ID), ==, "peer-1");
  bytes = nfltr_frame_get_bytes (got, NFLTR_ATTR_DATA, &len);
  g_assert_cmpmem (bytes, len, "ciphertext", 10);
  /* Handled: the relay heard no complaint. */
  g_assert_cmpuint (count_received (f, NFLTR_FRAME_ERROR), ==, 0);

  g_ptr_array_unref (first.frames);
  g_ptr_array_unref (second.frames);
  g_ptr_array_unref (other.frames);
}

static void
test_unhandled_type_refused (Fixture *f, gconstpointer data)
{
  Seen seen = { g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_frame_free), TRUE };
  g_autoptr(NfltrFrame) signal = nfltr_frame_new (NFLTR_FRAME_P2P_SIGNAL);
  NfltrFrame *error;
  guint16 code = 0;
  guint id;

  /* Registered, then removed: nobody handles P2P_SIGNAL. */
  id = nfltr_relay_link_add_frame_handler (f->link, NFLTR_FRAME_P2P_SIGNAL, record_cb, &seen);
  nfltr_relay_link_remove_frame_handler (f->link, id);

  nfltr_frame_set_string (signal, NFLTR_ATTR_PEER_ID, "peer-2");
  nfltr_frame_set_bytes (signal, NFLTR_ATTR_DATA, "offer", 5);
  relay_send (f, signal);
  relay_sync (f, 2);

  g_assert_cmpuint (seen.frames->len, ==, 0);
  error = last_received (f, NFLTR_FRAME_ERROR);
  g_assert_nonnull (error);
  g_assert_true (nfltr_frame_get_u16 (error, NFLTR_ATTR_CODE, &code));
  g_assert_cmpuint (code, ==, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME);
  g_assert_nonnull (strstr (nfltr_frame_get_string (error, NFLTR_ATTR_MESSAGE), "0x50"));
  /* The connection carries on. */
  g_assert_cmpint (nfltr_relay_link_get_state (f->link), ==, NFLTR_RELAY_LINK_CONNECTED);

  g_ptr_array_unref (seen.frames);
}

/* ---- requests ---- */

typedef struct {
  NfltrFrame *reply;
  GError *error;
  gboolean done;
} Reply;

static void
reply_clear (Reply *r)
{
  g_clear_pointer (&r->reply, nfltr_frame_free);
  g_clear_error (&r->error);
}

static void
request_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Reply *r = user_data;

  r->reply = nfltr_relay_link_request_finish (NFLTR_RELAY_LINK (source), result, &r->error);
  r->done = TRUE;
}

static void
send_bind_request (Fixture *f, const char *name, Reply *r)
{
  g_autoptr(NfltrFrame) bind = nfltr_frame_new (NFLTR_FRAME_BIND);
  guint8 fp[NFLTR_PROTO_FINGERPRINT_SIZE] = { 0 };

  nfltr_frame_set_string (bind, NFLTR_ATTR_NAME, name);
  nfltr_frame_set_u8 (bind, NFLTR_ATTR_MODE, NFLTR_MODE_VERIFIED);
  nfltr_frame_set_bytes (bind, NFLTR_ATTR_FINGERPRINT, fp, sizeof fp);
  nfltr_relay_link_request_async (f->link, bind, NULL, request_cb, r);
}

/* The relay's BIND for name, and its request-id. */
static guint32
received_request_id (Fixture *f, const char *name)
{
  for (guint i = 0; i < f->received->len; i++)
    {
      NfltrFrame *frame = g_ptr_array_index (f->received, i);
      guint32 id = 0;

      if (nfltr_frame_get_type (frame) == NFLTR_FRAME_BIND &&
          g_strcmp0 (nfltr_frame_get_string (frame, NFLTR_ATTR_NAME), name) == 0)
        {
          g_assert_true (nfltr_frame_get_u32 (frame, NFLTR_ATTR_REQUEST_ID, &id));
          return id;
        }
    }
  g_assert_not_reached ();
}

static void
relay_send_bound (Fixture *f, guint32 request_id, const char *name)
{
  g_autoptr(NfltrFrame) bound = nfltr_frame_new (NFLTR_FRAME_BOUND);
  g_autofree char *host = g_strdup_printf ("%s.nfltr.localhost", name);
  g_autofree char *url = g_strdup_printf ("https://%s:8443", host);

  nfltr_frame_set_u32 (bound, NFLTR_ATTR_REQUEST_ID, request_id);
  nfltr_frame_set_string (bound, NFLTR_ATTR_NAME, name);
  nfltr_frame_set_string (bound, NFLTR_ATTR_HOST, host);
  nfltr_frame_set_string (bound, NFLTR_ATTR_URL, url);
  relay_send (f, bound);
}

static void
test_request_correlation (Fixture *f, gconstpointer data)
{
  Reply a = { 0 }, b = { 0 }, c = { 0 };
  guint32 id_a, id_b, id_c;
  guint16 code = 0;
  g_autoptr(NfltrFrame) refusal = nfltr_frame_new_error (NFLTR_PROTO_ERR_NAME_TAKEN, "taken");

  send_bind_request (f, "alpha", &a);
  send_bind_request (f, "beta", &b);
  send_bind_request (f, "gamma", &c);
  WAIT_UNTIL (count_received (f, NFLTR_FRAME_BIND) == 3);
  id_a = received_request_id (f, "alpha");
  id_b = received_request_id (f, "beta");
  id_c = received_request_id (f, "gamma");
  g_assert_cmpuint (id_a, !=, id_b);
  g_assert_cmpuint (id_b, !=, id_c);
  g_assert_cmpuint (id_a, !=, id_c);

  /* Answered out of order: each reply completes the request with its request-id. */
  relay_send_bound (f, id_b, "beta");
  WAIT_UNTIL (b.done);
  g_assert_false (a.done);
  g_assert_false (c.done);
  g_assert_no_error (b.error);
  g_assert_cmpint (nfltr_frame_get_type (b.reply), ==, NFLTR_FRAME_BOUND);
  g_assert_cmpstr (nfltr_frame_get_string (b.reply, NFLTR_ATTR_NAME), ==, "beta");

  /* An ERROR carrying a request-id is that request's answer. */
  nfltr_frame_set_u32 (refusal, NFLTR_ATTR_REQUEST_ID, id_c);
  relay_send (f, refusal);
  WAIT_UNTIL (c.done);
  g_assert_false (a.done);
  g_assert_no_error (c.error);
  g_assert_cmpint (nfltr_frame_get_type (c.reply), ==, NFLTR_FRAME_ERROR);
  g_assert_true (nfltr_frame_get_u16 (c.reply, NFLTR_ATTR_CODE, &code));
  g_assert_cmpuint (code, ==, NFLTR_PROTO_ERR_NAME_TAKEN);

  relay_send_bound (f, id_a, "alpha");
  WAIT_UNTIL (a.done);
  g_assert_no_error (a.error);
  g_assert_cmpstr (nfltr_frame_get_string (a.reply, NFLTR_ATTR_URL), ==, "https://alpha.nfltr.localhost:8443");

  /* Consumed by their requests: nothing was refused as unsupported. */
  g_assert_cmpuint (count_received (f, NFLTR_FRAME_ERROR), ==, 0);
  reply_clear (&a);
  reply_clear (&b);
  reply_clear (&c);
}

static void
test_unknown_request_id_ignored (Fixture *f, gconstpointer data)
{
  Reply r = { 0 };
  Seen seen = { g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_frame_free), TRUE };
  guint32 id;

  nfltr_relay_link_add_frame_handler (f->link, NFLTR_FRAME_BOUND, record_cb, &seen);
  send_bind_request (f, "delta", &r);
  WAIT_UNTIL (count_received (f, NFLTR_FRAME_BIND) == 1);
  id = received_request_id (f, "delta");

  /* A reply for a request-id nobody waits for completes nothing; a handler may look. */
  relay_send_bound (f, id + 1000, "delta");
  relay_sync (f, 3);
  g_assert_false (r.done);
  g_assert_cmpuint (seen.frames->len, ==, 1);
  g_assert_cmpuint (count_received (f, NFLTR_FRAME_ERROR), ==, 0);

  /* With no handler for its type it is dropped without an answer. */
  g_ptr_array_set_size (seen.frames, 0);
  seen.handled = FALSE;
  relay_send_bound (f, id + 1001, "delta");
  relay_sync (f, 4);
  g_assert_false (r.done);
  g_assert_cmpuint (count_received (f, NFLTR_FRAME_ERROR), ==, 0);

  /* The real one still completes the request, and does not reach the handler. */
  g_ptr_array_set_size (seen.frames, 0);
  relay_send_bound (f, id, "delta");
  WAIT_UNTIL (r.done);
  g_assert_no_error (r.error);
  g_assert_cmpstr (nfltr_frame_get_string (r.reply, NFLTR_ATTR_NAME), ==, "delta");
  relay_sync (f, 5);
  g_assert_cmpuint (seen.frames->len, ==, 0);

  reply_clear (&r);
  g_ptr_array_unref (seen.frames);
}

static void
test_request_fails_with_connection (Fixture *f, gconstpointer data)
{
  Reply r = { 0 };

  send_bind_request (f, "epsilon", &r);
  WAIT_UNTIL (count_received (f, NFLTR_FRAME_BIND) == 1);

  /* Request-ids belong to their connection: when it ends, the request fails. */
  soup_websocket_connection_close (f->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  WAIT_UNTIL (r.done);
  g_assert_null (r.reply);
  g_assert_error (r.error, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE);
  g_assert_cmpint (nfltr_relay_link_get_state (f->link), !=, NFLTR_RELAY_LINK_CONNECTED);

  /* Not connected: a new request fails at once. */
  reply_clear (&r);
  r.done = FALSE;
  send_bind_request (f, "zeta", &r);
  WAIT_UNTIL (r.done);
  g_assert_error (r.error, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE);
  reply_clear (&r);
}

static void
test_request_cancelled (Fixture *f, gconstpointer data)
{
  Reply r = { 0 };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(NfltrFrame) bind = nfltr_frame_new (NFLTR_FRAME_BIND);
  guint8 fp[NFLTR_PROTO_FINGERPRINT_SIZE] = { 0 };
  guint32 id;

  nfltr_frame_set_string (bind, NFLTR_ATTR_NAME, "eta");
  nfltr_frame_set_u8 (bind, NFLTR_ATTR_MODE, NFLTR_MODE_VERIFIED);
  nfltr_frame_set_bytes (bind, NFLTR_ATTR_FINGERPRINT, fp, sizeof fp);
  nfltr_relay_link_request_async (f->link, bind, cancellable, request_cb, &r);
  WAIT_UNTIL (count_received (f, NFLTR_FRAME_BIND) == 1);
  id = received_request_id (f, "eta");

  /* The caller gives up: it hears so, and the late reply is dropped without a word. */
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (r.done);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  relay_send_bound (f, id, "eta");
  relay_sync (f, 6);
  g_assert_cmpuint (count_received (f, NFLTR_FRAME_ERROR), ==, 0);
  g_assert_cmpint (nfltr_relay_link_get_state (f->link), ==, NFLTR_RELAY_LINK_CONNECTED);
  reply_clear (&r);
}

/* ---- docs/protocol.md §4.2 and §8 from the agent's side ---- */

static const Session features_session = { .offered = "x-a x-b", .welcome_features = "x-b x-c zz-unknown" };

static void
test_features_negotiated (Fixture *f, gconstpointer data)
{
  NfltrFrame *hello = last_received (f, NFLTR_FRAME_HELLO);

  /* HELLO announces what the link was given; the session keeps WELCOME's list, but only
   * what the agent offered: x-c and the unknown token are ignored, x-a was not agreed. */
  g_assert_cmpstr (nfltr_frame_get_string (hello, NFLTR_ATTR_FEATURES), ==, "x-a x-b");
  g_assert_true (nfltr_relay_link_has_feature (f->link, "x-b"));
  g_assert_false (nfltr_relay_link_has_feature (f->link, "x-a"));
  g_assert_false (nfltr_relay_link_has_feature (f->link, "x-c"));
  g_assert_false (nfltr_relay_link_has_feature (f->link, "zz-unknown"));
}

static void
test_ignorable_unknown_frame_skipped (Fixture *f, gconstpointer data)
{
  g_autoptr(NfltrFrame) ignorable = nfltr_frame_new ((NfltrFrameType) 0x7e);
  g_autoptr(NfltrFrame) strict = nfltr_frame_new ((NfltrFrameType) 0x7e);
  NfltrFrame *error;
  guint16 code = 0;
  guint8 frame_type = 0;
  guint32 request_id = 0;

  /* A frame of a later version's track, marked ignorable: skipped without a word. */
  nfltr_frame_set_flags (ignorable, NFLTR_FRAME_FLAG_IGNORABLE);
  nfltr_frame_set_bytes (ignorable, NFLTR_ATTR_DATA, "future", 6);
  relay_send (f, ignorable);
  relay_sync (f, 11);
  g_assert_cmpuint (count_received (f, NFLTR_FRAME_ERROR), ==, 0);
  g_assert_cmpint (nfltr_relay_link_get_state (f->link), ==, NFLTR_RELAY_LINK_CONNECTED);

  /* The same type without the flag: refused, naming the frame and its request-id. */
  nfltr_frame_set_u32 (strict, NFLTR_ATTR_REQUEST_ID, 42);
  relay_send (f, strict);
  relay_sync (f, 12);
  error = last_received (f, NFLTR_FRAME_ERROR);
  g_assert_nonnull (error);
  g_assert_true (nfltr_frame_get_u16 (error, NFLTR_ATTR_CODE, &code));
  g_assert_cmpuint (code, ==, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME);
  g_assert_true (nfltr_frame_get_u8 (error, NFLTR_ATTR_FRAME_TYPE, &frame_type));
  g_assert_cmpuint (frame_type, ==, 0x7e);
  g_assert_true (nfltr_frame_get_u32 (error, NFLTR_ATTR_REQUEST_ID, &request_id));
  g_assert_cmpuint (request_id, ==, 42);
  g_assert_cmpint (nfltr_relay_link_get_state (f->link), ==, NFLTR_RELAY_LINK_CONNECTED);
}

static void
test_ping_answered (Fixture *f, gconstpointer data)
{
  NfltrFrame *pong;
  guint64 seq = 0;

  relay_sync (f, 0xfeedf00dULL);
  pong = last_received (f, NFLTR_FRAME_PONG);
  g_assert_true (nfltr_frame_get_u64 (pong, NFLTR_ATTR_SEQ, &seq));
  g_assert_cmphex (seq, ==, 0xfeedf00dULL);
}

/* §4.2 step 3: WELCOME answers the one HELLO; a second one is a known frame sent out of turn. */
static void
test_second_welcome_drops (Fixture *f, gconstpointer data)
{
  NfltrMsgWelcome msg = { .proto_version = NFLTR_PROTO_VERSION, .session_id = "s2", .domain = "other.localhost" };
  g_autoptr(NfltrFrame) welcome = nfltr_msg_welcome_encode (&msg);
  NfltrFrame *error;
  guint16 code = 0;
  guint8 frame_type = 0;

  relay_send (f, welcome);
  WAIT_UNTIL (nfltr_relay_link_get_state (f->link) == NFLTR_RELAY_LINK_UNREACHABLE);
  g_assert_error (nfltr_relay_link_get_error (f->link), NFLTR_ERROR, NFLTR_ERROR_PROTOCOL);
  /* The first WELCOME's domain stands. */
  g_assert_cmpstr (nfltr_relay_link_get_domain (f->link), ==, "nfltr.localhost");
  /* No retry: it would be a second connection to the fake relay. */
  nfltr_relay_link_stop (f->link);
  WAIT_UNTIL (last_received (f, NFLTR_FRAME_ERROR) != NULL);
  error = last_received (f, NFLTR_FRAME_ERROR);
  g_assert_true (nfltr_frame_get_u16 (error, NFLTR_ATTR_CODE, &code));
  g_assert_cmpuint (code, ==, NFLTR_PROTO_ERR_PROTOCOL);
  g_assert_true (nfltr_frame_get_u8 (error, NFLTR_ATTR_FRAME_TYPE, &frame_type));
  g_assert_cmpuint (frame_type, ==, NFLTR_FRAME_WELCOME);
}

static void
test_wrong_direction_drops (Fixture *f, gconstpointer data)
{
  g_autoptr(NfltrFrame) bind = nfltr_frame_new (NFLTR_FRAME_BIND);
  guint8 fp[NFLTR_PROTO_FINGERPRINT_SIZE] = { 0 };
  NfltrFrame *error;
  guint16 code = 0;

  /* A BIND comes from agents only: a relay that sends one is not speaking this protocol. */
  nfltr_frame_set_u32 (bind, NFLTR_ATTR_REQUEST_ID, 7);
  nfltr_frame_set_string (bind, NFLTR_ATTR_NAME, "x");
  nfltr_frame_set_u8 (bind, NFLTR_ATTR_MODE, NFLTR_MODE_VERIFIED);
  nfltr_frame_set_bytes (bind, NFLTR_ATTR_FINGERPRINT, fp, sizeof fp);
  relay_send (f, bind);
  WAIT_UNTIL (nfltr_relay_link_get_state (f->link) == NFLTR_RELAY_LINK_UNREACHABLE);
  WAIT_UNTIL (last_received (f, NFLTR_FRAME_ERROR) != NULL);
  error = last_received (f, NFLTR_FRAME_ERROR);
  g_assert_nonnull (error);
  g_assert_true (nfltr_frame_get_u16 (error, NFLTR_ATTR_CODE, &code));
  g_assert_cmpuint (code, ==, NFLTR_PROTO_ERR_PROTOCOL);
  g_assert_error (nfltr_relay_link_get_error (f->link), NFLTR_ERROR, NFLTR_ERROR_PROTOCOL);
}

static const Session future_relay = { .welcome_version = NFLTR_PROTO_VERSION + 1, .expect_refused = TRUE };

static void
test_welcome_version_too_high (Fixture *f, gconstpointer data)
{
  NfltrFrame *error;
  guint16 code = 0;

  /* §8.1: WELCOME may not name a version above HELLO's; the agent cannot speak it. */
  WAIT_UNTIL (last_received (f, NFLTR_FRAME_ERROR) != NULL);
  error = last_received (f, NFLTR_FRAME_ERROR);
  g_assert_nonnull (error);
  g_assert_true (nfltr_frame_get_u16 (error, NFLTR_ATTR_CODE, &code));
  g_assert_cmpuint (code, ==, NFLTR_PROTO_ERR_UNSUPPORTED_VERSION);
  g_assert_error (nfltr_relay_link_get_error (f->link), NFLTR_ERROR, NFLTR_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (nfltr_relay_link_get_error (f->link)->message, "version"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/relay-link/router/handler-gets-its-type", test_handler_gets_its_type);
  ADD ("/relay-link/router/unhandled-type-refused", test_unhandled_type_refused);
  ADD ("/relay-link/router/request-correlation", test_request_correlation);
  ADD ("/relay-link/router/unknown-request-id-ignored", test_unknown_request_id_ignored);
  ADD ("/relay-link/router/request-fails-with-connection", test_request_fails_with_connection);
  ADD ("/relay-link/router/request-cancelled", test_request_cancelled);
#undef ADD
#define ADD_WITH(path, session, fn) g_test_add (path, Fixture, session, fixture_setup, fn, fixture_teardown)
  ADD_WITH ("/relay-link/protocol/features-negotiated", &features_session, test_features_negotiated);
  ADD_WITH ("/relay-link/protocol/ignorable-unknown-frame-skipped", NULL, test_ignorable_unknown_frame_skipped);
  ADD_WITH ("/relay-link/protocol/ping-answered", NULL, test_ping_answered);
  ADD_WITH ("/relay-link/protocol/wrong-direction-drops", NULL, test_wrong_direction_drops);
  ADD_WITH ("/relay-link/protocol/second-welcome-drops", NULL, test_second_welcome_drops);
  ADD_WITH ("/relay-link/protocol/welcome-version-too-high", &future_relay, test_welcome_version_too_high);
#undef ADD_WITH

  return g_test_run ();
}
