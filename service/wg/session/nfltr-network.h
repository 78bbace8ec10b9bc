/* nfltr-network.h — one WireGuard network this agent is in (docs/wireguard.md "Sessions"):
 * the WireGuard device, the netstack on it, the serve side's forwarder or the SOCKS5 front,
 * and the link to the relay (WG_JOIN, WG_PEER, WG_PACKET; UDP to the relay's WireGuard port
 * first, WG_PACKET on the control channel where UDP does not pass). Its D-Bus face is
 * xyz.nfltr.Nfltr.Network. */
#pragma once

#include "nfltr-dbus.h"
#include "nfltr-session.h"

G_BEGIN_DECLS

#define NFLTR_NETWORK_ROLE_SERVE  "serve"
#define NFLTR_NETWORK_ROLE_SOCKS5 "socks5"
#define NFLTR_NETWORK_DEFAULT_LISTEN "127.0.0.1:1080"

/* What networks.json keeps of a network. */
typedef struct {
  char *id;
  char *name;
  char *role;
  char *private_key;   /* base64 */
  char *allow;         /* serve */
  char *listen;        /* socks5 */
  char *username;      /* socks5, or NULL */
  char *password;      /* socks5, or NULL */
} NfltrNetworkConfig;

void nfltr_network_config_free (NfltrNetworkConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrNetworkConfig, nfltr_network_config_free)

#define NFLTR_TYPE_NETWORK (nfltr_network_get_type ())
G_DECLARE_FINAL_TYPE (NfltrNetwork, nfltr_network, NFLTR, NETWORK, NfltrDbusNetworkSkeleton)

/* Signals:
 *   joined   the relay gave this peer its address (every time it does)
 *   failed   (const char *message) the relay refused the network for good
 *   leave    Leave was called and succeeded: the owner forgets the network */

/* Checks the config (role, allow, listen) and builds the parts that need no relay: the SOCKS5
 * listener is opened here, so a port in use fails now. */
NfltrNetwork             *nfltr_network_new        (NfltrSession              *session,
                                                    const NfltrNetworkConfig  *config,
                                                    GError                   **error);
const NfltrNetworkConfig *nfltr_network_get_config (NfltrNetwork *self);
/* Follows the session's link: joins whenever it is connected. */
void                      nfltr_network_start      (NfltrNetwork *self);
/* Stops everything, says nothing to the relay (the service is going away). */
void                      nfltr_network_shutdown   (NfltrNetwork *self);

G_END_DECLS
