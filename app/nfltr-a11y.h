/* nfltr-a11y.h — what screen readers hear */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* GTK 4.8 gives a button whose label has a mnemonic ("_Try Again") the accessible name
 * "_Try Again Try Again". Names every such button under @root by its label without the
 * underscore, as it reads on screen. */
void nfltr_a11y_name_mnemonic_buttons (GtkWidget *root);

G_END_DECLS
