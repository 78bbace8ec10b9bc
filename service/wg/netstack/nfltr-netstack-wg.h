/* nfltr-netstack-wg.h — a netstack whose link is a WireGuard device (service/wg/device): what
 * the netstack sends goes to the peer whose allowed IPs hold the destination, what the device
 * receives (decrypted, replay- and allowed-IPs-checked) goes into the netstack. */
#pragma once

#include "nfltr-netstack.h"
#include "nfltr-wg-device.h"

G_BEGIN_DECLS

typedef struct _NfltrNetstackWg NfltrNetstackWg;

/* Takes a reference on device and becomes its receive func. */
NfltrNetstackWg *nfltr_netstack_wg_new (NfltrWgDevice *device,
                                        const char *address,
                                        guint prefix_len,
                                        GError **error);
NfltrNetstack *nfltr_netstack_wg_get_netstack (NfltrNetstackWg *self);
void nfltr_netstack_wg_free (NfltrNetstackWg *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrNetstackWg, nfltr_netstack_wg_free)

G_END_DECLS
