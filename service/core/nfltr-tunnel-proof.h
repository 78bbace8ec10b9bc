/* nfltr-tunnel-proof.h — the relay's check of a tunnel on its D-Bus object (issue 11).
 *
 * While the tunnel is online the service reads the relay's proof JSON of its name
 * (/api/v1/proof/<name>, over the link's pinned TLS) and mirrors it in the Tunnel properties
 * ProofResult, ProofFlagged, ProofChecked and ProofObservedFingerprint; GetProofBundle hands
 * out the relay's signed bundle. */
#pragma once

#include "nfltr-session.h"
#include "nfltr-tunnel-impl.h"

G_BEGIN_DECLS

/* Every few seconds while the tunnel is not settled ("pending" or unknown), else this often. */
#define NFLTR_TUNNEL_PROOF_POLL_S    2
#define NFLTR_TUNNEL_PROOF_REFRESH_S 10

/* Starts mirroring and answers GetProofBundle; lives as long as tunnel. */
void nfltr_tunnel_proof_attach (NfltrTunnelImpl *tunnel,
                                NfltrSession    *session);

G_END_DECLS
