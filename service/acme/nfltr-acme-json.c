/* nfltr-acme-json.c — parsers of the ACME server's JSON objects (RFC 8555 §7.1) */
#define G_LOG_DOMAIN "nfltr-acme"

#include "nfltr-acme-json.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "nfltr-error.h"

/* RFC 8555 §6.7: the ACME error namespace. */
#define ACME_ERROR_PREFIX "urn:ietf:params:acme:error:"
/* What we keep of a CA's free text: it reaches the user's terminal and D-Bus. */
#define MAX_TEXT 1024

static const char * const status_names[] = {
  [NFLTR_ACME_STATUS_UNKNOWN] = "unknown",       [NFLTR_ACME_STATUS_PENDING] = "pending",
  [NFLTR_ACME_STATUS_READY] = "ready",           [NFLTR_ACME_STATUS_PROCESSING] = "processing",
  [NFLTR_ACME_STATUS_VALID] = "valid",           [NFLTR_ACME_STATUS_INVALID] = "invalid",
  [NFLTR_ACME_STATUS_EXPIRED] = "expired",       [NFLTR_ACME_STATUS_DEACTIVATED] = "deactivated",
  [NFLTR_ACME_STATUS_REVOKED] = "revoked",
};

NfltrAcmeStatus
nfltr_acme_status_parse (const char *text)
{
  for (guint i = 1; text != NULL && i < G_N_ELEMENTS (status_names); i++)
    if (g_str_equal (text, status_names[i]))
      return i;
  return NFLTR_ACME_STATUS_UNKNOWN;
}

const char *
nfltr_acme_status_to_string (NfltrAcmeStatus status)
{
  return (guint) status < G_N_ELEMENTS (status_names) ? status_names[status] : "unknown";
}

static JsonObject *
parse_object (const char *data, gsize len, const char *what, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, data, (gssize) len, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server's %s is not a JSON object",
                   what);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* A printable copy of a CA's string: no control characters, at most MAX_TEXT bytes. */
static char *
clean_text (const char *s)
{
  g_autofree char *valid = g_utf8_make_valid (s, -1);
  GString *out = g_string_new (NULL);

  for (const char *p = valid; *p != '\0' && out->len < MAX_TEXT; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c))
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/* The string member, or NULL when absent or not a string. */
static char *
get_string (JsonObject *o, const char *member)
{
  JsonNode *node = json_object_get_member (o, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return clean_text (json_node_get_string (node));
}

static char *
require_string (JsonObject *o, const char *member, const char *what, GError **error)
{
  char *s = get_string (o, member);

  if (s == NULL || *s == '\0')
    {
      g_free (s);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server's %s has no “%s”", what,
                   member);
      return NULL;
    }
  return s;
}

static JsonObject *
get_object (JsonObject *o, const char *member)
{
  JsonNode *node = json_object_get_member (o, member);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
get_array (JsonObject *o, const char *member)
{
  JsonNode *node = json_object_get_member (o, member);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static NfltrAcmeStatus
get_status (JsonObject *o)
{
  g_autofree char *s = get_string (o, "status");

  return nfltr_acme_status_parse (s);
}

/* ---- directory ---- */

NfltrAcmeDirectory *
nfltr_acme_directory_parse (const char *data, gsize len, GError **error)
{
  g_autoptr(JsonObject) o = parse_object (data, len, "directory", error);
  g_autoptr(NfltrAcmeDirectory) dir = NULL;
  JsonObject *meta;

  if (o == NULL)
    return NULL;
  dir = g_new0 (NfltrAcmeDirectory, 1);
  if ((dir->new_nonce = require_string (o, "newNonce", "directory", error)) == NULL ||
      (dir->new_account = require_string (o, "newAccount", "directory", error)) == NULL ||
      (dir->new_order = require_string (o, "newOrder", "directory", error)) == NULL)
    return NULL;
  if ((meta = get_object (o, "meta")) != NULL)
    dir->terms_of_service = get_string (meta, "termsOfService");
  return g_steal_pointer (&dir);
}

void
nfltr_acme_directory_free (NfltrAcmeDirectory *dir)
{
  if (dir == NULL)
    return;
  g_free (dir->new_nonce);
  g_free (dir->new_account);
  g_free (dir->new_order);
  g_free (dir->terms_of_service);
  g_free (dir);
}

/* ---- problems (RFC 7807) ---- */

static NfltrAcmeProblem *
problem_from_object (JsonObject *o)
{
  NfltrAcmeProblem *p = g_new0 (NfltrAcmeProblem, 1);
  JsonArray *subs = get_array (o, "subproblems");
  JsonNode *status = json_object_get_member (o, "status");

  p->type = get_string (o, "type");
  p->detail = get_string (o, "detail");
  if (status != NULL && JSON_NODE_HOLDS_VALUE (status) && json_node_get_value_type (status) == G_TYPE_INT64)
    {
      gint64 v = json_node_get_int (status);

      p->status = v >= 100 && v <= 599 ? (guint) v : 0;
    }
  if (subs != NULL && json_array_get_length (subs) > 0)
    {
      JsonNode *first = json_array_get_element (subs, 0);

      if (JSON_NODE_HOLDS_OBJECT (first))
        p->sub_detail = get_string (json_node_get_object (first), "detail");
    }
  return p;
}

NfltrAcmeProblem *
nfltr_acme_problem_parse (const char *data, gsize len, GError **error)
{
  g_autoptr(JsonObject) o = parse_object (data, len, "error", error);

  return o != NULL ? problem_from_object (o) : NULL;
}

void
nfltr_acme_problem_free (NfltrAcmeProblem *problem)
{
  if (problem == NULL)
    return;
  g_free (problem->type);
  g_free (problem->detail);
  g_free (problem->sub_detail);
  g_free (problem);
}

char *
nfltr_acme_problem_to_message (const NfltrAcmeProblem *problem)
{
  /* §6.7's error types, each with what it means for the user. */
  static const struct {
    const char *type;
    const char *words;
  } words[] = {
    { "rejectedIdentifier", "the CA will not issue a certificate for this name" },
    { "unsupportedIdentifier", "the CA does not issue certificates for this kind of name" },
    { "caa", "the name's CAA DNS records forbid this CA" },
    { "dns", "the CA could not look the name up in DNS" },
    { "connection", "the CA could not connect to the tunnel to validate it" },
    { "tls", "the CA's TLS connection to the tunnel failed" },
    { "incorrectResponse", "the CA reached someone else at this name, not this tunnel" },
    { "unauthorized", "the CA found this agent is not in control of the name" },
    { "rateLimited", "the CA's rate limit was reached; the agent will try again later" },
    { "badNonce", "the CA refused a replayed request" },
    { "malformed", "the CA found the request malformed" },
    { "serverInternal", "the CA had an internal error" },
    { "accountDoesNotExist", "the CA does not know this account" },
    { "userActionRequired", "the CA wants the account holder to act (see its terms)" },
    { "badCSR", "the CA refused the certificate request" },
    { "externalAccountRequired", "the CA requires an external account binding" },
  };
  const char *type = problem->type;
  const char *short_type = NULL;
  const char *meaning = NULL;
  GString *msg = g_string_new (NULL);

  if (type != NULL && g_str_has_prefix (type, ACME_ERROR_PREFIX))
    {
      short_type = type + strlen (ACME_ERROR_PREFIX);
      for (guint i = 0; i < G_N_ELEMENTS (words); i++)
        if (g_str_equal (short_type, words[i].type))
          meaning = words[i].words;
    }
  else
    short_type = type;
  g_string_append (msg, meaning != NULL ? meaning : "the CA refused");
  if (problem->detail != NULL && *problem->detail != '\0')
    g_string_append_printf (msg, ": %s", problem->detail);
  if (problem->sub_detail != NULL && *problem->sub_detail != '\0' &&
      g_strcmp0 (problem->sub_detail, problem->detail) != 0)
    g_string_append_printf (msg, " (%s)", problem->sub_detail);
  if (short_type != NULL && *short_type != '\0')
    g_string_append_printf (msg, " [%s]", short_type);
  return g_string_free (msg, FALSE);
}

/* ---- orders ---- */

NfltrAcmeOrder *
nfltr_acme_order_parse (const char *data, gsize len, GError **error)
{
  g_autoptr(JsonObject) o = parse_object (data, len, "order", error);
  g_autoptr(NfltrAcmeOrder) order = NULL;
  JsonArray *authz;
  JsonObject *problem;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  if (o == NULL)
    return NULL;
  order = g_new0 (NfltrAcmeOrder, 1);
  order->status = get_status (o);
  if ((authz = get_array (o, "authorizations")) != NULL)
    for (guint i = 0; i < json_array_get_length (authz) && i < 100; i++)
      {
        JsonNode *n = json_array_get_element (authz, i);

        if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
          g_strv_builder_add (b, json_node_get_string (n));
      }
  order->authorizations = g_strv_builder_end (b);
  if ((problem = get_object (o, "error")) != NULL)
    order->error = problem_from_object (problem);
  order->certificate = get_string (o, "certificate");
  if (order->status == NFLTR_ACME_STATUS_UNKNOWN)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL, "the ACME server's order has no status");
      return NULL;
    }
  if ((order->finalize = require_string (o, "finalize", "order", error)) == NULL)
    return NULL;
  return g_steal_pointer (&order);
}

void
nfltr_acme_order_free (NfltrAcmeOrder *order)
{
  if (order == NULL)
    return;
  g_strfreev (order->authorizations);
  g_free (order->finalize);
  g_free (order->certificate);
  nfltr_acme_problem_free (order->error);
  g_free (order);
}

/* ---- authorizations and challenges ---- */

static void
challenge_free (gpointer data)
{
  NfltrAcmeChallenge *c = data;

  g_free (c->type);
  g_free (c->url);
  g_free (c->token);
  nfltr_acme_problem_free (c->error);
  g_free (c);
}

NfltrAcmeAuthorization *
nfltr_acme_authorization_parse (const char *data, gsize len, GError **error)
{
  g_autoptr(JsonObject) o = parse_object (data, len, "authorization", error);
  g_autoptr(NfltrAcmeAuthorization) authz = NULL;
  JsonObject *identifier;
  JsonArray *challenges;

  if (o == NULL)
    return NULL;
  authz = g_new0 (NfltrAcmeAuthorization, 1);
  authz->challenges = g_ptr_array_new_with_free_func (challenge_free);
  authz->status = get_status (o);
  if ((identifier = get_object (o, "identifier")) != NULL)
    authz->identifier = get_string (identifier, "value");
  if (authz->status == NFLTR_ACME_STATUS_UNKNOWN || authz->identifier == NULL)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL,
                           "the ACME server's authorization has no status or identifier");
      return NULL;
    }
  if ((challenges = get_array (o, "challenges")) != NULL)
    for (guint i = 0; i < json_array_get_length (challenges) && i < 32; i++)
      {
        JsonNode *n = json_array_get_element (challenges, i);
        JsonObject *co, *problem;
        NfltrAcmeChallenge *c;

        if (!JSON_NODE_HOLDS_OBJECT (n))
          continue;
        co = json_node_get_object (n);
        c = g_new0 (NfltrAcmeChallenge, 1);
        c->type = get_string (co, "type");
        c->url = get_string (co, "url");
        c->token = get_string (co, "token");
        c->status = get_status (co);
        if ((problem = get_object (co, "error")) != NULL)
          c->error = problem_from_object (problem);
        if (c->type == NULL || c->url == NULL)
          {
            challenge_free (c);
            continue;
          }
        g_ptr_array_add (authz->challenges, c);
      }
  return g_steal_pointer (&authz);
}

void
nfltr_acme_authorization_free (NfltrAcmeAuthorization *authz)
{
  if (authz == NULL)
    return;
  g_free (authz->identifier);
  g_clear_pointer (&authz->challenges, g_ptr_array_unref);
  g_free (authz);
}

NfltrAcmeChallenge *
nfltr_acme_authorization_find (NfltrAcmeAuthorization *authz, const char *type)
{
  for (guint i = 0; i < authz->challenges->len; i++)
    {
      NfltrAcmeChallenge *c = g_ptr_array_index (authz->challenges, i);

      if (g_strcmp0 (c->type, type) == 0)
        return c;
    }
  return NULL;
}

NfltrAcmeStatus
nfltr_acme_object_status_parse (const char *data, gsize len, GError **error)
{
  g_autoptr(JsonObject) o = parse_object (data, len, "answer", error);

  return o != NULL ? get_status (o) : NFLTR_ACME_STATUS_UNKNOWN;
}
