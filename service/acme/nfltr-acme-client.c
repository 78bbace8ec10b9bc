/* nfltr-acme-client.c — one ACME issuance (RFC 8555), blocking, on a worker thread */
#define G_LOG_DOMAIN "nfltr-acme"

#include "nfltr-acme-client.h"

#include <libsoup/soup.h>
#include <string.h>

#include "nfltr-acme-cert.h"
#include "nfltr-acme-json.h"
#include "nfltr-acme-jws.h"
#include "nfltr-error.h"

/* How long the CA may take to validate a challenge or to issue. */
#define POLL_TIMEOUT_S 120
/* §6.5: a badNonce is retried with the fresh nonce the error carried. */
#define MAX_BAD_NONCE_RETRIES 5
/* No CA answer is this big; a bigger one is refused unread. */
#define MAX_ANSWER_SIZE (1024 * 1024)
#define CONTENT_TYPE_JOSE "application/jose+json"
#define CHALLENGE_TLS_ALPN "tls-alpn-01"

typedef struct {
  SoupSession *session;
  GCancellable *cancellable;
  NfltrAcmeKey *key;
  NfltrAcmeDirectory *dir;
  char *kid;
  char *nonce;
} Acme;

static void
acme_clear (Acme *a)
{
  g_clear_object (&a->session);
  g_clear_pointer (&a->key, nfltr_acme_key_free);
  g_clear_pointer (&a->dir, nfltr_acme_directory_free);
  g_clear_pointer (&a->kid, g_free);
  g_clear_pointer (&a->nonce, g_free);
}

static void
keep_nonce (Acme *a, SoupMessage *msg)
{
  const char *nonce = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Replay-Nonce");

  if (nonce != NULL && *nonce != '\0' && strlen (nonce) < 256)
    {
      g_free (a->nonce);
      a->nonce = g_strdup (nonce);
    }
}

/* The CA's answer to msg, read whole; transport failures name the URL. */
static GBytes *
send_message (Acme *a, SoupMessage *msg, const char *url, GError **error)
{
  g_autoptr(GError) local = NULL;
  GBytes *body = soup_session_send_and_read (a->session, msg, a->cancellable, &local);

  if (body == NULL)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_propagate_error (error, g_steal_pointer (&local));
      else
        g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE, "cannot reach the ACME server at %s: %s",
                     url, local->message);
      return NULL;
    }
  if (g_bytes_get_size (body) > MAX_ANSWER_SIZE)
    {
      g_bytes_unref (body);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server's answer from %s is too big", url);
      return NULL;
    }
  keep_nonce (a, msg);
  return body;
}

static gboolean
problem_error (SoupMessage *msg, GBytes *body, const char *url, GError **error, gboolean *bad_nonce)
{
  g_autoptr(NfltrAcmeProblem) problem = nfltr_acme_problem_parse (g_bytes_get_data (body, NULL),
                                                                  g_bytes_get_size (body), NULL);
  g_autofree char *words = NULL;

  if (bad_nonce != NULL)
    *bad_nonce = problem != NULL && g_strcmp0 (problem->type, "urn:ietf:params:acme:error:badNonce") == 0;
  if (problem == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server answered %u %s for %s",
                   soup_message_get_status (msg), soup_message_get_reason_phrase (msg), url);
      return FALSE;
    }
  words = nfltr_acme_problem_to_message (problem);
  g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "ACME: %s", words);
  return FALSE;
}

static gboolean
get_directory (Acme *a, const char *url, GError **error)
{
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GBytes) body = NULL;

  if (msg == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "“%s” is not an ACME directory URL", url);
      return FALSE;
    }
  if ((body = send_message (a, msg, url, error)) == NULL)
    return FALSE;
  if (soup_message_get_status (msg) != SOUP_STATUS_OK)
    return problem_error (msg, body, url, error, NULL);
  a->dir = nfltr_acme_directory_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
  return a->dir != NULL;
}

static gboolean
fetch_nonce (Acme *a, GError **error)
{
  g_autoptr(SoupMessage) msg = soup_message_new ("HEAD", a->dir->new_nonce);
  g_autoptr(GBytes) body = NULL;

  if (msg == NULL)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server's newNonce is not a URL");
      return FALSE;
    }
  g_clear_pointer (&a->nonce, g_free);
  if ((body = send_message (a, msg, a->dir->new_nonce, error)) == NULL)
    return FALSE;
  if (a->nonce == NULL)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server gave no Replay-Nonce");
      return FALSE;
    }
  return TRUE;
}

/* §6.2: a JWS-signed POST; payload NULL is POST-as-GET. The answer's body, msg_out (optional)
 * the message for its status and headers. A problem document is the error. */
static GBytes *
acme_post (Acme *a, const char *url, const char *payload, gboolean use_jwk, const char *accept,
           SoupMessage **msg_out, GError **error)
{
  for (guint attempt = 0;; attempt++)
    {
      g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);
      g_autoptr(GBytes) body = NULL;
      g_autoptr(GBytes) request = NULL;
      g_autoptr(GError) local = NULL;
      char *jws;
      gboolean bad_nonce = FALSE;

      if (msg == NULL)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server gave “%s” as a URL", url);
          return NULL;
        }
      if (a->nonce == NULL && !fetch_nonce (a, error))
        return NULL;
      jws = nfltr_acme_jws_sign (a->key, use_jwk ? NULL : a->kid, a->nonce, url, payload, error);
      if (jws == NULL)
        return NULL;
      g_clear_pointer (&a->nonce, g_free);  /* each nonce is good for one request */
      request = g_bytes_new_take (jws, strlen (jws));
      soup_message_set_request_body_from_bytes (msg, CONTENT_TYPE_JOSE, request);
      if (accept != NULL)
        soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept", accept);
      if ((body = send_message (a, msg, url, error)) == NULL)
        return NULL;
      if (soup_message_get_status (msg) < 400)
        {
          if (msg_out != NULL)
            *msg_out = g_steal_pointer (&msg);
          return g_steal_pointer (&body);
        }
      problem_error (msg, body, url, &local, &bad_nonce);
      if (bad_nonce && attempt < MAX_BAD_NONCE_RETRIES)
        {
          g_debug ("ACME: badNonce from %s, retrying with a fresh nonce", url);
          continue;
        }
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
}

static gboolean
new_account (Acme *a, const char *email, GError **error)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *payload = NULL;
  const char *location;

  /* §7.3: agreeing to the CA's terms is the user's act of asking for a certificate. */
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "termsOfServiceAgreed");
  json_builder_add_boolean_value (b, TRUE);
  if (email != NULL && *email != '\0')
    {
      g_autofree char *mailto = g_strconcat ("mailto:", email, NULL);

      json_builder_set_member_name (b, "contact");
      json_builder_begin_array (b);
      json_builder_add_string_value (b, mailto);
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  payload = json_to_string (root, FALSE);
  body = acme_post (a, a->dir->new_account, payload, TRUE, NULL, &msg, error);
  if (body == NULL)
    return FALSE;
  location = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Location");
  if (location == NULL || *location == '\0')
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server gave the account no URL");
      return FALSE;
    }
  a->kid = g_strdup (location);
  g_debug ("ACME account %s", a->kid);
  return TRUE;
}

/* Sleeps seconds or until cancelled. */
static gboolean
sleep_cancellable (Acme *a, guint seconds, GError **error)
{
  for (guint i = 0; i < seconds * 10; i++)
    {
      if (g_cancellable_set_error_if_cancelled (a->cancellable, error))
        return FALSE;
      g_usleep (100 * G_TIME_SPAN_MILLISECOND);
    }
  return !g_cancellable_set_error_if_cancelled (a->cancellable, error);
}

/* §8.2: Retry-After in seconds (or 1 s), at most 10 s. */
static guint
retry_after (SoupMessage *msg)
{
  const char *value = msg != NULL ? soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After") : NULL;
  guint64 s = 1;

  if (value != NULL && g_ascii_string_to_unsigned (value, 10, 1, 10, &s, NULL))
    return (guint) s;
  return 1;
}

static gboolean
answer_challenge (Acme *a, const NfltrAcmeRequest *req, const char *authz_url, NfltrAcmeChallengeFunc set_challenge,
                  gpointer user_data, GError **error)
{
  g_autoptr(GBytes) body = acme_post (a, authz_url, NULL, FALSE, NULL, NULL, error);
  g_autoptr(NfltrAcmeAuthorization) authz = NULL;
  g_autoptr(GBytes) answer = NULL;
  g_autofree char *key_auth = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  NfltrAcmeChallenge *challenge;
  gint64 deadline = g_get_monotonic_time () + POLL_TIMEOUT_S * G_TIME_SPAN_SECOND;
  gboolean ok = FALSE;
  guint wait = 1;

  if (body == NULL)
    return FALSE;
  authz = nfltr_acme_authorization_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
  if (authz == NULL)
    return FALSE;
  if (authz->status == NFLTR_ACME_STATUS_VALID)
    return TRUE;  /* validated recently: the CA reuses it */
  challenge = nfltr_acme_authorization_find (authz, CHALLENGE_TLS_ALPN);
  if (challenge == NULL || challenge->token == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                   "ACME: the CA offers no tls-alpn-01 challenge for %s, the only one an agent behind "
                   "the relay can answer", authz->identifier);
      return FALSE;
    }
  key_auth = nfltr_acme_key_authorization (challenge->token, nfltr_acme_key_get_thumbprint (a->key));
  if (!nfltr_acme_challenge_certificate (authz->identifier, key_auth, &cert_pem, &key_pem, error) ||
      !set_challenge (authz->identifier, cert_pem, key_pem, user_data, error))
    return FALSE;
  g_debug ("ACME: answering tls-alpn-01 for %s", authz->identifier);
  /* §7.5.1: an empty object says "ready, validate now". */
  answer = acme_post (a, challenge->url, "{}", FALSE, NULL, NULL, error);
  if (answer == NULL)
    goto out;
  for (;;)
    {
      g_autoptr(SoupMessage) msg = NULL;
      g_autoptr(GBytes) poll = NULL;
      g_autoptr(NfltrAcmeAuthorization) now = NULL;
      NfltrAcmeChallenge *c;

      if (!sleep_cancellable (a, wait, error))
        goto out;
      poll = acme_post (a, authz_url, NULL, FALSE, NULL, &msg, error);
      if (poll == NULL)
        goto out;
      wait = retry_after (msg);
      now = nfltr_acme_authorization_parse (g_bytes_get_data (poll, NULL), g_bytes_get_size (poll), error);
      if (now == NULL)
        goto out;
      if (now->status == NFLTR_ACME_STATUS_VALID)
        {
          ok = TRUE;
          goto out;
        }
      if (now->status != NFLTR_ACME_STATUS_PENDING)
        {
          c = nfltr_acme_authorization_find (now, CHALLENGE_TLS_ALPN);
          if (c != NULL && c->error != NULL)
            {
              /* The CA's own account of its check (which address, what it got) says most;
               * the type's words come after it, as CAs differ in the types they pick here
               * (pebble calls a failed lookup "malformed"). */
              g_autofree char *words = nfltr_acme_problem_to_message (c->error);

              g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                           "ACME: the CA could not validate %s through the tunnel: %s (%s)", now->identifier,
                           c->error->detail != NULL ? c->error->detail : "no reason given", words);
            }
          else
            g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "ACME: the CA marked %s %s", now->identifier,
                         nfltr_acme_status_to_string (now->status));
          goto out;
        }
      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                       "ACME: the CA did not validate %s within %d s", now->identifier, POLL_TIMEOUT_S);
          goto out;
        }
    }
out:
  set_challenge (authz->identifier, NULL, NULL, user_data, NULL);
  return ok;
}

/* Polls the order (POST-as-GET) until it leaves pending/ready/processing. */
static NfltrAcmeOrder *
poll_order (Acme *a, const char *order_url, NfltrAcmeOrder *order, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + POLL_TIMEOUT_S * G_TIME_SPAN_SECOND;
  g_autoptr(NfltrAcmeOrder) current = order;
  guint wait = 1;

  while (current->status == NFLTR_ACME_STATUS_PROCESSING || current->status == NFLTR_ACME_STATUS_PENDING)
    {
      g_autoptr(SoupMessage) msg = NULL;
      g_autoptr(GBytes) body = NULL;

      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "ACME: the CA did not issue within %d s",
                       POLL_TIMEOUT_S);
          return NULL;
        }
      if (!sleep_cancellable (a, wait, error))
        return NULL;
      body = acme_post (a, order_url, NULL, FALSE, NULL, &msg, error);
      if (body == NULL)
        return NULL;
      wait = retry_after (msg);
      g_clear_pointer (&current, nfltr_acme_order_free);
      current = nfltr_acme_order_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
      if (current == NULL)
        return NULL;
    }
  return g_steal_pointer (&current);
}

static gboolean
order_failed (NfltrAcmeOrder *order, const char *domain, GError **error)
{
  if (order->error != NULL)
    {
      g_autofree char *words = nfltr_acme_problem_to_message (order->error);

      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "ACME: %s", words);
    }
  else
    g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "ACME: the order for %s is %s", domain,
                 nfltr_acme_status_to_string (order->status));
  return FALSE;
}

static char *
issue (Acme *a, const NfltrAcmeRequest *req, NfltrAcmeChallengeFunc set_challenge, gpointer user_data,
       GError **error)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(NfltrAcmeOrder) order = NULL;
  g_autofree char *order_url = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *csr = NULL;
  g_autofree char *chain = NULL;
  g_autoptr(GBytes) cert = NULL;

  if (!get_directory (a, req->directory_url, error) || !fetch_nonce (a, error) ||
      !new_account (a, req->email, error))
    return NULL;

  /* §7.4: one dns identifier. */
  payload = g_strdup_printf ("{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}", req->domain);
  body = acme_post (a, a->dir->new_order, payload, FALSE, NULL, &msg, error);
  if (body == NULL)
    return NULL;
  order_url = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (msg), "Location"));
  order = nfltr_acme_order_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
  if (order == NULL)
    return NULL;
  if (order_url == NULL)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server gave the order no URL");
      return NULL;
    }
  for (guint i = 0; order->authorizations[i] != NULL; i++)
    if (!answer_challenge (a, req, order->authorizations[i], set_challenge, user_data, error))
      return NULL;

  /* §7.4: finalize with the CSR once every authorization is valid. */
  csr = nfltr_acme_csr (req->domain, req->key_pem, error);
  if (csr == NULL)
    return NULL;
  g_free (payload);
  payload = g_strdup_printf ("{\"csr\":\"%s\"}", csr);
  g_clear_pointer (&body, g_bytes_unref);
  body = acme_post (a, order->finalize, payload, FALSE, NULL, NULL, error);
  if (body == NULL)
    return NULL;
  g_clear_pointer (&order, nfltr_acme_order_free);
  order = nfltr_acme_order_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
  if (order == NULL)
    return NULL;
  order = poll_order (a, order_url, g_steal_pointer (&order), error);
  if (order == NULL)
    return NULL;
  if (order->status != NFLTR_ACME_STATUS_VALID || order->certificate == NULL)
    return order_failed (order, req->domain, error), NULL;

  /* §7.4.2 */
  cert = acme_post (a, order->certificate, NULL, FALSE, "application/pem-certificate-chain", NULL, error);
  if (cert == NULL)
    return NULL;
  chain = g_strndup (g_bytes_get_data (cert, NULL), g_bytes_get_size (cert));
  if (!nfltr_acme_chain_info (chain, req->key_pem, req->domain, NULL, NULL, error))
    {
      g_prefix_error (error, "ACME: the CA's certificate is unusable: ");
      return NULL;
    }
  return g_steal_pointer (&chain);
}

char *
nfltr_acme_issue (const NfltrAcmeRequest *request,
                  NfltrAcmeChallengeFunc  set_challenge,
                  gpointer                user_data,
                  GCancellable           *cancellable,
                  GError                **error)
{
  Acme a = { 0 };
  g_autoptr(GMainContext) context = g_main_context_new ();
  char *chain = NULL;

  /* The session's I/O runs on this thread's own context, never the engine's. */
  g_main_context_push_thread_default (context);
  a.cancellable = cancellable;
  a.session = soup_session_new_with_options ("user-agent", "nfltr-acme (RFC 8555)", "timeout", 30, NULL);
  if (request->ca_bundle != NULL && *request->ca_bundle != '\0')
    {
      g_autoptr(GTlsDatabase) db = g_tls_file_database_new (request->ca_bundle, error);

      if (db == NULL)
        {
          g_prefix_error (error, "--acme-ca-bundle: ");
          goto out;
        }
      soup_session_set_tls_database (a.session, db);
    }
  a.key = nfltr_acme_key_load_or_create (request->account_key_path, error);
  if (a.key == NULL)
    goto out;
  chain = issue (&a, request, set_challenge, user_data, error);
out:
  acme_clear (&a);
  g_main_context_pop_thread_default (context);
  return chain;
}
