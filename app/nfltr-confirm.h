/* nfltr-confirm.h — "are you sure?" for the app's irreversible actions (issue 9 §5): removing
 * a tunnel, logging out. An AdwMessageDialog over the window, Escape or Cancel backs out,
 * Enter confirms. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef void (*NfltrConfirmFunc) (GObject *target);

/* Asks over widget's window; calls confirmed (target) only if the user confirms. target is
 * kept alive until the dialog closes. title names the dialog's window (for window lists and
 * tests); confirm_label is the destructive button's label, with a mnemonic. */
void nfltr_confirm (GtkWidget        *widget,
                    const char       *title,
                    const char       *heading,
                    const char       *body,
                    const char       *confirm_label,
                    GObject          *target,
                    NfltrConfirmFunc  confirmed);

G_END_DECLS
