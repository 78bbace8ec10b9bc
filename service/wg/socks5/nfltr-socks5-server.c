/* nfltr-socks5-server.c — see the header. One Client per accepted connection walks
 * greeting → (RFC 1929) → request → a netstack flow (CONNECT) or a UDP relay (UDP ASSOCIATE). */
#define G_LOG_DOMAIN "nfltr-socks5"

#include "nfltr-socks5-server.h"

#include <sodium.h>
#include <string.h>

#include "nfltr-flow-bridge.h"
#include "nfltr-socks5-proto.h"

/* A client that has not finished its request by then is dropped. */
#define SOCKS5_HANDSHAKE_TIMEOUT_S 30
/* How long a CONNECT waits for the network before it answers "host unreachable". */
#define SOCKS5_CONNECT_TIMEOUT_S 30
/* Nothing a client sends before its request is complete can be longer: the request with a
 * 255-byte name is 262 bytes, the RFC 1929 message 513. */
#define SOCKS5_HANDSHAKE_MAX 1024

typedef enum {
  CLIENT_GREETING,
  CLIENT_AUTH,
  CLIENT_REQUEST,
  CLIENT_CONNECTING,
  CLIENT_BRIDGED,
  CLIENT_UDP,
} ClientState;

struct _NfltrSocks5Server {
  NfltrNetstack *netstack;
  char *username;
  char *password;
  GSocketService *service;
  GHashTable *clients; /* Client* set, freed with the server */
};

typedef struct {
  NfltrSocks5Server *server;
  GSocketConnection *connection;
  GSocket *socket;
  ClientState state;
  GByteArray *in;
  guint8 read_buf[512];
  GCancellable *cancellable;
  GSource *timeout;
  NfltrSocks5Request request;
  NfltrTcpFlow *flow;
  NfltrFlowBridge *bridge;
  /* UDP ASSOCIATE */
  GSocket *udp;
  GSource *udp_source;
  GSocketAddress *udp_client; /* where replies go: the first sender from the client's IP */
  GInetAddress *client_ip;
  NfltrUdpSocket *udp_flow;
} Client;

static void client_read (Client *client);

static void
client_free (gpointer data)
{
  Client *client = data;

  g_cancellable_cancel (client->cancellable);
  if (client->timeout != NULL)
    g_source_destroy (client->timeout);
  g_clear_pointer (&client->timeout, g_source_unref);
  if (client->udp_source != NULL)
    g_source_destroy (client->udp_source);
  g_clear_pointer (&client->udp_source, g_source_unref);
  g_clear_pointer (&client->udp_flow, nfltr_udp_socket_free);
  g_clear_object (&client->udp);
  g_clear_object (&client->udp_client);
  g_clear_object (&client->client_ip);
  if (client->bridge != NULL)
    nfltr_flow_bridge_free (client->bridge); /* closes the connection too */
  else
    {
      g_clear_pointer (&client->flow, nfltr_tcp_flow_abort);
      g_io_stream_close (G_IO_STREAM (client->connection), NULL, NULL);
    }
  g_object_unref (client->connection);
  g_clear_object (&client->cancellable);
  g_byte_array_unref (client->in);
  g_free (client);
}

static void
client_drop (Client *client)
{
  g_hash_table_remove (client->server->clients, client);
}

/* Replies are at most 10 bytes into a fresh connection's empty send buffer: one non-blocking
 * send takes them whole, or the client is gone. */
static gboolean
client_send (Client *client,
             const guint8 *data,
             gsize len)
{
  return g_socket_send (client->socket, (const char *) data, len, NULL, NULL) == (gssize) len;
}

static void
client_reply_and_drop (Client *client,
                       NfltrSocks5Reply reply)
{
  guint8 out[10];

  client_send (client, out, nfltr_socks5_build_reply (out, reply, 0, 0));
  client_drop (client);
}

static NfltrSocks5Reply
reply_for (const GError *error)
{
  if (error->domain != NFLTR_NETSTACK_ERROR)
    return NFLTR_SOCKS5_REP_GENERAL_FAILURE;
  switch ((NfltrNetstackError) error->code)
    {
      case NFLTR_NETSTACK_ERROR_REFUSED:
      case NFLTR_NETSTACK_ERROR_RESET: return NFLTR_SOCKS5_REP_CONNECTION_REFUSED;
      case NFLTR_NETSTACK_ERROR_PROHIBITED: return NFLTR_SOCKS5_REP_NOT_ALLOWED;
      case NFLTR_NETSTACK_ERROR_NET_UNREACHABLE: return NFLTR_SOCKS5_REP_NETWORK_UNREACHABLE;
      case NFLTR_NETSTACK_ERROR_HOST_UNREACHABLE:
      case NFLTR_NETSTACK_ERROR_NOT_FOUND: return NFLTR_SOCKS5_REP_HOST_UNREACHABLE;
      case NFLTR_NETSTACK_ERROR_FAILED:
      default: return NFLTR_SOCKS5_REP_GENERAL_FAILURE;
    }
}

static gboolean
client_timeout_cb (gpointer user_data)
{
  Client *client = user_data;

  g_clear_pointer (&client->timeout, g_source_unref);
  client_reply_and_drop (client, client->state == CLIENT_CONNECTING ? NFLTR_SOCKS5_REP_HOST_UNREACHABLE
                                                                    : NFLTR_SOCKS5_REP_GENERAL_FAILURE);
  return G_SOURCE_REMOVE;
}

static void
client_set_timeout (Client *client,
                    guint seconds)
{
  if (client->timeout != NULL)
    g_source_destroy (client->timeout);
  g_clear_pointer (&client->timeout, g_source_unref);
  if (seconds == 0)
    return;
  client->timeout = g_timeout_source_new_seconds (seconds);
  g_source_set_callback (client->timeout, client_timeout_cb, client, NULL);
  g_source_attach (client->timeout, g_main_context_get_thread_default ());
}

/* ---- CONNECT ---- */

static void
bridge_done (NfltrFlowBridge *bridge,
             const GError *error,
             gpointer user_data)
{
  Client *client = user_data;

  if (error != NULL)
    g_debug ("SOCKS5 flow ended: %s", error->message);
  client_drop (client);
}

static void
flow_connected (NfltrTcpFlow *flow,
                const GError *error,
                gpointer user_data)
{
  Client *client = user_data;
  const NfltrFlowId *id = nfltr_tcp_flow_get_id (flow);
  guint8 out[10];

  if (error != NULL)
    {
      g_debug ("SOCKS5 CONNECT failed: %s", error->message);
      client_reply_and_drop (client, reply_for (error));
      return;
    }
  client_set_timeout (client, 0);
  if (!client_send (client, out, nfltr_socks5_build_reply (out, NFLTR_SOCKS5_REP_SUCCEEDED, id->src_addr, id->src_port)))
    {
      client_drop (client);
      return;
    }
  client->state = CLIENT_BRIDGED;
  /* bytes the client sent behind its request go first */
  client->bridge = nfltr_flow_bridge_new (client->connection, g_steal_pointer (&client->flow),
                                          client->in->data, client->in->len, bridge_done, client);
  g_byte_array_set_size (client->in, 0);
}

static const NfltrTcpFlowFuncs connect_funcs = {
  .connected = flow_connected,
};

static void
client_connect (Client *client,
                guint32 address)
{
  g_autoptr (GError) error = NULL;

  client->flow = nfltr_netstack_tcp_connect (client->server->netstack, address, client->request.port,
                                             &connect_funcs, client, &error);
  if (client->flow == NULL)
    client_reply_and_drop (client, reply_for (error));
}

/* ---- UDP ASSOCIATE (RFC 1928 §7) ---- */

static void
udp_from_network (NfltrNetstack *netstack,
                  const NfltrFlowId *id,
                  const guint8 *data,
                  gsize len,
                  gpointer user_data)
{
  Client *client = user_data;
  g_autofree guint8 *out = NULL;
  gsize hlen;

  if (client->udp_client == NULL)
    return;
  out = g_malloc (10 + len);
  hlen = nfltr_socks5_build_udp_header (out, id->src_addr, id->src_port);
  memcpy (out + hlen, data, len);
  g_socket_send_to (client->udp, client->udp_client, (const char *) out, hlen + len, NULL, NULL);
}

typedef struct {
  Client *client;
  GBytes *payload;
  guint16 port;
} UdpResolve;

static void
udp_resolved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  UdpResolve *r = user_data;
  g_autoptr (GError) error = NULL;
  guint32 address = nfltr_netstack_resolve_finish (NULL, result, &error);

  if (address != 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (r->payload, &len);

      nfltr_udp_socket_send_to (r->client->udp_flow, address, r->port, data, len);
    }
  g_bytes_unref (r->payload);
  g_free (r);
}

static gboolean
udp_from_client_cb (GSocket *socket,
                    GIOCondition condition,
                    gpointer user_data)
{
  Client *client = user_data;
  guint8 buf[65536];
  GSocketAddress *from = NULL;
  gssize n;

  while ((n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL)) >= 0)
    {
      g_autoptr (GSocketAddress) sender = from;
      NfltrSocks5Request dst;
      gsize offset;

      from = NULL;
      /* RFC 1928 §7: only datagrams from the client's own IP address are relayed */
      if (!G_IS_INET_SOCKET_ADDRESS (sender)
          || !g_inet_address_equal (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sender)), client->client_ip))
        continue;
      if (nfltr_socks5_parse_udp (buf, (gsize) n, &dst, &offset) != NFLTR_SOCKS5_PARSE_OK)
        continue;
      g_set_object (&client->udp_client, sender);
      if (dst.atyp == NFLTR_SOCKS5_ATYP_IPV4)
        {
          guint32 address;

          memcpy (&address, dst.addr, 4);
          nfltr_udp_socket_send_to (client->udp_flow, address, dst.port, buf + offset, (gsize) n - offset);
        }
      else if (dst.atyp == NFLTR_SOCKS5_ATYP_DOMAIN)
        {
          UdpResolve *r = g_new0 (UdpResolve, 1);

          r->client = client;
          r->payload = g_bytes_new (buf + offset, (gsize) n - offset);
          r->port = dst.port;
          nfltr_netstack_resolve_async (client->server->netstack, dst.host, client->cancellable, udp_resolved_cb, r);
        }
      /* IPv6 destinations: the network is IPv4 (issue 12 allocates 100.64.0.0/10) */
    }
  return G_SOURCE_CONTINUE;
}

static void
client_udp_associate (Client *client)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (client->socket, &error);
  g_autoptr (GSocketAddress) remote = g_socket_get_remote_address (client->socket, &error);
  g_autoptr (GSocketAddress) bind_addr = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  GInetAddress *local_ip;
  guint8 out[10];
  guint32 bound_ip;

  if (local == NULL || remote == NULL
      || g_inet_address_get_family (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local))) != G_SOCKET_FAMILY_IPV4)
    {
      client_reply_and_drop (client, NFLTR_SOCKS5_REP_GENERAL_FAILURE);
      return;
    }
  local_ip = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local));
  client->client_ip = g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  client->udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  bind_addr = g_inet_socket_address_new (local_ip, 0);
  if (client->udp == NULL || !g_socket_bind (client->udp, bind_addr, FALSE, &error)
      || (bound = g_socket_get_local_address (client->udp, &error)) == NULL)
    {
      client_reply_and_drop (client, NFLTR_SOCKS5_REP_GENERAL_FAILURE);
      return;
    }
  client->udp_flow = nfltr_netstack_udp_open (client->server->netstack, udp_from_network, client, &error);
  if (client->udp_flow == NULL)
    {
      client_reply_and_drop (client, NFLTR_SOCKS5_REP_GENERAL_FAILURE);
      return;
    }
  g_socket_set_blocking (client->udp, FALSE);
  client->udp_source = g_socket_create_source (client->udp, G_IO_IN, NULL);
  g_source_set_callback (client->udp_source, G_SOURCE_FUNC (udp_from_client_cb), client, NULL);
  g_source_attach (client->udp_source, g_main_context_get_thread_default ());
  memcpy (&bound_ip, g_inet_address_to_bytes (local_ip), 4);
  client_set_timeout (client, 0);
  if (!client_send (client, out, nfltr_socks5_build_reply (out, NFLTR_SOCKS5_REP_SUCCEEDED, bound_ip,
                                                           g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)))))
    {
      client_drop (client);
      return;
    }
  client->state = CLIENT_UDP;
  /* RFC 1928 §7: the association ends with the TCP connection; keep reading to see it end */
  g_byte_array_set_size (client->in, 0);
  client_read (client);
}

/* ---- the handshake ---- */

static void
resolved_cb (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  Client *client = user_data;
  g_autoptr (GError) error = NULL;
  guint32 address = nfltr_netstack_resolve_finish (NULL, result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (address == 0)
    {
      g_debug ("SOCKS5: %s", error->message);
      client_reply_and_drop (client, NFLTR_SOCKS5_REP_HOST_UNREACHABLE);
      return;
    }
  client_connect (client, address);
}

static void
client_process (Client *client)
{
  for (;;)
    {
      gsize consumed = 0;
      NfltrSocks5Parse parse;

      switch (client->state)
        {
          case CLIENT_GREETING:
            {
              guint8 methods = 0;
              guint8 out[2] = { NFLTR_SOCKS5_VERSION, NFLTR_SOCKS5_METHOD_NONE_ACCEPTABLE };

              parse = nfltr_socks5_parse_greeting (client->in->data, client->in->len, &consumed, &methods);
              if (parse == NFLTR_SOCKS5_PARSE_BAD)
                {
                  client_drop (client);
                  return;
                }
              if (parse == NFLTR_SOCKS5_PARSE_NEED_MORE)
                break;
              if (client->server->username != NULL && (methods & (1u << NFLTR_SOCKS5_METHOD_USERPASS)))
                out[1] = NFLTR_SOCKS5_METHOD_USERPASS;
              else if (client->server->username == NULL && (methods & (1u << NFLTR_SOCKS5_METHOD_NO_AUTH)))
                out[1] = NFLTR_SOCKS5_METHOD_NO_AUTH;
              if (!client_send (client, out, 2) || out[1] == NFLTR_SOCKS5_METHOD_NONE_ACCEPTABLE)
                {
                  client_drop (client);
                  return;
                }
              g_byte_array_remove_range (client->in, 0, (guint) consumed);
              client->state = out[1] == NFLTR_SOCKS5_METHOD_USERPASS ? CLIENT_AUTH : CLIENT_REQUEST;
              continue;
            }
          case CLIENT_AUTH:
            {
              char user[256], pass[256];
              guint8 out[2] = { NFLTR_SOCKS5_AUTH_VERSION, 0x01 };
              gboolean ok;

              parse = nfltr_socks5_parse_userpass (client->in->data, client->in->len, &consumed, user, pass);
              if (parse == NFLTR_SOCKS5_PARSE_NEED_MORE)
                break;
              /* both compared in full, whatever matches first */
              ok = parse == NFLTR_SOCKS5_PARSE_OK;
              ok &= strlen (user) == strlen (client->server->username) &&
                    sodium_memcmp (user, client->server->username, strlen (user)) == 0;
              ok &= strlen (pass) == strlen (client->server->password) &&
                    sodium_memcmp (pass, client->server->password, strlen (pass)) == 0;
              sodium_memzero (pass, sizeof pass);
              if (ok)
                out[1] = 0x00;
              /* RFC 1929 §2: a failure status means the server MUST close the connection */
              if (!client_send (client, out, 2) || !ok)
                {
                  client_drop (client);
                  return;
                }
              g_byte_array_remove_range (client->in, 0, (guint) consumed);
              client->state = CLIENT_REQUEST;
              continue;
            }
          case CLIENT_REQUEST:
            {
              NfltrSocks5Reply reply;

              parse = nfltr_socks5_parse_request (client->in->data, client->in->len, &consumed,
                                                  &client->request, &reply);
              if (parse == NFLTR_SOCKS5_PARSE_BAD)
                {
                  if (reply != 0)
                    client_reply_and_drop (client, reply);
                  else
                    client_drop (client);
                  return;
                }
              if (parse == NFLTR_SOCKS5_PARSE_NEED_MORE)
                break;
              g_byte_array_remove_range (client->in, 0, (guint) consumed);
              if (client->request.command == NFLTR_SOCKS5_CMD_UDP_ASSOCIATE)
                {
                  client_udp_associate (client);
                  return;
                }
              client->state = CLIENT_CONNECTING;
              client_set_timeout (client, SOCKS5_CONNECT_TIMEOUT_S);
              if (client->request.atyp == NFLTR_SOCKS5_ATYP_IPV4)
                {
                  guint32 address;

                  memcpy (&address, client->request.addr, 4);
                  client_connect (client, address);
                }
              else if (client->request.atyp == NFLTR_SOCKS5_ATYP_DOMAIN)
                nfltr_netstack_resolve_async (client->server->netstack, client->request.host,
                                              client->cancellable, resolved_cb, client);
              else
                client_reply_and_drop (client, NFLTR_SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED);
              return;
            }
          case CLIENT_CONNECTING:
          case CLIENT_BRIDGED:
          case CLIENT_UDP:
          default: return;
        }
      /* need more */
      if (client->in->len >= SOCKS5_HANDSHAKE_MAX)
        {
          client_drop (client);
          return;
        }
      client_read (client);
      return;
    }
}

static void
read_cb (GObject *source,
         GAsyncResult *result,
         gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  Client *client;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  client = user_data;
  if (n <= 0 || client->state == CLIENT_UDP)
    {
      /* end of the handshake's connection, or of a UDP association's control connection */
      if (n > 0 && client->state == CLIENT_UDP)
        {
          client_read (client);
          return;
        }
      client_drop (client);
      return;
    }
  g_byte_array_append (client->in, client->read_buf, (guint) n);
  client_process (client);
}

static void
client_read (Client *client)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (client->connection)),
                             client->read_buf, sizeof client->read_buf, G_PRIORITY_DEFAULT,
                             client->cancellable, read_cb, client);
}

static gboolean
incoming_cb (GSocketService *service,
             GSocketConnection *connection,
             GObject *source_object,
             gpointer user_data)
{
  NfltrSocks5Server *self = user_data;
  Client *client = g_new0 (Client, 1);

  client->server = self;
  client->connection = g_object_ref (connection);
  client->socket = g_socket_connection_get_socket (connection);
  client->in = g_byte_array_new ();
  client->cancellable = g_cancellable_new ();
  client->state = CLIENT_GREETING;
  g_socket_set_blocking (client->socket, FALSE);
  g_hash_table_add (self->clients, client);
  client_set_timeout (client, SOCKS5_HANDSHAKE_TIMEOUT_S);
  client_read (client);
  return TRUE;
}

NfltrSocks5Server *
nfltr_socks5_server_new (NfltrNetstack *netstack,
                         const char *username,
                         const char *password)
{
  NfltrSocks5Server *self = g_new0 (NfltrSocks5Server, 1);

  self->netstack = netstack;
  self->username = g_strdup (username);
  self->password = g_strdup (username != NULL ? (password != NULL ? password : "") : NULL);
  self->service = g_socket_service_new ();
  self->clients = g_hash_table_new_full (NULL, NULL, client_free, NULL);
  g_signal_connect (self->service, "incoming", G_CALLBACK (incoming_cb), self);
  return self;
}

guint16
nfltr_socks5_server_listen (NfltrSocks5Server *self,
                            GSocketAddress *address,
                            GError **error)
{
  g_autoptr (GSocketAddress) effective = NULL;

  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &effective, error))
    return 0;
  g_socket_service_start (self->service);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
}

void
nfltr_socks5_server_free (NfltrSocks5Server *self)
{
  if (self == NULL)
    return;
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_signal_handlers_disconnect_by_data (self->service, self);
  g_clear_object (&self->service);
  g_clear_pointer (&self->clients, g_hash_table_unref);
  g_free (self->username);
  if (self->password != NULL)
    sodium_memzero (self->password, strlen (self->password));
  g_free (self->password);
  g_free (self);
}
