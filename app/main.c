/* main.c — nfltr-app: the NFLTR desktop app. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>
#include <locale.h>

#include "nfltr-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(NfltrApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  /* Run from the build tree, use the catalogs built there (po/<lang>/LC_MESSAGES). */
  {
    g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);

    if (exe != NULL && g_str_has_prefix (exe, NFLTR_BUILD_ROOT "/"))
      bindtextdomain (GETTEXT_PACKAGE, NFLTR_BUILD_ROOT "/po");
  }
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = nfltr_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
