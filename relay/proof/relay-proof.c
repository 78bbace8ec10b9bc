/* relay-proof.c — the checker, the signing key and the proof document.
 *
 * One check: a socketpair; one end goes into the attach path as a public client would
 * (relay_attach_open: CONN_OPEN to the agent, its data connection, the splice), the other end
 * is our TLS client with SNI = the tunnel's host. So the check crosses exactly what a visitor's
 * connection crosses, up to the agent's own TLS server, without dialling the relay's public
 * port (which would take a place under the per-source cap and in the accept queue). WAIT
 * (timer: --attach-timeout + --handshake-timeout) → handshake done or failed → recorded. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-proof.h"
#include "relay-server.h"
#include "agents/relay-agent.h"
#include "passthrough/relay-attach.h"
#include "store/relay-store.h"
#include "tls/relay-identity.h"
#include "tunnels/relay-registry.h"
#include "nfltr-cert.h"
#include "nfltr-proof-bundle.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SIGNING_KEY_FILE   "relay-signing.key"
#define SIGNING_KEY_HEADER "nfltr-relay ed25519 signing key v1\n"
/* A check that could not reach the agent is tried again this soon, not a whole interval later. */
#define RETRY_UNREACHABLE_S 10
/* How often due checks are looked for; BIND schedules its own at once. */
#define TICK_S 1

typedef struct {
  RelayProof        *proof;      /* valid while !finished */
  gboolean           finished;
  RelayBinding      *binding;
  GSocketConnection *ours;
  GIOStream         *tls;
  GCancellable      *cancellable;
  guint              timeout_id;
  char              *observed;   /* from accept-certificate */
} Check;

struct _RelayProof {
  RelayServer *server;
  guint        interval_s;
  guint        tick_id;
  guint        idle_id;
  guint8       secret_key[NFLTR_PROOF_SECRET_KEY_SIZE];
  char        *signing_key;
  GHashTable  *checks;       /* Check* set */
  GHashTable  *due;          /* RelayBinding* (ref) → gint64 monotonic µs when due */
};

const char *
relay_proof_result_to_string (RelayProofResult result)
{
  switch (result)
    {
    case RELAY_PROOF_PENDING:
      return "pending";
    case RELAY_PROOF_OK:
      return "verified";
    case RELAY_PROOF_MISMATCH:
      return "mismatch";
    case RELAY_PROOF_UNREACHABLE:
      return "unreachable";
    case RELAY_PROOF_INSPECTABLE:
      return "inspectable";
    default:
      return "pending";
    }
}

gboolean
relay_proof_signing_key_load (const char *data_dir, guint8 secret_key[NFLTR_PROOF_SECRET_KEY_SIZE],
                              char **public_text, GError **error)
{
  g_autofree char *path = g_build_filename (data_dir, SIGNING_KEY_FILE, NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) local = NULL;
  guint8 public_key[NFLTR_PROOF_PUBLIC_KEY_SIZE];

  if (g_file_get_contents (path, &contents, NULL, &local))
    {
      g_autofree guchar *raw = NULL;
      gsize len = 0;

      if (!g_str_has_prefix (contents, SIGNING_KEY_HEADER) ||
          (raw = g_base64_decode (g_strstrip (contents + strlen (SIGNING_KEY_HEADER)), &len)) == NULL ||
          len != NFLTR_PROOF_SECRET_KEY_SIZE)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s is not an nfltr-relay signing key; move it away to make a new one "
                       "(agents that pinned the old key will refuse the new one)", path);
          return FALSE;
        }
      memcpy (secret_key, raw, NFLTR_PROOF_SECRET_KEY_SIZE);
      memset (raw, 0, len);
    }
  else if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_autofree char *b64 = NULL;
      g_autofree char *text = NULL;

      if (g_mkdir_with_parents (data_dir, 0700) != 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                       data_dir, g_strerror (saved));
          return FALSE;
        }
      nfltr_proof_keypair (public_key, secret_key);
      b64 = g_base64_encode (secret_key, NFLTR_PROOF_SECRET_KEY_SIZE);
      text = g_strconcat (SIGNING_KEY_HEADER, b64, "\n", NULL);
      if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
        return FALSE;
      memset (b64, 0, strlen (b64));
      memset (text, 0, strlen (text));
      g_message ("created the relay's proof signing key %s", path);
    }
  else
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  /* The public half is the second 32 bytes of libsodium's 64-byte secret key. */
  memcpy (public_key, secret_key + 32, NFLTR_PROOF_PUBLIC_KEY_SIZE);
  if (public_text != NULL)
    *public_text = nfltr_proof_key_format (public_key);
  return TRUE;
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static char *
format_time (gint64 when)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (when);

  return time ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ") : g_strdup ("?");
}

static void
schedule (RelayProof *proof, RelayBinding *binding, gint64 delay_us)
{
  g_hash_table_replace (proof->due, relay_binding_ref (binding),
                        g_memdup2 (&(gint64) { g_get_monotonic_time () + delay_us }, sizeof (gint64)));
}

static void
check_clear (Check *check)
{
  g_clear_object (&check->tls);
  g_clear_object (&check->ours);
  g_clear_object (&check->cancellable);
  g_clear_pointer (&check->binding, relay_binding_unref);
  g_free (check->observed);
}

static Check *
check_ref (Check *check)
{
  return g_rc_box_acquire (check);
}

static void
check_unref (Check *check)
{
  g_rc_box_release_full (check, (GDestroyNotify) check_clear);
}

/* Ends a check for good (the checker's table lets go of it): its handshake callback, if still
 * to come, sees finished and only drops its reference. */
static void
check_stop (Check *check)
{
  check->finished = TRUE;
  g_clear_handle_id (&check->timeout_id, g_source_remove);
  g_cancellable_cancel (check->cancellable);
  if (check->ours != NULL)
    g_io_stream_close (G_IO_STREAM (check->ours), NULL, NULL);
  check_unref (check);
}

/* Records the outcome on the binding and in the store, and ends the check. */
static void
check_finish (Check *check, const char *failure)
{
  RelayProof *proof = check->proof;
  RelayBinding *binding = check->binding;
  g_autoptr(GError) error = NULL;
  guint8 observed[NFLTR_FINGERPRINT_LEN];

  if (check->finished)
    return;
  g_clear_handle_id (&check->timeout_id, g_source_remove);
  binding->proof_running = FALSE;
  binding->proof_checks++;
  binding->proof_checked = now_s ();
  g_clear_pointer (&binding->proof_detail, g_free);
  if (check->observed != NULL && nfltr_fingerprint_parse (check->observed, observed))
    {
      g_free (binding->proof_observed);
      binding->proof_observed = g_strdup (check->observed);
      if (memcmp (observed, binding->fingerprint, NFLTR_FINGERPRINT_LEN) == 0)
        binding->proof_result = RELAY_PROOF_OK;
      else
        {
          binding->proof_result = RELAY_PROOF_MISMATCH;
          binding->proof_flagged = TRUE;
          binding->proof_detail = g_strdup_printf ("the agent declared %s in BIND but its TLS server "
                                                   "presented %s", binding->fingerprint_text,
                                                   check->observed);
        }
    }
  else
    {
      /* No certificate seen this time: the last one observed stays on record. */
      binding->proof_result = RELAY_PROOF_UNREACHABLE;
      binding->proof_detail = g_strdup (failure ? failure : "no certificate was presented");
    }

  if (binding->proof_result == RELAY_PROOF_MISMATCH)
    g_message ("proof: %s FLAGGED: %s", binding->host, binding->proof_detail);
  else
    g_message ("proof: %s %s%s%s", binding->host, relay_proof_result_to_string (binding->proof_result),
               binding->proof_detail ? ": " : "", binding->proof_detail ? binding->proof_detail : "");

  if (!relay_store_proof_record (proof->server->store, binding->host, binding->proof_checked,
                                 relay_proof_result_to_string (binding->proof_result),
                                 binding->fingerprint_text, binding->proof_observed,
                                 binding->proof_flagged, &error))
    g_message ("%s", error->message);
  if (binding->agent != NULL)
    schedule (proof, binding,
              (gint64) (binding->proof_result == RELAY_PROOF_UNREACHABLE
                          ? MIN (proof->interval_s, RETRY_UNREACHABLE_S)
                          : proof->interval_s) * G_USEC_PER_SEC);
  g_hash_table_remove (proof->checks, check);  /* stops it */
}

static gboolean
accept_certificate_cb (GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors,
                       gpointer user_data)
{
  Check *check = user_data;
  g_autoptr(GByteArray) der = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];

  /* Whatever is presented is recorded and accepted: the check reports, the comparison with
   * BIND happens afterwards, and there is no CA to check against. */
  g_object_get (cert, "certificate", &der, NULL);
  if (der != NULL)
    {
      nfltr_fingerprint_of_der (der->data, der->len, digest);
      g_free (check->observed);
      check->observed = nfltr_fingerprint_format (digest);
    }
  return TRUE;
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Check *check = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      g_autofree char *why = g_strdup_printf ("TLS handshake through the tunnel failed: %s", error->message);

      check_finish (check, why);  /* nothing if it already timed out or the relay stops */
    }
  else
    check_finish (check, NULL);
  check_unref (check);
}

static gboolean
check_timeout_cb (gpointer user_data)
{
  Check *check = user_data;

  check->timeout_id = 0;
  check_finish (check, "no TLS handshake through the tunnel in time (the agent did not attach or answer)");
  return G_SOURCE_REMOVE;
}

static void
check_start (RelayProof *proof, RelayBinding *binding)
{
  RelayServer *server = proof->server;
  g_autoptr(GSocket) a = NULL;
  g_autoptr(GSocket) b = NULL;
  g_autoptr(GSocketConnection) theirs = NULL;
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autoptr(GBytes) nothing = g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;
  Check *check;
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      g_message ("proof: %s not checked: socketpair: %s", binding->host, g_strerror (errno));
      schedule (proof, binding, RETRY_UNREACHABLE_S * G_USEC_PER_SEC);
      return;
    }
  a = g_socket_new_from_fd (fds[0], NULL);
  b = g_socket_new_from_fd (fds[1], NULL);
  if (a == NULL || b == NULL)
    {
      if (a == NULL)
        close (fds[0]);
      if (b == NULL)
        close (fds[1]);
      schedule (proof, binding, RETRY_UNREACHABLE_S * G_USEC_PER_SEC);
      return;
    }

  check = g_rc_box_new0 (Check);
  check->proof = proof;
  check->binding = relay_binding_ref (binding);
  check->cancellable = g_cancellable_new ();
  check->ours = g_socket_connection_factory_create_connection (a);
  theirs = g_socket_connection_factory_create_connection (b);
  identity = g_network_address_new (binding->host, 443);
  check->tls = g_initable_new (g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()),
                               NULL, &error,
                               "base-io-stream", check->ours,
                               "server-identity", identity,
                               "database", NULL,
                               NULL);
  g_hash_table_add (proof->checks, check);
  binding->proof_running = TRUE;
  if (check->tls == NULL)
    {
      g_autofree char *why = g_strdup_printf ("cannot set up TLS: %s", error->message);

      check_finish (check, why);
      return;
    }
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (check->tls), FALSE);
  g_signal_connect (check->tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), check);
  check->timeout_id = g_timeout_add_seconds (server->config.attach_timeout_s + server->config.handshake_timeout_s,
                                             check_timeout_cb, check);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (check->tls), G_PRIORITY_DEFAULT, check->cancellable,
                                    handshake_cb, check_ref (check));
  /* The same path as a visitor: CONN_OPEN, the data connection, the splice. The agent is told
   * the client is the relay's own address, which is the truth. */
  relay_attach_open (server->attach, binding, theirs, nothing, server->listen_text ? server->listen_text : "relay");
  g_debug ("proof: checking %s", binding->host);
}

/* Starts every check that is due, for bindings still registered and bound. */
static void
run_due (RelayProof *proof)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GPtrArray) start = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_binding_unref);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, proof->due);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      RelayBinding *binding = key;

      if (binding->agent == NULL || relay_registry_lookup (proof->server->registry, binding->name) != binding)
        {
          g_hash_table_iter_remove (&iter);  /* unbound or replaced: its successor has its own */
          continue;
        }
      if (*(gint64 *) value > now || binding->proof_running)
        continue;
      g_ptr_array_add (start, relay_binding_ref (binding));
      g_hash_table_iter_remove (&iter);
    }
  for (guint i = 0; i < start->len; i++)
    check_start (proof, start->pdata[i]);
}

static gboolean
tick_cb (gpointer user_data)
{
  run_due (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
idle_cb (gpointer user_data)
{
  RelayProof *proof = user_data;

  proof->idle_id = 0;
  run_due (proof);
  return G_SOURCE_REMOVE;
}

/* Every BIND (a new tunnel, a re-bind, perhaps a new certificate) is checked at once: from an
 * idle callback, so BOUND has gone out before CONN_OPEN. */
static void
binding_inserted_cb (RelayBinding *binding, gpointer user_data)
{
  RelayProof *proof = user_data;

  if (binding->mode == NFLTR_MODE_INSPECTABLE)
    {
      binding->proof_result = RELAY_PROOF_INSPECTABLE;
      return;
    }
  binding->proof_result = RELAY_PROOF_PENDING;
  schedule (proof, binding, 0);
  if (proof->idle_id == 0)
    proof->idle_id = g_idle_add (idle_cb, proof);
}

RelayProof *
relay_proof_new (RelayServer *server, guint interval_s, GError **error)
{
  g_autoptr(RelayProof) proof = g_new0 (RelayProof, 1);

  proof->server = server;
  proof->interval_s = MAX (interval_s, 1);
  proof->checks = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) check_stop, NULL);
  proof->due = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) relay_binding_unref, g_free);
  if (!relay_proof_signing_key_load (server->config.data_dir, proof->secret_key, &proof->signing_key, error))
    return NULL;
  relay_registry_set_insert_func (server->registry, binding_inserted_cb, proof);
  proof->tick_id = g_timeout_add_seconds (TICK_S, tick_cb, proof);
  return g_steal_pointer (&proof);
}

void
relay_proof_free (RelayProof *proof)
{
  if (proof == NULL)
    return;
  if (proof->server != NULL && proof->server->registry != NULL)
    relay_registry_set_insert_func (proof->server->registry, NULL, NULL);
  g_clear_handle_id (&proof->tick_id, g_source_remove);
  g_clear_handle_id (&proof->idle_id, g_source_remove);
  g_clear_pointer (&proof->checks, g_hash_table_unref);
  g_clear_pointer (&proof->due, g_hash_table_unref);
  memset (proof->secret_key, 0, sizeof proof->secret_key);
  g_free (proof->signing_key);
  g_free (proof);
}

const char *
relay_proof_get_signing_key (RelayProof *proof)
{
  return proof->signing_key;
}

void
relay_proof_check_now (RelayServer *server, const char *name)
{
  RelayBinding *binding = relay_registry_lookup (server->registry, name);

  if (server->proof == NULL || binding == NULL || binding->agent == NULL ||
      binding->mode == NFLTR_MODE_INSPECTABLE || binding->proof_running)
    return;
  check_start (server->proof, binding);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_strings (JsonBuilder *b, const char *name, const char * const *values)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; values[i] != NULL; i++)
    json_builder_add_string_value (b, values[i]);
  json_builder_end_array (b);
}

/* Plain words on what the relay can and cannot see, per mode (docs/security.md "Proof"). */
static const char * const verified_can_see[] = {
  "the tunnel's name (from the TLS ClientHello's SNI) and when each connection opens and closes",
  "the visitor's IP address and the number of bytes each way",
  "the certificate the agent presents (its fingerprint is above)",
  NULL
};
static const char * const verified_cannot_see[] = {
  "the content of the traffic: TLS runs from the visitor to the agent, whose key the relay never holds",
  "request paths, headers, cookies, passwords or responses",
  NULL
};
static const char * const inspectable_can_see[] = {
  "everything: in inspectable mode the relay terminates the visitor's TLS with its own certificate "
  "and can read and change every request and response",
  NULL
};
static const char * const inspectable_cannot_see[] = {
  "nothing is hidden from the relay in this mode; only the relay-to-agent hop is encrypted "
  "(pinned to the agent's certificate)",
  NULL
};
static const char * const proves[] = {
  "that this relay, holding the signing key named in the bundle, says it connected through the "
  "tunnel at the time of the last check and was served the observed certificate",
  "that the observed certificate matches (or not) the fingerprint the agent declared",
  NULL
};
static const char * const does_not_prove[] = {
  "that the relay tells the truth: a relay can sign a lie about itself",
  "that you are talking to the agent: compare the certificate your own client is served with the "
  "observed fingerprint",
  "that the agent serves the same certificate to every visitor between checks",
  NULL
};

JsonNode *
relay_proof_get (RelayServer *server, const char *name)
{
  RelayBinding *binding = relay_registry_lookup (server->registry, name);
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *checked = NULL;
  g_autofree char *issued = format_time (now_s ());
  gboolean inspectable;
  RelayProofResult result;

  if (binding == NULL || binding->agent == NULL)
    return NULL;
  inspectable = binding->mode == NFLTR_MODE_INSPECTABLE;
  result = inspectable ? RELAY_PROOF_INSPECTABLE : binding->proof_result;
  if (binding->proof_checked != 0 && !inspectable)
    checked = format_time (binding->proof_checked);

  b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "name", binding->name);
  add_string (b, "host", binding->host);
  add_string (b, "url", binding->url);
  add_string (b, "mode", relay_binding_mode_to_string (binding));
  add_string (b, "kind", binding->kind);
  add_string (b, "agent-id", relay_agent_get_id (binding->agent));
  add_string (b, "declared-fingerprint", binding->fingerprint_text);
  add_string (b, "observed-fingerprint", inspectable ? NULL : binding->proof_observed);
  add_string (b, "since", binding->since);
  add_string (b, "checked", checked);
  add_string (b, "result", relay_proof_result_to_string (result));
  add_string (b, "detail", inspectable ? "inspectable mode: the relay terminates the public TLS, so "
                                         "there is nothing end to end to check"
                                       : binding->proof_detail);
  json_builder_set_member_name (b, "flagged");
  json_builder_add_boolean_value (b, !inspectable && binding->proof_flagged);
  json_builder_set_member_name (b, "checks");
  json_builder_add_int_value (b, inspectable ? 0 : binding->proof_checks);
  json_builder_set_member_name (b, "check-interval-seconds");
  json_builder_add_int_value (b, server->proof ? server->proof->interval_s : 0);
  add_string (b, "issued", issued);
  json_builder_set_member_name (b, "relay");
  json_builder_begin_object (b);
  add_string (b, "domain", server->config.domain);
  add_string (b, "version", PACKAGE_VERSION);
  add_string (b, "certificate-fingerprint", server->identity->fingerprint);
  add_string (b, "signing-key", server->proof ? server->proof->signing_key : NULL);
  json_builder_end_object (b);
  add_strings (b, "relay-can-see", inspectable ? inspectable_can_see : verified_can_see);
  add_strings (b, "relay-cannot-see", inspectable ? inspectable_cannot_see : verified_cannot_see);
  add_strings (b, "bundle-proves", proves);
  add_strings (b, "bundle-does-not-prove", does_not_prove);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

GBytes *
relay_proof_get_bundle (RelayServer *server, const char *name)
{
  g_autoptr(JsonNode) proof = relay_proof_get (server, name);
  g_autoptr(GError) error = NULL;
  GBytes *bundle;

  if (proof == NULL || server->proof == NULL)
    return NULL;
  bundle = nfltr_proof_bundle_sign (proof, server->proof->secret_key, &error);
  if (bundle == NULL)
    g_warning ("proof bundle of %s: %s", name, error->message);
  return bundle;
}
