/* cmd-serve.c — `nfltr serve DIR`: a folder as a file server over the agent's own TLS, until
 * Ctrl-C (the "serve" kind, service/kinds/serve) */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-commands.h"
#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

/* "1048576", "100K", "20M", "2G" (IEC: K is 1024) into bytes; FALSE if not a size. */
static gboolean
parse_size (const char *text, guint64 *bytes)
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

static char *serve_token;
static gboolean serve_token_given;

static gboolean
token_option_cb (const char *option_name, const char *value, gpointer data, GError **error)
{
  serve_token_given = TRUE;
  g_clear_pointer (&serve_token, g_free);
  serve_token = g_strdup (value);
  return TRUE;
}

/* --basic-auth and --token for the web app kinds (serve, and the others that want them). */
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
  if (serve_token_given)
    {
      g_autofree char *token = serve_token != NULL ? g_strdup (serve_token) : random_token ();

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

int
cli_cmd_serve (int argc, char **argv)
{
  gboolean upload = FALSE;
  g_autofree char *max_upload = NULL;
  g_autofree char *basic_auth = NULL;
  const GOptionEntry entries[] = {
    { "upload", 0, 0, G_OPTION_ARG_NONE, &upload,
      N_ ("Let visitors upload files into the folder (a form on the page, or HTTP PUT)"), NULL },
    { "max-upload", 0, 0, G_OPTION_ARG_STRING, &max_upload,
      N_ ("Largest upload accepted, e.g. 500M or 2G (default 1G)"), "SIZE" },
    { "basic-auth", 0, 0, G_OPTION_ARG_STRING, &basic_auth,
      N_ ("Ask visitors for this user name and password"), "USER:PASSWORD" },
    { "token", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, token_option_cb,
      N_ ("Let in only links that carry this token (?token=…); without a value a random one is made"),
      "TOKEN" },
    G_OPTION_ENTRY_NULL
  };
  CliTunnelOptions options;
  g_auto (GStrv) positional = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *dir = NULL;
  g_autofree char *token = NULL;
  guint64 max_bytes = 0;

  if (!cli_tunnel_options_parse_full (
        "serve", argc, argv, entries, "DIR",
        _ ("Shares the folder DIR as a file server through the relay until Ctrl-C:\n"
           "a listing that sorts, downloads that resume, folders as .tar. Verified\n"
           "end-to-end: TLS ends on this machine and the relay cannot read it."),
        _ ("Examples:\n"
           "  nfltr serve ~/Public\n"
           "  nfltr serve . --upload --max-upload 2G --basic-auth ann:secret\n"
           "  nfltr serve photos --token     (prints a link with its token)\n"),
        1, 1, &options, &positional, &error) ||
      (max_upload != NULL && !parse_size (max_upload, &max_bytes) &&
       (g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     _ ("--max-upload: “%s” is not a size (e.g. 500M, 2G)"), max_upload),
        TRUE)) ||
      !cli_web_auth_options (basic_auth, &dict, &token, &error))
    {
      cli_fail (CLI_EXIT_USAGE, "%s", error->message);
      if (error->domain == G_OPTION_ERROR)
        fputs (_ ("Try “nfltr serve --help”.\n"), stderr);
      cli_tunnel_options_clear (&options);
      g_clear_pointer (&serve_token, g_free);
      return CLI_EXIT_USAGE;
    }
  g_clear_pointer (&serve_token, g_free);

  dir = g_canonicalize_filename (positional[0], NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      cli_tunnel_options_clear (&options);
      return cli_fail (CLI_EXIT_USAGE, _ ("“%s” is not a folder"), positional[0]);
    }
  options.target = g_steal_pointer (&dir);
  g_variant_dict_insert (&dict, "upload", "b", upload);
  if (max_bytes > 0)
    g_variant_dict_insert (&dict, "max-upload", "t", max_bytes);
  options.kind_options = g_variant_ref_sink (g_variant_dict_end (&dict));
  if (token != NULL)
    {
      /* TRANSLATORS: %s is the access token; the line goes to stderr before the URL is known */
      g_autofree char *line = g_strdup_printf (_ ("Access token: %s (open the URL with ?token=%s)\n"), token, token);

      fputs (line, stderr);
    }
  return cli_tunnel_run (&options, NULL);
}
