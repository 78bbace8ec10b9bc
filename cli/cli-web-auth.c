/* cli-web-auth.c — --basic-auth, --token and sizes for the HTTPS app commands */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-web-auth.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

gboolean
cli_parse_size (const char *text, guint64 *bytes)
{
  guint64 value;
  char *end = NULL;
  guint shift = 0;

  if (text == NULL || !g_ascii_isdigit (*text))
    return FALSE;
  value = g_ascii_strtoull (text, &end, 10);
  switch (g_ascii_toupper (*end))
    {
      case 'K':
        shift = 10;
        end++;
        break;
      case 'M':
        shift = 20;
        end++;
        break;
      case 'G':
        shift = 30;
        end++;
        break;
      case 'T':
        shift = 40;
        end++;
        break;
      default: break;
    }
  if (*end == 'i' || *end == 'B')
    end++;
  if (*end == 'B')
    end++;
  if (*end != '\0' || value == 0 || value > (G_MAXUINT64 >> shift))
    return FALSE;
  *bytes = value << shift;
  return TRUE;
}

/* --token without a value: 128 bits from the CSPRNG, base64url. */
static char *
random_token (void)
{
  g_autoptr(GBytes) random = NULL;
  guint8 buf[16];
  g_autofree char *b64 = NULL;
  g_autoptr(GFile) urandom = g_file_new_for_path ("/dev/urandom");
  g_autoptr(GFileInputStream) in = g_file_read (urandom, NULL, NULL);
  gsize got = 0;

  if (in == NULL || !g_input_stream_read_all (G_INPUT_STREAM (in), buf, sizeof buf, &got, NULL, NULL) ||
      got != sizeof buf)
    return NULL;
  b64 = g_base64_encode (buf, sizeof buf);
  g_strdelimit (b64, "+", '-');
  g_strdelimit (b64, "/", '_');
  g_strdelimit (b64, "=", '\0');
  return g_strdup (b64);
}

static char *web_token;
static gboolean web_token_given;

gboolean
cli_web_token_option_cb (const char *option_name, const char *value, gpointer data, GError **error)
{
  web_token_given = TRUE;
  g_clear_pointer (&web_token, g_free);
  web_token = g_strdup (value);
  return TRUE;
}

gboolean
cli_web_auth_options (const char *basic_auth, GVariantDict *dict, char **token_out, GError **error)
{
  if (basic_auth != NULL)
    {
      const char *colon = strchr (basic_auth, ':');

      if (colon == NULL || colon == basic_auth || colon[1] == '\0')
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                               _ ("--basic-auth must be USER:PASSWORD"));
          return FALSE;
        }
      g_variant_dict_insert (dict, "basic-auth", "s", basic_auth);
    }
  if (web_token_given)
    {
      g_autofree char *token = web_token != NULL ? g_strdup (web_token) : random_token ();

      if (token == NULL)
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                               _ ("could not make a random token"));
          return FALSE;
        }
      g_variant_dict_insert (dict, "token", "s", token);
      *token_out = g_steal_pointer (&token);
    }
  return TRUE;
}

void
cli_web_auth_announce (const char *token)
{
  if (token != NULL)
    {
      /* TRANSLATORS: %s is the access token; the line goes to stderr before the URL is known */
      g_autofree char *line = g_strdup_printf (_ ("Access token: %s (open the URL with ?token=%s)\n"), token, token);

      fputs (line, stderr);
    }
}
