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
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = nfltr_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
