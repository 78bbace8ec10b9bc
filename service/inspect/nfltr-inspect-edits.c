/* nfltr-inspect-edits.c — parsing a replay's edits and writing its request (see the header) */
#define G_LOG_DOMAIN "nfltr-inspect"

#include "nfltr-inspect-edits.h"

#include "nfltr-error.h"

#include <string.h>

/* RFC 9110 §5.6.2 token characters. */
static gboolean
is_token (const char *s)
{
  if (s == NULL || *s == '\0')
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && strchr ("!#$%&'*+-.^_`|~", *s) == NULL)
      return FALSE;
  return TRUE;
}

/* A field value: no CR, LF or NUL (RFC 9110 §5.5), other controls than tab neither. */
static gboolean
is_field_value (const char *s)
{
  for (; *s; s++)
    if ((guchar) *s < 0x20 && *s != '\t')
      return FALSE;
    else if (*s == 0x7f)
      return FALSE;
  return TRUE;
}

/* An origin-form target (RFC 9112 §3.2.1): "/" and visible characters. */
static gboolean
is_path (const char *s)
{
  if (s == NULL || s[0] != '/')
    return FALSE;
  for (; *s; s++)
    if ((guchar) *s <= 0x20 || *s == 0x7f)
      return FALSE;
  return TRUE;
}

/* Fields the builder owns: the framing and the connection's own (RFC 9110 §7.6.1). */
static gboolean
is_managed (const char *name)
{
  static const char * const managed[] = {
    "content-length", "transfer-encoding", "connection",     "keep-alive", "upgrade", "te",
    "trailer",        "proxy-connection",  "x-nfltr-replay", NULL
  };

  for (guint i = 0; managed[i] != NULL; i++)
    if (g_ascii_strcasecmp (name, managed[i]) == 0)
      return TRUE;
  return FALSE;
}

void
nfltr_inspect_edits_free (NfltrInspectEdits *edits)
{
  if (edits == NULL)
    return;
  g_free (edits->method);
  g_free (edits->path);
  g_clear_pointer (&edits->headers, g_ptr_array_unref);
  g_clear_pointer (&edits->body, g_bytes_unref);
  g_free (edits);
}

static void
header_free (gpointer data)
{
  NfltrInspectHeader *h = data;

  g_free (h->name);
  g_free (h->value);
  g_free (h);
}

static gboolean
invalid (GError **error, const char *message)
{
  g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, message);
  return FALSE;
}

static gboolean
parse_headers (JsonNode *node, NfltrInspectEdits *edits, GError **error)
{
  JsonArray *array;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, "“headers” must be a list of [name, value] pairs");
  array = json_node_get_array (node);
  edits->headers = g_ptr_array_new_with_free_func (header_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *pair = json_array_get_element (array, i);
      JsonArray *a;
      const char *name, *value;
      NfltrInspectHeader *h;

      if (!JSON_NODE_HOLDS_ARRAY (pair) || json_array_get_length (a = json_node_get_array (pair)) != 2 ||
          json_node_get_value_type (json_array_get_element (a, 0)) != G_TYPE_STRING ||
          json_node_get_value_type (json_array_get_element (a, 1)) != G_TYPE_STRING)
        return invalid (error, "“headers” must be a list of [name, value] pairs");
      name = json_array_get_string_element (a, 0);
      value = json_array_get_string_element (a, 1);
      if (!is_token (name))
        return invalid (error, "a header name may hold only letters, digits and !#$%&'*+-.^_`|~");
      if (!is_field_value (value))
        return invalid (error, "a header value may not hold line breaks or control characters");
      h = g_new0 (NfltrInspectHeader, 1);
      h->name = g_strdup (name);
      h->value = g_strdup (value);
      g_ptr_array_add (edits->headers, h);
    }
  return TRUE;
}

static const char *
string_member (JsonObject *o, const char *name, gboolean *bad)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL)
    return NULL;
  if (json_node_get_value_type (n) != G_TYPE_STRING)
    {
      *bad = TRUE;
      return NULL;
    }
  return json_node_get_string (n);
}

NfltrInspectEdits *
nfltr_inspect_edits_parse (const char *json, gsize len, GError **error)
{
  g_autoptr(NfltrInspectEdits) edits = g_new0 (NfltrInspectEdits, 1);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *o;
  JsonNode *headers;
  const char *method, *path, *body, *body64;
  gboolean bad = FALSE;

  if (json == NULL || len == 0)
    return g_steal_pointer (&edits);
  if (len > NFLTR_INSPECT_MAX_EDITS)
    {
      invalid (error, "the edited request is too large");
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, len, NULL) || json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      invalid (error, "the edits must be a JSON object");
      return NULL;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  members = json_object_get_members (o);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "method") && !g_str_equal (l->data, "path") &&
        !g_str_equal (l->data, "headers") && !g_str_equal (l->data, "body") &&
        !g_str_equal (l->data, "body_base64"))
      {
        g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                     "unknown edit “%s” (method, path, headers, body, body_base64)", (const char *) l->data);
        return NULL;
      }

  method = string_member (o, "method", &bad);
  path = string_member (o, "path", &bad);
  body = string_member (o, "body", &bad);
  body64 = string_member (o, "body_base64", &bad);
  if (bad)
    {
      invalid (error, "method, path, body and body_base64 must be strings");
      return NULL;
    }
  if (method != NULL && !is_token (method))
    {
      invalid (error, "the method must be one word such as GET or POST");
      return NULL;
    }
  if (path != NULL && !is_path (path))
    {
      invalid (error, "the path must start with “/” and hold no spaces or control characters");
      return NULL;
    }
  if (body != NULL && body64 != NULL)
    {
      invalid (error, "give body or body_base64, not both");
      return NULL;
    }
  edits->method = g_strdup (method);
  edits->path = g_strdup (path);
  if (body != NULL)
    edits->body = g_bytes_new (body, strlen (body));
  else if (body64 != NULL)
    {
      gsize out_len = 0;
      guchar *out = g_base64_decode (body64, &out_len);

      edits->body = g_bytes_new_take (out, out_len);
    }
  headers = json_object_get_member (o, "headers");
  if (headers != NULL && !parse_headers (headers, edits, error))
    return NULL;
  return g_steal_pointer (&edits);
}

GBytes *
nfltr_inspect_build_request (const NfltrInspectExchange *ex,
                             const NfltrInspectEdits    *edits,
                             const char                 *origin_host,
                             GError                    **error)
{
  g_autoptr(GString) out = g_string_new (NULL);
  GPtrArray *headers = edits != NULL && edits->headers != NULL ? edits->headers : ex->req_headers;
  const char *method = edits != NULL && edits->method != NULL ? edits->method : ex->method;
  const char *path = edits != NULL && edits->path != NULL ? edits->path : ex->path;
  GBytes *body = edits != NULL && edits->body != NULL ? edits->body : NULL;
  gboolean has_host = FALSE;

  if (body == NULL && ex->req_size > 0)
    {
      if (ex->req_body == NULL || ex->req_truncated)
        {
          g_set_error_literal (
            error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
            ex->req_body == NULL
              ? "the request's body was not kept (start the tunnel with --inspect-bodies), so it cannot be "
                "re-sent as it was; give a body to send instead"
              : "the request's body was longer than the inspector keeps (--inspect-bodies=SIZE), so it "
                "cannot be re-sent as it was; give a body to send instead");
          return NULL;
        }
      body = ex->req_body;
    }
  if (!is_token (method) || !is_path (path))
    {
      g_set_error_literal (
        error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
        "this request cannot be re-sent: its method or path is not one HTTP/1.1 can carry");
      return NULL;
    }
  g_string_append_printf (out, "%s %s HTTP/1.1\r\n", method, path);
  for (guint i = 0; i < headers->len; i++)
    {
      NfltrInspectHeader *h = g_ptr_array_index (headers, i);

      if (is_managed (h->name) || !is_token (h->name) || !is_field_value (h->value))
        continue;
      if (g_ascii_strcasecmp (h->name, "host") == 0)
        has_host = TRUE;
      g_string_append_printf (out, "%s: %s\r\n", h->name, h->value);
    }
  if (!has_host)
    g_string_append_printf (out, "Host: %s\r\n", ex->host != NULL && is_field_value (ex->host) ? ex->host : origin_host);
  g_string_append_printf (out, "X-Nfltr-Replay: %" G_GUINT64_FORMAT "\r\n", ex->id);
  if (body != NULL || g_strcmp0 (method, "POST") == 0 || g_strcmp0 (method, "PUT") == 0 ||
      g_strcmp0 (method, "PATCH") == 0)
    g_string_append_printf (out, "Content-Length: %" G_GSIZE_FORMAT "\r\n", body ? g_bytes_get_size (body) : 0);
  g_string_append (out, "Connection: close\r\n\r\n");
  if (body != NULL)
    g_string_append_len (out, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  return g_string_free_to_bytes (g_steal_pointer (&out));
}
