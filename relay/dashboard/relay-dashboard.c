/* relay-dashboard.c — /dashboard: server-rendered HTML, one stylesheet, no script.
 *
 * Login: the operator password (argon2id in relay.db, `nfltr-relay admin set-password`) or,
 * while none is set, a one-time link printed at `serve`. A session is a random id in a cookie
 * (Secure, HttpOnly, SameSite=Strict, Path=/dashboard) and a CSRF token of its own that every
 * form carries; a POST without it is refused (403). The login form itself is a double submit
 * (a pre-login cookie equal to a hidden field). Failed logins are limited per source address.
 * Password checks run on a worker thread: argon2id is slow on purpose. */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-dashboard.h"
#include "relay-server.h"
#include "agents/relay-agent.h"
#include "store/relay-store.h"
#include "proof/relay-proof.h"
#include "tunnels/relay-registry.h"
#include "nfltr-error.h"

#include <gnutls/crypto.h>
#include <sodium.h>
#include <string.h>

#define DASH_PATH            "/dashboard"
#define SESSION_COOKIE       "nfltr_dash"
#define LOGIN_COOKIE         "nfltr_dash_login"
#define SESSION_LIFETIME_S   (12 * 3600)
#define MAX_SESSIONS         64
#define ONCE_LIFETIME_S      (15 * 60)
/* Failed logins: at most this many per source address per window, then 429 until it ends. */
#define LOGIN_FAILURES_MAX   5
#define LOGIN_WINDOW_S       60
#define REFUSALS_KEPT        100
#define FORM_MAX_BYTES       4096

typedef struct {
  char   *csrf;
  gint64  expires;   /* monotonic µs */
} DashSession;

typedef struct {
  gint64 start;      /* monotonic µs */
  guint  count;
} LoginFailures;

typedef struct {
  char *when;
  char *peer;
  char *reason;
  char *detail;
} Refusal;

struct _RelayDashboard {
  RelayServer *server;
  GHashTable  *sessions;    /* id → DashSession */
  GHashTable  *failures;    /* source address → LoginFailures */
  char        *once;        /* the one-time login token, or NULL */
  gint64       once_expires;
};

/* Recent refusals, newest last: refusal logging is process-wide, and so is this ring. */
static GQueue refusals = G_QUEUE_INIT;

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

static char *
random_hex (gsize bytes)
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

/* ---- responses ---- */

static void
set_security_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (h, "Cache-Control", "no-store");
  /* No script at all; the stylesheet from here; forms post only here; never framed. */
  soup_message_headers_replace (h, "Content-Security-Policy",
                                "default-src 'none'; style-src 'self'; img-src data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (h, "X-Frame-Options", "DENY");
}

static void
set_cookie (SoupServerMessage *msg, const char *name, const char *value, gint64 max_age)
{
  g_autofree char *text = g_strdup_printf ("%s=%s; Path=" DASH_PATH "; Max-Age=%" G_GINT64_FORMAT
                                           "; Secure; HttpOnly; SameSite=Strict",
                                           name, value, max_age);

  soup_message_headers_append (soup_server_message_get_response_headers (msg), "Set-Cookie", text);
}

static void
page_begin (GString *out, const char *title)
{
  g_string_append_printf (out,
                          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                          "<link rel=\"icon\" href=\"data:,\">"
                          "<link rel=\"stylesheet\" href=\"" DASH_PATH "/style.css\">"
                          "<title>%s — NFLTR relay</title></head><body>\n"
                          "<header><h1>NFLTR relay</h1><span class=\"sub\">%s</span></header>\n<main>\n",
                          title, title);
}

static void
reply_page (SoupServerMessage *msg, guint status, GString *out /* owned */)
{
  gsize len;
  char *body;

  g_string_append (out, "</main></body></html>\n");
  len = out->len;
  body = g_string_free (out, FALSE);
  set_security_headers (msg);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_TAKE, body, len);
}

static void
reply_redirect (SoupServerMessage *msg, const char *to)
{
  set_security_headers (msg);
  soup_server_message_set_redirect (msg, SOUP_STATUS_SEE_OTHER, to);
}

static void
reply_refused (SoupServerMessage *msg, guint status, const char *why)
{
  GString *out = g_string_new (NULL);
  g_autofree char *text = g_markup_escape_text (why, -1);

  page_begin (out, "Refused");
  g_string_append_printf (out, "<p class=\"error\">%s</p><p><a href=\"" DASH_PATH "\">Back to the "
                          "dashboard</a></p>\n", text);
  reply_page (msg, status, out);
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
  char *id = random_hex (32);
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
  s->csrf = random_hex (32);
  s->expires = now + (gint64) SESSION_LIFETIME_S * G_USEC_PER_SEC;
  g_hash_table_insert (dash->sessions, id, s);
  set_cookie (msg, SESSION_COOKIE, id, SESSION_LIFETIME_S);
  set_cookie (msg, LOGIN_COOKIE, "", 0);
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

/* ---- pages ---- */

static void
render_login (RelayDashboard *dash, SoupServerMessage *msg, guint status, const char *error)
{
  g_autofree char *token = random_hex (16);
  g_autofree char *password = relay_store_operator_get_password (dash->server->store);
  GString *out = g_string_new (NULL);

  set_cookie (msg, LOGIN_COOKIE, token, 600);
  page_begin (out, "Operator login");
  if (error != NULL)
    {
      g_autofree char *text = g_markup_escape_text (error, -1);
      g_string_append_printf (out, "<p class=\"error\" role=\"alert\">%s</p>\n", text);
    }
  if (password == NULL)
    g_string_append (out, "<p class=\"note\">No operator password is set. Set one on the relay's "
                          "host with <code>nfltr-relay admin set-password</code>, or use the "
                          "one-time link <code>nfltr-relay serve</code> printed.</p>\n");
  g_string_append_printf (out,
                          "<form class=\"card login\" method=\"post\" action=\"" DASH_PATH "/login\">"
                          "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                          "<label for=\"password\">Password</label>"
                          "<input id=\"password\" name=\"password\" type=\"password\" "
                          "autocomplete=\"current-password\" required autofocus>"
                          "<button type=\"submit\">Log in</button></form>\n",
                          token);
  reply_page (msg, status, out);
}

static void
append_escaped (GString *out, const char *text)
{
  g_autofree char *escaped = g_markup_escape_text (text ? text : "", -1);

  g_string_append (out, escaped);
}

static void
append_hidden_csrf (GString *out, DashSession *s)
{
  g_string_append_printf (out, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", s->csrf);
}

static void
append_revoke_button (GString *out, DashSession *s, const char *op, gint64 id, const char *label)
{
  g_string_append (out, "<form class=\"inline\" method=\"post\" action=\"" DASH_PATH "/action\">");
  append_hidden_csrf (out, s);
  g_string_append_printf (out,
                          "<input type=\"hidden\" name=\"op\" value=\"%s\">"
                          "<input type=\"hidden\" name=\"id\" value=\"%" G_GINT64_FORMAT "\">"
                          "<button class=\"danger\" type=\"submit\">%s</button></form>",
                          op, id, label);
}

/* The relay's own check of the tunnel (relay/proof/): the result, flagged loudly on a mismatch,
 * when it ran, and a link to the public proof page. */
static void
append_check (GString *out, RelayServer *server, RelayBinding *binding)
{
  g_autoptr(JsonNode) proof = relay_proof_get (server, binding->name);
  JsonObject *o = proof && JSON_NODE_HOLDS_OBJECT (proof) ? json_node_get_object (proof) : NULL;
  const char *result = o ? json_object_get_string_member_with_default (o, "result", "pending") : "pending";
  const char *checked = o && json_object_has_member (o, "checked") && !json_object_get_null_member (o, "checked")
                          ? json_object_get_string_member (o, "checked") : NULL;
  gboolean flagged = o && json_object_get_boolean_member_with_default (o, "flagged", FALSE);
  const char *klass = strcmp (result, "verified") == 0 ? "ok"
                      : strcmp (result, "pending") == 0 ? "none" : "warn";
  g_autofree char *label = flagged && strcmp (result, "mismatch") != 0
                             ? g_strdup_printf ("%s, flagged", result) : g_strdup (result);

  g_string_append_printf (out, "<span class=\"badge %s\">", flagged ? "warn" : klass);
  append_escaped (out, label);
  g_string_append (out, "</span>");
  if (checked != NULL)
    {
      g_string_append (out, " <small>");
      append_escaped (out, checked);
      g_string_append (out, "</small>");
    }
  g_string_append (out, " <a href=\"/proof/");
  append_escaped (out, binding->name);
  g_string_append (out, "\">proof</a>");
}

/* The relay's check found the agent serving another certificate than it declared. */
static gboolean
binding_flagged (RelayServer *server, RelayBinding *binding)
{
  g_autoptr(JsonNode) proof = relay_proof_get (server, binding->name);
  JsonObject *o = proof && JSON_NODE_HOLDS_OBJECT (proof) ? json_node_get_object (proof) : NULL;

  return o != NULL && (json_object_get_boolean_member_with_default (o, "flagged", FALSE) ||
                       g_strcmp0 (json_object_get_string_member_with_default (o, "result", ""), "mismatch") == 0);
}

static void
section_agents_and_tunnels (RelayDashboard *dash, GString *out)
{
  RelayServer *server = dash->server;
  GHashTableIter iter;
  gpointer key;
  guint agents = 0, tunnels = 0, active = 0;
  GString *agent_rows = g_string_new (NULL);
  GString *tunnel_rows = g_string_new (NULL);

  g_hash_table_iter_init (&iter, server->agents);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      RelayAgent *agent = key;
      GHashTableIter b;
      gpointer value;
      gint64 cred;
      const char *kind;

      if (relay_agent_get_state (agent) != RELAY_AGENT_READY)
        continue;
      agents++;
      kind = relay_agent_get_owner (agent, &cred);
      g_string_append (agent_rows, "<tr><td data-label=\"Agent\"><code>");
      append_escaped (agent_rows, relay_agent_get_log_id (agent));
      g_string_append (agent_rows, "</code></td><td data-label=\"From\">");
      append_escaped (agent_rows, relay_agent_get_peer (agent));
      g_string_append_printf (agent_rows,
                              "</td><td data-label=\"Credential\">%s %" G_GINT64_FORMAT
                              "</td><td data-label=\"Tunnels\">%u</td></tr>\n",
                              strcmp (kind, RELAY_OWNER_KIND_AGENT) == 0  ? "enrolment"
                              : strcmp (kind, RELAY_OWNER_KIND_CERT) == 0 ? "certificate"
                                                                          : "API key",
                              cred, g_hash_table_size (relay_agent_get_bindings (agent)));

      g_hash_table_iter_init (&b, relay_agent_get_bindings (agent));
      while (g_hash_table_iter_next (&b, NULL, &value))
        {
          RelayBinding *binding = value;
          gboolean verified = binding->mode == NFLTR_MODE_VERIFIED;
          /* A flagged tunnel is never shown as plainly verified, not even in its mode. */
          gboolean flagged = verified && binding_flagged (server, binding);

          tunnels++;
          active += binding->conns_active;
          g_string_append (tunnel_rows, "<tr><td data-label=\"Tunnel\">");
          append_escaped (tunnel_rows, binding->host);
          g_string_append_printf (tunnel_rows,
                                  "</td><td data-label=\"Mode\"><span class=\"badge %s\">%s%s</span></td>"
                                  "<td data-label=\"Kind\">",
                                  verified && !flagged ? "ok" : "warn",
                                  relay_binding_mode_to_string (binding), flagged ? ", FLAGGED" : "");
          append_escaped (tunnel_rows, binding->kind ? binding->kind : "-");
          g_string_append (tunnel_rows, "</td><td data-label=\"Check\">");
          append_check (tunnel_rows, server, binding);
          g_string_append (tunnel_rows, "</td><td data-label=\"Connections\">");
          g_string_append_printf (tunnel_rows,
                                  "%u open, %" G_GUINT64_FORMAT " total</td>"
                                  "<td data-label=\"Agent\"><code>%s</code></td>"
                                  "<td data-label=\"Fingerprint\"><code class=\"fp\">",
                                  binding->conns_active, binding->conns_total,
                                  relay_agent_get_log_id (agent));
          append_escaped (tunnel_rows, binding->fingerprint_text);
          g_string_append (tunnel_rows, "</code></td></tr>\n");
        }
    }
  g_string_append_printf (out,
                          "<section class=\"stats\"><div><b>%u</b> agents</div><div><b>%u</b> "
                          "tunnels</div><div><b>%u</b> open connections</div><div><b>%u</b> "
                          "connections to the relay</div></section>\n",
                          agents, tunnels, active,
                          relay_server_class_count (server, RELAY_CONN_TUNNEL_CLIENT) +
                            relay_server_class_count (server, RELAY_CONN_AGENT_CONTROL) +
                            relay_server_class_count (server, RELAY_CONN_AGENT_DATA) +
                            relay_server_class_count (server, RELAY_CONN_OWN_NAME) +
                            relay_server_class_count (server, RELAY_CONN_FIRST_STAGE));
  g_string_append (out, "<section id=\"tunnels\"><h2>Tunnels</h2>");
  if (tunnels == 0)
    g_string_append (out, "<p class=\"empty\">No tunnel is bound.</p>");
  else
    g_string_append_printf (out,
                            "<table><thead><tr><th>Tunnel</th><th>Mode</th><th>Kind</th><th>Check</th>"
                            "<th>Connections</th><th>Agent</th><th>Fingerprint</th></tr></thead>"
                            "<tbody>%s</tbody></table>",
                            tunnel_rows->str);
  g_string_append (out, "</section>\n<section id=\"agents\"><h2>Connected agents</h2>");
  if (agents == 0)
    g_string_append (out, "<p class=\"empty\">No agent is connected.</p>");
  else
    g_string_append_printf (out,
                            "<table><thead><tr><th>Agent</th><th>From</th><th>Credential</th>"
                            "<th>Tunnels</th></tr></thead><tbody>%s</tbody></table>",
                            agent_rows->str);
  g_string_append (out, "</section>\n");
  g_string_free (agent_rows, TRUE);
  g_string_free (tunnel_rows, TRUE);
}

static void
section_keys (RelayDashboard *dash, DashSession *s, GString *out)
{
  g_autoptr(GPtrArray) keys = relay_store_key_list (dash->server->store, NULL);

  g_string_append (out, "<section id=\"keys\"><h2>API keys</h2>");
  if (keys != NULL && keys->len > 0)
    {
      g_string_append (out, "<table><thead><tr><th>ID</th><th>Name</th><th>Created</th><th>Status</th>"
                            "<th></th></tr></thead><tbody>");
      for (guint i = 0; i < keys->len; i++)
        {
          RelayKeyInfo *k = keys->pdata[i];

          g_string_append_printf (out, "<tr><td data-label=\"ID\">%" G_GINT64_FORMAT "</td><td data-label=\"Name\">", k->id);
          append_escaped (out, k->name && *k->name ? k->name : "-");
          g_string_append (out, "</td><td data-label=\"Created\">");
          append_escaped (out, k->created);
          g_string_append (out, "</td><td data-label=\"Status\">");
          if (k->revoked)
            {
              g_string_append (out, "<span class=\"badge warn\">revoked</span></td><td></td>");
            }
          else
            {
              g_string_append (out, "<span class=\"badge ok\">active</span></td><td>");
              append_revoke_button (out, s, "key-revoke", k->id, "Revoke");
              g_string_append (out, "</td>");
            }
          g_string_append (out, "</tr>\n");
        }
      g_string_append (out, "</tbody></table>");
    }
  else
    g_string_append (out, "<p class=\"empty\">No API key yet.</p>");
  g_string_append (out, "<form class=\"card\" method=\"post\" action=\"" DASH_PATH "/action\">");
  append_hidden_csrf (out, s);
  g_string_append (out, "<input type=\"hidden\" name=\"op\" value=\"key-create\">"
                        "<label for=\"key-name\">Name</label>"
                        "<input id=\"key-name\" name=\"name\" maxlength=\"64\" placeholder=\"laptop\">"
                        "<button type=\"submit\">Create API key</button></form></section>\n");
}

static void
section_tokens (RelayDashboard *dash, DashSession *s, GString *out)
{
  g_autoptr(GPtrArray) tokens = relay_store_token_list (dash->server->store, NULL);
  g_autoptr(GPtrArray) enrolled = relay_store_agent_list (dash->server->store, NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_string_append (out, "<section id=\"tokens\"><h2>Fleet tokens</h2>");
  if (tokens != NULL && tokens->len > 0)
    {
      g_string_append (out, "<table><thead><tr><th>ID</th><th>Name</th><th>Prefix</th><th>Uses</th>"
                            "<th>Expires</th><th>Status</th><th></th></tr></thead><tbody>");
      for (guint i = 0; i < tokens->len; i++)
        {
          RelayTokenInfo *t = tokens->pdata[i];
          const char *status = t->revoked                                  ? "revoked"
                               : t->expires > 0 && t->expires <= now       ? "expired"
                               : t->max_uses > 0 && t->uses >= t->max_uses ? "used up"
                                                                           : "active";
          g_autoptr (GDateTime) until = t->expires > 0 ? g_date_time_new_from_unix_utc (t->expires) : NULL;
          g_autofree char *until_text =
            until ? g_date_time_format (until, "%Y-%m-%d %H:%M") : g_strdup ("never");

          g_string_append_printf (
            out, "<tr><td data-label=\"ID\">%" G_GINT64_FORMAT "</td><td data-label=\"Name\">", t->id);
          append_escaped (out, t->name && *t->name ? t->name : "-");
          g_string_append (out, "</td><td data-label=\"Prefix\">");
          append_escaped (out, t->prefix && *t->prefix ? t->prefix : "any");
          if (t->max_uses > 0)
            g_string_append_printf (out,
                                    "</td><td data-label=\"Uses\">%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
                                    t->uses, t->max_uses);
          else
            g_string_append_printf (out, "</td><td data-label=\"Uses\">%" G_GINT64_FORMAT, t->uses);
          g_string_append_printf (out,
                                  "</td><td data-label=\"Expires\">%s</td><td data-label=\"Status\">"
                                  "<span class=\"badge %s\">%s</span></td><td>",
                                  until_text, strcmp (status, "active") == 0 ? "ok" : "warn", status);
          if (t->revoked == NULL)
            append_revoke_button (out, s, "token-revoke", t->id, "Revoke");
          g_string_append (out, "</td></tr>\n");
        }
      g_string_append (out, "</tbody></table>");
    }
  else
    g_string_append (out, "<p class=\"empty\">No fleet token yet.</p>");
  g_string_append (out, "<form class=\"card\" method=\"post\" action=\"" DASH_PATH "/action\">");
  append_hidden_csrf (out, s);
  g_string_append (out,
                   "<input type=\"hidden\" name=\"op\" value=\"token-create\">"
                   "<label for=\"token-name\">Name</label>"
                   "<input id=\"token-name\" name=\"name\" maxlength=\"64\" placeholder=\"ci-runners\">"
                   "<label for=\"token-prefix\">Name prefix</label>"
                   "<input id=\"token-prefix\" name=\"prefix\" maxlength=\"40\" pattern=\"[a-z0-9\\-]*\" "
                   "placeholder=\"ci-\">"
                   "<label for=\"token-uses\">Max uses (0: no limit)</label>"
                   "<input id=\"token-uses\" name=\"max_uses\" type=\"number\" min=\"0\" value=\"1\">"
                   "<label for=\"token-days\">Expires in days</label>"
                   "<input id=\"token-days\" name=\"days\" type=\"number\" min=\"1\" max=\"365\" value=\"7\">"
                   "<button type=\"submit\">Create fleet token</button></form>");

  g_string_append (out, "<h3>Enrolled agents</h3>");
  if (enrolled != NULL && enrolled->len > 0)
    {
      g_string_append (out, "<table><thead><tr><th>ID</th><th>Agent</th><th>Token</th><th>Enrolled</th>"
                            "<th>Status</th><th></th></tr></thead><tbody>");
      for (guint i = 0; i < enrolled->len; i++)
        {
          RelayEnrolInfo *e = enrolled->pdata[i];

          g_string_append_printf (out, "<tr><td data-label=\"ID\">%" G_GINT64_FORMAT "</td><td data-label=\"Agent\"><code>", e->id);
          append_escaped (out, e->agent_id);
          g_string_append_printf (out, "</code></td><td data-label=\"Token\">%" G_GINT64_FORMAT "</td><td data-label=\"Enrolled\">",
                                  e->token_id);
          append_escaped (out, e->created);
          if (e->revoked)
            g_string_append (out, "</td><td data-label=\"Status\"><span class=\"badge warn\">revoked</span></td><td>");
          else
            {
              g_string_append (out, "</td><td data-label=\"Status\"><span class=\"badge ok\">active</span></td><td>");
              append_revoke_button (out, s, "agent-revoke", e->id, "Revoke");
            }
          g_string_append (out, "</td></tr>\n");
        }
      g_string_append (out, "</tbody></table>");
    }
  else
    g_string_append (out, "<p class=\"empty\">No agent enrolled with a fleet token.</p>");
  g_string_append (out, "</section>\n");
}

static void
section_refusals (GString *out)
{
  g_string_append (out, "<section id=\"refusals\"><h2>Recent refusals</h2>");
  if (g_queue_is_empty (&refusals))
    {
      g_string_append (out, "<p class=\"empty\">Nothing refused since the relay started.</p></section>\n");
      return;
    }
  g_string_append (out, "<table><thead><tr><th>When (UTC)</th><th>From</th><th>Reason</th><th>Detail</th>"
                        "</tr></thead><tbody>");
  for (GList *l = refusals.tail; l != NULL; l = l->prev)
    {
      Refusal *r = l->data;

      g_string_append (out, "<tr><td data-label=\"When\">");
      append_escaped (out, r->when);
      g_string_append (out, "</td><td data-label=\"From\">");
      append_escaped (out, r->peer);
      g_string_append (out, "</td><td data-label=\"Reason\"><code>");
      append_escaped (out, r->reason);
      g_string_append (out, "</code></td><td data-label=\"Detail\">");
      append_escaped (out, r->detail);
      g_string_append (out, "</td></tr>\n");
    }
  g_string_append (out, "</tbody></table></section>\n");
}

/* The overview; flash (a result) and secret (shown once) when an action just ran. */
static void
render_overview (RelayDashboard *dash, SoupServerMessage *msg, DashSession *s, guint status,
                 const char *flash, const char *secret)
{
  GString *out = g_string_new (NULL);

  page_begin (out, "Dashboard");
  g_string_append (out, "<nav><a href=\"#tunnels\">Tunnels</a><a href=\"#agents\">Agents</a>"
                        "<a href=\"#keys\">API keys</a><a href=\"#tokens\">Fleet tokens</a>"
                        "<a href=\"#refusals\">Refusals</a>"
                        "<form class=\"inline\" method=\"post\" action=\"" DASH_PATH "/logout\">");
  append_hidden_csrf (out, s);
  g_string_append (out, "<button type=\"submit\">Log out</button></form></nav>\n");
  if (flash != NULL)
    {
      g_string_append (out, "<p class=\"flash\" role=\"status\">");
      append_escaped (out, flash);
      g_string_append (out, "</p>\n");
    }
  if (secret != NULL)
    {
      g_string_append (out, "<div class=\"secret\"><p>Copy it now: it is shown only this once, the "
                            "relay keeps only its SHA-256.</p><code id=\"secret\">");
      append_escaped (out, secret);
      g_string_append (out, "</code></div>\n");
    }
  section_agents_and_tunnels (dash, out);
  section_keys (dash, s, out);
  section_tokens (dash, s, out);
  section_refusals (out);
  reply_page (msg, status, out);
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
      reply_redirect (check->msg, DASH_PATH);
    }
  else
    {
      login_failed (dash, check->source);
      relay_log_refusal (check->source, "dashboard-login", "wrong password");
      render_login (dash, check->msg, SOUP_STATUS_UNAUTHORIZED, "Wrong password.");
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
      reply_refused (msg, SOUP_STATUS_FORBIDDEN,
                     "The form's security token is missing or stale: "
                     "reload the login page and try again.");
      return;
    }
  if (!login_allowed (dash, source))
    {
      relay_log_refusal (source, "dashboard-login", "too many failed logins");
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", "60");
      render_login (dash, msg, 429 /* Too Many Requests, RFC 6585 §4 */,
                    "Too many failed logins from your address: wait a minute.");
      return;
    }
  hash = relay_store_operator_get_password (dash->server->store);
  if (hash == NULL || password == NULL || *password == '\0')
    {
      login_failed (dash, source);
      render_login (dash, msg, SOUP_STATUS_UNAUTHORIZED,
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
      reply_redirect (msg, DASH_PATH);
      return;
    }
  relay_log_refusal (source, "dashboard-login", "one-time link not valid (used, expired or wrong)");
  render_login (dash, msg, SOUP_STATUS_UNAUTHORIZED,
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

      render_overview (dash, msg, s, SOUP_STATUS_BAD_REQUEST, text, NULL);
      return;
    }
  g_message ("dashboard: %s from %s: %s", op, source, flash);
  render_overview (dash, msg, s, SOUP_STATUS_OK, flash, secret);
}

/* ---- the handler ---- */

static const char stylesheet[] =
  ":root{--bg:#f6f7f9;--fg:#1d2330;--muted:#5b6475;--card:#fff;--line:#dde1e8;--accent:#2457c5;"
  "--ok:#1d7a46;--warn:#a4480f;--none:#6b7280}"
  "*{box-sizing:border-box}body{margin:0;font:15px/1.45 "
  "system-ui,sans-serif;background:var(--bg);color:var(--fg)}"
  "header{display:flex;flex-wrap:wrap;gap:.2rem 1rem;align-items:baseline;padding:.8rem "
  "1rem;background:#1d2330;color:#fff}"
  "header h1{font-size:1.1rem;margin:0}header .sub{color:#c9d1e0}"
  "main{max-width:72rem;margin:0 auto;padding:1rem}"
  "nav{display:flex;flex-wrap:wrap;gap:.4rem .9rem;align-items:center;margin-bottom:1rem}"
  "nav a{color:var(--accent)}nav form{margin-left:auto}"
  "h2{font-size:1.05rem;margin:1.6rem 0 .5rem}h3{font-size:.95rem;margin:1.2rem 0 .4rem}"
  "section.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem}"
  "section.stats div{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.6rem "
  ".8rem;color:var(--muted)}"
  "section.stats b{display:block;font-size:1.4rem;color:var(--fg)}"
  "table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid "
  "var(--line);border-radius:.5rem}"
  "th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}"
  "th{font-size:.8rem;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}"
  "code{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}"
  ".badge{display:inline-block;white-space:nowrap;border-radius:1rem;padding:0 "
  ".55rem;font-size:.8rem;color:#fff;background:var(--none)}"
  ".badge.ok{background:var(--ok)}.badge.warn{background:var(--warn)}"
  "form.card{display:flex;flex-wrap:wrap;gap:.4rem .6rem;align-items:center;margin-top:.6rem;padding:.7rem;"
  "background:var(--card);border:1px solid var(--line);border-radius:.5rem}"
  "form.login{flex-direction:column;align-items:stretch;max-width:22rem;margin:2rem auto}"
  "form.inline{display:inline;margin:0}"
  "input{font:inherit;padding:.35rem .5rem;border:1px solid var(--line);border-radius:.3rem;min-width:0}"
  "button{font:inherit;padding:.35rem "
  ".8rem;border:0;border-radius:.3rem;background:var(--accent);color:#fff;cursor:pointer}"
  "button.danger{background:var(--warn)}"
  ".error{color:var(--warn);font-weight:600}.note,.empty{color:var(--muted)}"
  ".flash{margin:0 0 1rem;background:#e7f3ec;border:1px solid #b9dcc8;padding:.5rem "
  ".7rem;border-radius:.4rem}"
  ".secret{margin-bottom:1rem;background:#fff8e6;border:1px solid #f0d38a;padding:.5rem "
  ".7rem;border-radius:.4rem}"
  ".secret code{display:block;font-size:.95rem;margin-top:.3rem}"
  /* Phone width: each row becomes a card of label/value lines. */
  "@media (max-width:40rem){thead{display:none}table,tbody,tr,td{display:block;width:100%}"
  "tr{border-bottom:2px solid var(--line)}td{border:0;padding:.25rem .6rem}"
  "td[data-label]::before{content:attr(data-label) ': ';color:var(--muted);font-size:.8rem}"
  "nav form{margin-left:0}}\n";

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
      reply_refused (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET and POST are used here.");
      return;
    }
  if (strcmp (path, DASH_PATH "/style.css") == 0 && !post)
    {
      set_security_headers (msg);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "max-age=300");
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "text/css; charset=utf-8", SOUP_MEMORY_STATIC,
                                        stylesheet, sizeof stylesheet - 1);
      return;
    }
  if (strcmp (path, DASH_PATH "/login") == 0)
    {
      if (post)
        handle_login_post (dash, msg, source);
      else if (query != NULL && g_hash_table_contains (query, "once"))
        handle_once (dash, msg, source, query);
      else
        reply_redirect (msg, DASH_PATH);
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
          reply_refused (msg, SOUP_STATUS_FORBIDDEN,
                         "Refused: this form has no valid security token "
                         "(log in again and resend it from the dashboard).");
          return;
        }
      if (strcmp (path, DASH_PATH "/logout") == 0)
        {
          g_autofree char *id = cookie_value (msg, SESSION_COOKIE);

          g_hash_table_remove (dash->sessions, id);
          set_cookie (msg, SESSION_COOKIE, "", 0);
          reply_redirect (msg, DASH_PATH);
          return;
        }
      if (strcmp (path, DASH_PATH "/action") == 0)
        {
          handle_action (dash, msg, s, form, source);
          return;
        }
      reply_refused (msg, SOUP_STATUS_NOT_FOUND, "No such page.");
      return;
    }
  if (strcmp (path, DASH_PATH) != 0 && strcmp (path, DASH_PATH "/") != 0)
    {
      reply_refused (msg, SOUP_STATUS_NOT_FOUND, "No such page.");
      return;
    }
  if (s == NULL)
    {
      render_login (dash, msg, SOUP_STATUS_OK, NULL);
      return;
    }
  render_overview (dash, msg, s, SOUP_STATUS_OK, NULL, NULL);
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
  dash->once = random_hex (32);
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
