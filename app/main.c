/* main.c — nfltr-app: the NFLTR desktop app. */
#define G_LOG_DOMAIN "nfltr-app"

#include "nfltr-i18n.h"

#include "nfltr-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(NfltrApplication) app = NULL;

  nfltr_i18n_init ();

  app = nfltr_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
