/* cli-tunnel-pins.c — see cli-tunnel-pins.h. The file and its format are `nfltr ssh`'s
 * (cli-known-tunnels, pure and fuzzed); this is the reading and writing around it. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-tunnel-pins.h"

#include "cli-known-tunnels.h"

#include <errno.h>
#include <gio/gio.h>

char *
cli_tunnel_pin_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "nfltr", "known_tunnels", NULL);
}

static char *
read_pins (gsize *len)
{
  g_autofree char *path = cli_tunnel_pin_path ();
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, len, NULL))
    {
      *len = 0;
      return g_strdup ("");
    }
  return contents;
}

char *
cli_tunnel_pin_lookup (const char *host)
{
  g_autofree char *wanted = g_ascii_strdown (host, -1);
  gsize len;
  g_autofree char *contents = read_pins (&len);
  char *pinned = NULL;

  /* No fingerprint matches "": the answer is UNKNOWN, or MISMATCH with the pin. */
  if (cli_known_tunnels_check (contents, len, wanted, "", &pinned) == CLI_PIN_UNKNOWN)
    g_clear_pointer (&pinned, g_free);
  return pinned;
}

gboolean
cli_tunnel_pin_store (const char *host, const char *fingerprint, GError **error)
{
  g_autofree char *path = cli_tunnel_pin_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *wanted = g_ascii_strdown (host, -1);
  gsize len;
  g_autofree char *contents = read_pins (&len);
  /* Appended: the last line for a host is the one that counts. */
  g_autofree char *updated = cli_known_tunnels_add (contents, len, wanted, fingerprint);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s: %s", dir,
                   g_strerror (errno));
      return FALSE;
    }
  return g_file_set_contents_full (path, updated, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}
