/* nfltr-p2p-error.h — what a P2P pairing or session tells its user when it fails
 * (docs/protocol.md §9). Every message names what happened from the user's side. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  NFLTR_P2P_ERROR_BAD_CODE,        /* the code is not a number and words from the list */
  NFLTR_P2P_ERROR_CODE_MISMATCH,   /* "the code did not match": the peer's confirmation tag is wrong */
  NFLTR_P2P_ERROR_MALFORMED,       /* a handshake message, frame or commitment that does not parse */
  NFLTR_P2P_ERROR_UNEXPECTED,      /* a message the handshake's state does not expect */
  NFLTR_P2P_ERROR_BAD_TAG,         /* a frame failed authentication: the session is over */
  NFLTR_P2P_ERROR_SEQUENCE,        /* a frame out of order, missing or repeated */
  NFLTR_P2P_ERROR_CLOSED,          /* the session already ended */
  NFLTR_P2P_ERROR_LIMIT,           /* too many streams, frame too large */
} NfltrP2pError;

#define NFLTR_P2P_ERROR (nfltr_p2p_error_quark ())
GQuark nfltr_p2p_error_quark (void);

G_END_DECLS
