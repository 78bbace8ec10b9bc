/* nfltr-http2-request.c — the Host/:authority check and the forwarding fields for HTTP/2
 * requests (see the header) */
#define G_LOG_DOMAIN "nfltr-http"

#include "nfltr-http2-request.h"

#include "nfltr-http-rewrite-private.h"

#include <string.h>

static void
field_free (gpointer data)
{
  NfltrHttp2Field *f = data;

  g_free (f->name);
  g_free (f->value);
  g_free (f);
}

GPtrArray *
nfltr_http2_fields_new (void)
{
  return g_ptr_array_new_with_free_func (field_free);
}

void
nfltr_http2_fields_add (GPtrArray  *fields,
                        const char *name,
                        gsize       name_len,
                        const char *value,
                        gsize       value_len)
{
  NfltrHttp2Field *f = g_new (NfltrHttp2Field, 1);

  f->name = g_strndup (name, name_len);
  f->name_len = name_len;
  f->value = g_strndup (value, value_len);
  f->value_len = value_len;
  g_ptr_array_add (fields, f);
}

const char *
nfltr_http2_fields_get (GPtrArray *fields, const char *name)
{
  for (guint i = 0; i < fields->len; i++)
    {
      NfltrHttp2Field *f = g_ptr_array_index (fields, i);

      if (strcmp (f->name, name) == 0)
        return f->value;
    }
  return NULL;
}

static gboolean
is_named (const NfltrHttp2Field *f, const char *name)
{
  return f->name_len == strlen (name) && memcmp (f->name, name, f->name_len) == 0;
}

static GPtrArray *
refuse (guint status, const char *why, guint *out_status, char **reason)
{
  g_debug ("refusing HTTP/2 request with %u: %s", status, why);
  *out_status = status;
  *reason = g_strdup (why);
  return NULL;
}

GPtrArray *
nfltr_http2_check_request (const char *public_host,
                           const char *client_ip,
                           GPtrArray  *fields,
                           guint      *status,
                           char      **reason)
{
  g_autofree char *host = g_ascii_strdown (public_host != NULL ? public_host : "", -1);
  g_autoptr(GString) xff = g_string_new (NULL);
  g_autoptr(GPtrArray) out = nfltr_http2_fields_new ();
  const NfltrHttp2Field *authority = NULL;
  const char *method = NULL;
  gsize host_len = strlen (host);
  guint n_host = 0;
  gboolean valid;

  if (host_len > 0 && host[host_len - 1] == '.')
    host[host_len - 1] = '\0';

  for (guint i = 0; i < fields->len; i++)
    {
      NfltrHttp2Field *f = g_ptr_array_index (fields, i);

      if (is_named (f, ":method"))
        method = f->value;
      else if (is_named (f, ":authority"))
        authority = f;
      else if (is_named (f, "host"))
        {
          /* RFC 9113 §8.3.1: Host may stand in for :authority; it must name us too. */
          n_host++;
          if (!_nfltr_http_authority_matches (host, f->value, f->value_len, &valid))
            return refuse (valid ? 421 : 400,
                           valid ? "the Host field names another host" : "invalid Host field",
                           status, reason);
        }
    }
  if (method != NULL && strcmp (method, "CONNECT") == 0)
    /* RFC 9113 §8.5: a tunnel through the tunnel; not offered (no SETTINGS_ENABLE_CONNECT_
     * PROTOCOL either), as a CONNECT to another host is refused on HTTP/1.1. */
    return refuse (501, "CONNECT is not supported over HTTP/2", status, reason);
  if (n_host > 1)
    return refuse (400, "more than one Host field", status, reason);
  if (authority == NULL && n_host == 0)
    return refuse (400, "missing :authority", status, reason);
  if (authority != NULL && !_nfltr_http_authority_matches (host, authority->value, authority->value_len, &valid))
    {
      g_autofree char *why = g_strdup_printf ("this tunnel serves %s only", host);

      return refuse (valid ? 421 : 400, valid ? why : "invalid :authority", status, reason);
    }

  for (guint i = 0; i < fields->len; i++)
    {
      NfltrHttp2Field *f = g_ptr_array_index (fields, i);

      /* The client's own claims about where it came from never reach the server: only
       * X-Forwarded-For keeps the client's list, with the address we saw appended, as on
       * HTTP/1.1. */
      if (is_named (f, "forwarded") || is_named (f, "x-real-ip") ||
          is_named (f, "x-forwarded-proto") || is_named (f, "x-forwarded-host"))
        continue;
      if (is_named (f, "x-forwarded-for"))
        {
          if (xff->len > 0)
            g_string_append (xff, ", ");
          g_string_append_len (xff, f->value, f->value_len);
          continue;
        }
      nfltr_http2_fields_add (out, f->name, f->name_len, f->value, f->value_len);
    }
  if (xff->len > 0)
    g_string_append (xff, ", ");
  g_string_append (xff, client_ip);
  nfltr_http2_fields_add (out, "x-forwarded-for", 15, xff->str, xff->len);
  nfltr_http2_fields_add (out, "x-forwarded-proto", 17, "https", 5);
  if (authority != NULL)
    nfltr_http2_fields_add (out, "x-forwarded-host", 16, authority->value, authority->value_len);
  else
    {
      const char *h = nfltr_http2_fields_get (fields, "host");

      nfltr_http2_fields_add (out, "x-forwarded-host", 16, h, strlen (h));
    }
  *status = 0;
  *reason = NULL;
  return g_steal_pointer (&out);
}
