/* nfltr-window-private.h — NfltrWindow's insides, shared by its files. */
#pragma once

#include "nfltr-networks-window.h"
#include "nfltr-a2a-window.h"
#include "nfltr-new-tunnel-dialog.h"
#include "nfltr-relay-dialog.h"
#include "nfltr-share-dialog.h"
#include "nfltr-transfers-page.h"
#include "nfltr-tunnel-row.h"
#include "nfltr-window.h"
#include "nfltr-preferences-window.h"

G_BEGIN_DECLS

struct _NfltrWindow
{
  AdwApplicationWindow parent_instance;

  NfltrClient *client;
  NfltrDbusManager *manager;
  GSettings *settings;

  /* weak: the dialogs own themselves while open */
  NfltrNewTunnelDialog *new_tunnel_dialog;
  NfltrRelayDialog *relay_dialog;
  NfltrPreferencesWindow *preferences;
  NfltrNetworksWindow *networks_window;
  NfltrA2aWindow *a2a_window;   /* issue 15: Conversations */
  NfltrShareDialog *share_dialog; /* p2papp */

  guint64 frames;
  gint64 first_tunnels_frame_us;

  AdwToastOverlay *toast_overlay;
  AdwViewSwitcherTitle *window_title;
  AdwViewStack *view_stack;                /* p2papp: Tunnels and Transfers */
  NfltrTransfersPage *transfers_page;
  GtkRevealer *banner_revealer;
  GtkWidget *banner_box;
  GtkLabel *banner_label;
  GtkLabel *banner_detail;
  GtkButton *banner_button;
  GtkButton *new_button;
  GtkStack *stack;
  AdwStatusPage *service_error_page;
  GtkListBox *list_box;
  GtkSpinner *connecting_spinner;
};

void            _nfltr_window_class_actions_init (NfltrWindowClass *klass);
void            _nfltr_window_update_actions     (NfltrWindow      *self);
NfltrTunnelRow *_nfltr_window_find_row           (NfltrWindow      *self,
                                                  const char       *id_or_name);
GVariant       *_nfltr_window_describe           (NfltrWindow      *self);
/* p2papp */
void            _nfltr_window_send_files         (NfltrWindow        *self,
                                                  const char * const *paths);
void            _nfltr_window_show_share         (NfltrWindow      *self);

G_END_DECLS
