/* relay-demux.c — the first stage of every public connection (docs/protocol.md §1–§2, §5).
 *
 *   FIRST_BYTE ──0x16──► HELLO ──OK──► route by SNI (own name / passthrough / inspectable)
 *        │                 └──bad/too big──► alert decode_error, close
 *        ├──'N'──► PREAMBLE (40 bytes) ──► pair with a waiting client
 *        └──else──► close (not-tls)
 *
 * One timer bounds the whole stage (--handshake-timeout, from accept), one buffer bounds its
 * memory (what the ClientHello parser may need for --hello-max-bytes). Reads are
 * non-blocking; nothing here waits. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-demux.h"
#include "relay-server.h"
#include "tunnels/relay-registry.h"
#include "passthrough/relay-attach.h"
#include "tls/relay-own-name.h"
#include "nfltr-clienthello.h"
#include "nfltr-proto.h"

#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#define READ_CHUNK 4096
/* After refusing, read and drop what the client still sends for this long before closing,
 * so our alert is not lost to a TCP reset (haproxy's "lingering close"). */
#define LINGER_SECONDS 2
#define LINGER_MAX_BYTES (64 * 1024)

typedef enum {
  DEMUX_FIRST_BYTE,
  DEMUX_HELLO,
  DEMUX_PREAMBLE,
} DemuxState;

typedef struct {
  RelayServer       *server;
  GList              link;     /* in server->first_stage */
  GSocketConnection *conn;
  GSocket           *socket;
  char              *peer;
  const char        *reserve_only;  /* taken in a place owed to a data connection: the limit
                                     * it is over (a refusal reason), else NULL */
  DemuxState         state;
  GByteArray        *buf;      /* every byte read: the ClientHello is replayed to its server */
  gsize              buf_max;
  NfltrHelloReader  *hello;    /* fed each new byte of buf once */
  gsize              hello_fed;
  GSource           *read_source;
  guint              timeout_id;
} Demux;

typedef struct {
  GSocketConnection *conn;
  GSource           *read_source;
  guint              timeout_id;
  gsize              dropped;
} Linger;

static void
demux_free (Demux *d)
{
  g_queue_unlink (&d->server->first_stage, &d->link);
  if (d->read_source != NULL)
    {
      g_source_destroy (d->read_source);
      g_source_unref (d->read_source);
    }
  g_clear_handle_id (&d->timeout_id, g_source_remove);
  g_byte_array_unref (d->buf);
  g_clear_pointer (&d->hello, nfltr_hello_reader_free);
  g_clear_object (&d->conn);
  g_free (d->peer);
  g_free (d);
}

static void
linger_free (Linger *l)
{
  if (l->read_source != NULL)
    {
      g_source_destroy (l->read_source);
      g_source_unref (l->read_source);
    }
  g_clear_handle_id (&l->timeout_id, g_source_remove);
  g_io_stream_close (G_IO_STREAM (l->conn), NULL, NULL);
  g_object_unref (l->conn);
  g_free (l);
}

static gboolean
linger_timeout_cb (gpointer user_data)
{
  Linger *l = user_data;

  l->timeout_id = 0;
  linger_free (l);
  return G_SOURCE_REMOVE;
}

static gboolean
linger_read_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Linger *l = user_data;
  char scratch[READ_CHUNK];
  gssize n = g_socket_receive_with_blocking (socket, scratch, sizeof scratch, FALSE, NULL, NULL);

  if (n > 0 && (l->dropped += n) < LINGER_MAX_BYTES)
    return G_SOURCE_CONTINUE;
  if (n < 0 && (condition & G_IO_IN) && !(condition & (G_IO_HUP | G_IO_ERR)))
    return G_SOURCE_CONTINUE;  /* spurious wake-up */
  g_source_unref (l->read_source);
  l->read_source = NULL;
  linger_free (l);
  return G_SOURCE_REMOVE;
}

/* Sends an optional alert, shuts our side down and drains the peer briefly, then closes. */
static void
close_with_alert (GSocketConnection *conn, int alert)
{
  GSocket *socket = g_socket_connection_get_socket (conn);
  Linger *l = g_new0 (Linger, 1);

  if (alert >= 0)
    {
      guint8 record[7];

      nfltr_tls_alert_record (alert, record);
      /* 7 bytes into an empty send buffer: never would-block in practice, never waits. */
      g_socket_send_with_blocking (socket, (const char *) record, sizeof record, FALSE, NULL, NULL);
    }
  g_socket_shutdown (socket, FALSE, TRUE, NULL);
  l->conn = g_object_ref (conn);
  l->read_source = g_socket_create_source (socket, G_IO_IN, NULL);
  g_source_set_callback (l->read_source, G_SOURCE_FUNC (linger_read_cb), l, NULL);
  g_source_attach (l->read_source, NULL);
  l->timeout_id = g_timeout_add_seconds (LINGER_SECONDS, linger_timeout_cb, l);
}

static void
refuse (Demux *d, int alert, const char *reason, const char *detail)
{
  relay_log_refusal (d->peer, reason, "%s", detail ? detail : "");
  close_with_alert (d->conn, alert);
  demux_free (d);
}

/* "<label>.<domain>" → label, else NULL. */
static char *
label_of (const char *sni, const char *domain)
{
  gsize sni_len = strlen (sni), dom_len = strlen (domain);

  if (sni_len <= dom_len + 1 || sni[sni_len - dom_len - 1] != '.' ||
      strcmp (sni + sni_len - dom_len, domain) != 0)
    return NULL;
  if (memchr (sni, '.', sni_len - dom_len - 1) != NULL)
    return NULL;  /* deeper names are not ours to route */
  return g_strndup (sni, sni_len - dom_len - 1);
}

static void
route_hello (Demux *d, const char *sni)
{
  RelayServer *server = d->server;
  g_autoptr(GBytes) hello = g_bytes_new (d->buf->data, d->buf->len);
  g_autofree char *label = NULL;
  g_autofree char *detail = NULL;
  RelayBinding *binding;

  if (sni == NULL)
    {
      refuse (d, NFLTR_TLS_ALERT_UNRECOGNIZED_NAME, "no-sni", "ClientHello has no server_name");
      return;
    }
  if (strcmp (sni, server->config.domain) == 0)
    {
      g_debug ("peer=%s sni=%s: relay's own name", d->peer, sni);
      relay_server_conn_set_class (server, d->conn, RELAY_CONN_OWN_NAME);
      relay_own_name_accept (server, d->conn, hello, d->peer);
      demux_free (d);
      return;
    }
  label = label_of (sni, server->config.domain);
  binding = label ? relay_registry_lookup (server->registry, label) : NULL;
  if (binding == NULL || binding->agent == NULL)
    {
      detail = g_strdup_printf ("sni=%s", sni);
      refuse (d, NFLTR_TLS_ALERT_UNRECOGNIZED_NAME, "unknown-name", detail);
      return;
    }
  if (relay_attach_agent_load (server->attach, binding->agent) >= server->config.max_per_agent)
    {
      detail = g_strdup_printf ("host=%s the agent already has %u public connections "
                                "(--max-connections-per-agent)", binding->host,
                                server->config.max_per_agent);
      refuse (d, -1, "agent-limit", detail);
      return;
    }
  if (!relay_server_public_room (server))
    {
      detail = g_strdup_printf ("host=%s public clients already take %u of --max-connections %u "
                                "(the rest is kept for agents)", binding->host,
                                relay_config_public_share (&server->config), server->config.max_connections);
      refuse (d, -1, "public-share", detail);
      return;
    }
  g_debug ("peer=%s sni=%s: tunnel (%s)", d->peer, sni, relay_binding_mode_to_string (binding));
  relay_server_conn_set_class (server, d->conn, RELAY_CONN_TUNNEL_CLIENT);
  relay_attach_open (server->attach, binding, d->conn, hello, d->peer);
  demux_free (d);
}

/* Returns FALSE once d has been handed on or freed. */
static gboolean
advance (Demux *d)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sni = NULL;
  NfltrHelloStatus status;

  switch (d->state)
    {
    case DEMUX_FIRST_BYTE:
      if (d->reserve_only != NULL && d->buf->data[0] != NFLTR_PROTO_ATTACH_MAGIC[0])
        {
          refuse (d, -1, d->reserve_only, "over the limit, the places left are owed to agents' "
                  "data connections");
          return FALSE;
        }
      if (d->buf->data[0] == NFLTR_PROTO_ATTACH_MAGIC[0])
        {
          d->state = DEMUX_PREAMBLE;
          d->buf_max = NFLTR_PROTO_ATTACH_SIZE;
          return TRUE;
        }
      if (d->buf->data[0] != 0x16)
        {
          g_autofree char *detail = g_strdup_printf ("first byte 0x%02x", d->buf->data[0]);
          refuse (d, -1, "not-tls", detail);
          return FALSE;
        }
      d->state = DEMUX_HELLO;
      /* Every record carries at least one byte of the message: this bounds what the parser
       * can ask for (nfltr-clienthello.h). */
      d->buf_max = 6 * (gsize) d->server->config.hello_max_bytes + 5;
      d->hello = nfltr_hello_reader_new (d->server->config.hello_max_bytes);
      G_GNUC_FALLTHROUGH;

    case DEMUX_HELLO:
      /* Only the bytes this read added: the reader keeps its place. */
      status = nfltr_hello_reader_feed (d->hello, d->buf->data + d->hello_fed,
                                        d->buf->len - d->hello_fed, &sni, NULL, &error);
      d->hello_fed = d->buf->len;
      switch (status)
        {
        case NFLTR_HELLO_NEED_MORE:
          return TRUE;
        case NFLTR_HELLO_OK:
          route_hello (d, sni);
          return FALSE;
        case NFLTR_HELLO_TOO_BIG:
          refuse (d, NFLTR_TLS_ALERT_DECODE_ERROR, "hello-too-big", error->message);
          return FALSE;
        case NFLTR_HELLO_NOT_TLS:
          refuse (d, -1, "not-tls", error->message);
          return FALSE;
        case NFLTR_HELLO_MALFORMED:
        default:
          refuse (d, NFLTR_TLS_ALERT_DECODE_ERROR, "bad-hello", error ? error->message : NULL);
          return FALSE;
        }

    case DEMUX_PREAMBLE:
      {
        guint8 conn_id[NFLTR_PROTO_CONN_ID_SIZE];
        RelayServer *server = d->server;
        GSocketConnection *conn;
        g_autofree char *peer = NULL;

        if (d->buf->len < NFLTR_PROTO_ATTACH_SIZE)
          return TRUE;
        if (!nfltr_proto_attach_decode (d->buf->data, d->buf->len, conn_id, &error))
          {
            refuse (d, -1, "bad-attach", error->message);
            return FALSE;
          }
        conn = g_object_ref (d->conn);
        peer = g_strdup (d->peer);
        demux_free (d);
        relay_attach_data_connection (server->attach, conn, conn_id, peer);
        g_object_unref (conn);
        return FALSE;
      }

    default:
      g_assert_not_reached ();
    }
}

static gboolean
read_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Demux *d = user_data;
  g_autoptr(GError) error = NULL;
  gsize want;
  gssize n;
  guint old_len = d->buf->len;

  /* Never read past what this stage may consume: the bytes after a data preamble belong to
   * the agent's TLS stream, and the first byte decides how much comes next. */
  want = d->state == DEMUX_FIRST_BYTE ? 1 : MIN (READ_CHUNK, d->buf_max - d->buf->len);
  if (d->state == DEMUX_PREAMBLE)
    want = NFLTR_PROTO_ATTACH_SIZE - d->buf->len;
  g_byte_array_set_size (d->buf, old_len + want);
  n = g_socket_receive_with_blocking (socket, (char *) d->buf->data + old_len, want, FALSE, NULL, &error);
  if (n < 0)
    {
      g_byte_array_set_size (d->buf, old_len);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
      /* Like a clean close before the first byte, a reset then is no refusal: a port scan or
       * a connection flood must not write a log line per connection. */
      if (d->buf->len > 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        relay_log_refusal (d->peer, "read-error", "%s", error->message);
      else
        g_debug ("peer=%s reset before its first byte", d->peer);
      g_io_stream_close (G_IO_STREAM (d->conn), NULL, NULL);
      g_clear_pointer (&d->read_source, g_source_unref);
      demux_free (d);
      return G_SOURCE_REMOVE;
    }
  g_byte_array_set_size (d->buf, old_len + n);
  if (n == 0)
    {
      g_autofree char *detail = g_strdup_printf ("closed after %u bytes", d->buf->len);
      if (d->buf->len > 0)
        relay_log_refusal (d->peer, "eof", "%s", detail);
      g_io_stream_close (G_IO_STREAM (d->conn), NULL, NULL);
      g_clear_pointer (&d->read_source, g_source_unref);
      demux_free (d);
      return G_SOURCE_REMOVE;
    }

  /* advance() frees d (and destroys this source) once the connection is handed on. */
  if (!advance (d))
    return G_SOURCE_REMOVE;
  if (d->buf->len >= d->buf_max && d->state == DEMUX_HELLO)
    {
      /* Unreachable by the parser's contract; kept as a hard stop on memory. */
      refuse (d, NFLTR_TLS_ALERT_DECODE_ERROR, "hello-too-big", "buffer limit reached");
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  Demux *d = user_data;
  g_autofree char *detail = g_strdup_printf ("%u bytes in %u s", d->buf->len,
                                             d->server->config.handshake_timeout_s);

  d->timeout_id = 0;
  refuse (d, -1, d->state == DEMUX_PREAMBLE ? "preamble-timeout" : "hello-timeout", detail);
  return G_SOURCE_REMOVE;
}

static char *
source_of (GSocketAddress *remote)
{
  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return g_strdup ("unknown");
  return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
}

void
relay_demux_accept (RelayServer *server, GSocketConnection *conn, gboolean reserve_only)
{
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (conn, NULL);
  g_autofree char *source = source_of (remote);
  guint per_source = relay_config_per_source (&server->config);
  Demux *d;

  guint count = relay_server_source_count (server, source);
  const char *d_reserve = reserve_only ? "max-connections" : NULL;

  /* One address may hold only so many connections, in every stage (the server counts this one
   * already): a slowloris, or idle handshake-complete clients, from one host fill its own
   * quota, not the relay. Refused at once, unless an agent there owes data connections to
   * waiting clients: then as many may come past the cap, and must be data connections. */
  if (count > per_source && count - per_source <= relay_attach_owed_to_source (server->attach, source))
    d_reserve = "source-limit";
  else if (count > per_source)
    {
      g_autofree char *peer = remote ? relay_format_address (remote) : g_strdup ("unknown");

      relay_log_refusal (peer, "source-limit", "%u connections from %s are open "
                         "(--max-connections-per-source)", per_source, source);
      g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
      return;
    }

  d = g_new0 (Demux, 1);
  d->server = server;
  d->link.data = d;
  g_queue_push_tail_link (&server->first_stage, &d->link);
  d->reserve_only = d_reserve;
  d->conn = g_object_ref (conn);
  d->socket = g_socket_connection_get_socket (conn);
  /* The relay forwards what it reads as it reads it: TLS peers already send whole records,
   * and Nagle would hold a record's tail for the peer's delayed ACK. */
  g_socket_set_option (d->socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  d->peer = remote ? relay_format_address (remote) : g_strdup ("unknown");
  d->state = DEMUX_FIRST_BYTE;
  d->buf = g_byte_array_new ();
  d->buf_max = 1;
  d->read_source = g_socket_create_source (d->socket, G_IO_IN, NULL);
  g_source_set_callback (d->read_source, G_SOURCE_FUNC (read_cb), d, NULL);
  g_source_attach (d->read_source, NULL);
  d->timeout_id = g_timeout_add (server->config.handshake_timeout_s * 1000, timeout_cb, d);
}

/* How far down the first stage eviction looks for a source with more than one connection. */
#define EVICT_SCAN 64

/* TRUE when peers a and b ("ADDR:PORT", "[ADDR]:PORT") are the same address. */
static gboolean
same_source (const char *a, const char *b)
{
  const char *ca = strrchr (a, ':');
  const char *cb = strrchr (b, ':');

  return ca != NULL && cb != NULL && ca - a == cb - b && strncmp (a, b, ca - a) == 0;
}

/* The connection to drop when room is needed: the oldest first-stage connection whose source
 * has another one waiting, so that a flood from a few addresses pays for itself and a lone
 * client that has just connected is not the one dropped (issue 8 §3); the oldest of all
 * when every waiting connection is alone from its address. */
static GList *
eviction_victim (RelayServer *server)
{
  guint i = 0;

  for (GList *l = g_queue_peek_head_link (&server->first_stage); l != NULL && i < EVICT_SCAN;
       l = l->next, i++)
    {
      Demux *d = l->data;
      guint j = 0;

      for (GList *m = g_queue_peek_head_link (&server->first_stage); m != NULL && j < EVICT_SCAN;
           m = m->next, j++)
        if (m != l && same_source (d->peer, ((Demux *) m->data)->peer))
          return l;
    }
  return g_queue_peek_head_link (&server->first_stage);
}

gboolean
relay_demux_evict_oldest (RelayServer *server, const char *reason)
{
  GList *victim = eviction_victim (server);
  Demux *d;

  if (victim == NULL)
    return FALSE;
  d = victim->data;
  relay_log_refusal (d->peer, reason, "dropped to make room: the connection that waited longest "
                     "for its ClientHello from an address with several waiting (%u bytes in)",
                     d->buf->len);
  g_io_stream_close (G_IO_STREAM (d->conn), NULL, NULL);
  demux_free (d);
  return TRUE;
}

void
relay_demux_close_all (RelayServer *server)
{
  GList *link;

  while ((link = g_queue_peek_head_link (&server->first_stage)) != NULL)
    {
      Demux *d = link->data;
      g_io_stream_close (G_IO_STREAM (d->conn), NULL, NULL);
      demux_free (d);
    }
}
