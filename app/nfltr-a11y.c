/* nfltr-a11y.c — what screen readers hear. tests/app/test_app_accessibility.py walks the
 * running app's AT-SPI tree and fails on a control without a proper name. */
#define G_LOG_DOMAIN "nfltr-app"

#include "nfltr-a11y.h"

#include <adwaita.h>
#include <glib/gi18n.h>

/* "_Try Again" → "Try Again"; "__" stands for one underscore. */
static char *
strip_mnemonic (const char *label)
{
  GString *out = g_string_sized_new (strlen (label));

  for (const char *p = label; *p != '\0'; p++)
    {
      if (*p == '_' && p[1] != '\0')
        p++;
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

void
nfltr_a11y_name_mnemonic_buttons (GtkWidget *root)
{
  if (GTK_IS_BUTTON (root) && gtk_button_get_use_underline (GTK_BUTTON (root)))
    {
      const char *label = gtk_button_get_label (GTK_BUTTON (root));

      if (label != NULL && strchr (label, '_') != NULL)
        {
          g_autofree char *name = strip_mnemonic (label);

          gtk_accessible_update_property (GTK_ACCESSIBLE (root), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
        }
    }
  /* libadwaita 1.2's AdwPasswordEntryRow has an icon-only peek button with no name */
  else if (GTK_IS_BUTTON (root) && gtk_button_get_label (GTK_BUTTON (root)) == NULL &&
           gtk_widget_get_ancestor (root, ADW_TYPE_PASSWORD_ENTRY_ROW) != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (root), GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Show Text"), -1);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    nfltr_a11y_name_mnemonic_buttons (child);
}
