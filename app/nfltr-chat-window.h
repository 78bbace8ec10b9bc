/* nfltr-chat-window.h — a chat with one peer over a P2P session (issue 13 §5, §6). */
#pragma once

#include <adwaita.h>

#include "nfltr-dbus.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_CHAT_WINDOW (nfltr_chat_window_get_type ())
G_DECLARE_FINAL_TYPE (NfltrChatWindow, nfltr_chat_window, NFLTR, CHAT_WINDOW, AdwWindow)

NfltrChatWindow *nfltr_chat_window_new      (GtkWindow         *parent,
                                             NfltrDbusTransfer *transfer);
/* Sends text as the Send button would (tests drive it through app.test-transfers). */
void             nfltr_chat_window_send     (NfltrChatWindow   *self,
                                             const char        *text);
GVariant        *nfltr_chat_window_describe (NfltrChatWindow   *self);

G_END_DECLS
