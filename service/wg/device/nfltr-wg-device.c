/* nfltr-wg-device.c — the WireGuard device: the receive path (one function per message, as
 * WireGuard's receive.c), the send path (send.c), the timers' actions (timers.c) and the
 * index table that finds a session from a datagram's receiver index. */
#define G_LOG_DOMAIN "nfltr-wg"

#include "nfltr-wg-device.h"

#include "nfltr-wg-allowedips.h"
#include "nfltr-wg-peer.h"

#include <sodium.h>
#include <string.h>

/* WireGuard's MAX_STAGED_PACKETS: packets held per peer while a handshake is under way. */
#define MAX_STAGED_PACKETS 128
/* Handshake messages a second above which the device is "under load" (paper §5.3) and asks
 * for cookies; it stays so for UNDER_LOAD_HOLD_NS after the last burst, as WireGuard keeps
 * last_under_load for a second. */
#define UNDER_LOAD_HANDSHAKES_PER_SECOND 64
#define UNDER_LOAD_HOLD_NS NFLTR_WG_NS_PER_S
/* The outer datagrams we read: the largest UDP payload. */
#define MAX_DATAGRAM 65535
/* Datagrams read per wakeup before yielding to the rest of the main loop. */
#define RECEIVE_BURST 64

typedef struct {
  NfltrWgPeer *wg;
  guint8 public_key[NFLTR_WG_KEY_LEN];
  GInetSocketAddress *endpoint;
  GQueue staged; /* of GBytes, inner packets waiting for a session */
  NfltrWgPeerStats stats;
} DevicePeer;

/* What a local index names: the peer's handshake in flight (keypair NULL) or a session. */
typedef struct {
  DevicePeer *peer;
  NfltrWgKeypair *keypair;
} IndexEntry;

struct _NfltrWgDevice {
  GObject parent_instance;

  GMainContext *context;
  NfltrWgIdentity identity;
  NfltrWgCookieChecker cookie_checker;

  GSocket *socket;
  GSource *socket_source;
  GSource *timer_source;

  GHashTable *peers;   /* id → DevicePeer */
  GHashTable *indices; /* local index → IndexEntry */
  NfltrWgAllowedIps allowed_ips;
  guint next_peer_id;

  NfltrWgReceiveFunc receive_func;
  gpointer receive_data;
  GDestroyNotify receive_destroy;
  NfltrWgTransmitFunc transmit_func;
  gpointer transmit_data;
  GDestroyNotify transmit_destroy;

  NfltrWgDeviceStats stats;
  gboolean force_under_load;
  gint64 load_window_start_ns;
  guint load_window_count;
  gint64 under_load_until_ns;
  gint64 rekey_after_time_s;

  guint8 *buffer;      /* MAX_DATAGRAM bytes: datagrams read, decrypted in place */
  guint8 *send_buffer; /* MAX_DATAGRAM bytes: datagrams being encrypted */
};

G_DEFINE_FINAL_TYPE (NfltrWgDevice, nfltr_wg_device, G_TYPE_OBJECT)

static void schedule_timers (NfltrWgDevice *self);
static void send_staged (NfltrWgDevice *self, DevicePeer *peer);

static gint64
now_ns (void)
{
  return g_get_monotonic_time () * 1000;
}

static gint64
jitter_ns (void)
{
  return (gint64) randombytes_uniform (NFLTR_WG_REKEY_TIMEOUT_JITTER_MAX_MS + 1) * 1000000;
}

/* ---- keys ------------------------------------------------------------------------------ */

gboolean
nfltr_wg_key_from_base64 (const char *base64, guint8 key[NFLTR_WG_KEY_LEN], GError **error)
{
  g_autofree guint8 *raw = NULL;
  gsize len = 0;

  /* 32 bytes are 44 base64 characters ending in one '='. */
  if (base64 == NULL || strlen (base64) != 44 || base64[43] != '=')
    goto bad;
  raw = g_base64_decode (base64, &len);
  if (len != NFLTR_WG_KEY_LEN)
    goto bad;
  memcpy (key, raw, NFLTR_WG_KEY_LEN);
  nfltr_wg_wipe (raw, len);
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not a WireGuard key (44 characters of base64)");
  return FALSE;
}

char *
nfltr_wg_key_to_base64 (const guint8 key[NFLTR_WG_KEY_LEN])
{
  return g_base64_encode (key, NFLTR_WG_KEY_LEN);
}

void
nfltr_wg_generate_private_key (guint8 private_key[NFLTR_WG_KEY_LEN])
{
  randombytes_buf (private_key, NFLTR_WG_KEY_LEN);
  nfltr_wg_clamp_private (private_key);
}

void
nfltr_wg_public_key (const guint8 private_key[NFLTR_WG_KEY_LEN], guint8 public_key[NFLTR_WG_KEY_LEN])
{
  NfltrWgIdentity identity;

  nfltr_wg_identity_init (&identity, private_key);
  memcpy (public_key, identity.public_key, NFLTR_WG_KEY_LEN);
  nfltr_wg_wipe (&identity, sizeof identity);
}

/* ---- peers and indices ------------------------------------------------------------------ */

static void
device_peer_free (gpointer data)
{
  DevicePeer *peer = data;

  g_queue_clear_full (&peer->staged, (GDestroyNotify) g_bytes_unref);
  g_clear_object (&peer->endpoint);
  nfltr_wg_peer_free (peer->wg);
  g_free (peer);
}

static DevicePeer *
lookup_peer (NfltrWgDevice *self, NfltrWgPeerId id)
{
  return id == 0 ? NULL : g_hash_table_lookup (self->peers, GUINT_TO_POINTER (id));
}

static guint32
new_index (NfltrWgDevice *self, DevicePeer *peer, NfltrWgKeypair *keypair)
{
  IndexEntry *entry = g_new0 (IndexEntry, 1);
  guint32 index;

  do
    index = randombytes_random ();
  while (index == 0 || g_hash_table_contains (self->indices, GUINT_TO_POINTER (index)));

  entry->peer = peer;
  entry->keypair = keypair;
  g_hash_table_insert (self->indices, GUINT_TO_POINTER (index), entry);
  return index;
}

static void
drop_index (NfltrWgDevice *self, guint32 index)
{
  if (index != 0)
    g_hash_table_remove (self->indices, GUINT_TO_POINTER (index));
}

static void
drop_keypair (NfltrWgDevice *self, NfltrWgKeypair *keypair)
{
  if (keypair == NULL)
    return;
  drop_index (self, keypair->keys.local_index);
  nfltr_wg_keypair_free (keypair);
}

/* Installs a finished handshake's session, moving its index from handshake to keypair. */
static void
begin_session (NfltrWgDevice *self, DevicePeer *peer, gint64 now)
{
  NfltrWgSessionKeys keys;
  NfltrWgKeypair *dropped, *dropped2;
  NfltrWgKeypair *keypair;
  IndexEntry *entry;

  if (!nfltr_wg_handshake_derive_keys (&peer->wg->handshake, &keys))
    return;
  dropped = nfltr_wg_peer_add_keypair (peer->wg, &keys, now, &dropped2);
  drop_keypair (self, dropped);
  drop_keypair (self, dropped2);
  keypair = keys.initiator ? peer->wg->current : peer->wg->next;
  nfltr_wg_wipe (&keys, sizeof keys);

  entry = g_hash_table_lookup (self->indices, GUINT_TO_POINTER (keypair->keys.local_index));
  if (entry != NULL)
    entry->keypair = keypair;
  nfltr_wg_timers_session_derived (&peer->wg->timers, now);
}

/* ---- sending ---------------------------------------------------------------------------- */

static void
address_bytes (GSocketAddress *address, guint8 out[18], gsize *len)
{
  GInetSocketAddress *inet;
  GInetAddress *ip;
  guint16 port;
  gsize ip_len;

  *len = 0;
  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return;
  inet = G_INET_SOCKET_ADDRESS (address);
  ip = g_inet_socket_address_get_address (inet);
  ip_len = g_inet_address_get_native_size (ip);
  memcpy (out, g_inet_address_to_bytes (ip), ip_len);
  port = g_inet_socket_address_get_port (inet);
  out[ip_len] = (guint8) (port >> 8);
  out[ip_len + 1] = (guint8) port;
  *len = ip_len + 2;
}

static gboolean
transmit (NfltrWgDevice *self, DevicePeer *peer, GSocketAddress *to, const guint8 *data, gsize len)
{
  gboolean sent = FALSE;

  if (self->socket != NULL && to != NULL)
    {
      g_autoptr (GError) error = NULL;

      /* UDP is best effort: a full socket buffer drops the datagram, as a full NIC would. */
      sent = g_socket_send_to (self->socket, to, (const gchar *) data, len, NULL, &error) >= 0;
      if (!sent)
        g_debug ("send: %s", error->message);
    }
  else if (self->transmit_func != NULL)
    sent = self->transmit_func (self, peer != NULL ? peer->wg->id : 0, to, data, len, self->transmit_data);

  if (sent && peer != NULL)
    peer->stats.tx_bytes += len;
  return sent;
}

/* §5.4.2: a new initiation, unless one went out less than REKEY_TIMEOUT ago. */
static void
send_initiation (NfltrWgDevice *self, DevicePeer *peer, gboolean is_retry)
{
  NfltrWgMessageInitiation msg;
  guint8 ephemeral[NFLTR_WG_KEY_SIZE];
  guint8 timestamp[NFLTR_WG_TAI64N_LEN];
  gint64 now = now_ns ();
  guint32 index;

  if (!is_retry)
    peer->wg->timers.handshake_attempts = 0;
  if (peer->wg->last_sent_handshake_ns != 0 &&
      now - peer->wg->last_sent_handshake_ns < NFLTR_WG_REKEY_TIMEOUT_S * NFLTR_WG_NS_PER_S)
    return;
  if (peer->endpoint == NULL && self->transmit_func == NULL)
    return;

  if (peer->wg->handshake.state != NFLTR_WG_HANDSHAKE_ZEROED)
    {
      drop_index (self, peer->wg->handshake.local_index);
      nfltr_wg_handshake_clear (&peer->wg->handshake);
    }

  randombytes_buf (ephemeral, sizeof ephemeral);
  nfltr_wg_tai64n (timestamp, g_get_real_time ());
  index = new_index (self, peer, NULL);
  if (!nfltr_wg_handshake_create_initiation (&peer->wg->handshake, &self->identity, &msg, ephemeral, timestamp, index))
    {
      drop_index (self, index);
      nfltr_wg_wipe (ephemeral, sizeof ephemeral);
      return;
    }
  nfltr_wg_wipe (ephemeral, sizeof ephemeral);
  nfltr_wg_cookie_add_macs (&peer->wg->cookie, (guint8 *) &msg, sizeof msg, now);

  peer->wg->last_sent_handshake_ns = now;
  nfltr_wg_timers_any_authenticated_packet_traversal (&peer->wg->timers, now);
  nfltr_wg_timers_any_authenticated_packet_sent (&peer->wg->timers);
  transmit (self, peer, (GSocketAddress *) peer->endpoint, (const guint8 *) &msg, sizeof msg);
  nfltr_wg_timers_handshake_initiated (&peer->wg->timers, now, jitter_ns ());
  schedule_timers (self);
}

/* §5.4.6: one transport message; an empty packet is a keepalive. */
static gboolean
send_data (NfltrWgDevice *self, DevicePeer *peer, NfltrWgKeypair *keypair, const guint8 *packet, gsize len, gint64 now)
{
  /* Not the read buffer: a receive callback may send while its packet still lies there. */
  NfltrWgMessageDataHeader *header = (NfltrWgMessageDataHeader *) self->send_buffer;
  gsize padded = nfltr_wg_padded_len (len, NFLTR_WG_DEFAULT_MTU);
  guint8 *plain;

  if (sizeof *header + padded + NFLTR_WG_AEAD_TAG_LEN > MAX_DATAGRAM)
    return FALSE;

  /* Pad in place after the header, then encrypt over it: libsodium allows out == in. */
  plain = self->send_buffer + sizeof *header;
  memmove (plain, packet, len);
  memset (plain + len, 0, padded - len);

  memset (header, 0, sizeof *header);
  header->header.type = NFLTR_WG_MESSAGE_DATA;
  nfltr_wg_put_le32 (header->receiver_index, keypair->keys.remote_index);
  nfltr_wg_put_le64 (header->counter, keypair->send_counter);
  nfltr_wg_aead_encrypt (plain, plain, padded, NULL, 0, keypair->send_counter, keypair->keys.send_key);
  keypair->send_counter++;

  nfltr_wg_timers_any_authenticated_packet_traversal (&peer->wg->timers, now);
  nfltr_wg_timers_any_authenticated_packet_sent (&peer->wg->timers);
  if (len > 0)
    {
      nfltr_wg_timers_data_sent (&peer->wg->timers, now, jitter_ns ());
      peer->stats.tx_packets++;
    }
  return transmit (self, peer, (GSocketAddress *) peer->endpoint, self->send_buffer,
                   sizeof *header + padded + NFLTR_WG_AEAD_TAG_LEN);
}

/* WireGuard's wg_packet_send_staged_packets: everything queued goes out under the current
 * session, or a handshake starts; then the session is kept fresh (§6.2). */
static void
send_staged (NfltrWgDevice *self, DevicePeer *peer)
{
  gint64 now = now_ns ();
  NfltrWgKeypair *keypair = peer->wg->current;
  GBytes *bytes;

  if (g_queue_is_empty (&peer->staged))
    return;
  if (!nfltr_wg_keypair_usable (keypair, now))
    {
      send_initiation (self, peer, FALSE);
      return;
    }

  while ((bytes = g_queue_pop_head (&peer->staged)) != NULL)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (bytes, &len);

      /* The packet is copied into the device's buffer before anything else is written. */
      send_data (self, peer, keypair, data != NULL ? data : (const guint8 *) "", len, now);
      g_bytes_unref (bytes);
    }

  if (nfltr_wg_peer_should_rekey_on_send (peer->wg, now, self->rekey_after_time_s))
    send_initiation (self, peer, FALSE);
  schedule_timers (self);
}

/* WireGuard's wg_packet_send_keepalive: staged packets if any, else an empty one. */
static void
send_keepalive (NfltrWgDevice *self, DevicePeer *peer)
{
  gint64 now = now_ns ();

  if (!g_queue_is_empty (&peer->staged))
    {
      send_staged (self, peer);
      return;
    }
  if (nfltr_wg_keypair_usable (peer->wg->current, now))
    send_data (self, peer, peer->wg->current, (const guint8 *) "", 0, now);
}

/* ---- timers ----------------------------------------------------------------------------- */

static void
zero_key_material (NfltrWgDevice *self, DevicePeer *peer)
{
  NfltrWgKeypair *dropped[3];
  guint n;

  drop_index (self, peer->wg->handshake.local_index);
  n = nfltr_wg_peer_zero_keys (peer->wg, dropped);
  for (guint i = 0; i < n; i++)
    drop_keypair (self, dropped[i]);
}

static void
handle_peer_timers (NfltrWgDevice *self, DevicePeer *peer, gint64 now)
{
  NfltrWgTimerEvents events = nfltr_wg_timers_expire (&peer->wg->timers, now);

  if (events & NFLTR_WG_TIMER_GIVE_UP_HANDSHAKE)
    {
      g_debug ("peer %u: handshake did not complete after %d seconds, giving up", peer->wg->id,
               NFLTR_WG_REKEY_ATTEMPT_TIME_S);
      g_queue_clear_full (&peer->staged, (GDestroyNotify) g_bytes_unref);
    }
  if (events & NFLTR_WG_TIMER_RETRANSMIT_HANDSHAKE)
    send_initiation (self, peer, TRUE);
  if (events & NFLTR_WG_TIMER_NEW_HANDSHAKE)
    send_initiation (self, peer, FALSE);
  if (events & NFLTR_WG_TIMER_SEND_KEEPALIVE)
    {
      send_keepalive (self, peer);
      nfltr_wg_timers_keepalive_sent (&peer->wg->timers, now);
    }
  if (events & NFLTR_WG_TIMER_PERSISTENT_KEEPALIVE)
    send_keepalive (self, peer);
  if (events & NFLTR_WG_TIMER_ZERO_KEY_MATERIAL)
    zero_key_material (self, peer);
}

static gboolean
timer_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  NfltrWgDevice *self = user_data;
  gint64 now = now_ns ();
  g_autoptr (GList) peers = g_hash_table_get_values (self->peers);

  g_source_set_ready_time (source, -1);
  for (GList *l = peers; l != NULL; l = l->next)
    handle_peer_timers (self, l->data, now);
  schedule_timers (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_source_funcs = { .dispatch = timer_dispatch };

/* One source for the whole device, woken at the earliest deadline of any peer. */
static void
schedule_timers (NfltrWgDevice *self)
{
  GHashTableIter iter;
  gpointer value;
  gint64 next = 0;

  if (self->timer_source == NULL)
    return;
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      gint64 deadline = nfltr_wg_timers_next_deadline (&((DevicePeer *) value)->wg->timers);

      if (deadline != 0 && (next == 0 || deadline < next))
        next = deadline;
    }
  g_source_set_ready_time (self->timer_source, next == 0 ? -1 : (next + 999) / 1000);
}

/* ---- receiving -------------------------------------------------------------------------- */

static void
set_endpoint (DevicePeer *peer, GSocketAddress *from)
{
  /* §2 "roaming": the endpoint follows the source of the last authenticated packet. */
  if (!G_IS_INET_SOCKET_ADDRESS (from))
    return;
  if (peer->endpoint != NULL)
    {
      GInetSocketAddress *old = peer->endpoint;

      if (g_inet_socket_address_get_port (old) == g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from)) &&
          g_inet_address_equal (g_inet_socket_address_get_address (old),
                                g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from))))
        return;
    }
  g_set_object (&peer->endpoint, G_INET_SOCKET_ADDRESS (from));
}

static gboolean
under_load (NfltrWgDevice *self, gint64 now)
{
  if (self->force_under_load)
    return TRUE;
  if (now - self->load_window_start_ns >= NFLTR_WG_NS_PER_S)
    {
      self->load_window_start_ns = now;
      self->load_window_count = 0;
    }
  if (++self->load_window_count > UNDER_LOAD_HANDSHAKES_PER_SECOND)
    self->under_load_until_ns = now + UNDER_LOAD_HOLD_NS;
  return now < self->under_load_until_ns;
}

static void
handshake_complete (DevicePeer *peer)
{
  nfltr_wg_timers_handshake_complete (&peer->wg->timers);
  peer->stats.handshakes_completed++;
  peer->stats.last_handshake_unix = g_get_real_time () / G_USEC_PER_SEC;
}

/* mac1, then under load mac2 or a cookie reply (§5.3). FALSE: the message goes no further. */
static gboolean
check_handshake_macs (NfltrWgDevice *self, GSocketAddress *from, const guint8 *msg, gsize len, guint32 sender_index, gint64 now)
{
  guint8 source[18];
  gsize source_len;
  guint8 secret[NFLTR_WG_HASH_LEN];
  NfltrWgMacsResult macs;

  address_bytes (from, source, &source_len);
  randombytes_buf (secret, sizeof secret);
  macs = nfltr_wg_cookie_check (&self->cookie_checker, msg, len, source, source_len, now, secret);
  if (macs == NFLTR_WG_MACS_INVALID)
    {
      self->stats.dropped_invalid++;
      nfltr_wg_wipe (secret, sizeof secret);
      return FALSE;
    }
  if (under_load (self, now) && macs != NFLTR_WG_MACS_VALID_MAC2)
    {
      NfltrWgMessageCookie reply;
      guint8 nonce[NFLTR_WG_XNONCE_LEN];

      randombytes_buf (nonce, sizeof nonce);
      nfltr_wg_cookie_reply_create (&self->cookie_checker, &reply, msg, len, sender_index, source, source_len, now, secret,
                                    nonce);
      transmit (self, NULL, from, (const guint8 *) &reply, sizeof reply);
      self->stats.cookie_replies_sent++;
      nfltr_wg_wipe (secret, sizeof secret);
      return FALSE;
    }
  nfltr_wg_wipe (secret, sizeof secret);
  return TRUE;
}

static void
consume_initiation (NfltrWgDevice *self, GSocketAddress *from, const NfltrWgMessageInitiation *msg, gint64 now)
{
  NfltrWgHandshake scratch;
  guint8 remote_static[NFLTR_WG_KEY_SIZE];
  NfltrWgMessageResponse response;
  guint8 ephemeral[NFLTR_WG_KEY_SIZE];
  DevicePeer *peer;
  guint32 index;

  if (!check_handshake_macs (self, from, (const guint8 *) msg, sizeof *msg, nfltr_wg_get_le32 (msg->sender_index), now))
    return;

  if (!nfltr_wg_handshake_consume_initiation_begin (&self->identity, msg, &scratch, remote_static))
    goto rejected;
  peer = lookup_peer (self, nfltr_wg_device_lookup_peer (self, remote_static));
  if (peer == NULL || !nfltr_wg_handshake_consume_initiation_finish (&peer->wg->handshake, &scratch, msg, now))
    goto rejected;
  nfltr_wg_handshake_clear (&scratch);

  /* A newer initiation replaces whatever handshake of ours was in flight. */
  drop_index (self, peer->wg->handshake.local_index);
  set_endpoint (peer, from);
  nfltr_wg_timers_any_authenticated_packet_received (&peer->wg->timers);
  nfltr_wg_timers_any_authenticated_packet_traversal (&peer->wg->timers, now);

  randombytes_buf (ephemeral, sizeof ephemeral);
  index = new_index (self, peer, NULL);
  if (!nfltr_wg_handshake_create_response (&peer->wg->handshake, &response, ephemeral, index))
    {
      drop_index (self, index);
      nfltr_wg_wipe (ephemeral, sizeof ephemeral);
      return;
    }
  nfltr_wg_wipe (ephemeral, sizeof ephemeral);
  nfltr_wg_cookie_add_macs (&peer->wg->cookie, (guint8 *) &response, sizeof response, now);
  nfltr_wg_timers_any_authenticated_packet_traversal (&peer->wg->timers, now);
  nfltr_wg_timers_any_authenticated_packet_sent (&peer->wg->timers);
  transmit (self, peer, (GSocketAddress *) peer->endpoint, (const guint8 *) &response, sizeof response);
  begin_session (self, peer, now);
  schedule_timers (self);
  return;

rejected:
  nfltr_wg_handshake_clear (&scratch);
  self->stats.handshakes_rejected++;
}

static void
consume_response (NfltrWgDevice *self, GSocketAddress *from, const NfltrWgMessageResponse *msg, gint64 now)
{
  IndexEntry *entry;
  DevicePeer *peer;

  if (!check_handshake_macs (self, from, (const guint8 *) msg, sizeof *msg, nfltr_wg_get_le32 (msg->sender_index), now))
    return;

  entry = g_hash_table_lookup (self->indices, GUINT_TO_POINTER (nfltr_wg_get_le32 (msg->receiver_index)));
  if (entry == NULL || entry->keypair != NULL)
    goto rejected;
  peer = entry->peer;
  if (!nfltr_wg_handshake_consume_response (&peer->wg->handshake, &self->identity, msg))
    goto rejected;

  set_endpoint (peer, from);
  nfltr_wg_timers_any_authenticated_packet_received (&peer->wg->timers);
  nfltr_wg_timers_any_authenticated_packet_traversal (&peer->wg->timers, now);
  begin_session (self, peer, now);
  handshake_complete (peer);
  /* Queued packets, or a keepalive, confirm the session to the responder at once. */
  send_keepalive (self, peer);
  schedule_timers (self);
  return;

rejected:
  self->stats.handshakes_rejected++;
}

static void
consume_cookie (NfltrWgDevice *self, const NfltrWgMessageCookie *msg, gint64 now)
{
  IndexEntry *entry = g_hash_table_lookup (self->indices, GUINT_TO_POINTER (nfltr_wg_get_le32 (msg->receiver_index)));

  if (entry == NULL || !nfltr_wg_cookie_consume_reply (&entry->peer->wg->cookie, msg, now))
    {
      self->stats.dropped_invalid++;
      return;
    }
  /* WireGuard does not resend at once either: the retransmit timer carries the mac2. */
  g_debug ("peer %u: cookie received", entry->peer->wg->id);
}

static void
consume_data (NfltrWgDevice *self, GSocketAddress *from, guint8 *datagram, gsize len, gint64 now)
{
  NfltrWgMessageDataHeader *header = (NfltrWgMessageDataHeader *) datagram;
  IndexEntry *entry = g_hash_table_lookup (self->indices, GUINT_TO_POINTER (nfltr_wg_get_le32 (header->receiver_index)));
  guint8 *plain = datagram + sizeof *header;
  gsize plain_len = len - sizeof *header - NFLTR_WG_AEAD_TAG_LEN;
  guint64 counter = nfltr_wg_get_le64 (header->counter);
  NfltrWgKeypair *keypair, *dropped;
  DevicePeer *peer;
  gsize inner_len;
  guint family;
  guint8 source[16];

  if (entry == NULL || entry->keypair == NULL)
    goto invalid;
  keypair = entry->keypair;
  peer = entry->peer;
  /* REJECT_AFTER_TIME holds for receiving too (§6.1). */
  if (!keypair->valid || now - keypair->birth_ns >= NFLTR_WG_REJECT_AFTER_TIME_S * NFLTR_WG_NS_PER_S)
    goto invalid;
  if (!nfltr_wg_aead_decrypt (plain, plain, plain_len + NFLTR_WG_AEAD_TAG_LEN, NULL, 0, counter, keypair->keys.receive_key))
    goto invalid;

  /* §5.4.6: the counter is checked only now that the packet is authentic, so a forged
   * counter cannot move the window. */
  if (!nfltr_wg_replay_check (&keypair->replay, counter))
    {
      peer->stats.dropped_replay++;
      return;
    }

  peer->stats.rx_bytes += len;
  set_endpoint (peer, from);
  if (nfltr_wg_peer_received_with_keypair (peer->wg, keypair, &dropped))
    {
      drop_keypair (self, dropped);
      handshake_complete (peer);
      send_staged (self, peer);
    }
  nfltr_wg_timers_any_authenticated_packet_received (&peer->wg->timers);
  nfltr_wg_timers_any_authenticated_packet_traversal (&peer->wg->timers, now);
  if (nfltr_wg_peer_should_rekey_on_receive (peer->wg, now))
    send_initiation (self, peer, FALSE);

  if (plain_len == 0)
    {
      /* A keepalive. */
      schedule_timers (self);
      return;
    }

  inner_len = nfltr_wg_inner_packet_len (plain, plain_len);
  if (inner_len == 0)
    {
      self->stats.dropped_invalid++;
      schedule_timers (self);
      return;
    }
  /* §3 cryptokey routing: the inner source must be one of this peer's allowed IPs. */
  if (!nfltr_wg_inner_address (plain, inner_len, TRUE, &family, source) ||
      nfltr_wg_allowed_ips_lookup (&self->allowed_ips, family, source) != peer->wg->id)
    {
      peer->stats.dropped_allowed_ips++;
      schedule_timers (self);
      return;
    }

  nfltr_wg_timers_data_received (&peer->wg->timers, now);
  peer->stats.rx_packets++;
  schedule_timers (self);
  if (self->receive_func != NULL)
    self->receive_func (self, peer->wg->id, plain, inner_len, self->receive_data);
  return;

invalid:
  self->stats.dropped_invalid++;
}

void
nfltr_wg_device_receive_datagram (NfltrWgDevice *self, GSocketAddress *from, const guint8 *datagram, gsize len)
{
  gint64 now = now_ns ();
  guint8 *copy;

  g_return_if_fail (NFLTR_WG_IS_DEVICE (self));

  switch (nfltr_wg_message_classify (datagram, len))
    {
      case NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION:
        consume_initiation (self, from, (const NfltrWgMessageInitiation *) datagram, now);
        break;
      case NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE:
        consume_response (self, from, (const NfltrWgMessageResponse *) datagram, now);
        break;
      case NFLTR_WG_MESSAGE_HANDSHAKE_COOKIE:
        consume_cookie (self, (const NfltrWgMessageCookie *) datagram, now);
        break;
      case NFLTR_WG_MESSAGE_DATA:
        /* Decrypted in place: our own read buffer, or a copy of the caller's. */
        if (datagram == self->buffer)
          copy = self->buffer;
        else
          copy = g_memdup2 (datagram, len);
        consume_data (self, from, copy, len, now);
        if (copy != self->buffer)
          g_free (copy);
        break;
      case NFLTR_WG_MESSAGE_INVALID:
      default: self->stats.dropped_invalid++; break;
    }
}

static gboolean
socket_readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  NfltrWgDevice *self = user_data;

  for (guint i = 0; i < RECEIVE_BURST; i++)
    {
      g_autoptr (GSocketAddress) from = NULL;
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_receive_from (socket, &from, (gchar *) self->buffer, MAX_DATAGRAM, NULL, &error);

      if (n < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("receive: %s", error->message);
          break;
        }
      nfltr_wg_device_receive_datagram (self, from, self->buffer, (gsize) n);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- public API ------------------------------------------------------------------------- */

NfltrWgDevice *
nfltr_wg_device_new (const guint8 private_key[NFLTR_WG_KEY_LEN])
{
  NfltrWgDevice *self = g_object_new (NFLTR_WG_TYPE_DEVICE, NULL);

  nfltr_wg_identity_init (&self->identity, private_key);
  nfltr_wg_cookie_checker_init (&self->cookie_checker, self->identity.public_key);
  return self;
}

gboolean
nfltr_wg_device_bind (NfltrWgDevice *self, GInetSocketAddress *address, GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  GSocketFamily family;

  g_return_val_if_fail (NFLTR_WG_IS_DEVICE (self), FALSE);

  family = g_socket_address_get_family (G_SOCKET_ADDRESS (address));
  socket = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_blocking (socket, FALSE);
  if (!g_socket_bind (socket, G_SOCKET_ADDRESS (address), FALSE, error))
    return FALSE;

  /* Binding again moves the device to the new address: peers see us roam (paper §2). */
  if (self->socket_source != NULL)
    {
      g_source_destroy (self->socket_source);
      g_clear_pointer (&self->socket_source, g_source_unref);
    }
  g_clear_object (&self->socket);
  self->socket = g_steal_pointer (&socket);
  self->socket_source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->socket_source, G_SOURCE_FUNC (socket_readable_cb), self, NULL);
  g_source_attach (self->socket_source, self->context);
  return TRUE;
}

guint16
nfltr_wg_device_get_port (NfltrWgDevice *self)
{
  g_autoptr (GSocketAddress) local = NULL;

  g_return_val_if_fail (NFLTR_WG_IS_DEVICE (self), 0);
  if (self->socket == NULL)
    return 0;
  local = g_socket_get_local_address (self->socket, NULL);
  return local != NULL ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : 0;
}

void
nfltr_wg_device_set_receive_func (NfltrWgDevice *self, NfltrWgReceiveFunc func, gpointer user_data, GDestroyNotify destroy)
{
  g_return_if_fail (NFLTR_WG_IS_DEVICE (self));
  if (self->receive_destroy != NULL)
    self->receive_destroy (self->receive_data);
  self->receive_func = func;
  self->receive_data = user_data;
  self->receive_destroy = destroy;
}

void
nfltr_wg_device_set_transmit_func (NfltrWgDevice *self, NfltrWgTransmitFunc func, gpointer user_data, GDestroyNotify destroy)
{
  g_return_if_fail (NFLTR_WG_IS_DEVICE (self));
  if (self->transmit_destroy != NULL)
    self->transmit_destroy (self->transmit_data);
  self->transmit_func = func;
  self->transmit_data = user_data;
  self->transmit_destroy = destroy;
}

NfltrWgPeerId
nfltr_wg_device_add_peer (NfltrWgDevice *self,
                          const guint8 public_key[NFLTR_WG_KEY_LEN],
                          const guint8 *preshared_key,
                          GInetSocketAddress *endpoint,
                          guint persistent_keepalive_s,
                          GError **error)
{
  DevicePeer *peer;
  guint id;

  g_return_val_if_fail (NFLTR_WG_IS_DEVICE (self), 0);

  if (memcmp (public_key, self->identity.public_key, NFLTR_WG_KEY_LEN) == 0 ||
      nfltr_wg_device_lookup_peer (self, public_key) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "this public key is already a peer or is the device's own");
      return 0;
    }

  id = ++self->next_peer_id;
  peer = g_new0 (DevicePeer, 1);
  peer->wg = nfltr_wg_peer_new (id, &self->identity, public_key, preshared_key, persistent_keepalive_s);
  memcpy (peer->public_key, public_key, NFLTR_WG_KEY_LEN);
  g_queue_init (&peer->staged);
  if (endpoint != NULL)
    peer->endpoint = g_object_ref (endpoint);
  g_hash_table_insert (self->peers, GUINT_TO_POINTER (id), peer);

  /* §6.5: with a persistent keepalive the peer is reached out to at once. */
  if (persistent_keepalive_s > 0 && peer->endpoint != NULL)
    send_initiation (self, peer, FALSE);
  return id;
}

void
nfltr_wg_device_remove_peer (NfltrWgDevice *self, NfltrWgPeerId id)
{
  DevicePeer *peer = lookup_peer (self, id);

  if (peer == NULL)
    return;
  zero_key_material (self, peer);
  nfltr_wg_allowed_ips_remove_peer (&self->allowed_ips, id);
  g_hash_table_remove (self->peers, GUINT_TO_POINTER (id));
  schedule_timers (self);
}

NfltrWgPeerId
nfltr_wg_device_lookup_peer (NfltrWgDevice *self, const guint8 public_key[NFLTR_WG_KEY_LEN])
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (nfltr_wg_equal (((DevicePeer *) value)->public_key, public_key, NFLTR_WG_KEY_LEN))
      return ((DevicePeer *) value)->wg->id;
  return 0;
}

gboolean
nfltr_wg_device_add_allowed_ip (NfltrWgDevice *self, NfltrWgPeerId id, const char *cidr, GError **error)
{
  NfltrWgAllowedIp prefix;

  if (lookup_peer (self, id) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no peer %u", id);
      return FALSE;
    }
  if (!nfltr_wg_allowed_ip_parse (cidr, &prefix))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "“%s” is not an IP prefix", cidr);
      return FALSE;
    }
  nfltr_wg_allowed_ips_insert (&self->allowed_ips, &prefix, id);
  return TRUE;
}

void
nfltr_wg_device_set_endpoint (NfltrWgDevice *self, NfltrWgPeerId id, GInetSocketAddress *endpoint)
{
  DevicePeer *peer = lookup_peer (self, id);

  if (peer != NULL)
    g_set_object (&peer->endpoint, endpoint);
}

GInetSocketAddress *
nfltr_wg_device_dup_endpoint (NfltrWgDevice *self, NfltrWgPeerId id)
{
  DevicePeer *peer = lookup_peer (self, id);

  return peer != NULL && peer->endpoint != NULL ? g_object_ref (peer->endpoint) : NULL;
}

gboolean
nfltr_wg_device_send (NfltrWgDevice *self, NfltrWgPeerId id, const guint8 *packet, gsize len)
{
  DevicePeer *peer = lookup_peer (self, id);

  g_return_val_if_fail (NFLTR_WG_IS_DEVICE (self), FALSE);
  if (peer == NULL || len == 0 || len > NFLTR_WG_DEFAULT_MTU)
    return FALSE;
  if (g_queue_get_length (&peer->staged) >= MAX_STAGED_PACKETS)
    g_bytes_unref (g_queue_pop_head (&peer->staged));
  g_queue_push_tail (&peer->staged, g_bytes_new (packet, len));
  send_staged (self, peer);
  return TRUE;
}

gboolean
nfltr_wg_device_send_routed (NfltrWgDevice *self, const guint8 *packet, gsize len)
{
  guint family;
  guint8 destination[16];

  if (!nfltr_wg_inner_address (packet, len, FALSE, &family, destination))
    return FALSE;
  return nfltr_wg_device_send (self, nfltr_wg_allowed_ips_lookup (&self->allowed_ips, family, destination), packet, len);
}

void
nfltr_wg_device_initiate_handshake (NfltrWgDevice *self, NfltrWgPeerId id)
{
  DevicePeer *peer = lookup_peer (self, id);

  if (peer != NULL)
    send_initiation (self, peer, FALSE);
}

gboolean
nfltr_wg_device_get_peer_stats (NfltrWgDevice *self, NfltrWgPeerId id, NfltrWgPeerStats *stats)
{
  DevicePeer *peer = lookup_peer (self, id);

  if (peer == NULL)
    return FALSE;
  *stats = peer->stats;
  return TRUE;
}

void
nfltr_wg_device_get_stats (NfltrWgDevice *self, NfltrWgDeviceStats *stats)
{
  *stats = self->stats;
}

void
nfltr_wg_device_set_force_under_load (NfltrWgDevice *self, gboolean force)
{
  self->force_under_load = force;
}

void
nfltr_wg_device_set_rekey_after_time (NfltrWgDevice *self, guint seconds)
{
  self->rekey_after_time_s = seconds > 0 ? seconds : NFLTR_WG_REKEY_AFTER_TIME_S;
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
nfltr_wg_device_dispose (GObject *object)
{
  NfltrWgDevice *self = NFLTR_WG_DEVICE (object);

  if (self->socket_source != NULL)
    {
      g_source_destroy (self->socket_source);
      g_clear_pointer (&self->socket_source, g_source_unref);
    }
  if (self->timer_source != NULL)
    {
      g_source_destroy (self->timer_source);
      g_clear_pointer (&self->timer_source, g_source_unref);
    }
  g_clear_object (&self->socket);
  nfltr_wg_device_set_receive_func (self, NULL, NULL, NULL);
  nfltr_wg_device_set_transmit_func (self, NULL, NULL, NULL);
  G_OBJECT_CLASS (nfltr_wg_device_parent_class)->dispose (object);
}

static void
nfltr_wg_device_finalize (GObject *object)
{
  NfltrWgDevice *self = NFLTR_WG_DEVICE (object);

  g_hash_table_destroy (self->indices);
  g_hash_table_destroy (self->peers);
  nfltr_wg_allowed_ips_clear (&self->allowed_ips);
  nfltr_wg_wipe (&self->identity, sizeof self->identity);
  nfltr_wg_wipe (&self->cookie_checker, sizeof self->cookie_checker);
  g_free (self->buffer);
  g_free (self->send_buffer);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (nfltr_wg_device_parent_class)->finalize (object);
}

static void
nfltr_wg_device_class_init (NfltrWgDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_wg_device_dispose;
  object_class->finalize = nfltr_wg_device_finalize;
}

static void
nfltr_wg_device_init (NfltrWgDevice *self)
{
  if (sodium_init () < 0)
    g_error ("libsodium could not initialise");
  self->context = g_main_context_ref_thread_default ();
  self->peers = g_hash_table_new_full (NULL, NULL, NULL, device_peer_free);
  self->indices = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  nfltr_wg_allowed_ips_init (&self->allowed_ips);
  self->buffer = g_malloc (MAX_DATAGRAM);
  self->send_buffer = g_malloc (MAX_DATAGRAM);
  self->rekey_after_time_s = NFLTR_WG_REKEY_AFTER_TIME_S;

  self->timer_source = g_source_new (&timer_source_funcs, sizeof (GSource));
  g_source_set_callback (self->timer_source, NULL, self, NULL);
  g_source_set_name (self->timer_source, "nfltr-wg timers");
  g_source_attach (self->timer_source, self->context);
}
