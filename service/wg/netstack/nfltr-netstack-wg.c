/* nfltr-netstack-wg.c — see the header. */
#define G_LOG_DOMAIN "nfltr-netstack"

#include "nfltr-netstack-wg.h"

struct _NfltrNetstackWg {
  NfltrWgDevice *device;
  NfltrNetstack *netstack;
};

static void
output_cb (const guint8 *packet, gsize len, gpointer user_data)
{
  NfltrNetstackWg *self = user_data;

  /* the device encrypts and sends on its socket: nothing re-enters the netstack from here */
  nfltr_wg_device_send_routed (self->device, packet, len);
}

static void
receive_cb (NfltrWgDevice *device, NfltrWgPeerId peer, const guint8 *packet, gsize len, gpointer user_data)
{
  NfltrNetstackWg *self = user_data;

  nfltr_netstack_input (self->netstack, packet, len);
}

NfltrNetstackWg *
nfltr_netstack_wg_new (NfltrWgDevice *device, const char *address, guint prefix_len, GError **error)
{
  NfltrNetstackWg *self = g_new0 (NfltrNetstackWg, 1);

  self->netstack = nfltr_netstack_new (address, prefix_len, NFLTR_WG_DEFAULT_MTU, output_cb, self, error);
  if (self->netstack == NULL)
    {
      g_free (self);
      return NULL;
    }
  self->device = g_object_ref (device);
  nfltr_wg_device_set_receive_func (device, receive_cb, self, NULL);
  return self;
}

NfltrNetstack *
nfltr_netstack_wg_get_netstack (NfltrNetstackWg *self)
{
  return self->netstack;
}

void
nfltr_netstack_wg_free (NfltrNetstackWg *self)
{
  if (self == NULL)
    return;
  nfltr_wg_device_set_receive_func (self->device, NULL, NULL, NULL);
  g_clear_pointer (&self->netstack, nfltr_netstack_free);
  g_clear_object (&self->device);
  g_free (self);
}
