/* nfltr-autostart.c — see nfltr-autostart.h. */
#define G_LOG_DOMAIN "nfltr-app"

#include "nfltr-autostart.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#define AUTOSTART_FILE NFLTR_APP_ID ".desktop"

char *
nfltr_autostart_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "autostart", AUTOSTART_FILE, NULL);
}

static gboolean
in_flatpak (void)
{
  return g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS);
}

gboolean
nfltr_autostart_is_enabled (void)
{
  g_autofree char *path = nfltr_autostart_path ();
  g_autoptr (GKeyFile) file = g_key_file_new ();

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, NULL))
    return FALSE;
  /* Other tools turn an entry off without deleting it (GNOME Tweaks, KDE). */
  return !g_key_file_get_boolean (file, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_HIDDEN, NULL) &&
         (!g_key_file_has_key (file, G_KEY_FILE_DESKTOP_GROUP, "X-GNOME-Autostart-enabled", NULL) ||
          g_key_file_get_boolean (file, G_KEY_FILE_DESKTOP_GROUP, "X-GNOME-Autostart-enabled", NULL));
}

/* The portal writes the autostart entry for a sandboxed app (xdg-desktop-portal's
 * org.freedesktop.portal.Background). Its answer comes later as a Response signal; the
 * switch shows the request, and the portal's own dialog, if any, asks the user. */
static gboolean
request_background (gboolean enabled, GError **error)
{
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, error);
  GVariantBuilder options;
  const char *commandline[] = { "nfltr-app", "--background", NULL };
  g_autoptr (GVariant) reply = NULL;

  if (bus == NULL)
    return FALSE;
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "reason",
                         g_variant_new_string (_("Keep your tunnels watched from login on")));
  g_variant_builder_add (&options, "{sv}", "autostart", g_variant_new_boolean (enabled));
  g_variant_builder_add (&options, "{sv}", "commandline", g_variant_new_strv (commandline, -1));
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.portal.Desktop",
                                       "/org/freedesktop/portal/desktop",
                                       "org.freedesktop.portal.Background", "RequestBackground",
                                       g_variant_new ("(sa{sv})", "", &options), NULL,
                                       G_DBUS_CALL_FLAGS_NONE, 10000, NULL, error);
  return reply != NULL;
}

gboolean
nfltr_autostart_set_enabled (gboolean enabled, GError **error)
{
  g_autofree char *path = nfltr_autostart_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *contents = NULL;

  if (in_flatpak ())
    return request_background (enabled, error);
  if (!enabled)
    {
      if (g_unlink (path) != 0 && errno != ENOENT)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), _("Could not remove %s: %s"),
                       path, g_strerror (errno));
          return FALSE;
        }
      return TRUE;
    }
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), _("Could not create %s: %s"),
                   dir, g_strerror (errno));
      return FALSE;
    }
  contents = g_strdup_printf ("[Desktop Entry]\n"
                              "Type=Application\n"
                              "Name=NFLTR\n"
                              "Comment=%s\n"
                              "Exec=nfltr-app --background\n"
                              "Icon=" NFLTR_APP_ID "\n"
                              "NoDisplay=true\n"
                              "X-GNOME-Autostart-enabled=true\n",
                              _("Watches your tunnels and tells you when one fails"));
  return g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}
