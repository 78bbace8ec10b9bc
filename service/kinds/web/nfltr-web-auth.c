/* nfltr-web-auth.c — who may see an app: basic auth (RFC 7617), or a token given in the URL
 * once and kept as a cookie. Secrets are compared in constant time. */
#define G_LOG_DOMAIN "nfltr-web"

#include "nfltr-web-private.h"

#include <string.h>

#include "nfltr-error.h"

/* Long enough to be unguessable when the user picks one, short enough to type. */
#define MIN_TOKEN_LEN 8
#define MAX_SECRET_LEN 1024

struct _NfltrWebAuth {
  char *basic;    /* "USER:PASS", or NULL */
  char *token;    /* or NULL */
  char *cookie;   /* the cookie's value: HMAC-SHA256 (token, …), so the cookie is not the token */
};

gboolean
nfltr_web_parse_auth_options (GVariant *options, GVariantDict *config, GError **error)
{
  const char *basic = NULL, *token = NULL;

  if (options == NULL)
    return TRUE;
  if (g_variant_lookup (options, "basic-auth", "&s", &basic) && *basic != '\0')
    {
      const char *colon = strchr (basic, ':');

      if (colon == NULL || colon == basic || colon[1] == '\0' || strlen (basic) > MAX_SECRET_LEN)
        {
          g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                               "--basic-auth must be USER:PASSWORD, both non-empty");
          return FALSE;
        }
      g_variant_dict_insert (config, "basic-auth", "s", basic);
    }
  if (g_variant_lookup (options, "token", "&s", &token) && *token != '\0')
    {
      gsize len = strlen (token);

      for (gsize i = 0; i < len; i++)
        if (!g_ascii_isalnum (token[i]) && strchr ("-_.~", token[i]) == NULL)
          {
            g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                 "--token may hold letters, digits and - _ . ~ only");
            return FALSE;
          }
      if (len < MIN_TOKEN_LEN || len > MAX_SECRET_LEN)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "--token must be at least %u characters", MIN_TOKEN_LEN);
          return FALSE;
        }
      g_variant_dict_insert (config, "token", "s", token);
    }
  return TRUE;
}

NfltrWebAuth *
nfltr_web_auth_new (GVariant *config)
{
  NfltrWebAuth *auth = g_new0 (NfltrWebAuth, 1);

  g_variant_lookup (config, "basic-auth", "s", &auth->basic);
  g_variant_lookup (config, "token", "s", &auth->token);
  if (auth->token != NULL)
    auth->cookie = g_compute_hmac_for_string (G_CHECKSUM_SHA256, (const guchar *) auth->token,
                                              strlen (auth->token), "nfltr-web-cookie", -1);
  return auth;
}

void
nfltr_web_auth_free (NfltrWebAuth *auth)
{
  if (auth->basic != NULL)
    memset (auth->basic, 0, strlen (auth->basic));
  g_free (auth->basic);
  g_free (auth->token);
  g_free (auth->cookie);
  g_free (auth);
}

static gboolean
basic_ok (NfltrWebAuth *auth, SoupServerMessage *msg)
{
  const char *header = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                     "Authorization");
  g_autofree guchar *decoded = NULL;
  g_autofree char *given = NULL;
  gsize len;

  if (auth->basic == NULL || header == NULL || g_ascii_strncasecmp (header, "Basic ", 6) != 0)
    return FALSE;
  if (strlen (header) > 4 * MAX_SECRET_LEN)
    return FALSE;
  decoded = g_base64_decode (header + 6, &len);
  given = g_strndup ((const char *) decoded, len);
  return strlen (given) == len && nfltr_web_secret_equal (given, auth->basic);
}

static gboolean
bearer_ok (NfltrWebAuth *auth, SoupServerMessage *msg)
{
  const char *header = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                     "Authorization");

  return auth->token != NULL && header != NULL && g_ascii_strncasecmp (header, "Bearer ", 7) == 0 &&
         nfltr_web_secret_equal (header + 7, auth->token);
}

static gboolean
cookie_ok (NfltrWebAuth *auth, SoupServerMessage *msg)
{
  const char *header = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                      "Cookie");
  g_auto(GStrv) parts = NULL;
  gboolean ok = FALSE;

  if (auth->cookie == NULL || header == NULL)
    return FALSE;
  parts = g_strsplit (header, ";", 64);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *p = parts[i];

      while (*p == ' ' || *p == ',')
        p++;
      if (g_str_has_prefix (p, NFLTR_WEB_COOKIE "="))
        ok |= nfltr_web_secret_equal (p + strlen (NFLTR_WEB_COOKIE "="), auth->cookie);
    }
  return ok;
}

/* The URL the browser asked for without its token, for the redirect that hides it. */
static char *
url_without_token (SoupServerMessage *msg)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *query = g_uri_get_query (uri);
  g_autoptr(GString) kept = g_string_new (NULL);
  const char *path = g_uri_get_path (uri);
  g_autofree char *escaped = NULL;
  g_auto(GStrv) pairs = NULL;

  if (path == NULL || *path != '/' || path[1] == '/' || path[1] == '\\')
    path = "/"; /* never "//other.site": the redirect stays on this host */
  /* soup hands the path decoded: encoded again for the Location header. */
  path = escaped = g_uri_escape_string (path, "/!$&'()*+,;=:@", FALSE);
  pairs = g_strsplit (query ? query : "", "&", -1);
  for (guint i = 0; pairs[i] != NULL; i++)
    {
      if (*pairs[i] == '\0' || g_str_has_prefix (pairs[i], "token=") || g_str_equal (pairs[i], "token"))
        continue;
      g_string_append_printf (kept, "%s%s", kept->len ? "&" : "", pairs[i]);
    }
  if (kept->len == 0)
    return g_strdup (path);
  return g_strdup_printf ("%s?%s", path, kept->str);
}

static void
refuse (NfltrWebAuth *auth, NfltrWebServer *web, SoupServerMessage *msg, const char *message)
{
  if (auth->basic != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "WWW-Authenticate", "Basic realm=\"nfltr\", charset=\"UTF-8\"");
  nfltr_web_respond_error (web, msg, SOUP_STATUS_UNAUTHORIZED, message);
}

gboolean
nfltr_web_auth_check (NfltrWebAuth      *auth,
                      NfltrWebServer    *web,
                      SoupServerMessage *msg,
                      const char        *path,
                      GHashTable        *query)
{
  const char *given;

  if (auth->basic == NULL && auth->token == NULL)
    return TRUE;
  if (basic_ok (auth, msg) || bearer_ok (auth, msg) || cookie_ok (auth, msg))
    return TRUE;

  given = auth->token != NULL ? g_hash_table_lookup (query, "token") : NULL;
  if (given != NULL && nfltr_web_secret_equal (given, auth->token))
    {
      g_autofree char *cookie = g_strdup_printf (NFLTR_WEB_COOKIE "=%s; Path=/; Secure; HttpOnly; "
                                                                  "SameSite=Strict",
                                                 auth->cookie);
      SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

      soup_message_headers_append (headers, "Set-Cookie", cookie);
      /* A browser is sent on without the token, so it stays out of the address bar and the
       * history; curl and scripts get their answer at once. */
      if (nfltr_web_wants_html (msg) && (soup_server_message_get_method (msg) == SOUP_METHOD_GET ||
                                         soup_server_message_get_method (msg) == SOUP_METHOD_HEAD))
        {
          g_autofree char *location = url_without_token (msg);

          /* Relative: soup's own redirect would name http://, the scheme it sees behind
           * the agent's TLS. */
          soup_server_message_set_status (msg, SOUP_STATUS_SEE_OTHER, NULL);
          soup_message_headers_replace (headers, "Location", location);
          return FALSE;
        }
      return TRUE;
    }

  if (given != NULL)
    refuse (auth, web, msg, "The access token in this link is wrong. Ask for the link again.");
  else if (auth->token != NULL && auth->basic == NULL)
    refuse (auth, web, msg,
            "This page needs its access token: open the full link you were given "
            "(it ends in ?token=…).");
  else if (soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization") !=
           NULL)
    refuse (auth, web, msg, "Wrong user name or password.");
  else
    refuse (auth, web, msg, "This page needs a user name and password.");
  return FALSE;
}
