/* nfltr-i18n.h — the gettext set-up the CLI and the app share. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The locale from the environment and the "nfltr" text domain in UTF-8: the installed
 * catalogs, or those built in the build tree when the running binary is one of it (tests run
 * nfltr and nfltr-app uninstalled). Call first in main(). */
void nfltr_i18n_init (void);

G_END_DECLS
