/* fuzz-wg-device.c — the device's whole receive path (nfltr_wg_device_receive_datagram):
 * whatever arrives on its UDP port. One device for the run, with one peer, as a real one
 * keeps its state between datagrams. */
#include "nfltr-wg-device.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static NfltrWgDevice *device;
static GSocketAddress *from;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (device == NULL)
    {
      guint8 responder[32], initiator[32], initiator_public[32];

      /* The keys of tests/unit/wg/gen-wg-vectors.py: seeds made with them get through. */
      for (guint i = 0; i < 32; i++)
        {
          responder[i] = (guint8) (i * 11 + 3);
          initiator[i] = (guint8) (i * 7 + 1);
        }
      nfltr_wg_public_key (initiator, initiator_public);
      device = nfltr_wg_device_new (responder);
      g_assert_cmpuint (nfltr_wg_device_add_peer (device, initiator_public, NULL, NULL, 0, NULL), !=, 0);
      from = g_inet_socket_address_new_from_string ("192.0.2.1", 51820);
    }
  nfltr_wg_device_receive_datagram (device, from, data, size);
  return 0;
}
