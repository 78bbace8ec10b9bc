/* relay-dashboard.c — /dashboard: server-rendered HTML, one dash_stylesheet, no script.
 *
 * Login: the operator password (argon2id in relay.db, `nfltr-relay admin set-password`) or,
 * while none is set, a one-time link printed at `serve`. A session is a random id in a cookie
 * (Secure, HttpOnly, SameSite=Strict, Path=/dashboard) and a CSRF token of its own that every
 * form carries; a POST without it is refused (403). The login form itself is a double submit
 * (a pre-login cookie equal to a hidden field). Failed logins are limited per source address.
 * Password checks run on a worker thread: argon2id is slow on purpose. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-dashboard-private.h"
#include "relay-server.h"
#include "agents/relay-agent.h"
#include "store/relay-store.h"
#include "proof/relay-proof.h"
#include "tunnels/relay-registry.h"
#include "nfltr-error.h"

#include <gnutls/crypto.h>
#include <sodium.h>
#include <string.h>

/* Recent refusals, newest last: refusal logging is process-wide, and so is this ring. */
static GQueue refusals = G_QUEUE_INIT;

GQueue *
relay_dashboard_refusals (void)
{
  return &refusals;
}

static void
refusal_free (Refusal *r)
{
  g_free (r->when);
  g_free (r->peer);
  g_free (r->reason);
  g_free (r->detail);
  g_free (r);
}

static void
refusal_observer (const char *peer, const char *reason, const char *detail)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  Refusal *r = g_new0 (Refusal, 1);

  r->when = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
  r->peer = g_strdup (peer);
  r->reason = g_strdup (reason);
  r->detail = g_strdup (detail);
  g_queue_push_tail (&refusals, r);
  while (g_queue_get_length (&refusals) > REFUSALS_KEPT)
    refusal_free (g_queue_pop_head (&refusals));
}

static void
session_free (DashSession *s)
{
  g_free (s->csrf);
  g_free (s);
}

char *
dash_random_hex (gsize bytes)
{
  g_autofree guint8 *random = g_malloc (bytes);
  GString *text = g_string_sized_new (bytes * 2);

  gnutls_rnd (GNUTLS_RND_KEY, random, bytes);
  for (gsize i = 0; i < bytes; i++)
    g_string_append_printf (text, "%02x", random[i]);
  return g_string_free (text, FALSE);
}

/* Constant time, so a token cannot be guessed a byte at a time. */
static gboolean
secret_equal (const char *a, const char *b)
{
  gsize len;

  if (a == NULL || b == NULL)
    return FALSE;
  len = strlen (a);
  return len == strlen (b) && len > 0 && sodium_memcmp (a, b, len) == 0;
}

static void
dashboard_free (RelayDashboard *dash)
{
  relay_log_refusal_set_observer (NULL);
  g_queue_clear_full (&refusals, (GDestroyNotify) refusal_free);
  g_hash_table_unref (dash->sessions);
  g_hash_table_unref (dash->failures);
  g_free (dash->once);
  g_free (dash);
}

/* ---- sessions ---- */

/* The value of cookie name in the request, or NULL (soup's own parser of a; b=c lists). */
static char *
cookie_value (SoupServerMessage *msg, const char *name)
{
  const char *header = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                      "Cookie");
  GHashTable *params;
  char *value = NULL;

  if (header == NULL)
    return NULL;
  params = soup_header_parse_semi_param_list (header);
  if (params != NULL)
    {
      value = g_strdup (g_hash_table_lookup (params, name));
      soup_header_free_param_list (params);
    }
  return value;
}

/* The request's live session, or NULL (an expired one is forgotten). */
static DashSession *
session_of (RelayDashboard *dash, SoupServerMessage *msg)
{
  g_autofree char *id = cookie_value (msg, SESSION_COOKIE);
  DashSession *s;

  if (id == NULL)
    return NULL;
  s = g_hash_table_lookup (dash->sessions, id);
  if (s != NULL && s->expires <= g_get_monotonic_time ())
    {
      g_hash_table_remove (dash->sessions, id);
      return NULL;
    }
  return s;
}

static void
session_start (RelayDashboard *dash, SoupServerMessage *msg)
{
  char *id = dash_random_hex (32);
  DashSession *s = g_new0 (DashSession, 1);
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer key, value;

  /* Expired sessions go; past the cap, the one closest to its end goes too. */
  g_hash_table_iter_init (&iter, dash->sessions);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (((DashSession *) value)->expires <= now)
      g_hash_table_iter_remove (&iter);
  while (g_hash_table_size (dash->sessions) >= MAX_SESSIONS)
    {
      gpointer oldest = NULL;
      gint64 oldest_expires = G_MAXINT64;

      g_hash_table_iter_init (&iter, dash->sessions);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (((DashSession *) value)->expires < oldest_expires)
          {
            oldest = key;
            oldest_expires = ((DashSession *) value)->expires;
          }
      g_hash_table_remove (dash->sessions, oldest);
    }
  s->csrf = dash_random_hex (32);
  s->expires = now + (gint64) SESSION_LIFETIME_S * G_USEC_PER_SEC;
  g_hash_table_insert (dash->sessions, id, s);
  dash_set_cookie (msg, SESSION_COOKIE, id, SESSION_LIFETIME_S);
  dash_set_cookie (msg, LOGIN_COOKIE, "", 0);
}

/* ---- forms ---- */

/* The urlencoded body of a POST as name → value, or NULL when it is not one (or too big). */
static GHashTable *
form_of (SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *text = NULL;
  const char *type = soup_message_headers_get_content_type (soup_server_message_get_request_headers (msg),
                                                            NULL);
  gsize len;
  const char *data;

  if (g_strcmp0 (type, "application/x-www-form-urlencoded") != 0)
    return NULL;
  bytes = soup_message_body_flatten (body);
  data = g_bytes_get_data (bytes, &len);
  if (len > FORM_MAX_BYTES || (data != NULL && memchr (data, '\0', len) != NULL))
    return NULL;
  text = g_strndup (data ? data : "", len);
  return soup_form_decode (text);
}

static const char *
form_get (GHashTable *form, const char *name)
{
  return form ? g_hash_table_lookup (form, name) : NULL;
}

/* ---- login ---- */

typedef struct {
  RelayDashboard    *dash;
  SoupServerMessage *msg;
  char              *password;
  char              *hash;
  char              *source;
} PasswordCheck;

static void
password_check_free (PasswordCheck *check)
{
  g_object_unref (check->msg);
  if (check->password != NULL)
    sodium_memzero (check->password, strlen (check->password));
  g_free (check->password);
  g_free (check->hash);
  g_free (check->source);
  g_free (check);
}

static void
password_check_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  PasswordCheck *check = data;

  g_task_return_boolean (task, crypto_pwhash_str_verify (check->hash, check->password,
                                                         strlen (check->password)) == 0);
}

/* TRUE when source may try a password now; counts nothing. */
static gboolean
login_allowed (RelayDashboard *dash, const char *source)
{
  LoginFailures *f = g_hash_table_lookup (dash->failures, source);
  gint64 now = g_get_monotonic_time ();

  if (f == NULL)
    return TRUE;
  if (now - f->start >= (gint64) LOGIN_WINDOW_S * G_USEC_PER_SEC)
    {
      g_hash_table_remove (dash->failures, source);
      return TRUE;
    }
  return f->count < LOGIN_FAILURES_MAX;
}

static void
login_failed (RelayDashboard *dash, const char *source)
{
  LoginFailures *f = g_hash_table_lookup (dash->failures, source);

  if (f == NULL)
    {
      /* Bounded: a flood of sources forgets the oldest windows wholesale. */
      if (g_hash_table_size (dash->failures) > 4096)
        g_hash_table_remove_all (dash->failures);
      f = g_new0 (LoginFailures, 1);
      f->start = g_get_monotonic_time ();
      g_hash_table_insert (dash->failures, g_strdup (source), f);
    }
  f->count++;
}

static void
password_checked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PasswordCheck *check = user_data;
  RelayDashboard *dash = check->dash;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), NULL);

  soup_server_message_unpause (check->msg);
  if (ok)
    {
      g_hash_table_remove (dash->failures, check->source);
      g_message ("dashboard: operator logged in from %s", check->source);
      session_start (dash, check->msg);
      dash_reply_redirect (check->msg, DASH_PATH);
    }
  else
    {
      login_failed (dash, check->source);
      relay_log_refusal (check->source, "dashboard-login", "wrong password");
      dash_render_login (dash, check->msg, SOUP_STATUS_UNAUTHORIZED, "Wrong password.");
    }
  password_check_free (check);
}

static void
handle_login_post (RelayDashboard *dash, SoupServerMessage *msg, const char *source)
{
  g_autoptr(GHashTable) form = form_of (msg);
  g_autofree char *cookie = cookie_value (msg, LOGIN_COOKIE);
  g_autofree char *hash = NULL;
  const char *password = form_get (form, "password");
  g_autoptr(GTask) task = NULL;
  PasswordCheck *check;

  /* Double submit: a page elsewhere can make the browser post here, but cannot read or set
   * our cookie to match the field. */
  if (!secret_equal (cookie, form_get (form, "csrf")))
    {
      relay_log_refusal (source, "dashboard-csrf", "login without its CSRF token");
      dash_reply_refused (msg, SOUP_STATUS_FORBIDDEN,
                          "The form's security token is missing or stale: "
                          "reload the login page and try again.");
      return;
    }
  if (!login_allowed (dash, source))
    {
      relay_log_refusal (source, "dashboard-login", "too many failed logins");
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", "60");
      dash_render_login (dash, msg, 429 /* Too Many Requests, RFC 6585 §4 */,
                         "Too many failed logins from your address: wait a minute.");
      return;
    }
  hash = relay_store_operator_get_password (dash->server->store);
  if (hash == NULL || password == NULL || *password == '\0')
    {
      login_failed (dash, source);
      dash_render_login (dash, msg, SOUP_STATUS_UNAUTHORIZED,
                         hash == NULL ? "No operator password is set." : "Wrong password.");
      return;
    }
  check = g_new0 (PasswordCheck, 1);
  check->dash = dash;
  check->msg = g_object_ref (msg);
  check->password = g_strdup (password);
  check->hash = g_steal_pointer (&hash);
  check->source = g_strdup (source);
  soup_server_message_pause (msg);
  task = g_task_new (NULL, NULL, password_checked_cb, check);
  g_task_set_task_data (task, check, NULL);
  g_task_run_in_thread (task, password_check_thread);
}

static void
handle_once (RelayDashboard *dash, SoupServerMessage *msg, const char *source, GHashTable *query)
{
  const char *once = query ? g_hash_table_lookup (query, "once") : NULL;

  if (dash->once != NULL && dash->once_expires > g_get_monotonic_time () &&
      secret_equal (dash->once, once))
    {
      /* One use: the link is spent whether or not the browser keeps the cookie. */
      g_clear_pointer (&dash->once, g_free);
      g_message ("dashboard: operator logged in from %s with the one-time link", source);
      session_start (dash, msg);
      dash_reply_redirect (msg, DASH_PATH);
      return;
    }
  relay_log_refusal (source, "dashboard-login", "one-time link not valid (used, expired or wrong)");
  dash_render_login (dash, msg, SOUP_STATUS_UNAUTHORIZED,
                     "This one-time link is not valid (already used, expired or wrong).");
}

/* ---- actions ---- */

static void
handle_action (RelayDashboard *dash, SoupServerMessage *msg, DashSession *s, GHashTable *form,
               const char *source)
{
  RelayStore *store = dash->server->store;
  const char *op = form_get (form, "op");
  const char *name = form_get (form, "name");
  const char *id_text = form_get (form, "id");
  g_autoptr(GError) error = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *flash = NULL;
  guint64 id = 0;
  gint64 new_id;

  if (name != NULL && (*name == '\0' || strlen (name) > 64))
    name = NULL;
  if (id_text != NULL && !g_ascii_string_to_unsigned (id_text, 10, 1, G_MAXINT64, &id, NULL))
    id = 0;

  if (g_strcmp0 (op, "key-create") == 0)
    {
      if (relay_store_key_create (store, name, &secret, &new_id, &error))
        flash = g_strdup_printf ("Created API key %" G_GINT64_FORMAT ".", new_id);
    }
  else if (g_strcmp0 (op, "token-create") == 0)
    {
      const char *prefix = form_get (form, "prefix");
      guint64 uses = 1, days = 7;

      if ((form_get (form, "max_uses") != NULL &&
           !g_ascii_string_to_unsigned (form_get (form, "max_uses"), 10, 0, 1000000, &uses, NULL)) ||
          (form_get (form, "days") != NULL &&
           !g_ascii_string_to_unsigned (form_get (form, "days"), 10, 1, 365, &days, NULL)) ||
          (prefix != NULL && (strlen (prefix) > 40 || strspn (prefix, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen (prefix))))
        g_set_error_literal (&error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                             "max uses 0–1000000, days 1–365, prefix of a-z, 0-9 and '-'");
      else if (relay_store_token_create (store, name, prefix, (gint64) uses,
                                         g_get_real_time () / G_USEC_PER_SEC + (gint64) days * 86400,
                                         &secret, &new_id, &error))
        flash = g_strdup_printf ("Created fleet token %" G_GINT64_FORMAT ".", new_id);
    }
  else if (g_strcmp0 (op, "key-revoke") == 0 && id > 0)
    {
      if (relay_store_key_revoke (store, (gint64) id, &error))
        flash = g_strdup_printf ("Revoked API key %" G_GUINT64_FORMAT ": agents using it are cut "
                                 "within seconds.", id);
    }
  else if (g_strcmp0 (op, "token-revoke") == 0 && id > 0)
    {
      if (relay_store_token_revoke (store, (gint64) id, &error))
        flash = g_strdup_printf ("Revoked fleet token %" G_GUINT64_FORMAT ": it enrols nobody now.", id);
    }
  else if (g_strcmp0 (op, "agent-revoke") == 0 && id > 0)
    {
      if (relay_store_agent_revoke (store, (gint64) id, &error))
        flash = g_strdup_printf ("Revoked enrolled agent %" G_GUINT64_FORMAT ": it is cut within "
                                 "seconds.", id);
    }
  else
    g_set_error_literal (&error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "unknown action");

  if (error != NULL)
    {
      g_autofree char *text = g_strdup_printf ("Not done: %s", error->message);

      dash_render_overview (dash, msg, s, SOUP_STATUS_BAD_REQUEST, text, NULL);
      return;
    }
  g_message ("dashboard: %s from %s: %s", op, source, flash);
  dash_render_overview (dash, msg, s, SOUP_STATUS_OK, flash, secret);
}

/* ---- the handler ---- */


static void
dashboard_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
              gpointer user_data)
{
  RelayDashboard *dash = user_data;
  const char *method = soup_server_message_get_method (msg);
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  g_autofree char *peer = remote ? relay_format_address (remote) : g_strdup ("unknown");
  g_autofree char *source = relay_peer_source (peer);
  gboolean post = method == SOUP_METHOD_POST;
  DashSession *s;

  if (!post && method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD, POST");
      dash_reply_refused (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET and POST are used here.");
      return;
    }
  if (strcmp (path, DASH_PATH "/style.css") == 0 && !post)
    {
      dash_set_security_headers (msg);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "max-age=300");
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "text/css; charset=utf-8", SOUP_MEMORY_STATIC,
                                        dash_stylesheet, strlen (dash_stylesheet));
      return;
    }
  if (strcmp (path, DASH_PATH "/login") == 0)
    {
      if (post)
        handle_login_post (dash, msg, source);
      else if (query != NULL && g_hash_table_contains (query, "once"))
        handle_once (dash, msg, source, query);
      else
        dash_reply_redirect (msg, DASH_PATH);
      return;
    }

  s = session_of (dash, msg);
  if (post)
    {
      g_autoptr (GHashTable) form = form_of (msg);

      /* Every POST of a session carries its CSRF token; none is acted on without it. */
      if (s == NULL || !secret_equal (s->csrf, form_get (form, "csrf")))
        {
          relay_log_refusal (peer, "dashboard-csrf", "POST %s without a valid session and CSRF token", path);
          dash_reply_refused (msg, SOUP_STATUS_FORBIDDEN,
                              "Refused: this form has no valid security token "
                              "(log in again and resend it from the dashboard).");
          return;
        }
      if (strcmp (path, DASH_PATH "/logout") == 0)
        {
          g_autofree char *id = cookie_value (msg, SESSION_COOKIE);

          g_hash_table_remove (dash->sessions, id);
          dash_set_cookie (msg, SESSION_COOKIE, "", 0);
          dash_reply_redirect (msg, DASH_PATH);
          return;
        }
      if (strcmp (path, DASH_PATH "/action") == 0)
        {
          handle_action (dash, msg, s, form, source);
          return;
        }
      dash_reply_refused (msg, SOUP_STATUS_NOT_FOUND, "No such page.");
      return;
    }
  if (strcmp (path, DASH_PATH) != 0 && strcmp (path, DASH_PATH "/") != 0)
    {
      dash_reply_refused (msg, SOUP_STATUS_NOT_FOUND, "No such page.");
      return;
    }
  if (s == NULL)
    {
      dash_render_login (dash, msg, SOUP_STATUS_OK, NULL);
      return;
    }
  dash_render_overview (dash, msg, s, SOUP_STATUS_OK, NULL, NULL);
}

RelayDashboard *
relay_dashboard_register (SoupServer *soup, RelayServer *server)
{
  RelayDashboard *dash = g_new0 (RelayDashboard, 1);

  if (sodium_init () < 0)
    g_warning ("libsodium failed to initialise: the dashboard refuses every password");
  dash->server = server;
  dash->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) session_free);
  dash->failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  relay_log_refusal_set_observer (refusal_observer);
  soup_server_add_handler (soup, DASH_PATH, dashboard_cb, dash, (GDestroyNotify) dashboard_free);
  return dash;
}

char *
relay_dashboard_one_time_link (RelayDashboard *dash, const char *base_url)
{
  g_autofree char *password = relay_store_operator_get_password (dash->server->store);

  if (password != NULL)
    return NULL;
  g_free (dash->once);
  dash->once = dash_random_hex (32);
  dash->once_expires = g_get_monotonic_time () + (gint64) ONCE_LIFETIME_S * G_USEC_PER_SEC;
  return g_strdup_printf ("%s" DASH_PATH "/login?once=%s", base_url, dash->once);
}

char *
relay_dashboard_hash_password (const char *password, GError **error)
{
  char hash[crypto_pwhash_STRBYTES];

  if (sodium_init () < 0 ||
      crypto_pwhash_str (hash, password, strlen (password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                         crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "cannot hash the password (out of memory?)");
      return NULL;
    }
  return g_strdup (hash);
}
