/* nfltr-share-dialog.h — "Share a File or Text…" (issue 10): a dropped or chosen file, or
 * pasted text, at a secret link that expires, as a "share" tunnel. */
#pragma once

#include <adwaita.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_SHARE_DIALOG (nfltr_share_dialog_get_type ())
G_DECLARE_FINAL_TYPE (NfltrShareDialog, nfltr_share_dialog, NFLTR, SHARE_DIALOG, AdwWindow)

NfltrShareDialog *nfltr_share_dialog_new      (GtkWindow        *parent,
                                               NfltrClient      *client);
/* The file to share, as a drop or the file chooser gives it. */
void              nfltr_share_dialog_set_file (NfltrShareDialog *self,
                                               const char       *path);
/* Tests (app.test-share): "file" s, "text" s, "paste" b, "expires" s (15m, 1h, 1d, 7d),
 * "max-downloads" u, "share" b — in that order, as a person would. */
void              nfltr_share_dialog_fill     (NfltrShareDialog *self,
                                               GVariant         *fields);
GVariant         *nfltr_share_dialog_describe (NfltrShareDialog *self);

G_END_DECLS
