/* relay-directory.h — agent id → control channel (docs/protocol.md §6).
 *
 * Tracks that route to an agent by its id (P2P signalling, A2A) look the channel up here. An
 * id belongs to the API key that first listed it: a newer channel of the same id and key
 * replaces the older one (a reconnect), and the older one comes back if the newer closes
 * first; a channel of the same id under another key is not listed (once every channel of an
 * id has closed, the id is free again). Channels are opaque
 * pointers here, so the directory is tested on its own. */
#pragma once

#include "relay-types.h"

G_BEGIN_DECLS

RelayDirectory *relay_directory_new    (void);
void            relay_directory_free   (RelayDirectory *directory);

/* Lists agent under agent_id; FALSE (and not listed) if the id is held under another key. */
gboolean        relay_directory_add    (RelayDirectory *directory,
                                        const char     *agent_id,
                                        gint64          key_id,
                                        RelayAgent     *agent);
/* Forgets agent (a no-op if it was not listed). */
void            relay_directory_remove (RelayDirectory *directory,
                                        const char     *agent_id,
                                        RelayAgent     *agent);
/* The newest listed channel of agent_id, or NULL. transfer none */
RelayAgent     *relay_directory_lookup (RelayDirectory *directory,
                                        const char     *agent_id);
/* How many agent ids are listed. */
guint           relay_directory_size   (RelayDirectory *directory);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayDirectory, relay_directory_free)

G_END_DECLS
