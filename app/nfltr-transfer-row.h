/* nfltr-transfer-row.h — one P2P transfer (or chat) on the Transfers page (issue 13 §6). */
#pragma once

#include <gtk/gtk.h>

#include "nfltr-dbus.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_TRANSFER_ROW (nfltr_transfer_row_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTransferRow, nfltr_transfer_row, NFLTR, TRANSFER_ROW, GtkListBoxRow)

GtkWidget         *nfltr_transfer_row_new          (NfltrDbusTransfer *transfer,
                                                    gboolean           chat);
NfltrDbusTransfer *nfltr_transfer_row_get_transfer (NfltrTransferRow  *self);
void               nfltr_transfer_row_set_chat     (NfltrTransferRow  *self,
                                                    gboolean           chat);
gboolean           nfltr_transfer_row_is_chat      (NfltrTransferRow  *self);
/* Title of the row as shown: the file names, or "Chat". */
const char        *nfltr_transfer_row_get_title    (NfltrTransferRow  *self);
/* "Accept 2 files (3.0 MiB)?" and the names, while the receiver must decide; NULL otherwise. */
char              *nfltr_transfer_row_describe_offer (NfltrTransferRow *self);
GVariant          *nfltr_transfer_row_describe     (NfltrTransferRow  *self);

G_END_DECLS
