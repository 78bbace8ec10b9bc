/* relay-dashboard-pages.c — the dashboard's HTML: the login form, the overview's sections
 * (agents and tunnels with their proof checks, API keys, fleet tokens, refusals), the
 * stylesheet, and the responses every page goes out through (security headers, cookies). */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-dashboard-private.h"
#include "agents/relay-agent.h"
#include "store/relay-store.h"
#include "proof/relay-proof.h"
#include "tunnels/relay-registry.h"

#include <string.h>

/* ---- responses ---- */

void
dash_set_security_headers (SoupServerMessage *msg)
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

void
dash_set_cookie (SoupServerMessage *msg, const char *name, const char *value, gint64 max_age)
{
  g_autofree char *text = g_strdup_printf ("%s=%s; Path=" DASH_PATH "; Max-Age=%" G_GINT64_FORMAT
                                           "; Secure; HttpOnly; SameSite=Strict",
                                           name, value, max_age);

  soup_message_headers_append (soup_server_message_get_response_headers (msg), "Set-Cookie", text);
}

void
dash_page_begin (GString *out, const char *title)
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

void
dash_reply_page (SoupServerMessage *msg, guint status, GString *out /* owned */)
{
  gsize len;
  char *body;

  g_string_append (out, "</main></body></html>\n");
  len = out->len;
  body = g_string_free (out, FALSE);
  dash_set_security_headers (msg);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_TAKE, body, len);
}

void
dash_reply_redirect (SoupServerMessage *msg, const char *to)
{
  dash_set_security_headers (msg);
  soup_server_message_set_redirect (msg, SOUP_STATUS_SEE_OTHER, to);
}

void
dash_reply_refused (SoupServerMessage *msg, guint status, const char *why)
{
  GString *out = g_string_new (NULL);
  g_autofree char *text = g_markup_escape_text (why, -1);

  dash_page_begin (out, "Refused");
  g_string_append_printf (out, "<p class=\"error\">%s</p><p><a href=\"" DASH_PATH "\">Back to the "
                          "dashboard</a></p>\n", text);
  dash_reply_page (msg, status, out);
}

/* ---- pages ---- */

void
dash_render_login (RelayDashboard *dash, SoupServerMessage *msg, guint status, const char *error)
{
  g_autofree char *token = dash_random_hex (16);
  g_autofree char *password = relay_store_operator_get_password (dash->server->store);
  GString *out = g_string_new (NULL);

  dash_set_cookie (msg, LOGIN_COOKIE, token, 600);
  dash_page_begin (out, "Operator login");
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
  dash_reply_page (msg, status, out);
}

void
dash_append_escaped (GString *out, const char *text)
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
  dash_append_escaped (out, label);
  g_string_append (out, "</span>");
  if (checked != NULL)
    {
      g_string_append (out, " <small>");
      dash_append_escaped (out, checked);
      g_string_append (out, "</small>");
    }
  g_string_append (out, " <a href=\"/proof/");
  dash_append_escaped (out, binding->name);
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
      dash_append_escaped (agent_rows, relay_agent_get_log_id (agent));
      g_string_append (agent_rows, "</code></td><td data-label=\"From\">");
      dash_append_escaped (agent_rows, relay_agent_get_peer (agent));
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
          dash_append_escaped (tunnel_rows, binding->host);
          g_string_append_printf (tunnel_rows,
                                  "</td><td data-label=\"Mode\"><span class=\"badge %s\">%s%s</span></td>"
                                  "<td data-label=\"Kind\">",
                                  verified && !flagged ? "ok" : "warn",
                                  relay_binding_mode_to_string (binding), flagged ? ", FLAGGED" : "");
          dash_append_escaped (tunnel_rows, binding->kind ? binding->kind : "-");
          g_string_append (tunnel_rows, "</td><td data-label=\"Check\">");
          append_check (tunnel_rows, server, binding);
          g_string_append (tunnel_rows, "</td><td data-label=\"Connections\">");
          g_string_append_printf (tunnel_rows,
                                  "%u open, %" G_GUINT64_FORMAT " total</td>"
                                  "<td data-label=\"Agent\"><code>%s</code></td>"
                                  "<td data-label=\"Fingerprint\"><code class=\"fp\">",
                                  binding->conns_active, binding->conns_total,
                                  relay_agent_get_log_id (agent));
          dash_append_escaped (tunnel_rows, binding->fingerprint_text);
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
          dash_append_escaped (out, k->name && *k->name ? k->name : "-");
          g_string_append (out, "</td><td data-label=\"Created\">");
          dash_append_escaped (out, k->created);
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
          dash_append_escaped (out, t->name && *t->name ? t->name : "-");
          g_string_append (out, "</td><td data-label=\"Prefix\">");
          dash_append_escaped (out, t->prefix && *t->prefix ? t->prefix : "any");
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
          dash_append_escaped (out, e->agent_id);
          g_string_append_printf (out, "</code></td><td data-label=\"Token\">%" G_GINT64_FORMAT "</td><td data-label=\"Enrolled\">",
                                  e->token_id);
          dash_append_escaped (out, e->created);
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
  if (g_queue_is_empty (relay_dashboard_refusals ()))
    {
      g_string_append (out, "<p class=\"empty\">Nothing refused since the relay started.</p></section>\n");
      return;
    }
  g_string_append (out, "<table><thead><tr><th>When (UTC)</th><th>From</th><th>Reason</th><th>Detail</th>"
                        "</tr></thead><tbody>");
  for (GList *l = relay_dashboard_refusals ()->tail; l != NULL; l = l->prev)
    {
      Refusal *r = l->data;

      g_string_append (out, "<tr><td data-label=\"When\">");
      dash_append_escaped (out, r->when);
      g_string_append (out, "</td><td data-label=\"From\">");
      dash_append_escaped (out, r->peer);
      g_string_append (out, "</td><td data-label=\"Reason\"><code>");
      dash_append_escaped (out, r->reason);
      g_string_append (out, "</code></td><td data-label=\"Detail\">");
      dash_append_escaped (out, r->detail);
      g_string_append (out, "</td></tr>\n");
    }
  g_string_append (out, "</tbody></table></section>\n");
}

/* The overview; flash (a result) and secret (shown once) when an action just ran. */
void
dash_render_overview (RelayDashboard *dash, SoupServerMessage *msg, DashSession *s, guint status,
                      const char *flash, const char *secret)
{
  GString *out = g_string_new (NULL);

  dash_page_begin (out, "Dashboard");
  g_string_append (out, "<nav><a href=\"#tunnels\">Tunnels</a><a href=\"#agents\">Agents</a>"
                        "<a href=\"#keys\">API keys</a><a href=\"#tokens\">Fleet tokens</a>"
                        "<a href=\"#refusals\">Refusals</a>"
                        "<form class=\"inline\" method=\"post\" action=\"" DASH_PATH "/logout\">");
  append_hidden_csrf (out, s);
  g_string_append (out, "<button type=\"submit\">Log out</button></form></nav>\n");
  if (flash != NULL)
    {
      g_string_append (out, "<p class=\"flash\" role=\"status\">");
      dash_append_escaped (out, flash);
      g_string_append (out, "</p>\n");
    }
  if (secret != NULL)
    {
      g_string_append (out, "<div class=\"secret\"><p>Copy it now: it is shown only this once, the "
                            "relay keeps only its SHA-256.</p><code id=\"secret\">");
      dash_append_escaped (out, secret);
      g_string_append (out, "</code></div>\n");
    }
  section_agents_and_tunnels (dash, out);
  section_keys (dash, s, out);
  section_tokens (dash, s, out);
  section_refusals (out);
  dash_reply_page (msg, status, out);
}

const char dash_stylesheet[] =
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
