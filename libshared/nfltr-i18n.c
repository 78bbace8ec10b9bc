/* nfltr-i18n.c — the gettext set-up the CLI and the app share */
#define G_LOG_DOMAIN "nfltr-i18n"

#include "nfltr-i18n.h"

#include <glib/gi18n.h>
#include <locale.h>

void
nfltr_i18n_init (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);

  setlocale (LC_ALL, "");
  if (exe != NULL && g_str_has_prefix (exe, NFLTR_BUILD_ROOT "/"))
    bindtextdomain (GETTEXT_PACKAGE, NFLTR_BUILD_ROOT "/po");
  else
    bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}
