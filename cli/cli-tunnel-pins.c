/* cli-tunnel-pins.c — see cli-tunnel-pins.h. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-tunnel-pins.h"

#include <gio/gio.h>
#include <string.h>

char *
cli_tunnel_pin_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "nfltr", "known-tunnels", NULL);
}

static char **
read_lines (void)
{
  g_autofree char *path = cli_tunnel_pin_path ();
  g_autofree char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return g_new0 (char *, 1);
  return g_strsplit (contents, "\n", -1);
}

/* The host a line pins, or NULL for a comment or a line this version does not know. */
static char *
line_host (const char *line, char **fingerprint)
{
  g_auto (GStrv) words = g_strsplit_set (line, " \t", -1);
  guint n = 0;
  const char *found[2] = { NULL, NULL };

  for (guint i = 0; words[i] != NULL; i++)
    if (*words[i] != '\0' && n < 2)
      found[n++] = words[i];
  if (n != 2 || found[0][0] == '#' || !g_str_has_prefix (found[1], "sha256:"))
    return NULL;
  if (fingerprint != NULL)
    *fingerprint = g_strdup (found[1]);
  return g_ascii_strdown (found[0], -1);
}

char *
cli_tunnel_pin_lookup (const char *host)
{
  g_auto (GStrv) lines = read_lines ();
  g_autofree char *wanted = g_ascii_strdown (host, -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *fingerprint = NULL;
      g_autofree char *pinned_host = line_host (lines[i], &fingerprint);

      if (pinned_host != NULL && strcmp (pinned_host, wanted) == 0)
        return fingerprint;
      g_free (fingerprint);
    }
  return NULL;
}

gboolean
cli_tunnel_pin_store (const char *host, const char *fingerprint, GError **error)
{
  g_auto (GStrv) lines = read_lines ();
  g_autofree char *path = cli_tunnel_pin_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *wanted = g_ascii_strdown (host, -1);
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *pinned_host = line_host (lines[i], NULL);

      if (*lines[i] == '\0' || (pinned_host != NULL && strcmp (pinned_host, wanted) == 0))
        continue;
      g_string_append_printf (out, "%s\n", lines[i]);
    }
  g_string_append_printf (out, "%s %s\n", wanted, fingerprint);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s: %s",
                   dir, g_strerror (errno));
      return FALSE;
    }
  return g_file_set_contents_full (path, out->str, (gssize) out->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}
