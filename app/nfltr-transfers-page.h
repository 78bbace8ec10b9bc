/* nfltr-transfers-page.h — the main window's Transfers page (issue 13 §6): P2P send and
 * receive with codes, progress rows, chats, notifications. */
#pragma once

#include <adwaita.h>

#include "nfltr-client.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_TRANSFERS_PAGE (nfltr_transfers_page_get_type ())
G_DECLARE_FINAL_TYPE (NfltrTransfersPage, nfltr_transfers_page, NFLTR, TRANSFERS_PAGE, AdwBin)

void      nfltr_transfers_page_set_client (NfltrTransfersPage *self,
                                           NfltrClient        *client);
/* Offers paths (absolute) with P2p.Send: what a drop on the window, the file chooser and
 * win.send-files all call. */
void      nfltr_transfers_page_send_files (NfltrTransfersPage *self,
                                           const char * const *paths);
/* Drives the page as a person would, for tests/app (app.test-transfers; the keys are in the
 * function's comment). */
void      nfltr_transfers_page_test       (NfltrTransfersPage *self,
                                           GVariant           *request);
GVariant *nfltr_transfers_page_describe   (NfltrTransfersPage *self);

G_END_DECLS
