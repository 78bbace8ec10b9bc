/* cli-args.c — command-line checks done before the service is called */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-commands.h"
#include "cli-output.h"

#include "nfltr-cert.h"
#include "nfltr-resolve.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

gboolean
cli_parse_bool (const char *option, const char *text, gboolean *value, GError **error)
{
  static const char * const yes[] = { "true", "yes", "on", "1", NULL };
  static const char * const no[] = { "false", "no", "off", "0", NULL };
  g_autofree char *lower = NULL;

  if (text == NULL)
    {
      *value = TRUE;
      return TRUE;
    }
  lower = g_ascii_strdown (text, -1);
  if (g_strv_contains (yes, lower))
    {
      *value = TRUE;
      return TRUE;
    }
  if (g_strv_contains (no, lower))
    {
      *value = FALSE;
      return TRUE;
    }
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               /* TRANSLATORS: the first %s is an option (--e2ee); “true” and “false” are what
                * the user types, keep them. */
               _ ("%s takes true or false, not “%s”"), option, text);
  return FALSE;
}

gboolean
cli_check_name (const char *name, GError **error)
{
  gsize len = name ? strlen (name) : 0;
  gboolean ok = len >= 1 && len <= 63 && name[0] != '-' && name[len - 1] != '-';

  for (gsize i = 0; ok && i < len; i++)
    ok = g_ascii_islower (name[i]) || g_ascii_isdigit (name[i]) || name[i] == '-';
  if (!ok)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _ ("name “%s” is not a DNS label: use 1–63 lower-case letters, digits and “-”, "
                      "not starting or ending with “-”"),
                   name ? name : "");
      return FALSE;
    }
  return TRUE;
}

gboolean
cli_check_target (const char *target, GError **error)
{
  return nfltr_parse_address (target, NFLTR_ADDRESS_TARGET, 0, TRUE, NULL, NULL, error);
}

char *
cli_normalize_relay (const char *relay, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;

  if (!nfltr_parse_address (relay, NFLTR_ADDRESS_RELAY, (guint16) g_ascii_strtoull (NFLTR_DEFAULT_RELAY_PORT, NULL, 10),
                              FALSE, &host, &port, error))
    return NULL;
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", host, port);
  return g_strdup_printf ("%s:%u", host, port);
}

char *
cli_normalize_fingerprint (const char *text, GError **error)
{
  guint8 digest[NFLTR_FINGERPRINT_LEN];

  if (!nfltr_fingerprint_parse (text, digest))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   /* TRANSLATORS: “sha256:” is typed as it is. */
                   _ ("fingerprint “%s” is not a SHA-256 fingerprint "
                      "(expected sha256: and 64 hex digits)"),
                   text ? text : "");
      return NULL;
    }
  return nfltr_fingerprint_format (digest);
}

gboolean
cli_check_cert_pair (const char  *cert_file,
                     const char  *key_file,
                     char       **abs_cert_file,
                     char       **abs_key_file,
                     GError     **error)
{
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;

  if (cert_file == NULL && key_file == NULL)
    {
      *abs_cert_file = NULL;
      *abs_key_file = NULL;
      return TRUE;
    }
  if (cert_file == NULL || key_file == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   /* TRANSLATORS: the %s are the options --e2ee-cert and --e2ee-key. */
                   _ ("%s needs %s too: give both --e2ee-cert FILE and --e2ee-key FILE, or "
                      "neither"),
                   cert_file ? "--e2ee-cert" : "--e2ee-key",
                   cert_file ? "--e2ee-key" : "--e2ee-cert");
      return FALSE;
    }

  /* Relative to our working directory, not the service's. */
  cert = g_canonicalize_filename (cert_file, NULL);
  key = g_canonicalize_filename (key_file, NULL);
  if (!nfltr_cert_load_pair (cert, key, NULL, NULL, error))
    return FALSE;

  *abs_cert_file = g_steal_pointer (&cert);
  *abs_key_file = g_steal_pointer (&key);
  return TRUE;
}

static guint
edit_distance (const char *a, const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *row = g_new (guint, lb + 1);

  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++)
    {
      guint diag = row[0];

      row[0] = i;
      for (gsize j = 1; j <= lb; j++)
        {
          guint up = row[j];
          guint cost = a[i - 1] == b[j - 1] ? 0 : 1;

          row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diag + cost);
          diag = up;
        }
    }
  return row[lb];
}

const char *
cli_suggest_command (const char *word, const char * const *commands)
{
  const char *best = NULL;
  guint best_distance = 3;

  if (word == NULL || *word == '\0')
    return NULL;
  for (guint i = 0; commands[i] != NULL; i++)
    {
      guint d = edit_distance (word, commands[i]);

      if (d < best_distance)
        {
          best = commands[i];
          best_distance = d;
        }
    }
  return best;
}

gboolean
cli_parse_command_line (GOptionContext *context,
                        const char     *command,
                        int            *argc,
                        char         ***argv,
                        int             min_args,
                        int             max_args,
                        const char     *missing_hint)
{
  g_autoptr(GError) error = NULL;
  int n_args;

  /* The option descriptions are marked N_(): GOption translates them (and the summary and
   * description, which come translated already) for --help. */
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      cli_fail (CLI_EXIT_USAGE, "%s", error->message);
      fprintf (stderr, _ ("Try “nfltr %s --help”.\n"), command);
      return FALSE;
    }

  n_args = *argc - 1;
  if (n_args < min_args)
    {
      if (missing_hint != NULL)
        /* TRANSLATORS: %s names what is missing on the command line (“PORT”, “--relay”). */
        cli_fail (CLI_EXIT_USAGE, _ ("missing %s"), missing_hint);
      else
        cli_fail (CLI_EXIT_USAGE, "%s", _ ("missing argument"));
      fprintf (stderr, _ ("Try “nfltr %s --help”.\n"), command);
      return FALSE;
    }
  if (n_args > max_args)
    {
      cli_fail (CLI_EXIT_USAGE, _ ("unexpected argument “%s”"), (*argv)[max_args + 1]);
      fprintf (stderr, _ ("Try “nfltr %s --help”.\n"), command);
      return FALSE;
    }
  return TRUE;
}

gboolean
cli_parse_json_flag (const char *command, const char *summary, const char *json_help, int *argc, char ***argv,
                     gboolean *json)
{
  const GOptionEntry entries[] = { { "json", 0, 0, G_OPTION_ARG_NONE, json, json_help, NULL },
                                   G_OPTION_ENTRY_NULL };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  return cli_parse_command_line (context, command, argc, argv, 0, 0, NULL);
}
