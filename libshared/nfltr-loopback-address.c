/* nfltr-loopback-address.c — *.localhost names that connect to loopback but keep their SNI */
#define G_LOG_DOMAIN "nfltr-resolve"

#include "nfltr-loopback-address.h"

#include "nfltr-resolve.h"

struct _NfltrLoopbackAddress {
  GNetworkAddress parent_instance;
};

static void nfltr_loopback_address_connectable_init (GSocketConnectableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NfltrLoopbackAddress, nfltr_loopback_address, G_TYPE_NETWORK_ADDRESS,
                               G_IMPLEMENT_INTERFACE (G_TYPE_SOCKET_CONNECTABLE,
                                                      nfltr_loopback_address_connectable_init))

static GSocketConnectable *
loopback_target (GSocketConnectable *connectable)
{
  return nfltr_resolve_connectable (g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable)),
                                    g_network_address_get_port (G_NETWORK_ADDRESS (connectable)));
}

static GSocketAddressEnumerator *
nfltr_loopback_address_enumerate (GSocketConnectable *connectable)
{
  g_autoptr(GSocketConnectable) target = loopback_target (connectable);
  return g_socket_connectable_enumerate (target);
}

static GSocketAddressEnumerator *
nfltr_loopback_address_proxy_enumerate (GSocketConnectable *connectable)
{
  g_autoptr(GSocketConnectable) target = loopback_target (connectable);
  return g_socket_connectable_proxy_enumerate (target);
}

static char *
nfltr_loopback_address_to_string (GSocketConnectable *connectable)
{
  return g_strdup_printf ("%s:%u",
                          g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable)),
                          g_network_address_get_port (G_NETWORK_ADDRESS (connectable)));
}

static void
nfltr_loopback_address_connectable_init (GSocketConnectableIface *iface)
{
  iface->enumerate = nfltr_loopback_address_enumerate;
  iface->proxy_enumerate = nfltr_loopback_address_proxy_enumerate;
  iface->to_string = nfltr_loopback_address_to_string;
}

static void
nfltr_loopback_address_class_init (NfltrLoopbackAddressClass *klass)
{
}

static void
nfltr_loopback_address_init (NfltrLoopbackAddress *self)
{
}

GSocketConnectable *
nfltr_loopback_address_new (const char *host,
                            guint16     port)
{
  return g_object_new (NFLTR_TYPE_LOOPBACK_ADDRESS, "hostname", host, "port", (guint) port, NULL);
}

GSocketConnectable *
nfltr_tls_connectable_new (const char *host,
                           guint16     port)
{
  if (nfltr_host_is_localhost (host))
    return nfltr_loopback_address_new (host, port);
  return g_network_address_new (host, port);
}
