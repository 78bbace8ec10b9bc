/* test-relay.c — a whole relay in process, on a free loopback port, driven from outside as
 * the world would: raw TCP clients, TLS clients, and a test agent speaking the wire protocol
 * over a real libsoup WebSocket. The relay runs in the main loop; blocking peers run in
 * threads. Asserts are on what a peer sees: alert bytes, certificates, frames, payload. */
#include "relay-server.h"
#include "agents/relay-agent.h"
#include "agents/relay-directory.h"
#include "store/relay-store.h"
#include "tls/relay-identity.h"
#include "passthrough/relay-attach.h"
#include "passthrough/relay-splice.h"
#include "tunnels/relay-registry.h"
#include "nfltr-cert.h"
#include "nfltr-clienthello.h"
#include "nfltr-proto.h"
#include "clienthello-samples.h"  /* hello_openssl: SNI myapp.nfltr.localhost */
#include "relay-test-util.h"

#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

typedef struct {
  char        *dir;
  RelayServer *server;
  char        *key;
  guint16      port;
  char        *agent_cert_pem;
  char        *agent_key_pem;
  guint8       agent_fp[NFLTR_FINGERPRINT_LEN];
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  RelayConfig config;
  g_autoptr(GError) error = NULL;
  const char *names[] = { "myapp.nfltr.localhost", "insp.nfltr.localhost", NULL };

  f->dir = make_temp_dir ();
  relay_config_init (&config);
  g_free (config.listen);
  config.listen = g_strdup ("127.0.0.1:0");
  g_free (config.data_dir);
  config.data_dir = g_strdup (f->dir);
  config.handshake_timeout_s = 1;
  config.hello_timeout_s = 1;
  config.attach_timeout_s = 1;
  config.agent_idle_timeout_s = 2;
  config.max_tunnels_per_agent = 2;
  /* The relay's own check of each BIND (relay/proof/, issue 11) would send these hand-made
   * agents a CONN_OPEN the tests do not expect; test_proof.py covers it. */
  config.proof_interval_s = 0;
  f->server = relay_server_new (&config, &error);
  g_assert_no_error (error);
  g_assert_true (relay_server_start (f->server, &error));
  g_assert_no_error (error);
  f->port = f->server->port;
  g_assert_true (relay_store_key_create (f->server->store, "test", &f->key, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (nfltr_cert_generate (names, 2, &f->agent_cert_pem, &f->agent_key_pem, &error));
  g_assert_no_error (error);
  g_assert_true (nfltr_fingerprint_of_pem (f->agent_cert_pem, strlen (f->agent_cert_pem), f->agent_fp, &error));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->server, relay_server_free);
  /* Let closes scheduled by the server's teardown run. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->key);
  g_free (f->agent_cert_pem);
  g_free (f->agent_key_pem);
}

/* ---- a raw TCP client in a thread ---- */

typedef struct {
  guint16     port;
  GBytes     *send;
  gboolean    bytewise;
  gboolean    shut_after_send;
  GByteArray *got;
  gint64      elapsed_ms;
  gint        done;
} RawClient;

static GSocketConnection *
connect_blocking (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, port);
  GSocketConnection *conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL, &error);

  g_assert_no_error (error);
  g_socket_set_timeout (g_socket_connection_get_socket (conn), 10);
  return conn;
}

static gpointer
raw_client_thread (gpointer user_data)
{
  RawClient *c = user_data;
  g_autoptr(GSocketConnection) conn = connect_blocking (c->port);
  GSocket *socket = g_socket_connection_get_socket (conn);
  gint64 start = g_get_monotonic_time ();
  gsize len = c->send ? g_bytes_get_size (c->send) : 0;
  const char *data = c->send ? g_bytes_get_data (c->send, NULL) : NULL;
  char buf[4096];
  gssize n;

  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  for (gsize off = 0; off < len;)
    {
      gsize chunk = c->bytewise ? 1 : len - off;
      n = g_socket_send (socket, data + off, chunk, NULL, NULL);
      if (n <= 0)
        break;
      off += n;
    }
  if (c->shut_after_send)
    g_socket_shutdown (socket, FALSE, TRUE, NULL);
  c->got = g_byte_array_new ();
  while ((n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL)) > 0)
    g_byte_array_append (c->got, (guint8 *) buf, n);
  c->elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_atomic_int_set (&c->done, 1);
  return NULL;
}

static RawClient *
raw_client_run (guint16 port, const void *data, gsize len, gboolean bytewise)
{
  RawClient *c = g_new0 (RawClient, 1);
  GThread *thread;

  c->port = port;
  c->send = data ? g_bytes_new (data, len) : NULL;
  c->bytewise = bytewise;
  thread = g_thread_new ("raw-client", raw_client_thread, c);
  g_assert_true (wait_for_flag (&c->done, 15));
  g_thread_join (thread);
  return c;
}

static void
raw_client_free (RawClient *c)
{
  g_clear_pointer (&c->send, g_bytes_unref);
  g_clear_pointer (&c->got, g_byte_array_unref);
  g_free (c);
}

static void
assert_alert (RawClient *c, guint8 description)
{
  guint8 want[7];

  nfltr_tls_alert_record (description, want);
  g_assert_cmpmem (c->got->data, c->got->len, want, 7);
}

/* A ClientHello for any name, built by hand (one record). */
static GBytes *
hello_for (const char *sni)
{
  GByteArray *msg = g_byte_array_new ();
  gsize n = sni ? strlen (sni) : 0;
  guint8 fixed[] = { 0x03, 0x03 };
  guint8 random[32] = { 0 };
  guint8 tail[] = { 0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00 };
  guint8 ext_len[2], hdr[4], rec[5];
  GByteArray *exts = g_byte_array_new ();
  GByteArray *out = g_byte_array_new ();

  if (sni != NULL)
    {
      guint8 e[9] = { 0, 0, (n + 5) >> 8, (n + 5) & 0xff, (n + 3) >> 8, (n + 3) & 0xff, 0, n >> 8, n & 0xff };
      g_byte_array_append (exts, e, sizeof e);
      g_byte_array_append (exts, (const guint8 *) sni, n);
    }
  g_byte_array_append (msg, fixed, 2);
  g_byte_array_append (msg, random, 32);
  g_byte_array_append (msg, tail, sizeof tail);
  ext_len[0] = exts->len >> 8;
  ext_len[1] = exts->len & 0xff;
  g_byte_array_append (msg, ext_len, 2);
  g_byte_array_append (msg, exts->data, exts->len);
  hdr[0] = 1;
  hdr[1] = 0;
  hdr[2] = msg->len >> 8;
  hdr[3] = msg->len & 0xff;
  rec[0] = 0x16;
  rec[1] = 3;
  rec[2] = 1;
  rec[3] = (msg->len + 4) >> 8;
  rec[4] = (msg->len + 4) & 0xff;
  g_byte_array_append (out, rec, 5);
  g_byte_array_append (out, hdr, 4);
  g_byte_array_append (out, msg->data, msg->len);
  g_byte_array_unref (msg);
  g_byte_array_unref (exts);
  return g_byte_array_free_to_bytes (out);
}

/* Iterates the loop until the relay has closed what it should (closes are asynchronous),
 * then asserts the process holds exactly `baseline` descriptors. */
static void
assert_fds_back_to (guint baseline)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint tick = g_timeout_add (5, tick_cb, NULL);

  while (count_fds () != baseline && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  g_assert_cmpuint (count_fds (), ==, baseline);
}

/* ---- refusals ---- */

static void
test_not_tls (Fixture *f, gconstpointer data)
{
  const char req[] = "GET / HTTP/1.1\r\n\r\n";
  RawClient *c = raw_client_run (f->port, req, sizeof req - 1, FALSE);

  g_assert_cmpuint (c->got->len, ==, 0);
  raw_client_free (c);
}

static void
test_unknown_name_bytewise (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) hello = hello_for ("nobody.nfltr.localhost");
  guint fds_before = count_fds ();
  RawClient *c = raw_client_run (f->port, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello), TRUE);

  assert_alert (c, NFLTR_TLS_ALERT_UNRECOGNIZED_NAME);
  raw_client_free (c);
  assert_fds_back_to (fds_before);
}

static void
test_no_sni (Fixture *f, gconstpointer data)
{
  RawClient *c = raw_client_run (f->port, hello_openssl_nosni, sizeof hello_openssl_nosni, FALSE);

  assert_alert (c, NFLTR_TLS_ALERT_UNRECOGNIZED_NAME);
  raw_client_free (c);
}

static void
test_too_big_and_malformed (Fixture *f, gconstpointer data)
{
  const guint8 big[] = { 0x16, 3, 1, 0x40, 0, 1, 0x01, 0x00, 0 };  /* 64 KiB + 4 */
  const guint8 bad[] = { 0x16, 3, 1, 0, 4, 2, 0, 0, 0 };
  RawClient *c = raw_client_run (f->port, big, sizeof big, FALSE);

  assert_alert (c, NFLTR_TLS_ALERT_DECODE_ERROR);
  raw_client_free (c);
  c = raw_client_run (f->port, bad, sizeof bad, FALSE);
  assert_alert (c, NFLTR_TLS_ALERT_DECODE_ERROR);
  raw_client_free (c);
}

/* A client that stops mid-hello is closed after --handshake-timeout (1 s here), and a
 * connection that says nothing at all too; neither holds up anyone else. */
static void
test_slow_hello_times_out (Fixture *f, gconstpointer data)
{
  RawClient slow = { f->port, NULL, FALSE, FALSE };
  g_autoptr(GBytes) hello = hello_for ("other.nfltr.localhost");
  GThread *thread;
  RawClient *quick;

  slow.send = g_bytes_new_static (hello_openssl, 10);
  thread = g_thread_new ("slow-client", raw_client_thread, &slow);
  /* Meanwhile another client is answered at once. */
  quick = raw_client_run (f->port, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello), FALSE);
  assert_alert (quick, NFLTR_TLS_ALERT_UNRECOGNIZED_NAME);
  g_assert_cmpint (quick->elapsed_ms, <, 500);
  g_assert_false (g_atomic_int_get (&slow.done));
  raw_client_free (quick);

  g_assert_true (wait_for_flag (&slow.done, 10));
  g_thread_join (thread);
  g_assert_cmpuint (slow.got->len, ==, 0);
  g_assert_cmpint (slow.elapsed_ms, >=, 900);
  g_assert_cmpint (slow.elapsed_ms, <, 5000);
  g_byte_array_unref (slow.got);
  g_bytes_unref (slow.send);
}

static void
test_bad_attach (Fixture *f, gconstpointer data)
{
  guint8 preamble[NFLTR_PROTO_ATTACH_SIZE];
  guint8 id[NFLTR_PROTO_CONN_ID_SIZE];
  RawClient *c;

  memset (id, 0x42, sizeof id);
  nfltr_proto_attach_encode (id, preamble);
  c = raw_client_run (f->port, preamble, sizeof preamble, FALSE);
  g_assert_cmpuint (c->got->len, ==, 0);
  g_assert_cmpint (c->elapsed_ms, <, 900);  /* refused at once, not by a timer */
  raw_client_free (c);
}

static gboolean
set_flag_cb (gpointer user_data)
{
  g_atomic_int_set ((gint *) user_data, 1);
  return G_SOURCE_REMOVE;
}

/* Iterates the loop until cond (a test of relay state) holds, or fails after 5 s. */
#define LOOP_UNTIL(cond)                                                       \
  G_STMT_START {                                                               \
    gint64 deadline_ = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;           \
    guint tick_ = g_timeout_add (5, tick_cb, NULL);                            \
    while (!(cond) && g_get_monotonic_time () < deadline_)                     \
      g_main_context_iteration (NULL, TRUE);                                   \
    g_source_remove (tick_);                                                   \
    g_assert_true (cond);                                                      \
  } G_STMT_END

/* --max-connections, first case: at the limit, the connection that has waited longest for its
 * ClientHello makes room for a new one. */
static void
test_connection_limit_evicts_first_stage (Fixture *f, gconstpointer data)
{
  g_autoptr(GSocketConnection) c1 = connect_blocking (f->port);
  g_autoptr(GSocketConnection) c2 = NULL;
  g_autoptr(GBytes) hello = hello_for ("x.nfltr.localhost");
  char buf[16];
  RawClient *c3;

  f->server->config.max_connections = 2;
  f->server->config.max_per_source = 10;  /* all from 127.0.0.1; this is not about that cap */
  LOOP_UNTIL (g_queue_get_length (&f->server->first_stage) == 1);
  c2 = connect_blocking (f->port);
  LOOP_UNTIL (g_queue_get_length (&f->server->first_stage) == 2);

  c3 = raw_client_run (f->port, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello), FALSE);
  assert_alert (c3, NFLTR_TLS_ALERT_UNRECOGNIZED_NAME);  /* admitted and answered */
  raw_client_free (c3);
  /* c1, the oldest, was dropped for it; c2 is still waiting */
  g_assert_cmpint (g_socket_receive (g_socket_connection_get_socket (c1), buf, sizeof buf, NULL, NULL), ==, 0);
  g_assert_cmpuint (g_queue_get_length (&f->server->first_stage), ==, 1);
}

/* --max-connections-per-source: connections from one address still before their ClientHello
 * beyond the cap are refused at once; the address is served again when they are gone. */
static void
test_per_source_limit (Fixture *f, gconstpointer data)
{
  g_autoptr(GSocketConnection) c1 = connect_blocking (f->port);
  g_autoptr(GSocketConnection) c2 = connect_blocking (f->port);
  g_autoptr(GBytes) hello = hello_for ("x.nfltr.localhost");
  RawClient *c;

  f->server->config.max_per_source = 2;
  LOOP_UNTIL (g_queue_get_length (&f->server->first_stage) == 2);

  c = raw_client_run (f->port, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello), FALSE);
  g_assert_cmpuint (c->got->len, ==, 0);     /* closed, no alert: it was never read */
  g_assert_cmpint (c->elapsed_ms, <, 900);   /* at once, not at the handshake deadline */
  raw_client_free (c);

  g_io_stream_close (G_IO_STREAM (c1), NULL, NULL);
  LOOP_UNTIL (g_queue_get_length (&f->server->first_stage) == 1);
  c = raw_client_run (f->port, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello), FALSE);
  assert_alert (c, NFLTR_TLS_ALERT_UNRECOGNIZED_NAME);  /* read and answered again */
  raw_client_free (c);
}

/* ---- a TLS client in a thread ---- */

typedef struct {
  guint16          port;
  const char      *sni;
  const char      *request;
  GTlsCertificate *peer_cert;
  GByteArray      *got;
  char            *error;
  gint             done;
} TlsClient;

static gboolean
accept_any_cb (GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer data)
{
  return TRUE;
}

static gpointer
tls_client_thread (gpointer user_data)
{
  TlsClient *c = user_data;
  g_autoptr(GSocketConnection) conn = connect_blocking (c->port);
  g_autoptr(GSocketConnectable) identity = g_network_address_new (c->sni, c->port);
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) tls = g_tls_client_connection_new (G_IO_STREAM (conn), identity, &error);
  char buf[4096];
  gssize n;

  g_assert_no_error (error);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_any_cb), NULL);
  c->got = g_byte_array_new ();
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error))
    goto out;
  c->peer_cert = g_object_ref (g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (tls)));
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (tls), c->request, strlen (c->request),
                                  NULL, NULL, &error))
    goto out;
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (tls), buf, sizeof buf, NULL, &error)) > 0)
    g_byte_array_append (c->got, (guint8 *) buf, n);
out:
  if (error != NULL)
    c->error = g_strdup (error->message);
  g_atomic_int_set (&c->done, 1);
  return NULL;
}

static char *
fingerprint_of (GTlsCertificate *cert)
{
  g_autoptr(GByteArray) der = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];

  g_object_get (cert, "certificate", &der, NULL);
  nfltr_fingerprint_of_der (der->data, der->len, digest);
  return nfltr_fingerprint_format (digest);
}

static void
tls_client_clear (TlsClient *c)
{
  g_clear_object (&c->peer_cert);
  g_clear_pointer (&c->got, g_byte_array_unref);
  g_clear_pointer (&c->error, g_free);
}

/* The relay's own name: its certificate, and the health endpoint behind it. */
static void
test_own_name (Fixture *f, gconstpointer data)
{
  TlsClient c = { f->port, "nfltr.localhost",
                  "GET /api/v1/health HTTP/1.1\r\nHost: nfltr.localhost\r\nConnection: close\r\n\r\n" };
  guint fds_before = count_fds ();
  GThread *thread = g_thread_new ("tls-client", tls_client_thread, &c);
  g_autofree char *fp = NULL;
  g_autofree char *text = NULL;

  g_assert_true (wait_for_flag (&c.done, 15));
  g_thread_join (thread);
  g_assert_null (c.error);
  fp = fingerprint_of (c.peer_cert);
  g_assert_cmpstr (fp, ==, f->server->identity->fingerprint);
  text = g_strndup ((char *) c.got->data, c.got->len);
  g_assert_true (g_str_has_prefix (text, "HTTP/1.1 200"));
  g_assert_nonnull (strstr (text, "{\"status\":\"ok\",\"version\":\"" PACKAGE_VERSION "\"}"));
  tls_client_clear (&c);
  assert_fds_back_to (fds_before);
}

/* ---- a test agent over a real WebSocket ---- */

typedef struct {
  Fixture                 *f;
  SoupSession             *session;
  SoupWebsocketConnection *ws;
  GQueue                   frames;
  char                    *session_id;   /* from WELCOME */
  gint                     connected;
  gint                     closed;
  gushort                  close_code;
} Agent;

static void
agent_message_cb (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
  Agent *a = user_data;
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *bytes = g_bytes_get_data (message, &len);
  NfltrFrame *frame = nfltr_frame_decode (bytes, len, &error);

  g_assert_no_error (error);
  g_queue_push_tail (&a->frames, frame);
}

static void
agent_closed_cb (SoupWebsocketConnection *ws, gpointer user_data)
{
  Agent *a = user_data;

  a->close_code = soup_websocket_connection_get_close_code (ws);
  g_atomic_int_set (&a->closed, 1);
}

static gboolean
agent_accept_cert_cb (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer user_data)
{
  Agent *a = user_data;
  g_autofree char *fp = fingerprint_of (cert);

  /* What a real agent does: pin the relay fingerprint. */
  return g_strcmp0 (fp, a->f->server->identity->fingerprint) == 0;
}

static void
agent_connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Agent *a = user_data;
  g_autoptr(GError) error = NULL;

  a->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
  g_signal_connect (a->ws, "message", G_CALLBACK (agent_message_cb), a);
  g_signal_connect (a->ws, "closed", G_CALLBACK (agent_closed_cb), a);
  g_atomic_int_set (&a->connected, 1);
}

static Agent *
agent_connect (Fixture *f)
{
  Agent *a = g_new0 (Agent, 1);
  /* GLib's resolver maps *.localhost to loopback itself (RFC 6761 §6.3), and the name is what
   * the TLS client sends as SNI. */
  g_autoptr(GSocketConnectable) addr = g_network_address_new ("nfltr.localhost", f->port);
  g_autofree char *uri = g_strdup_printf ("wss://nfltr.localhost:%u" NFLTR_PROTO_CONTROL_PATH, f->port);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", uri);
  char *protocols[] = { (char *) NFLTR_PROTO_WS_SUBPROTOCOL, NULL };

  a->f = f;
  g_queue_init (&a->frames);
  a->session = soup_session_new_with_options ("remote-connectable", addr, NULL);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (agent_accept_cert_cb), a);
  soup_session_websocket_connect_async (a->session, msg, NULL, protocols, G_PRIORITY_DEFAULT, NULL,
                                        agent_connected_cb, a);
  g_assert_true (wait_for_flag (&a->connected, 10));
  g_assert_cmpstr (soup_websocket_connection_get_protocol (a->ws), ==, NFLTR_PROTO_WS_SUBPROTOCOL);
  return a;
}

static void
agent_send_raw (Agent *a, const void *data, gsize len)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);

  soup_websocket_connection_send_message (a->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
}

static void
agent_send (Agent *a, NfltrFrame *frame)
{
  g_autoptr(GBytes) bytes = nfltr_frame_encode (frame);

  soup_websocket_connection_send_message (a->ws, SOUP_WEBSOCKET_DATA_BINARY, bytes);
  nfltr_frame_free (frame);
}

static gboolean
has_frame (Agent *a)
{
  return !g_queue_is_empty (&a->frames);
}

static NfltrFrame *
agent_expect (Agent *a, NfltrFrameType type)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  NfltrFrame *frame;

  while (!has_frame (a) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  frame = g_queue_pop_head (&a->frames);
  g_assert_nonnull (frame);
  if (nfltr_frame_get_type (frame) != type)
    g_error ("expected %s, got %s (%s)", nfltr_frame_type_to_string (type),
             nfltr_frame_type_to_string (nfltr_frame_get_type (frame)),
             nfltr_frame_get_string (frame, NFLTR_ATTR_MESSAGE));
  return frame;
}

static void
agent_free (Agent *a)
{
  if (a->ws != NULL && soup_websocket_connection_get_state (a->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      soup_websocket_connection_close (a->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      wait_for_flag (&a->closed, 10);
    }
  if (a->ws != NULL)
    g_signal_handlers_disconnect_by_data (a->ws, a);
  g_clear_object (&a->ws);
  g_clear_object (&a->session);
  g_queue_clear_full (&a->frames, (GDestroyNotify) nfltr_frame_free);
  g_free (a->session_id);
  g_free (a);
}

static NfltrFrame *
hello_frame (const char *key, const char *agent_id)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_HELLO);

  nfltr_frame_set_u16 (frame, NFLTR_ATTR_PROTO_VERSION, 1);
  nfltr_frame_set_string (frame, NFLTR_ATTR_API_KEY, key);
  nfltr_frame_set_string (frame, NFLTR_ATTR_AGENT_ID, agent_id);
  nfltr_frame_set_string (frame, NFLTR_ATTR_AGENT_VERSION, "test");
  return frame;
}

static NfltrFrame *
bind_frame (guint32 request_id, const char *name, NfltrMode mode, const guint8 *fp)
{
  NfltrFrame *frame = nfltr_frame_new (NFLTR_FRAME_BIND);

  nfltr_frame_set_u32 (frame, NFLTR_ATTR_REQUEST_ID, request_id);
  nfltr_frame_set_string (frame, NFLTR_ATTR_NAME, name);
  nfltr_frame_set_u8 (frame, NFLTR_ATTR_MODE, mode);
  nfltr_frame_set_bytes (frame, NFLTR_ATTR_FINGERPRINT, fp, NFLTR_FINGERPRINT_LEN);
  nfltr_frame_set_string (frame, NFLTR_ATTR_KIND, "http");
  return frame;
}

#define AGENT_A "0123456789abcdef0123456789abcdef"
#define AGENT_B "fedcba9876543210fedcba9876543210"

static Agent *
agent_ready (Fixture *f, const char *agent_id)
{
  Agent *a = agent_connect (f);
  g_autoptr(NfltrFrame) welcome = NULL;
  guint16 version = 0;

  agent_send (a, hello_frame (f->key, agent_id));
  welcome = agent_expect (a, NFLTR_FRAME_WELCOME);
  g_assert_true (nfltr_frame_get_u16 (welcome, NFLTR_ATTR_PROTO_VERSION, &version));
  g_assert_cmpuint (version, ==, 1);
  g_assert_cmpstr (nfltr_frame_get_string (welcome, NFLTR_ATTR_DOMAIN), ==, "nfltr.localhost");
  /* §8.2: always present; nothing offered, nothing in common */
  g_assert_cmpstr (nfltr_frame_get_string (welcome, NFLTR_ATTR_FEATURES), ==, "");
  a->session_id = g_strdup (nfltr_frame_get_string (welcome, NFLTR_ATTR_SESSION_ID));
  return a;
}

static void
expect_error (Agent *a, NfltrProtoErrorCode code, const char *fragment)
{
  g_autoptr(NfltrFrame) err = agent_expect (a, NFLTR_FRAME_ERROR);
  guint16 got = 0;

  g_assert_true (nfltr_frame_get_u16 (err, NFLTR_ATTR_CODE, &got));
  g_assert_cmpstr (nfltr_proto_error_code_to_string (got), ==, nfltr_proto_error_code_to_string (code));
  if (strstr (nfltr_frame_get_string (err, NFLTR_ATTR_MESSAGE), fragment) == NULL)
    g_error ("ERROR message “%s” lacks “%s”", nfltr_frame_get_string (err, NFLTR_ATTR_MESSAGE), fragment);
}

static void
test_auth_failed (Fixture *f, gconstpointer data)
{
  Agent *a = agent_connect (f);

  agent_send (a, hello_frame ("nfltr_not-a-key", AGENT_A));
  expect_error (a, NFLTR_PROTO_ERR_AUTH_FAILED, "API key is not valid (unknown or revoked)");
  g_assert_true (wait_for_flag (&a->closed, 10));
  g_assert_cmpuint (a->close_code, ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  agent_free (a);
}

static void
test_revoked_key (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Agent *a;

  g_assert_true (relay_store_key_revoke (f->server->store, 1, &error));
  a = agent_connect (f);
  agent_send (a, hello_frame (f->key, AGENT_A));
  expect_error (a, NFLTR_PROTO_ERR_AUTH_FAILED, "unknown or revoked");
  g_assert_true (wait_for_flag (&a->closed, 10));
  agent_free (a);
}

static void
test_frame_before_hello (Fixture *f, gconstpointer data)
{
  Agent *a = agent_connect (f);

  agent_send (a, bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  expect_error (a, NFLTR_PROTO_ERR_PROTOCOL, "expected HELLO");
  g_assert_true (wait_for_flag (&a->closed, 10));
  agent_free (a);
}

static void
test_bind_and_names (Fixture *f, gconstpointer data)
{
  Agent *a = agent_ready (f, AGENT_A);
  Agent *b = agent_ready (f, AGENT_B);
  g_autoptr(NfltrFrame) bound = NULL;
  g_autoptr(NfltrFrame) pong = NULL;
  g_autofree char *url = g_strdup_printf ("https://myapp.nfltr.localhost:%u", f->port);
  NfltrFrame *ping = nfltr_frame_new (NFLTR_FRAME_PING);
  NfltrFrame *odd = nfltr_frame_new (0x77);
  guint32 rid = 0;
  guint64 seq = 0;

  agent_send (a, bind_frame (7, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  bound = agent_expect (a, NFLTR_FRAME_BOUND);
  g_assert_true (nfltr_frame_get_u32 (bound, NFLTR_ATTR_REQUEST_ID, &rid));
  g_assert_cmpuint (rid, ==, 7);
  g_assert_cmpstr (nfltr_frame_get_string (bound, NFLTR_ATTR_HOST), ==, "myapp.nfltr.localhost");
  g_assert_cmpstr (nfltr_frame_get_string (bound, NFLTR_ATTR_URL), ==, url);

  /* §6: another agent cannot take it; reserved and invalid names are refused. */
  agent_send (b, bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  expect_error (b, NFLTR_PROTO_ERR_NAME_TAKEN, "myapp");
  agent_send (b, bind_frame (2, "www", NFLTR_MODE_VERIFIED, f->agent_fp));
  expect_error (b, NFLTR_PROTO_ERR_BAD_NAME, "reserved");
  agent_send (b, bind_frame (3, "Not_A_Label", NFLTR_MODE_VERIFIED, f->agent_fp));
  expect_error (b, NFLTR_PROTO_ERR_BAD_NAME, "not a DNS label");
  /* limit: two names per agent in this fixture */
  agent_send (b, bind_frame (4, "one", NFLTR_MODE_VERIFIED, f->agent_fp));
  nfltr_frame_free (agent_expect (b, NFLTR_FRAME_BOUND));
  agent_send (b, bind_frame (5, "two", NFLTR_MODE_VERIFIED, f->agent_fp));
  nfltr_frame_free (agent_expect (b, NFLTR_FRAME_BOUND));
  agent_send (b, bind_frame (6, "three", NFLTR_MODE_VERIFIED, f->agent_fp));
  expect_error (b, NFLTR_PROTO_ERR_LIMIT, "at most 2");

  /* keep-alive and unknown frames: answered, channel stays */
  nfltr_frame_set_u64 (ping, NFLTR_ATTR_SEQ, 41);
  agent_send (a, ping);
  pong = agent_expect (a, NFLTR_FRAME_PONG);
  g_assert_true (nfltr_frame_get_u64 (pong, NFLTR_ATTR_SEQ, &seq));
  g_assert_cmpuint (seq, ==, 41);
  agent_send (a, odd);
  expect_error (a, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME, "0x77");
  g_assert_false (g_atomic_int_get (&a->closed));

  agent_free (b);
  agent_free (a);
}

/* §6: the same agent id and key may take its name back (a reconnect, or a second process of
 * the same install): the name moves to the new channel, the older channel stays up, and a
 * public client now reaches the new one. Another key under the same id may not. */
static void
test_reconnect_takes_name_back (Fixture *f, gconstpointer data)
{
  Agent *old = agent_ready (f, AGENT_A);
  Agent *fresh = NULL;
  Agent *other_key = NULL;
  RawClient client = { f->port, NULL, FALSE, FALSE };
  g_autoptr(GError) error = NULL;
  g_autofree char *key2 = NULL;
  g_autoptr(NfltrFrame) welcome = NULL;
  GThread *ct;

  agent_send (old, bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  nfltr_frame_free (agent_expect (old, NFLTR_FRAME_BOUND));
  fresh = agent_ready (f, AGENT_A);
  agent_send (fresh, bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  nfltr_frame_free (agent_expect (fresh, NFLTR_FRAME_BOUND));
  g_assert_false (g_atomic_int_get (&old->closed));
  /* the directory points at the newest channel of the agent */
  g_assert_cmpstr (relay_agent_get_session_id (relay_directory_lookup (f->server->directory, AGENT_A)),
                   ==, fresh->session_id);

  client.send = g_bytes_new_static (hello_openssl, sizeof hello_openssl);
  ct = g_thread_new ("public-client", raw_client_thread, &client);
  nfltr_frame_free (agent_expect (fresh, NFLTR_FRAME_CONN_OPEN));
  g_assert_true (wait_for_flag (&client.done, 10));  /* attach-timeout, nobody attaches */
  g_thread_join (ct);
  g_assert_true (g_queue_is_empty (&old->frames));

  g_assert_true (relay_store_key_create (f->server->store, "other", &key2, NULL, &error));
  other_key = agent_connect (f);
  agent_send (other_key, hello_frame (key2, AGENT_A));
  welcome = agent_expect (other_key, NFLTR_FRAME_WELCOME);
  agent_send (other_key, bind_frame (2, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  expect_error (other_key, NFLTR_PROTO_ERR_NAME_TAKEN, "myapp");
  /* nor does another key take the agent id over in the directory */
  g_assert_cmpstr (relay_agent_get_session_id (relay_directory_lookup (f->server->directory, AGENT_A)),
                   ==, fresh->session_id);

  g_byte_array_unref (client.got);
  g_bytes_unref (client.send);
  agent_free (other_key);
  /* the newest channel goes first: the older one, still open, is found again */
  agent_free (fresh);
  LOOP_UNTIL (g_strcmp0 (relay_agent_get_session_id (relay_directory_lookup (f->server->directory, AGENT_A)),
                         old->session_id) == 0);
  agent_free (old);
  LOOP_UNTIL (relay_directory_lookup (f->server->directory, AGENT_A) == NULL);
  g_assert_cmpuint (relay_directory_size (f->server->directory), ==, 0);
}

static void
test_idle_agent_dropped (Fixture *f, gconstpointer data)
{
  Agent *a = agent_ready (f, AGENT_A);
  gint64 start = g_get_monotonic_time ();

  /* agent_idle_timeout_s is 2 in this fixture; the check runs every second */
  g_assert_true (wait_for_flag (&a->closed, 10));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC - 100000);
  agent_free (a);
}

/* §8 and §4.2, the acceptance test against the real relay: an agent that speaks
 * version 2 and a feature the relay does not know settles on version 1 and the features both
 * know; then an ignorable frame of a type nobody knows is dropped without a word, and the
 * same type without the flag is answered with ERROR(unsupported-frame) naming it — and the
 * channel carries on in both cases. */
static void
test_hello_from_v2 (Fixture *f, gconstpointer data)
{
  Agent *a = agent_connect (f);
  NfltrFrame *hello = hello_frame (f->key, AGENT_A);
  NfltrFrame *ignorable = nfltr_frame_new (0x7e);
  NfltrFrame *plain = nfltr_frame_new (0x7e);
  NfltrFrame *ping = nfltr_frame_new (NFLTR_FRAME_PING);
  g_autoptr(NfltrFrame) welcome = NULL;
  g_autoptr(NfltrFrame) pong = NULL;
  g_autoptr(NfltrFrame) err = NULL;
  const guint8 blob[] = { 1, 2, 3 };
  guint16 version = 0, code = 0;
  guint64 seq = 0;
  guint32 rid = 0;
  guint8 type = 0;
  RelayAgent *listed;

  g_free (f->server->features);
  f->server->features = g_strdup ("a2a p2p");

  nfltr_frame_set_version (hello, 2);
  nfltr_frame_set_u16 (hello, NFLTR_ATTR_PROTO_VERSION, 2);
  nfltr_frame_set_string (hello, NFLTR_ATTR_FEATURES, "p2p x-from-the-future");
  agent_send (a, hello);
  welcome = agent_expect (a, NFLTR_FRAME_WELCOME);
  g_assert_true (nfltr_frame_get_u16 (welcome, NFLTR_ATTR_PROTO_VERSION, &version));
  g_assert_cmpuint (version, ==, 1);
  g_assert_cmpuint (nfltr_frame_get_version (welcome), ==, 1);
  g_assert_cmpstr (nfltr_frame_get_string (welcome, NFLTR_ATTR_FEATURES), ==, "p2p");
  listed = relay_directory_lookup (f->server->directory, AGENT_A);
  g_assert_nonnull (listed);
  g_assert_cmpstr (relay_agent_get_features (listed), ==, "p2p");
  g_assert_cmpstr (relay_agent_get_session_id (listed), ==,
                   nfltr_frame_get_string (welcome, NFLTR_ATTR_SESSION_ID));

  /* ignorable, unknown: dropped; the PING sent after it is the next thing answered */
  nfltr_frame_set_flags (ignorable, NFLTR_FRAME_FLAG_IGNORABLE);
  nfltr_frame_set_u32 (ignorable, NFLTR_ATTR_REQUEST_ID, 11);
  nfltr_frame_set_bytes (ignorable, NFLTR_ATTR_DATA, blob, sizeof blob);
  agent_send (a, ignorable);
  nfltr_frame_set_u64 (ping, NFLTR_ATTR_SEQ, 99);
  agent_send (a, ping);
  pong = agent_expect (a, NFLTR_FRAME_PONG);
  g_assert_true (nfltr_frame_get_u64 (pong, NFLTR_ATTR_SEQ, &seq));
  g_assert_cmpuint (seq, ==, 99);

  /* not ignorable: ERROR(unsupported-frame) with frame-type and request-id */
  nfltr_frame_set_u32 (plain, NFLTR_ATTR_REQUEST_ID, 12);
  agent_send (a, plain);
  err = agent_expect (a, NFLTR_FRAME_ERROR);
  g_assert_true (nfltr_frame_get_u16 (err, NFLTR_ATTR_CODE, &code));
  g_assert_cmpuint (code, ==, NFLTR_PROTO_ERR_UNSUPPORTED_FRAME);
  g_assert_true (nfltr_frame_get_u8 (err, NFLTR_ATTR_FRAME_TYPE, &type));
  g_assert_cmpuint (type, ==, 0x7e);
  g_assert_true (nfltr_frame_get_u32 (err, NFLTR_ATTR_REQUEST_ID, &rid));
  g_assert_cmpuint (rid, ==, 12);
  g_assert_nonnull (strstr (nfltr_frame_get_string (err, NFLTR_ATTR_MESSAGE), "0x7e"));

  /* still open and working */
  agent_send (a, bind_frame (3, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_BOUND));
  g_assert_false (g_atomic_int_get (&a->closed));
  g_assert_true (g_queue_is_empty (&a->frames));
  agent_free (a);
}

/* A frame type this relay does not handle is "not handled" (§4.2 step 4): with the
 * ignorable flag it is dropped, without it answered; neither closes the channel. (Every
 * reserved track is served since issue 15 took A2A_MESSAGE, so an unknown type stands in.) */
static void
test_unserved_track (Fixture *f, gconstpointer data)
{
  Agent *a = agent_ready (f, AGENT_A);
  NfltrFrame *quiet = nfltr_frame_new (0x7d);
  NfltrFrame *loud = nfltr_frame_new (0x7d);
  NfltrFrame *ping = nfltr_frame_new (NFLTR_FRAME_PING);
  g_autoptr(NfltrFrame) err = NULL;
  guint8 type = 0;

  nfltr_frame_set_flags (quiet, NFLTR_FRAME_FLAG_IGNORABLE);
  nfltr_frame_set_string (quiet, NFLTR_ATTR_PEER_ID, "peer");
  nfltr_frame_set_bytes (quiet, NFLTR_ATTR_DATA, "x", 1);
  agent_send (a, quiet);
  nfltr_frame_set_u64 (ping, NFLTR_ATTR_SEQ, 1);
  agent_send (a, ping);
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_PONG));

  nfltr_frame_set_string (loud, NFLTR_ATTR_PEER_ID, "peer");
  nfltr_frame_set_bytes (loud, NFLTR_ATTR_DATA, "x", 1);
  agent_send (a, loud);
  err = agent_expect (a, NFLTR_FRAME_ERROR);
  g_assert_true (nfltr_frame_get_u8 (err, NFLTR_ATTR_FRAME_TYPE, &type));
  g_assert_cmpuint (type, ==, 0x7d);
  g_assert_false (nfltr_frame_has (err, NFLTR_ATTR_REQUEST_ID));
  g_assert_false (g_atomic_int_get (&a->closed));
  agent_free (a);
}

/* §3: before WELCOME nothing but HELLO, not even an ignorable frame. */
static void
test_ignorable_before_hello (Fixture *f, gconstpointer data)
{
  Agent *a = agent_connect (f);
  NfltrFrame *odd = nfltr_frame_new (0x7e);

  nfltr_frame_set_flags (odd, NFLTR_FRAME_FLAG_IGNORABLE);
  agent_send (a, odd);
  expect_error (a, NFLTR_PROTO_ERR_PROTOCOL, "expected HELLO, got an unknown frame");
  g_assert_true (wait_for_flag (&a->closed, 10));
  g_assert_cmpuint (a->close_code, ==, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR);
  agent_free (a);
}

/* §4.2 step 3: a known frame the relay never receives (BOUND), or a second HELLO, is a broken
 * peer: ERROR(protocol) and close. */
static void
test_wrong_direction (Fixture *f, gconstpointer data)
{
  Agent *a = agent_ready (f, AGENT_A);
  Agent *b = agent_ready (f, AGENT_B);
  NfltrFrame *bound = nfltr_frame_new (NFLTR_FRAME_BOUND);

  nfltr_frame_set_u32 (bound, NFLTR_ATTR_REQUEST_ID, 1);
  nfltr_frame_set_string (bound, NFLTR_ATTR_NAME, "x");
  nfltr_frame_set_string (bound, NFLTR_ATTR_HOST, "x.nfltr.localhost");
  nfltr_frame_set_string (bound, NFLTR_ATTR_URL, "https://x.nfltr.localhost");
  agent_send (a, bound);
  expect_error (a, NFLTR_PROTO_ERR_PROTOCOL, "BOUND is not valid here");
  g_assert_true (wait_for_flag (&a->closed, 10));

  agent_send (b, hello_frame (f->key, AGENT_B));
  expect_error (b, NFLTR_PROTO_ERR_PROTOCOL, "HELLO is not valid here");
  g_assert_true (wait_for_flag (&b->closed, 10));
  agent_free (a);
  agent_free (b);
}

/* §8.1 and §4.2 step 1: proto-version 0 in HELLO, and a header version of 0, are refused with
 * unsupported-version. */
static void
test_version_zero (Fixture *f, gconstpointer data)
{
  Agent *a = agent_connect (f);
  Agent *b = agent_connect (f);
  NfltrFrame *hello = hello_frame (f->key, AGENT_A);
  /* clang-format off */
  const guint8 header_v0[] = { 0, NFLTR_FRAME_PING, 0, 0, 0, 0, 0, 14,
                               0, NFLTR_ATTR_SEQ, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1 };
  /* clang-format on */

  nfltr_frame_set_u16 (hello, NFLTR_ATTR_PROTO_VERSION, 0);
  agent_send (a, hello);
  expect_error (a, NFLTR_PROTO_ERR_UNSUPPORTED_VERSION, "protocol version 0 is not supported");
  g_assert_true (wait_for_flag (&a->closed, 10));

  agent_send_raw (b, header_v0, sizeof header_v0);
  expect_error (b, NFLTR_PROTO_ERR_UNSUPPORTED_VERSION, "frame version 0");
  g_assert_true (wait_for_flag (&b->closed, 10));
  agent_free (a);
  agent_free (b);
}

/* ---- data connections ---- */

typedef struct {
  guint16     port;
  guint8      conn_id[NFLTR_PROTO_CONN_ID_SIZE];
  gsize       expect_len;     /* bytes to read before answering */
  const char *answer;
  GByteArray *got;
  gint        done;
  /* inspectable: run a TLS server with this certificate instead */
  GTlsCertificate *cert;
} DataConn;

static gpointer
data_conn_thread (gpointer user_data)
{
  DataConn *d = user_data;
  g_autoptr(GSocketConnection) conn = connect_blocking (d->port);
  GSocket *socket = g_socket_connection_get_socket (conn);
  guint8 preamble[NFLTR_PROTO_ATTACH_SIZE];
  char buf[4096];
  gssize n;

  nfltr_proto_attach_encode (d->conn_id, preamble);
  g_assert_cmpint (g_socket_send (socket, (char *) preamble, sizeof preamble, NULL, NULL), ==, sizeof preamble);
  d->got = g_byte_array_new ();
  if (d->cert != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GIOStream) tls = g_tls_server_connection_new (G_IO_STREAM (conn), d->cert, &error);

      g_assert_no_error (error);
      if (g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error))
        {
          n = g_input_stream_read (g_io_stream_get_input_stream (tls), buf, sizeof buf, NULL, NULL);
          if (n > 0)
            {
              g_byte_array_append (d->got, (guint8 *) buf, n);
              g_output_stream_write_all (g_io_stream_get_output_stream (tls), d->answer, strlen (d->answer),
                                         NULL, NULL, NULL);
            }
          g_io_stream_close (tls, NULL, NULL);
        }
    }
  else
    {
      while (d->got->len < d->expect_len &&
             (n = g_socket_receive (socket, buf, MIN (sizeof buf, d->expect_len - d->got->len), NULL, NULL)) > 0)
        g_byte_array_append (d->got, (guint8 *) buf, n);
      g_socket_send (socket, d->answer, strlen (d->answer), NULL, NULL);
      g_socket_shutdown (socket, FALSE, TRUE, NULL);
      /* the public client's EOF comes through the splice */
      while ((n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL)) > 0)
        g_byte_array_append (d->got, (guint8 *) buf, n);
    }
  g_atomic_int_set (&d->done, 1);
  return NULL;
}

static void
copy_conn_id (NfltrFrame *open, guint8 out[NFLTR_PROTO_CONN_ID_SIZE])
{
  gsize len = 0;
  const guint8 *id = nfltr_frame_get_bytes (open, NFLTR_ATTR_CONN_ID, &len);

  g_assert_cmpuint (len, ==, NFLTR_PROTO_CONN_ID_SIZE);
  memcpy (out, id, len);
}

static void
wait_sessions_idle (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while ((relay_attach_active_count (f->server->attach) > 0 ||
          relay_attach_pending_count (f->server->attach) > 0) &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (relay_attach_active_count (f->server->attach), ==, 0);
}

static void
test_passthrough (Fixture *f, gconstpointer data)
{
  Agent *a = agent_ready (f, AGENT_A);
  RawClient client = { f->port, NULL, FALSE, TRUE };
  DataConn dc = { f->port };
  g_autoptr(NfltrFrame) open = NULL;
  GThread *ct, *dt;
  guint fds_before;

  agent_send (a, bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_BOUND));
  fds_before = count_fds ();

  client.send = g_bytes_new_static (hello_openssl, sizeof hello_openssl);
  ct = g_thread_new ("public-client", raw_client_thread, &client);
  open = agent_expect (a, NFLTR_FRAME_CONN_OPEN);
  g_assert_cmpstr (nfltr_frame_get_string (open, NFLTR_ATTR_NAME), ==, "myapp");
  g_assert_true (g_str_has_prefix (nfltr_frame_get_string (open, NFLTR_ATTR_CLIENT_ADDR), "127.0.0.1:"));
  copy_conn_id (open, dc.conn_id);
  dc.expect_len = sizeof hello_openssl;
  dc.answer = "server-bytes";
  dt = g_thread_new ("data-conn", data_conn_thread, &dc);

  g_assert_true (wait_for_flag (&client.done, 10));
  g_assert_true (wait_for_flag (&dc.done, 10));
  g_thread_join (ct);
  g_thread_join (dt);
  /* The agent got the ClientHello byte for byte, then the client's EOF; the client got the
   * agent's bytes, then its EOF. */
  g_assert_cmpmem (dc.got->data, dc.got->len, hello_openssl, sizeof hello_openssl);
  g_assert_cmpmem (client.got->data, client.got->len, "server-bytes", 12);

  wait_sessions_idle (f);
  g_assert_cmpuint (count_fds (), ==, fds_before);

  /* a conn-id works once */
  {
    RawClient *again;
    guint8 preamble[NFLTR_PROTO_ATTACH_SIZE];

    nfltr_proto_attach_encode (dc.conn_id, preamble);
    again = raw_client_run (f->port, preamble, sizeof preamble, FALSE);
    g_assert_cmpuint (again->got->len, ==, 0);
    raw_client_free (again);
  }

  g_byte_array_unref (dc.got);
  g_byte_array_unref (client.got);
  g_bytes_unref (client.send);
  agent_free (a);
}

static void
test_attach_timeout_and_refuse (Fixture *f, gconstpointer data)
{
  Agent *a = agent_ready (f, AGENT_A);
  RawClient client = { f->port, NULL, FALSE, FALSE };
  g_autoptr(NfltrFrame) open = NULL;
  NfltrFrame *refuse;
  const guint8 *id;
  GThread *ct;
  gsize len;

  agent_send (a, bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_BOUND));

  /* The agent never attaches: the client is closed after --attach-timeout (1 s). */
  client.send = g_bytes_new_static (hello_openssl, sizeof hello_openssl);
  ct = g_thread_new ("public-client", raw_client_thread, &client);
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_CONN_OPEN));
  g_assert_true (wait_for_flag (&client.done, 10));
  g_thread_join (ct);
  g_assert_cmpuint (client.got->len, ==, 0);
  g_assert_cmpint (client.elapsed_ms, >=, 900);
  g_clear_pointer (&client.got, g_byte_array_unref);

  /* The agent refuses: the client is closed at once. */
  client.done = 0;
  ct = g_thread_new ("public-client", raw_client_thread, &client);
  open = agent_expect (a, NFLTR_FRAME_CONN_OPEN);
  refuse = nfltr_frame_new (NFLTR_FRAME_CONN_REFUSE);
  id = nfltr_frame_get_bytes (open, NFLTR_ATTR_CONN_ID, &len);
  nfltr_frame_set_bytes (refuse, NFLTR_ATTR_CONN_ID, id, len);
  nfltr_frame_set_string (refuse, NFLTR_ATTR_MESSAGE, "local server is down");
  agent_send (a, refuse);
  g_assert_true (wait_for_flag (&client.done, 10));
  g_thread_join (ct);
  g_assert_cmpuint (client.got->len, ==, 0);
  g_assert_cmpint (client.elapsed_ms, <, 900);
  g_assert_cmpuint (relay_attach_pending_count (f->server->attach), ==, 0);

  g_byte_array_unref (client.got);
  g_bytes_unref (client.send);
  agent_free (a);
}

/* --max-connections, second case: with every connection past the first stage, the relay stops
 * accepting, and a waiting client is served as soon as one connection closes. The exception
 * is the place owed to a waiting public client's data connection (issue 8 §3): at the limit,
 * a connection taken there that is not a data connection is refused at its first byte, and
 * the data connection is taken and paired. */
static void
test_connection_limit_pauses (Fixture *f, gconstpointer data)
{
  Agent *a = agent_ready (f, AGENT_A);   /* one connection: the control channel */
  Agent *b = agent_ready (f, AGENT_B);   /* two */
  RawClient waiting = { f->port, NULL, FALSE, TRUE };
  DataConn dc = { f->port };
  g_autoptr(NfltrFrame) open = NULL;
  g_autoptr(GSocketConnection) c3 = NULL;
  RawClient *c;
  gint waited = 0;
  char buf[16];
  GSocket *s3;
  GThread *t, *dt;
  gssize n = -1;

  agent_send (a, bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_BOUND));
  f->server->config.attach_timeout_s = 10;
  f->server->config.max_connections = 3;
  f->server->config.agent_reserve = 1;  /* public share 2: one client and its data connection */
  f->server->config.max_per_source = 10;

  /* the third: a public client waiting for its data connection */
  waiting.send = g_bytes_new_static (hello_openssl, sizeof hello_openssl);
  t = g_thread_new ("waiting-client", raw_client_thread, &waiting);
  open = agent_expect (a, NFLTR_FRAME_CONN_OPEN);

  /* In the owed place, anything but a data connection is refused at once. */
  c = raw_client_run (f->port, "GET /", 5, FALSE);
  g_assert_cmpuint (c->got->len, ==, 0);
  g_assert_cmpint (c->elapsed_ms, <, 900);
  raw_client_free (c);

  /* The data connection is taken and paired, although the relay is at its limit. */
  copy_conn_id (open, dc.conn_id);
  dc.expect_len = sizeof hello_openssl;
  dc.answer = "server-bytes";
  dt = g_thread_new ("data-conn", data_conn_thread, &dc);
  g_assert_true (wait_for_flag (&waiting.done, 10));
  g_assert_true (wait_for_flag (&dc.done, 10));
  g_thread_join (t);
  g_thread_join (dt);
  g_assert_cmpmem (dc.got->data, dc.got->len, hello_openssl, sizeof hello_openssl);
  g_assert_cmpmem (waiting.got->data, waiting.got->len, "server-bytes", 12);
  wait_sessions_idle (f);

  /* Nothing owed, every connection past the first stage: accepting pauses. */
  f->server->config.max_connections = 2;
  c3 = connect_blocking (f->port);  /* completes in the kernel's backlog */
  s3 = g_socket_connection_get_socket (c3);
  g_assert_cmpint (g_socket_send (s3, "GET /", 5, NULL, NULL), ==, 5);
  LOOP_UNTIL (f->server->accept_paused);
  g_timeout_add (300, set_flag_cb, &waited);
  wait_for_flag (&waited, 5);
  /* not accepted, so not refused either */
  g_assert_cmpint (g_socket_receive_with_blocking (s3, buf, sizeof buf, FALSE, NULL, NULL), <, 0);

  agent_free (b);
  {
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
    guint tick = g_timeout_add (5, tick_cb, NULL);

    while (g_get_monotonic_time () < deadline)
      {
        g_main_context_iteration (NULL, TRUE);
        n = g_socket_receive_with_blocking (s3, buf, sizeof buf, FALSE, NULL, NULL);
        if (n >= 0)
          break;
      }
    g_source_remove (tick);
  }
  g_assert_cmpint (n, ==, 0);  /* accepted at last, then refused as not-tls */
  g_byte_array_unref (waiting.got);
  g_bytes_unref (waiting.send);
  g_byte_array_unref (dc.got);
  agent_free (a);
}

/* --max-connections-per-agent: an agent that never attaches holds at most that many public
 * clients; the next is refused at once, and a refused one frees its place. */
static void
test_per_agent_limit (Fixture *f, gconstpointer data)
{
  Agent *a = agent_ready (f, AGENT_A);
  RawClient waiting = { f->port, NULL, FALSE, FALSE };
  RawClient *over;
  g_autoptr(NfltrFrame) open = NULL;
  NfltrFrame *refuse;
  const guint8 *id;
  GThread *t;
  gsize len;

  f->server->config.max_per_agent = 1;
  agent_send (a, bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp));
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_BOUND));
  f->server->config.attach_timeout_s = 10;

  waiting.send = g_bytes_new_static (hello_openssl, sizeof hello_openssl);
  t = g_thread_new ("waiting-client", raw_client_thread, &waiting);
  open = agent_expect (a, NFLTR_FRAME_CONN_OPEN);

  over = raw_client_run (f->port, hello_openssl, sizeof hello_openssl, FALSE);
  g_assert_cmpuint (over->got->len, ==, 0);
  g_assert_cmpint (over->elapsed_ms, <, 900);
  g_assert_true (g_queue_is_empty (&a->frames));  /* no CONN_OPEN for it */
  raw_client_free (over);

  refuse = nfltr_frame_new (NFLTR_FRAME_CONN_REFUSE);
  id = nfltr_frame_get_bytes (open, NFLTR_ATTR_CONN_ID, &len);
  nfltr_frame_set_bytes (refuse, NFLTR_ATTR_CONN_ID, id, len);
  agent_send (a, refuse);
  g_assert_true (wait_for_flag (&waiting.done, 10));
  g_thread_join (t);

  /* room again */
  waiting.done = 0;
  g_clear_pointer (&waiting.got, g_byte_array_unref);
  t = g_thread_new ("next-client", raw_client_thread, &waiting);
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_CONN_OPEN));
  agent_free (a);  /* the agent goes: its waiting client is closed */
  g_assert_true (wait_for_flag (&waiting.done, 10));
  g_thread_join (t);
  g_byte_array_unref (waiting.got);
  g_bytes_unref (waiting.send);
}

static void
run_inspectable (Fixture *f, const guint8 *bind_fp, gboolean expect_ok)
{
  Agent *a = agent_ready (f, AGENT_A);
  TlsClient client = { f->port, "insp.nfltr.localhost", "GET / HTTP/1.1\r\n\r\n" };
  DataConn dc = { f->port };
  g_autoptr(NfltrFrame) open = NULL;
  g_autofree char *both = g_strconcat (f->agent_cert_pem, f->agent_key_pem, NULL);
  g_autoptr(GError) error = NULL;
  GThread *ct, *dt;
  guint fds_before;

  agent_send (a, bind_frame (1, "insp", NFLTR_MODE_INSPECTABLE, bind_fp));
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_BOUND));
  fds_before = count_fds ();

  dc.cert = g_tls_certificate_new_from_pem (both, -1, &error);
  g_assert_no_error (error);
  dc.answer = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\ninspected";
  ct = g_thread_new ("tls-client", tls_client_thread, &client);
  open = agent_expect (a, NFLTR_FRAME_CONN_OPEN);
  copy_conn_id (open, dc.conn_id);
  dt = g_thread_new ("data-conn", data_conn_thread, &dc);
  g_assert_true (wait_for_flag (&client.done, 10));
  g_assert_true (wait_for_flag (&dc.done, 10));
  g_thread_join (ct);
  g_thread_join (dt);

  if (expect_ok)
    {
      g_autofree char *fp = fingerprint_of (client.peer_cert);

      /* The public client sees the relay's certificate, the agent sees the request. */
      g_assert_null (client.error);
      g_assert_cmpstr (fp, ==, f->server->identity->fingerprint);
      g_assert_cmpmem (dc.got->data, dc.got->len, client.request, strlen (client.request));
      g_assert_true (g_str_has_suffix ((char *) g_byte_array_append (client.got, (guint8 *) "", 1)->data, "inspected"));
    }
  else
    {
      /* The relay refuses to talk to an agent that is not the pinned one. */
      g_assert_cmpuint (dc.got->len, ==, 0);
      g_assert_cmpuint (client.got->len, ==, 0);
    }
  wait_sessions_idle (f);
  assert_fds_back_to (fds_before);
  tls_client_clear (&client);
  g_byte_array_unref (dc.got);
  g_object_unref (dc.cert);
  agent_free (a);
}

static void
test_inspectable (Fixture *f, gconstpointer data)
{
  run_inspectable (f, f->agent_fp, TRUE);
}

static void
test_inspectable_wrong_pin (Fixture *f, gconstpointer data)
{
  guint8 wrong[NFLTR_FINGERPRINT_LEN];

  memcpy (wrong, f->agent_fp, sizeof wrong);
  wrong[0] ^= 0xff;
  run_inspectable (f, wrong, FALSE);
}

static void
test_api_tunnels (Fixture *f, gconstpointer data)
{
  Agent *a = agent_ready (f, AGENT_A);
  TlsClient c = { f->port, "nfltr.localhost",
                  "GET /api/v1/tunnels/insp.nfltr.localhost HTTP/1.1\r\nHost: nfltr.localhost\r\nConnection: close\r\n\r\n" };
  TlsClient missing = { f->port, "nfltr.localhost",
                        "GET /api/v1/tunnels/gone.nfltr.localhost HTTP/1.1\r\nHost: nfltr.localhost\r\nConnection: close\r\n\r\n" };
  g_autofree char *fp = nfltr_fingerprint_format (f->agent_fp);
  g_autofree char *want_fp = g_strdup_printf ("\"fingerprint\":\"%s\"", fp);
  g_autofree char *text = NULL;
  g_autofree char *text404 = NULL;
  GThread *t;

  agent_send (a, bind_frame (1, "insp", NFLTR_MODE_INSPECTABLE, f->agent_fp));
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_BOUND));
  t = g_thread_new ("tls-client", tls_client_thread, &c);
  g_assert_true (wait_for_flag (&c.done, 10));
  g_thread_join (t);
  text = g_strndup ((char *) c.got->data, c.got->len);
  g_assert_true (g_str_has_prefix (text, "HTTP/1.1 200"));
  g_assert_nonnull (strstr (text, "\"host\":\"insp.nfltr.localhost\""));
  g_assert_nonnull (strstr (text, "\"mode\":\"inspectable\""));
  g_assert_nonnull (strstr (text, want_fp));
  g_assert_nonnull (strstr (text, "\"kind\":\"http\""));
  g_assert_nonnull (strstr (text, "\"since\":\"20"));

  t = g_thread_new ("tls-client", tls_client_thread, &missing);
  g_assert_true (wait_for_flag (&missing.done, 10));
  g_thread_join (t);
  text404 = g_strndup ((char *) missing.got->data, missing.got->len);
  g_assert_true (g_str_has_prefix (text404, "HTTP/1.1 404"));
  g_assert_nonnull (strstr (text404, "{\"error\":"));

  tls_client_clear (&c);
  tls_client_clear (&missing);
  agent_free (a);
}

/* The relay's TLS connections carry no CA database: with the default one, each connection
 * loaded the system's CA list into its credentials (megabytes apiece; tests/abuse measures). */
static void
test_tls_without_ca_database (Fixture *f, gconstpointer data)
{
  GSocketConnection *a = NULL, *b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) tls = NULL;

  tcp_pair (&a, &b);
  tls = relay_identity_new_server (f->server->identity, G_IO_STREAM (b), NULL, &error);
  g_assert_no_error (error);
  g_assert_null (g_tls_connection_get_database (G_TLS_CONNECTION (tls)));
  g_assert_true (g_tls_connection_get_certificate (G_TLS_CONNECTION (tls)) == f->server->identity->certificate);
  g_clear_object (&tls);
  g_object_unref (a);
  g_object_unref (b);
}

/* ---- the warm pool (docs/protocol.md §5.1) ---- */

/* A pooled data connection: attaches at once, reads the take header when a client takes it,
 * then acts as data_conn_thread does. */
typedef struct {
  guint16     port;
  guint8      conn_id[NFLTR_PROTO_CONN_ID_SIZE];
  gsize       expect_len;
  GByteArray *got;        /* after the take header */
  char       *client;     /* the take header's client address; NULL if never taken */
  gint       *go;         /* if set: answer only once *go is */
  gint        taken;
  gint        done;
} PoolConn;

static gpointer
pool_conn_thread (gpointer user_data)
{
  PoolConn *d = user_data;
  g_autoptr(GSocketConnection) conn = connect_blocking (d->port);
  GSocket *socket = g_socket_connection_get_socket (conn);
  guint8 preamble[NFLTR_PROTO_ATTACH_SIZE], take[NFLTR_PROTO_TAKE_MAX_SIZE];
  gsize take_len = 0;
  gssize n, done = 0;
  char buf[4096];

  g_socket_set_timeout (socket, 20);
  nfltr_proto_attach_encode (d->conn_id, preamble);
  g_assert_cmpint (g_socket_send (socket, (char *) preamble, sizeof preamble, NULL, NULL), ==, sizeof preamble);
  d->got = g_byte_array_new ();
  /* One byte at a time: nothing past the header may be taken for it. */
  while (done == 0 && (n = g_socket_receive (socket, (char *) take + take_len, 1, NULL, NULL)) > 0)
    {
      take_len += n;
      done = nfltr_proto_take_decode (take, take_len, &d->client, NULL);
      g_assert_cmpint (done, >=, 0);
    }
  if (done > 0)
    {
      g_atomic_int_set (&d->taken, 1);
      while (d->go != NULL && !g_atomic_int_get (d->go))
        g_usleep (1000);
      while (d->got->len < d->expect_len)
        {
          n = g_socket_receive (socket, buf, MIN (sizeof buf, d->expect_len - d->got->len), NULL, NULL);
          if (n <= 0)
            break;
          g_byte_array_append (d->got, (guint8 *) buf, n);
        }
      g_socket_send (socket, "pooled-bytes", 12, NULL, NULL);
      g_socket_shutdown (socket, FALSE, TRUE, NULL);
      while ((n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL)) > 0)
        ;
    }
  g_atomic_int_set (&d->done, 1);
  return NULL;
}

/* An agent that announced the warm pool and bound "myapp" with pool-max. */
static Agent *
pool_agent_ready (Fixture *f, guint16 pool_max)
{
  Agent *a = agent_connect (f);
  g_autoptr(NfltrFrame) welcome = NULL;
  NfltrFrame *hello = hello_frame (f->key, AGENT_A);
  NfltrFrame *bind = bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp);

  nfltr_frame_set_string (hello, NFLTR_ATTR_FEATURES, "p2p warm-pool");
  agent_send (a, hello);
  welcome = agent_expect (a, NFLTR_FRAME_WELCOME);
  g_assert_cmpstr (nfltr_frame_get_string (welcome, NFLTR_ATTR_FEATURES), ==, "p2p warm-pool");
  nfltr_frame_set_u16 (bind, NFLTR_ATTR_POOL_MAX, pool_max);
  agent_send (a, bind);
  nfltr_frame_free (agent_expect (a, NFLTR_FRAME_BOUND));
  return a;
}

/* The next frame is a pool grant: CONN_OPEN with pool=1 and no client address. */
static void
expect_pool_grant (Agent *a, PoolConn *pc)
{
  g_autoptr(NfltrFrame) open = agent_expect (a, NFLTR_FRAME_CONN_OPEN);
  guint8 pool = 0;

  g_assert_true (nfltr_frame_get_u8 (open, NFLTR_ATTR_POOL, &pool));
  g_assert_cmpuint (pool, ==, 1);
  g_assert_cmpstr (nfltr_frame_get_string (open, NFLTR_ATTR_NAME), ==, "myapp");
  g_assert_cmpstr (nfltr_frame_get_string (open, NFLTR_ATTR_CLIENT_ADDR), ==, "");
  copy_conn_id (open, pc->conn_id);
}

static void
wait_pool_idle (Fixture *f, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  RelayBinding *binding = relay_registry_lookup (f->server->registry, "myapp");

  g_assert_nonnull (binding);
  while (relay_attach_pool_idle (f->server->attach, binding) != n && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (relay_attach_pool_idle (f->server->attach, binding), ==, n);
}

static void
pool_conn_clear (PoolConn *pc)
{
  g_clear_pointer (&pc->got, g_byte_array_unref);
  g_clear_pointer (&pc->client, g_free);
}

/* A public client takes a pooled connection at once (no CONN_OPEN for it: the agent is only
 * asked to refill), the visitor's address comes in the take header, the pool refills; pool
 * connections are no sessions; everything is closed when the agent leaves. */
static void
test_warm_pool (Fixture *f, gconstpointer data)
{
  RawClient client = { f->port, NULL, FALSE, TRUE };
  PoolConn pc[3] = { { f->port }, { f->port }, { f->port } };
  RelayBinding *binding;
  GThread *t[3], *ct;
  guint fds_before;
  Agent *a;

  /* What the first TLS control channel makes once for the process (GLib's worker threads'
   * eventfds) is not the pool's. */
  agent_free (agent_ready (f, AGENT_B));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  fds_before = count_fds ();
  a = pool_agent_ready (f, 4);

  /* Two slots to begin with (§5.1). */
  for (guint i = 0; i < 2; i++)
    {
      expect_pool_grant (a, &pc[i]);
      pc[i].expect_len = sizeof hello_openssl;
      t[i] = g_thread_new ("pool-conn", pool_conn_thread, &pc[i]);
    }
  wait_pool_idle (f, 2);
  g_assert_true (g_queue_is_empty (&a->frames));
  binding = relay_registry_lookup (f->server->registry, "myapp");
  /* Pool connections are no visitors. */
  g_assert_cmpuint (relay_attach_active_count (f->server->attach), ==, 0);
  g_assert_cmpuint (binding->conns_total, ==, 0);

  client.send = g_bytes_new_static (hello_openssl, sizeof hello_openssl);
  ct = g_thread_new ("public-client", raw_client_thread, &client);
  /* The only frame is the refill's grant: the client did not wait for a CONN_OPEN. */
  expect_pool_grant (a, &pc[2]);
  t[2] = g_thread_new ("pool-conn", pool_conn_thread, &pc[2]);
  g_assert_true (wait_for_flag (&client.done, 10));
  g_thread_join (ct);
  g_assert_cmpmem (client.got->data, client.got->len, "pooled-bytes", 12);
  /* Exactly one of the two pooled connections was taken, and it got the client's address
   * and its ClientHello byte for byte. */
  {
    PoolConn *taken = NULL;

    for (guint i = 0; i < 2; i++)
      if (g_atomic_int_get (&pc[i].done))
        taken = &pc[i];
    if (taken == NULL)
      {
        /* the thread may still be reading the client's EOF */
        g_assert_true (wait_for_flag (&pc[1].done, 10) || wait_for_flag (&pc[0].done, 10));
        taken = g_atomic_int_get (&pc[1].done) ? &pc[1] : &pc[0];
      }
    g_assert_nonnull (taken->client);
    g_assert_true (g_str_has_prefix (taken->client, "127.0.0.1:"));
    g_assert_cmpmem (taken->got->data, taken->got->len, hello_openssl, sizeof hello_openssl);
  }
  wait_sessions_idle (f);
  g_assert_cmpuint (binding->conns_total, ==, 1);
  wait_pool_idle (f, 2);   /* refilled */
  g_assert_true (g_queue_is_empty (&a->frames));

  /* The agent leaves: its pooled connections are closed, and nothing is left open. */
  agent_free (a);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (wait_for_flag (&pc[i].done, 10));
      g_thread_join (t[i]);
    }
  {
    /* The relay sees the channel's end and closes the slots as its main loop runs. */
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    while (count_fds () != fds_before && g_get_monotonic_time () < deadline)
      {
        g_main_context_iteration (NULL, FALSE);
        g_usleep (1000);
      }
  }
  g_assert_cmpuint (count_fds (), ==, fds_before);
  for (guint i = 0; i < 3; i++)
    pool_conn_clear (&pc[i]);
  g_byte_array_unref (client.got);
  g_bytes_unref (client.send);
}

/* Both slots taken and two of the four clients finished (refused). */
static gboolean
burst_settled (PoolConn pc[2], RawClient clients[4])
{
  guint done = 0;

  for (guint i = 0; i < 4; i++)
    done += g_atomic_int_get (&clients[i].done);
  return g_atomic_int_get (&pc[0].taken) && g_atomic_int_get (&pc[1].taken) && done >= 2;
}

/* The pool stays within --max-connections-per-agent with the agent's visitors: a burst of
 * clients cannot make the relay grant more slots than the agent may hold. An agent that did
 * not announce the feature gets no grant (old agents still work). */
static void
test_warm_pool_caps (Fixture *f, gconstpointer data)
{
  Agent *a;
  PoolConn pc[2] = { { f->port }, { f->port } };
  RawClient clients[4];
  GThread *t[2], *ct[4];
  gint go = 0;
  guint served = 0, refused = 0;

  f->server->config.max_per_agent = 2;
  a = pool_agent_ready (f, 16);
  for (guint i = 0; i < 2; i++)
    {
      expect_pool_grant (a, &pc[i]);
      pc[i].expect_len = sizeof hello_openssl;
      pc[i].go = &go;
      t[i] = g_thread_new ("pool-conn", pool_conn_thread, &pc[i]);
    }
  wait_pool_idle (f, 2);

  /* Four clients at once: two take the slots; the agent's cap (2) leaves no room for more
   * slots or for the other two, which are refused (agent-limit) — and no CONN_OPEN of any
   * kind goes out meanwhile. */
  for (guint i = 0; i < 4; i++)
    {
      clients[i] = (RawClient) { f->port, g_bytes_new_static (hello_openssl, sizeof hello_openssl), FALSE, TRUE };
      ct[i] = g_thread_new ("public-client", raw_client_thread, &clients[i]);
    }
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    while (!burst_settled (pc, clients) && g_get_monotonic_time () < deadline)
      {
        g_main_context_iteration (NULL, FALSE);
        g_usleep (1000);
      }
  }
  g_assert_true (g_atomic_int_get (&pc[0].taken) && g_atomic_int_get (&pc[1].taken));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (g_queue_is_empty (&a->frames));
  g_atomic_int_set (&go, 1);
  for (guint i = 0; i < 4; i++)
    {
      g_assert_true (wait_for_flag (&clients[i].done, 10));
      g_thread_join (ct[i]);
      if (clients[i].got->len == 12 && memcmp (clients[i].got->data, "pooled-bytes", 12) == 0)
        served++;
      else if (clients[i].got->len == 0)
        refused++;
      g_byte_array_unref (clients[i].got);
      g_bytes_unref (clients[i].send);
    }
  g_assert_cmpuint (served, ==, 2);
  g_assert_cmpuint (refused, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_true (wait_for_flag (&pc[i].done, 10));
      g_thread_join (t[i]);
    }
  wait_sessions_idle (f);
  for (guint i = 0; i < 2; i++)
    pool_conn_clear (&pc[i]);
  agent_free (a);

  /* An agent without the feature: BIND's pool-max is ignored. */
  {
    Agent *old = agent_ready (f, AGENT_B);
    NfltrFrame *bind = bind_frame (1, "myapp", NFLTR_MODE_VERIFIED, f->agent_fp);

    nfltr_frame_set_u16 (bind, NFLTR_ATTR_POOL_MAX, 4);
    agent_send (old, bind);
    nfltr_frame_free (agent_expect (old, NFLTR_FRAME_BOUND));
    /* A pool is filled as BIND is handled; a PING's PONG comes after anything it sent, so the
     * next frame being the PONG shows nothing was asked of this agent. */
    {
      NfltrFrame *ping = nfltr_frame_new (NFLTR_FRAME_PING);

      nfltr_frame_set_u64 (ping, NFLTR_ATTR_SEQ, 41);
      agent_send (old, ping);
    }
    nfltr_frame_free (agent_expect (old, NFLTR_FRAME_PONG));
    g_assert_true (g_queue_is_empty (&old->frames));
    agent_free (old);
  }
}

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  ADD ("/relay/refuse/not-tls", test_not_tls);
  ADD ("/relay/refuse/unknown-name-bytewise", test_unknown_name_bytewise);
  ADD ("/relay/refuse/no-sni", test_no_sni);
  ADD ("/relay/refuse/too-big-and-malformed", test_too_big_and_malformed);
  ADD ("/relay/refuse/slow-hello", test_slow_hello_times_out);
  ADD ("/relay/refuse/bad-attach", test_bad_attach);
  ADD ("/relay/limits/max-connections-evicts", test_connection_limit_evicts_first_stage);
  ADD ("/relay/limits/max-connections-pauses", test_connection_limit_pauses);
  ADD ("/relay/limits/per-source", test_per_source_limit);
  ADD ("/relay/limits/per-agent", test_per_agent_limit);
  ADD ("/relay/own-name/health", test_own_name);
  ADD ("/relay/own-name/tls-without-ca-database", test_tls_without_ca_database);
  ADD ("/relay/agent/auth-failed", test_auth_failed);
  ADD ("/relay/agent/revoked-key", test_revoked_key);
  ADD ("/relay/agent/frame-before-hello", test_frame_before_hello);
  ADD ("/relay/agent/bind-and-names", test_bind_and_names);
  ADD ("/relay/agent/reconnect-takes-name-back", test_reconnect_takes_name_back);
  ADD ("/relay/agent/idle-dropped", test_idle_agent_dropped);
  ADD ("/relay/agent/hello-from-v2", test_hello_from_v2);
  ADD ("/relay/agent/unserved-track", test_unserved_track);
  ADD ("/relay/agent/ignorable-before-hello", test_ignorable_before_hello);
  ADD ("/relay/agent/wrong-direction", test_wrong_direction);
  ADD ("/relay/agent/version-zero", test_version_zero);
  ADD ("/relay/passthrough/verified", test_passthrough);
  ADD ("/relay/passthrough/attach-timeout-and-refuse", test_attach_timeout_and_refuse);
  ADD ("/relay/inspectable/proxy", test_inspectable);
  ADD ("/relay/inspectable/wrong-pin", test_inspectable_wrong_pin);
  ADD ("/relay/api/tunnels", test_api_tunnels);
  ADD ("/relay/passthrough/warm-pool", test_warm_pool);
  ADD ("/relay/passthrough/warm-pool-caps", test_warm_pool_caps);
  return g_test_run ();
}
