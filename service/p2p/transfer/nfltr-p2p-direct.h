/* nfltr-p2p-direct.h — the direct path of a P2P session (docs/protocol.md §9.9): one libnice
 * agent (RFC 8445 ICE, reliable mode: pseudo-TCP over the selected UDP pair) whose
 * credentials and candidates travel in the pairing messages, so the CONFIRM covers them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _NfltrP2pDirect NfltrP2pDirect;

typedef struct {
  /* Gathering ended: the local credentials and candidates (SDP candidate values) to send. */
  void (*gathered) (NfltrP2pDirect *direct, const char *ufrag, const char *pwd, GPtrArray *candidates,
                    gpointer user_data);
  /* READY (TRUE) or FAILED (FALSE). */
  void (*state) (NfltrP2pDirect *direct, gboolean ready, gpointer user_data);
  void (*received) (NfltrP2pDirect *direct, const guint8 *data, gsize len, gpointer user_data);
  /* Room again after a short send. */
  void (*writable) (NfltrP2pDirect *direct, gpointer user_data);
} NfltrP2pDirectCallbacks;

/* FALSE when this build has no direct path (no libnice) or NFLTR_P2P_NO_DIRECT is set. */
gboolean        nfltr_p2p_direct_available (void);
/* stun: "HOST:PORT" of a STUN server for server-reflexive candidates, or NULL. */
NfltrP2pDirect *nfltr_p2p_direct_new (gboolean                       controlling,
                                      const char                    *stun,
                                      const NfltrP2pDirectCallbacks *callbacks,
                                      gpointer                       user_data);
void            nfltr_p2p_direct_free (NfltrP2pDirect *direct);
void            nfltr_p2p_direct_set_remote_credentials (NfltrP2pDirect *direct,
                                                         const char     *ufrag,
                                                         const char     *pwd);
void            nfltr_p2p_direct_add_remote_candidate (NfltrP2pDirect *direct,
                                                       const char     *candidate);
/* The peer's ICE_DONE: start the checks. */
void            nfltr_p2p_direct_remote_done (NfltrP2pDirect *direct);
gboolean        nfltr_p2p_direct_is_ready (NfltrP2pDirect *direct);
/* Bytes taken (maybe fewer than len, 0 when pseudo-TCP's window is full; -1 when broken). */
gssize          nfltr_p2p_direct_send (NfltrP2pDirect *direct,
                                       const guint8   *data,
                                       gsize           len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrP2pDirect, nfltr_p2p_direct_free)

G_END_DECLS
