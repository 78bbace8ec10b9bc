/* nfltr-p2p-chat.h — messages on a session's control and chat streams (docs/protocol.md
 * §9.8): each is u32 BE length | a JSON object, at most NFLTR_P2P_MESSAGE_MAX bytes.
 *
 * Chat: {"id": N, "text": "…"} from either side, answered {"ack": N} once it reached the
 * peer's service (a delivery receipt). Control: see nfltr-p2p-transfer.c. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define NFLTR_P2P_MESSAGE_MAX (256 * 1024)
#define NFLTR_P2P_CHAT_TEXT_MAX (16 * 1024)

typedef struct _NfltrP2pFramer NfltrP2pFramer;

NfltrP2pFramer *nfltr_p2p_framer_new  (void);
void            nfltr_p2p_framer_free (NfltrP2pFramer *framer);
/* Appends bytes from a stream. */
void            nfltr_p2p_framer_push (NfltrP2pFramer *framer,
                                       const guint8   *data,
                                       gsize           len);
/* The next whole message as a JSON object (transfer full), NULL when none is complete yet
 * or (with error set) when the stream is not messages. */
JsonObject     *nfltr_p2p_framer_next (NfltrP2pFramer *framer,
                                       GError        **error);
/* Whatever the framer holds past the messages it returned (a file stream's first bytes after
 * its header), emptying it. */
GBytes         *nfltr_p2p_framer_take_rest (NfltrP2pFramer *framer);
/* One message's bytes (length prefix included). */
GBytes         *nfltr_p2p_message_pack (JsonObject *object);

JsonObject     *nfltr_p2p_chat_text (guint32     id,
                                     const char *text);
JsonObject     *nfltr_p2p_chat_ack  (guint32 id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrP2pFramer, nfltr_p2p_framer_free)

G_END_DECLS
